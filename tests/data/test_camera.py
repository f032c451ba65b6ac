"""Tests of blurvid.data.camera: the camera-realism steps after the exposure (highlights and
clipping after the average, Poisson-Gaussian noise at a known level, tone curve, JPEG), and
that with every step off the pipeline is the plain one."""

from __future__ import annotations

import pytest
import torch

from blurvid.colour import linear_to_srgb, srgb_to_linear
from blurvid.data import CameraConfig, ShakeConfig, expose, item_generator, render_shake
from blurvid.data.camera import tone_curve
from blurvid.errors import ConfigError
from blurvid.train.config import TrainConfig


def flat(value: float, n: int = 8, size: int = 64) -> torch.Tensor:
    return torch.full((n, 3, size, size), value)


def test_off_is_the_plain_linear_average_in_srgb():
    g = torch.Generator().manual_seed(0)
    sub = torch.rand(8, 3, 16, 16, generator=g)
    tgt = sub[::2]
    blurry, frames, params = expose(sub, tgt, item_generator(1, 0), None, noise_sigma=0.0)
    assert torch.equal(blurry, linear_to_srgb(sub.mean(0)))
    assert torch.equal(frames, linear_to_srgb(tgt))
    assert params == {"noise_sigma": 0.0}


def test_saturated_light_is_clipped_after_the_exposure_average():
    # a light of radiance 4 crosses 8 pixels, one per sub-frame, on a dark background
    sub = torch.full((8, 3, 1, 8), 0.1)
    for t in range(8):
        sub[t, :, 0, t] = 4.0
    cam = CameraConfig(highlights=1.0, highlight_gain=(1.0, 1.0))  # a realism path, gain 1
    blurry, frames, _ = expose(sub, sub[[0, 7]], item_generator(0, 0), cam)
    streak = (4.0 + 7 * 0.1) / 8  # clip(mean): 0.5875, not mean(clip): 0.2125
    assert torch.allclose(blurry, linear_to_srgb(torch.full((3, 1, 8), streak)), atol=1e-6)
    assert float(frames.max()) == pytest.approx(1.0) and float(frames.min()) >= 0.0  # clipped too


def test_highlights_push_bright_scene_parts_past_saturation():
    cam = CameraConfig(highlights=1.0, highlight_threshold=0.8, highlight_gain=(2.5, 3.0))
    sub = torch.cat([flat(0.9, 4, 8), flat(0.5, 4, 8)])  # bright, then dim
    blurry, frames, params = expose(sub, sub[[0, 7]], item_generator(2, 0), cam)
    g = params["highlight_gain"]
    assert 2.5 <= g <= 3.0
    # 0.9 -> 0.8 + g * 0.1 >= 1.05 in the scene (averaged unclipped), the dim half unchanged
    expected = linear_to_srgb(torch.tensor(((0.8 + g * 0.1) * 4 + 0.5 * 4) / 8))
    assert torch.allclose(blurry, expected.expand(3, 8, 8), atol=1e-6)
    # the bright sharp frame saturates; the dim one is as it was
    assert torch.allclose(frames[0], torch.ones(3, 8, 8)) and torch.allclose(
        frames[1], linear_to_srgb(torch.tensor(0.5)).expand(3, 8, 8)
    )


def test_poisson_gaussian_noise_has_the_drawn_variance_and_spares_the_targets():
    x = 0.25
    cam = CameraConfig(noise="poisson-gaussian", shot_noise=(0.01, 0.01))
    blurry, frames, params = expose(flat(x, 4, 128), flat(x, 7, 128), item_generator(3, 0), cam)
    a, b = params["shot_noise"], params["read_noise"]
    assert a == pytest.approx(0.01)
    assert 1e-5 < b < 1e-3  # Brooks et al.: log b = 2.18 log a + 1.2 +- 0.26
    noise = srgb_to_linear(blurry) - x
    var = float(noise.var())
    # 49 152 samples: the variance's relative standard error is 0.6 %
    assert var == pytest.approx(a * x + b, rel=0.05)
    assert abs(float(noise.mean())) < 3e-3
    assert torch.allclose(frames, linear_to_srgb(torch.tensor(x)).expand_as(frames))


