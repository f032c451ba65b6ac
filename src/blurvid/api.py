"""The inference API: one blurry image -> 7 sharp frames, and recursive slow motion.

Both functions accept a path, a PIL image, a numpy array ``(H, W, 3)`` (uint8, uint16 or
float in [0, 1]) or a tensor ``(3, H, W)`` / ``(B, 3, H, W)`` float in [0, 1], and return the
frames in the same kind: a list of PIL images; numpy ``(N, H, W, 3)`` of the input dtype; or
a tensor ``(..., N, 3, H, W)`` on the input's device and dtype. They run under
``torch.inference_mode()`` with the model in ``eval()`` mode and clamp to [0, 1].

Working resolution: with ``max_side=N`` an image whose long side is larger than ``N`` is
downscaled (antialiased bilinear, as the training photos are) to long side ``N`` before G,
and the frames come back at that working size (:func:`working_size` gives it); the default
``None`` runs G at full size.

Frame order: the blur integral is the same forwards and backwards in time, so the order
the model picks is a convention it learned (the cycle-flow loss, Eq. 4, keeps it
consistent); reversing the returned frames is an equally valid answer.
"""

from __future__ import annotations

import copy
import logging
import math
import os
from decimal import Decimal
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from .checks import (
    MIN_SIZE,
    check_device,
    check_int,
    check_max_side,
    check_model_source,
    check_tile,
    format_bytes,
)
from .checks import memory_limit as _memory_limit
from .errors import ConfigError, InvalidImageError, OutputTooLargeError
from .hub import load_model
from .io import ImageInput, to_batch
from .model import NUM_FRAMES, Generator
from .order import orient_groups, thumbnail
from .working_scale import (
    GUARD_QUANTILE,
    GUARDS,
    PROBE_QUANTILE,
    ScalePlan,
    blend_to_input,
    frames_blur_px,
    guard_weight,
    plan_scale,
    to_input_size,
)

__all__ = [
    "FrameExtractor",
    "RecursivePlan",
    "extract_frames",
    "interpolate_recursive",
    "num_recursive_frames",
    "plan_recursive",
    "plan_working_scale",
    "working_size",
]

#: Images with more pixels than this are processed in tiles unless ``tile`` is given.
AUTO_TILE_PIXELS = 2_100_000
#: Default memory budget of one forward pass, in pixels (batch x height x width).
BATCH_PIXELS = 2_100_000
DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 64
_MODEL_CACHE: dict[tuple[str, str, str], Generator] = {}
#: ``max_side="auto"`` says what it chose per image at INFO level (``blurvid extract`` prints it).
_log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- helpers
def resolve_device(
    device: str | torch.device | None, model: Generator | None = None
) -> torch.device:
    """``device`` if given; else the model's device; else CUDA when available, else CPU."""
    dev = check_device(device)
    if dev is not None:
        return dev
    if model is not None:
        return next(model.parameters()).device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_model(model: Any) -> Generator | str:
    """A :class:`Generator` as it is, or a name/folder/repo id as a ``str`` (None: default)."""
    if model is None or isinstance(model, Generator):
        return model or "default"
    if isinstance(model, (str, os.PathLike)):
        return check_model_source(model)
    raise ConfigError(
        f"model must be a Generator, 'default', a model folder (str or Path) or a Hub "
        f"repo id 'user/name', got {model!r}"[:300]
    )


def _check_args(
    model: Any,
    device: Any,
    dtype: Any,
    tile: Any,
    overlap: Any,
    batch_size: Any,
    max_side: Any = None,
) -> tuple[Generator | str, torch.device]:
    """The checks shared by every entry point, before any image is decoded or model
    loaded; returns the model (or its name) and the device."""
    if not _is_auto(max_side):
        check_max_side(max_side)
    model = _check_model(model)
    dev = resolve_device(device, model if isinstance(model, Generator) else None)
    _resolve_dtype(dtype, dev)
    tile = check_tile(tile, model.config.size_multiple if isinstance(model, Generator) else None)
    overlap = check_int(overlap, "overlap (pixels)", minimum=0, optional=True)
    check_int(batch_size, "batch_size", minimum=1, optional=True)
    # overlap applies whenever tiling is on: a given tile, or DEFAULT_TILE for large images
    if overlap is not None and overlap >= (tile or DEFAULT_TILE) // 2:
        raise ConfigError(
            f"overlap must be in [0, tile/2), got {overlap} for "
            f"{f'tile {tile}' if tile else f'the automatic tile of {DEFAULT_TILE}'}"
        )
    return model, dev


