"""max_side="auto" against fixed working scales, and do-no-harm, with ground truth.

    python benchmarks/auto_scale.py   # -> benchmarks/results/auto_scale.json (+ Markdown)

1. **Working scale** (the 6 validation photos, 512 px squares of the project's synthetic
   camera shake, ``benchmarks/blur_extent.py``'s renderer, quantised to 8 bits): camera paths
   1x, 2x, 3x and 4x the training range (4-24 px times the factor). G runs at full size, at
   1/2, 1/3 and 1/4 of it, with ``max_side="auto"`` (the estimated blur length), and with
   the same rule fed the TRUE length (``oracle``: what a perfect estimate would give); every
   result is brought back to the input size the same way
   (:func:`blurvid.working_scale.to_input_size`: bilinear, plus the input's own detail above
   the working resolution) and scored at the input size: PSNR of the 7 frames against the 7
   true frames (best of the two orders, paper protocol), as a gain over the blurry input.
2. **Do no harm**: sharp photos (no camera path; the renderer's noise of up to 2 levels
   only), tiny blur (0.15x the training range: 0.6-3.6 px), and nearly static real video (every
   7 consecutive frames of ``data/video/sam2_*`` at 320x180 averaged, the blurry
   frames whose first-to-last motion is under 1 px): the same PSNR of G's frames at full size
   and with ``"auto"``, minus the input's against the same truth. ``--part no-harm`` runs only
   these rows (a few minutes), e.g. for a training snapshot:
   ``python benchmarks/auto_scale.py --part no-harm --model training/release-v0.3/base/latest
   --out benchmarks/results/auto_scale_no_harm_v0.3.json``.

Not part of the library.
"""

from __future__ import annotations

import argparse
import platform
import sys
from contextlib import contextmanager
from pathlib import Path

import torch

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
COMMAND = "python benchmarks/auto_scale.py"
FACTORS = (1.0, 2.0, 3.0, 4.0)
SCALES = {"full": 1, "1/2": 2, "1/3": 3, "1/4": 4}
HOWS = ["auto", "oracle"]


def score(frames: torch.Tensor, truth: torch.Tensor) -> float:
    """Best-order mean PSNR over the 7 frames (``(7, 3, H, W)`` each)."""
    from blurvid.metrics import psnr

    fwd = float(psnr(frames, truth).mean())
    rev = float(psnr(frames.flip(0), truth).mean())
    return max(fwd, rev)


def input_score(blurry: torch.Tensor, truth: torch.Tensor) -> float:
    return score(blurry.unsqueeze(0).expand_as(truth), truth)


#: ``--without-opencv``: ``import cv2`` fails inside the library's calls (the benchmark's own
#: truth, which static video frames barely move, is still measured with DIS).
WITHOUT_OPENCV = False