def test_noise_grows_with_the_signal():
    cam = CameraConfig(noise="poisson-gaussian", shot_noise=(0.01, 0.01))
    sd = []
    for x in (0.05, 0.6):
        blurry, _, _ = expose(flat(x, 2, 128), flat(x, 1, 128), item_generator(4, 0), cam)
        sd.append(float((srgb_to_linear(blurry) - x).std()))
    assert sd[1] > 2.5 * sd[0]  # sqrt(0.6 a + b) / sqrt(0.05 a + b) ~ 3.3


def test_tone_curve_is_monotonic_and_shared_by_input_and_targets():
    x = torch.linspace(0, 1, 101)
    for gamma, contrast in ((1.8, 0.0), (2.6, 1.0), (2.2, 0.5)):
        y = tone_curve(x, gamma, contrast)
        assert float(y[0]) == 0.0 and float(y[-1]) == pytest.approx(1.0)
        assert bool((y[1:] >= y[:-1]).all())
    g = torch.Generator().manual_seed(5)
    sub = torch.rand(8, 3, 8, 8, generator=g)
    cam = CameraConfig(tone=1.0)
    blurry, frames, params = expose(sub, sub[:2], item_generator(5, 0), cam, noise_sigma=0.0)
    gamma, contrast = params["gamma"], params["contrast"]
    assert torch.allclose(blurry, tone_curve(sub.mean(0), gamma, contrast), atol=1e-6)
    assert torch.allclose(frames, tone_curve(sub[:2], gamma, contrast), atol=1e-6)
    assert not torch.allclose(frames, linear_to_srgb(sub[:2]), atol=1e-3)


def test_jpeg_changes_the_input_only():
    g = torch.Generator().manual_seed(6)
    sub = torch.rand(8, 3, 32, 32, generator=g)
    plain = expose(sub, sub[:7], item_generator(6, 0), CameraConfig(), noise_sigma=0.0)
    cam = CameraConfig(jpeg_prob=1.0, jpeg_quality=(30, 30))
    blurry, frames, params = expose(sub, sub[:7], item_generator(6, 0), cam, noise_sigma=0.0)
    assert params["jpeg_quality"] == 30
    assert torch.equal(frames, plain[1])
    err = float((blurry - plain[0]).abs().mean())
    assert 1e-3 < err < 0.1  # a JPEG round trip: close, not equal


def test_parse_describe_and_typed_errors():
    assert CameraConfig.parse("off").is_off and CameraConfig.parse(None).is_off
    full = CameraConfig.parse("all")
    assert full == CameraConfig.realistic() and full.describe() == "all"
    two = CameraConfig.parse("noise+tone")
    assert two.noise == "poisson-gaussian" and two.tone == full.tone
    assert two.highlights == 0.0 and two.jpeg_prob == 0.0
    assert CameraConfig.parse(two.describe()) == two and two.describe() == "noise+tone"
    with pytest.raises(ConfigError, match="unknown camera realism step 'blur'"):
        CameraConfig.parse("noise+blur")
    with pytest.raises(ConfigError, match="probability"):
        CameraConfig(tone=1.5)
    with pytest.raises(ConfigError, match="linear_light"):
        ShakeConfig(linear_light=False, camera="all")
    assert ShakeConfig(camera="noise").camera.noise == "poisson-gaussian"
    with pytest.raises(ConfigError, match="unknown camera realism step"):
        TrainConfig(camera="noize")


def test_render_shake_with_camera_is_reproducible_and_records_its_draws():
    photo = torch.rand(3, 200, 200, generator=torch.Generator().manual_seed(7))
    cfg = ShakeConfig(size=48, camera="all")
    a = render_shake(photo, cfg, item_generator(8, 2), debug=True)
    b = render_shake(photo, cfg, item_generator(8, 2), debug=True)
    assert torch.equal(a["blurry"], b["blurry"]) and torch.equal(a["frames"], b["frames"])
    assert a["camera"] == b["camera"] and "shot_noise" in a["camera"]
    off = render_shake(photo, cfg.replace(camera="off"), item_generator(8, 2))
    # the scene is the same draw: the camera acts only after the exposure
    assert torch.allclose(off["frames"], a["frames"], atol=1e-6) or "gamma" in a["camera"]
    assert not torch.equal(off["blurry"], a["blurry"])
