"""Continuing a run from its exported weights when the full checkpoint is gone
(``Trainer(continue_from=...)``, ``blurvid train --continue-from``) and the re-warm-up of
:func:`blurvid.train.loop.lr_at`."""

from __future__ import annotations

import pytest
import torch
from test_loop import ToyShift, assert_same_state, read_log, state, tiny_config

from blurvid import load_model
from blurvid.errors import ConfigError
from blurvid.hub import save_folder
from blurvid.train import Trainer
from blurvid.train.cli import export_checkpoint
from blurvid.train.loop import lr_at

pytestmark = pytest.mark.usefixtures("fast_cpu")


def test_rewarm_ramps_the_cosine_up_again_from_the_continue_step():
    cfg = tiny_config(steps=100, warmup_steps=10, lr=1e-3, lr_min=0.0)
    # without a re-warm-up: the cosine (known answers at its ends and middle)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx(0.5e-3)
    assert lr_at(100, cfg) == pytest.approx(0.0, abs=1e-12)
    # continued at step 55: 1/10, 2/10 ... of the cosine, then the cosine itself again
    for k in range(10):
        assert lr_at(55 + k, cfg, rewarm_from=55) == pytest.approx(
            lr_at(55 + k, cfg) * (k + 1) / 10
        )
    assert lr_at(65, cfg, rewarm_from=55) == lr_at(65, cfg)
    assert lr_at(54, cfg, rewarm_from=55) == lr_at(54, cfg)
    # no warm-up configured: no re-warm-up either
    flat = tiny_config(steps=100, warmup_steps=0)
    assert lr_at(55, flat, rewarm_from=55) == lr_at(55, flat)


def test_decay_start_holds_the_rate_then_anneals_to_lr_min():
    cfg = tiny_config(steps=100, warmup_steps=10, decay_start=60, lr=1e-3, lr_min=1e-4)
    assert lr_at(4, cfg) == pytest.approx(0.5e-3)  # the warm-up is unchanged
    for step in (10, 30, 60):  # stable until decay_start
        assert lr_at(step, cfg) == pytest.approx(1e-3)
    assert lr_at(80, cfg) == pytest.approx(1e-4 + 0.5 * 0.9e-3)  # the cosine's middle
    assert lr_at(100, cfg) == pytest.approx(1e-4)
    assert lr_at(150, cfg) == pytest.approx(1e-4)
    # decay_start at or before the warm-up's end: the whole-run cosine, as before
    plain = tiny_config(steps=100, warmup_steps=10, lr=1e-3, lr_min=1e-4)
    for step in (0, 10, 37, 99):
        assert lr_at(step, plain.replace(decay_start=5)) == lr_at(step, plain)
    with pytest.raises(ConfigError, match="decay_start"):
        tiny_config(steps=100, decay_start=100)


def test_an_annealed_branch_of_a_run_from_its_export(tmp_path):
    """What a release does: continue from a constant-rate run's export into another folder
    with --decay-start at the export's step; the rate anneals to lr_min by --steps."""
    data = ToyShift(n=4)
    cfg = tiny_config(steps=6, decay_start=5, lr=2e-3, lr_min=0.0, warmup_steps=0)
    Trainer(cfg, tmp_path / "run", dataset=data, progress=False).fit()
    export_checkpoint(tmp_path / "run", tmp_path / "latest")
    lrs = {r["step"]: r["lr"] for r in read_log(tmp_path / "run") if "lr" in r}
    assert [lrs[k] for k in range(1, 7)] == pytest.approx([2e-3] * 6)  # the stable phase
    branch = cfg.replace(steps=10, decay_start=6)
    Trainer(branch, tmp_path / "anneal", dataset=data, progress=False,
            continue_from=tmp_path / "latest").fit()  # fmt: skip
    lrs = {r["step"]: r["lr"] for r in read_log(tmp_path / "anneal") if "lr" in r}
    assert sorted(lrs) == [7, 8, 9, 10]
    assert [lrs[k] for k in (7, 8, 9, 10)] == pytest.approx(
        [lr_at(k - 1, branch) for k in (7, 8, 9, 10)]
    )
    assert lrs[7] == pytest.approx(2e-3) and lrs[7] > lrs[8] > lrs[9] > lrs[10] > 0
    assert load_model(tmp_path / "anneal" / "model").metadata["steps"] == "10"


