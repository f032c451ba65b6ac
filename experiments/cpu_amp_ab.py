"""Does bf16 autocast (``--cpu-amp``) change what a run learns? A controlled A/B from one
checkpoint.

    python experiments/cpu_amp_ab.py --run training/release-v0.2/base \\
        --bank runs/release-v0.2/banks/bank_6000_128_7.safetensors --steps 2000

Two branches start from the same full checkpoint (G, its EMA, Adam's moments, the step) of a
run and train the same number of steps on the same batches of the same sample bank, in the
same order, with the run's own recipe (``train_config.json``): one in float32, one with
``cpu_amp``. They differ only in the arithmetic of the forward pass. Each branch runs in its own
process on one thread (both at once on a 2-core machine) and scores its EMA on the fixed
validation set every ``--val-every`` steps (7-frame best-order and centre-frame gains over the
input, motion ratio). Result: ``experiments/results/cpu_amp_ab.json`` (both curves, s/step).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ARMS = ("float32", "cpu_amp")


def run_arm(args: argparse.Namespace) -> dict:
    import torch

    from blurvid.data import validation_set
    from blurvid.train import TrainConfig, Trainer
    from blurvid.train.data import SampleBank

    torch.set_num_threads(args.threads)
    run = Path(args.run)
    cfg = TrainConfig.from_json(run / "train_config.json").replace(
        cpu_amp=args.arm == "cpu_amp", data=(), device="cpu", val_every=10**9, ckpt_every=10**9
    )
    bank = SampleBank.load(args.bank)
    val = validation_set(args.data, split=REPO / "scripts" / "data_split.json")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "base").mkdir()
        shutil.copy(run / "checkpoint.safetensors", Path(tmp) / "base" / "checkpoint.safetensors")
        trainer = Trainer(cfg, Path(tmp) / "base", dataset=bank, val_data=val, resume=True,
                          progress=False)  # fmt: skip
        start = trainer.step
        order = torch.randperm(len(bank), generator=torch.Generator().manual_seed(args.seed))
        curve = [{"step": start, **trainer.validate()}]
        t0, b = time.perf_counter(), cfg.batch_size
        for k in range(args.steps):
            idx = [int(order[(k * b + j) % len(bank)]) for j in range(b)]
            items = [bank[i] for i in idx]
            trainer.train_step(torch.stack([s["blurry"] for s in items]),
                               torch.stack([s["frames"] for s in items]))  # fmt: skip
            trainer.step += 1
            if (k + 1) % args.val_every == 0:
                curve.append({"step": trainer.step, **trainer.validate()})
                print(args.arm, json.dumps(curve[-1]), flush=True)
        elapsed = time.perf_counter() - t0
    return {"arm": args.arm, "start": start, "s_per_step": elapsed / args.steps, "curve": curve}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a run's stage folder (checkpoint.safetensors)")
    ap.add_argument("--bank", required=True, help="the sample bank both branches train on")
    from blurvid.data.download import default_data_dir

    ap.add_argument(
        "--data",
        default=str(default_data_dir(REPO)),
        help="the data folder (validation set; default: data/, else CI's ../shared/data)",
    )
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0, help="the batches' order")
    ap.add_argument("--threads", type=int, default=1, help="per branch")
    ap.add_argument("--arm", choices=ARMS, help="(internal) run one branch, print its JSON")
    ap.add_argument("--out", default=str(HERE / "results" / "cpu_amp_ab.json"))
    args = ap.parse_args(argv)
    if args.arm:
        print("RESULT " + json.dumps(run_arm(args)), flush=True)
        return 0
    given = sys.argv[1:] if argv is None else argv
    procs = [subprocess.Popen([sys.executable, __file__, *given, "--arm", arm],
                              stdout=subprocess.PIPE, text=True) for arm in ARMS]  # fmt: skip
    results = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"a branch failed ({p.returncode}):\n{out}")
        results.append(json.loads(out.rsplit("RESULT ", 1)[1]))
    from blurvid._fs import atomic_write_bytes

    record = {
        "benchmark": "cpu_amp_ab",
        "command": " ".join(["python experiments/cpu_amp_ab.py", *given]),
        "steps": args.steps,
        "threads_per_branch": args.threads,
        "branches": results,
    }
    atomic_write_bytes(Path(args.out), (json.dumps(record, indent=1) + "\n").encode())
    for r in results:
        last = r["curve"][-1]
        print(f"{r['arm']:8s} {r['s_per_step']:.3f} s/step; step {last['step']}: "
              f"7 frames {last['val_gain_db']:+.3f} dB, centre {last['val_centre_gain_db']:+.3f} "
              f"dB, motion {last['val_motion_ratio']:.3f}")  # fmt: skip
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