def _get_model(
    model: Generator | str | None, device: torch.device, dtype: torch.dtype = torch.float32
) -> Generator:
    """The caller's Generator as given, or the named model from the cache, loaded once per
    (name, device, dtype): a float16 call never rounds the float32 copy other calls use."""
    name = _check_model(model)
    if isinstance(name, Generator):
        return name
    key = (name, str(device), str(dtype))
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = load_model(name, device=device).to(dtype=dtype).eval()
    return _MODEL_CACHE[key]


def _runnable(g: Generator, device: torch.device, dtype: torch.dtype) -> Generator:
    """The model to run: ``g`` itself when it is ready (every module in eval mode, weights on
    ``device`` in ``dtype``), else an eval-mode copy converted to them. The caller's model
    is never changed: no conversion in place, and no train/eval switching that another
    thread using the same model would see."""
    p = next(g.parameters())
    if p.device == device and p.dtype == dtype and not any(m.training for m in g.modules()):
        return g
    with torch.no_grad():
        return copy.deepcopy(g).to(device=device, dtype=dtype).eval()


_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def _resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        dtype = _DTYPES[dtype]
    if not isinstance(dtype, torch.dtype):
        raise ConfigError(f"dtype must be a string or a torch.dtype, got {type(dtype).__name__}")
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ConfigError(f"dtype must be float32, float16 or bfloat16, got {dtype}")
    if dtype != torch.float32 and device.type != "cuda":
        raise ConfigError(
            f"{dtype} inference is supported on CUDA only; use float32 on {device.type}"
        )
    return dtype


