"""Would another pyramid rule make the blur-extent estimate good enough for ``max_side="auto"``?

    python experiments/blur_extent_levels.py            # -> results/blur_extent_levels.json
    python experiments/blur_extent_levels.py --table    # the table again, from the file

The estimate (:func:`blurvid.blur_extent.blur_extent`) reads the most textured 96 px tiles of
a pyramid level by level and trusts the first level whose median is at most ``RELIABLE_PX``
(24 px). On blur 4-8x the training range it reads half the truth (docs/performance.md, "Blur
extent"). Here the head scores the tiles of EVERY level (0-2: 512, 256 and 128 px) of the
same synthetic samples as ``benchmarks/blur_extent.py`` (512 px squares of the training data's
camera shake, 8-bit), once on the TRAINING photos (where a rule would be chosen; seed 777,
2 samples per photo and factor) and once on the 6 held-out validation photos (where it is
checked; seed 4242, 3 samples), and then applies candidate rules to the stored readings:

* ``first<=T``: the current rule with ``RELIABLE_PX`` = T (24 today), the median of the tiles;
* ``first<=T qP``: the same with the P-th percentile of the tiles instead of the median;
* ``first<=24, then 16``: 24 px at full size, 16 px at the coarser levels;
* ``band lo-hi``: the mean in log2 of the levels whose median lies in [lo, hi] px, where the
  head was unbiased (else the current rule).

What matters for the automatic scale is the working scale a rule leads to: per sample the
absolute log2 error of ``max(estimate, 24)`` against ``max(truth, 24)`` (0: the scale the
true length gives; blur up to 24 px stays at full size either way), averaged over the samples
of the factors 1x-8x, beside the median estimate / truth per factor.

Not part of the library.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import study  # experiments/study.py, beside this script
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "benchmarks"))
COMMAND = "python experiments/blur_extent_levels.py"
FACTORS = (0.0, 0.15, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
LEVELS = 3


def readings(data_root: Path, held_out: bool, per_photo: int, seed: int) -> list[dict]:
    """Per sample: the factor, the true arc length and every level's tile lengths (px)."""
    from blur_extent import draw_length, render

    from blurvid.blur_extent import (
        PATCH,
        TILES,
        _level,
        _luma,
        _tiles,
        load_blur_extent_net,
        to_length,
    )
    from blurvid.data import item_generator
    from blurvid.io import read_image

    names = study.part_photos(data_root, held_out)
    net = load_blur_extent_net()
    rows = []
    with torch.inference_mode():
        for factor in FACTORS:
            for i, name in enumerate(names):
                photo = read_image(data_root / "photos" / name)
                for j in range(per_photo):
                    gen = item_generator(seed, int(100 * factor), i, j)
                    s = render(photo, draw_length(factor, gen), gen)
                    y = _luma(s["blurry"])
                    h, w = y.shape[-2:]
                    levels = {}
                    for k in range(LEVELS):
                        if min(h, w) / 2**k < PATCH:
                            break
                        tiles, _, _ = _tiles(_level(y, k), TILES)
                        levels[str(k)] = [round(float(v), 2) for v in to_length(net(tiles))]
                    rows.append({"factor": factor, "photo": name, "arc": round(s["arc"], 2),
                                 "levels": levels})  # fmt: skip
            print(f"  {'validation' if held_out else 'training'} {factor:g}x", flush=True)
    return rows


def _quantile(values: list[float], p: float) -> float:
    return float(torch.tensor(values).quantile(p))


def first_level(threshold: Callable[[int], float], p: float = 0.5) -> Callable[[dict], float]:
    """The current rule: the first level whose tile ``p``-quantile is at most ``threshold(k)``."""

    def rule(r: dict) -> float:
        ks = sorted(int(k) for k in r["levels"])
        for k in ks:
            m = _quantile(r["levels"][str(k)], p)
            if m <= threshold(k) or k == ks[-1]:
                return m * 2**k
        raise AssertionError("no level")

    return rule


def band(lo: float, hi: float) -> Callable[[dict], float]:
    fallback = first_level(lambda k: 24.0)

    def rule(r: dict) -> float:
        logs = [math.log2(statistics.median(v)) + int(k) for k, v in r["levels"].items()
                if lo <= statistics.median(v) <= hi]  # fmt: skip
        return 2 ** statistics.mean(logs) if logs else fallback(r)

    return rule


RULES: dict[str, Callable[[dict], float]] = {
    "first<=24 (today)": first_level(lambda k: 24.0),
    "first<=20": first_level(lambda k: 20.0),
    "first<=16": first_level(lambda k: 16.0),
    "first<=12": first_level(lambda k: 12.0),
    "first<=24, then 16": first_level(lambda k: 24.0 if k == 0 else 16.0),
    "first<=20, then 16": first_level(lambda k: 20.0 if k == 0 else 16.0),
    "first<=16 q25": first_level(lambda k: 16.0, 0.25),
    "first<=24 q75": first_level(lambda k: 24.0, 0.75),
    "band 6-18": band(6.0, 18.0),
    "band 4-20": band(4.0, 20.0),
}


def scale_error(estimate: float, arc: float) -> float:
    return abs(math.log2(max(estimate, 24.0) / max(arc, 24.0)))


def score(rows: list[dict], rule: Callable[[dict], float]) -> dict:
    out: dict = {"ratio": {}, "sharp_under_2px": None}
    errors = []
    for factor in FACTORS:
        rs = [r for r in rows if r["factor"] == factor]
        est = [rule(r) for r in rs]
        if factor == 0:
            out["sharp_under_2px"] = sum(e < 2.0 for e in est) / len(est)
            continue
        out["ratio"][f"{factor:g}x"] = statistics.median(e / r["arc"] for e, r in zip(est, rs))
        if factor >= 1:
            errors += [scale_error(e, r["arc"]) for e, r in zip(est, rs)]
    out["scale_error"] = statistics.mean(errors)
    return out


def table(result: dict) -> str:
    keys = [f"{f:g}x" for f in FACTORS if f]
    lines = [f"Command: `{result['command']}`", ""]
    for part in ("training", "validation"):
        lines += [f"**{part} photos** ({len(result['rows'][part])} samples): median estimate / "
                  "truth per factor; sharp photos read under 2 px; mean |log2| error of the "
                  "working scale, 1x-8x", "",  # fmt: skip
                  "| rule | sharp < 2 px | " + " | ".join(keys) + " | scale error |",
                  "|---|---:|" + "---:|" * len(keys) + "---:|"]  # fmt: skip
        for name, s in result["scores"][part].items():
            cells = " | ".join(f"{s['ratio'][k]:.2f}" for k in keys)
            lines.append(f"| {name} | {s['sharp_under_2px']:.0%} | {cells} | "
                         f"{s['scale_error']:.3f} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = study.parser(__doc__, "blur_extent_levels.json", threads=1, model=False)
    args = ap.parse_args(argv)
    if args.table:
        return study.show(args.out, table)
    torch.set_num_threads(args.threads)
    rows = {"training": readings(args.data_root, False, 2, 777),
            "validation": readings(args.data_root, True, 3, 4242)}  # fmt: skip
    result = {
        "command": study.command(COMMAND, argv),
        "scores": {
            part: {n: score(r, rule) for n, rule in RULES.items()} for part, r in rows.items()
        },  # fmt: skip
        "rows": rows,
    }
    study.write(result, args.out, table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
