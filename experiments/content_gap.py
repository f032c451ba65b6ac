"""Does G overfit the training photos? The validation protocol on training vs held-out photos.

The synthetic half of the fixed validation set is camera shake rendered on the 6 held-out
photos of ``scripts/data_split.json``. This builds the same kind of set (same shake, same
seed, same 64 samples) on 6 of the *training* photos (every 5th of the split's list) and
scores each model on both: a gain that rises on training photos while it falls on held-out
ones is overfitting to the photos' content, not to the blur.

    python experiments/content_gap.py MODEL [MODEL ...]   # -> results/content_gap.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent


def build_sets(root: Path, split_path: Path) -> dict:
    """The two 64-sample synthetic sets: the held-out photos (the validation set's synthetic
    half) and 6 training photos (every 5th of the split's list), same shake, same seed."""
    from blurvid.data import find_split, validation_set

    split = find_split(split_path)
    frames = root / "frames" / "sam2_bedroom"
    return {
        "held-out photos": validation_set(root, photos=[root / "photos" / p for p in split.validation_photos],
                                          frames=frames, n_real=0),
        "training photos": validation_set(root, photos=[root / "photos" / p for p in split.training_photos[::5][:6]],
                                          frames=frames, n_real=0),
    }  # fmt: skip


def score_sets(model: torch.nn.Module, sets: dict) -> dict:
    """Centre-frame and 7-frame best-order gains of ``model`` on each set, and the gap
    (training photos minus held-out photos)."""
    from blurvid.scores import predict_set, validation_scores

    row: dict = {}
    for label, val in sets.items():
        pred = predict_set(model, val.blurry)
        s = validation_scores(pred, val.frames, val.blurry)
        row[label] = {k: round(s[k], 4) for k in ("centre_gain_db", "gain_db")}
    row["gap_db"] = {
        k: round(row["training photos"][k] - row["held-out photos"][k], 4)
        for k in ("centre_gain_db", "gain_db")
    }
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="model folders or names")
    ap.add_argument("--data-root", default=str(default_data_dir(HERE.parent)))
    ap.add_argument("--split", default=str(HERE.parent / "scripts" / "data_split.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "content_gap.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import blurvid
    from blurvid._fs import atomic_write_bytes

    sets = build_sets(Path(args.data_root), Path(args.split))
    rows = []
    for name in args.models:
        model = blurvid.load_model(name).eval()
        row = {"model": name, "steps": model.metadata.get("steps"), **score_sets(model, sets)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    record = {"benchmark": "content_gap", "command": "python experiments/content_gap.py "
              + " ".join(argv or []), "rows": rows}  # fmt: skip
    atomic_write_bytes(Path(args.out), (json.dumps(record, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