def _val(data: ToyShift) -> dict[str, torch.Tensor]:
    return {"blurry": torch.stack([s["blurry"] for s in data.items]),
            "frames": torch.stack([s["frames"] for s in data.items])}  # fmt: skip


def test_continue_from_an_export_carries_step_schedule_and_best(tmp_path):
    data = ToyShift(n=4)
    val = _val(data)
    cfg = tiny_config(steps=4, val_every=2, ckpt_every=2, lr=2e-3, warmup_steps=2, ema_decay=0.9)
    first = Trainer(cfg, tmp_path, dataset=data, val_data=val, progress=False)
    first.fit()
    export_checkpoint(tmp_path, tmp_path / "latest")
    best_before = dict(first.best)
    assert best_before  # validation ran at steps 2 and 4
    (tmp_path / "checkpoint.safetensors").unlink()  # a fresh machine: only the exports are left
    longer = cfg.replace(steps=8)
    cont = Trainer(longer, tmp_path, dataset=data, val_data=val, progress=False,
                   continue_from=tmp_path / "latest")  # fmt: skip
    assert cont.step == cont.rewarm_from == 4
    assert cont.best == pytest.approx(best_before, abs=1e-4)  # best/'s metadata: 4 decimals
    # G and its EMA both start from the exported (EMA) weights
    exported = state(load_model(tmp_path / "latest"))
    assert_same_state(state(cont.G), exported)
    assert_same_state(state(cont.G_ema), exported)
    cont.fit()
    log = [r for r in read_log(tmp_path) if "lr" in r]
    steps = [r["step"] for r in log]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]  # the log goes on from step 5
    lrs = {r["step"]: r["lr"] for r in log}
    # step 5 is the first of the new warm-up (half the cosine's value, warmup_steps=2), step 6
    # the cosine again
    assert lrs[5] == pytest.approx(lr_at(4, longer) / 2)
    assert lrs[6] == pytest.approx(lr_at(5, longer))
    assert load_model(tmp_path / "model").metadata["steps"] == "8"
    # the re-warm-up step is part of the checkpoint: an exact resume keeps it
    again = Trainer(longer.replace(steps=9), tmp_path, dataset=data, val_data=val,
                    progress=False, resume=True)  # fmt: skip
    assert again.rewarm_from == 4 and again.step == 8


def test_continue_from_refuses_folders_that_cannot_be_continued(tmp_path):
    cfg = tiny_config(steps=4)
    first = Trainer(cfg, tmp_path / "run", dataset=ToyShift(), progress=False)
    first.fit()
    # a model folder without a step count (a user's save_pretrained)
    save_folder(first.G, tmp_path / "nosteps")
    with pytest.raises(ConfigError, match="how many steps"):
        Trainer(cfg, tmp_path / "run", dataset=ToyShift(), progress=False,
                continue_from=tmp_path / "nosteps")  # fmt: skip
    # already trained as long as the run's --steps
    with pytest.raises(ConfigError, match="raise --steps"):
        Trainer(cfg, tmp_path / "run", dataset=ToyShift(), progress=False,
                continue_from=tmp_path / "run" / "model")  # fmt: skip
    # weights of another stage
    with pytest.raises(ConfigError, match="stage 'base'"):
        Trainer(cfg.replace(stage="gram", steps=9), tmp_path / "gram", dataset=ToyShift(),
                progress=False, continue_from=tmp_path / "run" / "model")  # fmt: skip
    # not together with resume
    with pytest.raises(ConfigError, match="continue_from"):
        Trainer(cfg, tmp_path / "run", dataset=ToyShift(), progress=False, resume=True,
                continue_from=tmp_path / "run" / "model")  # fmt: skip


def test_cli_continue_from_a_missing_folder_is_a_one_line_error(tmp_path, capsys):
    from blurvid import cli

    photos = tmp_path / "photos"
    photos.mkdir()
    from PIL import Image

    Image.new("RGB", (64, 64), (90, 120, 30)).save(photos / "p.png")
    code = cli.main(["train", "--data", f"photos:{photos}", "--out", str(tmp_path / "run"), "-q",
                     "--resume", "auto", "--continue-from", str(tmp_path / "nope")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "--continue-from" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "base" / "log.jsonl").exists()  # refused before any work
