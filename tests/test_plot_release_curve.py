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
