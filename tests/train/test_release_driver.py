"""``scripts/release.py`` (issue 32): one release driver for every recipe file.

* its dry-run ``blurvid train`` command for release v0.3 trains exactly what the retired
  ``scripts/train_release_v0.3.sh`` trained (the same config, folder, bank, validation and
  resume source), so the running v0.3 run continues under it;
* on the CPU with a tiny G (slow): a new bank per start and per segment, exact resumes,
  ``latest/`` for a fresh clone, the later stages skipped once finished, ``--no-cpu-amp``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import load_script

from blurvid.cli import build_parser
from blurvid.train import TrainConfig
from blurvid.train import recipe as recipe_module
from blurvid.train.cli import resolve_train_args
from blurvid.train.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]
V03 = "recipes/release-v0.3.toml"


@pytest.fixture(scope="module")
def driver():
    return load_script(ROOT / "scripts" / "release.py", "release_driver")


def shell_v03_argv(out: str, data_root: str, seed: int, continue_from: str | None,
                   bf16: bool, validation: bool) -> list[str]:  # fmt: skip
    """The ``blurvid train`` arguments ``scripts/train_release_v0.3.sh`` ran (commit 080f98b,
    read off the scripts, not guessed): it exported DATA (v0.2's mix + leaves@2.5), CAMERA=off,
    OUT_ROOT, BANK_DIR and -- with neither a checkpoint nor latest/ -- CONTINUE_FROM, then ran
    ``scripts/train_release_v0.2.sh`` under ``BANK_MINUTES=60``, which ran
    ``"$PYTHON" -m blurvid train "${BASE_ARGS[@]}" --out "$OUT_ROOT" --data "bank:$BANK"
    "${VAL[@]}" --steps 400000 --ckpt-every 500 ${EXTRA_ARGS} --time-limit 60 "${RESUME[@]}"``
    with BASE_ARGS, VAL and render_bank from ``scripts/release_v0.2_env.sh``."""
    base_args = ["--stage", "base", "--recipe", "fast", "--batch-size", "8",
                 "--ramp-start", "1.0", "--ramp-end", "1.0", "--adv-weight", "0", "--flow-weight", "0",
                 "--ema-decay", "0.999", "--enc-blocks", "1,1,2", "--middle-blocks", "4",
                 "--dec-blocks", "1,1,1", "--g-init", "kaiming", "--central-weight", "10",
                 "--camera", "off", "--sample-every", "0", "--log-every", "100", "-q"]  # fmt: skip
    if bf16:  # CPU_AMP=auto: --cpu-amp where /proc/cpuinfo lists avx512_bf16 or amx_bf16
        base_args.append("--cpu-amp")
    # render_bank: scripts/render_release_bank.py prints BANK_DIR / bank_file_name(6000, 128, seed, off)
    bank = f"runs/release-v0.3/banks/bank_6000_128_{seed}.safetensors"
    val = ["--val", data_root, "--split", "scripts/data_split.json", "--val-every", "1000"]
    resume = ["--resume", "auto"] + (["--continue-from", continue_from] if continue_from else [])
    return ["train", *base_args, "--out", out, "--data", f"bank:{bank}",
            *(val if validation else []), "--steps", "400000", "--ckpt-every", "500",
            "--time-limit", "60", *resume]  # fmt: skip


def resolve(argv: list[str]) -> dict:
    """What ``blurvid ARGV`` trains: the stage configs and every run-control option."""
    args = build_parser("train").parse_args(argv)
    stages, configs, _ = resolve_train_args(args)
    return {
        "stages": stages,
        "configs": {s: c.to_dict() for s, c in configs.items()},
        "out": str(args.out),
        "val": args.val,
        "split": args.split or "scripts/data_split.json",  # the default manifest otherwise
        "resume": args.resume,
        "continue_from": args.continue_from,
        "time_limit": args.time_limit,
        "quiet": args.quiet,
    }


def make_data_root(tmp_path: Path, validation: bool) -> str:
    root = tmp_path / "data"
    (root / "frames" / ("sam2_bedroom" if validation else "other")).mkdir(parents=True)
    return str(root)


@pytest.mark.parametrize("bf16", [True, False], ids=["bf16-cpu", "no-bf16"])
@pytest.mark.parametrize(
    "state",
    ["first-start", "fresh-clone-latest", "checkpoint-only", "this-repository"],
)
def test_v03_dry_run_trains_what_train_release_v03_sh_trained(
    tmp_path, monkeypatch, driver, capsys, state, bf16
):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(recipe_module, "_cpu_has_bf16", lambda: bf16)
    validation = state != "checkpoint-only"
    data_root = make_data_root(tmp_path, validation)
    out = str(tmp_path / "release-v0.3")
    base = Path(out) / "base"
    seed_before = None
    if state == "this-repository":  # the committed run folder: latest/ and bank_seed, no checkpoint
        out, base = "training/release-v0.3", ROOT / "training/release-v0.3/base"
        seed_before = int((base / "bank_seed").read_text())
        continue_from = "training/release-v0.3/base/latest"
    elif state == "first-start":  # scripts/train_release_v0.3.sh: CONTINUE_FROM=b-step87000
        continue_from = "training/release-v0.2/b-step87000"
    elif state == "fresh-clone-latest":
        (base / "latest").mkdir(parents=True)
        (base / "latest" / "model.safetensors").write_bytes(b"")
        (base / "bank_seed").write_text("7\n")
        seed_before, continue_from = 7, f"{out}/base/latest"
    else:  # a machine with the checkpoint and no latest/: --resume auto alone
        base.mkdir(parents=True)
        (base / "checkpoint.safetensors").write_bytes(b"")
        (base / "bank_seed").write_text("3\n")
        seed_before, continue_from = 3, None
    assert (base / "latest" / "model.safetensors").is_file() == (
        state in ("this-repository", "fresh-clone-latest")
    )
    seed = (seed_before or 0) + 1
    argv = [V03, "train", "--dry-run", "--data-root", data_root]
    if state != "this-repository":
        argv += ["--out", out]
    assert driver.main(argv) == 0
    printed = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("+ ")]
    render, train = (driver.shlex.split(line) for line in printed)
    assert render[1:] == ["scripts/render_release_bank.py", " ".join(load_recipe(V03).specs(data_root)),
                          str(seed), "6000", "runs/release-v0.3/banks", "scripts/data_split.json",
                          "off", "128"]  # fmt: skip
    assert train[1:3] == ["-m", "blurvid"]
    got = resolve(train[3:])
    expected = resolve(shell_v03_argv(out, data_root, seed, continue_from, bf16, validation))
    assert got == expected
    cfg = got["configs"]["base"]
    assert cfg["data"] == [f"bank:runs/release-v0.3/banks/bank_6000_128_{seed}.safetensors"]
    assert cfg["cpu_amp"] is bf16 and cfg["camera"] == "off"
    # the dry run changed nothing
    assert (base / "bank_seed").is_file() == (seed_before is not None)
    if seed_before is not None:
        assert int((base / "bank_seed").read_text()) == seed_before


def test_v03_recipe_is_the_running_runs_recorded_config():
    """The recipe's base stage resolves to the train_config.json the v0.3 run wrote (with the
    bank seed it records beside it; started on a CPU with native bf16)."""
    recipe = load_recipe(ROOT / V03)
    seed = int((ROOT / "training/release-v0.3/base/bank_seed").read_text())
    got = recipe.stage_config("base", out="training/release-v0.3", bank_seed=seed, cpu_bf16=True)
    recorded = TrainConfig.from_json(ROOT / "training/release-v0.3/base/train_config.json")
    assert got.to_dict() == recorded.to_dict()
    assert recipe.out == "training/release-v0.3" and recipe.bank["refresh_minutes"] == 60


@pytest.mark.parametrize("flag, expected", [([], True), (["--no-cpu-amp"], False),
                                            (["--no-cpu-amp", "--cpu-amp"], True)])  # fmt: skip
def test_cpu_amp_flags_override_the_recipe(monkeypatch, flag, expected):
    """``cpu_amp = "auto"`` in a recipe is on with native bf16; ``--no-cpu-amp`` turns it off
    from the command line (the old scripts' CPU_AMP=0), ``--cpu-amp`` on; the last one wins."""
    monkeypatch.setattr(recipe_module, "_cpu_has_bf16", lambda: True)
    argv = ["train", "--config", str(ROOT / V03), "--out", "o", *flag]
    assert resolve(argv)["configs"]["base"]["cpu_amp"] is expected
    preset = resolve(["train", "--recipe", "fast", "--out", "o", "--data", "photos:x", *flag])
    assert preset["configs"]["base"]["cpu_amp"] is (expected if flag else False)


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "recipes").glob("*.toml")))
def test_every_recipe_dry_runs_every_action(monkeypatch, driver, capsys, recipe):
    """``all --dry-run`` of each recipe: the base stage, every later stage, the export, one
    ``blurvid eval`` per protocol and subset over the models that are here, the tables and the
    bundle -- and no file written."""
    monkeypatch.chdir(ROOT)
    before = sorted(p for p in (ROOT / "training").rglob("*") if p.is_file())
    assert driver.main([f"recipes/{recipe}", "all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    commands = [line[2:] for line in out.splitlines() if line.startswith("+ ")]
    r = load_recipe(ROOT / "recipes" / recipe)
    for stage in r.stages:
        finished = (ROOT / r.out / stage / "model" / "config.json").is_file()
        assert any(f"--stage {stage} " in c for c in commands) != (finished and stage != "base")
    evals = [c for c in commands if " -m blurvid eval " in c]
    assert len(evals) == len(r.evaluate.get("protocols", [])) + len(r.evaluate.get("subsets", []))
    for label, folder in r.evaluate.get("models", []):
        here = folder == "default" or (ROOT / r.fill(folder)).is_dir()
        assert (f"{label}=" in evals[0]) == here, label
        assert (f"skipping {label!r}" in out) != here
    assert any("scripts/release_tables.py" in c for c in commands)
    assert any("scripts/bundle_default.py" in c for c in commands) == bool(r.bundle)
    assert sorted(p for p in (ROOT / "training").rglob("*") if p.is_file()) == before


def test_the_driver_refuses_a_bad_recipe_with_its_error(tmp_path, driver, capsys):
    bad = tmp_path / "r.toml"
    bad.write_text("[release]\nout = 'x'\nlatest = 1\n")
    assert driver.main([str(bad), "train", "--dry-run"]) == 2
    assert "unknown key 'latest' in [release]" in capsys.readouterr().err


@pytest.mark.parametrize("rise, met", [(0.3, False), (0.1, True)])
def test_the_stopping_rule_of_the_recipe_is_read_from_the_log(tmp_path, driver, rise, met):
    """One hour of training per step; the centre gain reaches 1.0 dB by hour 2 and ``1.0 +
    rise`` in the last 5 hours: the recipe's rule (0.2 dB in 5 h) stops the run below 0.2."""
    base = tmp_path / "base"
    base.mkdir()
    records = []
    for step in range(1, 11):
        records.append({"stage": "base", "step": step, "time": 3600.0 * step})
        gain = 1.0 if step <= 2 else 1.0 + rise * (step == 10)
        records.append({"stage": "base", "step": step, "val_gain_db": gain,
                        "val_centre_gain_db": gain, "val_motion_ratio": 0.5})  # fmt: skip
    # each start's time counts from 0: one start here, so the hours are the times
    (base / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    release = driver.Release(load_recipe(ROOT / V03), out=str(tmp_path))
    assert release.stopping_met() is met


# --------------------------------------------------------------------------- on the CPU
def tiny_recipe(tmp_path: Path, refresh: float = 0) -> Path:
    """A release recipe on three tiny photos: 6-sample banks in {out}/banks, a tiny G."""
    from test_train_cli import write_photos

    photos = write_photos(tmp_path / "data" / "photos")
    path = tmp_path / "tiny.toml"
    path.write_text(
        f'name = "tiny"\ndescription = "a test"\ndata_root = "{tmp_path / "data"}"\n'
        f'[data]\nspecs = ["photos:{photos}"]\nsplit = "scripts/data_split.json"\n'
        f'[bank]\nsize = 6\ncrop = 64\nseed = 1\ndir = "{{out}}/banks"\nrefresh_minutes = {refresh}\n'
        '[validation]\ndata = "{data}"\n'
        f'[release]\nout = "{tmp_path / "release"}"\nlatest_fp16 = true\n'
        "[train]\nbatch_size = 2\nsample_every = 0\nlog_every = 1\nckpt_every = 1\n"
        "perceptual_weight = 0.0\nadv_weight = 0.0\nflow_weight = 0.0\nflow = 'dis-ultrafast'\n"
        'cpu_amp = "auto"\n'
        "[train.generator]\nwidth = 8\nenc_blocks = [1]\ndec_blocks = [1]\n"
        "[stages.base]\nsteps = 3\ncrop = 32\n"
        '[stages.gram]\ninit = "{out}/base/model"\nsteps = 2\ncrop = 32\n'
        '[stages.hepta]\ninit = "{out}/gram/model"\nsteps = 2\ncrop = 32\n'
    )
    return path


def release(recipe: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "release.py"), str(recipe), *args],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.slow
def test_a_release_trains_resumes_from_latest_and_runs_its_stages(tmp_path, subprocess_env):
    from blurvid import load_model
    from blurvid.train.checkpoint import load_checkpoint

    recipe = tiny_recipe(tmp_path)
    out = tmp_path / "release"
    first = release(recipe, "train", "--", "--time-limit", "0.0001", "--no-cpu-amp",
                    env=subprocess_env)  # fmt: skip
    assert first.returncode == 75, first.stdout + first.stderr  # the time limit among the options
    assert (out / "base" / "bank_seed").read_text().strip() == "1"
    assert [p.name for p in (out / "banks").glob("*.safetensors")] == ["bank_6_64_1.safetensors"]
    assert not TrainConfig.from_json(out / "base" / "train_config.json").cpu_amp
    second = release(recipe, "train", env=subprocess_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (out / "base" / "bank_seed").read_text().strip() == "2"
    assert [p.name for p in (out / "banks").glob("*.safetensors")] == ["bank_6_64_2.safetensors"]
    assert load_model(out / "base" / "model").metadata["steps"] == "3"
    assert json.loads((out / "recipe.json").read_text())["recipe"] == str(recipe)
    # a fresh clone has latest/ but not the checkpoint: the run goes on from there
    export = release(recipe, "export", env=subprocess_env)
    assert export.returncode == 0, export.stdout + export.stderr
    assert load_model(out / "base" / "latest").metadata["steps"] == "3"
    (out / "base" / "checkpoint.safetensors").unlink()
    shutil.rmtree(out / "base" / "model")
    recipe.write_text(recipe.read_text().replace("steps = 3\n", "steps = 5\n"))
    third = release(recipe, "train", env=subprocess_env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "--continue-from" in third.stdout and "continuing from" in third.stderr
    assert int(load_checkpoint(out / "base" / "checkpoint.safetensors")[1]["step"]) == 5
    # the stages fine-tune B on the current bank; a finished stage is skipped
    stages = release(recipe, "stages", env=subprocess_env)
    assert stages.returncode == 0, stages.stdout + stages.stderr
    gram, hepta = load_model(out / "gram" / "model"), load_model(out / "hepta" / "model")
    assert (gram.metadata["steps"], hepta.metadata["steps"]) == ("2", "2")
    assert TrainConfig.from_json(out / "hepta" / "train_config.json").data == (
        f"bank:{out}/banks/bank_6_64_3.safetensors",
    )
    stamp = (out / "hepta" / "model" / "model.safetensors").stat().st_mtime_ns
    again = release(recipe, "stages", env=subprocess_env)
    assert again.returncode == 0 and "hepta: finished" in again.stdout
    assert (out / "hepta" / "model" / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_a_release_renders_a_new_bank_every_refresh_minutes(tmp_path, subprocess_env):
    from blurvid import load_model

    recipe = tiny_recipe(tmp_path, refresh=0.0001)
    out = tmp_path / "release"
    run = release(recipe, "train", env=subprocess_env)
    assert run.returncode == 0, run.stdout + run.stderr  # segments of 75, then done
    seeds = int((out / "base" / "bank_seed").read_text())
    assert seeds >= 2
    assert run.stdout.count("trainer exited with 75") == seeds - 1
    assert [p.name for p in (out / "banks").glob("*.safetensors")] == [
        f"bank_6_64_{seeds}.safetensors"
    ]
    log = [json.loads(line) for line in (out / "base" / "log.jsonl").open()]
    assert sorted({r["step"] for r in log if "lr" in r}) == [1, 2, 3]  # resumed, not restarted
    assert load_model(out / "base" / "model").metadata["steps"] == "3"


@pytest.mark.slow
def test_sigterm_to_the_driver_stops_the_trainer_with_a_checkpoint(tmp_path, subprocess_env):
    """``kill -TERM`` of the driver reaches the trainer: it saves and both stop (no orphan)."""
    import signal
    import time

    recipe = tiny_recipe(tmp_path)
    text = recipe.read_text().replace("steps = 3\n", "steps = 100000\n")
    recipe.write_text(
        text.replace("ckpt_every = 1\n", "ckpt_every = 100000\n")
    )  # saved on TERM only
    log = tmp_path / "release" / "base" / "log.jsonl"
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "release.py"), str(recipe), "train"],
                            env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not (log.is_file() and log.read_text().count('"loss"') >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode not in (0, 75), out
    assert "trainer exited with" in out and "+ " in out
    assert (tmp_path / "release" / "base" / "checkpoint.safetensors").is_file()
