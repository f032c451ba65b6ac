"""Inference benchmark: latency, peak memory, params, GFLOPs, achieved GFLOP/s.

Run on demand (never part of the test suite):

    python benchmarks/bench_inference.py                       # CPU, 2 threads, all sizes
    python benchmarks/bench_inference.py --sizes 1280x720 --depth 1 2
    python benchmarks/bench_inference.py --device cuda --dtype bfloat16 --channels-last

Each (size, depth) runs in a fresh subprocess so that peak RSS (CPU) or
``torch.cuda.max_memory_allocated`` (GPU) belongs to that case alone. Results go to
``benchmarks/results/<machine>-<device>-<date>.json``; docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SIZES = ["256x256", "512x512", "1280x720", "1920x1080", "4000x3000"]
HERE = Path(__file__).resolve().parent


def _gflops(model, h: int, w: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, h, w)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x)
    return counter.get_total_flops() / 1e9


def run_case(args: argparse.Namespace) -> dict:
    import torch

    import blurvid

    torch.set_num_threads(args.threads)
    args.depth = args.depth[0]
    w, h = (int(v) for v in args.case.split("x"))
    device = torch.device(args.device)
    model = blurvid.load_model(args.model, device=device)
    if args.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    if args.compile:
        model.forward = torch.compile(model.forward)  # type: ignore[method-assign]
    x = torch.rand(1, 3, h, w, device=device)
    fn = (
        blurvid.extract_frames
        if args.depth == 1
        else (lambda x, **k: blurvid.interpolate_recursive(x, args.depth, **k))
    )
    kw = dict(model=model, dtype=args.dtype, tile=args.tile)
    for _ in range(args.warmup):
        fn(x, **kw)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fn(x, **kw)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    gflops_per_pass = (
        _gflops(model.to("cpu").float(), min(h, 1024), min(w, 1024))
        * (h * w)
        / (min(h, 1024) * min(w, 1024))
    )
    # G passes: 1 at level 1, then one per neighbouring pair of each level's frames
    passes = 1 + sum(blurvid.num_recursive_frames(d) - 1 for d in range(1, args.depth))
    median = statistics.median(times)
    out = {
        "size": args.case, "depth": args.depth, "frames": blurvid.num_recursive_frames(args.depth),
        "median_s": median, "min_s": min(times), "repeats": args.repeats,
        "params": model.num_parameters(), "gflops_per_pass": gflops_per_pass, "generator_passes": passes,
        "achieved_gflops_per_s": gflops_per_pass * passes / median,
        "tiled": args.tile is not None or h * w > 2_100_000,
    }  # fmt: skip
    if device.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def machine_info(args) -> dict:
    import torch

    info = {
        "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
        "cpu_count": os.cpu_count(), "threads": args.threads, "device": args.device, "dtype": args.dtype,
        "processor": platform.processor() or platform.machine(),
    }  # fmt: skip
    if args.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", nargs="+", default=SIZES)
    p.add_argument("--depth", nargs="+", type=int, default=[1, 2])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--model", default="default")
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument(
        "--max-depth2-pixels", type=int, default=2_100_000, help="skip depth>1 above this size"
    )
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.case:
        import warnings

        warnings.simplefilter("ignore")
        print(json.dumps(run_case(args)))
        return
    results = []
    for size in args.sizes:
        w, h = (int(v) for v in size.split("x"))
        for depth in args.depth:
            if depth > 1 and w * h > args.max_depth2_pixels:
                continue
            cmd = [sys.executable, __file__, "--case", size, "--device", args.device, "--dtype", args.dtype,
                   "--threads", str(args.threads), "--repeats", str(args.repeats if depth == 1 else max(1, args.repeats // 2)),
                   "--warmup", str(args.warmup), "--model", args.model, "--depth", str(depth)]  # fmt: skip
            if args.tile:
                cmd += ["--tile", str(args.tile)]
            if args.channels_last:
                cmd.append("--channels-last")
            if args.compile:
                cmd.append("--compile")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(f"{size} depth {depth}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(res)
            mem = (
                f"{res['peak_gpu_mb']:.0f} MB GPU"
                if "peak_gpu_mb" in res
                else f"{res['peak_rss_mb']:.0f} MB RSS"
            )
            print(f"{size:>10} depth {depth}: {res['median_s']:.3f} s median, {mem}, "
                  f"{res['gflops_per_pass']:.1f} GFLOP/pass, {res['achieved_gflops_per_s']:.1f} GFLOP/s", flush=True)  # fmt: skip
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (
        Path(args.out)
        if args.out
        else HERE
        / "results"
        / f"{platform.node() or 'host'}-{args.device.replace(':', '')}-{stamp}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": machine_info(args), "results": results}, indent=2) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
