"""Boundary validation: one place that turns bad inputs into clear, typed errors."""

from __future__ import annotations

import os
from typing import Any

import torch

from .errors import ConfigError, InvalidImageError

__all__ = [
    "MIN_SIZE",
    "available_memory",
    "check_frames",
    "check_image_tensor",
    "format_bytes",
    "max_pixels",
    "memory_limit",
]

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


#: Memory assumed available where the system does not say (no /proc/meminfo, no sysconf).
FALLBACK_MEMORY = 8 * 2**30
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def available_memory() -> int:
    """Bytes of memory available to a new allocation: ``MemAvailable`` of /proc/meminfo
    (Linux), else the free physical pages (sysconf), else all physical memory, else 8 GiB.

    >>> available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # "MemAvailable:  123456 kB"
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            n = os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            continue
        if n > 0:
            return int(n)
    return FALLBACK_MEMORY


def memory_limit(override: int | str | None = None) -> int:
    """The memory budget in bytes for one request: ``override`` if given, else the
    environment variable ``BLURVID_MEMORY_LIMIT``, else :func:`available_memory`. Both
    take bytes, optionally with a K, M, G or T suffix (powers of 1024), e.g. ``"12G"``.

    >>> memory_limit("1.5K")
    1536
    """
    source = "memory_limit"
    if override is None:
        override = os.environ.get("BLURVID_MEMORY_LIMIT")
        source = "BLURVID_MEMORY_LIMIT"
        if override is None:
            return available_memory()
    text = str(override).strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in _UNITS else ""
    try:
        value = float(text[: len(text) - len(unit)]) * _UNITS[unit]
    except ValueError:
        value = -1.0
    if isinstance(override, bool) or not value > 0:
        raise ConfigError(
            f"{source} must be a positive number of bytes (suffix K, M, G or T allowed), got "
            f"{override!r}"
        )
    return int(value)


def format_bytes(n: float) -> str:
    """``3.2 GB``-style size (powers of 1000), for messages.

    >>> format_bytes(3_225_600_000), format_bytes(999)
    ('3.2 GB', '999 B')
    """
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if unit == "PB":
            return f"{n:.3g} PB"
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover - the loop always returns


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
