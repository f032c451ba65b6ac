"""Video slow motion on clips blurred by averaging: frame order and PSNR against true frames.

Run on demand (never part of the test suite); docs/video.md quotes its output:

    python benchmarks/video_quality.py                 # all clips, 320x180, default model
    python benchmarks/video_quality.py --figures       # also docs/images/video_*.{jpg,gif}

Every 7 consecutive sharp frames of the project's real clips (``data/video/sam2_*``
and ``frames/sam2_bedroom``, downscaled to 320x180) are averaged into one blurry frame, so
each blurry frame has its 7 true sub-frames.

1. **Order, ORACLE frames**: the true 7 sub-frames of every blurry frame, randomly reversed,
   go through :class:`blurvid.video.ClipOrienter` (the chooser of :func:`blurvid.slow_motion`,
   by default the motion rule: flow between each frame's neighbours);
   counted: how often it recovers the true order on frames whose motion (mean DIS optical
   flow between first and last sub-frame, in full-resolution pixels) exceeds 1 px.
2. **PSNR of the rebuilt 7x clip** against the true frames, for: what
   :func:`blurvid.slow_motion` writes (G, the chooser's order, and the motion gate of
   :mod:`blurvid.motion_gate`: still pixels stay the input); G (the default model) with
   the chooser's order alone; G with the old
   pixel rule (``ClipOrienter(rule="pixels")``); G with the better of
   the two orders per frame (what a perfect chooser could reach); frame repetition (each
   blurry frame 7 times); linear blending of neighbouring blurry frames at the sub-frame
   times. In memory, before H.264 encoding (which costs all methods alike).

Results go to ``benchmarks/results/video-quality.json``.

``--auto-plans`` instead reads what ``slow_motion(..., max_side="auto")`` would decide for each
of these blurry clips (:func:`blurvid.video.median_plan` of the
:func:`blurvid.video.sample_indices` frames, the rule of :func:`blurvid.video.clip_scale`)
beside the PSNRs of ``video-quality.json``: a plan with weight 0 writes each blurry frame 7
times, which is the "repeat" column. -> ``benchmarks/results/video-auto-plans.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N = 7
SIZE = (320, 180)  # 1280x720 / 4 (the bedroom frames: 960x540 / 3)


def load_clips(data: Path, limit: int | None) -> dict[str, tuple[torch.Tensor, float]]:
    """Name -> (sharp frames (T, 3, 180, 320) in [0, 1], full-res pixels per pixel here)."""
    import av
    from PIL import Image

    if not (data / "video").is_dir():
        raise SystemExit(f"no data at {data}: run `blurvid data download data/` or pass --data DIR")
    clips: dict[str, tuple[torch.Tensor, float]] = {}
    for path in sorted((data / "video").glob("sam2_*.mp4")):
        with av.open(str(path)) as c:
            frames = []
            for f in c.decode(video=0):
                frames.append(f.to_ndarray(format="rgb24", width=SIZE[0], height=SIZE[1]))
                if limit and len(frames) >= limit:
                    break
        clips[path.stem] = (_tensor(frames), 1280 / SIZE[0])
    paths = sorted((data / "frames" / "sam2_bedroom").glob("*.jpg"))
    imgs = [np.asarray(Image.open(p).convert("RGB").resize(SIZE, Image.BOX)) for p in paths]
    clips["sam2_bedroom"] = (_tensor(imgs[:limit] if limit else imgs), 960 / SIZE[0])
    return clips


def _tensor(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def groups_of(sharp: torch.Tensor) -> torch.Tensor:
    t = len(sharp) // N
    return sharp[: t * N].reshape(t, N, *sharp.shape[1:])


def motion_px(groups: torch.Tensor, scale: float, peak: bool = False) -> torch.Tensor:
    """Per group: the mean DIS flow magnitude between its first and last sub-frame, in
    full-resolution pixels (``scale`` of them per pixel here); with ``peak`` also its
    99th percentile in the pixels here, ``(T, 2)``."""
    from blurvid.flow import estimate_flow

    mag = estimate_flow(groups[:, 0], groups[:, -1]).norm(dim=1)
    mean = mag.mean(dim=(-2, -1)) * scale
    if not peak:
        return mean
    return torch.stack([mean, mag.flatten(1).quantile(0.99, dim=1)], 1)


def oracle_order(groups: torch.Tensor, seed: int) -> torch.Tensor:
    """Per group: did the chooser recover the true order of the randomly reversed truth?"""
    from blurvid.video import ClipOrienter

    truth = torch.rand(len(groups), generator=torch.Generator().manual_seed(seed)) < 0.5
    shown = torch.where(truth.view(-1, 1, 1, 1, 1), groups.flip(1), groups)
    _, flips = ClipOrienter()(shown, groups.mean(1))
    return flips == truth


def linear_blend(blurry: torch.Tensor) -> torch.Tensor:
    """Sub-frame k of blurry frame t sits at time t + (k - 3) / 7 (blurry-frame units);
    blend the two nearest blurry frames linearly (clamped at the clip's ends)."""
    t = len(blurry)
    times = torch.arange(t).view(-1, 1) + (torch.arange(N).view(1, -1) - (N - 1) / 2) / N
    times = times.clamp(0, t - 1)
    lo = times.floor().long().clamp(max=t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    w = (times - lo).view(t, N, 1, 1, 1)
    return blurry[lo] * (1 - w) + blurry[hi] * w


def psnr_of(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-frame PSNR, (T, N)."""
    from blurvid.metrics import psnr

    return psnr(pred.flatten(0, 1), truth.flatten(0, 1)).view(truth.shape[:2])


def run_model(model, blurry: torch.Tensor, batch: int) -> torch.Tensor:
    from blurvid import extract_frames

    return torch.cat(
        [
            extract_frames(blurry[i : i + batch], model=model, max_side=None)
            for i in range(0, len(blurry), batch)
        ]
    )


def evaluate(args: argparse.Namespace) -> dict:
    import blurvid
    from blurvid.video import ClipOrienter

    torch.set_num_threads(args.threads)
    model = blurvid.load_model(args.model)
    from blurvid.motion_gate import MotionGate

    keys = ("slow_motion", "G (chooser)", "G (pixel rule)", "G (best order)", "repeat", "blend")
    rows: list[dict] = []
    per_frame: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    right = moving = 0
    g_agree = g_total = pixel_agree = 0
    still: list[torch.Tensor] = []
    where: list[tuple[str, int, float, float]] = []  # per blurry frame: clip, index, motion
    start = time.perf_counter()
    for name, (sharp, scale) in load_clips(Path(args.data), args.limit).items():
        groups = groups_of(sharp)
        blurry = groups.mean(1)
        motion, peak = motion_px(groups, scale, peak=True).unbind(1)
        ok = oracle_order(groups, seed=args.seed)
        mask = motion > 1.0
        right, moving = right + int(ok[mask].sum()), moving + int(mask.sum())

        frames = run_model(model, blurry, args.batch)
        chosen, chose_rev = ClipOrienter()(frames, blurry)  # the clip's motion (slow_motion)
        gated = MotionGate()(chosen.clone(), blurry)  # still pixels back to the input (in place)
        still.append(motion / scale < 2.0)  # under 2 px at this size: nearly sharp
        where += [(name, t, float(motion[t] / scale), float(peak[t])) for t in range(len(groups))]
        by_pixels, pixel_rev = ClipOrienter(rule="pixels")(frames, blurry)  # the old rule
        fwd, rev = psnr_of(frames, groups), psnr_of(frames.flip(1), groups)
        best_is_rev = rev.mean(1) > fwd.mean(1)
        best = torch.where(best_is_rev.view(-1, 1), rev, fwd)
        chooser = psnr_of(chosen, groups)
        decided = mask & ((rev.mean(1) - fwd.mean(1)).abs() > 0.1)  # G's order is visible
        g_agree += int((chose_rev == best_is_rev)[decided].sum())
        pixel_agree += int((pixel_rev == best_is_rev)[decided].sum())
        g_total += int(decided.sum())
        repeat = psnr_of(blurry.unsqueeze(1).expand_as(groups), groups)
        blend = psnr_of(linear_blend(blurry), groups)
        values = (psnr_of(gated, groups), chooser, psnr_of(by_pixels, groups), best, repeat, blend)
        for key, v in zip(keys, values):
            per_frame[key].append(v)
        rows.append(
            {
                "clip": name,
                "blurry_frames": len(groups),
                "moving_frames": int(mask.sum()),
                "median_motion_px": round(float(motion.median()), 2),
                "oracle_order_correct": int(ok[mask].sum()),
                "psnr_db": {k: round(float(v.mean()), 2) for k, v in zip(keys, values)},
            }
        )
        print(rows[-1], flush=True)
    total = {k: round(float(torch.cat(v).mean()), 3) for k, v in per_frame.items()}
    # do no harm: frames whose first-to-last motion is under 2 px here, against the input
    still_mask = torch.cat(still)
    input_db = torch.cat(per_frame["repeat"]).mean(1)[still_mask]
    no_harm = {}
    for key in ("slow_motion", "G (chooser)", "blend"):
        gain = torch.cat(per_frame[key]).mean(1)[still_mask] - input_db
        no_harm[key] = {
            "mean_db": round(float(gain.mean()), 3),
            "worst_db": round(float(gain.min()), 3),
        }
    # the still frames where what slow_motion writes is more than 0.5 dB below the input
    gains = torch.cat(per_frame["slow_motion"]).mean(1) - torch.cat(per_frame["repeat"]).mean(1)
    below = [
        {"clip": c, "frame": t, "gain_db": round(float(gains[i]), 3),
         "mean_motion_px": round(m, 2), "p99_motion_px": round(p, 1)}
        for i, (c, t, m, p) in enumerate(where)
        if bool(still_mask[i]) and float(gains[i]) < -0.5
    ]  # fmt: skip
    return {
        "machine": {"platform": platform.platform(), "torch": torch.__version__},
        "model": args.model,
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "seed": args.seed,
        "oracle_order": {
            "moving_frames": moving,
            "correct": right,
            "accuracy": round(right / max(moving, 1), 4),
        },
        "g_order_vs_best": {
            "decided_frames": g_total,
            "agree": g_agree,
            "agree_pixel_rule": pixel_agree,
        },
        "psnr_db_mean_over_frames": total,
        "still_frames_vs_input": {"frames": int(still_mask.sum()), **no_harm},
        "still_frames_below_half_a_db": below,
        "clips": rows,
        "seconds": round(time.perf_counter() - start, 1),
    }


def figures(args: argparse.Namespace) -> None:
    """docs/images/video_before_after.jpg (blurry | G | truth for one frame) and
    docs/images/video_slowmo.gif (blurry repeated | G at 7x | truth, side by side)."""
    from PIL import Image, ImageDraw

    import blurvid
    from blurvid.video import ClipOrienter

    model = blurvid.load_model(args.model)
    sharp, _ = load_clips(Path(args.data), None)[args.figure_clip]
    groups = groups_of(sharp)[args.figure_start : args.figure_start + 3]
    blurry = groups.mean(1)
    frames, _ = ClipOrienter()(run_model(model, blurry, 4), blurry)

    def u8(x: torch.Tensor) -> np.ndarray:
        return (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()

    def labelled(img: np.ndarray, text: str) -> Image.Image:
        im = Image.fromarray(img)
        ImageDraw.Draw(im).text((4, 2), text, fill=(255, 255, 0))
        return im

    out = REPO / "docs" / "images"
    tiles = [labelled(u8(blurry[1]), "blurry (7 frames averaged)")]
    tiles += [labelled(u8(frames[1, k]), f"G frame {k + 1}") for k in (0, 3, 6)]
    tiles += [labelled(u8(groups[1, k]), f"true frame {k + 1}") for k in (0, 3, 6)]
    w, h = tiles[0].size
    sheet = Image.new("RGB", (4 * w, 2 * h))
    sheet.paste(tiles[0], (0, h // 2))
    for i in range(3):
        sheet.paste(tiles[1 + i], ((i + 1) * w, 0))
        sheet.paste(tiles[4 + i], ((i + 1) * w, h))
    sheet.save(out / "video_before_after.jpg", quality=88)
    gif = []
    for t in range(1, len(groups)):  # two blurry frames: 14 GIF frames
        for k in range(N):
            row = np.concatenate([u8(blurry[t]), u8(frames[t, k]), u8(groups[t, k])], axis=1)
            im = Image.fromarray(row).resize((w * 2, h * 2 // 3), Image.BOX)
            d = ImageDraw.Draw(im)
            for i, text in enumerate(("input (blurry)", "blurvid 7x", "truth")):
                d.text((4 + i * w * 2 // 3, 2), text, fill=(255, 255, 0))
            gif.append(im)
    gif[0].save(
        out / "video_slowmo.gif", save_all=True, append_images=gif[1:], duration=120, loop=0
    )
    print("wrote", out / "video_before_after.jpg", out / "video_slowmo.gif")


def auto_plans(args: argparse.Namespace) -> dict:
    """Per clip: the plan of max_side="auto" and what it means against the measured PSNRs."""
    from blurvid.video import median_plan, sample_indices

    measured = json.loads(Path(args.out).read_text())
    psnr = {c["clip"]: c["psnr_db"] for c in measured["clips"]}
    rows = []
    for name, (sharp, _) in load_clips(Path(args.data), args.limit).items():
        blurry = groups_of(sharp).mean(1)
        picks = sample_indices(len(blurry))
        plan = median_plan([blurry[i] for i in picks])
        row = {"clip": name, "frames_read": picks, "blur_px": round(plan.blur_px, 2),
               "max_side": plan.max_side, "weight": plan.weight}  # fmt: skip
        if plan.max_side is None:  # G at full size and the motion gate: slow_motion's default
            row["auto_psnr_db"] = psnr[name]["slow_motion"]
        # without the gate (no OpenCV, or motion_gate=False) the clip's one weight decides
        if plan.weight == 0.0:  # the input's frames: exactly frame repetition
            row["auto_psnr_db_without_gate"] = psnr[name]["repeat"]
        elif plan.weight == 1.0 and plan.max_side is None:  # exactly G at full size
            row["auto_psnr_db_without_gate"] = psnr[name]["G (chooser)"]
        row["full_size_psnr_db"] = psnr[name]["slow_motion"]
        rows.append(row)
        print(row, flush=True)
    return {"command": "python benchmarks/video_quality.py --auto-plans", "size": list(SIZE),
            "psnr_from": str(Path(args.out).name), "clips": rows}  # fmt: skip


def auto_markdown(result: dict) -> str:
    lines = [f"Command: `{result['command']}`", "",
             "| clip | blur read (px) | auto does (with the motion gate) | auto PSNR (dB) | "
             "without the gate: does | PSNR (dB) | default, full size (dB) |",
             "|---|---:|---|---:|---|---:|---:|"]  # fmt: skip
    for r in result["clips"]:
        does = ("G at full size" if r["max_side"] is None
                else f"G at max_side {r['max_side']}")  # fmt: skip
        plain = ("the input's frames (repetition)" if r["weight"] == 0.0
                 else f"{does}, weight {r['weight']:.2f}")  # fmt: skip
        auto = f"{r['auto_psnr_db']:.2f}" if "auto_psnr_db" in r else "not measured"
        old = r.get("auto_psnr_db_without_gate")
        lines.append(f"| {r['clip']} | {r['blur_px']:.2f} | {does} | {auto} | {plain} | "
                     f"{'not measured' if old is None else f'{old:.2f}'} | "
                     f"{r['full_size_psnr_db']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from blurvid.data.download import default_data_dir

    p.add_argument(
        "--data",
        default=str(default_data_dir(REPO)),
        help="the data folder (default: data/, else CI's ../shared/data)",
    )
    p.add_argument("--model", default="default")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="sharp frames per clip (smoke runs)")
    p.add_argument("--figures", action="store_true", help="also write the docs figures")
    p.add_argument("--no-eval", action="store_true", help="only the figures")
    p.add_argument("--figure-clip", default="sam2_01_dog")
    p.add_argument("--figure-start", type=int, default=8, help="first blurry frame of the GIF")
    p.add_argument("--out", default=str(HERE / "results" / "video-quality.json"))
    p.add_argument("--auto-plans", action="store_true",
                   help="only the max_side='auto' plan of each clip -> video-auto-plans.json")  # fmt: skip
    args = p.parse_args()
    if args.auto_plans:
        from blur_extent import save_result

        torch.set_num_threads(args.threads)
        result = auto_plans(args)
        save_result(result, auto_markdown(result), HERE / "results" / "video-auto-plans.json")
        return
    if not args.no_eval:
        result = evaluate(args)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        keys = ("oracle_order", "psnr_db_mean_over_frames", "still_frames_vs_input")
        print(json.dumps({k: result[k] for k in keys}))
    if args.figures:
        figures(args)


if __name__ == "__main__":
    main()
