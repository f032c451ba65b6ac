"""EMA weights in the trainer, the centre-frame validation columns, the gradient-norm log and
the log's split of the time between the data and the step."""

from __future__ import annotations

import time

import pytest
import torch
from test_loop import ToyShift, _interrupt_after, assert_same_state, read_log, state, tiny_config

from blurvid import load_model
from blurvid.errors import ConfigError
from blurvid.metrics import psnr
from blurvid.train import TrainConfig, Trainer
from blurvid.train.cli import export_checkpoint
from blurvid.train.loop import collate_uint8

pytestmark = pytest.mark.usefixtures("fast_cpu")


def test_ema_is_the_warmed_up_average_of_the_trained_weights(tmp_path):
    """A known answer: record G after every step and average by hand."""
    cfg = tiny_config(steps=5, ema_decay=0.5)
    trainer = Trainer(cfg, tmp_path, dataset=ToyShift(), progress=False)
    expected = state(trainer.G)
    original = trainer.train_step

    def step_and_average(blurry, frames):
        parts = original(blurry, frames)
        d = min(0.5, (1 + trainer.step) / (10 + trainer.step))  # before the step counter moves
        for k, v in trainer.G.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v.detach()
        return parts

    trainer.train_step = step_and_average  # type: ignore[method-assign]
    result = trainer.fit()
    assert result is trainer.G_ema
    for k, v in trainer.G_ema.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=1e-5, atol=1e-6)
    # the average differs from the raw weights (the test would pass vacuously otherwise)
    raw, ema = state(trainer.G), state(trainer.G_ema)
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)
    # the exported model is the average, and so is a checkpoint export
    assert_same_state(state(load_model(tmp_path / "model")), ema)
    export_checkpoint(tmp_path, tmp_path / "exported")
    exported = load_model(tmp_path / "exported")
    assert exported.metadata["weights"] == "ema"
    assert_same_state(state(exported), ema)


def test_resume_with_ema_is_bit_identical(tmp_path):
    cfg = tiny_config(steps=6, ema_decay=0.9, ckpt_every=3)
    data = ToyShift()
    a = Trainer(cfg, tmp_path / "a", dataset=data, progress=False)
    a.fit()
    b = Trainer(cfg, tmp_path / "b", dataset=data, progress=False)
    _interrupt_after(b, 3)
    with pytest.raises(KeyboardInterrupt):
        b.fit()
    c = Trainer(cfg, tmp_path / "b", dataset=data, progress=False, resume=True)
    assert c.step == 3
    c.fit()
    assert_same_state(state(a.G), state(c.G))
    assert_same_state(state(a.G_ema), state(c.G_ema))


def test_ema_switched_on_at_resume_starts_from_g(tmp_path):
    data = ToyShift()
    Trainer(tiny_config(steps=3, ckpt_every=3), tmp_path, dataset=data, progress=False).fit()
    t = Trainer(tiny_config(steps=4, ema_decay=0.9), tmp_path, dataset=data, progress=False,
                resume=True)  # fmt: skip
    assert_same_state(state(t.G), state(t.G_ema))


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_ema_decay_out_of_range_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=bad)


def test_validation_reports_the_centre_frame_apart(tmp_path):
    data = ToyShift(n=4)
    blurry = torch.stack([s["blurry"] for s in data.items])
    frames = torch.stack([s["frames"] for s in data.items])
    t = Trainer(tiny_config(steps=2), tmp_path, dataset=data, progress=False,
                val_data={"blurry": blurry, "frames": frames})  # fmt: skip
    res = t.validate()
    assert t.G.training  # validation leaves the training mode as it was
    ident = float(psnr(blurry, frames[:, 3]).mean())
    assert res["val_centre_identity"] == pytest.approx(ident, abs=1e-6)
    with torch.no_grad():
        pred = t.G.eval()(blurry).clamp(0, 1)
    assert res["val_centre_psnr"] == pytest.approx(float(psnr(pred[:, 3], frames[:, 3]).mean()),
                                                   abs=1e-4)  # fmt: skip
    assert res["val_centre_gain_db"] == pytest.approx(
        res["val_centre_psnr"] - res["val_centre_identity"], abs=1e-9
    )


def test_gradient_norm_is_logged_before_clipping(tmp_path):
    cfg = tiny_config(steps=3, grad_clip=1e-4)
    Trainer(cfg, tmp_path, dataset=ToyShift(), progress=False).fit()
    norms = [r["grad_norm"] for r in read_log(tmp_path)]
    assert len(norms) == 3 and all(n > 1e-4 for n in norms)  # every step was clipped


class _SlowToyShift(ToyShift):
    """ToyShift whose every item costs at least ``delay`` seconds (a slow data pipeline)."""

    delay = 0.03

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        time.sleep(self.delay)
        return super().__getitem__(i)


