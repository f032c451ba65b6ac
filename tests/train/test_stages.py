"""The stage objects (blurvid.train.stages), a G of 5 frames in the loop, and stages handing
G over in memory."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_loop import ToyShift, assert_same_state, read_log, state, tiny_config
from torch.utils.data import Dataset

from blurvid import Generator, GeneratorConfig, load_model
from blurvid.errors import ConfigError, DataError
from blurvid.metrics import psnr
from blurvid.train import Trainer, train
from blurvid.train.stages import BaseStage, GramStage, HeptaStage, StepBatch, make_stage

pytestmark = [
    pytest.mark.usefixtures("fast_cpu"),
    pytest.mark.filterwarnings("ignore:No VGG19 weights given"),
]

FIVE = GeneratorConfig(width=8, num_frames=5)


class ToyShift5(Dataset):
    """Like ``ToyShift`` with 5 frames: a smooth texture moving 1 px per frame."""

    def __init__(self, n: int = 4, size: int = 32) -> None:
        g = torch.Generator().manual_seed(0)
        self.items = []
        for _ in range(n):
            tex = F.avg_pool2d(torch.rand(1, 3, size, size + 6, generator=g), 3, 1, 1)[0]
            frames = torch.stack([tex[:, :, k : k + size] for k in range(5)])
            self.items.append({"blurry": frames.mean(0), "frames": frames})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


def _val(data) -> dict[str, torch.Tensor]:
    return {
        "blurry": torch.stack([s["blurry"] for s in data.items]),
        "frames": torch.stack([s["frames"] for s in data.items]),
    }


# ----------------------------------------------------------------------------- 5 frames
def test_five_frame_g_trains_a_base_step_and_validates(tmp_path):
    data = ToyShift5()
    val = _val(data)
    cfg = tiny_config(
        steps=2, generator=FIVE, val_every=2, adv_weight=0.01, ramp_start=0.0, ramp_end=0.0
    )
    trainer = Trainer(cfg, tmp_path, dataset=data, val_data=val, progress=False)
    before = state(trainer.G)
    model = trainer.fit()
    assert model.config.num_frames == 5
    assert not all(torch.equal(before[k], v) for k, v in state(trainer.G).items())
    steps, (last_val,) = (
        [r for r in read_log(tmp_path) if "loss" in r],
        [r for r in read_log(tmp_path) if "val_psnr" in r],
    )
    assert [r["step"] for r in steps] == [1, 2]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in steps)
    assert steps[-1]["adv"] > 0 and steps[-1]["d_loss"] > 0  # D sees the 5-frame outputs too
    # the centre frame is index 2 of 5
    ident = float(psnr(val["blurry"], val["frames"][:, 2]).mean())
    assert last_val["val_centre_identity"] == pytest.approx(ident, abs=1e-6)
    with torch.no_grad():
        pred = model.eval()(val["blurry"]).clamp(0, 1)
    centre = float(psnr(pred[:, 2], val["frames"][:, 2]).mean())
    assert last_val["val_centre_psnr"] == pytest.approx(centre, abs=1e-4)


@pytest.mark.parametrize("stage", ["gram", "hepta"])
def test_five_frame_g_trains_the_later_stages(tmp_path, stage):
    cfg = tiny_config(steps=1, generator=FIVE, stage=stage, gram_mode="ground_truth")
    Trainer(cfg, tmp_path, dataset=ToyShift5(), progress=False).fit()
    (rec,) = read_log(tmp_path)
    key = "gram9" if stage == "gram" else "hepta_total"
    assert rec[key] > 0 and rec["base_central"] > 0


def test_frame_count_of_data_and_g_must_agree(tmp_path):
    # 7-frame samples for a 5-frame G: refused at the first batch, before G changes
    trainer = Trainer(tiny_config(steps=1, generator=FIVE), tmp_path / "a", dataset=ToyShift(),
                      progress=False)  # fmt: skip
    before = state(trainer.G)
    with pytest.raises(DataError, match=r"\(B, 5, 3, H, W\).*got \(2, 7, 3, 32, 32\)"):
        trainer.fit()
    assert_same_state(before, state(trainer.G))
    # validation data of the wrong frame count: refused when the trainer is built
    with pytest.raises(DataError, match="validation data"):
        Trainer(tiny_config(generator=FIVE), tmp_path / "b", dataset=ToyShift5(),
                val_data=_val(ToyShift(n=2)), progress=False)  # fmt: skip
    # an even frame count has no centre frame for Eq. 1 and the pairs of Eq. 2
    with pytest.raises(ConfigError, match="odd number of frames"):
        Trainer(tiny_config(generator=GeneratorConfig(width=8, num_frames=6)), tmp_path / "c",
                dataset=ToyShift5(), progress=False)  # fmt: skip


# ----------------------------------------------------------------------------- stage objects
def _stage(tmp_path, **overrides):
    cfg = tiny_config(**overrides)
    stage = make_stage(cfg, Trainer(cfg, tmp_path, dataset=ToyShift(), progress=False).G)
    stage.setup(torch.device("cpu"))
    return stage


def test_make_stage_picks_the_stage_and_its_reference(tmp_path):
    assert type(_stage(tmp_path / "a", stage="base")) is BaseStage
    gram = _stage(tmp_path / "b", stage="gram", gram_mode="prediction")
    assert type(gram) is GramStage and gram.reference is not None
    assert not gram.reference.training and not any(
        p.requires_grad for p in gram.reference.parameters()
    )
    hepta = _stage(tmp_path / "c", stage="hepta", hepta_source="ground_truth")
    assert type(hepta) is HeptaStage and hepta.reference is None


def test_a_g_that_returns_the_truth_has_zero_stage_loss(tmp_path):
    """BaseStage on a forward pass that returns the sharp frames: every trained term is 0
    (the re-blur L1 of an sRGB-constrained G is logged, not trained)."""
    data = ToyShift(n=2)
    blurry, frames = _val(data)["blurry"], _val(data)["frames"]
    stage = _stage(tmp_path, stage="base")
    total, parts, pred = stage.loss(lambda x: frames, StepBatch(blurry, frames, 1.0, None))
    assert total.item() == 0.0 and parts["central"] == 0.0 and parts["frames"] == 0.0
    assert parts["reblur"] > 0 and torch.equal(pred, frames)
    # reversed in time: Eq. 2 and the best-order frame MSE do not mind, Eq. 1's centre neither
    total, parts, _ = stage.loss(lambda x: frames.flip(1), StepBatch(blurry, frames, 1.0, None))
    assert total.item() == pytest.approx(0.0, abs=1e-9)


def test_hepta_stage_restores_its_own_reblurred_frames(tmp_path):
    """Eq. 8: G gets the mean of the sharp frames back as input; a G that returns the
    frames for that input has zero bi-cycle loss, and base_weight adds stage 1's terms."""
    data = ToyShift(n=2)
    blurry, frames = _val(data)["blurry"], _val(data)["frames"]
    stage = _stage(tmp_path, stage="hepta", base_weight=0.0)
    seen = []

    def forward(x):
        seen.append(x)
        return torch.cat([frames, frames])

    total, parts, _ = stage.loss(forward, StepBatch(blurry, frames, 1.0, None))
    torch.testing.assert_close(seen[0], torch.cat([blurry, frames.mean(1)]))
    assert total.item() == 0.0 and set(parts) == {"hepta_reblur", "hepta_frames", "hepta_total"}
    stage.cfg = stage.cfg.replace(base_weight=2.0)
    total, parts, _ = stage.loss(
        lambda x: torch.cat([frames, frames.flip(1)]), StepBatch(blurry, frames, 1.0, None)
    )
    assert parts["hepta_frames"] > 0 and "base_central" in parts
    assert total.item() == pytest.approx(parts["hepta_total"] + 2.0 * parts["base_total"], rel=1e-5)


