"""Atomic file writing, shared by every writer in blurvid (outputs, weights, checkpoints,
banks): write to a temporary file beside the target, flush it to disk, then ``os.replace``.
A crash or a full disk never leaves a half-written file under the final name, and the
previous file (if any) stays intact. Files get the usual permissions (0666 minus umask),
not ``mkstemp``'s private 0600."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Terminated", "atomic_path", "atomic_write_bytes", "sigterm_as_interrupt"]


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, the file is fsynced,
    given normal permissions and moved onto ``path`` atomically; otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM under :func:`sigterm_as_interrupt`: a
    ``KeyboardInterrupt``, so every ``finally`` and ``with`` on the way out runs (temporary
    files removed, outputs never half-written) exactly as on Ctrl-C."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, ``docker stop``, systemd) unwinds the main thread
    as Ctrl-C does instead of ending the process on the spot (which skips every cleanup).
    The previous handler comes back afterwards; outside the main thread this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
