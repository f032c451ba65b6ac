"""Video benchmark: input frames per second of :func:`blurvid.slow_motion` at 720p.

Run on demand (never part of the test suite); docs/video.md quotes the result:

    python benchmarks/bench_video.py                     # CPU, 2 threads, default model
    python benchmarks/bench_video.py --device cuda        # on a GPU

A 1280x720 clip is cut from ``data/video/sam2_01_dog.mp4`` (``blurvid data download data/``;
or, without the data, made of noise), and each case runs in a fresh subprocess: decode -> G -> order ->
H.264 encode, end to end, reporting input frames per second, wall and CPU time and the
process's peak RSS. Two clip lengths for factor 7 show that memory does not grow with the clip. The
same run also times G alone on one 720p frame (``reference``), so the pipeline's overhead
(decode, order, encode) can be read off. Results go to
``benchmarks/results/video-<device>-<date>.json``.
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
import tempfile
import time
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = Path("video", "sam2_01_dog.mp4")  # in the data folder


def make_clip(path: Path, frames: int, source: Path, size: tuple[int, int] = (1280, 720)) -> None:
    """The first ``frames`` frames of ``source`` at ``size`` (played again from the start
    when it is shorter; noise when it is missing)."""
    import av
    import numpy as np

    width, height = size
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        if source.is_file():
            i = 0
            while i < frames:
                with av.open(str(source)) as src:
                    for f in src.decode(video=0):
                        if i == frames:
                            break
                        f = f.reformat(width=width, height=height, format="yuv420p")
                        f.pts, f.time_base = i, Fraction(1, 30)
                        out.mux(s.encode(f))
                        i += 1
        else:
            rng = np.random.default_rng(0)
            for i in range(frames):
                img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts, f.time_base = i, Fraction(1, 30)
                out.mux(s.encode(f))
        out.mux(s.encode(None))


def _cpu() -> float:
    """CPU seconds of this process (all threads): unlike wall time, barely changed by other
    work on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _kernel() -> tuple[float, int]:
    """CPU seconds in the kernel, and minor page faults, of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_stime, r.ru_minflt


def run_case(args: argparse.Namespace) -> dict:
    import torch

    import blurvid

    torch.set_num_threads(args.threads)
    if args.no_heap_reuse:  # the allocator's defaults: every large block mapped afresh
        import contextlib

        import blurvid._heap

        blurvid._heap.reuse_freed_memory = lambda: contextlib.nullcontext(False)  # type: ignore
    width, height = (int(v) for v in args.size.split("x"))
    model = blurvid.load_model(args.model, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "in.mp4"
        make_clip(clip, args.frames, Path(args.source), (width, height))
        x = torch.rand(1, 3, height, width, device=args.device)
        blurvid.extract_frames(x, model=model, max_side=None)  # warm-up (kernels, allocator)
        t0, c0 = time.perf_counter(), _cpu()
        blurvid.extract_frames(x, model=model, max_side=None)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        reference, reference_cpu = time.perf_counter() - t0, _cpu() - c0
        t0, c0, (k0, f0) = time.perf_counter(), _cpu(), _kernel()
        result = blurvid.slow_motion(
            clip,
            Path(tmp) / "out.mp4",
            model=model,
            factor=args.factor,
            progress=False,
            motion_gate=not args.no_motion_gate,
        )
        wall, cpu, (k1, f1) = time.perf_counter() - t0, _cpu() - c0, _kernel()
    return {
        "size": args.size,
        "heap_reuse": not args.no_heap_reuse,
        "motion_gate": result.motion_gate,
        "kernel_share_of_cpu": round((k1 - k0) / cpu, 3),
        "minor_faults_per_input_frame": round((f1 - f0) / result.input_frames),
        "factor": args.factor,
        "input_frames": result.input_frames,
        "output_frames": result.output_frames,
        "wall_s": round(wall, 2),
        "input_fps": round(result.input_frames / wall, 3),
        "output_fps": round(result.output_frames / wall, 2),
        "cpu_s_per_input_frame": round(cpu / result.input_frames, 3),
        "reference_g_one_frame_s": round(reference, 3),
        "reference_g_one_frame_cpu_s": round(reference_cpu, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    from blurvid.data.download import default_data_dir

    p.add_argument("--source", default=str(default_data_dir(HERE.parent) / SOURCE))
    p.add_argument(
        "--cases", nargs="+", default=["7x8", "7x24", "42x3"], help="FACTORxFRAMES cases"
    )
    p.add_argument("--size", default="1280x720", help="WxH of the clip (default 1280x720)")
    p.add_argument(
        "--no-heap-reuse", action="store_true", help="allocator defaults (the run before the fix)"
    )
    p.add_argument(
        "--no-motion-gate", action="store_true", help="G's frames everywhere (slowmo's flag)"
    )
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)  # one case, in a child
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.case:
        args.factor, args.frames = (int(v) for v in args.case.split("x"))
        print(json.dumps(run_case(args)))
        return
    results = []
    for case in args.cases:
        cmd = [sys.executable, __file__, "--case", case, "--model", args.model]
        cmd += ["--device", args.device, "--threads", str(args.threads), "--source", args.source]
        cmd += ["--size", args.size] + (["--no-heap-reuse"] if args.no_heap_reuse else [])
        cmd += ["--no-motion-gate"] if args.no_motion_gate else []
        done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        if done.returncode:
            raise SystemExit(done.stderr)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    import torch

    record = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "device": args.device,
        },
        "source": Path(args.source).name if Path(args.source).is_file() else "noise",
        "median_input_fps_factor7": statistics.median(
            r["input_fps"] for r in results if r["factor"] == 7
        )
        if any(r["factor"] == 7 for r in results)
        else None,
        "results": results,
    }
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or HERE / "results" / f"video-{args.device}-{stamp}.json")
    out.write_text(json.dumps(record, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
