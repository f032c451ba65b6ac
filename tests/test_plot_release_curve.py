"""``scripts/plot_release_curve.py``: which validation records of a log that went back to an
earlier step are live and which were replaced (known answers), and the figure from a log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import load_script


def _script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "plot_release_curve.py"
    return load_script(path, "plot_release_curve")


def _val(step: int, gain: float) -> dict:
    return {"stage": "base", "step": step, "val_gain_db": gain, "val_centre_gain_db": gain / 2,
            "val_motion_ratio": 0.5}  # fmt: skip


def _log() -> list[dict]:
    """Train to 5 (validating at 2 and 4), go back to 3 and train to 6 (validating at 4 and 6);
    training records carry no val_ keys."""
    train = [{"stage": "base", "step": s, "loss": 1.0 / s} for s in range(1, 6)]
    first = train[:2] + [_val(2, 0.2)] + train[2:4] + [_val(4, 0.4)] + train[4:]
    second = [{"stage": "base", "step": s, "loss": 0.5 / s} for s in (3, 4)]
    return first + second + [_val(4, 0.45), {"stage": "base", "step": 5}, _val(6, 0.6)]


def test_split_lineage_known_answer():
    live, superseded = _script().split_lineage(_log())
    assert [(r["step"], r["val_gain_db"]) for r in live] == [(2, 0.2), (4, 0.45), (6, 0.6)]
    assert [[(r["step"], r["val_gain_db"]) for r in s] for s in superseded] == [[(4, 0.4)]]


def test_a_straight_log_has_nothing_superseded():
    live, superseded = _script().split_lineage([_val(s, s / 10) for s in (1, 2, 3)])
    assert [r["step"] for r in live] == [1, 2, 3] and superseded == []


def test_figure_and_table(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in _log()))
    out = tmp_path / "curve.png"
    assert _script().main([str(log), "--out", str(out), "--mark", "3:went back"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "| 4 | +0.45 | +0.23 | 0.50 |" in table and "+0.40" not in table


def test_a_log_without_validation_is_an_error(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"stage": "base", "step": 1, "loss": 1.0}) + "\n")
    with pytest.raises(SystemExit, match="no validation records"):
        _script().main([str(log), "--out", str(tmp_path / "x.png")])


def test_training_hours_sum_each_start_and_keep_the_last_of_a_replayed_step():
    # start 1 logs steps 1-4 at 10, 20, 30, 40 s; start 2 went back to step 2 and logs steps
    # 3-5 at 7, 14, 21 s (validation records carry no time)
    log = [{"step": s, "time": 10.0 * s} for s in (1, 2, 3, 4)] + [_val(4, 0.4)]
    log += [{"step": s, "time": 7.0 * (s - 2)} for s in (3, 4, 5)]
    hours = _script().training_hours(log)
    assert {k: round(v * 3600, 6) for k, v in hours.items()} == {1: 10, 2: 20, 3: 27, 4: 34, 5: 41}


def test_stop_rule_compares_the_last_window_with_the_best_before_it():
    script = _script()
    hours = {s: float(s) for s in range(1, 11)}  # one hour per step
    live = [
        _val(s, g) for s, g in ((2, 1.0), (4, 2.0), (6, 2.2), (8, 2.1), (10, 2.3))
    ]  # centre = gain / 2
    # last 5 h = steps 6-10: best centre 1.15 vs 1.0 before (rise 0.15 < 0.2): stop
    assert script.stop_rule(live, hours, window_h=5, min_rise=0.2).endswith(
        "stop (the rule is met)"
    )
    # with a 0.1 dB bar it goes on; a 7 h window (steps 4-10 vs step 2: 1.15 - 0.5) goes on too
    assert script.stop_rule(live, hours, window_h=5, min_rise=0.1).endswith("go on")
    assert "rise +0.65" in script.stop_rule(live, hours, window_h=7)
    # a run shorter than the window always goes on
    assert "under the 20 h window: go on" in script.stop_rule(live, hours, window_h=20)
