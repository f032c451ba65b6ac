"""Render the release runs' sample bank for one seed, delete the other seeds' banks (one on
disk at a time: 2.4 GB each) and print its path. Used by ``scripts/release.py`` (``render``,
``train``, ``stages``):

    python scripts/render_release_bank.py "SPECS" SEED SIZE FOLDER SPLIT [CAMERA] [CROP]

SPECS: space-separated ``--data`` specs; SPLIT: the split manifest (held-out files); CAMERA:
the camera realism of the synthetic sources (``blurvid train --camera``; default off); CROP:
the samples' size in pixels (default 128).
An existing bank of that seed and size is reused (``dataset_from_specs`` loads it)."""

from __future__ import annotations

import sys
from pathlib import Path

from blurvid.train.data import bank_file_name, dataset_from_specs


def main(argv: list[str]) -> int:
    specs, seed, size = argv[0].split(), int(argv[1]), int(argv[2])
    folder, split = Path(argv[3]), argv[4]
    camera = argv[5] if len(argv) > 5 else "off"
    crop = int(argv[6]) if len(argv) > 6 else 128
    name = bank_file_name(size, crop, seed, camera)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("bank_*.safetensors"):
        if old.name != name:
            old.unlink()
    dataset_from_specs(specs, crop=crop, seed=seed, bank_size=size, bank_dir=folder, progress=False,
                       split=split, camera=camera)  # fmt: skip
    print(folder / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
