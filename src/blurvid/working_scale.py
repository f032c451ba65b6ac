"""``max_side="auto"``: the working scale from the blur's length, and frames at the input size.

G was trained on camera paths of 4-24 px (``ShakeConfig.path_length``). The rule, per image,
from the blur length ``L`` that :func:`blurvid.blur_extent.estimate_blur_extent` reads --
corrected, where the image is large enough, by the motion G's own
frames show at 1/8 and 1/4 of the size (:func:`probed_blur_px`: the estimate reads blur 3-4x
the training range at half its length, G reads it once it is small):

* ``L <=`` :data:`FULL_SIZE_PX` (24 px, the top of the training range): G runs at full size;
* longer: G runs at the scale that brings the blur to :data:`TARGET_PX` (16 px, mid-range),
  and its frames come back **at the input size** (:func:`to_input_size`: bilinear, plus the
  input's own detail above the working resolution);
* do no harm: under :data:`NO_BLUR_PX` (2 px) the frames are the input itself, and up to
  :data:`FULL_EFFECT_PX` (6 px) they move linearly from the input to G's
  (:func:`blur_weight`): on a sharp photo G invents motion and loses up to several dB.

Why these numbers: fed the TRUE blur length, this rule gains +1.51 dB on blur 2x the training
range (best fixed scale +1.25), +1.16 at 3x (+0.78), +0.97 at 4x (+0.92), equals full size at
1x, and leaves sharp photos and static video at the input (full size: -3.6 and -1.3 dB);
``python benchmarks/auto_scale.py`` measures it with the estimate and with the truth
(docs/api.md, "Automatic working scale").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import overload

import torch
import torch.nn.functional as F

from .checks import MIN_MAX_SIDE, MIN_SIZE

__all__ = [
    "FULL_EFFECT_PX",
    "FULL_SIZE_PX",
    "GUARDS",
    "GUARD_NO_BLUR_PX",
    "GUARD_QUANTILE",
    "NO_BLUR_PX",
    "PROBE_LEVELS",
    "PROBE_MIN_SIDE",
    "PROBE_PX",
    "PROBE_QUANTILE",
    "TARGET_PX",
    "ScalePlan",
    "auto_max_side",
    "blur_weight",
    "frames_blur_px",
    "guard_blur_px",
    "guard_weight",
    "plan_scale",
    "probe_sides",
    "probed_blur_px",
    "to_input_size",
]

#: Blur up to this long (pixels) is left at full size.
FULL_SIZE_PX = 24.0
#: The blur length (pixels) the working scale aims at.
TARGET_PX = 16.0
#: Below this blur length (pixels) the frames are the input itself.
NO_BLUR_PX = 2.0
#: From this blur length (pixels) on, the frames are G's alone.
FULL_EFFECT_PX = 6.0


def auto_max_side(height: int, width: int, blur_px: float) -> int | None:
    """The ``max_side`` for an image of ``height x width`` whose blur is ``blur_px`` long:
    ``None`` (full size) up to :data:`FULL_SIZE_PX`, else the long side that shrinks the blur
    to :data:`TARGET_PX` (at least ``MIN_MAX_SIDE``, and a short side of at least
    ``MIN_SIZE``).

    Examples:
        >>> auto_max_side(3000, 4000, 10.0), auto_max_side(3000, 4000, 160.0)
        (None, 400)
    """
    if not blur_px > FULL_SIZE_PX:  # also NaN -> full size
        return None
    long, short = max(height, width), min(height, width)
    side = round(long * TARGET_PX / blur_px)
    side = max(side, MIN_MAX_SIDE, math.ceil(MIN_SIZE * long / short))
    return None if side >= long else side


@overload
def blur_weight(blur_px: float, no_blur_px: float = NO_BLUR_PX) -> float: ...
@overload
def blur_weight(blur_px: torch.Tensor, no_blur_px: float = NO_BLUR_PX) -> torch.Tensor: ...
def blur_weight(
    blur_px: float | torch.Tensor, no_blur_px: float = NO_BLUR_PX
) -> float | torch.Tensor:
    """How much of G's frames to keep (the rest is the input): 0 below ``no_blur_px``
    (:data:`NO_BLUR_PX`), 1 from :data:`FULL_EFFECT_PX` on, linear in between. A tensor of
    lengths (e.g. one per pixel, :mod:`blurvid.motion_gate`) gives a tensor of weights (NaN
    stays NaN).

    Examples:
        >>> blur_weight(0.5), blur_weight(4.0), blur_weight(30.0), blur_weight(4.5, 3.0)
        (0.0, 0.5, 1.0, 0.5)
    """
    if not 0.0 <= no_blur_px < FULL_EFFECT_PX:
        raise ValueError(f"no_blur_px must be in [0, {FULL_EFFECT_PX:g}), got {no_blur_px}")
    span = FULL_EFFECT_PX - no_blur_px
    if isinstance(blur_px, torch.Tensor):
        return ((blur_px - no_blur_px) / span).clamp(0.0, 1.0)
    return min(1.0, max(0.0, (blur_px - no_blur_px) / span))


def to_input_size(frames: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """G's ``frames`` ``(B, N, 3, h, w)`` at a working size, back at the size of the input
    ``x`` ``(B, 3, H, W)``: upsampled (bilinear), plus the input's own detail above the
    working resolution (``x - up(down(x))``: what the working size could not hold, e.g. the
    sharp texture across the direction of motion), clamped to [0, 1]. Frames already at the
    input size are returned as they are."""
    h, w = x.shape[-2:]
    if tuple(frames.shape[-2:]) == (h, w):
        return frames
    b, n, c = frames.shape[:3]
    x = x.to(frames)
    small = F.interpolate(x, size=frames.shape[-2:], mode="bilinear", antialias=True,
                          align_corners=False)  # fmt: skip
    detail = x - F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    out = frames.new_empty(b, n, c, h, w)
    for i in range(b):  # frame by frame: the upsampling's own buffers stay one frame's size
        for k in range(n):  # (all 7 at once, 12 MP: 1.8 GB for 1 GB of frames)
            up = F.interpolate(frames[i, k : k + 1], size=(h, w), mode="bilinear",
                               align_corners=False)  # fmt: skip
            torch.add(up[0], detail[i], out=out[i, k]).clamp_(0.0, 1.0)
    return out


#: How ``max_side="auto"`` reads the blur for its do-no-harm weight, by the model's
#: ``auto_guard`` metadata: ``"estimate"`` (the default) the blur estimate alone;
#: ``"geometric"`` the geometric mean of the estimate and the blur G's own frames show
#: (:func:`frames_blur_px`, 90th percentile), for a G that leaves sharp input alone (trained
#: on steady samples): with v0.3's base run it loses 0.10 dB inside the training range
#: instead of 0.41 and keeps sharp photos; ``"either"`` the larger of the two (G's motion at
#: its 75th percentile), with the frames the input up to 3 px instead of 2: G's frames are
#: kept when either reading says "blurred", and a sharp photo needs both to say "under 3 px".
#: With release v0.3 it keeps sharp photos and tiny blur at the input (-0.01 and 0.00 dB)
#: and loses nothing inside the training range (``experiments/self_motion_guard.py``,
#: docs/api.md).
GUARDS = ("estimate", "geometric", "either")
#: The percentile of G's first-to-last frame motion each guard reads (:func:`frames_blur_px`).
GUARD_QUANTILE = {"estimate": 0.9, "geometric": 0.9, "either": 0.75}
#: Below this blur (pixels, as the guard reads it) the frames are the input, per guard.
GUARD_NO_BLUR_PX = {"estimate": NO_BLUR_PX, "geometric": NO_BLUR_PX, "either": 3.0}


def frames_blur_px(frames: torch.Tensor, input_side: int, quantile: float = 0.9) -> float:
    """The blur that G's ``frames`` ``(N, 3, h, w)`` show, in pixels of an input whose long
    side is ``input_side``: ``N / (N - 1)`` times the ``quantile`` (the 90th percentile by
    default) of the motion between the first and the last frame (the centres of the first
    and last N-th of the exposure), read per tile (:func:`blurvid.tile_motion.tile_motion`,
    plain torch) on thumbnails with a long side of at most :data:`blurvid.order.ORDER_SIDE`.
    NaN where no tile's motion can be read (a flat image). (Up to v0.3 OpenCV's DIS flow
    read it, and without OpenCV there was no reading: the thresholds below were chosen with
    DIS, which the tiles match, ``experiments/tile_motion.py``.)

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.nn.functional.avg_pool2d(torch.rand(3, 132, 132, generator=g), 3, 1)
        >>> frames = torch.stack([torch.roll(x, (0, k), (1, 2)) for k in range(7)])
        >>> round(frames_blur_px(frames, 260, 0.5), 1)  # 6 px at 130 px, 7/6 of it, x2
        14.0
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    from .order import ORDER_SIDE, thumbnail
    from .tile_motion import tile_motion

    n = frames.shape[0]
    ends = thumbnail(frames[[0, -1]].float(), ORDER_SIDE)
    lengths = tile_motion(ends[0], ends[1])
    if lengths.numel() == 0:
        return math.nan
    ratio = input_side / max(ends.shape[-2:])  # input pixels per thumbnail pixel
    return float(lengths.quantile(quantile)) * ratio * n / (n - 1)


