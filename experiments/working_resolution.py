"""Working resolution: how sharp are the frames when G runs at full size or downscaled?

Real photos carry motion blur of tens of pixels at full size, more than the training range
(camera paths of 4-24 px on 128 px crops). Downscaling before G (``max_side``) shrinks the
blur into that range, at the cost of resolution. This measures both sides of the trade:

1. **Real blurry photos** (``data/blurry`` and ``examples/images``, identical files
   counted once), no ground truth: each photo is processed at full size and at long sides
   512, 1024, 2048 (those below its size). Every centre frame, and the blurry input, is
   downscaled to the smallest tested size (antialiased bilinear), and a no-reference
   sharpness measure of the frame is divided by the input's: a **gain** (> 1: sharper than
   the input). Two measures: mean gradient magnitude and Laplacian variance of the luma.
   Also the time per photo (best of ``--repeat`` runs).
2. **Synthetic blur with ground truth**: the validation photos of ``scripts/data_split.json``,
   blurred with the project's synthetic shake (``blurvid.data.render_shake``) with every
   motion length 3x the training range (camera paths 12-72 px at full size). G runs at full
   size and at 1/2 and 1/3 of it (at 1/3 the blur is back in the training range); the
   centre frame's PSNR against the sharp centre frame is compared at the 1/3 scale, and
   as a gain over the blurry input there.
3. **Downscaling filter**: on the same synthetic samples at scale 1/2 and 1/3, G's gain over
   its input when the input is downscaled with antialiased bilinear (what ``max_side``
   uses, like the training data), area averaging, or antialiased bicubic.

    python experiments/working_resolution.py   # -> experiments/results/working_resolution.json

Prints the Markdown tables quoted in docs/performance.md. Needs the project's data
(``blurvid data download data/``, or ``--data-root``). Not part of the library.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZES = (512, 1024, 2048)
COMMAND = "python experiments/working_resolution.py"


# ----------------------------------------------------------------------------- measures
def resize(x: torch.Tensor, h: int, w: int, mode: str = "bilinear") -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 3, h, w)`` antialiased (``mode``: bilinear, bicubic, area)."""
    if tuple(x.shape[-2:]) == (h, w):
        return x
    if mode == "area":
        return F.interpolate(x, size=(h, w), mode="area")
    return F.interpolate(x, size=(h, w), mode=mode, antialias=True, align_corners=False).clamp_(
        0.0, 1.0
    )


