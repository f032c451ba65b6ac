"""Does stage 2's Gram term (Eq. 6-7) move the result, and with which features?

Stage 2 (``gram``, GramGAN) as release v0.3's recipe runs it (``recipes/release-v0.3.toml``
``[train]`` + ``[stages.gram]``: 64 px crops, lr 2e-4, EMA 0.995, adversarial 5e-4, flow 1e-3,
the stage-1 loss kept on, ``gram_mode = "prediction"``...), started from release v0.2's best
base G (``training/release-v0.2/b-step87000``) on a fixed seeded sample bank (the v0.2 data
mix, ``benchmarks/.cache/banks/release``, as ``experiments/content_realism.py`` renders it), for
a fixed number of steps; only the Gram weight and the Gram features change between rows:

* ``--calibrate FEATURES``: 20 steps at ``gram_weight = 1``, every loss term logged; the Gram
  terms (``gram_stage_gram`` + ``gram9``, unweighted) against the rest of the loss give the
  weight at which the Gram term is 10 % of the total: ``w = rest / (9 * gram)``. Written to
  ``calibrate-<features>.json``.
* ``--row FEATURES --times X``: ``X`` times that weight (``--times 0``: the control, no Gram
  term; it still logs the filter Gram distance). ``FEATURES``: ``vgg19`` (the seeded random
  VGG19 at relu3_1, the fallback without a weights file) or ``filters`` (the fixed oriented
  filter bank, :mod:`blurvid.train.texture`).

Each row scores, at step 0 and every ``--val-every`` steps, the fixed validation set
(``learning_speed.score``: 7-frame best-order gain, centre-frame gain, motion ratio) and at the
end the no-reference sharpness of the centre frame on the real blurry photos
(``content_realism.real_sharpness``), and logs every loss term of its first 20 steps (the
Gram share of the loss as it runs). ``--rescore`` then adds, for every finished row and its
start, Eq. 7's Gram distance between G's frames and the truth on every second validation
sample, with both feature kinds (does the trained term carry over to held-out data?).
Usage::

    python experiments/gram_weight.py --calibrate vgg19 --threads 1
    python experiments/gram_weight.py --calibrate filters --threads 1
    python experiments/gram_weight.py --row filters --times 0 --steps 300 --threads 1
    python experiments/gram_weight.py --row filters --times 1 --steps 300 --threads 1
    python experiments/gram_weight.py --rescore --threads 1
    python experiments/gram_weight.py --table

Writes ``experiments/results/gram_weight/<name>.json`` atomically after every validation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # content_realism (experiments/)
sys.path.insert(1, str(REPO / "benchmarks"))  # learning_speed (benchmarks/)

from content_realism import real_sharpness  # noqa: E402
from learning_speed import CACHE, score  # noqa: E402

from blurvid._fs import atomic_write_bytes  # noqa: E402
from blurvid.data.download import default_data_dir  # noqa: E402

RESULTS = HERE / "results" / "gram_weight"
RECIPE = REPO / "recipes" / "release-v0.3.toml"
INIT = "training/release-v0.2/b-step87000"
BANK = CACHE / "banks" / "release" / "bank_3000_128_0.safetensors"
CALIBRATION_STEPS = 20
#: the Gram term's share of the total loss the calibrated weight aims at
TARGET_SHARE = 0.10
GRAM_TERMS = ("gram_stage_gram", "gram9")


def stage_config(args: argparse.Namespace, features: str, weight: float, steps: int) -> Any:
    """Release v0.3's ``gram`` stage, from ``--init``, on ``--bank``, with this Gram term."""
    from blurvid.train.recipe import load_recipe

    cfg = load_recipe(RECIPE).stage_config("gram", data_root=args.data_root, out="")
    return cfg.replace(
        init=args.init,
        data=(f"bank:{args.bank}",),
        steps=steps,
        seed=args.seed,
        gram_weight=weight,
        gram_features=features,
        val_every=0,  # this script validates itself
        ckpt_every=10**9,
        log_every=10**9,
        sample_every=0,
        cpu_amp=False,
    )


def _gram(parts: dict[str, float]) -> float:
    return sum(parts.get(k, 0.0) for k in GRAM_TERMS)


