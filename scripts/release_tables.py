"""Print the Markdown tables of docs/model-card.md and docs/evaluation.md from the JSON files
that `scripts/release.sh recipes/release-v0.N.toml evaluate` writes (so no number is copied
by hand).

    python scripts/release_tables.py [docs/results] [v0.1|v0.2]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/results")
RELEASE = sys.argv[2] if len(sys.argv) > 2 else "v0.1"


def load(name: str) -> dict:
    return json.loads((ROOT / f"release-{RELEASE}-{name}.json").read_text())


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main_table() -> None:
    paper, strict = load("paper"), load("strict")
    ident = paper["rows"][0]["psnr"]
    print(
        "| Method | PSNR best order (dB) | gain | PSNR given order (dB) | SSIM best / given "
        "| EPE (px) | re-blur PSNR (dB) | motion | s/image |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for rp, rs in zip(paper["rows"], strict["rows"]):
        gain = rp["psnr"] - ident
        print(
            f"| {rp['name']} | {rp['psnr']:.2f} | {gain:+.2f} | {rs['psnr']:.2f} "
            f"| {rp['ssim']:.3f} / {rs['ssim']:.3f} | {fmt(rp['epe'], '.2f')} "
            f"| {fmt(rp['reblur_psnr'], '.2f')} | {fmt(rp['motion_ratio'], '.2f')} "
            f"| {fmt(rp['seconds'], '.3f')} |"
        )
    print(
        f"\n{paper['rows'][0]['n']} samples; protocols: {paper['protocol']['name']} / "
        f"{strict['protocol']['name']}."
    )


def subset_table() -> None:
    print("\n| Method | synthetic 64: PSNR / SSIM | real 16: PSNR / SSIM |")
    print("|---|---|---|")
    syn, real = load("paper-synthetic"), load("paper-real")
    for a, b in zip(syn["rows"], real["rows"]):
        print(
            f"| {a['name']} | {a['psnr']:.2f} / {a['ssim']:.3f} | {b['psnr']:.2f} / {b['ssim']:.3f} |"
        )


def center_table() -> None:
    center = load("center")
    print("\n| Method | centre frame PSNR (dB) | SSIM |")
    print("|---|---|---|")
    for r in center["rows"]:
        print(f"| {r['name']} | {r['psnr']:.2f} | {r['ssim']:.3f} |")


def per_frame_table() -> None:
    paper = load("paper")
    print("\n| row | " + " | ".join(str(i) for i in range(1, 8)) + " |")
    print("|---|" + "---|" * 7)
    for r in paper["rows"]:
        print(f"| {r['name']} | " + " | ".join(f"{v:.2f}" for v in r["per_frame_psnr"]) + " |")


if __name__ == "__main__":
    main_table()
    subset_table()
    center_table()
    per_frame_table()
