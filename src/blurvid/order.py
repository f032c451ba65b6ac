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
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import ConfigError

__all__ = ["THUMB", "ClipOrienter", "choose_order", "orient_groups", "reverse_mask", "thumbnail"]

#: Long side of the thumbnails the order rule compares.
THUMB = 64


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


class ClipOrienter:
    """Puts the frames of consecutive blurry frames of a clip in one time order, batch by
    batch (it keeps the last output frame of the previous batch, as a thumbnail).

    Call it with ``frames (B, N, 3, H, W)`` (G's outputs for B consecutive input frames) and
    ``blurry (B, 3, H, W)`` (those input frames); it returns the frames, each group flipped
    where :func:`choose_order` says so (the clip's first group is oriented towards the next
    blurry frame: ``blurry[1]``, or ``following`` when the first batch holds one frame), and
    a bool tensor ``(B,)`` of the flips. ``reversed_count`` counts them.
    """

    def __init__(self) -> None:
        self._last: torch.Tensor | None = None
        self.reversed_count = 0

    @property
    def started(self) -> bool:
        """Whether a first group was oriented already."""
        return self._last is not None

    def __call__(
        self, frames: torch.Tensor, blurry: torch.Tensor, following: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
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
        self.reversed_count += int(flips.sum())
        mask = flips.to(frames.device).view(-1, 1, 1, 1, 1)
        return torch.where(mask, frames.flip(1), frames), flips
