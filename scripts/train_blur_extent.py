"""Render, cache and fit the blur-extent head; write the weights blurvid bundles.

    python scripts/train_blur_extent.py   # the bundled head: ~25 min on 2 cores
    python scripts/train_blur_extent.py --steps 200 --samples 2000 --out /tmp/be.safetensors

Training samples come from the training photos and video stills only; the validation photos
(``scripts/data_split.json``) give the held-out patch error printed at every log step. The
rendered samples are cached (``--cache``, safetensors) so a refit skips rendering. See
:mod:`blurvid.train.blur_extent` for what the samples are.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import sys
from pathlib import Path

import torch

from blurvid.data.download import default_data_dir

REPO = Path(__file__).resolve().parents[1]
COMMAND = "python scripts/train_blur_extent.py"


def _photos(data_root: Path, held_out: bool, leaves: int = 0) -> list[torch.Tensor]:
    """Training (or held-out) photos; for training also video stills and ``leaves``
    procedural dead-leaves scenes (384 px; colours and textures from the training photos):
    sharp-edged shapes with flat or textured fills, so that the head reads the width of
    edges rather than how much fine texture a photo has."""
    from blurvid.data import find_split, leaves_image, load_photos
    from blurvid.data.sequences import video_stills
    from blurvid.io import read_image

    held = find_split().validation_photos
    names = sorted(p.name for p in (data_root / "photos").glob("*.jpg"))
    names = [n for n in names if (n in held) == held_out]
    photos = [read_image(data_root / "photos" / n) for n in names]
    if not held_out:
        palette = load_photos(photos[:]) if leaves else None
        photos += video_stills(data_root / "video", per_video=24, spatial_scale=0.5)
        photos += [leaves_image(384, generator=torch.Generator().manual_seed(i), photos=palette)
                   for i in range(leaves)]  # fmt: skip
    return photos


def _render(job: tuple[Path, bool, int, int, int, int, int]) -> dict[str, torch.Tensor]:
    data_root, held_out, count, seed, start, threads, leaves = job
    torch.set_num_threads(threads)
    from blurvid.train.blur_extent import render_samples

    photos = _photos(data_root, held_out, leaves)
    return render_samples(photos, count, seed, start, progress=start == 0)


def samples(args: argparse.Namespace, held_out: bool, count: int, seed: int) -> dict:
    """Render (in ``--workers`` processes) or read from the cache."""
    from safetensors.torch import load_file, save_file

    kind = "val" if held_out else f"train-leaves{args.leaves}" if args.leaves else "train"
    cache = args.cache.with_name(f"{args.cache.stem}-{kind}-{count}-{seed}.safetensors")
    if cache.is_file():
        return load_file(str(cache))
    per = -(-count // args.workers)
    jobs = [
        (args.data_root, held_out, min(per, count - s), seed, s, 1, 0 if held_out else args.leaves)
        for s in range(0, count, per)
    ]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        parts = pool.map(_render, jobs)
    out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    save_file(out, str(tmp))
    tmp.replace(cache)
    return out


def main(argv: list[str] | None = None) -> int:
    from blurvid.train.blur_extent import fit, save_net

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--val-samples", type=int, default=1200)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--leaves", type=int, default=150, help="procedural scenes among the photos")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=REPO / "runs" / "blur_extent" / "samples")
    ap.add_argument(
        "--out", type=Path, default=REPO / "src/blurvid/weights/blur_extent.safetensors"
    )
    args = ap.parse_args(argv)
    train = samples(args, False, args.samples, args.seed)
    val = samples(args, True, args.val_samples, args.seed + 1000)
    torch.set_num_threads(args.threads)
    net, log = fit(train, val, steps=args.steps, batch=args.batch, seed=args.seed)
    meta = {
        "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
        "samples": str(args.samples),
        "steps": str(args.steps),
        "final": json.dumps(log[-1]),
        "torch": torch.__version__,
        "machine": platform.platform(),
    }
    save_net(net, args.out, meta)
    log_file = args.cache.parent / "fit_log.json"
    log_file.write_text(json.dumps({"meta": meta, "log": log}, indent=1) + "\n")
    print(json.dumps(log[-1]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
