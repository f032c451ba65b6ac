"""Can plain torch read G's own motion as OpenCV's DIS does, so "auto" needs no OpenCV?

    python experiments/tile_motion.py            # -> results/tile_motion.json (+ table)
    python experiments/tile_motion.py --table    # the table again, from the file

``max_side="auto"`` reads the motion between G's first and last frame
(:func:`blurvid.working_scale.frames_blur_px`) twice: at 1/4 of the size, where over 28 px
(input pixels, 75th percentile) it is a long blur (:func:`~blurvid.working_scale.probed_blur_px`),
and at the working size, where under 3 px (with the estimate) the photo is kept as it is (the
``"either"`` guard). Both thresholds were chosen with OpenCV's DIS flow (sessions 15-16),
and without OpenCV "auto" had neither reading: -0.55 dB inside the training range.
:func:`blurvid.tile_motion.tile_motion` reads one translation per 32 px tile (coarse-to-fine
Lucas-Kanade, in torch). Here both read G's frames of the same samples, and the question is
whether they make the same calls.

Samples as ``experiments/probe_levels.py`` renders them (``benchmarks/blur_extent.py``'s 512 px
squares of synthetic camera shake, 8 bits): sharp, 0.15x, 0.5x, 1x (two per photo), 2x, 3x and
4x (one) the training range; 8 TRAINING photos (seed 777: where the reader's constants were
set) and the 6 held-out validation photos (seed 4242). G (the bundled model) at full size and
at 1/4 (512 and 128 px). Per part: the share of samples on which both readers make the same
call at the guard's 3 px (full size) and at the probe's 28 px (1/4), and the mean and
standard deviation of log2(tiles / DIS) where DIS reads over 3 px.

Found (session 17): on the training photos the same call on 86 of 88 samples at 3 px and on
88 of 88 at 28 px, log2 ratio -0.08 (sd 0.23). On the held-out photos 59 / 66 and 65 / 66:
the tiles read less than DIS on sharp and tiny-blur samples (DIS 2-3 px, tiles 1-2 px: the
safe side for the guard), and on one sharp photo (lomiri_Bridge, water and sky) a first
version read 31 px at 1/4 (DIS 6.5: it would have taken a sharp photo for a long blur); the
tiles' two checks (no single edge, the motion must explain the difference:
``blurvid.tile_motion.COND``, ``ACCEPT``) were added after seeing it, so the held-out part is
not an unseen check of them: ``benchmarks/auto_scale.py`` (``--seed 777`` too) and
``experiments/probe_levels.py --native`` are. Needs OpenCV (for DIS). Not part of the library.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

import study  # experiments/study.py, beside this script
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "benchmarks"))
COMMAND = "python experiments/tile_motion.py"
FACTORS = (0.0, 0.15, 0.5, 1.0, 2.0, 3.0, 4.0)
SIDES = {512: 3.0, 128: 28.0}  # G's size -> the threshold read there (input pixels)
QUANTILE = 0.75


def _read(ends: torch.Tensor, reader: str) -> float:
    """The 75th percentile of the motion between ``ends[0]`` and ``ends[1]`` (thumbnails of
    G's first and last frame), 7/6 of it, in pixels of the 512 px input."""
    from blurvid.flow import estimate_flow
    from blurvid.tile_motion import tile_motion

    if reader == "dis":
        lengths = estimate_flow(ends[:1], ends[1:]).norm(dim=1).flatten()
    else:
        lengths = tile_motion(ends[0], ends[1])
    if lengths.numel() == 0:
        return math.nan
    return float(lengths.quantile(QUANTILE)) * 512 / max(ends.shape[-2:]) * 7 / 6


def readings(g, data_root: Path, held_out: bool, seed: int) -> list[dict]:
    from blur_extent import draw_length, render

    from blurvid import extract_frames
    from blurvid.data import item_generator
    from blurvid.io import read_image
    from blurvid.order import ORDER_SIDE, thumbnail

    names = study.part_photos(data_root, held_out, training=8)
    rows = []
    for factor in FACTORS:
        for i, name in enumerate(names):
            photo = read_image(data_root / "photos" / name)
            for j in range(2 if factor <= 1.0 else 1):
                gen = item_generator(seed, int(100 * factor), i, j)
                s = render(photo, draw_length(factor, gen), gen)
                row: dict = {"factor": factor, "photo": name, "arc": round(s["arc"], 2)}
                for side in SIDES:
                    frames = extract_frames(s["blurry"], model=g, max_side=side)
                    ends = thumbnail(frames[[0, -1]].float(), ORDER_SIDE)
                    row[str(side)] = {r: round(_read(ends, r), 2) for r in ("dis", "tiles")}
                rows.append(row)
        print(f"  {'validation' if held_out else 'training'} {factor:g}x", flush=True)
    return rows


def agreement(rows: list[dict]) -> dict:
    out: dict = {}
    for side, threshold in SIDES.items():
        pairs = [(r[str(side)]["dis"], r[str(side)]["tiles"]) for r in rows]
        same = sum((d > threshold) == (t > threshold) for d, t in pairs)
        out[f"same call at {threshold:g} px (G at {side})"] = f"{same} / {len(pairs)}"
    ratios = [math.log2(max(r[s]["tiles"], 0.5) / r[s]["dis"])
              for r in rows for s in map(str, SIDES) if r[s]["dis"] > 3.0]  # fmt: skip
    out["log2(tiles / DIS) where DIS > 3 px: mean"] = round(statistics.mean(ratios), 3)
    out["log2(tiles / DIS) where DIS > 3 px: sd"] = round(statistics.stdev(ratios), 3)
    return out


def table(result: dict) -> str:
    lines = [f"Command: `{result['command']}`", "", "| | training photos | held-out photos |",
             "|---|---:|---:|"]  # fmt: skip
    for key in result["agreement"]["training"]:
        cells = " | ".join(str(result["agreement"][p][key]) for p in ("training", "validation"))
        lines.append(f"| {key} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from blurvid import load_model

    args = study.parser(__doc__, "tile_motion.json").parse_args(argv)
    if args.table:
        return study.show(args.out, table)
    torch.set_num_threads(args.threads)
    g = load_model(args.model).eval()
    rows = {"training": readings(g, args.data_root, False, 777),
            "validation": readings(g, args.data_root, True, 4242)}  # fmt: skip
    result = {
        "command": study.command(COMMAND, argv),
        "model": args.model,
        "agreement": {part: agreement(r) for part, r in rows.items()},
        "rows": rows,
    }
    study.write(result, args.out, table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
