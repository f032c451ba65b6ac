"""onnxruntime against PyTorch on the CPU, in the same process, on the same image.

Run on demand (never part of the test suite; needs ``pip install 'blurvid[onnx]'``):

    python benchmarks/bench_onnx.py                    # 1280x720, 2 threads, 5 repeats
    python benchmarks/bench_onnx.py --sizes 1280x720 1920x1080 --threads 4

The bundled model is exported to ONNX first (or ``--onnx FILE`` is used). For each size,
PyTorch (:func:`blurvid.extract_frames`, float32) and onnxruntime (CPUExecutionProvider, all
graph optimisations) run in turns (A B A B ...) on one random image after a warm-up each; the medians, their
ratio (PyTorch time / onnxruntime time: above 1 means onnxruntime is faster) and the largest
difference of the outputs are written to ``benchmarks/results/onnx-<machine>-<date>.json``;
docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _interleaved_medians(fns: dict, repeats: int) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, in turns (A B A B ...) after one warm-up each,
    so that a change of machine load hits both alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", nargs="+", default=["1280x720"], help="WIDTHxHEIGHT")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--model", default="default")
    p.add_argument("--onnx", help="an exported ONNX file (default: export --model now)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    warnings.simplefilter("ignore")

    import numpy as np
    import onnxruntime as ort
    import torch

    import blurvid
    from blurvid.export import export_onnx

    torch.set_num_threads(args.threads)
    model = blurvid.load_model(args.model, device="cpu")
    onnx_path = args.onnx
    if onnx_path is None:
        onnx_path = str(Path(tempfile.mkdtemp()) / "blurvid.onnx")
        t0 = time.perf_counter()
        export_onnx(model, onnx_path)
        print(f"exported {onnx_path} in {time.perf_counter() - t0:.1f} s", flush=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])

    results = []
    for size in args.sizes:
        w, h = (int(v) for v in size.split("x"))
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
        feed = {"blurry": x.numpy()}
        ref = blurvid.extract_frames(x, model=model, max_side=None)
        (out,) = session.run(["frames"], feed)
        max_diff = float(np.abs(out - ref.numpy()).max())
        del ref, out
        times = _interleaved_medians(
            {
                "pytorch": lambda x=x: blurvid.extract_frames(x, model=model, max_side=None),
                "onnxruntime": lambda feed=feed: session.run(["frames"], feed),
            },
            args.repeats,
        )
        torch_times, ort_times = times["pytorch"], times["onnxruntime"]
        t_torch, t_ort = statistics.median(torch_times), statistics.median(ort_times)
        res = {
            "size": size, "repeats": args.repeats,
            "pytorch_median_s": t_torch, "onnxruntime_median_s": t_ort,
            "pytorch_over_onnxruntime": t_torch / t_ort,
            "pytorch_times_s": torch_times, "onnxruntime_times_s": ort_times,
            "max_abs_diff": max_diff,
        }  # fmt: skip
        results.append(res)
        print(f"{size:>10}: PyTorch {t_torch:.3f} s, onnxruntime {t_ort:.3f} s, "
              f"ratio {t_torch / t_ort:.2f}x, max |diff| {max_diff:.1e}", flush=True)  # fmt: skip

    machine = {
        "platform": platform.platform(), "python": platform.python_version(),
        "torch": torch.__version__, "onnxruntime": ort.__version__, "cpu_count": os.cpu_count(),
        "threads": args.threads, "processor": platform.processor() or platform.machine(),
        "model": args.model, "params": model.num_parameters(),
        "load_average_1min": os.getloadavg()[0],  # other work on the machine during the run
    }  # fmt: skip
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    host = platform.node() or "host"
    out_path = Path(args.out) if args.out else HERE / "results" / f"onnx-{host}-cpu-{stamp}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    os.replace(tmp, out_path)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
