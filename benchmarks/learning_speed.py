"""How fast does G learn to deblur? A fixed training stream, the fixed validation set, a recipe.

Runs blurvid's own trainer (stage ``base``) on a seeded, pre-rendered sample bank of the
release data mix and scores the fixed validation set every ``--val-every`` steps:

* ``centre_gain_db``: PSNR of the **centre frame** over the blurry input's (the deblurring
  itself: motion in the outer frames cannot inflate it);
* ``gain_db``: best-order mean PSNR over the 7 frames over the identity's (the paper's metric);
* both also for the synthetic and the real half of the set apart, and the motion ratio.

Each record carries the step, the wall time and the process CPU time. On a shared machine
the wall time is inflated by whatever else runs; ``cpu_s / threads`` is the time the same
run takes on an idle machine with that many cores (to within the threads' efficiency), and
is what the results quote as "minutes on 2 cores".

Usage (from the repository root, ``pip install -e ".[train]"``)::

    python benchmarks/learning_speed.py --recipe fast --minutes 60
    python benchmarks/learning_speed.py --list
    python benchmarks/plot_learning_curves.py          # -> docs/images/learning_curves.png

Writes ``benchmarks/results/learning_speed_<recipe>.json`` (atomically, after every
validation: an interrupted run keeps its curve). The bank and the validation set are cached
in ``benchmarks/.cache/`` (git-ignored; built once, a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from blurvid._fs import atomic_write_bytes
from blurvid.data.download import default_data_dir
from blurvid.model import GeneratorConfig
from blurvid.train.config import TrainConfig

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE = HERE / ".cache"

#: The release data mix (photos with synthetic shake, real video windows, Sintel frames).
DATA = ("photos:{root}/photos@3", "video:{root}/video@1", "frames:{root}/frames/sintel_raft@0.5")

#: Named recipes: keyword overrides of :meth:`TrainConfig.fast` ("generator" is a dict of
#: :class:`GeneratorConfig` fields). Add a row, run it, keep the table in docs/training.md.
#: Restoration only: the ramped-in difference/flow/GAN terms stay off (ramp at 1.0).
#: ``TrainConfig.fast()`` took the winner's G, central weight and EMA on 2026-11-29; the rows
#: recorded before pin what fast() was then (0.83 M-parameter G, paper init, central weight 1,
#: no EMA), so that each name still means what its result file measured.
_RESTORE = dict(
    ramp_start=1.0, ramp_end=1.0, generator=dict(init="paper"), central_weight=1.0, ema_decay=0.0
)
#: G with extra blocks at low resolution (NAFNet puts its blocks where they are cheap), EMA.
#: (The rows recorded before ``init="kaiming"`` existed used the paper's init: kept explicit.)
_DEEP = dict(
    _RESTORE,
    generator=dict(enc_blocks=[1, 1, 2], middle_blocks=4, dec_blocks=[1, 1, 1], init="paper"),
)
_DEEP_EMA = dict(_DEEP, ema_decay=0.999)
#: Only the centre frame is trained (no pair or all-frames terms).
_CENTRE_ONLY = dict(pair_weight=0.0, frames_weight=0.0)
RECIPES: dict[str, dict[str, Any]] = {
    # TrainConfig.fast() itself (since 2026-11-29 the winner below: deep G, kaiming init,
    # central weight 10, EMA 0.999), restoration terms only
    "fast": dict(ramp_start=1.0, ramp_end=1.0),
    # the recipe of release v0.1's base stage, restoration terms only (the "fast" row until
    # 2026-11-29: learning_speed_fast-v0.1.json)
    "fast-v0.1": dict(_RESTORE),
    "fast-ema": dict(_RESTORE, ema_decay=0.999),
    "deep-ema": dict(_DEEP_EMA),
    # the centre frame weighted 10x (Eq. 1's central term): does it stop G from spending
    # itself on the outer frames' motion first?
    "centre10-deep-ema": dict(_DEEP_EMA, central_weight=10.0),
    # the centre frame alone (Eq. 1's central MSE; no pair or all-frames terms): how far the
    # deblurring gets when G spends nothing on motion (the calibration probes' +0.4 dB)
    "centre-only-deep-ema": dict(_DEEP_EMA, **_CENTRE_ONLY),
    # the same without EMA (a 0.999 average still holds ~17 % of the initial weights at step
    # 1 750, which drags a short run's score), and with the deblurring field's L1 pixel loss
    # instead of Eq. 1's MSE
    "centre-only-deep": dict(_DEEP, **_CENTRE_ONLY),
    "centre-l1-deep": dict(_DEEP, **_CENTRE_ONLY, central_weight=0.0, central_l1_weight=1.0),
    # the same with NAFNet's initialisation of the body (PyTorch's Kaiming-uniform; head
    # N(0, 0.01)): with the paper's N(0, 0.01) everywhere the gated blocks never came alive and
    # G stayed a linear filter (relative nonlinearity 1e-6 after 6 000 steps of release v0.2)
    "centre10-deep-ema-kaiming": dict(
        _DEEP_EMA,
        central_weight=10.0,
        generator=dict(_DEEP_EMA["generator"], init="kaiming"),
    ),
    # NAFNet's per-sample PSNR loss instead of every MSE: the centre frame and all 7 frames in
    # the better order (which also carries the outer frames' motion), no Eq. 1/2 MSE terms
    "psnr-deep": dict(
        _DEEP, **_CENTRE_ONLY, central_weight=0.0, central_psnr_weight=1.0, frames_psnr_weight=1.0
    ),
}

#: Training data: the release mix, or the synthetic-shake photos alone (the calibration
#: probes' photo-only banks). The validation set is the same fixed one for both.
DATA_MIXES = {"mix": DATA, "photos": ("photos:{root}/photos@1",)}


def build_config(name: str, steps: int, batch_size: int) -> TrainConfig:
    if name not in RECIPES:
        raise SystemExit(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    over = dict(RECIPES[name])
    gen = over.pop("generator", None)
    if gen is not None:
        over["generator"] = GeneratorConfig(**gen)
    return TrainConfig.fast(
        steps=steps,
        batch_size=batch_size,
        val_every=0,  # this script validates itself (per source, with timings)
        sample_every=0,
        ckpt_every=10**9,
        log_every=50,
        flow_weight=0.0 if over.get("ramp_start", 0.0) >= 1.0 else 0.001,
        **over,
    )


def score(model: torch.nn.Module, val: Any) -> dict[str, float]:
    """Centre-frame and 7-frame best-order gains over the identity, overall and per source
    (:func:`blurvid.scores.validation_scores`, what training validation logs)."""
    from blurvid.scores import predict_set, validation_scores

    pred = predict_set(model, val.blurry)
    out: dict[str, float] = {}
    motion = float("nan")  # of the whole set, written last
    for label in ("all", "synthetic", "real"):
        idx = [i for i, s in enumerate(val.source) if label in ("all", s)]
        if not idx:
            continue
        scores = validation_scores(pred[idx], val.frames[idx], val.blurry[idx])
        key = "" if label == "all" else f"{label}_"
        out[f"{key}centre_gain_db"] = scores["centre_gain_db"]
        out[f"{key}gain_db"] = scores["gain_db"]
        if label == "all":
            motion = scores["motion_ratio"]
    out["motion_ratio"] = motion
    return out


def train_curve(
    cfg: TrainConfig,
    dataset: Any,
    val: Any,
    run_dir: Path,
    record: dict[str, Any],
    out: Path,
    val_every: int,
    budget_cpu_s: float,
) -> Any:
    """Train ``cfg`` on ``dataset`` (blurvid's own trainer), scoring ``val`` at step 0 and every
    ``val_every`` steps into ``record["curve"]`` (written atomically to ``out`` after each),
    until ``cfg.steps`` or ``budget_cpu_s`` of process CPU time; returns the trainer."""
    from blurvid.train.loop import Trainer

    class BenchTrainer(Trainer):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.t0, self.c0 = time.time(), time.process_time()

        def _should_stop(self) -> bool:
            step = self.step
            if step % val_every == 0:
                row = {
                    "step": step,
                    "wall_s": round(time.time() - self.t0, 1),
                    "cpu_s": round(time.process_time() - self.c0, 1),
                    **{k: round(v, 4) for k, v in score(self.model, val).items()},
                }
                record["curve"].append(row)
                record["params"] = self.G.num_parameters()
                atomic_write_bytes(out, (json.dumps(record, indent=1) + "\n").encode())
                print(json.dumps(row), flush=True)
            return time.process_time() - self.c0 >= budget_cpu_s or super()._should_stop()

    trainer = BenchTrainer(cfg, run_dir, dataset=dataset, progress=False)
    first = score(trainer.model, val)
    record["curve"].append({"step": 0, "wall_s": 0.0, "cpu_s": 0.0, **first})
    try:
        trainer.fit()
    except KeyboardInterrupt:
        pass  # the CPU budget ran out: the curve is complete
    return trainer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default="fast", help="a name from --list")
    ap.add_argument("--list", action="store_true", help="list the recipes and exit")
    ap.add_argument(
        "--minutes", type=float, default=60.0, help="stop after this much CPU time / threads"
    )
    ap.add_argument(
        "--steps", type=int, default=100_000, help="stop after this many steps (cosine length)"
    )
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--bank-size", type=int, default=6000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-root", default=str(default_data_dir(HERE.parent)))
    ap.add_argument(
        "--data",
        choices=sorted(DATA_MIXES),
        default="mix",
        help="training data: the release mix, or photos with synthetic shake only",
    )
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    args = ap.parse_args(argv)
    if args.list:
        for name, over in RECIPES.items():
            print(f"{name}: TrainConfig.fast(**{over})")
        return 0

    torch.set_num_threads(args.threads)
    from blurvid.data import validation_set
    from blurvid.train.data import dataset_from_specs

    cfg = build_config(args.recipe, args.steps, args.batch_size)
    CACHE.mkdir(parents=True, exist_ok=True)
    data = tuple(d.format(root=args.data_root) for d in DATA_MIXES[args.data])
    if args.data != "mix" and not args.tag:
        args.tag = f"-{args.data}"
    cfg = cfg.replace(data=data, bank_size=args.bank_size)
    dataset = dataset_from_specs(
        data,
        crop=cfg.crop,
        seed=0,
        bank_size=args.bank_size,
        bank_dir=CACHE if args.data == "mix" else CACHE / args.data,
    )
    val = validation_set(args.data_root, cache_path=CACHE / "validation_128.safetensors")
    run_dir = CACHE / f"run-{args.recipe}{args.tag}"
    budget_cpu_s = args.minutes * 60.0 * args.threads
    name = f"learning_speed_{args.recipe}{args.tag}"
    record: dict[str, Any] = {
        "benchmark": "learning_speed",
        "recipe": args.recipe,
        "overrides": RECIPES[args.recipe],
        "config": cfg.to_dict(),
        "command": "python benchmarks/learning_speed.py " + " ".join(argv or os.sys.argv[1:]),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": args.threads,
            "torch": torch.__version__,
        },
        "curve": [],
    }

    train_curve(
        cfg, dataset, val, run_dir, record, RESULTS / f"{name}.json", args.val_every, budget_cpu_s
    )
    print(f"wrote {RESULTS / (name + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