def _feather(size: int, overlap: int, device: torch.device) -> torch.Tensor:
    """1-D blending weights: a linear ramp over ``overlap`` pixels at both ends, never 0."""
    i = torch.arange(size, device=device, dtype=torch.float32)
    ramp = torch.minimum((i + 0.5) / max(overlap, 1), (size - i - 0.5) / max(overlap, 1))
    return ramp.clamp(max=1.0)


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def run_generator(
    model: Generator,
    x: torch.Tensor,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Run G on ``x`` ``(B, 3, H, W)`` in chunks of ``batch_size`` images (default: as many
    as fit in ``BATCH_PIXELS`` per pass, which bounds memory) and, when ``tile``
    is set (or the image exceeds ``AUTO_TILE_PIXELS``), in overlapping tiles blended with
    feathered weights. Returns ``(B, N, 3, H, W)`` clamped to [0, 1]. Call under
    ``torch.inference_mode()``."""
    b, _, h, w = x.shape
    batch_size = check_int(batch_size, "batch_size", minimum=1, optional=True)
    tile = check_tile(tile, model.config.size_multiple)
    overlap = check_int(overlap, "overlap (pixels)", minimum=0, optional=True)
    if tile is None and h * w > AUTO_TILE_PIXELS:
        tile = DEFAULT_TILE
    if tile is not None:
        if overlap is None:  # the default overlap, never more than a quarter of the tile
            overlap = min(DEFAULT_OVERLAP, tile // 4)
        if not 0 <= overlap < tile // 2:
            raise ConfigError(f"overlap must be in [0, tile/2), got {overlap} for tile {tile}")
    if batch_size is None:
        per_item = min(h, tile or h) * min(w, tile or w)
        batch_size = max(1, min(64, BATCH_PIXELS // per_item))
    n = model.config.num_frames
    if tile is None or (h <= tile and w <= tile):
        out = torch.empty(b, n, 3, h, w, device=x.device, dtype=x.dtype)  # no torch.cat copy
        for i in range(0, b, batch_size):
            out[i : i + batch_size] = model(x[i : i + batch_size]).clamp_(0.0, 1.0)
        return out

    overlap = overlap or 0  # always set above once tiling is on
    th, tw = min(tile, h), min(tile, w)
    out = torch.zeros(b, n, 3, h, w, device=x.device, dtype=x.dtype)
    norm = torch.zeros(1, 1, 1, h, w, device=x.device, dtype=x.dtype)
    wy, wx = _feather(th, overlap, x.device), _feather(tw, overlap, x.device)
    weight = (wy[:, None] * wx[None, :]).to(x.dtype)
    for y0 in _starts(h, th, overlap):
        for x0 in _starts(w, tw, overlap):
            patch = x[..., y0 : y0 + th, x0 : x0 + tw]
            pred = torch.cat([model(patch[i : i + batch_size]) for i in range(0, b, batch_size)])
            out[..., y0 : y0 + th, x0 : x0 + tw] += pred * weight
            norm[..., y0 : y0 + th, x0 : x0 + tw] += weight
    return out.div_(norm).clamp_(0.0, 1.0)


# ----------------------------------------------------------------------------- working size
def working_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """The size ``(height, width)`` at which G runs, and the frames come back, for an image
    of ``height x width`` with the cap ``max_side`` on its long side.

    An image whose long side is at most ``max_side`` (or any image, with ``None``) keeps
    its size. A larger one is scaled by ``max_side / long side``: the long side becomes
    exactly ``max_side``, the short side is rounded to the nearest pixel (the aspect ratio
    is kept to within half a pixel).

    Raises:
        ConfigError: ``max_side`` is not None or an integer >= 16, or it would make the
            short side smaller than 8 pixels (a very elongated image).

    Examples:
        >>> working_size(720, 1280, 512), working_size(300, 400, 512), working_size(9, 9, None)
        ((288, 512), (300, 400), (9, 9))
    """
    max_side = check_max_side(max_side)
    height, width = int(height), int(width)
    long = max(height, width)
    if max_side is None or long <= max_side:
        return height, width
    h, w = round(height * max_side / long), round(width * max_side / long)
    if min(h, w) < MIN_SIZE:
        need = math.ceil(MIN_SIZE * long / min(height, width))
        raise ConfigError(
            f"max_side={max_side} would shrink the {width}x{height} image to {w}x{h} pixels, "
            f"under blurvid's minimum of {MIN_SIZE}: use max_side >= {need} or None"
        )
    return h, w


def _to_working_size(x: torch.Tensor, max_side: int | None) -> torch.Tensor:
    """``x`` ``(B, 3, H, W)`` float, downscaled to :func:`working_size` (itself if no change).

    Antialiased bilinear: the filter the training data is downscaled with
    (``blurvid.data``'s photo loading and pyramids), so G sees images of the kind it was
    trained on; area (box) averaging aliases at non-integer factors, and bicubic overshoots
    at edges (experiments/working_resolution.py compares the three)."""
    h, w = working_size(x.shape[-2], x.shape[-1], max_side)
    if (h, w) == tuple(x.shape[-2:]):
        return x
    y = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return y.clamp_(0.0, 1.0)


def _is_auto(max_side: Any) -> bool:
    return isinstance(max_side, str) and max_side == "auto"


def _auto_guard(g: Generator) -> str:
    """The model's ``auto_guard`` metadata (:data:`blurvid.working_scale.GUARDS`), else
    ``"estimate"``."""
    guard = g.metadata.get("auto_guard", "estimate")
    return guard if guard in GUARDS else "estimate"


def _plan_auto(g, xi, dev, dtype, tile, overlap, batch_size):
    """The plan of ``max_side="auto"`` for one image ``xi`` ``(1, 3, H, W)``: the blur
    estimate, corrected by the motion of G's frames at the coarse probe levels
    (:func:`~blurvid.working_scale.probed_blur_px`; images of at least 384 px a side), and
    the frames of the probe whose size is within :data:`PROBE_REUSE` of the planned one
    (the blur lands within 15 % of the same length: G need not run again), else None."""
    probed: dict[int, torch.Tensor] = {}
    side = max(xi.shape[-2:])

    def probe(max_side: int) -> float:
        probed[max_side] = frames = _extract(g, _to_working_size(xi, max_side), dev, dtype, tile,
                                             overlap, batch_size)  # fmt: skip
        return frames_blur_px(frames[0], side, PROBE_QUANTILE)

    plan = plan_scale(xi[0], probe=probe)
    if plan.max_side is not None:
        for probe_side, frames in probed.items():
            if abs(probe_side - plan.max_side) <= PROBE_REUSE * plan.max_side:
                return plan, frames
    return plan, None


#: A working size within this share of a probe's (:func:`_plan_auto`) takes the probe's frames.
PROBE_REUSE = 0.15


def _skips_g(g: Generator, plan: ScalePlan) -> bool:
    """With the ``"estimate"`` guard an image read as without blur is the input: G need not
    run (it is logged)."""
    if plan.weight <= 0.0 and _auto_guard(g) == "estimate":
        _log.info("working scale: blur %.1f px: no blur, the input (G not run)", plan.blur_px)
        return True
    return False


def _auto_weight(g: Generator, xi: torch.Tensor, plan: ScalePlan, frames: torch.Tensor) -> float:
    """The share of G's ``frames`` (at the working size) to keep for ``xi``: the plan's, or
    with ``"geometric"`` or ``"either"`` (a model whose metadata says so) the blur G's frames
    show joined to the estimate (:func:`~blurvid.working_scale.guard_weight`); logged."""
    guard = _auto_guard(g)
    weight = plan.weight
    if guard != "estimate" and math.isfinite(plan.blur_px):
        shown = frames_blur_px(frames[0], max(xi.shape[-2:]), GUARD_QUANTILE[guard])
        weight = guard_weight(plan.blur_px, shown, guard)
    (h, w), (wh, ww) = xi.shape[-2:], frames.shape[-2:]
    _log.info("working scale: blur %.1f px: G at %dx%d, frames at %dx%d, %.0f%% G's frames",
              plan.blur_px, ww, wh, w, h, 100 * weight)  # fmt: skip
    return weight


def _auto_level_one(g, x, dev, dtype, tile, overlap, batch_size):
    """``max_side="auto"`` for a batch ``x`` ``(B, 3, H, W)`` (:mod:`blurvid.working_scale`):
    each image planned on its own (:func:`_plan_auto`), the images whose plan is full size
    through G together (as with ``max_side=None``), the others at their own working size.
    Yields, per image, ``(xi, frames, weight)``: G's frames at the working size (None where
    G need not run, :func:`_skips_g`) and the share of them to keep (:func:`_auto_weight`)."""
    images = x.split(1)
    plans = [_plan_auto(g, xi, dev, dtype, tile, overlap, batch_size) for xi in images]
    skip = [_skips_g(g, plan) for plan, _ in plans]
    full = [i for i, (plan, _) in enumerate(plans) if plan.max_side is None and not skip[i]]
    together = {}
    if full:  # the whole batch (no copy) when every image runs at full size
        batch = x if len(full) == len(images) else x[full]
        together = dict(zip(full, _extract(g, batch, dev, dtype, tile, overlap, batch_size)
                                .split(1)))  # fmt: skip
    for i, xi in enumerate(images):
        plan, frames = plans[i]
        if skip[i]:
            yield xi, None, 0.0
            continue
        if frames is None:
            frames = together.pop(i, None)
        if frames is None:
            frames = _extract(g, _to_working_size(xi, plan.max_side), dev, dtype, tile, overlap,
                              batch_size)  # fmt: skip
        yield xi, frames, _auto_weight(g, xi, plan, frames)


def _at_input(frames: torch.Tensor | None, xi: torch.Tensor, weight: float, count: int):
    """``(1, count, 3, H, W)``: ``frames`` (at the working size) back at the size of ``xi``
    and moved towards it by ``weight``; ``count`` copies of ``xi`` where G's frames are
    not kept at all."""
    if frames is None or weight <= 0.0:
        return xi.float().unsqueeze(1).expand(-1, count, -1, -1, -1)
    xi = xi.to(frames)
    return blend_to_input(to_input_size(frames, xi), xi, weight)


def _extract_auto(g, x, dev, dtype, tile, overlap, batch_size) -> torch.Tensor:
    """``max_side="auto"`` (:func:`_auto_level_one`): the frames come back at the input size
    and move towards the input as the blur vanishes."""
    k = g.config.num_frames
    level_one = _auto_level_one(g, x, dev, dtype, tile, overlap, batch_size)
    out = [_at_input(frames, xi, weight, k) for xi, frames, weight in level_one]
    return out[0] if len(out) == 1 else torch.cat(out)  # one image: no copy of its frames


# ----------------------------------------------------------------------------- public API
def plan_working_scale(
    image: ImageInput,
    *,
    model: Generator | str | None = None,
    device: str | torch.device | None = None,
) -> ScalePlan:
    """What ``extract_frames(image, max_side="auto")`` does with one image: the blur length
    it reads (the estimate, corrected by G's own motion at 1/4 and 1/8 of the size where
    the image is large enough), the working size and the share of
    G's frames in the result (:mod:`blurvid.working_scale`). G runs at the probe sizes
    (1/16 and 1/64 of a full-size pass).

    Args:
        image: one image, in any kind :func:`extract_frames` takes.
        model, device: as for :func:`extract_frames`.

    Returns:
        A :class:`~blurvid.working_scale.ScalePlan`: ``blur_px`` (input pixels; NaN for an
        image under 32 px a side), ``max_side`` (``None``: full size) and ``weight``. Pass
        ``plan.max_side`` to :func:`interpolate_recursive` for slow motion at that size.

    Raises:
        InvalidImageError: more than one image.

    Examples:
        >>> import torch, blurvid
        >>> from blurvid.api import plan_working_scale
        >>> g = blurvid.Generator(blurvid.GeneratorConfig(width=8))
        >>> plan_working_scale(torch.full((3, 64, 64), 0.5), model=g).max_side is None
        True
    """
    model, dev = _check_args(model, device, None, None, None, None)
    x, _ = to_batch(image)
    if x.shape[0] != 1:
        raise InvalidImageError(
            f"plan_working_scale takes one image, got a batch of {x.shape[0]}: call it per image"
        )
    g = _get_model(model, dev, _resolve_dtype(None, dev))
    return _plan_auto(g, x, dev, None, None, None, None)[0]


def extract_frames(
    image: ImageInput,
    *,
    model: Generator | str | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int | None = None,
    max_side: int | str | None = "auto",
) -> Any:
    """Extract the 7 sharp, temporally ordered frames hidden in one motion-blurred image.

    Args:
        image: a path, PIL image, numpy ``(H, W, 3)`` (uint8/uint16/float in [0, 1]), or a
            tensor ``(3, H, W)`` / ``(B, 3, H, W)`` float in [0, 1].
        model: a :class:`Generator`, or a name for :func:`blurvid.load_model` (default:
            the bundled ``"default"`` checkpoint, loaded once and cached).
        device: ``"cpu"``, ``"cuda"``...; default: the model's device, else CUDA if available.
        dtype: ``"float32"`` (default), or ``"float16"``/``"bfloat16"`` on CUDA.
        tile: process in overlapping tiles of this many pixels (automatic above 2.1 MP)
            to bound memory; tiles are blended with feathered weights.
        overlap: overlap of neighbouring tiles whenever tiling is on (``tile`` given, or
            automatic); default 64 pixels, at most ``tile // 4``; less than ``tile / 2``.
        batch_size: images (or tiles) per forward pass; default: as many as fit in 2.1 MP.
        max_side: the working resolution. ``"auto"`` (default): per image, the blur's
            estimated length (:func:`blurvid.blur_extent.estimate_blur_extent`; a long blur
            read from G's own motion at 1/4 or 1/8 of the size: :func:`plan_working_scale`)
            picks the working size that brings it to about 16 px (full size up to 24 px),
            and **the frames come back at the input size** (bilinear, plus the input's own
            detail above the working resolution); a photo with under 2 px of blur comes
            back as the input (7 copies), G's frames taking over up to 6 px
            (:mod:`blurvid.working_scale`). A model's ``auto_guard`` metadata can add the
            motion G's own frames show to that reading (``"geometric"``, ``"either"``: the
            bundled v0.3 keeps a photo as it is when both read under 3 px;
            :data:`blurvid.working_scale.GUARDS`). Images are planned one by one; those of
            a batch whose plan is full size go through G together. ``None``: G at full
            size, its frames as they are. An integer >= 16:
            an image whose long side is larger is downscaled (antialiased) to this long side
            before G, and **the frames come back at that working size**
            (``working_size(H, W, max_side)``); see docs/api.md, "Working resolution".

    Returns:
        The frames in the input's kind: list of 7 PIL images; numpy ``(7, H, W, 3)``;
        tensor ``(7, 3, H, W)`` or ``(B, 7, 3, H, W)``. Values in [0, 1]. ``H, W`` are the
        input's, or the working size when an integer ``max_side`` downscales it.

    Examples:
        >>> import torch, blurvid
        >>> g = blurvid.Generator(blurvid.GeneratorConfig(width=8))
        >>> blurvid.extract_frames(torch.rand(3, 32, 48), model=g).shape
        torch.Size([7, 3, 32, 48])
    """
    model, dev = _check_args(model, device, dtype, tile, overlap, batch_size, max_side)
    x, restore = to_batch(image)
    g = _get_model(model, dev, _resolve_dtype(dtype, dev))
    if _is_auto(max_side):
        return restore(_extract_auto(g, x, dev, dtype, tile, overlap, batch_size))
    x = _to_working_size(x, check_max_side(max_side))
    return restore(_extract(g, x, dev, dtype, tile, overlap, batch_size))


def _extract(g, x, dev, dtype, tile, overlap, batch_size) -> torch.Tensor:
    """G's frames for ``x`` on ``dev`` in ``dtype``, as float32; ``g`` is left as it was (see
    :func:`_runnable`; callers that run many batches pass a ready model, which is not copied)."""
    dt = _resolve_dtype(dtype, dev)
    g = _runnable(g, dev, dt)
    with torch.inference_mode():
        frames = run_generator(
            g, x.to(device=dev, dtype=dt), tile=tile, overlap=overlap, batch_size=batch_size
        )
    return frames.float()


def _check_depth(depth: Any) -> int:
    """``depth`` as a Python int >= 1 (numpy integers accepted, bools refused)."""
    return int(check_int(depth, "depth", minimum=1))


#: Deepest recursion :func:`num_recursive_frames` counts (7**10000 frames: a 8451-digit count).
MAX_COUNTED_DEPTH = 10_000


def num_recursive_frames(depth: int, num_frames: int = NUM_FRAMES) -> int:
    """Frames produced by :func:`interpolate_recursive` with a G of ``num_frames`` frames
    (its ``config.num_frames``; the paper's 7): ``n(1) = k``, ``n(d + 1) = k * (n(d) - 1)``
    -> 7, 42, 287, 2002 for depth 1, 2, 3, 4 with ``k = 7``.

    Examples:
        >>> [num_recursive_frames(d) for d in (1, 2, 3)]
        [7, 42, 287]
        >>> num_recursive_frames(2, num_frames=5)
        20
    """
    depth = _check_depth(depth)
    num_frames = check_int(num_frames, "num_frames", minimum=2)
    if num_frames == 2:  # n(d) = 2 at every depth
        return 2
    if depth > MAX_COUNTED_DEPTH:
        raise ConfigError(
            f"depth {depth} gives about 10^{_log10_frames(depth, num_frames):.0f} frames; "
            f"use a depth <= {MAX_COUNTED_DEPTH} (in practice 2-4)"
        )
    n = num_frames
    for _ in range(depth - 1):
        n = num_frames * (n - 1)
    return n


def _log10_frames(depth: int, num_frames: int) -> float:
    """log10 of ``num_recursive_frames(depth)`` for ``num_frames >= 3``, without the count."""
    return (depth - 1) * math.log10(num_frames) + math.log10(
        num_frames - num_frames / (num_frames - 1)
    )


class RecursivePlan(NamedTuple):
    """What :func:`interpolate_recursive` will make: ``frames`` per image and an estimate of
    the peak memory, ``bytes`` (the float32 frames of the last level and of the level they
    are made from)."""

    frames: int
    bytes: int

    def describe(self, height: int, width: int, batch: int = 1) -> str:
        """``"287 frames of 1280x720, about 3.8 GB in memory"``."""
        images = f" x {batch} images" if batch > 1 else ""
        return f"{self.frames:,} frames of {width}x{height}{images}, about {format_bytes(self.bytes)} in memory"


def plan_recursive(
    depth: int,
    height: int,
    width: int,
    *,
    batch: int = 1,
    num_frames: int = NUM_FRAMES,
    memory_limit: int | str | None = None,
) -> RecursivePlan:
    """Count the frames of ``interpolate_recursive(image, depth)`` and estimate its memory,
    and refuse, before any work, a request that would not fit.

    The estimate is ``4 * 3 * H * W * batch * (n(depth) + n(depth - 1))`` bytes: the
    float32 frames of the last level and of the level they are made from.

    Args:
        depth: recursion depth (>= 1).
        height: image height in pixels.
        width: image width in pixels.
        batch: images processed together.
        num_frames: frames per pass of G (its ``config.num_frames``; 7 by default).
        memory_limit: budget in bytes (or ``"12G"``); default: the environment variable
            ``BLURVID_MEMORY_LIMIT``, else the memory available now (/proc/meminfo).

    Raises:
        ConfigError: ``depth`` is not an integer >= 1 (``True`` is not a depth).
        OutputTooLargeError: the estimate exceeds the budget; the message names the count.

    Examples:
        >>> plan_recursive(3, 720, 1280, memory_limit="64G")
        RecursivePlan(frames=287, bytes=3638476800)
    """
    _check_depth(depth)
    num_frames = check_int(num_frames, "num_frames", minimum=2)
    limit = _memory_limit(memory_limit)
    per_frame = 4 * 3 * int(height) * int(width) * int(batch)
    previous, n = 0, num_frames
    levels = min(depth, 2) if num_frames == 2 else depth  # 2 frames at every depth for k = 2
    for level in range(1, levels + 1):  # stops at the first level over the budget
        if level > 1:
            previous, n = n, num_frames * (n - 1)
        need = per_frame * (n + previous)
        if need > limit:
            if level < depth <= 1000:  # the whole request, counted exactly
                frames = num_recursive_frames(depth, num_frames)
                need = per_frame * (frames + num_recursive_frames(depth - 1, num_frames))
            size = ("more than " if depth > 1000 else "about ") + format_bytes(need)
            raise OutputTooLargeError(
                f"interpolate_recursive(depth={depth}) on {batch} image(s) of {width}x{height} "
                f"would make {_count_text(depth, num_frames)} frames per image, {size}, over the "
                f"{format_bytes(limit)} of memory available; use a smaller depth or image, or "
                f"set the budget with memory_limit= or BLURVID_MEMORY_LIMIT (bytes, e.g. 32G)"
            )
    return RecursivePlan(n, per_frame * (n + previous))


def _count_text(depth: int, num_frames: int) -> str:
    if depth > 1000 and num_frames > 2:
        return f"about 10^{_log10_frames(depth, num_frames):.0f}"
    n = num_recursive_frames(depth, num_frames)
    return f"{n:,}" if n < 10**12 else f"{Decimal(n):.3e}"


def _recurse(frames: torch.Tensor, depth: int, run: tuple, bar) -> torch.Tensor:
    """Levels 2 to ``depth`` of the recursion from level 1's ``frames`` ``(B, k, 3, H, W)``
    (``run``: G, device, dtype, tile, overlap, batch_size; ``bar`` counts images through G)."""
    g, dev, dtype, tile, overlap, batch_size = run
    b, _, c, h, w = frames.shape
    k = g.config.num_frames
    chunk = batch_size or max(1, min(64, BATCH_PIXELS // (h * w)))
    for _ in range(depth - 1):
        n = frames.shape[1]
        out = torch.empty(b * (n - 1), k, c, h, w, device=frames.device, dtype=frames.dtype)
        for start in range(0, b * (n - 1), chunk):  # pairs (image i, frame j), flattened
            idx = torch.arange(start, min(start + chunk, b * (n - 1)), device=frames.device)
            i, j = idx // (n - 1), idx % (n - 1)
            before, after = thumbnail(frames[i, j]), thumbnail(frames[i, j + 1])
            pairs = frames[i, j].add_(frames[i, j + 1]).mul_(0.5)  # the blur model F
            sub = _extract(g, pairs, dev, dtype, tile, overlap, batch_size)
            # G's order is arbitrary per call: run each new group from the frame before
            # it to the frame after it, so the slow motion never turns back in between
            out[start : start + len(idx)] = orient_groups(sub, before, after)[0]
            bar.update(len(idx))
        frames = out.view(b, (n - 1) * k, c, h, w)
        del out
    return frames


def interpolate_recursive(
    image: ImageInput,
    depth: int = 2,
    *,
    model: Generator | str | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int | None = None,
    progress: bool = False,
    memory_limit: int | str | None = None,
    max_side: int | str | None = None,
) -> Any:
    """Slow motion by recursion (paper Sec. 4.3, "Fine-grained Motion Interpolation").

    Level 1 is :func:`extract_frames`. At each further level every pair of neighbouring
    frames ``(I_k, I_k+1)`` is averaged into a new blurry image (the blur model F of
    Sec. 3.3) and fed back through G, the pairs of a level in batches of ``batch_size``
    (default: as many as fit in a 2.1 MP budget per pass, e.g. 8 pairs at 512x512).
    Depth 2 gives 6 x 7 = 42 frames; in general ``num_recursive_frames(depth)`` =
    7, 42, 287, 2002... G returns each group in either time order, so every new group is
    put in the order that runs from ``I_k`` to ``I_k+1`` (:func:`blurvid.choose_order`'s
    rule): the motion never turns back inside the sequence. Memory grows with the frame count (287 frames at 720p: 3.6 GB);
    :func:`plan_recursive` gives the count and the estimate, and a request over the memory
    available is refused before any work.

    Args:
        image: as for :func:`extract_frames`.
        depth: recursion depth (1 = plain 7 frames).
        model: as for :func:`extract_frames`.
        device: as for :func:`extract_frames`.
        dtype: as for :func:`extract_frames`.
        tile: as for :func:`extract_frames`.
        overlap: as for :func:`extract_frames`.
        batch_size: pairs per forward pass (default: a 2.1 MP budget per pass).
        progress: show a tqdm progress bar (images through G).
        memory_limit: memory budget in bytes (or ``"12G"``); default: the environment
            variable ``BLURVID_MEMORY_LIMIT``, else the memory available now.
        max_side: ``None`` (default): full size. An integer: as for
            :func:`extract_frames`: the frames come back at the working size, and the memory
            estimate is made for that size. ``"auto"``: per image, level 1 as
            ``extract_frames(max_side="auto")`` (the blur's length picks the working size;
            a photo without blur comes back as ``num_recursive_frames(depth)`` copies of
            itself, G not run past level 1), the further levels at the same working size,
            and all frames back at the input size (the memory estimate is for that size).

    Returns:
        ``num_recursive_frames(depth)`` frames, in the input's kind.

    Raises:
        ConfigError: ``depth`` is not an integer >= 1.
        OutputTooLargeError: the frames would not fit in memory (the message has the count).
    """
    depth = _check_depth(depth)
    model, dev = _check_args(model, device, dtype, tile, overlap, batch_size, max_side)
    x, restore = to_batch(image)
    auto = _is_auto(max_side)
    if not auto:
        # the memory plan below is for the working size
        x = _to_working_size(x, check_max_side(max_side))
    dt = _resolve_dtype(dtype, dev)
    g = _get_model(model, dev, dt)
    k = g.config.num_frames
    b, c, h, w = x.shape
    plan = plan_recursive(depth, h, w, batch=b, num_frames=k, memory_limit=memory_limit)
    batch_size = check_int(batch_size, "batch_size", minimum=1, optional=True)
    g = _runnable(g, dev, dt)  # once, not per batch (the caller's model stays as it is)
    counts = [k]
    for _ in range(depth - 1):
        counts.append(k * (counts[-1] - 1))
    total = b * (1 + sum(n - 1 for n in counts[:-1]))  # images through G
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"depth {depth}", unit="img", disable=not progress, leave=False)
    run = (g, dev, dtype, tile, overlap, batch_size)
    with bar:
        if auto:  # per image: level 1 at the working size "auto" picks, the rest there too
            out = []
            for xi, level_one, weight in _auto_level_one(g, x, dev, dtype, tile, overlap,
                                                         batch_size):  # fmt: skip
                bar.update(1)
                if level_one is not None and weight > 0.0:
                    level_one = _recurse(level_one, depth, run, bar)
                else:  # the input itself: the further levels are not run
                    bar.update(total // b - 1)
                out.append(_at_input(level_one, xi, weight, plan.frames))
            frames = out[0] if len(out) == 1 else torch.cat(out)
        else:
            frames = _extract(g, x, dev, dtype, tile, overlap, batch_size)  # (B, k, 3, H, W)
            bar.update(b)
            frames = _recurse(frames, depth, run, bar)
    if frames.shape[1] != plan.frames:  # pragma: no cover - internal consistency
        raise RuntimeError(f"expected {plan.frames} frames, got {frames.shape[1]}")
    return restore(frames)


class FrameExtractor(torch.nn.Module):
    """``nn.Module`` wrapper of :func:`extract_frames` for tensors ``(B, 3, H, W)`` ->
    ``(B, 7, 3, H, W)`` (or recursive frames with ``depth > 1``).

    Keyword arguments (``device``, ``dtype``, ``tile``, ``overlap``, ``batch_size``,
    ``max_side``) are passed on; with ``max_side`` the frames are at the working size
    (:func:`working_size`)."""

    def __init__(self, model: Generator | str | None = None, depth: int = 1, **kwargs: Any) -> None:
        super().__init__()
        num_recursive_frames(depth)  # validate early
        names = ("device", "dtype", "tile", "overlap", "batch_size", "max_side")
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise ConfigError(f"FrameExtractor got unexpected arguments {unknown}; use {names}")
        model, _ = _check_args(model, *(kwargs.get(k) for k in names))
        # a model given by name is this extractor's own copy (not the shared cached one), so
        # moving or casting the extractor moves nobody else's model
        self.generator = model if isinstance(model, Generator) else load_model(model).eval()
        self.depth = depth
        self.kwargs = kwargs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.depth == 1:
            return extract_frames(x, model=self.generator, **self.kwargs)
        return interpolate_recursive(x, self.depth, model=self.generator, **self.kwargs)
