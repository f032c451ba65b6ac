"""Can G's own motion tell a sharp photo from a blurred one (the do-no-harm guard)?

    python experiments/self_motion_guard.py --model training/release-v0.3/base/latest
    python experiments/self_motion_guard.py --model default --out experiments/results/self_motion_guard_default.json

``max_side="auto"`` moves G's frames towards the input when the blur estimate
(:func:`blurvid.blur_extent.estimate_blur_extent`) reads under 6 px
(:func:`blurvid.working_scale.blur_weight`); its mistakes are blurred photos read as
nearly sharp (docs/api.md: 0.37 of auto's 0.41 dB loss inside the training range) and a
sharp photo read as 3 px. A second reading comes free once G has run: how far its first and
last frames are apart. G's frames 1 and 7 are the centres of the first and last seventh of
the exposure, so the blur G sees is ``7/6`` of that distance; here the 90th percentile of
the motion between them (:func:`blurvid.working_scale.frames_blur_px`: thumbnails with a
long side of :data:`blurvid.order.ORDER_SIDE`, in input pixels; read by OpenCV's DIS flow
until session 16 -- the result files of sessions 13-16 -- and per 32 px tile in torch since
session 17, :mod:`blurvid.tile_motion`: ``..._tiles.json``).

Samples as ``benchmarks/auto_scale.py`` renders them (the 6 validation photos, 512 px, the
project's synthetic camera shake, 8 bits): sharp photos, tiny blur (0.15x the training
range), 1x and 2x the training range; and the real half of the project's validation set
(``val:`` data, ``subset="real"``: 7 consecutive frames of the held-out real videos and
frame sequences averaged, the blur real footage has, whose length no estimate was fitted on).
G at full size. Each guard is one weight per image,
``blur_weight(L)`` of a length ``L``: ``estimate`` (today's guard), ``G's motion``, their
``min``, ``max``, arithmetic ``mean`` and ``geometric`` mean, and ``none`` (G's frames);
and ``either``, the library's guard of that name
(:func:`blurvid.working_scale.guard_weight`: the larger of the estimate and G's motion at
its 75th percentile, the input up to 3 px; session 15: chosen among variants of the
percentile and the threshold on these samples, then checked on others, ``--seed 777``).
Scores: PSNR of the 7 frames against the 7 true frames (best order) minus the input's,
mean and worst per row. Not part of the library.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "benchmarks"))
COMMAND = "python experiments/self_motion_guard.py"
ROWS = {"sharp photos": 0.0, "tiny blur (0.15x)": 0.15, "1x": 1.0, "2x": 2.0}
REAL = "validation, real"
GUARDS = ("none", "estimate", "G's motion", "min", "max", "mean", "geometric", "either")


def weights(est: float, shown: float, shown75: float) -> dict[str, float]:
    """Per guard, the share of G's frames kept: ``blur_weight`` of a length (G's motion
    ``shown`` at its 90th percentile), and the library's ``"either"`` guard (G's motion at
    its 75th percentile ``shown75``, the input up to 3 px)."""
    from blurvid.working_scale import blur_weight, guard_blur_px, guard_weight

    lengths = {
        "none": math.inf,
        "estimate": est,
        "G's motion": shown,
        "min": min(est, shown),
        "max": max(est, shown),
        "mean": (est + shown) / 2,
        "geometric": guard_blur_px(est, shown, "geometric"),
    }
    return {**{k: blur_weight(v) for k, v in lengths.items()},
            "either": guard_weight(est, shown75, "either")}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from auto_scale import input_score, score
    from blur_extent import draw_length, render, validation_photos

    from blurvid import extract_frames, load_model
    from blurvid.blur_extent import estimate_blur_extent
    from blurvid.data import item_generator
    from blurvid.data.base import _dequantize, _quantize
    from blurvid.data.download import default_data_dir
    from blurvid.evaluate import iter_samples
    from blurvid.working_scale import GUARD_QUANTILE, frames_blur_px

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--data-root", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--per-photo", type=int, default=2)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "self_motion_guard.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    g = load_model(args.model).eval()

    def guarded(x: torch.Tensor, truth: torch.Tensor, row: dict) -> dict:
        base = input_score(x, truth)
        frames = extract_frames(x, model=g, max_side=None)
        side = max(x.shape[-2:])
        est, shown = estimate_blur_extent(x), frames_blur_px(frames, side)
        shown75 = frames_blur_px(frames, side, GUARD_QUANTILE["either"])
        row.update(estimate=round(est, 2), g_motion=round(shown, 2),
                   g_motion_q75=round(shown75, 2), gain_db={})  # fmt: skip
        for guard, w in weights(est, shown, shown75).items():
            y = x.unsqueeze(0) + w * (frames - x.unsqueeze(0))
            row["gain_db"][guard] = round(score(y, truth) - base, 3)
        print(f"  {row}", flush=True)
        return row

    rows: dict[str, list[dict]] = {}
    for key, factor in ROWS.items():
        rows[key] = []
        for i, (name, photo) in enumerate(validation_photos(args.data_root)):
            for j in range(args.per_photo):
                gen = item_generator(args.seed, int(100 * factor), i, j)
                s = render(photo, draw_length(factor, gen), gen, frames=True)
                truth = _dequantize(_quantize(s["frames"]))
                row = {"row": key, "photo": name, "arc": round(s["arc"], 2)}
                rows[key].append(guarded(s["blurry"], truth, row))
    rows[REAL] = [guarded(x, truth, {"row": REAL, "sample": name})
                  for name, x, truth in iter_samples(f"val:{args.data_root}", subset="real")]  # fmt: skip
    keys = [*ROWS, REAL]
    table = ["| guard | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for guard in GUARDS:
        cells = []
        for key in keys:
            v = [r["gain_db"][guard] for r in rows[key]]
            cells.append(f"{sum(v) / len(v):+.2f} / {min(v):+.2f}")
        table.append(f"| {guard} | " + " | ".join(cells) + " |")
    result = {
        "command": " ".join([COMMAND, *(sys.argv[1:] if argv is None else argv)]),
        "model": args.model,
        "machine": {"platform": platform.platform(), "torch": torch.__version__},
        "rows": rows,
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(["gain over the input (dB), mean / worst", *table]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
