"""The web demo under load, on 127.0.0.1 only: concurrent clients, some of which give up.

Starts ``blurvid demo`` in a subprocess (its own TMPDIR, so that every file it writes is
counted), then runs scenarios of N clients that each upload one photo at once through
``gradio_client`` (Gradio's own client, installed with ``blurvid[demo]``). A client that
gives up waits ``--give-up`` seconds, then cancels its request and leaves. Per scenario:
requests served, failed, abandoned; median and p95 latency of the served ones; the
server's peak memory (RSS, sampled every 0.2 s) and the growth of its work folder; and
the CPU seconds the server spent after the last client had left (work nobody waits for).

    python benchmarks/bench_load.py --quick            # the table in docs/demo.md
    python benchmarks/bench_load.py --clients 1 4 16 32 --sizes 720p 12mp

Bounded: each scenario ends when its clients have (every client has a time limit), and the
server must be idle before the next one starts. Needs ``pip install 'blurvid[demo]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "examples" / "images" / "gopro_street.jpg"  # 1280x720
SIZES = {"720p": (1280, 720), "12mp": (4000, 3000)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _photo(size: str, folder: Path) -> Path:
    from PIL import Image

    w, h = SIZES[size]
    path = folder / f"street_{size}.jpg"
    with Image.open(PHOTO) as img:
        img.convert("RGB").resize((w, h), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _disk(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


class Monitor(threading.Thread):
    """Samples the server's RSS and disk use every 0.2 s."""

    def __init__(self, pid: int, folder: Path) -> None:
        super().__init__(daemon=True)
        self.pid, self.folder = pid, folder
        self.peak_rss = self.peak_disk = 0
        self.running = True

    def reset(self) -> None:
        self.peak_rss, self.peak_disk = _rss(self.pid), _disk(self.folder)

    def run(self) -> None:
        while self.running:
            self.peak_rss = max(self.peak_rss, _rss(self.pid))
            self.peak_disk = max(self.peak_disk, _disk(self.folder))
            time.sleep(0.2)


def _client(url: str, photo: Path, give_up: float | None, limit: float, out: list) -> None:
    from gradio_client import Client, handle_file

    start = time.monotonic()
    try:
        client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
        job = client.submit(handle_file(str(photo)), 1, 10, False, api_name="/run")
        deadline = start + (give_up if give_up is not None else limit)
        while not job.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not job.done():
            job.cancel()
            out.append(("abandoned" if give_up is not None else "timeout", None, None, None))
            return
        text = job.outputs()[-1][0] if job.outputs() else ""
        ok = " frames of " in text and "Error" not in text
        server = float(text.split(" s in all")[0].rsplit("(", 1)[1]) if ok else None
        model = float(text.split(" s (")[0].rsplit(" in ", 1)[1]) if ok else None
        out.append(("served" if ok else "failed", time.monotonic() - start, server, model))
    except Exception as exc:  # noqa: BLE001 - counted as failed, with its kind
        out.append((f"failed ({exc.__class__.__name__})", None, None, None))


def _wait_idle(pid: int, quiet: float = 3.0, limit: float = 600.0) -> float:
    """CPU seconds the server uses until it has been idle (< 10 % of a core) for ``quiet``
    seconds; at most ``limit`` seconds of waiting."""
    first = last = _cpu_seconds(pid)
    calm_since, t_end = time.monotonic(), time.monotonic() + limit
    while time.monotonic() < t_end:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - last > 0.05:
            calm_since = time.monotonic()
        last = now
        if time.monotonic() - calm_since >= quiet:
            break
    return max(0.0, last - first - 0.05 * quiet)  # minus the idle polling noise


