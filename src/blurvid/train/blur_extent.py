"""Fit the blur-extent head (:class:`blurvid.blur_extent.BlurExtentNet`) on synthetic shake.

The samples are the training data's own renderer (:func:`blurvid.data.render_shake`) on
:data:`~blurvid.blur_extent.PATCH` px crops, with the camera path's length ``L`` drawn per
sample: 0 (sharp) for :data:`SHARP_SHARE` of them, else log-uniform on ``LENGTH`` px (0-4x the
training range 4-24 px at the patch scale; longer than the head's saturation, so that it
learns "at least that long"). The truth is the arc length of the rendered trajectory
(``debug=True``). So that the head reads the motion and not the camera:

* half the samples get the camera realism of :mod:`blurvid.data.camera` (Poisson-Gaussian
  noise up to a phone in dim light, and JPEG), the rest the renderer's mild Gaussian noise;
* :data:`SOFT_SHARE` of them come from photos softened by an isotropic Gaussian (defocus, lens
  softness, demosaicing; sigma :data:`SOFT_SIGMAS` px at full photo size), which is no motion;
* rotation and zoom shrink with the path for paths shorter than the training mean (a sharp
  photo has none); no moving sprites (the label is the camera's path, one per patch).

Only training photos, video stills and procedural dead-leaves scenes (coloured from the
training photos) are used (``scripts/data_split.json`` holds the validation photos out):
:func:`blurvid.blur_extent` is then scored on the held-out photos
(``benchmarks/blur_extent.py``). Fitted on photos alone the head read dead-leaves scenes 2-3x
short (it had learned how much fine texture a photo keeps, not how wide its edges are); with
the scenes as half the samples it reads them within ~30 % and photos better too.

Command line: ``python scripts/train_blur_extent.py`` (renders, caches and fits; writes
``src/blurvid/weights/blur_extent.safetensors``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from .._fs import atomic_write_bytes
from ..blur_extent import PATCH, WIDTHS, BlurExtentNet, to_length, to_target
from ..colour import rgb_to_luma
from ..data import CameraConfig, ShakeConfig, build_pyramid, item_generator, render_shake
from ..data.base import _quantize, _rand

__all__ = ["LENGTH", "fit", "render_samples", "sample_config", "save_net"]

#: (min, max) camera path length (pixels at the patch scale) of the blurred samples.
LENGTH = (0.5, 100.0)
#: Share of samples without any camera motion.
SHARP_SHARE = 0.12
#: Share of samples from softened photos, and the Gaussian sigmas (full photo pixels).
SOFT_SHARE = 0.3
SOFT_SIGMAS = (0.5, 0.8, 1.2)
#: The training range's mean path length (``ShakeConfig().path_length``).
_TRAIN_MEAN = 14.0


def sample_config(length: float, realism: bool, size: int = PATCH) -> ShakeConfig:
    """The renderer's settings for a camera path of ``length`` px (module docstring)."""
    base = ShakeConfig()
    f = length / _TRAIN_MEAN
    return base.replace(
        size=size,
        path_length=(length, length),
        rotation_deg=base.rotation_deg * min(f, 1.0),
        zoom=base.zoom * min(f, 1.0),
        sprites=(0, 0),  # the label is the camera's path: no objects with their own motion
        # sub-frames at most ~1.5 px apart along the path (fewer for short paths: faster)
        subframes_per_frame=max(2, min(12, math.ceil(length / (1.5 * base.num_frames)))),
        camera=CameraConfig.parse("noise+jpeg") if realism else CameraConfig.off(),
    )


