"""The device-resident data path (issue 31): batches rendered in batched torch on the training
device. Checked on the CPU with the same code: deterministic per seed, the worker path's batch
statistics, the exposure average, no host syncs or copies while sampling, and training with it."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from blurvid.colour import linear_to_srgb, srgb_to_linear
from blurvid.data import ShakeConfig, load_photos
from blurvid.data.batched import PhotoStore, render_shake_batch
from blurvid.data.shake import render_item
from blurvid.errors import ConfigError
from blurvid.model import GeneratorConfig
from blurvid.train import TrainConfig, Trainer
from blurvid.train.device_data import DeviceSampler

TINY = dict(width=8, enc_blocks=(1,), dec_blocks=(1,), middle_blocks=1)


@pytest.fixture(scope="module")
def store(tiny_photos):
    return PhotoStore(load_photos(tiny_photos))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_same_seed_same_batch_other_seed_other_batch(tiny_photos):
    sampler = DeviceSampler.from_specs([f"photos:{tiny_photos}"], crop=32, device="cpu",
                                       progress=False)  # fmt: skip
    a = sampler.sample(4, _gen(1), position=0)
    b = sampler.sample(4, _gen(1), position=0)
    c = sampler.sample(4, _gen(2), position=0)
    assert a["blurry"].shape == (4, 3, 32, 32) and a["frames"].shape == (4, 7, 3, 32, 32)
    assert torch.equal(a["blurry"], b["blurry"]) and torch.equal(a["frames"], b["frames"])
    assert not torch.equal(a["blurry"], c["blurry"])


def test_batch_statistics_match_the_worker_path(tiny_photos, store):
    """The same photos and config, 96 samples each way (different draws, one distribution):
    intensity, contrast, motion between the first and last frame, blur vs the frames' mean."""
    cfg = ShakeConfig(size=32)
    photos = load_photos(tiny_photos)
    worker = [render_item(photos, cfg, 0, i) for i in range(96)]
    wb = torch.stack([s["blurry"] for s in worker])
    wf = torch.stack([s["frames"] for s in worker])
    dev = render_shake_batch(store, cfg, 96, _gen(0))
    db, df = dev["blurry"], dev["frames"]

    def motion(f: torch.Tensor) -> float:
        return float((f[:, -1] - f[:, 0]).abs().mean())

    assert abs(float(db.mean()) - float(wb.mean())) < 0.03
    assert abs(float(df.mean()) - float(wf.mean())) < 0.03
    assert abs(float(db.std()) - float(wb.std())) < 0.2 * float(wb.std())
    assert abs(float(df.std()) - float(wf.std())) < 0.2 * float(wf.std())
    assert motion(df) == pytest.approx(motion(wf), rel=0.3)
    # the blurry image is close to the frames' mean, as far on both paths
    gap_d, gap_w = float((db - df.mean(1)).abs().mean()), float((wb - wf.mean(1)).abs().mean())
    assert gap_d == pytest.approx(gap_w, rel=0.35)


@pytest.mark.parametrize("target", ["center", "mean"])
def test_blurry_is_the_linear_light_average_of_its_subframes(store, target):
    cfg = ShakeConfig(size=24, noise_sigma=0.0, target=target, sprites=(1, 2))
    out = render_shake_batch(store, cfg, 6, _gen(3), debug=True, max_elems=24 * 24 * 6 * 5)
    subs = out["subframes"]  # sRGB, before the camera; chunks of 5 sub-frames
    assert subs.shape == (6, 56, 3, 24, 24)
    expected = linear_to_srgb(srgb_to_linear(subs).mean(1))
    torch.testing.assert_close(out["blurry"], expected, atol=2e-5, rtol=0)
    if target == "mean":  # each target frame is its group's average
        groups = srgb_to_linear(subs).reshape(6, 7, 8, 3, 24, 24).mean(2)
        torch.testing.assert_close(out["frames"], linear_to_srgb(groups), atol=2e-5, rtol=0)


def test_path_lengths_stay_in_the_configured_range(store):
    cfg = ShakeConfig(size=24, path_length=(6.0, 20.0), sprites=(0, 0))
    out = render_shake_batch(store, cfg, 64, _gen(4), debug=True)
    length = out["path_length"]
    assert float(length.min()) >= 6.0 and float(length.max()) <= 20.0
    assert float(length.max()) - float(length.min()) > 7.0  # drawn over the range
    traj = out["trajectory"].double()
    arc = (traj[:, 1:] - traj[:, :-1]).norm(dim=-1).sum(1)  # over the sub-frame times only
    assert torch.all(arc <= length.double() + 1e-4)
    assert torch.all(arc >= 0.9 * length.double())


