"""How long is the blur? The length in pixels of the motion blur in one image.

G was trained on camera paths of 4-24 px in 128 px crops (``ShakeConfig.path_length``). On
longer blur it does little, and on an image without blur it invents motion. A caller that
knows the blur's length can run G at the scale that brings the blur into that range, and
leave a sharp photo alone (``extract_frames(..., max_side="auto")``, docs/api.md).

**Method.** A small learned head (:class:`BlurExtentNet`, ~0.3 M parameters) maps a
:data:`PATCH` px luma patch to ``log2(1 + L)``, ``L`` the length of the camera path over the
exposure in that patch's pixels (the arc length of the content's displacement, the quantity
``ShakeConfig.path_length`` draws). It was fitted on the project's synthetic camera shake
(:func:`blurvid.data.render_shake`, on the training photos, video stills and procedural
dead-leaves scenes -- sharp-edged shapes, so that it reads the width of edges and not how much
fine texture a photo keeps -- with noise, JPEG and defocus; blur 0-100 px, its target
saturating at :data:`SATURATION_PX`): ``python scripts/train_blur_extent.py``
(:mod:`blurvid.train.blur_extent`).

A learned head because the classical measures did not follow the curved, rotating,
variable-speed synthetic paths (the gradient autocorrelation width, the cepstrum of a straight
streak, an oriented-spectrum ridge regression: median estimate/truth 0.45 at the training
range; docs/performance.md, "Blur extent").

**A whole image.** Blur 4x the training range is ~100 px, beyond what a patch can show, so
the image is read at the levels of a pyramid (factor 2): at each level the most textured
tiles (:data:`TILES` at most; flat tiles carry no blur information) are scored and the
median taken. Levels are visited fine to coarse and the first one whose median is at most
:data:`RELIABLE_PX` (inside the range the head was trained well on) gives the answer,
scaled back to full-size pixels. A photo with in-range blur costs one level.

Accuracy and cost (``python benchmarks/blur_extent.py``; docs/performance.md, "Blur
extent"): inside the training range about 70 % of the estimates are within a factor 2 of the
true path, 89 % of sharp photos read under 2 px; at 1280x720 it costs under 1 % of an
extraction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .colour import rgb_to_luma
from .errors import InvalidImageError, WeightsError

__all__ = [
    "PATCH",
    "RELIABLE_PX",
    "SATURATION_PX",
    "TILES",
    "BlurExtent",
    "BlurExtentNet",
    "blur_extent",
    "estimate_blur_extent",
    "load_blur_extent_net",
]

#: Side (pixels) of the patches the head reads.
PATCH = 96
#: The head's target saturates here: longer blur in a patch reads as this long.
SATURATION_PX = 64.0
#: A pyramid level whose median estimate is at most this long (pixels) is trusted.
RELIABLE_PX = 24.0
#: Most textured tiles scored per pyramid level.
TILES = 12
#: Smallest side (pixels) the estimate accepts.
MIN_SIDE = 32
#: An image whose largest step between neighbouring pixels is below this has no edge to read.
FLAT = 2.0 / 255.0
#: Channels of the head's stem and stages (the bundled weights' ``widths`` metadata).
WIDTHS = (32, 48, 64, 96)
_WEIGHTS = Path(__file__).with_name("weights") / "blur_extent.safetensors"


class BlurExtentNet(nn.Module):
    """Luma patches ``(B, 1, h, w)`` in [0, 1] -> ``log2(1 + L)`` ``(B,)``, ``L`` the blur
    length in the patch's pixels (saturating at :data:`SATURATION_PX`).

    Each patch is centred and divided by its contrast (so brightness and contrast do not
    matter) and folded 2x2 into channels (no detail lost, a quarter of the cost); a 3x3
    stem, then per stage of ``widths`` a 3x3 convolution and a strided one into the next
    width, one more 3x3 at the end, and a global mean and max pool feed a two-layer head.
    Receptive field ~ 90 px.
    """

    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        c = self.widths[0]
        layers: list[nn.Module] = [nn.PixelUnshuffle(2), nn.Conv2d(4, c, 3, padding=1)]
        layers.append(nn.ReLU(inplace=True))
        for w in self.widths[1:]:
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True)]
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
            c = w
        layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(2 * c, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h, w = y.shape[-2:]
        if h % 2 or w % 2:  # the 2x2 fold needs even sides
            y = y[..., : h - h % 2, : w - w % 2]
        mean = y.mean(dim=(-2, -1), keepdim=True)
        std = y.std(dim=(-2, -1), keepdim=True)
        f = self.features((y - mean) / (std + 0.03))
        pooled = torch.cat([f.mean(dim=(-2, -1)), f.amax(dim=(-2, -1))], dim=1)
        return self.head(pooled).squeeze(1)


def to_length(log_length: torch.Tensor) -> torch.Tensor:
    """The head's output ``log2(1 + L)`` -> ``L`` (pixels, >= 0)."""
    return (torch.exp2(log_length) - 1.0).clamp(min=0.0)


def to_target(length: torch.Tensor) -> torch.Tensor:
    """A blur length ``L`` (pixels) -> the head's target ``log2(1 + min(L, SATURATION_PX))``."""
    return torch.log2(1.0 + length.clamp(0.0, SATURATION_PX))


