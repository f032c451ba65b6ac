"""Make a trained G the bundled default (``src/blurvid/weights/default``): fp16 safetensors and
config.json in the Hub layout, with the release's metadata. The folder's README.md (the Hub
model card) is written by hand; this script leaves it alone.

    python scripts/bundle_default.py training/release-v0.2/base/best --release v0.2 \\
        --description "blurvid release v0.2: ..." [--meta key=value ...]

Metadata: the source's own (stage, steps, val_* when it is a best/ export), then
``release``, ``description`` and every ``--meta`` pair; ``placeholder`` is ``false``. A
fine-tuned stage (gram, hepta) needs ``--meta base_steps=N``: its own ``steps`` count only the
fine-tune."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import blurvid
from blurvid.hub import save_folder

DEFAULT = Path(__file__).resolve().parents[1] / "src" / "blurvid" / "weights" / "default"
KEEP = ("stage", "steps", "val_gain_db", "val_centre_gain_db")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="the trained model folder")
    ap.add_argument("--release", required=True, help="e.g. v0.2")
    ap.add_argument("--description", required=True)
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=str(DEFAULT), help="(default: the bundled default folder)")
    args = ap.parse_args(argv)
    model = blurvid.load_model(args.source)
    meta = {k: v for k, v in model.metadata.items() if k in KEEP}
    meta.update(release=args.release, description=args.description, placeholder="false")
    for pair in args.meta:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            ap.error(f"--meta takes KEY=VALUE, got {pair!r}")
        meta[key] = value
    if meta.get("stage", "base") != "base" and not meta.get("base_steps", "").isdigit():
        ap.error(f"{args.source} is a stage-{meta['stage']!r} fine-tune: its own steps count the "
                 f"fine-tune only; pass --meta base_steps=N (stage 1's steps)")  # fmt: skip
    save_folder(model, args.out, dtype=torch.float16, metadata=meta)
    back = blurvid.load_model(args.out)
    worst = max(
        float((a.float() - b.float()).abs().max())
        for a, b in zip(model.state_dict().values(), back.state_dict().values())
    )
    print(f"bundled {args.source} -> {args.out} (fp16; largest weight change {worst:.1e}); "
          f"metadata {back.metadata}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
