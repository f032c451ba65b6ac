"""Tests of blurvid.data.leaves: the procedural dead-leaves scenes (reproducible per seed, a
moving shape where its motion says, the blurry image the exposure average, colours from the
given photos, the power law of the sizes) and their use as a data source."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from blurvid.colour import linear_to_srgb, srgb_to_linear
from blurvid.data import (
    LeavesConfig,
    LeavesDataset,
    ShakeConfig,
    item_generator,
    leaves_image,
    render_leaves,
)
from blurvid.data.leaves import _power_law
from blurvid.errors import ConfigError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

SMALL = LeavesConfig(shapes=(20, 40), shake=ShakeConfig(size=48))


def test_shapes_range_and_same_seed_same_sample():
    a = render_leaves(SMALL, item_generator(3, 1))
    b = render_leaves(SMALL, item_generator(3, 1))
    c = render_leaves(SMALL, item_generator(3, 2))
    assert a["blurry"].shape == (3, 48, 48) and a["frames"].shape == (7, 3, 48, 48)
    for v in (a["blurry"], a["frames"]):
        assert v.dtype == torch.float32 and float(v.min()) >= 0 and float(v.max()) <= 1
    assert torch.equal(a["blurry"], b["blurry"]) and torch.equal(a["frames"], b["frames"])
    assert not torch.equal(a["blurry"], c["blurry"])
    # a scene, not a flat field: many distinct colours and edges
    f = a["frames"][3]
    assert float(f.std()) > 0.05
    assert float((f[:, :, 1:] - f[:, :, :-1]).abs().mean()) > 0.005


def test_blurry_is_the_exposure_average_in_linear_light():
    cfg = SMALL.replace(shake=ShakeConfig(size=48, noise_sigma=0.0), movers=(2, 2))
    out = render_leaves(cfg, item_generator(4, 0), debug=True)
    sub = out["subframes"]  # (56, 3, 48, 48) sRGB, before the camera
    assert sub.shape[0] == 56
    assert torch.allclose(out["blurry"], linear_to_srgb(srgb_to_linear(sub).mean(0)), atol=1e-5)
    # the outer frames differ (motion), the blurry image is not a sharp frame
    assert float((out["frames"][0] - out["frames"][6]).abs().mean()) > 1e-3


def test_a_moving_shape_is_where_its_motion_puts_it():
    """One flat disc moving over a scene that stands still: the pixels it changes, frame by
    frame, are centred on its path at that frame's instant."""
    still = ShakeConfig(
        size=96, path_length=(0.0, 0.0), rotation_deg=0.0, zoom=0.0, noise_sigma=0.0
    )
    cfg = LeavesConfig(
        shapes=(5, 10),
        polygon_prob=0.0,
        aspect=(1.0, 1.0),
        edge=(1.0, 1.0),
        textures=(1.0, 0.0, 0.0, 0.0, 0.0),
        movers=(1, 1),
        mover_radius=(9.0, 9.0),
        mover_path_length=(20.0, 30.0),
        mover_scale=0.0,
        shake=still,
    )
    checked = 0
    for seed in range(12):
        moving = render_leaves(cfg, item_generator(seed, 0), debug=True)
        scene = render_leaves(cfg.replace(movers=(0, 0)), item_generator(seed, 0))
        path = moving["mover_targets"][0]  # (7, 2) x, y from the image centre
        if float(path.abs().max()) > 96 / 2 - 14:  # keep the disc inside the image
            continue
        for f in range(7):
            mask = (moving["frames"][f] - scene["frames"][f]).abs().amax(0) > 0.02
            area = int(mask.sum())
            if area < 0.8 * math.pi * 9**2:  # the disc's colour is close to the scene's
                continue
            ys, xs = torch.nonzero(mask, as_tuple=True)
            centre = torch.stack([xs.float().mean(), ys.float().mean()]) - (96 - 1) / 2
            assert torch.allclose(centre, path[f], atol=0.6), (seed, f, centre, path[f])
            checked += 1
    assert checked >= 10


