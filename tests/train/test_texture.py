"""The fixed oriented filter bank of the Gram loss (blurvid.train.texture, ``gram_features =
"filters"``): shapes, determinism, a known answer (it tells a horizontal blur from a vertical
one, where isotropic or random features barely do), and its TrainConfig / recipe / CLI key."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from blurvid.errors import ConfigError, InvalidImageError
from blurvid.train import TrainConfig
from blurvid.train.features import vgg19_features
from blurvid.train.losses import gram_loss
from blurvid.train.recipe import load_recipe
from blurvid.train.texture import GRAM_FEATURES, FilterBankFeatures, filter_bank_features

pytestmark = pytest.mark.filterwarnings("ignore:No VGG19 weights given")


def texture(seed: int, size: int = 64) -> torch.Tensor:
    """Seeded white-noise RGB texture: statistically the same in every direction."""
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def box_blur(x: torch.Tensor, horizontal: bool, length: int = 9) -> torch.Tensor:
    """A linear motion blur of ``length`` px along x (horizontal) or y (circular borders)."""
    k = torch.ones(1, 1, 1, length) if horizontal else torch.ones(1, 1, length, 1)
    p = length // 2
    pad = (p, p, 0, 0) if horizontal else (0, 0, p, p)
    return F.conv2d(F.pad(x, pad, mode="circular"), k.repeat(3, 1, 1, 1) / length, groups=3)


def still(x: torch.Tensor) -> torch.Tensor:
    """Three identical frames ``(1, 3, 3, H, W)``: one Gram triplet of a still image."""
    return x[:, None].repeat(1, 3, 1, 1, 1)


def gram_distance(features, a: torch.Tensor, b: torch.Tensor) -> float:
    return float(gram_loss(still(a), still(b), features, triplets=((0, 1, 2),)))


def direction_contrast(features) -> float:
    """Gram distance between a horizontally and a vertically blurred copy of one texture,
    over the distance between two horizontally blurred textures (other noise, same
    statistics): > 1 when the statistic sees the blur's direction beyond sampling noise."""
    h1, h2 = box_blur(texture(1), True), box_blur(texture(2), True)
    v1 = box_blur(texture(1), False)
    return gram_distance(features, h1, v1) / gram_distance(features, h1, h2)


def test_shapes_and_channels():
    f = filter_bank_features()
    out = f(torch.rand(2, 3, 64, 80))
    assert list(out) == ["scale0", "scale1", "scale2", "scale3"]
    assert f.channels == 36
    sizes = [(64, 80), (32, 40), (16, 20), (8, 10)]
    assert [tuple(m.shape) for m in out.values()] == [(2, 36, h, w) for h, w in sizes]
    odd = FilterBankFeatures(scales=2, orientations=4)(torch.rand(1, 3, 33, 35))
    assert [tuple(m.shape) for m in odd.values()] == [(1, 24, 33, 35), (1, 24, 17, 18)]
    # rectified: every map is >= 0; a flat image has no texture (zero-mean filters)
    assert all(float(m.min()) >= 0 for m in out.values())
    flat = f(torch.full((1, 3, 64, 64), 0.4))
    assert max(float(m.abs().max()) for m in flat.values()) < 1e-6


def test_deterministic_without_random_init_or_parameters():
    state = torch.random.get_rng_state()
    a, b = FilterBankFeatures(), FilterBankFeatures()
    assert torch.equal(torch.random.get_rng_state(), state)  # no random numbers drawn
    assert list(a.parameters()) == [] and a.state_dict() == {}
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    ya, yb, ya2 = a(x), b(x), a(x)
    assert all(torch.equal(ya[k], yb[k]) and torch.equal(ya[k], ya2[k]) for k in ya)
    a.train()
    assert not a.training  # always eval


def test_gradients_reach_the_input():
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    sum(m.pow(2).sum() for m in filter_bank_features()(x).values()).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_orientation_energy_follows_the_blur_direction():
    """Orientation 0 responds to changes along x: a horizontal blur removes them, so its
    energy falls far below that of orientation 90 degrees (index 3 of 6), and the other way
    round for a vertical blur."""
    f = filter_bank_features()

    def energy(x):  # luma maps of the finest level: (orientation, 4 rectified phases)
        return f(x)["scale0"][:, :24].reshape(6, 4, 64, 64).pow(2).mean(dim=(1, 2, 3))

    eh, ev = energy(box_blur(texture(3), True)), energy(box_blur(texture(3), False))
    assert float(eh[0]) * 4 < float(eh[3])
    assert float(ev[3]) * 4 < float(ev[0])


def test_gram_statistic_tells_horizontal_from_vertical_blur():
    assert direction_contrast(filter_bank_features()) > 4
    # the same test fails for features that do not see orientation: the orientation-averaged
    # even filters (isotropic), and the seeded random VGG19 fallback at relu3_1
    iso = filter_bank_features()
    bank = iso.bank.reshape(3, 6, 2, 1, 7, 7).mean(dim=1, keepdim=True).repeat(1, 6, 1, 1, 1, 1)
    bank[:, :, 1] = 0
    iso.bank = bank.reshape(36, 1, 7, 7)
    assert direction_contrast(iso) < 2
    assert direction_contrast(vgg19_features(layers="relu3_1")) < 2.5


def test_bad_arguments_and_inputs_are_typed_errors():
    with pytest.raises(ConfigError, match="scales"):
        FilterBankFeatures(scales=0)
    with pytest.raises(ConfigError, match="orientations"):
        FilterBankFeatures(orientations=1)
    with pytest.raises(InvalidImageError, match="at least 32 x 32"):
        filter_bank_features()(torch.rand(1, 3, 16, 64))
    with pytest.raises(InvalidImageError, match=r"\(N, 3, H, W\)"):
        filter_bank_features()(torch.rand(1, 1, 64, 64))


def test_config_round_trip_recipe_and_cli(tmp_path):
    assert GRAM_FEATURES == ("vgg19", "filters")
    assert TrainConfig().gram_features == "vgg19"  # the default is unchanged
    cfg = TrainConfig(gram_features="filters")
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match="gram_features must be 'vgg19' or 'filters'"):
        TrainConfig(gram_features="gabor")
    path = tmp_path / "r.toml"
    path.write_text('[stages.gram]\ngram_features = "filters"\n')
    recipe = load_recipe(path)
    assert recipe.stage_config("gram").gram_features == "filters"
    assert recipe.stage_config("base").gram_features == "vgg19"
    path.write_text('[stages.gram]\ngram_features = "sobel"\n')
    with pytest.raises(ConfigError, match=r"r.toml, stage gram: gram_features"):
        load_recipe(path).stage_config("gram")
    from blurvid import cli

    args = cli.build_parser("train").parse_args(
        ["train", "--data", "x", "--out", "y", "--gram-features", "filters"]
    )
    assert args.gram_features == "filters"


def test_the_gram_stage_uses_the_chosen_features(tmp_path):
    from test_loop import ToyShift, tiny_config

    from blurvid.train import Trainer
    from blurvid.train.stages import make_stage

    for kind, cls in (("filters", FilterBankFeatures), ("vgg19", torch.nn.Module)):
        cfg = tiny_config(stage="gram", gram_features=kind)
        stage = make_stage(cfg, Trainer(cfg, tmp_path / kind, dataset=ToyShift(), progress=False).G)
        stage.setup(torch.device("cpu"))
        assert isinstance(stage.features, cls)
        assert (kind == "filters") == isinstance(stage.features, FilterBankFeatures)