def scenario(url, pid, mon, photo, clients, give_up, limit) -> dict:
    mon.reset()
    disk0 = _disk(mon.folder)
    results: list = []
    threads = [
        threading.Thread(target=_client, args=(url, photo, give_up, limit, results))
        for _ in range(clients)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    left = time.monotonic() - t0
    after = _wait_idle(pid)
    lat = sorted(r[1] for r in results if r[0] == "served")
    inside = sorted(r[2] for r in results if r[0] == "served")
    model = sorted(r[3] for r in results if r[0] == "served")
    count = {k: sum(r[0] == k for r in results) for k in ("served", "abandoned", "timeout")}
    failed = [r[0] for r in results if r[0].startswith("failed")]
    return dict(
        clients=clients,
        give_up_s=give_up,
        served=count["served"],
        failed=len(failed) + count["timeout"],
        failures=sorted(set(failed)),
        abandoned=count["abandoned"],
        median_s=round(statistics.median(lat), 2) if lat else None,
        p95_s=round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2) if lat else None,
        server_median_s=round(statistics.median(inside), 2) if inside else None,
        model_median_s=round(statistics.median(model), 2) if model else None,
        wall_s=round(left, 1),
        peak_rss_mb=round(mon.peak_rss / 2**20),
        disk_growth_mb=round((_disk(mon.folder) - disk0) / 2**20, 1),
        peak_disk_mb=round(mon.peak_disk / 2**20, 1),
        cpu_s_after_last_client=round(after, 1),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 32])
    ap.add_argument("--sizes", nargs="+", default=["720p", "12mp"], choices=sorted(SIZES))
    ap.add_argument("--give-up", type=float, default=None, help="seconds; default: 3x one request")
    ap.add_argument(
        "--quick", action="store_true", help="12 MP: 1 client, and 4 that give up after 60 s"
    )
    ap.add_argument("--limit", type=float, default=900.0, help="seconds a client waits at most")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "load.json")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    port = _free_port()
    env = dict(os.environ, TMPDIR=str(tmp), GRADIO_ANALYTICS_ENABLED="False")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    photos = {s: _photo(s, tmp) for s in args.sizes}
    reference: dict[str, float] = {}
    server = subprocess.Popen(
        [sys.executable, "-m", "blurvid", "demo", "--port", str(port), "--max-waiting", "40"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    rows = []
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "Running on" in line:
                break
        threading.Thread(target=server.stdout.read, daemon=True).start()  # drain
        work = next(tmp.glob("blurvid-demo-*"))
        mon = Monitor(server.pid, tmp)
        mon.start()
        url = f"http://127.0.0.1:{port}/"
        for size in args.sizes:
            quick = args.quick and size == "12mp"
            warm: list = []
            if not quick:  # one request first (first-pass kernel set-up), not counted
                _client(url, photos[size], None, args.limit, warm)
                _wait_idle(server.pid)
            reference[size] = warm[0][1] if warm and warm[0][1] else 0.0
            give_up = args.give_up or (60.0 if quick else round(3 * reference[size] + 1))
            plan = [(c, gu) for c in args.clients for gu in (None, give_up) if c > 1 or gu is None]
            for clients, gu in [(1, None), (4, give_up)] if quick else plan:
                row = scenario(url, server.pid, mon, photos[size], clients, gu, args.limit)
                rows.append(dict(size=size, **row))
                print(json.dumps(rows[-1]), flush=True)
        mon.running = False
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
        left = sorted(p.name for p in tmp.iterdir() if p.suffix != ".jpg")
    finally:
        server.kill()
        shutil.rmtree(tmp, ignore_errors=True)  # the photos, and whatever the server left
    result = dict(
        command=" ".join(["python", "benchmarks/bench_load.py", *sys.argv[1:]]),
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)",
        warm_up_request_s=reference,
        work_folder=str(work.name),
        left_after_sigterm=left,
        server_exit_code=server.returncode,
        give_up="clients that give up cancel after give_up_s seconds",
        rows=rows,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"left after SIGTERM: {left}; wrote {args.out}")


if __name__ == "__main__":
    main()
