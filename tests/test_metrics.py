"""Tests of blurvid.metrics: PSNR, SSIM (against scikit-image), EPE and the protocol layer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blurvid.errors import ConfigError, InvalidImageError
from blurvid.metrics import (
    CENTER,
    PAPER,
    STRICT,
    Protocol,
    endpoint_error,
    flow_epe,
    psnr,
    sequence_metrics,
    ssim,
)

PHOTOS = Path("/work/shared/data/photos")


# --------------------------------------------------------------------------- fixtures


def _texture(h: int, w: int, seed: int = 0, channels: int = 3) -> torch.Tensor:
    """A (C, H, W) multi-scale smooth-noise texture in [0, 1]: natural-looking, DIS-friendly."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(1, channels, h, w, dtype=torch.float64)
    for s in (4, 8, 16):
        n = torch.rand(1, channels, h // s + 2, w // s + 2, generator=g, dtype=torch.float64)
        out += F.interpolate(n, size=(h, w), mode="bicubic", align_corners=False)
    out = (out - out.min()) / (out.max() - out.min())
    return out[0]


def _moving_sequence(h: int = 96, w: int = 96, dx: float = 1.0, dy: float = 0.0, seed: int = 0):
    """(1, 7, 3, H, W) float32 frames of a texture translating by (k*dx, k*dy) px in frame k.

    Windows of a larger canvas, so no wrap-around: the flow from frame 1 to 7 is (6dx, 6dy).
    """
    m = 16
    canvas = _texture(h + 2 * m, w + 2 * m, seed=seed).float()
    frames = []
    for k in range(7):
        ox, oy = round(k * dx), round(k * dy)
        frames.append(canvas[:, m - oy : m - oy + h, m - ox : m - ox + w])
    return torch.stack(frames)[None]


def _sk_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """scikit-image reference for one (C, H, W) pair."""
    skm = pytest.importorskip("skimage.metrics")
    if a.shape[0] == 1:
        return float(
            skm.structural_similarity(
                a[0].numpy(),
                b[0].numpy(),
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=1.0,
            )
        )
    return float(
        skm.structural_similarity(
            a.permute(1, 2, 0).numpy(),
            b.permute(1, 2, 0).numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
        )
    )


# --------------------------------------------------------------------------- PSNR


def test_psnr_identical_images_give_the_cap():
    x = torch.rand(3, 3, 16, 16)
    assert psnr(x, x).tolist() == [100.0, 100.0, 100.0]
    assert psnr(x, x.clone(), max_db=60.0).tolist() == [60.0, 60.0, 60.0]


def test_psnr_known_mse_is_exact():
    target = torch.full((2, 3, 8, 8), 0.5, dtype=torch.float64)
    pred = target.clone()
    pred[0] += 0.1  # MSE 0.01 -> 20 dB
    pred[1, :, :4] += 0.2  # half the pixels off by 0.2 -> MSE 0.02 -> 10 log10(50) dB
    out = psnr(pred, target)
    assert out.shape == (2,) and out.dtype == torch.float64
    assert out[0].item() == pytest.approx(20.0, abs=1e-9)
    assert out[1].item() == pytest.approx(10 * math.log10(50.0), abs=1e-9)
    # data_range scales with the image range
    out255 = psnr(pred * 255, target * 255, data_range=255.0)
    assert torch.allclose(out255, out, atol=1e-9)


def test_psnr_never_exceeds_cap_and_is_differentiable():
    target = torch.zeros(1, 1, 10, 10)
    pred = target.clone()
    pred[0, 0, 0, 0] = 1e-5  # MSE 1e-12 -> 120 dB, capped
    assert psnr(pred, target).item() == 100.0
    pred = torch.rand(2, 3, 12, 12, requires_grad=True)
    psnr(pred, torch.rand(2, 3, 12, 12)).sum().backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


# --------------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("noise", [0.02, 0.1, 0.3])
def test_ssim_matches_skimage_on_random_images(noise):
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 37, 45, generator=g, dtype=torch.float64)
    b = (a + noise * torch.randn(a.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    out = ssim(a, b)
    ref = [_sk_ssim(a[i], b[i]) for i in range(2)]
    assert out.tolist() == pytest.approx(ref, abs=1e-4)
    # float32 inputs agree too
    assert ssim(a.float(), b.float()).tolist() == pytest.approx(ref, abs=1e-4)


def test_ssim_matches_skimage_on_natural_like_images():
    a = _texture(64, 80, seed=3)
    blurred = F.avg_pool2d(a[None], 5, stride=1, padding=2, count_include_pad=False)[0]
    shifted = torch.roll(a, shifts=(1, 2), dims=(1, 2))
    darker = 0.7 * a + 0.05
    for b in (blurred, shifted, darker):
        out = ssim(a[None], b[None]).item()
        assert out == pytest.approx(_sk_ssim(a, b), abs=1e-4)
        assert out < 0.999


def test_ssim_matches_skimage_on_grayscale():
    a = _texture(50, 33, seed=4, channels=1)
    b = (
        a + 0.05 * torch.randn(a.shape, generator=torch.Generator().manual_seed(2), dtype=a.dtype)
    ).clamp(0, 1)
    assert ssim(a[None], b[None]).item() == pytest.approx(_sk_ssim(a, b), abs=1e-4)


def test_ssim_matches_skimage_on_photos():
    photos = sorted(PHOTOS.glob("*.jpg"))[:2] if PHOTOS.is_dir() else []
    if not photos:
        pytest.skip(f"no photos under {PHOTOS}")
    image_mod = pytest.importorskip("PIL.Image")
    for path in photos:
        with image_mod.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((160, 160))
            arr = np.asarray(im, dtype=np.float64) / 255.0
        a = torch.from_numpy(arr).permute(2, 0, 1).contiguous()
        b = F.avg_pool2d(a[None], 3, stride=1, padding=1, count_include_pad=False)[0]
        assert ssim(a[None], b[None]).item() == pytest.approx(_sk_ssim(a, b), abs=1e-4)


def test_ssim_identical_is_one_and_small_images_raise():
    x = torch.rand(2, 3, 11, 20)
    assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
    with pytest.raises(InvalidImageError, match="at least 11x11"):
        ssim(torch.rand(1, 3, 10, 20), torch.rand(1, 3, 10, 20))


def test_ssim_is_differentiable():
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    (1 - ssim(pred, torch.rand(1, 3, 16, 16))).sum().backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


# --------------------------------------------------------------------------- EPE


def test_endpoint_error_of_constant_offset():
    a = torch.randn(2, 2, 5, 7)
    b = a.clone()
    b[:, 0] += 3.0
    b[:, 1] -= 4.0
    assert endpoint_error(a, b).tolist() == pytest.approx([5.0, 5.0], abs=1e-5)
    # a per-pixel mix: half the pixels off by (3, 4), half exact -> mean 2.5
    a = a[..., :6]
    c = a.clone()
    c[:, 0, :, :3] += 3.0
    c[:, 1, :, :3] += 4.0
    assert endpoint_error(a, c).tolist() == pytest.approx([2.5, 2.5], abs=1e-5)
    with pytest.raises(InvalidImageError, match="expected"):
        endpoint_error(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))


def test_flow_epe_known_answer():
    pytest.importorskip("cv2")
    true = _moving_sequence(dx=1.0, dy=0.0)  # flow 1 -> 7 = (+6, 0)
    pred = _moving_sequence(dx=0.0, dy=8 / 6)  # flow 1 -> 7 = (0, +8)
    assert flow_epe(pred, true).item() == pytest.approx(10.0, abs=0.5)
    assert flow_epe(true, true).item() == pytest.approx(0.0, abs=1e-6)
    # a custom estimator that returns a constant flow is honoured
    calls = []

    def fake(a, b):
        calls.append(a.shape)
        return torch.zeros(a.shape[0], 2, a.shape[2], a.shape[3])

    assert flow_epe(pred, true, estimator=fake).item() == 0.0
    assert len(calls) == 2


# --------------------------------------------------------------------------- protocol


def test_best_order_recovers_a_reversed_prediction():
    true = _moving_sequence(64, 64, dx=2.0)
    true = torch.cat([true, _moving_sequence(64, 64, dy=2.0, seed=5)])  # B = 2
    noise = 0.01 * torch.randn(true.shape, generator=torch.Generator().manual_seed(0))
    pred = true.clone()
    pred[0] = true[0].flip(0)  # sample 0 reversed in time, sample 1 forward
    pred = (pred + noise).clamp(0, 1)

    best = sequence_metrics(pred, true, PAPER, compute_epe=False)
    given = sequence_metrics(pred, true, STRICT, compute_epe=False)
    assert best["reversed"].tolist() == [True, False]
    assert given["reversed"].tolist() == [False, False]
    assert best["psnr"][0] > 35 and best["psnr"][0] > given["psnr"][0] + 5
    assert best["ssim"][0] > given["ssim"][0] + 0.05
    assert best["psnr"][1].item() == pytest.approx(given["psnr"][1].item(), abs=1e-6)
    # per-frame PSNR is reported in the kept order and averages to "psnr"
    assert best["psnr_per_frame"].shape == (2, 7)
    assert torch.allclose(best["psnr_per_frame"].mean(1), best["psnr"])
    assert (best["psnr_per_frame"][0] > 35).all()
    assert math.isnan(best["epe"][0].item())


def test_best_order_also_drives_the_epe():
    pytest.importorskip("cv2")
    true = _moving_sequence(dx=1.0)  # flow 1 -> 7 = (+6, 0)
    pred = true.flip(1)  # reversed: flow (-6, 0) when read forward
    best = sequence_metrics(pred, true, PAPER)
    strict = sequence_metrics(pred, true, STRICT)
    assert best["reversed"].item() and best["psnr"].item() == 100.0
    assert best["epe"].item() == pytest.approx(0.0, abs=1e-6)
    assert strict["epe"].item() == pytest.approx(12.0, abs=0.6)


def test_center_protocol_uses_only_frame_3():
    true = torch.rand(2, 7, 3, 24, 24)
    pred = true.clone()
    others = [0, 1, 2, 4, 5, 6]
    pred[:, others] = torch.rand(2, 6, 3, 24, 24)
    center = sequence_metrics(pred, true, CENTER, compute_epe=False)
    assert center["psnr"].tolist() == [100.0, 100.0]
    assert center["ssim"].tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
    full = sequence_metrics(pred, true, STRICT, compute_epe=False)
    assert (full["psnr"] < 30).all() and (full["ssim"] < 0.5).all()
    # and the other way round: only frame 3 wrong
    pred = true.clone()
    pred[:, 3] = (pred[:, 3] + 0.1).clamp(0, 1)
    center = sequence_metrics(pred, true, CENTER, compute_epe=False)
    full = sequence_metrics(pred, true, STRICT, compute_epe=False)
    assert (center["psnr"] < 25).all() and (full["psnr"] > 80).all()
    assert torch.equal(center["psnr_per_frame"][:, 3], center["psnr"])


def test_border_crop_ignores_border_errors():
    true = torch.rand(1, 7, 3, 32, 32)
    pred = true.clone()
    pred[..., :4, :] = 0.0
    pred[..., -4:] = 1.0
    plain = sequence_metrics(pred, true, Protocol(order="given"), compute_epe=False)
    cropped = sequence_metrics(pred, true, Protocol(order="given", border=4), compute_epe=False)
    assert plain["psnr"].item() < 20 and plain["ssim"].item() < 0.99
    assert cropped["psnr"].item() == 100.0
    assert cropped["ssim"].item() == pytest.approx(1.0, abs=1e-6)
    # a crop that leaves less than the SSIM window is refused
    with pytest.raises(InvalidImageError, match="after cropping border 11"):
        sequence_metrics(pred, true, Protocol(border=11), compute_epe=False)


def test_protocol_validation_and_names():
    assert PAPER == Protocol(frames="all", order="best", border=0, flow="dis")
    assert STRICT.order == "given" and CENTER.frames == "center"
    assert PAPER.name == "all 7 frames, best order, border 0, flow dis"
    assert Protocol(frames="center", order="given", border=4).name == (
        "center frame, given order, border 4, flow dis"
    )
    for bad in (
        dict(frames="middle"),
        dict(order="reversed"),
        dict(border=-1),
        dict(border=1.5),
        dict(flow=""),
    ):
        with pytest.raises(ConfigError, match="expected"):
            Protocol(**bad)
    with pytest.raises(ConfigError, match="expected protocol"):
        sequence_metrics(torch.rand(1, 7, 3, 16, 16), torch.rand(1, 7, 3, 16, 16), "paper")


@pytest.mark.parametrize(
    "pred, true, match",
    [
        (
            torch.rand(7, 3, 16, 16),
            torch.rand(7, 3, 16, 16),
            r"expected pred of shape \(B, T, 3, H, W\), got \(7, 3, 16, 16\)",
        ),
        (torch.rand(1, 0, 3, 16, 16), torch.rand(1, 0, 3, 16, 16), r"got \(1, 0, 3, 16, 16\)"),
        (torch.rand(1, 7, 1, 16, 16), torch.rand(1, 7, 1, 16, 16), r"got \(1, 7, 1, 16, 16\)"),
        (torch.rand(1, 7, 3, 16, 16), torch.rand(1, 7, 3, 16, 17), "equal shape"),
        (
            torch.zeros(1, 7, 3, 16, 16, dtype=torch.uint8),
            torch.rand(1, 7, 3, 16, 16),
            "floating-point pred",
        ),
        (
            torch.full((1, 7, 3, 16, 16), float("nan")),
            torch.rand(1, 7, 3, 16, 16),
            "finite values in pred",
        ),
        (
            torch.rand(1, 7, 3, 16, 16),
            torch.full((1, 7, 3, 16, 16), float("inf")),
            "finite values in true",
        ),
        (np.zeros((1, 7, 3, 16, 16)), torch.rand(1, 7, 3, 16, 16), "torch.Tensor"),
        (torch.rand(1, 7, 3, 8, 8), torch.rand(1, 7, 3, 8, 8), "at least 11x11"),
    ],
)
def test_bad_inputs_raise_invalid_image_error(pred, true, match):
    with pytest.raises(InvalidImageError, match=match):
        sequence_metrics(pred, true, compute_epe=False)
    assert issubclass(InvalidImageError, ValueError)


def test_image_metrics_reject_bad_shapes():
    with pytest.raises(InvalidImageError, match=r"expected pred of shape \(B, C, H, W\)"):
        psnr(torch.rand(3, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(InvalidImageError, match="equal shape"):
        ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16))


def test_sequences_of_any_length_five_frames():
    """A 5-frame G's sequences: the centre is frame 2, the mean runs over 5 frames."""
    true = torch.rand(2, 5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    pred = true.clone()
    pred[:, 0] = (pred[:, 0] + 0.1).clamp(0, 1)  # only frame 0 is wrong
    res = sequence_metrics(pred, true, STRICT, compute_epe=False)
    assert res["psnr_per_frame"].shape == (2, 5)
    assert res["psnr_per_frame"][:, 1:].eq(100.0).all()
    expected = (res["psnr_per_frame"][:, 0] + 4 * 100.0) / 5
    torch.testing.assert_close(res["psnr"], expected)
    centre = sequence_metrics(pred, true, CENTER, compute_epe=False)
    assert centre["psnr"].eq(100.0).all()  # frame 2 is exact
    pred[:, 2] = 0.0
    assert (sequence_metrics(pred, true, CENTER, compute_epe=False)["psnr"] < 20).all()
    assert PAPER.describe(5) == "all 5 frames, best order, border 0, flow dis"
