"""The release run's scripts, on the CPU with a tiny G: ``scripts/train_release_v0.2.sh`` (the
session-spanning CPU run) starts, stops at its limit with a checkpoint, and resumes to the end.
(A lent GPU's call, ``scripts/gpu_session.py``, has its own test: ``test_gpu_session.py``.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
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


def release_env(tmp_path, subprocess_env, **extra: str) -> dict[str, str]:
    """The release scripts' environment for a CPU test: tiny photos under tmp_path/data, the
    run in tmp_path/release, 6-sample banks in tmp_path/banks; ``extra`` adds or overrides."""
    write_photos(tmp_path / "data" / "photos")
    return {**subprocess_env, "PYTHON": sys.executable, "DATA_ROOT": str(tmp_path / "data"),
            "DATA": f"photos:{tmp_path / 'data' / 'photos'}", "OUT_ROOT": str(tmp_path / "release"),
            "BANK_DIR": str(tmp_path / "banks"), "BANK_SIZE": "6", **extra}  # fmt: skip


def test_release_script_renders_a_new_bank_per_start_and_resumes(tmp_path, subprocess_env):
    out, banks = tmp_path / "release", tmp_path / "banks"
    env = release_env(tmp_path, subprocess_env, STEPS="3", CKPT_EVERY="1", CPU_AMP="0",
                      EXTRA_ARGS=TINY + " --time-limit 0.0001 --batch-size 2")  # fmt: skip
    first = run_script("train_release_v0.2.sh", env=env)
    assert first.returncode == 75, first.stdout + first.stderr  # stopped at its time limit
    assert (out / "base" / "bank_seed").read_text().strip() == "1"
    assert [p.name for p in banks.glob("*.safetensors")] == ["bank_6_128_1.safetensors"]
    env["EXTRA_ARGS"] = TINY + " --batch-size 2"
    second = run_script("train_release_v0.2.sh", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (out / "base" / "bank_seed").read_text().strip() == "2"
    assert [p.name for p in banks.glob("*.safetensors")] == ["bank_6_128_2.safetensors"]
    model = load_model(out / "base" / "model")
    assert model.metadata["steps"] == "3" and model.config.width == 8
    assert not TrainConfig.from_json(out / "base" / "train_config.json").cpu_amp  # CPU_AMP=0
    # a fresh clone has latest/ (committed) but not the checkpoint: the run goes on from there
    export = subprocess.run([sys.executable, "-m", "blurvid", "export", str(out / "base"),
                             str(out / "base" / "latest")], env=env, capture_output=True, text=True)  # fmt: skip
    assert export.returncode == 0, export.stdout + export.stderr
    (out / "base" / "checkpoint.safetensors").unlink()
    shutil.rmtree(out / "base" / "model")
    third = run_script("train_release_v0.2.sh", env={**env, "STEPS": "5"})
    assert third.returncode == 0, third.stdout + third.stderr
    assert "continuing from" in third.stderr
    assert load_model(out / "base" / "model").metadata["steps"] == "5"
    assert checkpoint_step(out / "base") == 5


def test_release_script_renders_a_new_bank_every_bank_minutes(tmp_path, subprocess_env):
    out, banks = tmp_path / "release", tmp_path / "banks"
    env = release_env(tmp_path, subprocess_env, STEPS="3", CKPT_EVERY="1", BANK_MINUTES="0.0001",
                      EXTRA_ARGS=TINY + " --batch-size 2 --log-every 1", CPU_AMP="1")  # fmt: skip
    run = run_script("train_release_v0.2.sh", env=env)
    assert run.returncode == 0, run.stdout + run.stderr  # segments of 75 (time limit), then done
    seeds = int((out / "base" / "bank_seed").read_text())
    assert seeds >= 2  # each segment trains at least one step on its own bank
    assert run.stdout.count("trainer exited with 75") == seeds - 1
    assert run.stdout.count("trainer exited with 0") == 1
    assert [p.name for p in banks.glob("*.safetensors")] == [f"bank_6_128_{seeds}.safetensors"]
    assert load_model(out / "base" / "model").metadata["steps"] == "3"
    assert checkpoint_step(out / "base") == 3
    log = [json.loads(line) for line in (out / "base" / "log.jsonl").open()]
    assert sorted({r["step"] for r in log if "lr" in r}) == [1, 2, 3]  # resumed, not restarted
    assert TrainConfig.from_json(out / "base" / "train_config.json").cpu_amp  # CPU_AMP=1


def test_release_stages_script_fine_tunes_gram_then_hepta_and_skips_finished(
    tmp_path, subprocess_env
):
    out = tmp_path / "release"
    env = release_env(tmp_path, subprocess_env, STEPS="2", GRAM_STEPS="2", HEPTA_STEPS="3",
                      EXTRA_ARGS=TINY + " --batch-size 2")  # fmt: skip
    base = run_script("train_release_v0.2.sh", env=env)
    assert base.returncode == 0, base.stdout + base.stderr
    env["BASE"] = str(out / "base" / "model")
    first = run_script("train_release_v0.2_stages.sh", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    gram, hepta = load_model(out / "gram" / "model"), load_model(out / "hepta" / "model")
    assert (gram.metadata["stage"], gram.metadata["steps"]) == ("gram", "2")
    assert (hepta.metadata["stage"], hepta.metadata["steps"]) == ("hepta", "3")
    assert gram.config == hepta.config == load_model(out / "base" / "model").config
    # the stages fine-tune B: G moved away from it
    b = load_model(out / "base" / "model").state_dict()
    assert any(not torch.equal(v, hepta.state_dict()[k]) for k, v in b.items())
    stamp = (out / "hepta" / "model" / "model.safetensors").stat().st_mtime_ns
    again = run_script("train_release_v0.2_stages.sh", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (out / "hepta" / "model" / "model.safetensors").stat().st_mtime_ns == stamp


def test_anneal_script_branches_from_an_export_with_the_base_recipe(tmp_path, subprocess_env):
    from blurvid.train.loop import lr_at

    out = tmp_path / "release"
    env = release_env(tmp_path, subprocess_env, STEPS="400",
                      EXTRA_ARGS=TINY + " --batch-size 2 --time-limit 0.0001")  # fmt: skip
    base = run_script("train_release_v0.2.sh", env=env)  # the base run, stopped early
    assert base.returncode == 75, base.stdout + base.stderr
    branch_at = checkpoint_step(out / "base")
    export = subprocess.run([sys.executable, "-m", "blurvid", "export", str(out / "base"),
                             str(out / "base" / "latest")], env=env, capture_output=True, text=True)  # fmt: skip
    assert export.returncode == 0, export.stdout + export.stderr
    env = {**env, "FROM": str(out / "base" / "latest"), "ANNEAL_STEPS": "4",
           "EXTRA_ARGS": TINY + " --batch-size 2 --log-every 1"}  # fmt: skip
    run = run_script("anneal_release_v0.2.sh", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    branch = out.with_name("release-anneal") / "base"
    assert (branch / "from_step").read_text().strip() == str(branch_at)
    model = load_model(branch / "model")
    assert model.metadata["steps"] == str(branch_at + 4) and model.config.width == 8
    cfg = TrainConfig.from_json(branch / "train_config.json")
    assert (cfg.decay_start, cfg.steps) == (branch_at, branch_at + 4)
    assert cfg.central_weight == 10 and cfg.ema_decay == 0.999  # the base run's recipe
    log = [json.loads(line) for line in (branch / "log.jsonl").open()]
    lrs = {r["step"]: r["lr"] for r in log if "lr" in r}
    steps = range(branch_at + 1, branch_at + 5)
    assert sorted(lrs) == list(steps)
    # the schedule of the branch's config (here inside the re-warm-up of fresh Adam moments:
    # the tiny base run stopped before the warm-up's end; tests/train/test_continue.py checks
    # the anneal itself)
    assert [lrs[k] for k in steps] == pytest.approx(
        [lr_at(k - 1, cfg, rewarm_from=branch_at) for k in steps]
    )
    assert checkpoint_step(out / "base") == branch_at  # the base run itself is untouched