def guard_blur_px(estimate: float, shown: float, guard: str = "estimate") -> float:
    """The blur length the do-no-harm weight reads (:func:`guard_weight`): ``estimate`` for
    the ``"estimate"`` guard, or where ``shown`` (:func:`frames_blur_px`) is unknown; for
    ``"geometric"``, ``sqrt(estimate x shown)``: both readings must say "blurred" for G's
    frames to be kept in full; for ``"either"``, ``max(estimate, shown)``.

    Examples:
        >>> guard_blur_px(16.0, 1.0, "estimate"), guard_blur_px(16.0, 1.0, "geometric")
        (16.0, 4.0)
        >>> guard_blur_px(1.0, 9.0, "either")
        9.0
    """
    if guard not in GUARDS:
        raise ValueError(f"guard must be one of {GUARDS}, got {guard!r}")
    if guard == "estimate" or not math.isfinite(shown) or not math.isfinite(estimate):
        return estimate
    if guard == "either":
        return max(estimate, shown)
    return math.sqrt(max(estimate, 0.0) * max(shown, 0.0))


def guard_weight(estimate: float, shown: float, guard: str = "estimate") -> float:
    """The share of G's frames ``max_side="auto"`` keeps: :func:`blur_weight` of
    :func:`guard_blur_px`, with the guard's own :data:`GUARD_NO_BLUR_PX`.

    Examples:
        >>> guard_weight(2.5, 1.0, "estimate"), guard_weight(2.5, 1.0, "either")
        (0.125, 0.0)
        >>> guard_weight(1.0, 4.5, "either")
        0.5
    """
    return blur_weight(guard_blur_px(estimate, shown, guard), GUARD_NO_BLUR_PX[guard])


