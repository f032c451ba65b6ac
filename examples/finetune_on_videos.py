"""Fine-tune blurvid on your own video clips, check it helped, and save the result.

    python examples/finetune_on_videos.py my_clips/ --steps 2000 -o runs/my-clips
    python examples/finetune_on_videos.py --smoke -o /tmp/smoke      # tiny, about 10 seconds

Needs the training extras: ``pip install "blurvid[train]"`` (PyAV decodes the videos).

What it does:

1. Every clip is split in time: its first ``--train-frames`` frames are for training, the
   next ``--eval-frames`` are held out. A training sample averages 7 consecutive frames into
   a "blurry photo" whose targets are those 7 frames (:class:`VideoDataset`);
   ``--scale`` downsizes the frames, which also shrinks the motion between them (30 fps
   footage moves a lot from frame to frame).
2. :func:`blurvid.train.finetune` trains G on random crops (the small-compute recipe).
3. Before and after are scored on the held-out windows (one fixed ``--crop`` square of
   each, which keeps scoring quick): the mean PSNR of the 7 frames in
   the better of the two temporal orders (a blur looks the same played backwards), beside
   the "identity" reference (the blurry input repeated 7 times: a model below it is worse
   than doing nothing) and "oracle-static" (the true centre frame x7).
4. The fine-tuned G is saved as ``OUT/model`` (``config.json`` + ``model.safetensors``):
   load it with ``blurvid.load_model("OUT/model")`` or ``--model OUT/model`` in the other
   examples and the CLI. ``OUT/train`` holds the training log and the resumable checkpoint.

A real fine-tune wants a few thousand steps (an hour or more on a laptop CPU, minutes on a
GPU); the frame buffers take ``clips x frames x 3 x H x W`` bytes (120 frames of 6 clips at
640x360: 500 MB), so lower ``--train-frames`` or ``--scale`` for many or long clips.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import blurvid
from blurvid.data import VIDEO_SUFFIXES, Augment, VideoDataset
from blurvid.evaluate import evaluate, format_table
from blurvid.hub import save_folder
from blurvid.metrics import PAPER
from blurvid.train import finetune


def find_clips(path: Path) -> list[Path]:
    """One video file, or the videos directly inside a folder (sorted by name)."""
    if path.is_file():
        return [path]
    clips = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        if path.is_dir()
        else []
    )
    if not clips:
        raise SystemExit(f"no video clips ({', '.join(VIDEO_SUFFIXES)}) found at {path}")
    return clips


def held_out_samples(clips: list[Path], args: argparse.Namespace) -> list:
    """``(name, blurry, frames)`` for disjoint 7-frame windows after the training frames,
    each cut to one fixed (seeded) ``--crop`` square: scoring full frames costs far more."""
    ds = VideoDataset(
        clips,
        spatial_scale=args.scale,
        crop=args.crop,
        stride=7,
        seed=1,
        start_frame=args.train_frames,
        max_frames=args.eval_frames,
    )
    samples = []
    for i in range(len(ds)):
        clip, start = ds.windows[i]
        item = ds[i]
        samples.append(
            (f"{clips[clip].stem}@{args.train_frames + start}", item["blurry"], item["frames"])
        )
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "clips",
        nargs="?",
        type=Path,
        default=Path("data/video"),
        help="a video file or a folder of videos (default: data/video, after `blurvid data "
        "download data/`)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("runs/finetune"), help="run folder"
    )
    parser.add_argument(
        "--init", default="default", help="the model to start from (default: the bundled one)"
    )
    parser.add_argument(
        "--steps", type=int, default=2000, help="optimisation steps (default: 2000)"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="crops per step (default: 8)")
    parser.add_argument(
        "--crop", type=int, default=128, help="training crop size, a multiple of 16 (default: 128)"
    )
    parser.add_argument(
        "--scale", type=float, default=0.5, help="downscale factor of the frames (default: 0.5)"
    )
    parser.add_argument(
        "--train-frames", type=int, default=120, help="frames per clip used for training"
    )
    parser.add_argument(
        "--eval-frames", type=int, default=28, help="frames per clip held out for the comparison"
    )
    parser.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (default: 2e-4)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run (1 clip, 5 steps, 32 px) to check the script works",
    )
    args = parser.parse_args(argv)

    clips = find_clips(args.clips)
    if args.smoke:  # one clip at 1/20 size (64x36 for 720p), few frames, a handful of steps
        clips = clips[:1]
        args.steps, args.batch_size, args.crop, args.scale = 5, 2, 32, 0.05
        args.train_frames, args.eval_frames = 14, 14
    print(f"{len(clips)} clip(s): {', '.join(c.name for c in clips)}")

    # 1. data: training windows (random crops, random horizontal flips) and held-out windows
    train_set = VideoDataset(
        clips,
        spatial_scale=args.scale,
        crop=args.crop,
        max_frames=args.train_frames,
        augment=Augment(hflip=True),
    )
    held_out = held_out_samples(clips, args)
    print(f"{len(train_set)} training windows, {len(held_out)} held-out windows")

    # 2. fine-tune (in place) a copy; keep the original for the comparison
    before = blurvid.load_model(args.init)  # warns if the weights are an untrained placeholder
    model = copy.deepcopy(before)
    finetune(
        model,
        train_set,
        steps=args.steps,
        out=args.output / "train",
        lr=args.lr,
        batch_size=args.batch_size,
        crop=args.crop,
        progress=not args.smoke,
    )

    # 3. save config.json + model.safetensors, the files model.save_pretrained(folder) writes;
    #    save_folder also records metadata: that these weights are trained (a model started
    #    from a placeholder would otherwise copy its flag) and how.
    folder = save_folder(model, args.output / "model", metadata={
        "placeholder": "false", "finetuned_from": args.init, "steps": str(args.steps),
    })  # fmt: skip
    after = blurvid.load_model(folder)  # what a user of the saved folder gets

    # 4. before vs after on the held-out windows (best-order PSNR, as in the paper's Table 1)
    rows = evaluate({"before": before, "after": after}, held_out, compute_epe=False, progress=False)
    print()
    print(format_table(rows, PAPER, compute_epe=False))
    identity, _, b, a = rows
    print(
        f"\nPSNR gain over the blurry input: before {b.psnr - identity.psnr:+.2f} dB, "
        f"after {a.psnr - identity.psnr:+.2f} dB"
    )
    print(f"saved the fine-tuned model to {folder} (blurvid.load_model({str(folder)!r}))")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
