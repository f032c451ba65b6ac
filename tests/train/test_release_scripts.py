"""The lent-GPU scripts of the release run, on the CPU with a tiny G: ``scripts/train_gpu.sh`` (a
lent GPU's time-limited share of the run, and ``scripts/gpu_release_session.sh`` around it)
start, stop at their limit with a checkpoint, and resume to the end. The session-spanning CPU
run (``scripts/release.py``): tests/train/test_release_driver.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from test_train_cli import write_photos

from blurvid import load_model
from blurvid.train import TrainConfig
from blurvid.train.checkpoint import load_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")]

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
TINY = "--width 8 --crop 32"


def run_script(name, *args, env, timeout=300):
    return subprocess.run(["bash", str(REPO / "scripts" / name), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def checkpoint_step(folder) -> int:
    return int(load_checkpoint(folder / "checkpoint.safetensors")[1]["step"])


def gpu_env(tmp_path, subprocess_env, **extra: str) -> dict[str, str]:
    """scripts/train_gpu.sh's environment for a CPU test: tiny photos under tmp_path/data,
    batch 2, a checkpoint every step, a tiny G; ``extra`` adds or overrides."""
    write_photos(tmp_path / "data" / "photos")
    return {**subprocess_env, "PYTHON": sys.executable, "DATA_ROOT": str(tmp_path / "data"),
            "DATA": f"photos:{tmp_path / 'data' / 'photos'}", "BATCH": "2", "CKPT_EVERY": "1",
            "EXTRA_ARGS": TINY, **extra}  # fmt: skip


def test_train_gpu_script_stops_at_its_limit_and_resumes(tmp_path, subprocess_env):
    env = gpu_env(tmp_path, subprocess_env, WORKERS="0", STEPS="4", MINUTES="0.0001",
                  INIT=str(tmp_path / "no-model"))  # fmt: skip
    out = tmp_path / "out"
    first = run_script("train_gpu.sh", out, tmp_path / "no-checkpoint", env=env)
    assert first.returncode == 0, first.stdout + first.stderr  # 75 (time limit) -> 0
    assert "time limit reached" in first.stdout
    assert (out / "base" / "checkpoint.safetensors").is_file()
    assert not (out / "base" / "model").exists()
    assert 1 <= checkpoint_step(out / "base") < 4
    second = run_script("train_gpu.sh", out, env={**env, "MINUTES": "10"})
    assert second.returncode == 0, second.stdout + second.stderr
    assert load_model(out / "base" / "model").metadata["steps"] == "4"
    # a run started from somebody else's checkpoint copies it in first
    third = run_script("train_gpu.sh", tmp_path / "out2", out / "base" / "checkpoint.safetensors",
                       env={**env, "STEPS": "5"})  # fmt: skip
    assert third.returncode == 0, third.stdout + third.stderr
    assert checkpoint_step(tmp_path / "out2" / "base") == 5
    assert load_model(tmp_path / "out2" / "base" / "model").metadata["steps"] == "5"


def test_gpu_session_returns_a_snapshot_per_segment(tmp_path, subprocess_env):
    """scripts/gpu_release_session.sh (the whole command of a lent-GPU call): segments that
    resume each other exactly, an fp16-loadable EMA export per segment, the log with its time
    split and the data benchmark, all flat in $OUT (what the device tool can bring back)."""
    out = tmp_path / "OUT"
    out.mkdir()
    env = gpu_env(tmp_path, subprocess_env, WORKERS="2", STEPS="3", SEGMENTS="0.0001 10",
                  CONTINUE_FROM=str(tmp_path / "no-model"), RUN=str(tmp_path / "run"),
                  OUT=str(out))  # fmt: skip
    res = run_script("gpu_release_session.sh", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "bench-data-parallel.json", "bench-data.json", "config.json", "gpu.log", "log.jsonl",
        "s1/model.safetensors", "s2/model.safetensors"]  # fmt: skip
    for n in (1, 2):
        shutil.copy(out / "config.json", out / f"s{n}")
    first, last = load_model(out / "s1"), load_model(out / "s2")
    assert 1 <= int(first.metadata["steps"]) < 3 and last.metadata["steps"] == "3"
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    assert [r["step"] for r in log if "loss" in r][-1] == 3
    assert all(r["data_s"] >= 0 and r["step_s"] > 0 for r in log if "loss" in r)
    assert json.loads((out / "bench-data.json").read_text())["rows"][0]["render_ms"] > 0
    console = (out / "gpu.log").read_text()  # segment 2 ships uint8 batches (UINT8_FROM=2)
    assert "segment 1, 0.0001 min, EXTRA_ARGS=--width 8 --crop 32\n" in console
    assert "segment 2, 10 min, EXTRA_ARGS=--width 8 --crop 32 --loader-uint8\n" in console
    assert TrainConfig.from_json(tmp_path / "run" / "base" / "train_config.json").loader_uint8
    parallel = json.loads((out / "bench-data-parallel.json").read_text())  # WORKERS=2 copies
    assert parallel["parallel"] == 2 and len(parallel["rows_per_process"]) == 2