def test_colours_come_from_the_given_photos():
    red = torch.zeros(3, 160, 160)
    red[0] = 0.8
    ds = LeavesDataset(SMALL, photos=[red], length=2, seed=0)
    s = ds[1]
    expected = torch.tensor([0.8, 0.0, 0.0]).view(3, 1, 1)
    assert torch.allclose(s["frames"], expected.expand_as(s["frames"]), atol=1e-4)
    assert torch.allclose(s["blurry"], expected.expand_as(s["blurry"]), atol=0.05)  # + noise
    # without photos: random colours
    other = LeavesDataset(SMALL, length=2, seed=0)[1]["frames"]
    assert float(other[:, 1:].abs().max()) > 0.05


def test_dataset_items_are_seeded_per_index_and_epoch():
    ds = LeavesDataset(SMALL, length=3, seed=9)
    a, b = ds[2], ds[2]
    assert torch.equal(a["blurry"], b["blurry"])
    ds.set_epoch(1)
    assert not torch.equal(ds[2]["blurry"], a["blurry"])
    with pytest.raises(IndexError):
        ds[3]


def test_sizes_follow_the_power_law():
    lo, hi, alpha = 3.0, 100.0, 3.0
    r = _power_law(torch.rand(200_000, generator=torch.Generator().manual_seed(0)), lo, hi, alpha)
    assert float(r.min()) >= lo and float(r.max()) <= hi
    e = 1 - alpha

    def above(x: float) -> float:  # P(r > x) of p(r) ~ r^-alpha on [lo, hi]
        return (hi**e - x**e) / (hi**e - lo**e)

    for x in (6.0, 12.0, 30.0):
        assert float((r > x).double().mean()) == pytest.approx(above(x), abs=0.005)


def test_scene_density_grows_with_the_area():
    cfg = LeavesConfig(shapes=(50, 50))
    small = leaves_image(64, cfg, item_generator(1, 0))
    large = leaves_image((96, 192), cfg, item_generator(1, 0))
    assert small.shape == (3, 64, 64) and large.shape == (3, 96, 192)
    assert float(small.min()) >= 0 and float(large.max()) <= 1


def test_config_errors_are_typed():
    with pytest.raises(ConfigError, match="radius"):
        LeavesConfig(radius=(10.0, 5.0))
    with pytest.raises(ConfigError, match="textures"):
        LeavesConfig(textures=(1.0, 0.0))
    with pytest.raises(ConfigError, match="aspect"):
        LeavesConfig(aspect=(0.5, 2.0))


@pytest.mark.skipif(not (DATA / "photos").is_dir(), reason="needs ../shared/data")
def test_leaves_spec_in_the_training_mix_and_in_eval(tmp_path):
    from blurvid.evaluate import iter_samples
    from blurvid.train.data import check_data_specs, dataset_from_specs

    check_data_specs(["leaves:", "leaves:@2", f"leaves:{DATA / 'photos'}@0.5"])
    ds = dataset_from_specs(["leaves:"], crop=32, length=3, progress=False)
    assert ds[0]["blurry"].shape == (3, 32, 32) and ds[0]["frames"].shape == (7, 3, 32, 32)
    mix = dataset_from_specs(
        [f"photos:{DATA / 'photos'}@1", f"leaves:{DATA / 'photos'}@1"],
        crop=32,
        length=4,
        camera="noise",
        bank_size=4,
        bank_dir=tmp_path,
        progress=False,
    )
    assert len(mix) == 4
    (bank,) = tmp_path.glob("bank_4_32_0_cam*.safetensors")  # realism has its own bank file
    samples = list(iter_samples("leaves:", size=32, count=2))
    assert len(samples) == 2 and samples[0][1].shape == (3, 32, 32)
    with pytest.raises(ConfigError, match="KIND:PATH"):
        check_data_specs(["photos:"])
