"""Can G's own motion at a coarse scale read a long blur that the blur-extent estimate misses?

    python experiments/probe_levels.py            # -> results/probe_levels.json (+ table)
    python experiments/probe_levels.py --table    # the table again, from the file
    python experiments/probe_levels.py --native   # -> results/probe_levels_native.json

``max_side="auto"`` picks its working scale from :func:`blurvid.blur_extent.estimate_blur_extent`,
whose 96 px patches read blur 3-4x G's training range (4-24 px) at about half its length
(docs/performance.md, "Blur extent"), and no pyramid rule helps
(``experiments/blur_extent_levels.py``). G itself reads blur inside its training range: its
first and last frames are the centres of the first and last seventh of the exposure, so the
motion between them (:func:`blurvid.working_scale.frames_blur_px`, DIS flow, ``7/6`` of it) is
the blur's length. A long blur is inside the range once the image is small enough. Here G runs
on each sample at full size, 1/2 and 1/4 (512, 256 and 128 px), and the 50th / 75th / 90th
percentile of the motion its frames show is read, in the input's pixels.

Samples as ``benchmarks/blur_extent.py`` renders them (512 px squares of the training data's
synthetic camera shake, 8 bits): sharp, 0.15x, 1x, 2x, 3x, 4x and 8x the training range. Once
on TRAINING photos (8 of them, seed 777: where the rule is chosen) and once on the 6 held-out
validation photos (seed 4242, the samples of ``benchmarks/auto_scale.py``: where it is
checked).

Rules, scored by the working scale they lead to: per sample the absolute log2 error of
``max(reading, 24)`` against ``max(truth, 24)`` (0: the scale the true length gives; blur up to
24 px stays at full size either way), mean per factor and over 1x-4x (the issue's range):

* ``estimate``: today's reading;
* ``G at 1/k (pP)``: G's motion alone at that scale;
* ``G 1/4 p90 > T else estimate``: G's motion at 1/4 (90th percentile) when above ``T`` px
  (input pixels), else the estimate (the first candidate);
* ``G 1/4 pP > T else min(estimate, T)``: the same with the P-th percentile, and when G at 1/4
  reads at most ``T`` the estimate is capped at ``T`` (G says the blur is not that long).

Chosen (session 16): the 75th percentile, ``T`` = 28 px (7 px at the probe level), capped. On
the training photos ``T`` = 24 scores best (0.09 against 0.11 log2 over 1x-4x) but sits just
above the highest readings on in-range blur; 28 keeps twice the highest reading on sharp and
tiny blur as margin. The first candidate (90th percentile, 32 px, no cap) read two in-range
samples of ``benchmarks/auto_scale.py`` as long blur (-0.19 dB against full size at 1x): the
90th percentile of a flow field has outliers.

``--native``: the library's plan (:func:`blurvid.api.plan_working_scale`, the estimate and
G's probe) for every photo of the project's data at its own size (512-1280 px, all sharp):
whether the probe ever reads a sharp photo as a long blur.

G at 1/4 costs 1/16 of a full-size pass (1/2 would cost a quarter, beyond the 20 % the issue
allows the estimate). Also printed: G's highest readings at 1/4 on sharp, tiny and 1x samples
(a threshold must stay above them, or a sharp photo is read as a long blur). Needs OpenCV.
Not part of the library: the rule it chose is
:func:`blurvid.working_scale.probed_blur_px`.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import study  # experiments/study.py, beside this script
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "benchmarks"))
COMMAND = "python experiments/probe_levels.py"
FACTORS = (0.0, 0.15, 1.0, 2.0, 3.0, 4.0, 8.0)
SIDES = (512, 256, 128)
QUANTILES = (0.5, 0.75, 0.9)
THRESHOLDS = (24, 28, 32, 36, 40)


def readings(g, data_root: Path, held_out: bool, per_photo: int, seed: int) -> list[dict]:
    """Per sample: the factor, the true arc length, the estimate and G's motion per side and
    percentile (input pixels)."""
    from blur_extent import draw_length, render

    from blurvid import extract_frames
    from blurvid.blur_extent import estimate_blur_extent
    from blurvid.data import item_generator
    from blurvid.io import read_image
    from blurvid.working_scale import frames_blur_px

    names = study.part_photos(data_root, held_out, training=8)
    rows = []
    for factor in FACTORS:
        for i, name in enumerate(names):
            photo = read_image(data_root / "photos" / name)
            for j in range(per_photo):
                gen = item_generator(seed, int(100 * factor), i, j)
                s = render(photo, draw_length(factor, gen), gen)
                x = s["blurry"]
                row = {"factor": factor, "photo": name, "arc": round(s["arc"], 2),
                       "estimate": round(estimate_blur_extent(x), 2), "g": {}}  # fmt: skip
                for side in SIDES:
                    frames = extract_frames(x, model=g, max_side=side)
                    for q in QUANTILES:
                        v = frames_blur_px(frames, max(x.shape[-2:]), q)
                        row["g"][f"{side}/{round(100 * q)}"] = round(v, 2)
                rows.append(row)
        print(f"  {'validation' if held_out else 'training'} {factor:g}x", flush=True)
    return rows


def _g(side: int, q: int) -> Callable[[dict], float]:
    return lambda r: r["g"][f"{side}/{q}"]


def _probe(t: float, q: int, cap: bool) -> Callable[[dict], float]:
    def rule(r: dict) -> float:
        shown = r["g"][f"128/{q}"]
        if shown > t:
            return shown
        return min(r["estimate"], t) if cap else r["estimate"]

    return rule


SCALE_NAMES = {512: "full", 256: "1/2", 128: "1/4"}
RULES: dict[str, Callable[[dict], float]] = {
    "estimate": lambda r: r["estimate"],
    **{f"G at {SCALE_NAMES[s]} (p{q})": _g(s, q) for s in SIDES for q in (75, 90)},
    **{f"G 1/4 p90 > {t} else estimate": _probe(t, 90, False) for t in THRESHOLDS},
    **{
        f"G 1/4 p{q} > {t} else min(estimate, {t})": _probe(t, q, True)
        for q in (50, 75, 90)
        for t in THRESHOLDS
    },  # fmt: skip
}


def score(rows: list[dict], rule: Callable[[dict], float]) -> dict:
    from blur_extent_levels import scale_error  # experiments/ (the script's folder)

    out: dict = {"error": {}}
    inside = []
    for factor in FACTORS:
        rs = [r for r in rows if r["factor"] == factor]
        errors = [scale_error(rule(r), r["arc"]) for r in rs]
        out["error"][f"{factor:g}x"] = statistics.mean(errors)
        if 1.0 <= factor <= 4.0:
            inside += errors
    out["error_1x_4x"] = statistics.mean(inside)
    return out


def highest_sharp_readings(rows: list[dict]) -> dict[str, dict[str, float]]:
    """G's highest reading at 1/4 per percentile on the sharp, 0.15x and 1x samples."""
    return {f"p{q}": {f"{f:g}x": max(r["g"][f"128/{q}"] for r in rows if r["factor"] == f)
                      for f in (0.0, 0.15, 1.0)} for q in (50, 75, 90)}  # fmt: skip


