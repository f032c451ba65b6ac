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
the DIS optical flow between them (:func:`blurvid.working_scale.frames_blur_px`: thumbnails
with a long side of :data:`blurvid.order.ORDER_SIDE`, in input pixels).

Samples as ``benchmarks/auto_scale.py`` renders them (the 6 validation photos, 512 px, the
project's synthetic camera shake, 8 bits): sharp photos, tiny blur (0.15x the training
range), 1x and 2x the training range; G at full size. Each guard is one weight per image,
``blur_weight(L)`` of a length ``L``: ``estimate`` (today's guard), ``G's motion``, their
``min``, ``max``, arithmetic ``mean`` and ``geometric`` mean, and ``none`` (G's frames).
Scores: PSNR of the 7 frames against the 7 true frames (best order) minus the input's,
mean and worst per row. Needs OpenCV (``pip install 'blurvid[flow]'``). Not part of the
library.
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
GUARDS = ("none", "estimate", "G's motion", "min", "max", "mean", "geometric")


def lengths(est: float, shown: float) -> dict[str, float]:
    from blurvid.working_scale import guard_blur_px

    return {
        "none": math.inf,
        "estimate": est,
        "G's motion": shown,
        "min": min(est, shown),
        "max": max(est, shown),
        "mean": (est + shown) / 2,
        "geometric": guard_blur_px(est, shown, "geometric"),
    }


def main(argv: list[str] | None = None) -> int:
    from auto_scale import input_score, score
    from blur_extent import draw_length, render, validation_photos

    from blurvid import extract_frames, load_model
    from blurvid.blur_extent import estimate_blur_extent
    from blurvid.data import item_generator
    from blurvid.data.base import _dequantize, _quantize
    from blurvid.data.download import default_data_dir
    from blurvid.working_scale import blur_weight, frames_blur_px

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
    rows: dict[str, list[dict]] = {}
    for key, factor in ROWS.items():
        rows[key] = []
        for i, (name, photo) in enumerate(validation_photos(args.data_root)):
            for j in range(args.per_photo):
                gen = item_generator(args.seed, int(100 * factor), i, j)
                s = render(photo, draw_length(factor, gen), gen, frames=True)
                x, truth = s["blurry"], _dequantize(_quantize(s["frames"]))
                base = input_score(x, truth)
                frames = extract_frames(x, model=g)
                est, shown = estimate_blur_extent(x), frames_blur_px(frames, max(x.shape[-2:]))
                row = {"photo": name, "arc": round(s["arc"], 2), "estimate": round(est, 2),
                       "g_motion": round(shown, 2), "gain_db": {}}  # fmt: skip
                for guard, length in lengths(est, shown).items():
                    w = blur_weight(length)
                    y = x.unsqueeze(0) + w * (frames - x.unsqueeze(0))
                    row["gain_db"][guard] = round(score(y, truth) - base, 3)
                rows[key].append(row)
                print(f"  {key} {name}: {row}", flush=True)
    table = ["| guard | " + " | ".join(ROWS) + " |", "|---|" + "---:|" * len(ROWS)]
    for guard in GUARDS:
        cells = []
        for key in ROWS:
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
