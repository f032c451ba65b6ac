"""Bounded work and disk for a server (the web demo), whatever its clients do.

:class:`JobQueue` runs at most ``workers`` jobs at once in its own threads. A client keeps
its job alive by calling :meth:`JobQueue.touch` (the demo does so twice a second while it
reports the queue position); a job cancelled, or left without a touch for
``abandon_after`` seconds (the client closed the page or timed out), is dropped from the
queue before it starts, or stopped at its next :meth:`JobQueue.checkpoint` while it runs.
A stopped job keeps its slot until it has actually returned, so abandoned work never runs
beside the next job. Positions and expected waits come from the mean of recent run times.

:class:`Workspace` holds one folder per request and deletes the oldest when there are more
than ``keep`` of them, when they are older than ``max_age`` seconds, or when the folder
as a whole (which may also hold the web framework's own cache) exceeds ``max_bytes``;
:meth:`Workspace.close` removes everything.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BlurvidError

__all__ = ["Cancelled", "Job", "JobQueue", "QueueFullError", "Workspace"]


class Cancelled(BlurvidError):
    """The job was cancelled, or its client stopped asking for it."""


class QueueFullError(BlurvidError):
    """Too many requests are waiting; the message says for how long to wait."""


@dataclass(eq=False)
class Job:
    """One request in a :class:`JobQueue`; ``state`` is queued, running, done, failed or
    cancelled."""

    fn: Callable[[], Any]
    id: int
    seen: float
    state: str = "queued"
    result: Any = None
    error: BaseException | None = None
    stop: bool = False  # asked to stop (cancelled or abandoned)
    partial: Any = None  # what the job has to show before it ends (JobQueue.share)
    finished: threading.Event = field(default_factory=threading.Event)
    changed: threading.Event = field(default_factory=threading.Event)  # partial or finished

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def value(self) -> Any:
        """The job's result; raises its error (or :class:`Cancelled`)."""
        if self.error is not None:
            raise self.error
        return self.result


class JobQueue:
    """At most ``workers`` jobs at once, at most ``max_waiting`` waiting (see the module).

    Args:
        workers: jobs run at once (threads).
        max_waiting: queued jobs beyond the running ones; one more is refused with
            :class:`QueueFullError`.
        abandon_after: seconds without :meth:`touch` after which a job is abandoned.
        typical_seconds: run time assumed for the expected wait until one job has run.
        clock: ``time.monotonic`` (tests pass a fake one).
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        max_waiting: int = 32,
        abandon_after: float = 10.0,
        typical_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("workers must be >= 1 and max_waiting >= 0")
        self.workers, self.max_waiting, self.abandon_after = workers, max_waiting, abandon_after
        self.clock = clock
        self._cond = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._running: set[Job] = set()
        self._times: deque[float] = deque([typical_seconds], maxlen=8)
        self._ids = itertools.count(1)
        self._local = threading.local()
        self._closed = False
        #: Counters: jobs started, finished, failed, dropped before starting, stopped while
        #: running; ``peak`` is the most jobs ever running at once.
        self.stats = dict(started=0, done=0, failed=0, dropped=0, stopped=0, peak=0)
        self._threads = [
            threading.Thread(target=self._work, name=f"blurvid-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ clients
    def submit(self, fn: Callable[[], Any]) -> Job:
        """Queue ``fn`` (called with no argument in a worker thread)."""
        with self._cond:
            self._drop_abandoned()
            if self._closed:
                raise Cancelled("the server is stopping; try again when it is back")
            if len(self._waiting) >= self.max_waiting:
                wait = self._eta(len(self._waiting))
                raise QueueFullError(
                    f"the demo is busy ({len(self._waiting)} requests waiting, about "
                    f"{wait:.0f} s of work): try again in a minute"
                )
            job = Job(fn, next(self._ids), self.clock())
            self._waiting.append(job)
            self._cond.notify()
            return job

    def touch(self, job: Job) -> None:
        """The client still wants ``job``."""
        job.seen = self.clock()

    def cancel(self, job: Job) -> None:
        """Drop ``job`` if it waits; ask it to stop if it runs."""
        with self._cond:
            job.stop = True
            if job in self._waiting:
                self._waiting.remove(job)
                self._finish(job, "cancelled", error=Cancelled("cancelled"))

    def position(self, job: Job) -> int:
        """1 for the next job to start, 2 after it...; 0 once it runs or is over."""
        with self._cond:
            self._drop_abandoned()
            try:
                return self._waiting.index(job) + 1
            except ValueError:
                return 0

    def expected_wait(self, job: Job) -> float:
        """Seconds until ``job`` starts (0 when it runs), from recent run times."""
        pos = self.position(job)
        return self._eta(pos - 1) if pos else 0.0

    def mean_seconds(self) -> float:
        """Mean run time of the last jobs (the assumed time before any)."""
        return sum(self._times) / len(self._times)

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for ``job`` to end or to share a partial result;
        True when it has ended."""
        job.changed.wait(timeout)
        job.changed.clear()
        return job.done

    def counts(self) -> tuple[int, int]:
        """(running, waiting) now."""
        with self._cond:
            return len(self._running), len(self._waiting)

    def close(self, timeout: float | None = None) -> None:
        """Refuse new jobs, drop the waiting ones, ask the running ones to stop, and wait up
        to ``timeout`` seconds for them."""
        with self._cond:
            self._closed = True
            while self._waiting:
                self._finish(self._waiting.popleft(), "cancelled", error=Cancelled("stopped"))
            for job in self._running:
                job.stop = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)

    # ------------------------------------------------------------------ workers
    def checkpoint(self) -> None:
        """In a job: raise :class:`Cancelled` when it should stop (cancelled, abandoned or
        server stopping); outside a job, nothing."""
        job = getattr(self._local, "job", None)
        if job is not None and (job.stop or self._abandoned(job)):
            job.stop = True
            raise Cancelled("the client left")

    def share(self, value: Any) -> None:
        """In a job: make ``value`` its ``partial`` result (what the client may show now)."""
        job = getattr(self._local, "job", None)
        if job is not None:
            job.partial = value
            job.changed.set()

    def _abandoned(self, job: Job) -> bool:
        return self.clock() - job.seen > self.abandon_after

    def _drop_abandoned(self) -> None:
        for job in [j for j in self._waiting if j.stop or self._abandoned(j)]:
            self._waiting.remove(job)
            self._finish(job, "cancelled", error=Cancelled("the client left"))

    def _eta(self, ahead: int) -> float:
        """Seconds before a job with ``ahead`` jobs before it starts."""
        mean = self.mean_seconds()
        busy = len(self._running)
        return mean * (ahead + busy) / self.workers if ahead + busy >= self.workers else 0.0

    def _finish(self, job: Job, state: str, result: Any = None, error: Any = None) -> None:
        job.state, job.result, job.error = state, result, error
        key = {"done": "done", "failed": "failed"}.get(state)
        if key is None:
            key = "stopped" if job in self._running else "dropped"
        self.stats[key] += 1
        job.finished.set()
        job.changed.set()

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    self._drop_abandoned()
                    if self._waiting or self._closed:
                        break
                    self._cond.wait(1.0)
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.state = "running"
                self._running.add(job)
                self.stats["started"] += 1
                self.stats["peak"] = max(self.stats["peak"], len(self._running))
            self._local.job = job
            start = time.perf_counter()
            error: BaseException | None
            try:
                result, error, state = job.fn(), None, "done"
            except Cancelled as exc:
                result, error, state = None, exc, "cancelled"
            except Exception as exc:  # noqa: BLE001 - handed to the client, who raises it
                result, error, state = None, exc, "failed"
            finally:
                self._local.job = None
            with self._cond:
                if state == "done":
                    self._times.append(time.perf_counter() - start)
                self._finish(job, state, result, error)
                self._running.discard(job)


