"""Is test-time self-ensembling worth building? Flip ensembles of G on the validation set.

A common restoration trick: run G on flipped copies of the input, flip the outputs back and
average. Here the 7 frames add a catch: G picks a time direction per input (a single blurry
photo does not say which end is first), and a flipped input may get the other one, so each
member's frames are first put in the order closer to the plain run's (per sample, forward or
reversed, by MSE) and then averaged. Scores: the validation set's centre-frame and 7-frame
best-order gains over the blurry input and the motion ratio
(:func:`blurvid.scores.validation_scores`, what training validation logs), for 1 member (G
alone), 2 (+ horizontal flip) and 4 (+ vertical, + both). The cost is one G pass per member.

    python experiments/self_ensemble.py [--model default]   # -> results/self_ensemble.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent


def flip(t: torch.Tensor, k: int) -> torch.Tensor:
    """Member ``k``'s flip of ``(..., H, W)``: 0 none, 1 horizontal, 2 vertical, 3 both."""
    if k & 1:
        t = t.flip(-1)
    if k & 2:
        t = t.flip(-2)
    return t


def in_order_of(frames: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``frames`` (B, T, 3, H, W), each sample forward or reversed, whichever is closer to
    ``ref`` (MSE)."""
    fwd = ((frames - ref) ** 2).flatten(1).mean(1)
    rev = ((frames.flip(1) - ref) ** 2).flatten(1).mean(1)
    return torch.where((rev < fwd)[:, None, None, None, None], frames.flip(1), frames)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default", help="a model folder or name")
    ap.add_argument("--data-root", default=str(default_data_dir(HERE.parent)))
    ap.add_argument("--split", default=str(HERE.parent / "scripts" / "data_split.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "self_ensemble.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import blurvid
    from blurvid._fs import atomic_write_bytes
    from blurvid.data import validation_set
    from blurvid.scores import predict_set, validation_scores

    val = validation_set(args.data_root, split=args.split)
    model = blurvid.load_model(args.model).eval()

    def run(x: torch.Tensor) -> torch.Tensor:
        return predict_set(model, x)

    plain = run(val.blurry)
    members = [plain] + [in_order_of(flip(run(flip(val.blurry, k)), k), plain) for k in (1, 2, 3)]
    rows = []
    for n in (1, 2, 4):
        scores = validation_scores(torch.stack(members[:n]).mean(0), val.frames, val.blurry)
        rows.append({"members": n, **{k: round(v, 4) for k, v in scores.items()}})
    record = {
        "benchmark": "self_ensemble",
        "command": "python experiments/self_ensemble.py " + " ".join(argv or []),
        "model": args.model,
        "samples": len(val.blurry),
        "rows": rows,
    }
    atomic_write_bytes(Path(args.out), (json.dumps(record, indent=1) + "\n").encode())
    print("| members | G passes | centre gain (dB) | 7-frame gain (dB) | motion ratio |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['members']} | {r['members']} | {r['centre_gain_db']:+.2f} | "
              f"{r['gain_db']:+.2f} | {r['motion_ratio']:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
