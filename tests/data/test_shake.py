"""Tests of blurvid.data.shake: camera-shake rendering (shapes, physics, determinism, speed) and
the synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from blurvid.data import (
    ShakeConfig,
    SyntheticShakeDataset,
    build_pyramid,
    item_generator,
    item_seed,
    render_batch,
    render_item,
    render_shake,
)
from blurvid.errors import ConfigError, DataError
from blurvid.model import linear_to_srgb, srgb_to_linear

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


STATIC = dict(path_length=(0.0, 0.0), rotation_deg=0.0, zoom=0.0, sprites=(0, 0), noise_sigma=0.0)


def texture(h: int = 320, w: int = 400, seed: int = 0) -> torch.Tensor:
    """A deterministic photo-like texture: smoothed noise with edges, (3, h, w) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, h // 8, w // 8, generator=g)
    x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False)[0]
    fine = torch.rand(3, h, w, generator=g) * 0.15
    return (0.8 * x + fine).clamp(0, 1)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return texture()


def test_shapes_dtype_range(photo):
    cfg = ShakeConfig(size=64, sprites=(2, 2))
    out = render_shake(photo, cfg, item_generator(0, 0))
    assert set(out) == {"blurry", "frames"}
    assert out["blurry"].shape == (3, 64, 64) and out["frames"].shape == (7, 3, 64, 64)
    for v in out.values():
        assert v.dtype == torch.float32
        assert float(v.min()) >= 0.0 and float(v.max()) <= 1.0
        assert torch.isfinite(v).all()


def test_same_generator_seed_same_sample_and_different_seed_differs(photo):
    cfg = ShakeConfig(size=48)
    a = render_shake(photo, cfg, item_generator(5, 3))
    b = render_shake(photo, cfg, item_generator(5, 3))
    c = render_shake(photo, cfg, item_generator(6, 3))
    assert torch.equal(a["blurry"], b["blurry"]) and torch.equal(a["frames"], b["frames"])
    assert (a["blurry"] - c["blurry"]).abs().mean() > 1e-3
    assert item_seed(1, 2) == item_seed(1, 2) != item_seed(1, 3)


def test_blurry_is_linear_light_mean_of_all_subframes(photo):
    cfg = ShakeConfig(
        size=48, noise_sigma=0.0, sprites=(1, 2), path_length=(20.0, 24.0), linear_light=True
    )
    out = render_shake(photo, cfg, item_generator(1, 1), debug=True)
    sub = out["subframes"]
    assert sub.shape == (56, 3, 48, 48)
    expected = linear_to_srgb(srgb_to_linear(sub).mean(0))
    assert (out["blurry"] - expected).abs().max() < 2e-5
    # it is really the linear mean, not the sRGB mean (these differ by far more than the tolerance)
    assert (out["blurry"] - sub.mean(0)).abs().max() > 5e-3


def test_srgb_mode_blurry_is_plain_mean(photo):
    cfg = ShakeConfig(size=48, noise_sigma=0.0, linear_light=False, subframes_per_frame=4)
    out = render_shake(photo, cfg, item_generator(2, 0), debug=True)
    assert out["subframes"].shape[0] == 28
    assert (out["blurry"] - out["subframes"].mean(0)).abs().max() < 1e-6