def luma(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, H, W)`` (ITU-R 601 weights)."""
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1)


def gradient_sharpness(x: torch.Tensor) -> float:
    """Mean gradient magnitude of the luma (forward differences, 1 px border dropped)."""
    y = luma(x)
    gx = y[:, :-1, 1:] - y[:, :-1, :-1]
    gy = y[:, 1:, :-1] - y[:, :-1, :-1]
    return float(torch.sqrt(gx**2 + gy**2).mean())


def laplacian_sharpness(x: torch.Tensor) -> float:
    """Variance of the 4-neighbour Laplacian of the luma."""
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    return float(F.conv2d(luma(x)[:, None], k).var())


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a - b) ** 2).mean().clamp_min(1e-10)))


# ----------------------------------------------------------------------------- 1. real photos
def real_photos(data_root: Path) -> list[Path]:
    """The real blurry photos, identical files (by content) counted once."""
    from blurvid.io import list_images

    seen: dict[str, Path] = {}
    for folder in (data_root / "blurry", REPO / "examples" / "images"):
        for path in list_images(folder) if folder.is_dir() else []:
            seen.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    return sorted(seen.values(), key=lambda p: p.name)


def timed_centre(x, g, max_side, repeat: int) -> tuple[torch.Tensor, float]:
    from blurvid import extract_frames

    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        frames = extract_frames(x, model=g, max_side=max_side)
        best = min(best, time.perf_counter() - start)
    return frames[:, frames.shape[1] // 2], best


def measure_real(paths: list[Path], g, repeat: int) -> list[dict]:
    from blurvid.api import working_size
    from blurvid.io import read_image

    rows = []
    for path in paths:
        x = read_image(path)[None]
        h, w = x.shape[-2:]
        sizes = [None] + [s for s in SIZES if s < max(h, w)]
        common = working_size(h, w, min((s for s in sizes if s), default=None))
        ref = resize(x, *common)
        base = {"gradient": gradient_sharpness(ref), "laplacian": laplacian_sharpness(ref)}
        row: dict = {"photo": path.name, "size": f"{w}x{h}",
                     "compared_at": f"{common[1]}x{common[0]}", "runs": {}}  # fmt: skip
        for s in sizes:
            centre, seconds = timed_centre(x, g, s, repeat)
            small = resize(centre, *common)
            row["runs"]["full" if s is None else str(s)] = {
                "working_size": f"{centre.shape[-1]}x{centre.shape[-2]}",
                "gradient_gain": round(gradient_sharpness(small) / base["gradient"], 4),
                "laplacian_gain": round(laplacian_sharpness(small) / base["laplacian"], 4),
                "seconds": round(seconds, 3),
            }
        rows.append(row)
        print(f"  {path.name}: " + ", ".join(
            f"{k} x{v['gradient_gain']:.3f} ({v['seconds']:.2f} s)" for k, v in row["runs"].items()
        ), flush=True)  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- 2. synthetic
#: Every motion of the default ShakeConfig (the training range) times this factor.
BLUR_FACTOR = 3


def synthetic_samples(data_root: Path, per_photo: int, seed: int = 1234) -> list[dict]:
    """Full-size squares (the largest multiple of 32 that fits the photo with the motion
    margin) with camera paths of 12-72 px, quantised to 8 bits like a photo."""
    from blurvid.data import ShakeConfig, find_split, item_generator, render_shake
    from blurvid.data.base import _dequantize, _quantize
    from blurvid.io import read_image

    base = ShakeConfig()
    samples = []
    for i, name in enumerate(find_split().validation_photos):
        photo = read_image(data_root / "photos" / name)
        short = min(photo.shape[-2:])
        size = (short - 2 * BLUR_FACTOR * int(base.path_length[1]) - 16) // 32 * 32
        cfg = base.replace(
            size=size,
            photo_scale=(1.0, 1.0),  # native pixels: the photo is never resampled
            path_length=tuple(BLUR_FACTOR * v for v in base.path_length),
            sprite_path_length=tuple(BLUR_FACTOR * v for v in base.sprite_path_length),
        )
        for j in range(per_photo):
            s = render_shake(photo, cfg, item_generator(seed, i, j))
            samples.append({
                "photo": name, "size": size,
                "blurry": _dequantize(_quantize(s["blurry"]))[None],
                "sharp": _dequantize(_quantize(s["frames"][cfg.num_frames // 2]))[None],
            })  # fmt: skip
    return samples


SCALES = (("full", 1), ("1/2", 2), ("1/3", 3))
FILTERS = ("bilinear", "area", "bicubic")


def measure_synthetic(samples: list[dict], g) -> tuple[list[dict], dict]:
    from blurvid import extract_frames

    rows, filt = [], {f"{f} {name}": [] for f in FILTERS for name, d in SCALES if d > 1}
    for s in samples:
        size = s["size"]
        common = (size // 3, size // 3)
        sharp_c = resize(s["sharp"], *common)
        ident = psnr(resize(s["blurry"], *common), sharp_c)
        row = {"photo": s["photo"], "size": size, "identity_db": round(ident, 3), "runs": {}}
        for name, d in SCALES:
            max_side = None if d == 1 else size // d
            frames = extract_frames(s["blurry"], model=g, max_side=max_side)
            centre = resize(frames[:, frames.shape[1] // 2], *common)
            row["runs"][name] = {
                "working_side": size // d,
                "psnr_db": round(psnr(centre, sharp_c), 3),
                "gain_db": round(psnr(centre, sharp_c) - ident, 3),
            }
            if d == 1:
                continue
            for mode in FILTERS:  # G's gain over its own input, at the working size
                b, t = (
                    resize(s["blurry"], size // d, size // d, mode),
                    resize(s["sharp"], size // d, size // d, mode),
                )
                out = extract_frames(b, model=g, max_side=None)
                filt[f"{mode} {name}"].append(psnr(out[:, out.shape[1] // 2], t) - psnr(b, t))
        rows.append(row)
        print(f"  {s['photo']} {size}px: identity {ident:.2f} dB, " + ", ".join(
            f"{k} {v['gain_db']:+.3f}" for k, v in row["runs"].items()
        ), flush=True)  # fmt: skip
    filters = {k: round(sum(v) / len(v), 3) for k, v in filt.items()}
    return rows, filters


# ----------------------------------------------------------------------------- report
MEASURES = ["gradient", "laplacian"]


def _geo_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def markdown(result: dict) -> str:
    keys = ["full", *map(str, SIZES)]
    lines = [
        f"Command: `{result['command']}` ({result['machine']['threads']} CPU threads, "
        f"model `{result['model']}`)",
        "",
        "Real blurry photos: sharpness gain of the centre frame over the input (mean gradient "
        "magnitude, both at the smallest tested size; > 1 = sharper), and seconds per photo",
        "",
        "| photo | size | " + " | ".join(f"{k} gain | {k} s" for k in keys) + " |",
        "|---|---|" + "---:|---:|" * len(keys),
    ]
    for row in result["real"]:
        cells = []
        for k in keys:
            r = row["runs"].get(k)
            cells += [f"{r['gradient_gain']:.3f}", f"{r['seconds']:.2f}"] if r else ["-", "-"]
        lines.append(f"| {row['photo']} | {row['size']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| photos with a long side over | n | full: gradient / Laplacian gain | downscaled: "
        "gradient / Laplacian gain | sharper downscaled (gradient / Laplacian) |",
        "|---|---:|---:|---:|---:|",
    ]
    for k in keys[1:]:  # full vs k on the same photos: those where k was tested
        both = [r["runs"] for r in result["real"] if k in r["runs"]]
        if not both:
            continue
        cells, summary = [], []
        for size in ("full", k):
            gains = [_geo_mean([r[size][f"{m}_gain"] for r in both]) for m in MEASURES]
            summary.append([round(v, 4) for v in gains])
            cells.append(" / ".join(f"{v:.3f}" for v in gains))
        wins = [sum(r[k][f"{m}_gain"] > r["full"][f"{m}_gain"] for r in both) for m in MEASURES]
        result["summary"][f"real_gain_geomean_full_vs_{k}"] = {
            "photos": len(both), "full": summary[0], k: summary[1], "measures": MEASURES}  # fmt: skip
        lines.append(
            f"| {k} (geometric mean) | {len(both)} | {cells[0]} | {cells[1]} | "
            f"{wins[0]} / {wins[1]} of {len(both)} |"
        )
    lines += [
        "",
        f"Synthetic shake at {BLUR_FACTOR}x the training motion (validation photos, camera "
        "paths 12-72 px at full size): PSNR of the centre frame, compared at 1/3 of the "
        "full size, and its gain over the blurry input",
        "",
        "| photo | full size | input dB | full dB (gain) | 1/2 dB (gain) | 1/3 dB (gain) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in result["synthetic"]:
        cells = [f"{v['psnr_db']:.2f} ({v['gain_db']:+.3f})" for v in row["runs"].values()]
        lines.append(
            f"| {row['photo']} | {row['size']} | {row['identity_db']:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    means = {
        name: sum(r["runs"][name]["gain_db"] for r in result["synthetic"])
        / len(result["synthetic"])
        for name, _ in SCALES
    }
    result["summary"].update({f"synthetic_gain_db_mean_{k}": round(v, 3) for k, v in means.items()})
    lines += [
        "| **mean gain** | | | " + " | ".join(f"**{v:+.3f}**" for v in means.values()) + " |",
        "",
    ]
    for name, _ in SCALES[1:]:  # paired: the same sample downscaled vs at full size
        diff = [
            r["runs"][name]["gain_db"] - r["runs"]["full"]["gain_db"] for r in result["synthetic"]
        ]
        mean = sum(diff) / len(diff)
        se = math.sqrt(sum((v - mean) ** 2 for v in diff) / (len(diff) - 1) / len(diff))
        result["summary"][f"synthetic_paired_db_{name}_minus_full"] = [round(mean, 3), round(se, 3)]
        lines.append(
            f"Paired, {name} minus full: {mean:+.3f} dB +- {se:.3f} (standard error, "
            f"{len(diff)} samples), {sum(v > 0 for v in diff)} of {len(diff)} samples higher"
        )
    lines += [
        "",
        "Downscaling filter: mean gain (dB) of G's centre frame over its input, both "
        "downscaled with the filter, at the working size",
        "",
        "| scale | " + " | ".join(FILTERS) + " |",
        "|---|" + "---:|" * len(FILTERS),
    ]
    for name, d in SCALES:
        if d > 1:
            cells = [f"{result['filters'][f'{m} {name}']:+.3f}" for m in FILTERS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write(path: Path, result: dict) -> None:
    from blurvid._fs import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(result, indent=1) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    from blurvid import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--model", default="default")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per size (best kept)")
    ap.add_argument("--per-photo", type=int, default=2, help="synthetic samples per photo")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "working_resolution.json")
    ap.add_argument("--table", action="store_true",
                    help="re-render the tables and the summary of --out from its runs; run nothing")  # fmt: skip
    args = ap.parse_args(argv)
    if args.table:
        result = json.loads(args.out.read_text())
        result["summary"] = {}
        print(markdown(result))
        _write(args.out, result)
        return 0
    if not (args.data_root / "blurry").is_dir():
        ap.error(
            f"no data at {args.data_root}: run `blurvid data download data/` or pass "
            "--data-root (the folder with blurry/)"
        )
    torch.set_num_threads(args.threads)
    g = load_model(args.model).eval()
    result: dict = {
        "command": COMMAND,
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },  # fmt: skip
        "model": args.model,
        "resize": "antialiased bilinear (blurvid max_side) for the inputs and for the comparison",
        "summary": {},
    }
    print("real photos", flush=True)
    result["real"] = measure_real(real_photos(args.data_root), g, args.repeat)
    print("synthetic", flush=True)
    result["synthetic"], result["filters"] = measure_synthetic(
        synthetic_samples(args.data_root, args.per_photo), g
    )
    table = markdown(result)
    _write(args.out, result)
    print(table)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
