"""Do no harm in clips: where the neighbouring frames show no motion, the frames are the input.

On a nearly sharp input G invents motion (docs/api.md, "Automatic working scale": its 7
frames fall below the input), and in a clip most pixels of most frames barely move: a
static background behind a moving dog, a tripod shot. A clip shows per pixel how far things
move: the optical flow from each frame to its previous and to its next frame
(:func:`neighbour_speed`, the larger of the two). A pixel that moves ``|v|`` pixels per
frame interval is blurred over at most ``|v|`` during the exposure; with the whole interval
exposed (the longest blur the motion allows, and how the project's clips are made: 7
consecutive frames averaged) the blur spans ``(N - 1) / N |v|`` from the first to the last
of N sub-frames. That length goes through the same rule as a photo's do-no-harm guard, per
pixel (:func:`blurvid.working_scale.blur_weight`: the input under 2 px, G's frames from 6 px,
linear between), and the frames become ``x + w (frames - x)``.

The flow and the weight map are read on thumbnails (a long side of at most
:data:`blurvid.order.ORDER_SIDE`, as the time order's flow); the map is widened to the
largest blur within :data:`SMOOTH` thumbnail pixels (a moving edge's blur reaches beyond
where the flow sees the motion), box-smoothed over the same window (no seam between G's
pixels and the input's), and upsampled bilinearly to the frames' size.

Measured on the project's clips (``python benchmarks/video_quality.py``, docs/video.md, "Do
no harm"): the written clip +0.25 dB over G alone, above frame repetition and linear
blending. Used by :func:`blurvid.slow_motion` (``motion_gate=True``, the default, with
OpenCV's flow installed) through :class:`MotionGate`, batch by batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .working_scale import blur_weight

__all__ = [
    "MISSED_PX",
    "SMOOTH",
    "UNEXPLAINED",
    "MotionGate",
    "gate_frames",
    "motion_blur_px",
    "motion_weight",
    "neighbour_speed",
]

#: Window (thumbnail pixels, odd) over which the blur map is widened and smoothed.
SMOOTH = 9
#: A pixel that differs from its flow-aligned neighbour by more than this (mean over RGB, in
#: [0, 1]; 31 of 255 levels, far above video noise on a thumbnail) moved in a way the flow
#: missed: it counts as moving (:data:`MISSED_PX`).
UNEXPLAINED = 0.12
#: The motion (thumbnail pixels per interval) given to such pixels: G's frames there.
MISSED_PX = 100.0


def neighbour_speed(
    blurry: torch.Tensor,
    previous: torch.Tensor | None = None,
    following: torch.Tensor | None = None,
    *,
    flow: object = "dis",
) -> torch.Tensor:
    """How far each pixel of each frame moves per frame interval.

    ``blurry`` ``(B, 3, H, W)`` are consecutive frames of a clip, ``previous`` the clip's
    frame before ``blurry[0]`` and ``following`` the one after ``blurry[-1]`` (None at the
    clip's ends). Per frame, the optical flow from it to its previous and to its next frame
    (OpenCV's DIS by default, :func:`blurvid.flow.get_flow_estimator`) on thumbnails
    (:func:`blurvid.order.clip_thumbnails`); per pixel the larger magnitude of the two. (Not
    the flow across two intervals that the time order uses: a small object that moves more
    than its own size per interval has no overlap between its two neighbours, and that
    flow misses it.) Where the neighbour, aligned by the flow, still differs from the frame
    by more than :data:`UNEXPLAINED`, the flow missed the motion (a small fast object: DIS
    reads a 24 px patch that moves 10 px as still): such pixels, where at least 3x3 of them
    are together, count as moving fast (:data:`MISSED_PX`), so that G's frames are kept
    there.

    Returns:
        ``(B, 1, h, w)`` pixels of the thumbnail per frame interval; NaN for a frame
        without either neighbour (a one-frame clip).
    """
    from .flow import get_flow_estimator, warp
    from .order import clip_thumbnails

    small, idx, lo, hi = clip_thumbnails(blurry, previous, following)
    speed = small.new_full((blurry.shape[0], 1, *small.shape[-2:]), math.nan)
    est = get_flow_estimator(flow)  # type: ignore[arg-type]
    for other in (lo, hi):
        has = other != idx
        if bool(has.any()):
            here, there = small[idx[has]], small[other[has]]
            v = est(here, there).to(small)
            mag = v.norm(dim=1, keepdim=True)
            # what the flow does not explain is motion it missed (a fast small object); a
            # few pixels alone (warping at the border, a speck) are not an object: eroded 3x3
            missed = (warp(there, v) - here).abs().mean(dim=1, keepdim=True) > UNEXPLAINED
            missed = -F.max_pool2d(-missed.float(), 3, 1, 1) > 0.5
            speed[has] = torch.fmax(speed[has], mag.masked_fill(missed, MISSED_PX))
    return speed


def motion_blur_px(speed: torch.Tensor, size: tuple[int, int], num_frames: int = 7) -> torch.Tensor:
    """The blur length (pixels of an image of ``size``) that the motion allows, per pixel.

    Args:
        speed: ``(B, 1, h, w)`` motion per frame interval in pixels of the ``h x w``
            thumbnail (:func:`neighbour_speed`); NaN where unknown.
        size: ``(H, W)`` of the frames the map is for (same aspect ratio as the thumbnail).
        num_frames: N, the frames G extracts per input frame.

    Returns:
        ``(B, 1, H, W)``: ``(N - 1) / N |v|`` in pixels of ``size``, widened and smoothed
        over :data:`SMOOTH` thumbnail pixels, upsampled (bilinear); NaN where unknown.
    """
    h, w = speed.shape[-2:]
    ratio = max(size) / max(h, w)  # frame pixels per thumbnail pixel
    blur = speed * (ratio * (num_frames - 1) / num_frames)
    pad = (SMOOTH // 2,) * 4
    blur = F.max_pool2d(F.pad(blur, pad, mode="replicate"), SMOOTH, 1)
    blur = F.avg_pool2d(F.pad(blur, pad, mode="replicate"), SMOOTH, 1)
    if (h, w) != tuple(size):
        blur = F.interpolate(blur, size=size, mode="bilinear", align_corners=False)
    return blur


def motion_weight(speed: torch.Tensor, size: tuple[int, int], num_frames: int = 7) -> torch.Tensor:
    """How much of G's frames to keep per pixel: :func:`blurvid.working_scale.blur_weight`
    of :func:`motion_blur_px` (0: the input, 1: G's frames); 1 where the motion is unknown
    (a frame without neighbours keeps G's frames, as without the gate).

    Returns:
        ``(B, 1, H, W)`` in [0, 1].

    Examples:
        >>> still = torch.zeros(1, 1, 18, 32)
        >>> float(motion_weight(still, (36, 64)).max())
        0.0
        >>> float(motion_weight(still + 5.0, (36, 64)).min())  # 5 px x 2 x 6/7 = 12 px
        1.0
    """
    return blur_weight(motion_blur_px(speed, size, num_frames)).nan_to_num(nan=1.0)


def gate_frames(
    frames: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, *, inplace: bool = False
) -> torch.Tensor:
    """``x + weight (frames - x)``: G's ``frames`` ``(B, N, 3, H, W)`` moved towards their
    input ``x`` ``(B, 3, H, W)`` where ``weight`` ``(B, 1, H, W)`` is below 1; with
    ``inplace`` in ``frames`` itself (no second copy of a batch of frames)."""
    x = x.to(frames).unsqueeze(1)
    out = frames if inplace else frames.clone()
    return out.sub_(x).mul_(weight.to(frames).unsqueeze(1)).add_(x)


class MotionGate:
    """The gate for a clip, batch by batch: call it with G's ``frames`` ``(B, N, 3, H, W)``
    for ``blurry`` ``(B, 3, H, W)`` (consecutive input frames, at G's working size) and
    ``following`` (the clip's next input frame after the batch, None at its end); it
    returns the frames gated by :func:`motion_weight` of :func:`neighbour_speed`
    (``num_frames`` is N of the pass that made the frames: 7). It keeps the batch's last
    input frame (as a thumbnail) for the next call, so batches give what the whole clip at
    once gives. The frames are gated in place (:func:`gate_frames` with ``inplace``)."""

    def __init__(self, flow: object = "dis", num_frames: int = 7) -> None:
        self.flow = flow
        self.num_frames = num_frames
        self._previous: torch.Tensor | None = None

    def __call__(
        self, frames: torch.Tensor, blurry: torch.Tensor, following: torch.Tensor | None = None
    ) -> torch.Tensor:
        from .order import ORDER_SIDE, thumbnail

        speed = neighbour_speed(blurry, self._previous, following, flow=self.flow)
        self._previous = thumbnail(blurry[-1], ORDER_SIDE)
        size = (int(frames.shape[-2]), int(frames.shape[-1]))
        weight = motion_weight(speed, size, self.num_frames)
        return gate_frames(frames, blurry, weight, inplace=True)  # (it moves the weight)
