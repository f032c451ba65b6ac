"""How far one frame moves to the next, per tile, in plain torch (no OpenCV).

``max_side="auto"`` reads the motion G's own frames show between their first and last frame
(:func:`blurvid.working_scale.frames_blur_px`): to correct the blur estimate at coarse
scales and to guard sharp photos. That reading needs one length per image, not a dense flow
field, and G's frames move almost rigidly within a small window (camera shake). So each
tile of :data:`TILE` pixels (every :data:`STRIDE` pixels) gets one translation, by
Lucas-Kanade on the whole tile, coarse to fine over :data:`LEVELS` pyramid levels (motion
of up to ~20 px at the finest level; a window of at least :data:`MIN_WINDOW` pixels at the
coarse levels), with the tile's mean brightness removed. A tile counts only where its
motion can be read:

* it has texture (luma standard deviation over :data:`TEXTURE`) and is not a single edge
  (the structure tensor's ``det > COND * trace**2``: an edge shows motion only across it);
* the motion it reads explains the difference: the tile of the second frame, moved back,
  matches the first with at most :data:`ACCEPT` of the squared difference it has unmoved;
  otherwise the tile reads 0 (on a sharp photo G's frames barely differ, and a few tiles of
  water or sky would otherwise read noise as motion).

Measured against OpenCV's DIS (the reader the rule's thresholds were chosen with) on G's
frames of the probe study's samples (``python experiments/tile_motion.py``: 8 training
photos, sharp to 4x the training range, G at full size and at 1/4): the 75th percentile
agrees to a mean log2 ratio of -0.08 (sd 0.21) where DIS reads over 3 px, and both make
the same call at the guard's 3 px on 86 of 88 samples and at the probe's 28 px on 88 of 88.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .colour import rgb_to_luma

__all__ = [
    "ACCEPT",
    "COND",
    "LEVELS",
    "MIN_WINDOW",
    "STRIDE",
    "TEXTURE",
    "TILE",
    "tile_motion",
]

#: Side (pixels) of a tile; one translation each.
TILE = 32
#: Tiles start every this many pixels (they overlap by half).
STRIDE = 16
#: Pyramid levels (halving), coarsest first in the search.
LEVELS = 3
#: The Lucas-Kanade window at a coarse level is the tile's footprint there, at least this.
MIN_WINDOW = 16
#: Lucas-Kanade steps per level.
ITERATIONS = 5
#: A tile's luma standard deviation must exceed this (in [0, 1]) for its motion to count.
TEXTURE = 0.01
#: A tile's structure tensor must have ``det > COND * trace**2`` (not a single edge).
COND = 0.03
#: The moved tile must leave at most this share of the unmoved squared difference.
ACCEPT = 0.9


def _patches(img: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, size: int) -> torch.Tensor:
    """``(n, C, size, size)`` bilinear patches of ``img`` ``(1, C, h, w)`` centred on
    ``(cx, cy)`` (pixel coordinates, border replicated)."""
    h, w = img.shape[-2:]
    o = torch.arange(size, dtype=img.dtype, device=img.device) - (size - 1) / 2
    x = (cx[:, None, None] + o[None, None, :]).expand(-1, size, size)
    y = (cy[:, None, None] + o[None, :, None]).expand(-1, size, size)
    grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)
    return F.grid_sample(
        img.expand(cx.shape[0], -1, -1, -1), grid, align_corners=True, padding_mode="border"
    )


def _centred(p: torch.Tensor) -> torch.Tensor:
    return p - p.mean(dim=(-2, -1), keepdim=True)


def _lucas_kanade(
    a: torch.Tensor, b: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, v: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Refine the translations ``v`` ``(n, 2)`` (x, y) with ``b(p + v) ~ a(p)`` on windows of
    ``size`` centred on the tiles; also returns which windows are well conditioned."""
    gx, gy = torch.zeros_like(b), torch.zeros_like(b)
    gx[..., 1:-1] = (b[..., 2:] - b[..., :-2]) / 2
    gy[..., 1:-1, :] = (b[..., 2:, :] - b[..., :-2, :]) / 2
    stack = torch.cat([b, gx, gy], dim=1)
    ref = _centred(_patches(a, cx, cy, size)[:, 0])
    win = torch.hann_window(size + 2, periodic=False, dtype=a.dtype, device=a.device)[1:-1]
    win = win[:, None] * win[None, :]
    ok = torch.zeros(cx.shape[0], dtype=torch.bool, device=a.device)
    for _ in range(ITERATIONS):
        moved, ix, iy = _patches(stack, cx + v[:, 0], cy + v[:, 1], size).unbind(1)
        r, ix, iy = ref - _centred(moved), _centred(ix), _centred(iy)
        a11, a22 = (win * ix * ix).sum((1, 2)), (win * iy * iy).sum((1, 2))
        a12 = (win * ix * iy).sum((1, 2))
        b1, b2 = (win * ix * r).sum((1, 2)), (win * iy * r).sum((1, 2))
        det = a11 * a22 - a12 * a12
        ok = det > COND * (a11 + a22).clamp_min(1e-20) ** 2
        det = torch.where(ok, det, torch.ones_like(det))
        step = torch.stack([(a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det], dim=1)
        v = v + torch.where(ok[:, None], step, torch.zeros_like(step)).clamp(-1.5, 1.5)
    return v, ok


def tile_motion(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The motion from ``a`` to ``b`` (``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1]), one
    length per tile: :data:`TILE` px tiles every :data:`STRIDE` px, coarse-to-fine
    Lucas-Kanade (see the module's text).

    Returns:
        ``(n,)`` lengths in pixels of ``a``'s tiles whose motion can be read (texture, not
        a single edge); a tile whose motion does not explain the difference reads 0. Empty
        when no tile can be read (a flat image).

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> a = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 132, 132, generator=g), 3, 1)
        >>> shifted = torch.roll(a, shifts=(3, 4), dims=(2, 3))  # 5 px to the lower right
        >>> round(float(tile_motion(a, shifted).median()), 1)
        5.0
        >>> float(tile_motion(a, a).max())
        0.0
    """
    a, b = a.reshape(1, 3, *a.shape[-2:]).float(), b.reshape(1, 3, *b.shape[-2:]).float()
    if a.shape != b.shape:
        raise ValueError(f"tile_motion needs frames of one size, got {a.shape} and {b.shape}")
    ya, yb = rgb_to_luma(a), rgb_to_luma(b)
    h, w = ya.shape[-2:]
    t = min(TILE, h, w)
    cy, cx = torch.meshgrid(
        torch.arange((t - 1) / 2, h - (t - 1) / 2, STRIDE, dtype=ya.dtype),
        torch.arange((t - 1) / 2, w - (t - 1) / 2, STRIDE, dtype=ya.dtype),
        indexing="ij",
    )
    cx, cy = cx.flatten(), cy.flatten()
    pyramid = [(ya, yb)]
    while len(pyramid) < LEVELS and min(pyramid[-1][0].shape[-2:]) >= 2 * MIN_WINDOW:
        pyramid.append((F.avg_pool2d(pyramid[-1][0], 2), F.avg_pool2d(pyramid[-1][1], 2)))
    v = torch.zeros(cx.shape[0], 2, dtype=ya.dtype)
    ok = torch.zeros(cx.shape[0], dtype=torch.bool)
    for level in range(len(pyramid) - 1, -1, -1):
        k = 2**level
        size = t if level == 0 else max(MIN_WINDOW, math.ceil(t / k))
        la, lb = pyramid[level]
        v, ok = _lucas_kanade(la, lb, (cx + 0.5) / k - 0.5, (cy + 0.5) / k - 0.5, v / k, size)
        v = v * k
    ref = _centred(_patches(ya, cx, cy, t)[:, 0])
    readable = ok & (ref.std(dim=(1, 2)) > TEXTURE)

    def residual(shift: torch.Tensor) -> torch.Tensor:
        d = ref - _centred(_patches(yb, cx + shift[:, 0], cy + shift[:, 1], t)[:, 0])
        return (d * d).mean(dim=(1, 2))

    explains = residual(v) < ACCEPT * residual(torch.zeros_like(v))
    length = torch.where(explains, v.norm(dim=1), torch.zeros(()))
    return length[readable]
