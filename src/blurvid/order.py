"""Time order: which way each group of frames G extracts should run.

G cannot know which way time runs inside one blurry image (the blur integral is the same
both ways), so the frames of one pass come in either order. Given what comes before and/or
after a group, the order is kept when ``d(previous, first) + d(last, following)`` is smaller
than with first and last swapped (``d``: mean absolute difference of 64-pixel thumbnails);
ties keep the given order. One rule, used by :func:`choose_order` (one photo),
:class:`ClipOrienter` (a clip, in :func:`blurvid.slow_motion`) and :func:`orient_groups`
(the recursion of :func:`blurvid.interpolate_recursive`, each new group from the frame
before it to the frame after it). A cheap, training-free stand-in for HyperCUT's learned
ordering (CVPR 2023); it needs motion between the neighbours to decide.

In a clip the neighbours show the motion itself: :func:`motion_reverse_mask` (what
:class:`ClipOrienter` uses when OpenCV is installed) measures the optical flow between the
previous and the next blurry frame, predicts what the scene looked like at the first and
the last frame's time by warping the current and the neighbouring blurry frames along it,
and keeps the order whose first and last frames are nearer those predictions. Every frame
is oriented against the clip's own time axis, so the order is consistent along the clip
without a chain of pixel matches that one wrong frame would break.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import ConfigError

__all__ = [
    "ORDER_SIDE",
    "THUMB",
    "ClipOrienter",
    "choose_order",
    "clip_thumbnails",
    "motion_reverse_mask",
    "orient_groups",
    "reverse_mask",
    "thumbnail",
]

#: Long side of the thumbnails the order rule compares.
THUMB = 64
#: Long side (pixels) at which :func:`motion_reverse_mask` measures flow and compares frames.
ORDER_SIDE = 320


def thumbnail(x: torch.Tensor, size: int = THUMB) -> torch.Tensor:
    """Area-downscale ``(..., 3, H, W)`` so the long side is at most ``size`` pixels (float;
    an image already that small is returned as is, so thumbnails of thumbnails are equal)."""
    h, w = x.shape[-2:]
    k = max(1, math.ceil(max(h, w) / size))
    if k == 1:
        return x.float()
    lead = x.shape[:-3]
    y = F.avg_pool2d(x.reshape(-1, *x.shape[-3:]).float(), k, k, ceil_mode=True)
    return y.reshape(*lead, *y.shape[-3:])


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over the last three dimensions."""
    return (a - b).abs().mean(dim=(-3, -2, -1))


def reverse_mask(
    first: torch.Tensor,
    last: torch.Tensor,
    previous: torch.Tensor | None,
    following: torch.Tensor | None,
) -> torch.Tensor:
    """True where the reversed order fits the neighbours better (thumbnails ``(..., 3, h, w)``).

    Forward costs ``d(previous, first) + d(last, following)``, reversed costs
    ``d(previous, last) + d(first, following)``; a missing neighbour adds nothing; ties keep
    the forward order.
    """
    forward = torch.zeros(first.shape[:-3], device=first.device)
    backward = torch.zeros_like(forward)
    if previous is not None:
        forward += _dist(previous, first)
        backward += _dist(previous, last)
    if following is not None:
        forward += _dist(last, following)
        backward += _dist(first, following)
    return backward < forward


