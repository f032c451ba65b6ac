"""Blur extent: the estimate's error against the true path length, and its cost.

    python benchmarks/blur_extent.py     # -> benchmarks/results/blur_extent.json (+ Markdown)

**Error.** The 6 validation photos (held out of the head's fit, ``scripts/data_split.json``),
512 px squares of the training data's synthetic camera shake (``render_shake`` with the fit's
settings, :func:`blurvid.train.blur_extent.sample_config`, camera realism off), quantised to 8
bits; camera paths of 0 (sharp), 0.15x, 1x, 2x, 4x and 8x the training range 4-24 px (the
range times the factor, uniform), ``--per-photo`` samples each. Per factor: the median ratio of
the estimate to the true arc length, the median absolute log2 error, and the share within a
factor 1.5 / 2; for sharp samples the median estimate and the share read as under 2 px (what
``max_side="auto"`` treats as no blur).

**Cost.** :func:`blurvid.blur_extent.estimate_blur_extent` on 1280x720 and 4000x3000 images
(a blurred photo, upscaled), beside one ``extract_frames`` of the 1280x720 image, same run,
best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZE = 512
FACTORS = (0.0, 0.15, 1.0, 2.0, 4.0, 8.0)
COMMAND = "python benchmarks/blur_extent.py"


def render(photo: torch.Tensor, length: float, gen: torch.Generator, frames: bool = False) -> dict:
    """One ``SIZE`` px sample with a camera path of ``length`` px: the 8-bit blurry image, the
    true arc length (and the 7 sharp frames with ``frames``)."""
    from blurvid.data import render_shake
    from blurvid.data.base import _dequantize, _quantize
    from blurvid.train.blur_extent import sample_config

    cfg = sample_config(length, realism=False, size=SIZE).replace(photo_scale=(1.0, 1.0))
    s = render_shake(photo, cfg, gen, debug=True)
    tr = s["trajectory"]
    out = {
        "blurry": _dequantize(_quantize(s["blurry"])),
        "arc": float((tr[1:] - tr[:-1]).norm(dim=1).sum()),
    }
    if frames:
        out["frames"] = s["frames"]
    return out


def validation_photos(data_root: Path) -> list[tuple[str, torch.Tensor]]:
    from blurvid.data import find_split
    from blurvid.io import read_image

    return [(n, read_image(data_root / "photos" / n)) for n in find_split().validation_photos]


def draw_length(factor: float, gen: torch.Generator) -> float:
    """A path length ``factor`` x the training range 4-24 px (uniform)."""
    u = float(torch.rand((), generator=gen))
    return factor * (4.0 + 20.0 * u)


def error_rows(data_root: Path, per_photo: int, seed: int) -> dict[str, list[dict]]:
    from blurvid.blur_extent import blur_extent
    from blurvid.data import item_generator

    out: dict[str, list[dict]] = {}
    for factor in FACTORS:
        rows = []
        for i, (name, photo) in enumerate(validation_photos(data_root)):
            for j in range(per_photo):
                gen = item_generator(seed, int(100 * factor), i, j)
                s = render(photo, draw_length(factor, gen), gen)
                be = blur_extent(s["blurry"])
                rows.append({"photo": name, "arc": round(s["arc"], 2),
                             "estimate": round(be.length, 2), "level": be.level})  # fmt: skip
        out[f"{factor:g}x"] = rows
        print(f"  {factor:g}x: {[(r['arc'], r['estimate']) for r in rows]}", flush=True)
    return out


def summary(rows: list[dict]) -> dict[str, float]:
    import math

    if all(r["arc"] == 0 for r in rows):
        est = [r["estimate"] for r in rows]
        return {"median_estimate_px": statistics.median(est),
                "under_2px": sum(e < 2.0 for e in est) / len(est)}  # fmt: skip
    ratio = [r["estimate"] / r["arc"] for r in rows]
    err = [abs(math.log2(max(r, 1e-3))) for r in ratio]
    return {
        "median_ratio": statistics.median(ratio),
        "median_abs_log2": statistics.median(err),
        "within_1.5x": sum(e <= math.log2(1.5) for e in err) / len(err),
        "within_2x": sum(e <= 1.0 for e in err) / len(err),
    }


def cost(data_root: Path, repeat: int) -> dict[str, float]:
    from blurvid import extract_frames, load_model
    from blurvid.blur_extent import estimate_blur_extent
    from blurvid.data import item_generator

    _, photo = validation_photos(data_root)[0]
    s = render(photo, 16.0, item_generator(0, 0))["blurry"]
    images = {
        "1280x720": F.interpolate(s[None], size=(720, 1280), mode="bilinear")[0],
        "4000x3000": F.interpolate(s[None], size=(3000, 4000), mode="bilinear")[0],
    }
    g = load_model("default").eval()

    def best(fn) -> float:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    out = {f"estimate {k} (s)": best(lambda im=im: estimate_blur_extent(im)) for k, im in images.items()}  # fmt: skip
    out["extract_frames 1280x720 (s)"] = best(
        lambda: extract_frames(images["1280x720"], model=g, max_side=None)
    )
    # the default since session 17: the estimate, G's probe at 1/4, the guard's tile motion
    out["extract_frames 1280x720, max_side='auto' (s)"] = best(
        lambda: extract_frames(images["1280x720"], model=g, max_side="auto")
    )
    return out


def save_result(result: dict, table: str, out: Path) -> None:
    """``result`` with its Markdown ``table`` written to ``out`` (atomically); the table printed."""
    from blurvid._fs import atomic_write_bytes

    result["table"] = table
    atomic_write_bytes(out, (json.dumps(result, indent=1) + "\n").encode())
    print(table)


def markdown(result: dict) -> str:
    lines = [
        f"Command: `{result['command']}`",
        "",
        "| blur (x training range 4-24 px) | samples | median estimate / truth | median abs log2 "
        "error | within 1.5x | within 2x |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, s in result["summary"].items():
        n = len(result["rows"][key])
        if "median_ratio" in s:
            lines.append(f"| {key} | {n} | {s['median_ratio']:.2f} | {s['median_abs_log2']:.2f} | "
                         f"{s['within_1.5x']:.0%} | {s['within_2x']:.0%} |")  # fmt: skip
        else:
            lines.append(f"| {key} (sharp) | {n} | median estimate {s['median_estimate_px']:.2f} "
                         f"px | | under 2 px: {s['under_2px']:.0%} | |")  # fmt: skip
    c = result["cost"]
    lines += ["", "| cost | seconds |", "|---|---:|"]
    lines += [f"| {k[:-4]} | {v:.3f} |" for k, v in c.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--per-photo", type=int, default=3)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-cost", action="store_true", help="skip the timing")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "blur_extent.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows = error_rows(args.data_root, args.per_photo, args.seed)
    result = {
        "command": " ".join([COMMAND, *(sys.argv[1:] if argv is None else argv)]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
            "threads": args.threads,
        },  # fmt: skip
        "rows": rows,
        "summary": {k: summary(v) for k, v in rows.items()},
        "cost": {} if args.no_cost else cost(args.data_root, args.repeat),
    }
    save_result(result, markdown(result), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
