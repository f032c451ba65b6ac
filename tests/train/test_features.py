"""VGG19 feature network: torchvision key layout, strict safetensors loading, converter,
seeded fallback with a single warning."""

from __future__ import annotations

import fractions
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file

from blurvid.errors import (
    ConfigError,
    OutputExistsError,
    PlaceholderWeightsWarning,
    WeightsError,
    WeightsNotFoundError,
)
from blurvid.train import features as feats
from blurvid.train.features import (
    ENV_VAR,
    VGG19_CONV_INDICES,
    convert_torchvision_vgg19,
    vgg19_features,
    vgg19_state_dict_shapes,
)

TORCHVISION_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _fallback(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        return vgg19_features(**kw)


def _random_sd(seed: int = 1, scale: float = 0.05) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * scale for k, s in vgg19_state_dict_shapes().items()}


def test_state_dict_keys_are_torchvision_vgg19_features():
    expected = [f"features.{i}.{p}" for i in TORCHVISION_CONV_INDICES for p in ("weight", "bias")]
    assert VGG19_CONV_INDICES == TORCHVISION_CONV_INDICES
    model = _fallback()
    assert list(model.state_dict().keys()) == expected
    assert list(vgg19_state_dict_shapes()) == expected
    shapes = vgg19_state_dict_shapes()
    assert shapes["features.0.weight"] == (64, 3, 3, 3)
    assert shapes["features.34.weight"] == (512, 512, 3, 3)
    assert len(model.features) == 37  # torchvision: 16 conv + 16 relu + 5 pool
    assert isinstance(model.features[34], torch.nn.Conv2d)
    assert isinstance(model.features[35], torch.nn.ReLU)
    assert isinstance(model.features[36], torch.nn.MaxPool2d)


def test_frozen_eval_and_gradient_to_input():
    model = _fallback()
    model.train()
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    y = model(x)
    assert y.shape == (1, 512, 2, 2)  # conv5_4 at 1/16
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_layers_aliases_and_pre_relu():
    model = _fallback(layers=("conv5_4", "features.35", "relu3_1"))
    out = model(torch.rand(2, 3, 32, 32))
    assert list(out) == ["conv5_4", "features.35", "relu3_1"]
    assert out["relu3_1"].shape == (2, 256, 8, 8)
    # conv5_4 is pre-ReLU (has negatives), relu5_4 is its ReLU (not overwritten in place)
    assert (out["conv5_4"] < 0).any()
    torch.testing.assert_close(out["features.35"], out["conv5_4"].clamp(min=0))
    with pytest.raises(ConfigError):
        _fallback(layers="conv6_1")


def test_normalisation_inside():
    model = _fallback(layers="features.0")
    x = torch.rand(1, 3, 8, 8)
    mean = torch.tensor(feats.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(feats.IMAGENET_STD).view(1, 3, 1, 1)
    ref = model.features[0]((x - mean) / std)
    torch.testing.assert_close(model(x), ref)


def test_fallback_is_deterministic_and_warns_once(monkeypatch):
    monkeypatch.setattr(feats, "_FALLBACK_WARNED", False)
    x = torch.rand(1, 3, 32, 32)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        a = vgg19_features(seed=0)
        b = vgg19_features(seed=0)
        c = vgg19_features(seed=1)
    msgs = [w for w in rec if issubclass(w.category, UserWarning)]
    assert len(msgs) == 1
    assert issubclass(msgs[0].category, PlaceholderWeightsWarning)
    text = str(msgs[0].message)
    assert "weights=" in text and ENV_VAR in text and "convert_torchvision_vgg19" in text
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    assert not torch.allclose(a(x), c(x))


def test_safetensors_round_trip_strict(tmp_path):
    sd = _random_sd()
    path = tmp_path / "vgg19.safetensors"
    save_file({"module.vgg." + k: v for k, v in sd.items()}, str(path))  # prefixes stripped
    model = vgg19_features(weights=path, layers="relu1_1")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, sd[k], rtol=0, atol=0)
    x = torch.rand(1, 3, 8, 8)
    ref = vgg19_features(weights=sd, layers="relu1_1")(x)
    torch.testing.assert_close(model(x), ref)


