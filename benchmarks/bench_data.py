"""Data benchmark: how long the synthetic camera shake, with and without camera realism, and a
procedural dead-leaves scene take to render one training sample.

Run on demand (never part of the test suite; it replaces a timed unit test that failed on
slower CPU kernels):

    python benchmarks/bench_data.py                      # 1 thread, crop 128, 40 samples
    python benchmarks/bench_data.py --sizes 128 256 --threads 2
    python benchmarks/bench_data.py --clock wall --parallel 14   # 14 copies at once, wall time
    python benchmarks/bench_data.py --batches 8 32       # + the device path (--device cuda)

For each crop size it times :func:`blurvid.data.render_shake` on one photo (median CPU time of
``--samples`` renders after one warm-up; ``render_camera_all_ms`` with every camera-realism step
on), :func:`blurvid.data.render_leaves` with that photo for colours (``leaves_ms``) and, in the
same run, a **reference**: one 3x3
convolution of a ``(1, 32, S, S)`` tensor with 32 output channels (median of as many), so a
reader can compare numbers from different machines by their ratio. ``--clock wall --parallel N``
times N copies running at once: against one copy's wall time it shows whether the machine's
cores really run N renders side by side (a data loader's N workers do). Results go to
``benchmarks/results/data-<machine>-<date>.json``; docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHOTO = Path("photos", "skimage_astronaut.jpg")  # in the data folder


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _median_s(fn, n: int, clock=time.process_time) -> float:
    fn()  # warm-up (allocator, kernels)
    times = []
    for i in range(n):
        t = clock()
        fn(i)
        times.append(clock() - t)
    return statistics.median(times)


def _rows(args: argparse.Namespace) -> list[dict]:
    """One process's measurement: a row per crop size."""
    import torch
    import torch.nn.functional as F

    from blurvid.data import (
        LeavesConfig,
        ShakeConfig,
        build_pyramid,
        item_generator,
        render_leaves,
        render_shake,
    )
    from blurvid.io import read_image

    torch.set_num_threads(args.threads)
    pyr = build_pyramid(read_image(args.photo))
    rows = []
    for size in args.sizes:
        cfg = ShakeConfig(size=size)
        x, w = torch.rand(1, 32, size, size), torch.rand(32, 32, 3, 3)

        def shake(i: int = 0, cfg: ShakeConfig = cfg) -> None:
            render_shake(pyr, cfg, item_generator(0, i))

        def conv(i: int = 0, x: torch.Tensor = x, w: torch.Tensor = w) -> None:
            F.conv2d(x, w, padding=1)

        cam_cfg, leaves_cfg = cfg.replace(camera="all"), LeavesConfig(shake=cfg)

        def shake_cam(i: int = 0, cfg: ShakeConfig = cam_cfg) -> None:
            render_shake(pyr, cfg, item_generator(0, i))

        def leaves(i: int = 0, cfg: LeavesConfig = leaves_cfg) -> None:
            render_leaves(cfg, item_generator(0, i), [pyr])

        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        render, ref = _median_s(shake, args.samples, clock), _median_s(conv, args.samples, clock)
        row = {
            "crop": size,
            "render_ms": round(render * 1e3, 2),
            "render_camera_all_ms": round(_median_s(shake_cam, args.samples, clock) * 1e3, 2),
            "leaves_ms": round(_median_s(leaves, args.samples, clock) * 1e3, 2),
            "reference_conv_ms": round(ref * 1e3, 3),
            "ratio": round(render / ref, 1) if ref > 0 else None,
        }
        if args.batches:
            row.update(_device_path(args, pyr, size))
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _device_path(args: argparse.Namespace, pyr: list, size: int) -> dict:
    """Samples/s of the device path (:func:`blurvid.data.batched.render_shake_batch`, whole
    batches on ``--device``) at each ``--batches`` size, beside the worker path's (one process
    rendering sample after sample with :func:`blurvid.data.render_shake`), both wall time in
    this run on the same photo and threads."""
    import torch

    from blurvid.data import ShakeConfig, item_generator, render_shake
    from blurvid.data.batched import PhotoStore, render_shake_batch

    dev = torch.device(args.device)
    cfg = ShakeConfig(size=size)
    store = PhotoStore([pyr], dev)
    gen = torch.Generator(device=dev).manual_seed(0)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    out: dict = {"device": str(dev)}
    for b in args.batches:
        render_shake_batch(store, cfg, b, gen)  # warm-up
        sync()
        reps = max(2, -(-args.samples // b))
        t = time.perf_counter()
        for _ in range(reps):
            render_shake_batch(store, cfg, b, gen)
        sync()
        out[f"device_batch{b}_samples_s"] = round(reps * b / (time.perf_counter() - t), 1)
    # leaves: the device path shakes a pool of canvases drawn once (here 4) like photos
    from blurvid.data import LeavesConfig, leaves_image
    from blurvid.data.leaves import _canvas_side
    from blurvid.train.device_data import ShakeSource

    lcfg = LeavesConfig(shake=cfg)
    t = time.perf_counter()
    canvases = [
        leaves_image(_canvas_side(lcfg), lcfg, item_generator(1, j), [pyr]) for j in range(4)
    ]
    out["leaves_canvas_s"] = round((time.perf_counter() - t) / 4, 3)
    src = ShakeSource.of_leaves(canvases, lcfg, dev)
    b = max(args.batches)
    src.draw(b, gen)
    sync()
    t = time.perf_counter()
    for _ in range(2):
        src.draw(b, gen)
    sync()
    out[f"device_leaves_batch{b}_samples_s"] = round(2 * b / (time.perf_counter() - t), 1)
    pyr_cpu = [lv.cpu() for lv in pyr]
    render_shake(pyr_cpu, cfg, item_generator(0, 0))
    t = time.perf_counter()
    for i in range(args.samples):
        render_shake(pyr_cpu, cfg, item_generator(0, i))
    out["worker_samples_s"] = round(args.samples / (time.perf_counter() - t), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from blurvid.data.download import default_data_dir

    ap.add_argument(
        "--photo",
        default=str(default_data_dir(HERE.parent) / PHOTO),
        help="a sharp photo (default: the data folder's, data/ or CI's ../shared/data)",
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[128])
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="CPU time of this process (default), or wall time (with --parallel: "
                    "shows a machine whose cores are shared or capped)")  # fmt: skip
    ap.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="run this many copies at once (processes) and report each one's rows",
    )
    ap.add_argument("--batches", type=int, nargs="*", default=[],
                    help="also time the device path at these batch sizes (e.g. 8 32) beside "
                    "the worker path, wall time")  # fmt: skip
    ap.add_argument("--device", default="cpu", help="the device path's device (cpu, cuda)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    if args.parallel > 1:  # the copies start together; each one's rows, in process order
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.parallel) as pool:
            per_process = pool.map(_rows, [args] * args.parallel)
        rows = per_process[0]
    else:
        rows, per_process = _rows(args), None
    record = {
        "benchmark": "bench_data",
        "command": " ".join(
            ["python benchmarks/bench_data.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": _cpu_model(),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY", "(auto)"),
        "threads": args.threads,
        "samples": args.samples,
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
        "clock": args.clock,
        "parallel": args.parallel,
        "rows": rows,
    }
    if per_process is not None:
        record["rows_per_process"] = per_process
    write_result(record, "data", args.out)
    return 0


def write_result(record: dict, prefix: str, out: str | None = None) -> Path:
    """Write ``record`` atomically to ``out``, default ``results/<prefix>-<machine>-<date>.json``
    (machine: the CPU model's second word, e.g. ``epyc``), and print the path."""
    from blurvid._fs import atomic_write_bytes

    tag = record["machine"].split()[1].lower() if " " in record["machine"] else "cpu"
    path = Path(out or HERE / "results" / f"{prefix}-{tag}-{record['date']}.json")
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())
    print(path)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
