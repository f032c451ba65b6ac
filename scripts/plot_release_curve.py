"""Plot the validation curve of a training run's ``log.jsonl`` (default: the release v0.2 base
run) into ``docs/images/release_v0.2_curve.png``:

    python scripts/plot_release_curve.py [LOG] [--out PNG] [--title TEXT] [--mark STEP:TEXT ...]

Two panels against the training step: the gains over the blurry input (7-frame best order
and centre frame, dB; issue 16's +2.0 dB target dashed) and the motion ratio (the target band
0.6-1.2 shaded). A run that went back to an earlier step (``--continue-from`` an older export,
as the release run did at step 9 000 to add the video stills) leaves the records it replaced in
the log: they are drawn grey and dashed ("superseded"), the live lineage in colour. It also
prints the live lineage's validation records as a Markdown table, and issue 16's stopping rule
(stop when the centre-frame gain has not risen by ``--min-rise`` dB, 0.2, over the last
``--window-hours`` hours of training, 5; training hours summed from the log's per-start
``time`` stamps). ``--mark`` draws a labelled vertical line at a step (default, for the release
log: where the video stills joined the data).

Needs matplotlib (the ``docs`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "training" / "release-v0.2" / "base" / "log.jsonl"
OUT = ROOT / "docs" / "images" / "release_v0.2_curve.png"
KEYS = ("val_gain_db", "val_centre_gain_db", "val_motion_ratio")


def split_lineage(records: list[dict]) -> tuple[list[dict], list[list[dict]]]:
    """The validation records of ``records`` (in file order) as ``(live, superseded)``: a
    record is superseded when a later record of the log has the same or a smaller step (the
    run went back past it); ``superseded`` holds each replaced stretch as its own list."""
    steps = [r["step"] for r in records if isinstance(r.get("step"), int)]
    live: list[dict] = []
    superseded: list[list[dict]] = []
    seen = 0
    for r in records:
        if not isinstance(r.get("step"), int):
            continue
        seen += 1
        if not all(k in r for k in KEYS):
            continue
        later_min = min(steps[seen:], default=None)
        if later_min is not None and later_min <= r["step"]:
            if not superseded or superseded[-1][-1]["step"] >= r["step"]:
                superseded.append([])
            superseded[-1].append(r)
        else:
            live.append(r)
    return live, superseded


def training_hours(records: list[dict]) -> dict[int, float]:
    """Hours of training up to each logged step of the live lineage. Each training record's
    ``time`` counts seconds since its start (it falls back to near 0 at every restart), so a
    record's duration is its ``time`` minus the previous record's in the same start (its whole
    ``time`` for the first); a step logged again after the run went back keeps its last
    duration; the hours are summed in step order."""
    duration: dict[int, float] = {}
    previous = None
    for r in records:
        if not isinstance(r.get("step"), int) or not isinstance(r.get("time"), (int, float)):
            continue
        t = float(r["time"])
        duration[r["step"]] = t - previous if previous is not None and t >= previous else t
        previous = t
    hours, total = {}, 0.0
    for step in sorted(duration):
        total += duration[step] / 3600
        hours[step] = total
    return hours


def stop_verdict(live: list[dict], hours: dict[int, float], window_h: float = 5.0,
                 min_rise: float = 0.2) -> tuple[bool, str]:  # fmt: skip
    """Issue 16's rule: has the best centre-frame gain of the last ``window_h`` hours of
    training risen by ``min_rise`` dB over the best before them? ``(met, sentence)``: met =
    the run should stop (never before ``window_h`` hours of training)."""
    logged = sorted(hours)

    def at(step: int) -> float:  # the hours of the last training record at or before step
        earlier = [s for s in logged if s <= step]
        return hours[earlier[-1]] if earlier else 0.0

    end = at(live[-1]["step"])
    before = [r for r in live if at(r["step"]) <= end - window_h]
    if not before:
        return False, (
            f"stopping rule: {end:.1f} h of training so far, under the {window_h:g} h window: go on"
        )
    within = [r for r in live if at(r["step"]) > end - window_h]
    old = max(r["val_centre_gain_db"] for r in before)
    new = max((r["val_centre_gain_db"] for r in within), default=float("-inf"))
    met = new - old < min_rise
    verdict = "stop (the rule is met)" if met else "go on"
    return met, (f"stopping rule: {end:.1f} h of training; best centre gain {new:+.2f} dB in the "
                 f"last {window_h:g} h vs {old:+.2f} dB before (rise {new - old:+.2f}, needs "
                 f"{min_rise:+.2f}): {verdict}")  # fmt: skip


def stop_rule(live: list[dict], hours: dict[int, float], window_h: float = 5.0,
              min_rise: float = 0.2) -> str:  # fmt: skip
    """:func:`stop_verdict`'s sentence."""
    return stop_verdict(live, hours, window_h, min_rise)[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", nargs="?", default=str(LOG))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--title", default="release v0.2, stage 1 (base): validation, 80 samples")
    ap.add_argument("--mark", nargs="*", default=["9000:+ video stills"],
                    help="STEP:TEXT vertical markers")  # fmt: skip
    ap.add_argument("--window-hours", type=float, default=5.0)
    ap.add_argument("--min-rise", type=float, default=0.2)
    args = ap.parse_args(argv)
    marks = [(int(m.split(":", 1)[0]), m.split(":", 1)[1]) for m in args.mark]
    records = [json.loads(line) for line in Path(args.log).read_text().splitlines() if line]
    live, superseded = split_lineage(records)
    if not live:
        raise SystemExit(f"{args.log}: no validation records (val_gain_db, ...)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (gain, motion) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for k, stretch in enumerate(superseded):
        x = [r["step"] for r in stretch]
        for key, ax in (("val_gain_db", gain), ("val_centre_gain_db", gain),
                        ("val_motion_ratio", motion)):  # fmt: skip
            ax.plot(x, [r[key] for r in stretch], "--", color="0.6", lw=1,
                    label="superseded" if k == 0 and key != "val_centre_gain_db" else None)  # fmt: skip
    x = [r["step"] for r in live]
    gain.plot(x, [r["val_gain_db"] for r in live], "o-", ms=3, label="7 frames, best order")
    gain.plot(x, [r["val_centre_gain_db"] for r in live], "s-", ms=3, label="centre frame")
    gain.axhline(2.0, ls=":", color="k", lw=1, label="target +2.0 dB")
    gain.axhline(0.0, color="k", lw=0.5)
    gain.set_ylabel("gain over the blurry input (dB)")
    motion.plot(x, [r["val_motion_ratio"] for r in live], "o-", ms=3, color="C2",
                label="motion ratio")  # fmt: skip
    motion.axhspan(0.6, 1.2, color="C2", alpha=0.12, label="target 0.6-1.2")
    motion.set_ylim(0.0, 1.3)
    motion.set_ylabel("motion of the frames / the truth's")
    for ax in (gain, motion):
        for step, text in marks:
            ax.axvline(step, color="0.3", lw=0.8, ls="-.")
            ax.text(step, ax.get_ylim()[1], f" {text}", va="top", ha="left", fontsize=8)
        ax.set_xlabel("training step (batch 8, 128 px crops)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(args.title, fontsize=10)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp)
    tmp.replace(out)
    print("| step | 7 frames (dB) | centre (dB) | motion |\n|---:|---:|---:|---:|")
    for r in live:
        print(f"| {r['step']} | {r['val_gain_db']:+.2f} | {r['val_centre_gain_db']:+.2f} | "
              f"{r['val_motion_ratio']:.2f} |")  # fmt: skip
    print(stop_rule(live, training_hours(records), args.window_hours, args.min_rise))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
