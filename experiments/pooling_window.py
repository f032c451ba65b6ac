"""Global vs local pooling in G's channel attention on images larger than the training crops.

G's gated blocks scale their channels by a global average (NAFNet's simplified channel
attention). Training sees 128 px crops, so the average covers 128 px; on a whole photo it
covers the whole photo. NAFNet's "test-time local converter" (TLC, Chu et al., ECCV 2022)
reports +0.6 dB from pooling over a window of the training size at inference instead. This
script measures what that is worth for a blurvid model: synthetic camera shake in the
validation range (``blurvid.data.VALIDATION_SHAKE``) rendered on the validation photos at a
large size, scored with the model's global pooling and with local windows of 1x and 1.5x the
training crop (in input pixels; a block at 1/s resolution pools over crop / s feature pixels).

    python experiments/pooling_window.py [--model training/release-v0.2/base/best] [--size 512]

Writes ``experiments/results/pooling_window.json`` and prints a Markdown table: centre-frame
PSNR gain over the blurry input and 7-frame best-order gain over the identity, per variant.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent


class LocalMean(nn.Module):
    """Mean over a ``window`` x ``window`` neighbourhood (clipped at the borders), stride 1,
    from an integral image in float64 (O(1) per pixel for any window)."""

    def __init__(self, window: int) -> None:
        super().__init__()
        self.window = int(window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        k = self.window
        if k >= h and k >= w:
            return x.mean((-2, -1), keepdim=True)
        s = F.pad(x.double(), (1, 0, 1, 0)).cumsum(-1).cumsum(-2)
        r = k // 2
        y0 = (torch.arange(h) - r).clamp(0, h)
        y1 = (torch.arange(h) - r + k).clamp(0, h)
        x0 = (torch.arange(w) - r).clamp(0, w)
        x1 = (torch.arange(w) - r + k).clamp(0, w)
        rows1, rows0 = s[..., y1, :], s[..., y0, :]
        total = rows1[..., x1] - rows0[..., x1] - rows1[..., x0] + rows0[..., x0]
        count = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).to(total)
        return (total / count).to(x.dtype)


def with_local_pooling(model: nn.Module, crop: float) -> nn.Module:
    """A copy of ``model`` whose blocks pool over ``crop`` input pixels (``crop / s`` feature
    pixels at 1/s resolution) instead of the whole image."""
    import copy

    g = copy.deepcopy(model)
    levels = len(g.encoders)
    stages = [(enc, 2 * 2**i) for i, enc in enumerate(g.encoders)]
    stages += [(g.middle, 2 * 2**levels)]
    stages += [(dec, 2 * 2 ** (levels - 1 - j)) for j, dec in enumerate(g.decoders)]
    for stage, s in stages:
        for block in stage:
            block.attention[0] = LocalMean(max(1, round(crop / s)))
    return g


def samples(data_root: Path, size: int, per_photo: int, seed: int = 4321) -> list[dict]:
    from blurvid.data import VALIDATION_SHAKE, find_split, item_generator, render_shake
    from blurvid.data.base import _dequantize, _quantize
    from blurvid.io import read_image

    cfg = VALIDATION_SHAKE.replace(size=size)
    out = []
    for i, name in enumerate(find_split().validation_photos):
        photo = read_image(data_root / "photos" / name)
        for j in range(per_photo):
            s = render_shake(photo, cfg, item_generator(seed, i, j))
            out.append({
                "photo": name,
                "blurry": _dequantize(_quantize(s["blurry"])),
                "frames": _dequantize(_quantize(s["frames"])),
            })  # fmt: skip
    return out


def score(model: nn.Module, data: list[dict]) -> dict[str, float]:
    from blurvid.metrics import best_order_psnr, psnr

    centre, frames7, seconds = [], [], 0.0
    with torch.inference_mode():
        for d in data:
            b, f = d["blurry"][None], d["frames"][None]
            t0 = time.perf_counter()
            p = model(b).clamp(0, 1)
            seconds += time.perf_counter() - t0
            mid = f.shape[1] // 2
            centre.append(float(psnr(p[:, mid], f[:, mid]) - psnr(b, f[:, mid])))
            ident = b[:, None].expand_as(f)
            frames7.append(float(best_order_psnr(p, f) - best_order_psnr(ident, f)))
    n = len(data)
    return {
        "centre_gain_db": sum(centre) / n,
        "gain_db": sum(frames7) / n,
        "centre_gain_per_sample": [round(v, 4) for v in centre],
        "s_per_image": seconds / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(HERE.parent / "training/release-v0.2/base/best"))
    ap.add_argument("--data-root", default=str(default_data_dir(HERE.parent)))
    ap.add_argument("--size", type=int, default=512, help="side of the rendered squares")
    ap.add_argument("--per-photo", type=int, default=3)
    ap.add_argument("--crop", type=int, default=128, help="training crop size (px)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "pooling_window.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from blurvid import load_model
    from blurvid._fs import atomic_write_bytes

    g = load_model(args.model).eval()
    data = samples(Path(args.data_root), args.size, args.per_photo)
    variants = {
        "global (as trained, the default)": g,
        f"local {args.crop} px": with_local_pooling(g, args.crop),
        f"local {round(1.5 * args.crop)} px": with_local_pooling(g, 1.5 * args.crop),
    }
    rows = {name: score(m, data) for name, m in variants.items()}
    result = {
        "benchmark": "pooling_window",
        "command": "python experiments/pooling_window.py " + " ".join(argv or []),
        "model": args.model,
        "size": args.size,
        "samples": len(data),
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads},
        "torch": torch.__version__,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(result, indent=1) + "\n").encode())
    print(f"{len(data)} samples of {args.size}x{args.size} px, model {args.model}\n")
    print("| pooling | centre-frame gain (dB) | 7-frame best-order gain (dB) | s/image |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['centre_gain_db']:+.3f} | {r['gain_db']:+.3f} "
            f"| {r['s_per_image']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
