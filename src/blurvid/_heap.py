"""Reuse freed memory in long loops of large tensors (glibc's allocator only).

glibc serves every block above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
gives it back with ``munmap`` when freed. A forward pass of G at 720p allocates and frees
feature maps of 100+ MB, so each pass maps fresh pages that the kernel must zero on first
touch: about 400 000 page faults and a third of the process's CPU time in the kernel per
720p frame of ``blurvid slowmo``. Inside :func:`reuse_freed_memory` large blocks come from
the heap and freed ones stay there for the next pass (docs/video.md, "Kernel time": at 720p
the kernel's share of the CPU time 32 % -> 7.7 %, CPU per frame -27 %, peak memory +0.7 GB,
flat over the clip).

The allocator's settings are process-wide: they apply to every thread while the block
runs, and afterwards glibc's default limits come back and the free heap is returned to the
system (``malloc_trim``); glibc's adaptive mmap threshold stays off from then on (setting a
limit turns it off), so a long-lived process allocates a little differently afterwards. Blocks allocated from threads other than the main one use other
arenas, where glibc still maps large blocks. Elsewhere (musl, macOS, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["reuse_freed_memory"]

# mallopt parameters and glibc's defaults (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_KEEP = 2**31 - 1  # trim threshold while inside: keep up to 2 GB of free heap


def _glibc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # pragma: no cover - no C library handle
        return None


@contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Within the block, glibc serves large blocks from the heap and keeps freed ones (see
    the module); yields whether it applies here."""
    libc = _glibc()
    if libc is None:
        yield False
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, _KEEP)
    try:
        yield True
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
