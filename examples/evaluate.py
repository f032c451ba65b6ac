"""Score models like the paper's Table 1 (PSNR / SSIM / EPE) on a GOPRO-layout folder.

    python examples/evaluate.py gopro:/data/GOPRO_Large_all --model default --model mine=runs/x/model
    python examples/evaluate.py val:data --limit 20              # blurvid's fixed validation set
    python examples/evaluate.py --smoke                          # a tiny synthetic folder, seconds

Data (``DATA``): ``gopro:DIR`` is a GOPRO_Large_all-style folder, ``DIR/test/<SEQUENCE>/*.png``
with consecutive sharp frames; every 7 consecutive frames are averaged into one blurry input
and are its 7 targets. ``val:DIR`` is the project's fixed validation set built from the
project's data folder (``blurvid data download data/``). A plain folder is recognised by its layout.

Every table has two reference rows: **identity** (the blurry input repeated 7 times: a model
below it is worse than nothing) and **oracle-static** (the true centre frame x7: the best a
deblurrer that recovers no motion can do). The ``paper`` protocol scores all 7 frames in the
better of the two temporal orders. EPE (optical-flow error) needs OpenCV
(``pip install "blurvid[flow]"``); ``--no-epe`` skips it. The same is available as
``blurvid eval --data DATA --model ...``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import blurvid
from blurvid.evaluate import PROTOCOLS, evaluate, format_table, iter_samples


def make_tiny_gopro(
    root: Path, sequences: int = 2, frames: int = 7, size: tuple[int, int] = (48, 64)
) -> Path:
    """Write a GOPRO-layout folder ``root/test/seqN/000000.png ...``: a smooth random texture
    sliding 1 pixel to the left per frame (so each 7-frame blur has 6 px of motion)."""
    h, w = size
    rng = np.random.default_rng(0)
    for s in range(sequences):
        texture = rng.random((h // 4, (w + frames) // 4 + 1, 3))
        big = np.asarray(Image.fromarray((texture * 255).astype(np.uint8)).resize(
            (texture.shape[1] * 4, h), Image.Resampling.BICUBIC))  # fmt: skip
        folder = root / "test" / f"seq{s}"
        folder.mkdir(parents=True)
        for k in range(frames):
            Image.fromarray(big[:, k : k + w]).save(folder / f"{k:06d}.png")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "data",
        nargs="?",
        default="val:data",
        help="gopro:DIR, val:DIR (default: val:data, after `blurvid data download data/`), "
        "or a folder",
    )
    parser.add_argument(
        "--model",
        action="append",
        help="'default', a folder or a Hub id; LABEL=NAME names the row; repeatable",
    )
    parser.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="paper",
        help="paper: 7 frames, best order; strict: given order; center: centre frame",
    )
    parser.add_argument("--limit", type=int, default=None, help="score at most N samples")
    parser.add_argument(
        "--no-epe", action="store_true", help="skip the optical-flow EPE (no OpenCV needed)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="evaluate on a tiny synthetic GOPRO-layout folder"
    )
    args = parser.parse_args(argv)

    models = {}
    for item in args.model or ["default"]:
        label, sep, name = item.partition("=")
        if not sep:
            label = name = item
        models[label] = blurvid.load_model(name)  # warns for untrained placeholder weights

    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.data = f"gopro:{make_tiny_gopro(Path(tmp))}"
            args.limit = 2
        protocol = PROTOCOLS[args.protocol]
        samples = iter_samples(args.data)  # (name, blurry (3,H,W), frames (7,3,H,W)), read lazily
        rows = evaluate(
            models, samples, protocol=protocol, compute_epe=not args.no_epe, limit=args.limit
        )
    print(format_table(rows, protocol, compute_epe=not args.no_epe))

    identity = rows[0]
    for row in rows[2:]:
        verdict = "above" if row.psnr > identity.psnr else "BELOW"
        print(f"{row.name}: {row.psnr - identity.psnr:+.2f} dB, {verdict} the blurry input")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