def _soften(photo: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(3, H, W)`` float photo through an isotropic Gaussian of ``sigma`` px."""
    r = max(1, math.ceil(3 * sigma))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    x = F.pad(photo[None], (r, r, r, r), mode="reflect")
    x = F.conv2d(F.conv2d(x, k, groups=3), k.transpose(-1, -2), groups=3)
    return x[0].clamp(0.0, 1.0)


def render_samples(
    photos: Sequence[torch.Tensor],
    count: int,
    seed: int,
    start: int = 0,
    size: int = PATCH,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Samples ``start .. start + count - 1`` of the seeded stream (each one reproducible
    from ``(seed, index)`` alone, so that workers can render slices).

    Args:
        photos: ``(3, H, W)`` float sharp photos in [0, 1].
        count, seed, start: Which samples.
        size: Patch side.
        progress: Show a tqdm bar.

    Returns:
        ``{"luma": (count, 1, size, size) uint8, "length": (count,) float32 (the arc length
        of the rendered camera path, pixels), "photo": (count,) int64}``.
    """
    from tqdm.auto import tqdm

    pyramids: dict[tuple[int, float], list[torch.Tensor]] = {}
    luma = torch.empty(count, 1, size, size, dtype=torch.uint8)
    length = torch.empty(count)
    which = torch.empty(count, dtype=torch.int64)
    for n in tqdm(range(count), disable=not progress, desc="blur-extent samples"):
        gen = item_generator(seed, start + n)
        p = int(torch.randint(len(photos), (1,), generator=gen))
        sharp = _rand(gen) < SHARP_SHARE
        u = _rand(gen)
        path = 0.0 if sharp else math.exp(math.log(LENGTH[0]) + u * math.log(LENGTH[1] / LENGTH[0]))
        realism = _rand(gen) < 0.5
        sigma = 0.0
        if _rand(gen) < SOFT_SHARE:
            sigma = SOFT_SIGMAS[int(torch.randint(len(SOFT_SIGMAS), (1,), generator=gen))]
        key = (p, sigma)
        if key not in pyramids:
            photo = photos[p].float()
            pyramids[key] = build_pyramid(_soften(photo, sigma) if sigma else photo)
        s = render_shake(pyramids[key], sample_config(path, realism, size), gen, debug=True)
        tr = s["trajectory"]
        length[n] = (tr[1:] - tr[:-1]).norm(dim=1).sum() if len(tr) > 1 else 0.0
        luma[n] = _quantize(rgb_to_luma(s["blurry"]))
        which[n] = p
    return {"luma": luma, "length": length, "photo": which}


def _augment(y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random flip and quarter turn of the whole batch (the blur's length is unchanged)."""
    k = int(torch.randint(4, (1,), generator=gen))
    if _rand(gen) < 0.5:
        y = y.flip(-1)
    return torch.rot90(y, k, dims=(-2, -1))


def fit(
    train: dict[str, torch.Tensor],
    val: dict[str, torch.Tensor] | None = None,
    steps: int = 4000,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    log_every: int = 250,
    progress: bool = True,
    widths: tuple[int, ...] = WIDTHS,
) -> tuple[BlurExtentNet, list[dict[str, float]]]:
    """Fit a fresh :class:`BlurExtentNet` on ``train`` (:func:`render_samples`): smooth-L1
    on ``log2(1 + L)`` (saturating, :func:`blurvid.blur_extent.to_target`), Adam with a
    cosine schedule, random flips and quarter turns. ``widths``: the net's channels.

    Returns:
        The net (eval mode) and its log: per ``log_every`` steps the training loss and, with
        ``val``, the median absolute log2 error and the share within a factor 1.5 on
        ``val``'s samples of 1-24 px.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    net = BlurExtentNet(widths)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 100)
    gen = torch.Generator().manual_seed(seed)
    x_all = train["luma"]
    t_all = to_target(train["length"])
    log: list[dict[str, float]] = []
    running = 0.0
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), disable=not progress, desc="fit blur extent")
    for step in bar:
        idx = torch.randint(len(x_all), (batch,), generator=gen)
        y = _augment(x_all[idx].float() / 255.0, gen)
        loss = F.smooth_l1_loss(net(y), t_all[idx], beta=0.25)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += float(loss.detach())
        if step % log_every == 0 or step == steps:
            row = {
                "step": step,
                "loss": running / log_every,
                "seconds": time.perf_counter() - start,
            }
            running = 0.0
            if val is not None:
                net.eval()
                row.update(score(net, val))
                net.train()
            log.append(row)
            bar.set_postfix(loss=f"{row['loss']:.4f}", err=f"{row.get('median_log2_error', 0):.3f}")
    return net.eval(), log


@torch.inference_mode()
def predict(net: BlurExtentNet, luma: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """The head's length (pixels) for uint8 patches ``(N, 1, p, p)``."""
    return torch.cat([to_length(net(c.float() / 255.0)) for c in luma.split(chunk)])


def score(net: BlurExtentNet, val: dict[str, torch.Tensor]) -> dict[str, float]:
    """Patch-level error on samples with a true length of 1-24 px (the range the whole-image
    estimate trusts): the median absolute log2 error and the share within a factor 1.5."""
    est = predict(net, val["luma"])
    true = val["length"]
    m = (true >= 1.0) & (true <= 24.0)
    err = (torch.log2(est[m].clamp(min=0.25)) - torch.log2(true[m])).abs()
    sharp = true < 0.5
    out = {
        "median_log2_error": float(err.median()),
        "within_1.5x": float((err <= math.log2(1.5)).float().mean()),
    }
    if bool(sharp.any()):
        out["sharp_median_px"] = float(est[sharp].median())
    return out


def save_net(net: BlurExtentNet, path: Path, metadata: dict[str, str]) -> None:
    """Write the head's weights as safetensors (atomically), with ``metadata``."""
    from safetensors.torch import save

    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    meta["widths"] = json.dumps(list(net.widths))
    atomic_write_bytes(path, save(state, metadata=meta))