def table(result: dict) -> str:
    keys = [f"{f:g}x" for f in FACTORS]
    lines = [f"Command: `{result['command']}`", ""]
    for part in ("training", "validation"):
        lines += [f"**{part} photos** ({len(result['rows'][part])} samples): mean |log2| error "
                  "of the working scale per factor, and over 1x-4x", "",  # fmt: skip
                  "| rule | " + " | ".join(keys) + " | 1x-4x |",
                  "|---|" + "---:|" * len(keys) + "---:|"]  # fmt: skip
        for name, s in result["scores"][part].items():
            cells = " | ".join(f"{s['error'][k]:.2f}" for k in keys)
            lines.append(f"| {name} | {cells} | {s['error_1x_4x']:.3f} |")
        lines += ["", "Highest reading of G at 1/4 (input px) on sharp / 0.15x / 1x samples: " +
                  "; ".join(f"{q} " + " / ".join(f"{v:.1f}" for v in high.values())
                            for q, high in result["highest_g_quarter"][part].items()), ""]  # fmt: skip
    return "\n".join(lines)


def native_sharp(g, data_root: Path) -> list[dict]:
    """Per photo of ``data_root/photos`` at its own size: the estimate and the plan."""
    from blurvid.api import plan_working_scale
    from blurvid.blur_extent import estimate_blur_extent
    from blurvid.data import find_split
    from blurvid.io import read_image

    held = find_split().validation_photos
    rows = []
    for path in sorted((data_root / "photos").glob("*.jpg")):
        x = read_image(path)
        plan = plan_working_scale(x, model=g)
        rows.append({"photo": path.name, "held_out": path.name in held,
                     "size": list(x.shape[-2:]), "estimate": round(estimate_blur_extent(x), 2),
                     "plan_px": round(plan.blur_px, 2), "max_side": plan.max_side,
                     "weight": round(plan.weight, 3)})  # fmt: skip
        print(f"  {rows[-1]}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    from blurvid import load_model

    ap = study.parser(__doc__, "probe_levels.json")
    ap.add_argument("--native", action="store_true",
                    help="the plan for every sharp photo at its own size (its own --out)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.table:
        return study.show(args.out, table)
    torch.set_num_threads(args.threads)
    g = load_model(args.model).eval()
    if args.native:
        out = args.out
        if out == ap.get_default("out"):
            out = out.with_name("probe_levels_native.json")
        rows = native_sharp(g, args.data_root)
        fired = [r["photo"] for r in rows if r["plan_px"] != r["estimate"]]
        result = {"command": study.command(COMMAND, argv), "model": args.model,
                  "photos": len(rows), "probe_changed": fired, "rows": rows}  # fmt: skip
        study.write(result, out, f"{len(rows)} photos; the probe changed the reading of "
                                 f"{len(fired)}: {fired}")  # fmt: skip
        return 0
    rows = {"training": readings(g, args.data_root, False, 2, 777),
            "validation": readings(g, args.data_root, True, 2, 4242)}  # fmt: skip
    result = {
        "command": study.command(COMMAND, argv),
        "model": args.model,
        "scores": {
            part: {n: score(r, rule) for n, rule in RULES.items()} for part, r in rows.items()
        },  # fmt: skip
        "highest_g_quarter": {part: highest_sharp_readings(r) for part, r in rows.items()},
        "rows": rows,
    }
    study.write(result, args.out, table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