class _HostSyncs(TorchDispatchMode):
    """Records every op that reads a value back to Python, copies host data in, or moves a
    tensor between devices."""

    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = str(func)
        if "_local_scalar_dense" in name or "lift_fresh" in name:
            self.bad.append(name)
        if "_to_copy" in name and "device" in kwargs and args:
            if torch.device(kwargs["device"]) != args[0].device:
                self.bad.append(name)
        return func(*args, **kwargs)


@pytest.mark.parametrize("camera", ["off", "highlights+noise+tone"])
def test_sampling_makes_no_host_sync_or_copy(tiny_photos, monkeypatch, camera):
    data = tiny_photos.parent / "data.bin"  # a pool source too (a bank)
    from blurvid.train.data import SampleBank

    SampleBank(torch.rand(5, 3, 32, 32), torch.rand(5, 7, 3, 32, 32)).save(data)
    sampler = DeviceSampler.from_specs(
        [f"photos:{tiny_photos}@2", f"bank:{data}"], crop=32, device="cpu", camera=camera,
        progress=False, pool_size=12,
    )  # fmt: skip
    pool = sampler.sources[1].blurry  # 12 from a bank of 5: epoch after epoch, other flips
    assert pool.shape == (12, 3, 32, 32) and len(torch.unique(pool.flatten(1), dim=0)) > 5
    sampler.sample(4, _gen(0))  # warm-up
    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, _forbidden(name))
    with _HostSyncs() as mode:
        out = sampler.sample(6, _gen(5))
    assert mode.bad == []
    monkeypatch.undo()
    assert out["blurry"].shape == (6, 3, 32, 32) and out["frames"].shape == (6, 7, 3, 32, 32)


def _forbidden(name: str):
    def call(*args, **kwargs):
        raise AssertionError(f"Tensor.{name} called while sampling")

    return call


def test_the_mix_follows_the_weights_without_reading_the_device(tiny_photos):
    sampler = DeviceSampler.from_specs(
        [f"photos:{tiny_photos}@3", f"photos:{tiny_photos}@1"], crop=32, device="cpu",
        progress=False,
    )  # fmt: skip
    counts = [sampler.counts(8, p * 8) for p in range(100)]
    assert all(sum(c) == 8 for c in counts)
    total = [sum(c[k] for c in counts) for k in range(2)]
    assert abs(total[0] - 600) <= 3 and sum(total) == 800  # a low-discrepancy share
    assert all(5 <= c[0] <= 7 for c in counts)  # every batch near 3:1, none all of one


def test_device_path_refuses_what_it_cannot_do(tiny_photos):
    with pytest.raises(ConfigError, match="bank_size"):
        TrainConfig(data_path="device", bank_size=10)
    with pytest.raises(ConfigError, match="data_path"):
        TrainConfig(data_path="gpu")
    with pytest.raises(ConfigError, match="JPEG"):
        DeviceSampler.from_specs([f"photos:{tiny_photos}"], crop=32, device="cpu",
                                 camera="jpeg", progress=False)  # fmt: skip


def test_trainer_trains_with_the_device_path_and_resumes(tiny_photos, tmp_path):
    cfg = TrainConfig.fast(
        steps=3, batch_size=2, crop=32, perceptual_weight=0.0, adv_weight=0.0, flow_weight=0.0,
        warmup_steps=0, log_every=1, ckpt_every=2, val_every=0, sample_every=0,
        generator=GeneratorConfig(**TINY), ema_decay=0.0,
        lr_min=1e-3, ramp_start=0.0, ramp_end=0.0,  # a schedule that does not depend on steps
        data=(f"photos:{tiny_photos}@3", f"leaves:{tiny_photos}@1"), data_path="device",
    )  # fmt: skip
    trainer = Trainer(cfg, tmp_path / "a", progress=False)
    assert trainer.sampler is not None and trainer.dataset is None
    trainer.fit()
    log = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]
    assert all(r["loss"] > 0 and r["data_s"] > 0 for r in log)
    assert (tmp_path / "a" / "model" / "model.safetensors").is_file()
    # stopped after 2 steps and resumed: the same third batch (seeded by the step)
    b = Trainer(cfg.replace(steps=2), tmp_path / "b", progress=False)
    b.fit()
    resumed = Trainer(cfg, tmp_path / "b", progress=False, resume=True)
    resumed.fit()
    third = [json.loads(x) for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()][-1]
    assert third["step"] == 3 and third["loss"] == pytest.approx(log[-1]["loss"], rel=1e-5)
