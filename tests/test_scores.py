"""Tests of :mod:`blurvid.scores` (the reference rows, gains and motion ratio shared by
``blurvid eval``, training validation and the benchmarks): known answers computed by hand in
numpy, any frame count, and the same numbers from ``Trainer.validate`` and ``evaluate``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blurvid.errors import InvalidImageError
from blurvid.metrics import CENTER, PAPER, STRICT, centre_psnr, sequence_metrics, sequence_motion
from blurvid.scores import (
    motion_ratio,
    predict_set,
    reference_scores,
    static_baselines,
    validation_scores,
)

pytestmark = pytest.mark.usefixtures("fast_cpu")


def _set(n: int = 3, t: int = 5, size: int = 16, seed: int = 0):
    """``n`` samples of ``t`` random frames, their mean as the blurry input, and a noisy
    prediction whose odd samples are time-reversed."""
    g = torch.Generator().manual_seed(seed)
    true = torch.rand(n, t, 3, size, size, generator=g)
    blurry = true.mean(dim=1)
    pred = (true + 0.05 * torch.randn(true.shape, generator=g)).clamp(0, 1)
    pred[1::2] = pred[1::2].flip(1)
    return pred, true, blurry


def _psnr_np(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB, capped at 100 (identical images) as :func:`blurvid.metrics.psnr` does."""
    mse = float(np.mean((a - b) ** 2))
    return 100.0 if mse == 0 else min(100.0, 10 * np.log10(1.0 / mse))


@pytest.mark.parametrize("t", [5, 7])
def test_static_baselines_repeat_the_input_and_the_true_centre(t):
    _, true, blurry = _set(t=t)
    refs = static_baselines(blurry, true)
    assert list(refs) == ["identity", "oracle_static"]
    for k in range(t):
        assert torch.equal(refs["identity"][:, k], blurry)
        assert torch.equal(refs["oracle_static"][:, k], true[:, t // 2])


@pytest.mark.parametrize(
    "blurry_shape", [(3, 3, 16, 8), (2, 3, 16, 16), (3, 1, 16, 16)], ids=["width", "n", "ch"]
)
def test_mismatched_blurry_is_an_invalid_image_error(blurry_shape):
    pred, true, _ = _set()
    with pytest.raises(InvalidImageError, match="expected blurry of shape") as err:
        validation_scores(pred, true, torch.zeros(blurry_shape))
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidImageError, match="static_baselines"):
        static_baselines(torch.zeros(blurry_shape), true)


def test_motion_ratio_known_answers():
    true = torch.zeros(2, 5, 3, 4, 4)
    true[0, -1] += 0.2  # sample 0 moves 0.2, sample 1 not at all
    assert sequence_motion(true).tolist() == pytest.approx([0.2, 0.0])
    assert motion_ratio(sequence_motion(true), sequence_motion(true)) == pytest.approx(1.0)
    double = true.clone()
    double[0, -1] += 0.2
    double[1, 0] += 0.4  # the ratio is of the sums: (0.4 + 0.4) / 0.2
    assert motion_ratio(sequence_motion(double), sequence_motion(true)) == pytest.approx(4.0)
    still = torch.zeros_like(true)
    assert motion_ratio(sequence_motion(still), sequence_motion(true)) == 0.0
    assert motion_ratio(sequence_motion(still), sequence_motion(still)) == 0.0


@pytest.mark.parametrize("t", [5, 7])
def test_validation_scores_match_a_hand_computation(t):
    pred, true, blurry = _set(t=t)
    p, y, b = pred.double().numpy(), true.double().numpy(), blurry.double().numpy()
    mid = t // 2

    def best_order(seq: np.ndarray) -> float:
        scores = []
        for i in range(len(y)):
            fwd = np.mean([_psnr_np(seq[i, k], y[i, k]) for k in range(t)])
            rev = np.mean([_psnr_np(seq[i, t - 1 - k], y[i, k]) for k in range(t)])
            scores.append(max(fwd, rev))
        return float(np.mean(scores))

    ident = np.repeat(b[:, None], t, axis=1)
    oracle = np.repeat(y[:, mid : mid + 1], t, axis=1)
    centre = np.mean([_psnr_np(p[i, mid], y[i, mid]) for i in range(len(y))])
    centre_ident = np.mean([_psnr_np(b[i], y[i, mid]) for i in range(len(y))])
    motion = np.abs(p[:, 0] - p[:, -1]).sum() / np.abs(y[:, 0] - y[:, -1]).sum()
    expected = {
        "psnr": best_order(p),
        "centre_psnr": centre,
        "identity": best_order(ident),
        "oracle_static": best_order(oracle),
        "centre_identity": centre_ident,
        "gain_db": best_order(p) - best_order(ident),
        "centre_gain_db": centre - centre_ident,
        "motion_ratio": motion,
    }
    got = validation_scores(pred, true, blurry)
    assert list(got) == list(expected)  # the order of the val_* log keys
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-4), key
    refs = reference_scores(blurry, true)
    assert validation_scores(pred, true, blurry, references=refs) == got