def orient_groups(
    groups: torch.Tensor, before: torch.Tensor, after: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each group ``(..., N, 3, H, W)`` whose reversed order runs better from ``before``
    to ``after`` (``(..., 3, H, W)``, full size or thumbnails). Returns the groups and the
    bool flips ``(...)``."""
    flip = reverse_mask(
        thumbnail(groups[..., 0, :, :, :]),
        thumbnail(groups[..., -1, :, :, :]),
        thumbnail(before.to(groups.device)),
        thumbnail(after.to(groups.device)),
    )
    mask = flip.view(*flip.shape, 1, 1, 1, 1)
    return torch.where(mask, groups.flip(-4), groups), flip


def choose_order(
    frames: torch.Tensor,
    *,
    previous: torch.Tensor | None = None,
    following: torch.Tensor | None = None,
) -> bool:
    """Whether to reverse the frames of one photo so they continue its neighbours in time.

    The frames G extracts from one blurry photo are right in either time order. Given
    what comes before (the previous photo, or the last frame extracted from it) and/or what
    comes after, the order is kept when ``d(previous, first) + d(last, following)`` is
    smaller than with first and last swapped (``d``: mean absolute difference of 64-pixel
    thumbnails). A cheap, training-free stand-in for HyperCUT's learned ordering
    (CVPR 2023); it needs motion between the neighbours to decide.

    Args:
        frames: ``(N, 3, H, W)`` frames of one photo, float in [0, 1].
        previous: ``(3, H, W)`` image before them in time, or None.
        following: ``(3, H, W)`` image after them in time, or None.

    Returns:
        True when ``frames.flip(0)`` is the better order (False with no neighbour).

    Examples:
        >>> import torch
        >>> ramp = torch.linspace(0, 1, 7).view(7, 1, 1, 1).expand(7, 3, 8, 8)
        >>> choose_order(ramp, previous=torch.ones(3, 8, 8))
        True
        >>> choose_order(ramp, previous=torch.zeros(3, 8, 8), following=torch.ones(3, 8, 8))
        False
    """
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[0] < 2:
        raise ConfigError(
            f"frames must be a tensor (N >= 2, 3, H, W), got "
            f"{tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__}"
        )
    for name, x in (("previous", previous), ("following", following)):
        if x is not None and (not isinstance(x, torch.Tensor) or x.shape != frames.shape[1:]):
            raise ConfigError(
                f"{name} must be a tensor of shape {tuple(frames.shape[1:])} like one frame, "
                f"got {tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
    t = thumbnail(frames[[0, -1]])
    return bool(
        reverse_mask(
            t[0],
            t[1],
            None if previous is None else thumbnail(previous.to(frames.device)),
            None if following is None else thumbnail(following.to(frames.device)),
        )
    )


def _prediction(
    anchor: torch.Tensor,
    v: torch.Tensor,
    t: float,
    neighbour: torch.Tensor | None,
    t_neighbour: float,
) -> torch.Tensor:
    """The scene at time ``t`` (in frame intervals from ``anchor``'s time), predicted by
    warping ``anchor`` along the per-interval flow ``v`` (``(2, h, w)``); averaged with the
    neighbouring frame warped by ``t_neighbour`` intervals when there is one."""
    from .flow import warp

    pred = warp(anchor[None], -v[None] * t)[0]
    if neighbour is not None:
        pred = 0.5 * (pred + warp(neighbour[None], -v[None] * t_neighbour)[0])
    return pred


def clip_thumbnails(
    blurry: torch.Tensor, previous: torch.Tensor | None, following: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``blurry`` ``(B, 3, H, W)`` (consecutive frames of a clip) between its neighbours
    ``previous`` and ``following`` (None at the clip's ends) as one sequence of thumbnails
    with a long side of at most :data:`ORDER_SIDE`, and for each frame of ``blurry`` its
    index in that sequence and the indices of its previous and next frame (its own where
    there is none).

    Returns:
        ``(small, idx, lo, hi)``: ``(n, 3, h, w)`` and three ``(B,)`` long tensors.
    """
    seq = [blurry] if previous is None else [previous[None], blurry]
    off = 0 if previous is None else 1
    if following is not None:
        seq.append(following[None])
    # one by one: ``previous`` may be kept small already (a thumbnail of a thumbnail is equal)
    small = torch.cat([thumbnail(x.to(blurry.device), ORDER_SIDE) for x in seq])
    idx = torch.arange(blurry.shape[0]) + off
    lo, hi = (idx - 1).clamp(min=0), (idx + 1).clamp(max=small.shape[0] - 1)
    return small, idx, lo, hi


def motion_reverse_mask(
    first: torch.Tensor,
    last: torch.Tensor,
    blurry: torch.Tensor,
    previous: torch.Tensor | None = None,
    following: torch.Tensor | None = None,
    *,
    flow: object = "dis",
    num_frames: int = 7,
) -> torch.Tensor:
    """True where the reversed order fits the clip's motion better.

    ``blurry`` ``(B, 3, H, W)`` are consecutive frames of a clip, ``first``/``last`` the
    first and last of the ``num_frames`` frames G extracted from each, ``previous`` the
    clip's frame before ``blurry[0]`` and ``following`` the one after ``blurry[-1]`` (None at
    the clip's ends). All are compared area-downscaled to a long side of :data:`ORDER_SIDE`.

    For frame ``t`` the optical flow ``v`` from its previous to its next frame (divided by
    the frames between them: the motion per frame interval) says where the content moves.
    G's first frame is at time ``-d`` and its last at ``+d``, ``d = (N - 1) / (2N)`` frame
    intervals (the centres of the first and last of N equal parts of the exposure: 3/7).
    The scene at ``-d`` is predicted as the mean of frame ``t`` warped back by ``d v`` and
    frame ``t - 1`` warped forward by ``(1 - d) v`` (and at ``+d`` likewise with ``t + 1``).
    The order is kept when ``e(first, pred(-d)) + e(last, pred(+d))`` (``e``: mean squared
    difference) is at most the same with first and last swapped. A frame without either
    neighbour (a one-frame clip) keeps its order.

    Args:
        flow: a flow estimator for :func:`blurvid.flow.get_flow_estimator` (default OpenCV's
            DIS, ``pip install 'blurvid[flow]'``).

    Returns:
        ``(B,)`` bool.
    """
    from .flow import get_flow_estimator

    est = get_flow_estimator(flow)  # type: ignore[arg-type]
    d = (num_frames - 1) / (2 * num_frames)
    small, idx, lo, hi = clip_thumbnails(blurry, previous, following)
    ends = thumbnail(torch.stack([first, last], 1), ORDER_SIDE)  # (B, 2, 3, h, w)
    flips = torch.zeros(blurry.shape[0], dtype=torch.bool)
    moving = hi > lo
    if not bool(moving.any()):
        return flips
    v = est(small[lo[moving]], small[hi[moving]]) / (hi - lo)[moving].view(-1, 1, 1, 1).to(small)
    for j, i in enumerate(torch.nonzero(moving).flatten().tolist()):
        cur = small[idx[i]]
        prev = small[lo[i]] if lo[i] < idx[i] else None
        nxt = small[hi[i]] if hi[i] > idx[i] else None
        at_first = _prediction(cur, v[j], -d, prev, 1 - d)
        at_last = _prediction(cur, v[j], d, nxt, d - 1)
        f, l_ = ends[i, 0], ends[i, 1]
        keep = (f - at_first).pow(2).mean() + (l_ - at_last).pow(2).mean()
        swap = (f - at_last).pow(2).mean() + (l_ - at_first).pow(2).mean()
        flips[i] = bool(swap < keep)
    return flips


def _flow_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("cv2") is not None


class ClipOrienter:
    """Puts the frames of consecutive blurry frames of a clip in one time order, batch by
    batch.

    Call it with ``frames (B, N, 3, H, W)`` (G's outputs for B consecutive input frames),
    ``blurry (B, 3, H, W)`` (those input frames) and ``following`` (the clip's next input
    frame after the batch, None at its end); it returns the frames, each group flipped
    where the rule says so, and a bool tensor ``(B,)`` of the flips. ``reversed_count``
    counts them. It keeps the batch's last input frame (as a small copy) for the next call.

    Rule ``"motion"`` (the default when OpenCV is installed): :func:`motion_reverse_mask`,
    each frame against the flow between its neighbours. Rule ``"pixels"`` (the fallback
    without OpenCV): each group's first output must best continue the previous group's last
    output (:func:`reverse_mask`; the clip's first group is oriented towards the next input
    frame).
    """

    def __init__(self, rule: str | None = None, flow: object = "dis") -> None:
        if rule is None:
            rule = "motion" if _flow_available() else "pixels"
        if rule not in ("motion", "pixels"):
            raise ConfigError(f"rule must be 'motion' or 'pixels', got {rule!r}")
        self.rule = rule
        self.flow = flow
        self._last: torch.Tensor | None = None  # pixels: the last output frame's thumbnail
        self._previous: torch.Tensor | None = None  # motion: the last input frame, small
        self.reversed_count = 0

    @property
    def started(self) -> bool:
        """Whether a first group was oriented already."""
        return self._last is not None or self._previous is not None

    def __call__(
        self, frames: torch.Tensor, blurry: torch.Tensor, following: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.rule == "motion":
            ends = frames[:, [0, -1]]
            flips = motion_reverse_mask(
                ends[:, 0],
                ends[:, 1],
                blurry,
                self._previous,
                following,
                flow=self.flow,
                num_frames=frames.shape[1],
            )
            self._previous = thumbnail(blurry[-1], ORDER_SIDE)
        else:
            flips = self._pixels(frames, blurry, following)
        self.reversed_count += int(flips.sum())
        mask = flips.to(frames.device).view(-1, 1, 1, 1, 1)
        return torch.where(mask, frames.flip(1), frames), flips

    def _pixels(
        self, frames: torch.Tensor, blurry: torch.Tensor, following: torch.Tensor | None
    ) -> torch.Tensor:
        ends = thumbnail(frames[:, [0, -1]])  # (B, 2, 3, h, w)
        flips = torch.zeros(frames.shape[0], dtype=torch.bool)
        nxt = blurry[1] if frames.shape[0] > 1 else following
        for i in range(frames.shape[0]):
            first, last = ends[i, 0], ends[i, 1]
            after = None
            if self._last is None and nxt is not None:  # the clip's first frame
                after = thumbnail(nxt.to(frames.device))
            flip = bool(reverse_mask(first, last, self._last, after))
            flips[i] = flip
            self._last = first if flip else last
        return flips