#: Pyramid levels (the input at ``1 / 2**level``) where G's own motion is read when the blur
#: may be long (:func:`probed_blur_px`), coarsest first.
PROBE_LEVELS = (3, 2)
#: A probe level whose G frames move more than this (pixels at that level) shows a blur
#: longer than the estimate can read: that reading is the blur's length.
PROBE_PX = 7.0
#: A probe level needs a short side of at least this many pixels.
PROBE_MIN_SIDE = 96
#: The percentile of G's first-to-last frame motion a probe reads (:func:`frames_blur_px`).
PROBE_QUANTILE = 0.75


def probe_sides(height: int, width: int) -> list[tuple[int, int]]:
    """The probe levels of an image of ``height x width`` (:data:`PROBE_LEVELS` whose short
    side is at least :data:`PROBE_MIN_SIDE`), coarsest first, as ``(level, max_side)``.

    Examples:
        >>> probe_sides(3000, 4000), probe_sides(512, 512), probe_sides(300, 400)
        ([(3, 500), (2, 1000)], [(2, 128)], [])
    """
    long, short = max(height, width), min(height, width)
    return [(k, round(long / 2**k)) for k in PROBE_LEVELS if short / 2**k >= PROBE_MIN_SIDE]


def probed_blur_px(estimate: float, readings: Iterable[tuple[int, float]]) -> float:
    """The blur length from the estimate and G's motion at the probe levels.

    ``readings`` are ``(level, shown)`` pairs, coarsest first, ``shown`` the motion G's
    frames show at that level (:func:`frames_blur_px`, in input pixels); they are read one
    by one and no further than the first that fires (a generator that runs G per level runs
    it only that far: :func:`plan_scale`). The first level
    whose reading is above :data:`PROBE_PX` at that level (``PROBE_PX * 2**level`` input
    pixels) gives the length: G reads blur inside its training range, and a long blur is
    inside it at a coarse level, while the estimate's patches under-read it. When no level
    reads that much, the blur is at most that long: the estimate, capped at the finest
    level's threshold. Chosen on training photos (``experiments/probe_levels.py``, 75th
    percentile, 28 px at 1/4): over blur 1-4x the training range the working scale's mean
    error drops from 0.45 to 0.11 log2 there, and from 0.36 to 0.16 on the held-out photos
    (3x: 0.78 to 0.15). Without readings (an image too small to probe, or NaN readings: no
    tile whose motion can be read) the estimate.

    Examples:
        >>> probed_blur_px(20.0, [(2, 60.0)]), probed_blur_px(150.0, [(2, 12.0)])
        (60.0, 28.0)
        >>> probed_blur_px(10.0, [(3, 30.0), (2, 20.0)]), probed_blur_px(10.0, [])
        (10.0, 10.0)
    """
    finest = None  # the finest level with a reading
    for level, shown in readings:
        if not math.isfinite(shown):
            continue
        if shown > PROBE_PX * 2**level:
            return shown
        finest = level
    return estimate if finest is None else min(estimate, PROBE_PX * 2**finest)