def test_targets_center_and_mean(photo):
    k = 3
    base = dict(size=40, noise_sigma=0.0, subframes_per_frame=k, linear_light=True)
    c = render_shake(photo, ShakeConfig(target="center", **base), item_generator(3, 0), debug=True)
    # odd k: the centre target is the middle sub-frame of each group
    assert (c["frames"] - c["subframes"][k // 2 :: k]).abs().max() < 2e-5
    m = render_shake(photo, ShakeConfig(target="mean", **base), item_generator(3, 0), debug=True)
    lin = srgb_to_linear(m["subframes"]).reshape(7, k, 3, 40, 40).mean(1)
    assert (m["frames"] - linear_to_srgb(lin)).abs().max() < 2e-5
    # same draws, so the same blurry image whatever the target
    assert torch.allclose(c["blurry"], m["blurry"], atol=1e-6)


def test_no_motion_gives_identical_frames(photo):
    out = render_shake(photo, ShakeConfig(size=48, **STATIC), item_generator(4, 0))
    f = out["frames"]
    assert torch.equal(f[0], f[6]) and torch.equal(f[0], f[3])
    assert (out["blurry"] - f[3]).abs().max() < 2e-5


def test_motion_makes_first_and_last_frames_differ(photo):
    cfg = ShakeConfig(size=64, path_length=(12.0, 24.0), sprites=(0, 0), noise_sigma=0.0)
    for i in range(3):
        f = render_shake(photo, cfg, item_generator(7, i))["frames"]
        assert (f[0] - f[6]).abs().mean() > 0.01


def _best_shift(a: torch.Tensor, b: torch.Tensor, r: int = 20) -> tuple[int, int]:
    """Integer (dx, dy) such that b(x) ~= a(x - dx, y - dy) (content moved by (dx, dy))."""
    best, arg = float("inf"), (0, 0)
    h, w = a.shape[-2:]
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            ya, yb = max(0, -dy), max(0, dy)
            xa, xb = max(0, -dx), max(0, dx)
            hh, ww = h - abs(dy), w - abs(dx)
            err = float(
                (b[:, yb : yb + hh, xb : xb + ww] - a[:, ya : ya + hh, xa : xa + ww]).abs().mean()
            )
            if err < best:
                best, arg = err, (dx, dy)
    return arg


@pytest.mark.parametrize("angle,expected", [(0.0, (14, 0)), (90.0, (0, 14)), (180.0, (-14, 0))])
def test_pure_translation_moves_content_in_the_expected_direction(photo, angle, expected):
    # straight path of 16 px at constant speed: frame 1 (t=1/14) -> frame 7 (t=13/14) = 13.7 px
    cfg = ShakeConfig(
        size=64,
        curvature=0.0,
        speed_variation=0.0,
        angle_deg=angle,
        photo_scale=(1.0, 1.0),
        **{**STATIC, "path_length": (16.0, 16.0)},
    )
    out = render_shake(photo, cfg, item_generator(8, 0), debug=True)
    dx, dy = _best_shift(out["frames"][0], out["frames"][6])
    assert abs(dx - expected[0]) <= 1 and abs(dy - expected[1]) <= 1
    # first to last of the 56 sub-frame instants: 16 * 55 / 56 px along the direction
    traj = out["trajectory"]
    unit = torch.tensor(expected, dtype=torch.float32) / 14.0
    assert torch.allclose(traj[-1] - traj[0], unit * 16 * 55 / 56, atol=1e-3)


def test_trajectory_arc_length_matches_config(photo):
    cfg = ShakeConfig(size=48, path_length=(20.0, 20.0), curvature=0.5)
    out = render_shake(photo, cfg, item_generator(9, 0), debug=True)
    t = out["trajectory"]
    arc = float((t[1:] - t[:-1]).norm(dim=1).sum())
    assert 18.0 < arc <= 20.0  # sampled at 56 instants inside the exposure: slightly shorter


def test_noise_only_on_blurry(photo):
    cfg = ShakeConfig(size=48, noise_sigma=0.05)
    noisy = render_shake(photo, cfg, item_generator(10, 0), debug=True)
    clean_b = linear_to_srgb(srgb_to_linear(noisy["subframes"]).mean(0))
    assert float(noisy["noise_sigma"]) > 0
    resid = (noisy["blurry"] - clean_b)[:, 4:-4, 4:-4]
    assert (
        abs(float(resid.std()) - float(noisy["noise_sigma"]))
        < 0.3 * float(noisy["noise_sigma"]) + 1e-3
    )


def test_pyramid_and_small_photos():
    pyr = build_pyramid(texture(200, 300))
    assert [tuple(p.shape) for p in pyr] == [
        (3, 200, 300),
        (3, 141, 212),
        (3, 100, 150),
        (3, 71, 106),
    ]
    assert all(p.dtype == torch.uint8 for p in pyr)
    out = render_shake(pyr, ShakeConfig(size=64), item_generator(11, 0))
    assert out["frames"].shape == (7, 3, 64, 64)
    # a photo smaller than the output is upscaled, not an error
    tiny = render_shake(texture(40, 40), ShakeConfig(size=64), item_generator(11, 1))
    assert tiny["blurry"].shape == (3, 64, 64)
    with pytest.raises(DataError):
        render_shake(torch.rand(3, 4, 4), ShakeConfig(size=64), item_generator(0, 0))
    with pytest.raises(DataError):
        render_shake(torch.rand(4, 40, 40), ShakeConfig(size=32), item_generator(0, 0))


def test_config_validation():
    with pytest.raises(ConfigError):
        ShakeConfig(target="middle")
    with pytest.raises(ConfigError):
        ShakeConfig(path_length=(10.0, 2.0))
    with pytest.raises(ConfigError):
        ShakeConfig(size=4)
    assert ShakeConfig().num_subframes == 56


def test_render_batch_equals_render_item(photo):
    photos = [build_pyramid(photo), build_pyramid(texture(256, 256, seed=3))]
    cfg = ShakeConfig(size=48)
    batch = render_batch(photos, cfg, seed=21, n=3, start=2)
    assert batch["blurry"].shape == (3, 3, 48, 48) and batch["frames"].shape == (3, 7, 3, 48, 48)
    one = render_item(photos, cfg, 21, 3)
    assert torch.equal(batch["blurry"][1], one["blurry"]) and torch.equal(
        batch["frames"][1], one["frames"]
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_render_batch_on_cuda_matches_cpu(photo):
    photos = [build_pyramid(photo)]
    cpu = render_batch(photos, ShakeConfig(size=64), seed=1, n=4)
    gpu = render_batch(photos, ShakeConfig(size=64), seed=1, n=4, device="cuda")
    assert gpu["blurry"].is_cuda
    assert (gpu["frames"].cpu() - cpu["frames"]).abs().max() < 2e-3


@pytest.mark.skipif(not (DATA / "photos").is_dir(), reason="shared data not available")
def test_real_photo_renders_and_blurs():
    from blurvid.io import read_image

    pyr = build_pyramid(read_image(DATA / "photos" / "skimage_astronaut.jpg"))
    cfg = ShakeConfig(size=96, path_length=(16.0, 24.0), noise_sigma=0.0)
    out = render_shake(pyr, cfg, item_generator(0, 0))

    def grad(x):
        return float(
            (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., 1:] - x[..., :-1]).abs().mean()
        )

    # the blurry image is smoother than each of its sharp frames
    assert grad(out["blurry"]) < 0.9 * min(grad(f) for f in out["frames"])


def test_synthetic_dataset_shapes_determinism(tiny_photos):
    cfg = ShakeConfig(size=48)
    ds = SyntheticShakeDataset(tiny_photos, cfg, length=5, seed=3)
    assert len(ds) == 5
    s = ds[2]
    assert s["blurry"].shape == (3, 48, 48) and s["frames"].shape == (7, 3, 48, 48)
    assert (
        s["blurry"].dtype == torch.float32
        and 0 <= float(s["frames"].min())
        and float(s["frames"].max()) <= 1
    )
    again = SyntheticShakeDataset(tiny_photos, cfg, length=5, seed=3)[2]
    assert torch.equal(s["blurry"], again["blurry"]) and torch.equal(s["frames"], again["frames"])
    other = SyntheticShakeDataset(tiny_photos, cfg, length=5, seed=4)[2]
    assert not torch.equal(s["blurry"], other["blurry"])
    batch = render_batch(ds.photos, cfg, seed=3, n=1, start=2)
    assert torch.equal(batch["blurry"][0], s["blurry"])
    ds.set_epoch(1)
    assert not torch.equal(ds[2]["blurry"], s["blurry"])
    with pytest.raises(IndexError):
        ds[5]


def test_synthetic_dataset_errors(tmp_path):
    with pytest.raises(DataError):
        SyntheticShakeDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError):
        SyntheticShakeDataset(tmp_path / "empty")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError):
        SyntheticShakeDataset(tmp_path / "corrupt")
