"""Training-step benchmark: float32 vs bf16 autocast on the CPU (``TrainConfig.cpu_amp``,
``blurvid train --cpu-amp``).

Run on demand (never part of the test suite):

    python benchmarks/bench_cpu_amp.py                 # 2 threads, 12 steps of each
    python benchmarks/bench_cpu_amp.py --threads 1 --steps 20
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_cpu_amp.py --out ...   # sleeping threads

It builds two :class:`blurvid.train.Trainer` of the release run's base recipe
(``training/release-v0.2/base/train_config.json``: batch 8, crop 128, the deep G), the same seed,
one with ``cpu_amp``; both train on the fixed validation set's samples (only the time is
measured here, the data does not matter) and take turns, one step each, so a busy machine slows
both alike. It reports the median wall time per step of each (after two warm-up steps), their
ratio, whether the CPU has native bf16 (``avx512_bf16`` / ``amx_bf16`` in /proc/cpuinfo) and the
two trainers' losses at the first step (same weights, same batch: their difference is the bf16
rounding). Results go to ``benchmarks/results/cpu-amp-<machine>-<date>.json``;
docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_data import _cpu_model, write_result

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIG = REPO / "training" / "release-v0.2" / "base" / "train_config.json"


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(CONFIG), help="a train_config.json (the recipe)")
    from blurvid.data.download import default_data_dir

    ap.add_argument(
        "--data",
        default=str(default_data_dir(REPO)),
        help="the data folder (validation set; default: data/, else CI's ../shared/data)",
    )
    ap.add_argument("--steps", type=int, default=12, help="timed steps of each, after 2 warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    from blurvid.data import validation_set
    from blurvid.train import TrainConfig, Trainer

    torch.set_num_threads(args.threads)
    base = TrainConfig.from_json(args.config).replace(
        data=(), bank_size=0, device="cpu", val_every=10**9, ckpt_every=10**9, sample_every=0
    )
    val = validation_set(args.data, split=REPO / "scripts" / "data_split.json")
    batch = base.batch_size
    times: dict[bool, list[float]] = {False: [], True: []}
    first_loss: dict[bool, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {
            amp: Trainer(
                base.replace(cpu_amp=amp), Path(tmp) / str(amp), dataset=val, progress=False
            )
            for amp in (False, True)
        }
        for i in range(args.steps + 2):
            idx = [(i * batch + k) % len(val) for k in range(batch)]
            blurry, frames = val.blurry[idx], val.frames[idx]
            for amp, trainer in trainers.items():
                t = time.perf_counter()
                parts = trainer.train_step(blurry, frames)
                if i >= 2:
                    times[amp].append(time.perf_counter() - t)
                first_loss.setdefault(amp, parts["loss"])
    fp32, bf16 = statistics.median(times[False]), statistics.median(times[True])
    flags = _cpu_flags()
    record = {
        "benchmark": "bench_cpu_amp",
        "command": " ".join(
            ["python benchmarks/bench_cpu_amp.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": _cpu_model(),
        "native_bf16": sorted(flags & {"avx512_bf16", "amx_bf16"}),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY", "(auto)"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "threads": args.threads,
        "batch": batch,
        "crop": int(val.blurry.shape[-1]),
        "steps": args.steps,
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
        "float32_s_per_step": round(fp32, 4),
        "cpu_amp_s_per_step": round(bf16, 4),
        "speed-up": round(fp32 / bf16, 2),
        "first_step_loss": {"float32": first_loss[False], "cpu_amp": first_loss[True]},
    }
    print(json.dumps(record, indent=1))
    write_result(record, "cpu-amp", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
