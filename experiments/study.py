"""What the blur-length studies share (``blur_extent_levels.py``, ``probe_levels.py``,
``tile_motion.py``): the photos of one part of the data, the command line, and how a result
file is written and shown again. Not part of the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def part_photos(data_root: Path, held_out: bool, training: int | None = None) -> list[str]:
    """Sorted names of ``data_root/photos/*.jpg`` in one part: the held-out validation photos
    (``held_out``), else the training photos -- ``training`` of them, spread over the sorted
    list, when given."""
    from blurvid.data import find_split

    held = find_split().validation_photos
    names = sorted(p.name for p in (data_root / "photos").glob("*.jpg"))
    names = [n for n in names if (n in held) == held_out]
    if training and not held_out:
        names = names[:: max(1, len(names) // training)][:training]
    return names


def parser(
    doc: str, out_name: str, *, threads: int = 2, model: bool = True
) -> argparse.ArgumentParser:
    """The study's options: ``--data-root``, ``--model`` (with ``model``), ``--threads``,
    ``--out`` (default ``experiments/results/OUT_NAME``) and ``--table``."""
    from blurvid.data.download import default_data_dir

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--data-root", type=Path, default=default_data_dir(REPO))
    if model:
        ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=threads)
    ap.add_argument("--out", type=Path, default=HERE / "results" / out_name)
    ap.add_argument("--table", action="store_true", help="print the table of --out and stop")
    return ap


def command(script: str, argv: list[str] | None) -> str:
    """The command line that made a result: ``script`` and the arguments given."""
    return " ".join([script, *(sys.argv[1:] if argv is None else argv)])


def show(out: Path, table: Callable[[dict], str]) -> int:
    """``--table``: print the table of the result file ``out``."""
    print(table(json.loads(out.read_text())))
    return 0


def write(result: dict, out: Path, text: str) -> None:
    """``result`` to ``out`` as JSON (atomically), then ``text`` printed."""
    from blurvid._fs import atomic_write_bytes

    atomic_write_bytes(out, (json.dumps(result, indent=1) + "\n").encode())
    print(text)
