"""Plot every ``benchmarks/results/learning_speed_*.json`` into ``docs/images/learning_curves.png``.

Two panels against training compute in CPU-core minutes (process CPU time / 60: runs made
with 1 or 2 threads compare on one axis; an idle 2-core machine does about 1.6 of them per
wall minute): the centre frame's PSNR gain over the blurry input, and the 7-frame
best-order gain over the identity, from the first validation on (a new G starts 2-3 dB below
the input). The dashed line is issue 15's target (+1.0 dB in 60 min of an idle 2-core machine,
about 96 core-minutes: the dotted line); the bold curve is ``--recipe fast``.

    python benchmarks/plot_learning_curves.py [--out docs/images/learning_curves.png]

It also prints the Markdown table kept in docs/training.md ("Learning speed").

Needs matplotlib (the ``docs`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "images" / "learning_curves.png"))
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = []
    for path in sorted(Path(args.results).glob("learning_speed_*.json")):
        rec = json.loads(path.read_text())
        if len(rec.get("curve", [])) >= 2:
            runs.append((path.stem.removeprefix("learning_speed_"), rec))
    if not runs:
        raise SystemExit(f"no learning_speed_*.json with a curve in {args.results}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), sharex=True)
    panels = (("centre_gain_db", "centre frame: PSNR gain over the input (dB)"),
              ("gain_db", "7 frames, best order: gain over the identity (dB)"))  # fmt: skip
    for ax, (key, title) in zip(axes, panels):
        for name, rec in runs:
            # from the first validation after step 0: a new G starts 2-3 dB below the input,
            # which would squash the curves that matter into a sliver of the panel
            curve = [r for r in rec["curve"] if r["step"] > 0]
            xs = [r["cpu_s"] / 60 for r in curve]
            ys = [r[key] for r in curve]
            main = name == "fast"  # what `--recipe fast` trains: drawn bold
            ax.plot(xs, ys, marker="." if not main else "o", ms=3 if not main else 4,
                    lw=2.6 if main else 1.0, zorder=3 if main else 2,
                    label=f"{name} ({rec.get('params', 0) / 1e6:.2f} M)")  # fmt: skip
        ax.axhline(1.0, ls="--", c="grey", lw=1)
        ax.text(1, 1.02, "target: +1.0 dB in 60 min of 2 cores (~96 core-min)", fontsize=7,
                color="grey", va="bottom")  # fmt: skip
        ax.axvline(96, ls=":", c="grey", lw=1)
        ax.axhline(0.0, c="black", lw=0.6)
        ax.set_ylim(-0.3, 1.15)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training compute (CPU-core minutes)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=5, frameon=False)
    fig.suptitle("blurvid learning speed (benchmarks/learning_speed.py, fixed validation set)",
                 fontsize=11)  # fmt: skip
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}\n")
    print(table(runs))
    return 0


def table(runs: list) -> str:
    """One row per run: size, speed, how far it got, and its last and best gains."""
    lines = [
        "| recipe | data | params | threads | core-s/step | steps | core-minutes "
        "| centre gain: last (best) | 7-frame gain: last (best) | synthetic / real centre "
        "| motion |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rec in runs:
        curve, threads = rec["curve"], rec["machine"]["threads"]
        last = curve[-1]
        minutes = last["cpu_s"] / 60
        s_step = last["cpu_s"] / max(last["step"], 1)
        data = "photos" if any("photos" in d and len(rec["config"]["data"]) == 1
                               for d in rec["config"]["data"]) else "mix"  # fmt: skip
        best_c = max(r["centre_gain_db"] for r in curve)
        best_g = max(r["gain_db"] for r in curve)
        lines.append(
            f"| {name} | {data} | {rec.get('params', 0) / 1e6:.2f} M | {threads} | {s_step:.2f} "
            f"| {last['step']} "
            f"| {minutes:.0f} | {last['centre_gain_db']:+.2f} ({best_c:+.2f}) "
            f"| {last['gain_db']:+.2f} ({best_g:+.2f}) "
            f"| {last.get('synthetic_centre_gain_db', float('nan')):+.2f} / "
            f"{last.get('real_centre_gain_db', float('nan')):+.2f} | {last['motion_ratio']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