# ----------------------------------------------------------------------------- chaining
def test_stages_hand_g_over_in_memory(tmp_path, monkeypatch):
    """``train`` starts each stage from the previous one's result without reading its
    export back from disk; the weights are those of the export."""
    import blurvid.train.loop as loop

    def no_reload(*args, **kwargs):
        raise AssertionError("a stage reloaded its start from disk")

    monkeypatch.setattr(loop, "load_model", no_reload)
    starts = {}
    fit = Trainer.fit

    def recording_fit(self):
        starts[self.cfg.stage] = state(self.G)
        return fit(self)

    monkeypatch.setattr(Trainer, "fit", recording_fit)
    train(tiny_config(steps=1, ema_decay=0.5), tmp_path, stages=("base", "hepta"),
          dataset=ToyShift(), progress=False)  # fmt: skip
    monkeypatch.undo()
    assert_same_state(starts["hepta"], state(load_model(tmp_path / "base" / "model")))
    # the stage's config still names where its start came from
    assert read_log(tmp_path / "hepta")[0]["stage"] == "hepta"
    cfg = (tmp_path / "hepta" / "train_config.json").read_text()
    assert str(tmp_path / "base" / "model") in cfg


def test_old_names_stay_importable_from_the_loop():
    from blurvid import metrics
    from blurvid.train import losses
    from blurvid.train.loop import best_order_mse, best_order_psnr, reblur_l1

    assert best_order_mse is losses.best_order_mse and reblur_l1 is losses.reblur_l1
    pred, true = torch.rand(2, 7, 3, 16, 16), torch.rand(2, 7, 3, 16, 16)
    assert best_order_psnr(pred, true) == float(metrics.best_order_psnr(pred, true).mean())


def test_model_and_start_from_are_exclusive(tmp_path):
    one, two = Generator(GeneratorConfig(width=8)), Generator(GeneratorConfig(width=8))
    with pytest.raises(ConfigError, match="not both"):
        Trainer(tiny_config(), tmp_path / "run", dataset=ToyShift(), model=one, start_from=two,
                progress=False)  # fmt: skip
    assert not (tmp_path / "run").exists()  # refused before any work
