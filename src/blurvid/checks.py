"""Boundary validation: one place that turns bad inputs into clear, typed errors."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ConfigError, InvalidImageError

__all__ = [
    "MIN_SIZE",
    "available_memory",
    "check_device",
    "check_frames",
    "check_image_tensor",
    "check_int",
    "check_max_side",
    "check_model_source",
    "check_number",
    "check_output_dir",
    "check_output_file",
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


# ----------------------------------------------------------------------------- arguments
# One check path for the arguments that several entry points share (extract_frames,
# interpolate_recursive, load_model, the CLI): the same input gets the same ConfigError.


def check_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    optional: bool = False,
) -> Any:
    """An integer argument: a Python or numpy integer (never a bool), within bounds.

    Returns it as a Python ``int`` (``None`` passes through when ``optional``).

    >>> check_int(np.int64(2), "depth", minimum=1)
    2
    """
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        what = "an integer or None" if optional else "an integer"
        raise ConfigError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be an integer <= {maximum}, got {value}")
    return value


#: Size multiple of the bundled models (``GeneratorConfig().size_multiple``: the stem and the
#: three 2x downsamplers); a tile must be at least 4x it (64 pixels).
DEFAULT_SIZE_MULTIPLE = 16


def check_tile(value: Any, multiple: int | None, flag: str | None = None) -> int | None:
    """A tile size: ``None`` (automatic) or an integer of at least 4x the model's size
    multiple (64 pixels for the bundled models). ``multiple=None`` (the model is not loaded
    yet) refuses only what no model accepts (< 1), naming the bundled models' bound; ``flag``
    (e.g. ``"--tile"``) words the message for the command line.

    >>> check_tile(np.int64(64), 16), check_tile(None, 16)
    (64, None)
    """
    tile = check_int(value, flag or "tile (pixels)", optional=True)
    lowest = 4 * (multiple or DEFAULT_SIZE_MULTIPLE)
    if tile is not None and (tile < lowest if multiple else tile < 1):
        what = (
            f"{flag} must be an integer >= {lowest}"
            if flag
            else f"tile must be at least {lowest} pixels"
        )
        whose = "" if multiple else " for the bundled models"
        raise ConfigError(f"{what}{whose} (4x the model's stride), got {tile}")
    return tile


#: Smallest ``max_side`` accepted: one 16-pixel block of the U-Net (its stride).
MIN_MAX_SIDE = 16


def check_max_side(value: Any, name: str = "max_side") -> int | None:
    """A working-resolution cap: ``None`` (full size) or an integer >= :data:`MIN_MAX_SIDE`
    (numpy integers accepted, bools refused). Returns it as a Python ``int`` or ``None``.

    >>> check_max_side(np.int32(512)), check_max_side(None)
    (512, None)
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(
            f"{name} must be an integer long side in pixels (e.g. 1024), None for full "
            f"size, or 'auto', got {value!r} ({type(value).__name__})"
        )
    if value < MIN_MAX_SIDE:
        raise ConfigError(
            f"{name} must be at least {MIN_MAX_SIDE} pixels (or None for full size), got {value}"
        )
    return int(value)


def check_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
) -> float:
    """A finite real number (int, float or numpy scalar, never a bool) within bounds;
    ``positive`` excludes 0. Returns a Python ``float``.

    >>> check_number(24, "fps", minimum=0.01)
    24.0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ConfigError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # e.g. complex
        raise ConfigError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if positive and number <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be >= {minimum:g}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be <= {maximum:g}, got {value!r}")
    return number


_DEVICE_TYPES = ("cpu", "cuda", "mps")


def check_device(device: Any) -> torch.device | None:
    """``None``, or a usable device given as a string (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``) or a :class:`torch.device`; refuses devices this machine does not have."""
    if device is None:
        return None
    if not isinstance(device, (str, torch.device)):
        raise ConfigError(
            f"device must be a string such as 'cpu' or 'cuda:0' (or a torch.device), got "
            f"{device!r} ({type(device).__name__})"
        )
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"invalid device {device!r}: use 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type not in _DEVICE_TYPES:
        raise ConfigError(f"device type {dev.type!r} is not supported: use 'cpu' or 'cuda'")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {device!r} asked for, but CUDA is not available here: use 'cpu'"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(
                f"device {device!r} asked for, but this machine has {count} CUDA device(s) "
                f"(cuda:0 to cuda:{count - 1})"
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} asked for, but MPS is not available here: use 'cpu'")
    return dev


def check_model_source(value: Any, name: str = "model") -> str:
    """A model reference for :func:`blurvid.load_model`: ``"default"``, a folder (``str`` or
    ``os.PathLike``) or a Hub repo id; returns it as a non-empty ``str``."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ConfigError(
            f"{name} must be 'default', a model folder (str or Path) or a Hub repo id "
            f"'user/name', got {type(value).__name__}"
        )
    if not value.strip():
        raise ConfigError(
            f"{name} is an empty string: pass 'default', a model folder or a Hub repo id "
            f"'user/name' (use '.' for the current folder)"
        )
    return value


def check_output_dir(path: Any, what: str = "output folder") -> Path:
    """Make sure ``path`` is, or can become, a writable folder, before any work is done:
    probes its nearest existing folder with a temporary file (removed at once) and creates
    nothing else. Raises :class:`ConfigError`."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigError(f"{what} must be a folder path, got {path!r}")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is a file, not a folder: pass a folder path")
    if folder.is_symlink() and not folder.exists():
        raise ConfigError(f"{what} {folder} is a broken symbolic link: remove it or pass another")
    ancestor = folder.absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"{what} {folder} is under {ancestor}, which is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".blurvid-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {what} {folder} ({exc.strerror or type(exc).__name__} in "
            f"{ancestor}): choose a writable folder"
        ) from None
    return folder


def check_output_file(path: Any, what: str = "output file") -> Path:
    """Make sure a file can be written at ``path`` (its folder is probed as by
    :func:`check_output_dir`), before any work is done. Raises :class:`ConfigError`."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigError(f"{what} must be a file path, got {path!r}")
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{what} {file} is a folder: pass a file path")
    check_output_dir(file.parent, f"the folder of {what}")
    return file