def test_log_splits_the_time_between_waiting_for_data_and_the_step(tmp_path):
    """data_s counts the loader's wait (at least the items' sleeps), step_s the step; together
    they fit inside the wall time between two records."""
    cfg = tiny_config(steps=4, batch_size=2, log_every=2)
    Trainer(cfg, tmp_path, dataset=_SlowToyShift(), progress=False).fit()
    log = read_log(tmp_path)
    assert [r["step"] for r in log] == [2, 4]
    for r in log:  # 2 steps x 2 items per record, each item sleeps >= delay
        assert r["data_s"] >= 4 * _SlowToyShift.delay * 0.99
        assert r["step_s"] > 0
    assert log[1]["data_s"] + log[1]["step_s"] <= log[1]["time"] - log[0]["time"] + 0.02


def test_best_validation_is_exported_and_survives_resume(tmp_path):
    data = ToyShift(n=4)
    val = {"blurry": torch.stack([s["blurry"] for s in data.items]),
           "frames": torch.stack([s["frames"] for s in data.items])}  # fmt: skip
    cfg = tiny_config(steps=6, val_every=2, ckpt_every=2, lr=2e-3)
    t = Trainer(cfg, tmp_path, dataset=data, val_data=val, progress=False)
    _interrupt_after(t, 4)
    with pytest.raises(KeyboardInterrupt):
        t.fit()
    vals = [r for r in read_log(tmp_path) if "val_centre_gain_db" in r]
    assert [r["step"] for r in vals] == [2, 4]
    best = max(vals, key=lambda r: r["val_centre_gain_db"])
    assert t.best["step"] == best["step"]
    meta = load_model(tmp_path / "best").metadata
    assert meta["steps"] == str(best["step"])
    assert float(meta["val_centre_gain_db"]) == pytest.approx(best["val_centre_gain_db"], abs=1e-4)
    r = Trainer(cfg, tmp_path, dataset=data, val_data=val, progress=False, resume=True)
    assert r.best == t.best  # the record came back with the checkpoint
    r.fit()
    vals = [rec for rec in read_log(tmp_path) if "val_centre_gain_db" in rec]
    top = max(vals, key=lambda rec: rec["val_centre_gain_db"])
    assert load_model(tmp_path / "best").metadata["steps"] == str(top["step"])


def test_time_limit_stops_cleanly_and_resume_finishes(tmp_path):
    from blurvid.train import train
    from blurvid.train.loop import TimeLimitReached

    cfg = tiny_config(steps=5, ckpt_every=100)
    with pytest.raises(TimeLimitReached) as info:
        train(cfg, tmp_path, dataset=ToyShift(), progress=False, time_limit_s=0.0)
    assert info.value.step == 1  # one step, then the limit is seen and the checkpoint saved
    assert (tmp_path / "base" / "checkpoint.safetensors").is_file()
    assert not (tmp_path / "base" / "model").exists()
    g = train(cfg, tmp_path, dataset=ToyShift(), progress=False, resume=True)
    assert g.metadata["steps"] == "5"


class _QuantisedToyShift(ToyShift):
    """ToyShift with every value on the 8-bit grid k / 255, as a sample bank's."""

    def __init__(self) -> None:
        super().__init__()
        for item in self.items:
            for key in ("blurry", "frames"):
                item[key] = item[key].mul(255).round().div(255)


def test_collate_uint8_stores_round_255x():
    x = torch.tensor([0.0, 0.2, 1.0, 0.998]).view(1, 2, 2).expand(3, 2, 2).clone()
    batch = collate_uint8([{"blurry": x, "frames": x.expand(7, 3, 2, 2).clone()}] * 2)
    assert batch["blurry"].dtype == batch["frames"].dtype == torch.uint8
    assert batch["blurry"].shape == (2, 3, 2, 2) and batch["frames"].shape == (2, 7, 3, 2, 2)
    assert batch["blurry"][0, 0].flatten().tolist() == [0, 51, 255, 254]


def test_loader_uint8_trains_exactly_as_float_on_bank_precision_data(tmp_path):
    """Data on the k / 255 grid (a bank's) makes the uint8 round trip exact: the same weights."""
    runs = {}
    for flag in (False, True):
        cfg = tiny_config(steps=3, loader_uint8=flag)
        trainer = Trainer(cfg, tmp_path / str(flag), dataset=_QuantisedToyShift(), progress=False)
        trainer.fit()
        runs[flag] = state(trainer.G)
    assert_same_state(runs[False], runs[True])
    # and the flag reaches the loader: float data that is off the grid now trains differently
    off = {}
    for flag in (False, True):
        trainer = Trainer(tiny_config(steps=3, loader_uint8=flag), tmp_path / f"off{flag}",
                          dataset=ToyShift(), progress=False)  # fmt: skip
        trainer.fit()
        off[flag] = state(trainer.G)
    assert any(not torch.equal(off[False][k], off[True][k]) for k in off[False])