def test_env_var_gives_default_path(tmp_path, monkeypatch):
    sd = _random_sd(seed=3)
    path = tmp_path / "v.safetensors"
    save_file(sd, str(path))
    monkeypatch.setenv(ENV_VAR, str(path))
    model = vgg19_features()
    torch.testing.assert_close(model.state_dict()["features.34.bias"], sd["features.34.bias"])
    assert model.weights_source == str(path)


def test_missing_unexpected_and_wrong_shape_raise(tmp_path):
    sd = _random_sd()
    missing = dict(sd)
    del missing["features.16.weight"]
    save_file(missing, str(tmp_path / "m.safetensors"))
    with pytest.raises(WeightsError, match=r"features\.16\.weight"):
        vgg19_features(weights=tmp_path / "m.safetensors")

    extra = dict(sd, **{"classifier.0.weight": torch.zeros(2, 2)})
    with pytest.raises(WeightsError, match=r"classifier\.0\.weight"):
        vgg19_features(weights=extra)

    bad = dict(sd)
    bad["features.2.weight"] = torch.zeros(64, 64, 1, 1)
    save_file(bad, str(tmp_path / "s.safetensors"))
    with pytest.raises(WeightsError, match=r"features\.2\.weight.*\(64, 64, 3, 3\)"):
        vgg19_features(weights=str(tmp_path / "s.safetensors"))

    with pytest.raises(WeightsNotFoundError):
        vgg19_features(weights=tmp_path / "nope.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError):
        vgg19_features(weights=tmp_path / "junk.safetensors")


def test_pickle_refused_by_loader(tmp_path):
    pth = tmp_path / "vgg19.pth"
    torch.save(_random_sd(), pth)
    with pytest.raises(WeightsError, match="convert_torchvision_vgg19"):
        vgg19_features(weights=pth)


def test_converter_round_trip(tmp_path):
    sd = _random_sd(seed=5)
    tv = dict(sd)
    tv["classifier.0.weight"] = torch.randn(4, 8)  # dropped by the converter
    tv["classifier.6.bias"] = torch.randn(4)
    src = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(tv, src)
    dst = convert_torchvision_vgg19(src, tmp_path / "out" / "vgg19.safetensors")
    assert dst.is_file()
    assert not [p for p in dst.parent.iterdir() if p.name.endswith(".tmp")]
    loaded = load_file(str(dst))
    assert sorted(loaded) == sorted(sd)
    for k in sd:
        torch.testing.assert_close(loaded[k], sd[k], rtol=0, atol=0)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(
        vgg19_features(weights=dst, layers="relu2_1")(x),
        vgg19_features(weights=sd, layers="relu2_1")(x),
    )
    with pytest.raises(OutputExistsError):
        convert_torchvision_vgg19(src, dst)
    convert_torchvision_vgg19(src, dst, overwrite=True)


def test_converter_rejects_bad_inputs(tmp_path):
    with pytest.raises(WeightsNotFoundError):
        convert_torchvision_vgg19(tmp_path / "missing.pth", tmp_path / "o.safetensors")
    sd = _random_sd()
    del sd["features.0.bias"]
    torch.save(sd, tmp_path / "partial.pth")
    with pytest.raises(WeightsError, match=r"features\.0\.bias"):
        convert_torchvision_vgg19(tmp_path / "partial.pth", tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()

    # weights_only=True refuses objects outside its allow-list (no code execution)
    torch.save({"x": fractions.Fraction(1, 3)}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="weights_only"):
        convert_torchvision_vgg19(tmp_path / "evil.pth", tmp_path / "o.safetensors")


def test_convert_vgg19_cli(tmp_path, capsys):
    """``blurvid convert-vgg19 SRC DST`` writes loadable weights and says how to use them."""
    from blurvid.cli import main

    sd = _random_sd(seed=3)
    src = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(sd, src)
    dst = tmp_path / "vgg19.safetensors"
    assert main(["convert-vgg19", str(src), str(dst)]) == 0
    assert "--vgg19-weights" in capsys.readouterr().out
    assert sorted(load_file(str(dst))) == sorted(sd)
    assert main(["convert-vgg19", str(src), str(dst)]) == 1  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err
