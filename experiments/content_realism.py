"""Which training data makes G generalise? Photos, procedural scenes, camera realism -- at
equal steps and seeds.

Each row trains G with blurvid's own trainer (``benchmarks/learning_speed.py``'s recipe
``fast``: restoration losses only) on a mix of pre-rendered sample banks and scores it:

* the fixed validation set every ``--val-every`` steps: centre-frame and 7-frame best-order
  gains over the input, overall and for its synthetic and real-video halves apart
  (:func:`learning_speed.score`);
* at the end, the **content gap** (``experiments/content_gap.py``: the same synthetic shake on 6
  held-out vs 6 training photos; a model that memorised its photos scores much higher on the
  training ones) and a **no-reference sharpness** of the centre frame on the real blurry photos
  (``data/blurry`` and ``examples/images``; mean log2 ratio of the luma gradient
  magnitude, centre frame over input, at full size: > 0 is sharper; noise and ringing raise it
  too, so read it beside the PSNR columns).

The banks (128 px samples, seeded, cached in ``benchmarks/.cache/banks/``; ``--bank-size``
samples of the release mix, half as many procedural ones):

* ``release``: release v0.2's mix (photos@3, stills@3, video@1, Sintel frames@0.5);
* ``leaves``: procedural dead-leaves scenes with moving shapes, colours and photo textures from
  the training photos (``leaves:PHOTOS``, :mod:`blurvid.data.leaves`);
* ``*-cam`` / ``*-<step>``: the same with camera realism (:mod:`blurvid.data.camera`) on the
  synthetic sources: ``all`` or one step (highlights, noise, tone, jpeg);
* ``steady``: the training photos under a nearly steady camera (``steady:PHOTOS``, motion of at
  most 3 px, :data:`blurvid.data.shake.STEADY`): nearly sharp inputs whose frames are the input.

At the end each row also gets **do no harm** (``benchmarks/auto_scale.py``'s rows at full
size: the 6 held-out photos as 512 px squares, sharp and with tiny blur of 0.6-3.6 px, 12
samples each): the 7 frames' PSNR against the truth minus the input's, mean and worst case.

Rows mix banks by weight (``ROWS``). ``--init MODEL`` fine-tunes a trained G (the release
question: does new data move a G that has seen its photos 100 times?); without it G starts
from scratch. Usage::

    python experiments/content_realism.py --row leaves25 --steps 1200 \\
        --init training/release-v0.2/b-step87000 --threads 1
    python experiments/content_realism.py --table      # markdown table of every result file
    python experiments/content_realism.py --plot docs/images/content_realism.png

Writes ``experiments/results/content_realism/<row><tag>.json`` (atomically, after every
validation).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # content_gap (experiments/)
sys.path.insert(1, str(HERE.parent / "benchmarks"))  # learning_speed (benchmarks/)

from content_gap import build_sets, score_sets  # noqa: E402
from learning_speed import CACHE, build_config, train_curve  # noqa: E402

from blurvid._fs import atomic_write_bytes  # noqa: E402
from blurvid.data.download import default_data_dir  # noqa: E402

RESULTS = HERE / "results" / "content_realism"

#: release v0.2's data mix (recipes/release-v0.2.toml)
RELEASE = (
    "photos:{root}/photos@3",
    "stills:{root}/video@3",
    "video:{root}/video@1",
    "frames:{root}/frames/sintel_raft@0.5",
)
LEAVES = ("leaves:{root}/photos",)
STEADY = ("steady:{root}/photos",)
#: bank name -> (data specs, camera realism)
BANKS: dict[str, tuple[tuple[str, ...], str]] = {
    "release": (RELEASE, "off"),
    "leaves": (LEAVES, "off"),
    "steady": (STEADY, "off"),
    "release-cam": (RELEASE, "all"),
    "leaves-cam": (LEAVES, "all"),
}
for _step in ("highlights", "noise", "tone", "jpeg"):
    BANKS[f"release-{_step}"] = (RELEASE, _step)
    BANKS[f"leaves-{_step}"] = (LEAVES, _step)

#: row name -> {bank: weight}
ROWS: dict[str, dict[str, float]] = {
    "release": {"release": 1.0},
    "leaves25": {"release": 3.0, "leaves": 1.0},
    "leaves50": {"release": 1.0, "leaves": 1.0},
    "leaves100": {"leaves": 1.0},
    "release-cam": {"release-cam": 1.0},
    "leaves100-cam": {"leaves-cam": 1.0},
    "leaves25-cam": {"release-cam": 3.0, "leaves-cam": 1.0},
    "leaves50-cam": {"release-cam": 1.0, "leaves-cam": 1.0},
    "steady10": {"release": 9.0, "steady": 1.0},
    "steady25": {"release": 3.0, "steady": 1.0},
}
for _step in ("highlights", "noise", "tone", "jpeg"):
    ROWS[f"leaves25-{_step}"] = {f"release-{_step}": 3.0, f"leaves-{_step}": 1.0}
    ROWS[f"release-{_step}"] = {f"release-{_step}": 1.0}


def bank_size(name: str, size: int) -> int:
    """Samples in bank ``name``: ``size`` for the release mix, half of it for the procedural
    scenes (5x slower to render; a quarter of a mix's draws in the main rows)."""
    return size if name.startswith("release") else size // 2


def bank(name: str, root: str, size: int, seed: int) -> Any:
    """The bank ``name`` as a :class:`~blurvid.train.data.BankDataset` (rendered once)."""
    from blurvid.train.data import dataset_from_specs

    specs, camera = BANKS[name]
    return dataset_from_specs(
        [s.format(root=root) for s in specs],
        crop=128,
        seed=seed,
        bank_size=size,
        bank_dir=CACHE / "banks" / name,
        camera=camera,
    )


def real_sharpness(model: torch.nn.Module, root: Path) -> dict[str, float]:
    """Mean log2 ratio of the centre frame's luma gradient over the input's, real photos."""
    from working_resolution import gradient_sharpness, real_photos

    from blurvid import extract_frames
    from blurvid.io import read_image

    ratios = []
    for path in real_photos(root):
        x = read_image(path)[None]
        with torch.inference_mode():
            centre = extract_frames(x, model=model, max_side=None)[:, 3]
        ratios.append(math.log2(gradient_sharpness(centre) / gradient_sharpness(x)))
    return {"real_sharpness_log2": round(sum(ratios) / len(ratios), 4), "real_photos": len(ratios)}


def no_harm(model: torch.nn.Module, root: Path) -> dict[str, dict[str, float]]:
    """G at full size on sharp photos and tiny blur (``benchmarks/auto_scale.py``'s do-no-harm
    rows, the same seed): mean and worst gain (dB) of the 7 frames over the input."""
    from auto_scale import synthetic

    out = {}
    for factor, key in ((0.0, "sharp"), (0.15, "tiny")):
        with torch.inference_mode():
            rows = synthetic(model, root, factor, 2, 4242, ("full",))
        gains = [r["gain_db"]["full"] for r in rows]
        out[key] = {"mean_db": round(sum(gains) / len(gains), 3), "worst_db": min(gains),
                    "samples": len(gains)}  # fmt: skip
    return out


def _final_scores(model: torch.nn.Module, sets: Any, root: Path) -> dict[str, Any]:
    return {"content_gap": score_sets(model, sets), **real_sharpness(model, root),
            "no_harm": no_harm(model, root)}  # fmt: skip


def _table_row(name: str, init: str, last: dict, fin: dict) -> str:
    gap = fin.get("content_gap", {})
    cells = [
        name, init, str(last["step"]), f"{last['gain_db']:+.2f}", f"{last['centre_gain_db']:+.2f}",
        f"{last['synthetic_centre_gain_db']:+.2f}", f"{last['real_centre_gain_db']:+.2f}",
    ]  # fmt: skip
    if gap:
        cells += [
            f"{gap[k]['centre_gain_db']:+.2f}" for k in ("held-out photos", "training photos")
        ]
        cells.append(f"{gap['gap_db']['centre_gain_db']:+.2f}")
    else:
        cells += ["", "", ""]
    cells.append(f"{fin['real_sharpness_log2']:+.3f}" if "real_sharpness_log2" in fin else "")
    harm = fin.get("no_harm", {})
    cells += [f"{harm[k]['mean_db']:+.2f} / {harm[k]['worst_db']:+.2f}" if k in harm else ""
              for k in ("sharp", "tiny")]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def table(paths: list[Path]) -> str:
    """A markdown table of result files (the last validation of each)."""
    head = (
        "| row | init | steps | 7 frames | centre | synthetic centre | real-video centre | "
        "held-out photos centre | training photos centre | gap | real photos sharpness | "
        "no harm, sharp: mean / worst | no harm, tiny blur: mean / worst |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    records = [json.loads(p.read_text()) for p in paths]
    starts: dict[str, dict] = {}  # the models the rows fine-tune, as they are
    for r in records:  # the start's scores with the most columns (older files lack no_harm)
        if r.get("start") and len(r["start"]) > len(starts.get(r["init"], {}).get("start", {})):
            starts[r["init"]] = r
    lines = [head]
    for init, r in starts.items():
        lines.append(_table_row("(start, no training)", init, r["curve"][0], r["start"]))
    for r in records:
        lines.append(
            _table_row(
                r["row"] + r.get("tag", ""),
                r["init"] or "scratch",
                r["curve"][-1],
                r.get("final", {}),
            )  # fmt: skip
        )
    return "\n".join(lines)


def plot(paths: list[Path], out: Path) -> None:
    """Validation curves of every row (centre-frame gain on the synthetic and on the real-video
    half) and the final content gap, into ``out`` (needs matplotlib: the ``docs`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [json.loads(p.read_text()) for p in paths]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    for r in runs:
        steps = [c["step"] for c in r["curve"]]
        name = r["row"] + r.get("tag", "")
        ax[0].plot(
            steps, [c["synthetic_centre_gain_db"] for c in r["curve"]], marker="o", label=name
        )
        ax[1].plot(steps, [c["real_centre_gain_db"] for c in r["curve"]], marker="o", label=name)
    names = [r["row"] + r.get("tag", "") for r in runs if "final" in r]
    gaps = [r["final"]["content_gap"] for r in runs if "final" in r]
    x = range(len(names))
    ax[2].bar([i - 0.2 for i in x], [g["held-out photos"]["centre_gain_db"] for g in gaps], 0.4,
              label="held-out photos")  # fmt: skip
    ax[2].bar([i + 0.2 for i in x], [g["training photos"]["centre_gain_db"] for g in gaps], 0.4,
              label="training photos")  # fmt: skip
    ax[2].set_xticks(list(x), names, rotation=30, ha="right", fontsize=8)
    titles = ("validation, synthetic half", "validation, real-video half", "content gap (end)")
    for a, t in zip(ax, titles):
        a.set_title(t, fontsize=10)
        a.set_ylabel("centre-frame gain over the input (dB)")
        a.grid(alpha=0.3)
    ax[0].set_xlabel("steps")
    ax[1].set_xlabel("steps")
    ax[0].legend(fontsize=7)
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--row", choices=sorted(ROWS), help="the data mix to train on")
    ap.add_argument("--steps", type=int, default=1200, help="steps (the cosine's length)")
    ap.add_argument("--init", default=None, help="fine-tune this model (default: from scratch)")
    ap.add_argument("--val-every", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--bank-size", type=int, default=3000)
    ap.add_argument("--bank-seed", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0, help="seed of init, order and augmentation")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-root", default=str(default_data_dir(HERE.parent)))
    ap.add_argument("--split", default=str(HERE.parent / "scripts" / "data_split.json"))
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    ap.add_argument("--render-only", action="store_true", help="render the row's banks, exit")
    ap.add_argument("--finish", action="store_true",
                    help="score a finished run's exported model (its end-of-run scores only)")  # fmt: skip
    ap.add_argument("--table", action="store_true", help="print the table of all results")
    ap.add_argument("--plot", metavar="PNG", help="plot every result into this file")
    args = ap.parse_args(argv)
    if args.table or args.plot:
        if args.table:
            print(table(sorted(RESULTS.glob("*.json"))))
        if args.plot:
            plot(sorted(RESULTS.glob("*.json")), Path(args.plot))
        return 0
    if args.row is None:
        ap.error("--row is required (or --table)")
    torch.set_num_threads(args.threads)
    from blurvid.data import validation_set
    from blurvid.train.data import MixDataset

    parts = [(bank(b, args.data_root, bank_size(b, args.bank_size), args.bank_seed), w)
             for b, w in ROWS[args.row].items()]  # fmt: skip
    if args.render_only:
        return 0
    dataset = parts[0][0] if len(parts) == 1 else MixDataset(parts, args.bank_size, seed=args.seed)
    cfg = build_config("fast", args.steps, args.batch_size).replace(
        data=tuple(f"bank:{b}@{w}" for b, w in ROWS[args.row].items()),
        init=args.init,
        seed=args.seed,
    )
    val = validation_set(args.data_root, cache_path=CACHE / "validation_128.safetensors")
    sets = build_sets(Path(args.data_root), Path(args.split))
    name = f"{args.row}{args.tag}"
    out = RESULTS / f"{name}.json"
    record: dict[str, Any] = {
        "benchmark": "content_realism",
        "row": args.row,
        "tag": args.tag,
        "mix": ROWS[args.row],
        "banks": {b: {"specs": BANKS[b][0], "camera": BANKS[b][1]} for b in ROWS[args.row]},
        "init": args.init,
        "config": cfg.to_dict(),
        "command": "python experiments/content_realism.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": args.threads,
            "torch": torch.__version__,
        },  # fmt: skip
        "curve": [],
    }
    run_dir = CACHE / f"run-content-{name}"
    if args.finish:  # the run is done: its curve is in the result file, G in run_dir/model
        from blurvid import load_model

        record = json.loads(out.read_text())
        model = load_model(str(run_dir / "model")).eval()
    else:
        trainer = train_curve(cfg, dataset, val, run_dir, record, out, args.val_every, math.inf)
        model = trainer.model.eval()
    record["final"] = _final_scores(model, sets, Path(args.data_root))
    if args.init and "no_harm" not in record.get("start", {}):
        from blurvid import load_model

        start = load_model(args.init).eval()
        record["start"] = _final_scores(start, sets, Path(args.data_root))
    atomic_write_bytes(out, (json.dumps(record, indent=1) + "\n").encode())
    print(json.dumps(record["final"]), flush=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