@lru_cache(maxsize=1)
def load_blur_extent_net(path: str | None = None) -> BlurExtentNet:
    """The fitted head (the file bundled with blurvid, or ``path``: a ``.safetensors`` file
    written by :mod:`blurvid.train.blur_extent`), in eval mode on the CPU.

    Raises:
        WeightsError: The file is missing, not safetensors, or does not match the head.
    """
    from safetensors import SafetensorError, safe_open

    file = Path(path) if path is not None else _WEIGHTS
    if not file.is_file():
        raise WeightsError(
            f"blur-extent weights {file} not found; reinstall blurvid, or fit them with "
            "`python scripts/train_blur_extent.py`"
        )
    try:  # one read: the tensors and the metadata (the head's widths)
        with safe_open(str(file), "pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"cannot read blur-extent weights {file}: {exc}") from exc
    try:
        net = BlurExtentNet(tuple(json.loads(meta.get("widths", json.dumps(WIDTHS)))))
        net.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise WeightsError(f"{file} does not hold BlurExtentNet weights: {exc}") from exc
    return net.eval()


@dataclass(frozen=True)
class BlurExtent:
    """The blur in one image (:func:`blur_extent`).

    Attributes:
        length: Blur length in the image's pixels (the camera path over the exposure).
        level: The pyramid level that gave it (0 = full size, ``k`` = 1/2**k).
        levels: Median estimate per visited level, in that level's pixels.
        tiles: Per-tile lengths (image pixels) at ``level``, ``(rows, cols)``, NaN for the
            tiles too flat to be scored (or not among the :data:`TILES` most textured).
    """

    length: float
    level: int
    levels: dict[int, float] = field(default_factory=dict)
    tiles: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0))


def _luma(image: torch.Tensor) -> torch.Tensor:
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise InvalidImageError(
            f"blur_extent needs one (3, H, W) or (1, H, W) image, got shape {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise InvalidImageError(f"blur_extent needs a float image in [0, 1], got {image.dtype}")
    if min(image.shape[-2:]) < MIN_SIDE:
        raise InvalidImageError(
            f"blur_extent needs an image of at least {MIN_SIDE}x{MIN_SIDE} pixels, got "
            f"{image.shape[-2]}x{image.shape[-1]}"
        )
    x = image.detach().float().cpu()
    return (rgb_to_luma(x) if x.shape[0] == 3 else x).clamp(0.0, 1.0)


def _tiles(y: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """The ``count`` most textured :data:`PATCH` tiles of luma ``(1, h, w)`` (a centred grid;
    the whole image when it is smaller): ``(n, 1, p, p)`` tiles, their grid indices, grid."""
    h, w = y.shape[-2:]
    ph, pw = min(PATCH, h), min(PATCH, w)
    rows, cols = h // ph, w // pw
    y0, x0 = (h - rows * ph) // 2, (w - cols * pw) // 2
    grid = y[:, y0 : y0 + rows * ph, x0 : x0 + cols * pw]
    t = grid.reshape(rows, ph, cols, pw).permute(0, 2, 1, 3).reshape(rows * cols, 1, ph, pw)
    texture = (t[..., 1:, :] - t[..., :-1, :]).abs().mean((1, 2, 3)) + (
        t[..., :, 1:] - t[..., :, :-1]
    ).abs().mean((1, 2, 3))
    order = texture.argsort(descending=True)[:count]
    # tiles flatter than a tenth of the most textured one say nothing about the blur
    keep = order[texture[order] >= 0.1 * texture[order[0]]]
    return t[keep], keep, (rows, cols)


def _level(y: torch.Tensor, level: int) -> torch.Tensor:
    """Luma ``(1, h, w)`` at pyramid ``level``: ``1 / 2**level`` of its size (antialiased
    bilinear); level 0 is ``y`` itself."""
    if not level:
        return y
    h, w = y.shape[-2:]
    size = (round(h / 2**level), round(w / 2**level))
    return F.interpolate(y[None], size=size, mode="bilinear", antialias=True)[0]


@torch.inference_mode()
def blur_extent(
    image: torch.Tensor, net: BlurExtentNet | None = None, tiles: int = TILES
) -> BlurExtent:
    """Estimate the length of the motion blur in one image (module docstring).

    Args:
        image: ``(3, H, W)`` or ``(1, H, W)`` float in [0, 1] (sRGB), at least 32x32.
        net: The head (default: the bundled one, :func:`load_blur_extent_net`).
        tiles: Most textured tiles scored per pyramid level.

    Returns:
        A :class:`BlurExtent`; its ``length`` is in the image's pixels.

    Raises:
        InvalidImageError: Not one float image of at least 32x32 pixels.
    """
    net = net if net is not None else load_blur_extent_net()
    y = _luma(image)
    h, w = y.shape[-2:]
    if float((y[:, 1:] - y[:, :-1]).abs().amax()) < FLAT:  # no edge at all: nothing blurred
        return BlurExtent(length=0.0, level=0, levels={0: 0.0})
    levels: dict[int, float] = {}
    level, found = 0, None
    while True:
        yl = _level(y, level)
        patches, index, grid = _tiles(yl, tiles)
        est = to_length(net(patches))
        levels[level] = float(est.median())
        if levels[level] <= RELIABLE_PX:
            found = (level, est, index, grid, h / yl.shape[-2])
            break
        if min(h, w) / 2 ** (level + 1) < PATCH:  # the next level would be smaller than a tile
            found = (level, est, index, grid, h / yl.shape[-2])
            break
        level += 1
    level, est, index, (rows, cols), scale = found
    per_tile = torch.full((rows * cols,), math.nan)
    per_tile[index] = est * scale
    return BlurExtent(
        length=levels[level] * scale, level=level, levels=levels, tiles=per_tile.view(rows, cols)
    )


def estimate_blur_extent(image: torch.Tensor, net: BlurExtentNet | None = None) -> float:
    """The blur length of one image in its pixels (:func:`blur_extent`'s ``length``).

    Examples:
        >>> import torch
        >>> from blurvid.blur_extent import estimate_blur_extent
        >>> estimate_blur_extent(torch.rand(3, 128, 128)) >= 0.0
        True
    """
    return blur_extent(image, net).length