@dataclass(frozen=True)
class ScalePlan:
    """What ``max_side="auto"`` does with one image.

    Attributes:
        blur_px: The estimated blur length (input pixels).
        max_side: The working size's long side (``None``: full size).
        weight: The share of G's frames in the result (:func:`blur_weight`).
    """

    blur_px: float
    max_side: int | None
    weight: float


def plan_scale(
    image: torch.Tensor,
    blur_px: float | None = None,
    probe: Callable[[int], float] | None = None,
) -> ScalePlan:
    """The :class:`ScalePlan` for one ``(3, H, W)`` image in [0, 1]: its blur length
    (estimated with :func:`blurvid.blur_extent.estimate_blur_extent` unless given; with
    ``probe``, a function that runs G with that ``max_side`` and returns the motion its
    frames show in input pixels, corrected by G's motion at the :func:`probe_sides`,
    :func:`probed_blur_px`), the working size and the weight of G's frames. An image too
    small for the estimate (under ``blur_extent.MIN_SIDE`` pixels a side) is run as with
    ``max_side=None``: full size, G's frames (``blur_px`` NaN)."""
    h, w = image.shape[-2:]
    if blur_px is None:
        from .blur_extent import MIN_SIDE, estimate_blur_extent

        if min(h, w) < MIN_SIDE:
            return ScalePlan(math.nan, None, 1.0)
        blur_px = estimate_blur_extent(image)
        if probe is not None:  # coarse to fine, G run up to the first level that fires
            readings = ((level, probe(side)) for level, side in probe_sides(h, w))
            blur_px = probed_blur_px(blur_px, readings)
    return ScalePlan(blur_px, auto_max_side(h, w, blur_px), blur_weight(blur_px))


def blend_to_input(frames: torch.Tensor, x: torch.Tensor, weight: float) -> torch.Tensor:
    """``(B, N, 3, H, W)`` frames moved towards the input ``x`` ``(B, 3, H, W)``: ``x +
    weight (frames - x)``; ``weight`` 1 returns ``frames``."""
    if weight >= 1.0:
        return frames
    return torch.lerp(x.to(frames).unsqueeze(1).expand_as(frames), frames, float(weight))
