"""Tests of ``blurvid train`` / ``python -m blurvid.train``: end to end on a few small photos
with a width-8 G and 32 px crops (in-process through :func:`blurvid.cli.main`, plus one
subprocess for ``python -m blurvid.train``)."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blurvid import cli, load_model
from blurvid.train import STAGES, TrainConfig

pytestmark = [
    pytest.mark.usefixtures("fast_cpu"),
    pytest.mark.filterwarnings("ignore:No VGG19 weights given"),
]

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PHOTOS = ("mate_Aqua.jpg", "skimage_brick.jpg", "lomiri_Wine_by_Jakkub_Mede.jpg")


def write_photos(folder: Path, size: int = 96) -> Path:
    """Three small training photos: shared ones downscaled, else seeded synthetic textures."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate(PHOTOS):
        src = SHARED / "photos" / name
        if src.is_file():
            img = Image.open(src).convert("RGB")
            img.thumbnail((size, size))
        else:
            small = rng.random((size // 8, size // 8, 3)) * 255
            img = Image.fromarray(small.astype(np.uint8)).resize((size, size), Image.BICUBIC)
        img.save(folder / f"photo{i}.png")
    return folder


@pytest.fixture
def photos(tmp_path) -> Path:
    return write_photos(tmp_path / "photos")


TINY = ["--width", "8", "--crop", "32", "--batch-size", "2", "-q"]


def train_cli(*args) -> int:
    return cli.main(["train", *map(str, args)])


def read_log(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def test_train_help_gives_every_option_a_help_text_and_its_default(capsys):
    """Every option of ``blurvid train`` says what it does and what it is when not given;
    an option that overrides a TrainConfig field shows the value of both recipes."""
    parser = cli.build_parser("train")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = sub.choices["train"]
    options = [a for a in train._actions if not isinstance(a, argparse._HelpAction)]
    assert len(options) >= 35
    for action in options:
        assert action.help and len(action.help) > 10, action.option_strings
        assert action.required or "(default: " in action.help, action.option_strings
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    paper, fast = TrainConfig.paper(), TrainConfig.fast()
    assert f"(default: {paper.steps})" in text  # the same in both recipes
    assert f"(default: {paper.lr} with --recipe paper, {fast.lr} with fast)" in text
    assert "(default: off)" in text and "(default: base)" in text


@pytest.mark.slow
def test_python_m_blurvid_train_help(python, subprocess_env):
    res = subprocess.run([python, "-m", "blurvid.train", "--help"], env=subprocess_env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    for flag in ("--stage", "--data", "--out", "--resume", "--val", "--ckpt-every", "--recipe"):
        assert flag in res.stdout
    assert "Traceback" not in res.stderr


def test_train_without_data_is_a_one_line_error(tmp_path, capsys):
    assert train_cli("--out", tmp_path / "run", *TINY) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("blurvid: error: no training data"), err
    assert "--data" in lines[0]
    assert not (tmp_path / "run").exists()


def test_train_with_missing_data_or_bad_stage(tmp_path, capsys):
    assert (
        train_cli("--data", f"photos:{tmp_path / 'nowhere'}", "--out", tmp_path / "run", *TINY) == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("blurvid: error:") and "does not exist" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as info:
        train_cli("--stage", "deblur", "--data", "photos:x", "--out", tmp_path / "run")
    assert info.value.code == 2


def test_train_split_is_checked_first_and_reaches_the_trainer(tmp_path, photos, capsys,
                                                             monkeypatch):  # fmt: skip
    """``--split FILE`` names the files held out of ``photos:``/``frames:`` specs and used by
    ``--val``; a missing manifest fails before any work, as does ``--val`` without one."""
    import blurvid.data.split as split_mod

    monkeypatch.setenv("BLURVID_SPLIT", "")  # restored after the test (the CLI sets it)
    run = ["--data", f"photos:{photos}", "--out", tmp_path / "run", "--steps", 1, *TINY]
    assert train_cli(*run, "--split", tmp_path / "missing.json") == 1
    assert "data split" in capsys.readouterr().err and not (tmp_path / "run").exists()
    monkeypatch.setattr(split_mod, "_checkout_manifest", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert train_cli(*run, "--val", tmp_path) == 1
    assert "no data split: pass --split FILE" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    every = sorted(p.name for p in photos.iterdir())  # a split holding out every photo
    manifest = tmp_path / "split.json"
    manifest.write_text(json.dumps({"format": "blurvid-data-split-v1",
                                    "validation": {"photos": every, "frames": "clip"}}))  # fmt: skip
    assert train_cli(*run, "--split", manifest) == 1
    assert "no training photos left" in capsys.readouterr().err


@pytest.mark.slow
def test_train_cli_end_to_end_with_validation(tmp_path, photos, capsys):
    """The paper recipe as shipped (VGG perceptual term, D, DIS flow) for 6 steps, validated
    every 3 steps on the fixed validation set when the shared data is there."""
    pytest.importorskip("cv2")
    out = tmp_path / "run"
    val = ["--val", SHARED, "--val-every", "3"] if (SHARED / "photos").is_dir() else []
    args = ["--stage", "base", "--data", f"photos:{photos}", "--out", out, "--steps", 6, *val]
    assert train_cli(*args, "--log-every", 2, *TINY) == 0
    assert f"trained model saved in {out / 'base' / 'model'}" in capsys.readouterr().out
    model = load_model(out / "base" / "model")
    assert model.config.width == 8 and model.metadata["stage"] == "base"
    log = read_log(out / "base")
    train_records = [r for r in log if "loss" in r]
    assert [r["step"] for r in train_records] == [2, 4, 6]
    assert all(math.isfinite(r["loss"]) and r["central"] > 0 for r in train_records)
    saved = TrainConfig.from_json(out / "base" / "train_config.json")
    assert saved == TrainConfig.paper(
        steps=6, batch_size=2, crop=32, generator=model.config, data=(f"photos:{photos}",),
        log_every=2, **({"val_every": 3} if val else {}),
    )  # fmt: skip
    if val:
        val_records = [r for r in log if "val_psnr" in r]
        assert [r["step"] for r in val_records] == [3, 6]
        for r in val_records:
            for key in ("val_psnr", "val_identity", "val_oracle_static", "val_gain_db"):
                assert math.isfinite(r[key]), key
            assert 10 < r["val_identity"] < r["val_oracle_static"] < 60
            assert r["val_gain_db"] == pytest.approx(r["val_psnr"] - r["val_identity"])


@pytest.mark.slow
def test_train_cli_all_stages_then_resume_and_config(tmp_path, photos, capsys):
    out = tmp_path / "run"
    common = ["--data", f"photos:{photos}", "--steps", 2, "--recipe", "fast", "--perceptual-weight", 0,
              "--flow-weight", 0, *TINY]  # fmt: skip
    assert train_cli("--stage", "all", "--out", out, *common) == 0
    assert str(out / "hepta" / "model") in capsys.readouterr().out
    models = {s: load_model(out / s / "model") for s in STAGES}
    assert [m.metadata["stage"] for m in models.values()] == list(STAGES)
    assert TrainConfig.from_json(out / "gram" / "train_config.json").init == str(
        out / "base" / "model"
    )
    # --resume on a finished chain trains nothing and rewrites nothing
    mtimes = [(out / s / "model" / "model.safetensors").stat().st_mtime_ns for s in STAGES]
    logs = [(out / s / "log.jsonl").read_text() for s in STAGES]
    assert train_cli("--stage", "all", "--out", out, "--resume", *common) == 0
    assert [(out / s / "model" / "model.safetensors").stat().st_mtime_ns for s in STAGES] == mtimes
    assert [(out / s / "log.jsonl").read_text() for s in STAGES] == logs
    # a saved train_config.json starts a new run with the same settings
    again = tmp_path / "again"
    assert train_cli("--config", out / "base" / "train_config.json", "--out", again, "-q") == 0
    assert TrainConfig.from_json(again / "base" / "train_config.json") == TrainConfig.from_json(
        out / "base" / "train_config.json"
    )


def test_export_checkpoint_gives_the_trained_model(tmp_path):
    """``blurvid export RUN OUT`` writes the checkpoint's G as a loadable model folder; for
    the final checkpoint it equals the run's own ``model/`` export."""
    import torch

    import blurvid
    from blurvid.cli import main
    from blurvid.model import GeneratorConfig
    from blurvid.train.config import TrainConfig
    from blurvid.train.loop import Trainer

    g = torch.Generator().manual_seed(0)
    frames = torch.rand(7, 3, 32, 32, generator=g)
    data = [{"blurry": frames.mean(0), "frames": frames}] * 4
    cfg = TrainConfig.fast(
        steps=3, batch_size=2, crop=32, generator=GeneratorConfig(width=8), warmup_steps=0
    )
    Trainer(cfg, tmp_path / "run", dataset=data, progress=False).fit()
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "exported")]) == 0
    exported = blurvid.load_model(tmp_path / "exported")
    final = blurvid.load_model(tmp_path / "run" / "model")
    assert exported.metadata["steps"] == "3" and exported.metadata["placeholder"] == "false"
    for (k, a), b in zip(exported.state_dict().items(), final.state_dict().values()):
        assert torch.equal(a, b), k
    # --format torchscript from the same checkpoint: the same G, traced
    traced = tmp_path / "g.pt"
    assert (
        main(["export", str(tmp_path / "run"), "--format", "torchscript", "-o", str(traced)]) == 0
    )
    x = torch.rand(1, 3, 24, 40, generator=g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load
        out = torch.jit.load(str(traced))(x)
    torch.testing.assert_close(out, blurvid.extract_frames(x, model=final), rtol=0, atol=1e-5)


def test_export_uses_the_trained_architecture_not_the_config_default(tmp_path):
    """A run started from a given model (or --init) records that model's architecture in its
    checkpoint, so the export needs nothing else (no init folder, no network)."""
    import torch

    import blurvid
    from blurvid.cli import main
    from blurvid.model import Generator, GeneratorConfig
    from blurvid.train.config import TrainConfig
    from blurvid.train.loop import Trainer

    frames = torch.rand(7, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    data = [{"blurry": frames.mean(0), "frames": frames}] * 4
    cfg = TrainConfig.fast(steps=2, batch_size=2, crop=32, warmup_steps=0)  # default width 32
    Trainer(
        cfg,
        tmp_path / "run",
        dataset=data,
        model=Generator(GeneratorConfig(width=8)),
        progress=False,
    ).fit()
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "exported")]) == 0
    assert blurvid.load_model(tmp_path / "exported").config.width == 8


def test_export_of_a_model_folder_keeps_its_training_record(tmp_path):
    """``blurvid export MODEL OUT --fp16`` (a model folder, not a checkpoint) writes the same
    weights in fp16 with the source's training record (stage, steps, scores), not where it
    was loaded from."""
    import torch
    from safetensors import safe_open

    import blurvid
    from blurvid.cli import main
    from blurvid.hub import save_folder
    from blurvid.model import Generator, GeneratorConfig

    g = Generator(GeneratorConfig(width=8))
    save_folder(g, tmp_path / "src", metadata={"stage": "base", "steps": "76000",
                                               "val_gain_db": "1.4521"})  # fmt: skip
    assert main(["export", str(tmp_path / "src"), str(tmp_path / "half"), "--fp16"]) == 0
    with safe_open(tmp_path / "half" / "model.safetensors", "pt") as f:
        meta = f.metadata()
        assert f.get_tensor(next(iter(f.keys()))).dtype == torch.float16
    assert (meta["stage"], meta["steps"], meta["val_gain_db"]) == ("base", "76000", "1.4521")
    assert "source" not in meta and meta["placeholder"] == "false"
    half = blurvid.load_model(tmp_path / "half")
    for (k, a), b in zip(half.state_dict().items(), g.state_dict().values()):
        assert torch.equal(a, b.half().float()), k


def test_a_new_g_with_the_paper_init_gets_a_note_the_others_do_not(tmp_path, photos, capsys):
    args = ["--stage", "base", "--data", f"photos:{photos}", "--steps", 1, "--flow-weight", 0,
            "--adv-weight", 0, "--perceptual-weight", 0, "-q", *TINY]  # fmt: skip
    assert train_cli(*args, "--out", tmp_path / "paper") == 0
    err = capsys.readouterr().err
    assert "N(0, 0.01)" in err and "--g-init kaiming" in err
    assert train_cli(*args, "--out", tmp_path / "kaiming", "--g-init", "kaiming") == 0
    assert "N(0, 0.01)" not in capsys.readouterr().err
    # a G that is not new (continued from trained weights) gets no note either
    model = tmp_path / "paper" / "base" / "model"
    assert train_cli(*args, "--out", tmp_path / "init", "--init", model) == 0
    assert "N(0, 0.01)" not in capsys.readouterr().err
