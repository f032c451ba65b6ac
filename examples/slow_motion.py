"""Slow motion from one blurry photo: 42 frames (or 287 with --depth 3) -> an MP4.

    python examples/slow_motion.py                               # the bundled clock photo
    python examples/slow_motion.py my_photo.jpg -o out/ --depth 3 --fps 30 --boomerang
    python examples/slow_motion.py --smoke -o /tmp/smoke         # tiny, a few seconds

How it works: G turns the photo into 7 frames; then every pair of neighbouring frames is
averaged into a new, less blurry image and fed back through G (the paper's recursion,
Sec. 4.3), which gives 6 x 7 = 42 frames at depth 2 and 7 x 41 = 287 at depth 3.

The MP4 is written with PyAV (``pip install "blurvid[video]"``); without PyAV the script says
so and writes a GIF instead. Memory grows with the frame count (287 frames of a 720p photo
hold 3.2 GB): ``--max-size`` shrinks the photo first.

The bundled default model is the release-v0.1 checkpoint (docs/model-card.md); pass
``--model`` other weights (a folder or a Hub repo id).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageOps

import blurvid
from blurvid.io import save_gif, save_mp4

DEFAULT_IMAGE = Path(__file__).resolve().parent / "images" / "clock_motion.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path, default=DEFAULT_IMAGE, help="a blurry photo")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("out"), help="output folder (default: out/)"
    )
    parser.add_argument(
        "--depth",
        type=int,
        default=2,
        help="recursion depth: 2 -> 42 frames, 3 -> 287 (default: 2)",
    )
    parser.add_argument("--fps", type=float, default=24.0, help="video frame rate (default: 24)")
    parser.add_argument(
        "--boomerang", action="store_true", help="play forward then backward (a seamless loop)"
    )
    parser.add_argument(
        "--model", default="default", help="'default', a save_pretrained folder or a Hub repo id"
    )
    parser.add_argument(
        "--max-size", type=int, default=None, help="shrink the photo to this long side first"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing video")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny run (64 px) to check the script works"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.max_size = 64

    with Image.open(args.image) as img:
        photo = ImageOps.exif_transpose(img).convert("RGB")
    if args.max_size:
        photo.thumbnail((args.max_size, args.max_size), Image.Resampling.LANCZOS)

    model = blurvid.load_model(args.model)  # warns if the weights are an untrained placeholder
    n = blurvid.num_recursive_frames(args.depth)
    print(f"{args.image} ({photo.width}x{photo.height}): depth {args.depth} -> {n} frames")
    frames = blurvid.interpolate_recursive(photo, depth=args.depth, model=model)  # n PIL images

    stem = f"{args.image.stem}_slowmo"
    try:
        out = save_mp4(
            frames,
            args.output / f"{stem}.mp4",
            fps=args.fps,
            boomerang=args.boomerang,
            overwrite=args.overwrite,
        )
    except blurvid.DependencyError as exc:  # PyAV is not installed
        print(f"note: {exc}\n      Writing a GIF instead of the MP4.")
        out = save_gif(
            frames,
            args.output / f"{stem}.gif",
            fps=args.fps,
            boomerang=args.boomerang,
            overwrite=args.overwrite,
        )
    shown = 2 * n - 2 if args.boomerang else n
    print(f"  {out}: {shown} frames at {args.fps:g} fps ({shown / args.fps:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
