"""How much does G's built-in blur model cost? The ceiling of a G whose frames average to the input.

The default G (``reblur="srgb"``) makes its 7 frames average *exactly* to the blurry input in
sRGB, while the data average in linear light: the true frames' sRGB mean is not the input
(the Jensen gap of the sRGB curve, largest at blurred high-contrast edges). The best such a G
can output is the truth shifted so that it averages to the input; this scores that oracle
on the fixed validation set (and the ``"linear"`` variant), as gains over the blurry input.

    python experiments/reblur_constraint_ceiling.py    # -> experiments/results/reblur_constraint_ceiling.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent


def _psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    from blurvid.metrics import psnr

    return psnr(a.clamp(0, 1), b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=str(default_data_dir(HERE.parent)))
    args = ap.parse_args(argv)
    from blurvid.data import validation_set
    from blurvid.model import linear_to_srgb, srgb_to_linear

    vs = validation_set(args.data_root)
    result: dict = {"command": "python experiments/reblur_constraint_ceiling.py"}
    for source in ("synthetic", "real"):
        part = vs.subset(source)
        b, f = part.blurry, part.frames
        mid = f.shape[1] // 2
        ident_c = _psnr(b, f[:, mid])
        srgb = f + (b - f.mean(1)).unsqueeze(1)
        lin = srgb_to_linear(f)
        linear = linear_to_srgb(lin + (srgb_to_linear(b) - lin.mean(1)).unsqueeze(1))
        result[source] = {
            "samples": len(part),
            "psnr_true_frames_srgb_mean_vs_input": round(float(_psnr(f.mean(1), b).mean()), 2),
            "srgb_oracle_centre_gain_db": round(float((_psnr(srgb[:, mid], f[:, mid]) - ident_c).mean()), 2),
            "linear_oracle_centre_gain_db": round(float((_psnr(linear[:, mid], f[:, mid]) - ident_c).mean()), 2),
        }  # fmt: skip
    out = HERE / "results" / "reblur_constraint_ceiling.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