class Workspace:
    """Folders for requests under ``root`` with bounded disk use (see the module).

    Args:
        root: the folder (created); :meth:`close` removes it.
        keep: most request folders kept.
        max_age: seconds after which a request folder (or anything else under ``root``)
            is deleted.
        max_bytes: above this many bytes under ``root``, the oldest entries are deleted.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        keep: int = 16,
        max_age: float = 1800.0,
        max_bytes: int = 2 * 2**30,
    ) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="blurvid-demo-"))
        self.runs = self.root / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.keep, self.max_age, self.max_bytes = keep, max_age, max_bytes
        self._lock = threading.Lock()

    def new_run(self) -> Path:
        """A new empty folder for one request, after making room for it."""
        self.prune(room_for=1)
        return Path(tempfile.mkdtemp(prefix="run-", dir=self.runs))

    def prune(self, room_for: int = 0) -> list[Path]:
        """Delete old entries: request folders beyond ``keep - room_for`` or older than
        ``max_age``, and the oldest entries while the total exceeds ``max_bytes``. Entries
        are the request folders and the first-level entries of other folders under ``root``
        (e.g. the web framework's cache). Returns what was deleted."""
        with self._lock:
            entries = []
            for top in self.root.iterdir() if self.root.is_dir() else []:
                if top.is_dir():
                    entries += [(p, top == self.runs) for p in top.iterdir()]
                else:
                    entries.append((top, False))
            stamped = []
            for path, is_run in entries:
                try:
                    stamped.append((path.stat().st_mtime, path, is_run, _size(path)))
                except FileNotFoundError:
                    continue
            stamped.sort(key=lambda e: e[0], reverse=True)  # newest first
            now, total, runs, gone = time.time(), 0, 0, []
            for mtime, path, is_run, size in stamped:
                runs += is_run
                if (
                    now - mtime > self.max_age
                    or (is_run and runs > self.keep - room_for)
                    or total + size > self.max_bytes
                ):
                    _remove(path)
                    gone.append(path)
                else:
                    total += size
            return gone

    def usage(self) -> int:
        """Bytes under ``root`` now."""
        return _size(self.root)

    def close(self) -> None:
        """Remove ``root`` and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)


def _size(path: Path) -> int:
    try:
        if not path.is_dir():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except FileNotFoundError:  # removed meanwhile
        return 0


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