def run(
    cfg: Any, args: argparse.Namespace, record: dict[str, Any], out: Path, val: Any | None
) -> Any:
    """Train ``cfg``; log every loss term of the first 20 steps into ``record["terms"]`` and
    score ``val`` at step 0 and every ``--val-every`` steps (None: no scoring)."""
    from blurvid.train.data import dataset_from_specs
    from blurvid.train.loop import Trainer

    def save() -> None:
        atomic_write_bytes(out, (json.dumps(record, indent=1) + "\n").encode())

    class GramTrainer(Trainer):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.t0 = time.time()

        def train_step(self, blurry: torch.Tensor, frames: torch.Tensor) -> dict[str, float]:
            parts = super().train_step(blurry, frames)
            if len(record["terms"]) < CALIBRATION_STEPS:
                record["terms"].append({"step": self.step + 1, **parts})
            return parts

        def _should_stop(self) -> bool:
            if val is not None and self.step % args.val_every == 0:
                row = {"step": self.step, "wall_s": round(time.time() - self.t0, 1),
                       **{k: round(v, 4) for k, v in score(self.model, val).items()}}  # fmt: skip
                record["curve"].append(row)
                save()
                print(json.dumps(row), flush=True)
            return super()._should_stop()

    dataset = dataset_from_specs(list(cfg.data), crop=cfg.crop, seed=cfg.seed)
    run_dir = CACHE / f"run-gram-{out.stem}"
    trainer = GramTrainer(cfg, run_dir, dataset=dataset, progress=False)
    if val is not None:
        record["curve"].append({"step": 0, "wall_s": 0.0, **score(trainer.model, val)})
        save()
    t0 = time.time()
    trainer.fit()
    record["train_wall_s"] = round(time.time() - t0, 1)
    save()
    return trainer


def gram_distances(model: torch.nn.Module, val: Any) -> dict[str, float]:
    """Eq. 7 (all 9 triplets) between G's frames and the truth on every second validation
    sample, with either feature kind: does the trained Gram term carry over to held-out samples?"""
    import warnings

    from blurvid.errors import PlaceholderWeightsWarning
    from blurvid.scores import predict_set
    from blurvid.train.features import vgg19_features
    from blurvid.train.losses import gram_loss
    from blurvid.train.texture import filter_bank_features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        feats = {"filters": filter_bank_features(), "vgg19": vgg19_features(layers="relu3_1")}
    every = slice(0, None, 2)  # every second sample (40 of 80, both halves): 1.5 min a model
    pred, true = predict_set(model, val.blurry[every]).float(), val.frames[every].float()
    out = {}
    with torch.no_grad():
        for kind, f in feats.items():
            parts = [gram_loss(pred[i : i + 8], true[i : i + 8], f)
                     for i in range(0, len(pred), 8)]  # fmt: skip
            out[f"val_gram_{kind}"] = float(sum(parts) / len(parts))
    return out


def rescore(args: argparse.Namespace) -> None:
    """Add the validation Gram distances (start and end) to every finished row's file."""
    from blurvid import load_model
    from blurvid.data import validation_set

    val = validation_set(args.data_root, cache_path=CACHE / "validation_128.safetensors")
    start: dict[str, dict[str, float]] = {}
    for path in sorted(RESULTS.glob("*.json")):
        r = json.loads(path.read_text())
        if r.get("kind") != "row" or "final" not in r or "val_gram_filters" in r["final"]:
            continue
        if r["init"] not in start:
            start[r["init"]] = gram_distances(load_model(r["init"]).eval(), val)
        model = load_model(str(CACHE / f"run-gram-{path.stem}" / "model")).eval()
        r["final"].update(gram_distances(model, val))
        r["start"].update(start[r["init"]])
        atomic_write_bytes(path, (json.dumps(r, indent=1) + "\n").encode())
        print(path.stem, json.dumps(r["final"]), flush=True)


def term_means(terms: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for t in terms for k in t if k not in ("step", "lr", "ramp")})
    return {k: sum(t.get(k, 0.0) for t in terms) / len(terms) for k in keys}


def calibrated_weight(features: str) -> float:
    path = RESULTS / f"calibrate-{features}.json"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run --calibrate {features} first")
    return float(json.loads(path.read_text())["calibrated_weight"])


def _fmt_w(w: float) -> str:
    return "0" if w == 0 else f"{w:.3g}"


def _cells(c: dict[str, Any], fin: dict[str, Any]) -> str:
    def num(key: str, fmt: str) -> str:  # the Gram distances in units of 1e-5
        return format(fin[key] * (1e5 if "gram" in key else 1), fmt) if key in fin else ""

    return (
        f"{c['gain_db']:+.3f} | {c['centre_gain_db']:+.3f} | {c['motion_ratio']:.3f} | "
        f"{num('real_sharpness_log2', '+.3f')} | {num('val_gram_filters', '.3f')} | "
        f"{num('val_gram_vgg19', '.3f')} |"
    )


