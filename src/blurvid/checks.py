"""Boundary validation: one place that turns bad inputs into clear, typed errors."""

from __future__ import annotations

import os
from typing import Any

import torch

from .errors import InvalidImageError

__all__ = ["MIN_SIZE", "check_frames", "check_image_tensor", "max_pixels"]

#: Smallest height/width accepted (smaller images carry no usable motion).
MIN_SIZE = 8
#: Default decompression-bomb guard in pixels; override with ``BLURVID_MAX_PIXELS``.
DEFAULT_MAX_PIXELS = 100_000_000


def max_pixels() -> int:
    """The pixel limit for decoded images (env ``BLURVID_MAX_PIXELS``, default 100 MP)."""
    value = os.environ.get("BLURVID_MAX_PIXELS")
    if value is None:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        raise InvalidImageError(f"BLURVID_MAX_PIXELS must be an integer, got {value!r}") from None
    if limit <= 0:
        raise InvalidImageError(f"BLURVID_MAX_PIXELS must be positive, got {limit}")
    return limit


def check_size(height: int, width: int, what: str = "image") -> None:
    """Raise :class:`InvalidImageError` for images too small or over the pixel limit."""
    if height < MIN_SIZE or width < MIN_SIZE:
        raise InvalidImageError(
            f"{what} is {width}x{height} pixels; blurvid needs at least {MIN_SIZE}x{MIN_SIZE}"
        )
    limit = max_pixels()
    if height * width > limit:
        raise InvalidImageError(
            f"{what} is {width}x{height} = {height * width:,} pixels, over the limit of "
            f"{limit:,} (a guard against decompression bombs); downscale it or raise "
            f"BLURVID_MAX_PIXELS"
        )


def check_image_tensor(x: Any, what: str = "image") -> torch.Tensor:
    """Validate an image tensor ``(3, H, W)`` or ``(B, 3, H, W)``, float, finite, in [0, 1].

    Returns the tensor as ``(B, 3, H, W)`` (a view when possible).
    """
    if not isinstance(x, torch.Tensor):
        raise InvalidImageError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_meta or x.layout != torch.strided:
        where = "on the 'meta' device (it has no data)" if x.is_meta else f"of layout {x.layout}"
        raise InvalidImageError(
            f"{what} is a tensor {where}; pass a dense tensor with values (e.g. `x.to_dense()`)"
        )
    if not x.is_floating_point():
        raise InvalidImageError(
            f"{what} has dtype {x.dtype}; expected a float tensor in [0, 1] "
            f"(for 8-bit data use `x.float() / 255`)"
        )
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        raise InvalidImageError(
            f"{what} must be (3, H, W) or (B, 3, H, W), got shape {tuple(x.shape)}"
        )
    if x.shape[1] != 3:
        hint = (
            " (it looks channels-last: use `x.permute(2, 0, 1)` or `x.permute(0, 3, 1, 2)`)"
            if x.shape[-1] == 3
            else " (convert grayscale with `x.expand(-1, 3, -1, -1)` and drop alpha)"
        )
        raise InvalidImageError(
            f"{what} must have 3 RGB channels in dim -3, got shape {tuple(x.shape)}{hint}"
        )
    if x.shape[0] == 0:
        raise InvalidImageError(f"{what} is an empty batch")
    check_size(int(x.shape[-2]), int(x.shape[-1]), what)
    values = x.detach()
    if not bool(torch.isfinite(values).all()):
        raise InvalidImageError(f"{what} contains NaN or infinite values")
    lo, hi = float(values.min()), float(values.max())
    if lo < 0.0 or hi > 1.0:
        raise InvalidImageError(
            f"{what} values span [{lo:.4g}, {hi:.4g}]; expected [0, 1] "
            f"(divide 8-bit data by 255, 16-bit by 65535)"
        )
    return x


def check_frames(frames: Any, what: str = "frames") -> torch.Tensor:
    """Validate a frame stack ``(B, N, 3, H, W)`` float; returns it."""
    if not isinstance(frames, torch.Tensor) or frames.ndim != 5 or frames.shape[2] != 3:
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise InvalidImageError(f"{what} must be a (B, N, 3, H, W) tensor, got {shape}")
    if not frames.is_floating_point():
        raise InvalidImageError(f"{what} must be float, got {frames.dtype}")
    return frames
