"""One blurry photo -> 7 sharp frames (PNG), an animated GIF and a contact sheet.

    python examples/extract_frames.py                          # the bundled clock photo
    python examples/extract_frames.py my_photo.jpg -o out/ --fps 8 --boomerang
    python examples/extract_frames.py --smoke -o /tmp/smoke    # tiny, a few seconds

Writes, for an input ``photo.jpg``::

    OUT/photo/frame_000.png ... frame_006.png   the 7 frames, in temporal order
    OUT/photo.gif                               the frames as a looping GIF
    OUT/photo_sheet.png                         the input next to the 7 frames

The default model is bundled with blurvid (nothing is downloaded): the release-v0.1 weights
(see docs/model-card.md for what they can and cannot do). Pass ``--model`` a folder written
by ``save_pretrained`` (e.g. by ``examples/finetune_on_videos.py``) or a Hub repo id.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

import blurvid
from blurvid.io import atomic_output, save_gif, save_pngs

DEFAULT_IMAGE = Path(__file__).resolve().parent / "images" / "clock_motion.png"


def load_photo(path: Path, max_size: int | None = None) -> Image.Image:
    """Open an image as RGB (EXIF rotation applied), optionally shrunk so that its long side
    is at most ``max_size`` pixels."""
    with Image.open(path) as img:
        photo = ImageOps.exif_transpose(img).convert("RGB")
    if max_size is not None:
        photo.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    return photo


def contact_sheet(photo: Image.Image, frames: list[Image.Image], gap: int = 4) -> Image.Image:
    """The input, then the frames, side by side on a white strip with a label above each."""
    w, h = photo.size
    band = 14  # room for the labels
    sheet = Image.new("RGB", (len(frames) * (w + gap) + w, h + band), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (img, label) in enumerate(
        [(photo, "input")] + [(f, f"frame {k + 1}") for k, f in enumerate(frames)]
    ):
        x = i * (w + gap)
        sheet.paste(img, (x, band))
        draw.text((x + 2, 1), label, fill="black")
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path, default=DEFAULT_IMAGE, help="a blurry photo")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("out"), help="output folder (default: out/)"
    )
    parser.add_argument(
        "--model", default="default", help="'default', a save_pretrained folder or a Hub repo id"
    )
    parser.add_argument("--fps", type=float, default=8.0, help="GIF frame rate (default: 8)")
    parser.add_argument("--boomerang", action="store_true", help="GIF plays forward then backward")
    parser.add_argument(
        "--max-size", type=int, default=None, help="shrink the photo to this long side first"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny run (64 px) to check the script works"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.max_size = 64

    photo = load_photo(args.image, args.max_size)
    model = blurvid.load_model(args.model)  # warns if the weights are an untrained placeholder

    # A PIL image in -> a list of 7 PIL images out (numpy and tensors work the same way).
    frames = blurvid.extract_frames(photo, model=model)

    stem = args.image.stem
    pngs = save_pngs(frames, args.output / stem, prefix="frame", overwrite=args.overwrite)
    gif = save_gif(
        frames,
        args.output / f"{stem}.gif",
        fps=args.fps,
        boomerang=args.boomerang,
        overwrite=args.overwrite,
    )
    sheet = args.output / f"{stem}_sheet.png"
    with atomic_output(sheet, overwrite=args.overwrite) as tmp:  # never a half-written file
        contact_sheet(photo, frames).save(tmp, format="PNG")

    print(f"{args.image} ({photo.width}x{photo.height}): {len(frames)} frames")
    print(f"  frames: {pngs[0].parent}/frame_000.png ... {pngs[-1].name}")
    print(f"  GIF:    {gif}")
    print(f"  sheet:  {sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