@pytest.mark.parametrize("protocol", [PAPER, STRICT, CENTER], ids=["paper", "strict", "center"])
def test_sequence_metrics_centre_is_centre_psnr(protocol):
    pred, true, _ = _set(t=5, size=24)
    res = sequence_metrics(pred, true, protocol, compute_epe=False)
    assert torch.equal(res["centre_psnr"], res["psnr_per_frame"][:, 2])
    assert torch.allclose(res["centre_psnr"], centre_psnr(pred, true), atol=1e-6)
    if protocol is CENTER:
        assert torch.equal(res["psnr"], res["centre_psnr"])


def test_trainer_validation_and_eval_report_the_same_numbers(tmp_path, make_model, perturbed):
    """One implementation: ``val_*`` of training and the rows of ``blurvid eval`` agree on
    the same model and data (5 frames)."""
    from blurvid.evaluate import evaluate
    from blurvid.train.config import TrainConfig
    from blurvid.train.loop import Trainer

    g = perturbed(make_model(num_frames=5), std=0.05).eval()
    _, true, blurry = _set(n=4, t=5, size=32, seed=3)
    cfg = TrainConfig.fast(steps=1, generator=g.config, val_every=0, sample_every=0)
    trainer = Trainer(cfg, tmp_path, dataset=[{"blurry": 0}], model=g, progress=False,
                      val_data={"blurry": blurry, "frames": true})  # fmt: skip
    val = trainer.validate()
    samples = [(f"s{i}", blurry[i], true[i]) for i in range(4)]
    ident, oracle, row = evaluate({"g": g}, samples, compute_epe=False, progress=False)
    pairs = {
        "val_psnr": row.psnr,
        "val_centre_psnr": row.centre_psnr,
        "val_identity": ident.psnr,
        "val_oracle_static": oracle.psnr,
        "val_centre_identity": ident.centre_psnr,
        "val_gain_db": row.psnr - ident.psnr,
        "val_centre_gain_db": row.centre_psnr - ident.centre_psnr,
        "val_motion_ratio": row.motion_ratio,
    }
    assert list(val) == list(pairs)
    for key, value in pairs.items():
        assert val[key] == pytest.approx(value, abs=1e-4), key
    assert 0.0 < val["val_motion_ratio"] and val["val_psnr"] < 100.0  # a real prediction


class _Spread(torch.nn.Module):
    """(B, 3, H, W) -> (B, 4, 3, H, W): the input times 0, 0.5, 1.5, 3 (values beyond [0, 1] on
    purpose), and records the batch sizes and the grad mode it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x.shape[0], torch.is_grad_enabled()))
        gains = torch.tensor([0.0, 0.5, 1.5, 3.0], dtype=x.dtype)
        return x[:, None] * gains[None, :, None, None, None]


def test_predict_set_batches_clamps_and_restores_the_mode():
    x = torch.rand(37, 3, 8, 8, generator=torch.Generator().manual_seed(0)).double()
    model = _Spread().train()
    out = predict_set(model, x, batch_size=16)
    assert out.shape == (37, 4, 3, 8, 8) and out.dtype == torch.float32
    assert [n for n, _ in model.seen] == [16, 16, 5]
    assert not any(grad for _, grad in model.seen)
    assert model.training  # restored
    expected = x[:, None] * torch.tensor([0.0, 0.5, 1.5, 3.0]).double()[:, None, None, None]
    torch.testing.assert_close(out, expected.clamp(0, 1).float())
    assert float(out.max()) == 1.0 and float(out.min()) >= 0.0
    model.eval()
    predict_set(model, x[:1], batch_size=1)
    assert not model.training  # an eval-mode model stays in eval mode


@pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(0, 3, 8, 8), "image"])
def test_predict_set_rejects_a_non_batch(bad):
    with pytest.raises(InvalidImageError, match=r"\(N, 3, H, W\)"):
        predict_set(_Spread(), bad)


def test_predict_set_rejects_a_zero_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        predict_set(_Spread(), torch.rand(2, 3, 8, 8), batch_size=0)