def table(paths: list[Path]) -> str:
    """Markdown: the calibrations, then one line per row (its start and its last validation)."""
    records = [json.loads(p.read_text()) for p in paths]
    lines = [
        "| features | Gram terms at weight 1 | rest of the loss | weight for 10 % |",
        "|---|---|---|---|",
    ]
    for r in records:
        if r.get("kind") == "calibration":
            lines.append(f"| {r['features']} | {r['gram_at_weight_1']:.3g} | "
                         f"{r['rest_of_loss']:.3g} | {r['calibrated_weight']:.4g} |")  # fmt: skip
    lines += [
        "",
        "| row | Gram weight | Gram share of the loss (steps 1-20) | steps | 7 frames (dB) | "
        "centre (dB) | motion ratio | real photos sharpness (log2) | val. Gram distance, "
        "filters (1e-5) | val. Gram distance, random VGG19 (1e-5) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [r for r in records if r.get("kind") == "row" and r["curve"]]
    rows.sort(key=lambda r: (r["gram_weight"] > 0, r["features"], r["gram_weight"], r["name"]))
    for r in rows[:1]:
        lines.append(
            f"| (start: {r['init']}) | | | 0 | " + _cells(r["curve"][0], r.get("start", {}))
        )
    for r in rows:
        share = r.get("gram_share")
        lines.append(
            f"| {r['name']} | {_fmt_w(r['gram_weight'])} | "
            f"{'' if share is None else f'{100 * share:.1f} %'} | {r['curve'][-1]['step']} | "
            + _cells(r["curve"][-1], r.get("final", {}))
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calibrate", choices=("vgg19", "filters"),
                    help="measure the loss terms at gram_weight 1 (20 steps)")  # fmt: skip
    ap.add_argument("--row", choices=("vgg19", "filters"), help="train a row with these features")
    ap.add_argument("--times", type=float, default=1.0,
                    help="the row's Gram weight, in multiples of its calibrated weight (0: control)")  # fmt: skip
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--val-every", type=int, default=150)
    ap.add_argument("--init", default=INIT, help="the stage-1 G to start from")
    ap.add_argument("--bank", default=str(BANK), help="the sample bank (bank:FILE)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of the sample order, augmentation and D (0: the main rows)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default=str(default_data_dir(REPO)))
    ap.add_argument("--table", action="store_true", help="print the table of all results")
    ap.add_argument("--rescore", action="store_true",
                    help="add the validation Gram distances to every finished row")  # fmt: skip
    args = ap.parse_args(argv)
    if args.table:
        print(table(sorted(RESULTS.glob("*.json"))))
        return 0
    if args.rescore:
        torch.set_num_threads(args.threads)
        rescore(args)
        return 0
    if (args.calibrate is None) == (args.row is None):
        ap.error("give one of --calibrate FEATURES, --row FEATURES or --table")
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = "python experiments/gram_weight.py " + " ".join(argv or sys.argv[1:])
    machine = {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
               "torch": torch.__version__}  # fmt: skip
    if args.calibrate:
        features = args.calibrate
        cfg = stage_config(args, features, 1.0, CALIBRATION_STEPS)
        out = RESULTS / f"calibrate-{features}.json"
        record: dict[str, Any] = {"benchmark": "gram_weight", "kind": "calibration",
                                  "features": features, "init": args.init, "bank": args.bank,
                                  "command": command, "machine": machine,
                                  "config": cfg.to_dict(), "terms": [], "curve": []}  # fmt: skip
        run(cfg, args, record, out, None)
        means = term_means(record["terms"])
        gram = sum(means.get(k, 0.0) for k in GRAM_TERMS)
        rest = means["loss"] - gram  # at weight 1 the loss holds the Gram terms once
        record.update(means=means, gram_at_weight_1=gram, rest_of_loss=rest,
                      target_share=TARGET_SHARE,
                      calibrated_weight=rest * TARGET_SHARE / ((1 - TARGET_SHARE) * gram))  # fmt: skip
        atomic_write_bytes(out, (json.dumps(record, indent=1) + "\n").encode())
        print(json.dumps({k: record[k] for k in ("gram_at_weight_1", "rest_of_loss",
                                                 "calibrated_weight")}))  # fmt: skip
        print(f"wrote {out}")
        return 0
    from blurvid import load_model
    from blurvid.data import validation_set

    features = args.row
    weight = 0.0 if args.times == 0 else args.times * calibrated_weight(features)
    name = "control" if args.times == 0 else f"{features}-x{args.times:g}"
    name += f"-seed{args.seed}" if args.seed else ""  # another sample order and D: the noise
    cfg = stage_config(args, features, weight, args.steps)
    out = RESULTS / f"{name}.json"
    val = validation_set(args.data_root, cache_path=CACHE / "validation_128.safetensors")
    record = {"benchmark": "gram_weight", "kind": "row", "name": name, "features": features,
              "times_calibrated": args.times, "gram_weight": weight, "init": args.init,
              "bank": args.bank, "command": command, "machine": machine,
              "config": cfg.to_dict(), "terms": [], "curve": []}  # fmt: skip
    trainer = run(cfg, args, record, out, val)
    means = term_means(record["terms"])
    record["gram_share"] = weight * _gram(means) / means["loss"]
    record["final"] = real_sharpness(trainer.model.eval(), Path(args.data_root))
    record["start"] = real_sharpness(load_model(args.init).eval(), Path(args.data_root))
    atomic_write_bytes(out, (json.dumps(record, indent=1) + "\n").encode())
    print(json.dumps({"final": record["final"], "start": record["start"],
                      "gram_share": record["gram_share"]}), flush=True)  # fmt: skip
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