@contextmanager
def _library_install():
    """The library as installed: without OpenCV when :data:`WITHOUT_OPENCV`."""
    if not WITHOUT_OPENCV:
        yield
        return
    saved = sys.modules.get("cv2")
    sys.modules["cv2"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if saved is None:
            del sys.modules["cv2"]
        else:
            sys.modules["cv2"] = saved


def run(g, blurry: torch.Tensor, how: str, arc: float | None = None) -> torch.Tensor:
    """G's 7 frames for ``blurry`` ``(3, H, W)`` at the input size. ``"oracle"``: the rule of
    ``max_side="auto"`` (scale and weight) fed the TRUE blur length ``arc``, i.e. what the
    automatic scale gives with a perfect estimate."""
    from blurvid import extract_frames
    from blurvid.working_scale import blend_to_input, plan_scale, to_input_size

    if how == "auto":
        with _library_install():
            return extract_frames(blurry, model=g, max_side="auto")
    if how == "oracle":
        plan = plan_scale(blurry, blur_px=arc)
        frames = extract_frames(blurry, model=g, max_side=plan.max_side)[None]
        return blend_to_input(to_input_size(frames, blurry[None]), blurry[None], plan.weight)[0]
    side = max(blurry.shape[-2:]) // SCALES[how]
    frames = extract_frames(blurry, model=g, max_side=None if how == "full" else side)
    return to_input_size(frames[None], blurry[None])[0]


def synthetic(g, data_root: Path, factor: float, per_photo: int, seed: int, hows) -> list[dict]:
    from blur_extent import draw_length, render, validation_photos

    from blurvid.blur_extent import estimate_blur_extent
    from blurvid.data import item_generator
    from blurvid.data.base import _dequantize, _quantize

    rows = []
    for i, (name, photo) in enumerate(validation_photos(data_root)):
        for j in range(per_photo):
            gen = item_generator(seed, int(100 * factor), i, j)
            s = render(photo, draw_length(factor, gen), gen, frames=True)
            truth = _dequantize(_quantize(s["frames"]))
            base = input_score(s["blurry"], truth)
            row = {"photo": name, "arc": round(s["arc"], 2), "input_db": round(base, 3),
                   "estimate": round(estimate_blur_extent(s["blurry"]), 2), "gain_db": {}}  # fmt: skip
            for how in hows:
                frames = run(g, s["blurry"], how, s["arc"])
                row["gain_db"][how] = round(score(frames, truth) - base, 3)
            rows.append(row)
            print(f"  {factor}x {name}: {row}", flush=True)
    return rows


def static_video(g, data_root: Path, limit: int) -> list[dict]:
    import video_quality as vq

    rows = []
    for name, (sharp, scale) in vq.load_clips(data_root, None).items():
        groups = vq.groups_of(sharp)
        motion = vq.motion_px(groups, scale)
        for t in torch.nonzero(motion < 1.0).flatten().tolist()[:limit]:
            truth, blurry = groups[t], groups[t].mean(0)
            base = input_score(blurry, truth)
            row = {"clip": name, "frame": t, "motion_px": round(float(motion[t]), 2),
                   "input_db": round(base, 3), "gain_db": {}}  # fmt: skip
            arc = float(motion[t]) / scale  # first-to-last motion, in these pixels
            for how in ("full", *HOWS):
                row["gain_db"][how] = round(score(run(g, blurry, how, arc), truth) - base, 3)
            rows.append(row)
            print(f"  {name} {t}: {row}", flush=True)
    return rows


def _mean(rows: list[dict], how: str) -> float:
    return sum(r["gain_db"][how] for r in rows) / len(rows)


def _recovered(means: dict[str, float], best: str, how: str) -> str:
    """The share of the best fixed scale's gain over full size that ``how`` gets; where full
    size is (about) the best, what ``how`` loses against it."""
    extra = means[best] - means["full"]
    if extra < 0.05:
        return f"{means[how] - means['full']:+.2f} dB vs full"
    return f"{(means[how] - means['full']) / extra:.0%}"


def markdown(result: dict) -> str:
    hows = list(SCALES) + HOWS
    lines = [f"Command: `{result['command']}` (model `{result['model']}`)", ""]
    if result["scale"]:  # not with --part no-harm
        lines += [
            "| blur (x training range) | samples | " + " | ".join(hows) + " | best fixed scale | "
            "auto: its gain over full size recovered | oracle: the same |",
            "|---|---:|" + "---:|" * len(hows) + "---|---:|---:|",
        ]
    for key, rows in result["scale"].items():
        means = {h: _mean(rows, h) for h in hows}
        best = max(SCALES, key=lambda h: means[h])
        cells = " | ".join(f"{means[h]:+.3f}" for h in hows)
        shares = " | ".join(_recovered(means, best, how) for how in ("auto", "oracle"))
        lines.append(f"| {key} | {len(rows)} | {cells} | {best} | {shares} |")
    lines += [
        "",
        "Do no harm: gain (dB) over the input, mean and worst case",
        "",
        "| case | samples | full size: mean / worst | auto: mean / worst | oracle: mean / worst |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, rows in result["no_harm"].items():
        cells = []
        for how in ("full", *HOWS):
            worst = min(r["gain_db"][how] for r in rows)
            cells.append(f"{_mean(rows, how):+.3f} / {worst:+.3f}")
        lines.append(f"| {key} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from blur_extent import save_result

    from blurvid import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--model", default="default")
    ap.add_argument("--per-photo", type=int, default=1)
    ap.add_argument("--static-per-clip", type=int, default=4)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "auto_scale.json")
    ap.add_argument("--part", choices=("all", "no-harm"), default="all",
                    help="no-harm: only the do-no-harm rows (e.g. to score a training snapshot; "
                         "give --out a file of its own)")  # fmt: skip
    ap.add_argument("--without-opencv", action="store_true",
                    help="run as an install without OpenCV (import cv2 fails; since v0.3.x "
                         "'auto' reads G's frames in torch, so the numbers should not move); "
                         "give --out a file of its own")  # fmt: skip
    args = ap.parse_args(argv)
    if (args.part != "all" or args.without_opencv) and args.out == ap.get_default("out"):
        ap.error("--part no-harm and --without-opencv write another result: give --out a file")
    global WITHOUT_OPENCV
    WITHOUT_OPENCV = args.without_opencv
    torch.set_num_threads(args.threads)
    g = load_model(args.model).eval()
    result: dict = {
        "command": " ".join([COMMAND, *(sys.argv[1:] if argv is None else argv)]),
        "model": args.model,
        "machine": {"platform": platform.platform(), "torch": torch.__version__},
        "scale": {},
        "no_harm": {},
    }
    hows = list(SCALES) + HOWS
    for f in FACTORS if args.part == "all" else ():
        result["scale"][f"{f:g}x"] = synthetic(
            g, args.data_root, f, args.per_photo, args.seed, hows
        )
    for f, key in ((0.0, "sharp photos"), (0.15, "tiny blur (0.6-3.6 px)")):
        result["no_harm"][key] = synthetic(
            g, args.data_root, f, 2 * args.per_photo, args.seed, ("full", *HOWS)
        )
    result["no_harm"]["static video (< 1 px)"] = static_video(
        g, args.data_root, args.static_per_clip
    )
    save_result(result, markdown(result), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
