"""Tests of blurvid.model: architecture size, shapes, the re-blur constraint, config, init."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from blurvid import ConfigError, Generator, GeneratorConfig
from blurvid.colour import linear_to_srgb, srgb_to_linear
from blurvid.model import GatedBlock

pytestmark = pytest.mark.usefixtures("fast_cpu")

# The default architecture: 36 Conv2d layers and 825,460 parameters (model.py docstring).
DEFAULT_CONV_LAYERS = 36
DEFAULT_PARAMETERS = 825_460


# --------------------------------------------------------------------------- size
def test_default_config_has_36_conv_layers_about_30_as_in_the_paper():
    model = Generator()
    n = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert n == DEFAULT_CONV_LAYERS
    assert model.num_conv_layers() == n
    # the paper: "an encoder-decoder with 30 convolutional layers"
    assert 28 <= n <= 40
    # stem 1 + 7 gated blocks x 4 + 3 down + 3 up + head 1
    blocks = sum(isinstance(m, GatedBlock) for m in model.modules())
    assert blocks == 7
    assert 1 + 4 * blocks + 3 + 3 + 1 == n


def test_default_parameter_count():
    model = Generator()
    assert model.num_parameters() == DEFAULT_PARAMETERS
    assert sum(p.numel() for p in model.parameters()) == DEFAULT_PARAMETERS
    assert round(DEFAULT_PARAMETERS / 1e6, 2) == 0.83  # "0.83 M parameters" in model.py


def test_tiny_model_is_small(tiny_model):
    assert tiny_model.num_conv_layers() == DEFAULT_CONV_LAYERS  # same depth, narrower
    assert tiny_model.num_parameters() < 100_000


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("hw", [(37, 53), (8, 8), (100, 17), (16, 16), (9, 31)])
def test_output_shape_any_size(tiny_model, hw):
    h, w = hw
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        y = tiny_model(x)
    assert y.shape == (2, 7, 3, h, w)
    assert torch.isfinite(y).all()


def test_output_is_cropped_back_at_the_top_left(tiny_model):
    """Padding goes right/bottom and the crop takes the top-left: away from the padded
    border, a 37x53 input gives the same frames as the 48x64 image it was cut from. (The
    seeded model's residual scales are zero, so G is local: no global pooling yet.)"""
    big = torch.rand(1, 3, 48, 64)
    small = big[..., :37, :53]
    with torch.no_grad():
        y_big, y_small = tiny_model(big), tiny_model(small)
    assert y_small.shape[-2:] == (37, 53)
    inner = (..., slice(0, 16), slice(0, 32))
    torch.testing.assert_close(y_small[inner], y_big[inner], atol=1e-6, rtol=0)
    # a crop of the wrong corner would not match
    assert (y_small[..., -16:, -21:] - y_big[..., -16:, -21:]).abs().max() > 1e-2


def test_num_frames_config(make_model):
    model = make_model(num_frames=5)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 16, 24)).shape == (1, 5, 3, 16, 24)


def test_size_multiple():
    assert GeneratorConfig().size_multiple == 16
    assert GeneratorConfig(enc_blocks=(1, 1), dec_blocks=(1, 1)).size_multiple == 8


def test_two_level_config_runs(make_model):
    model = make_model(enc_blocks=(1, 2), dec_blocks=(2, 1), middle_blocks=0)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 12, 20)).shape == (1, 7, 3, 12, 20)


# --------------------------------------------------------------------------- re-blur identity
def test_reblur_srgb_mean_of_frames_is_the_input(make_model, perturbed):
    x = torch.rand(2, 3, 24, 40)
    for model in (make_model(reblur="srgb"), perturbed(make_model(reblur="srgb"), std=0.05)):
        with torch.no_grad():
            frames = model(x)
        assert (frames - x[:, None]).abs().max() > 1e-3  # the frames do differ from the input
        torch.testing.assert_close(frames.mean(dim=1), x, atol=1e-5, rtol=0)


def test_reblur_linear_mean_in_linear_light(make_model):
    # in-range inputs and the seeded model keep the linear frames inside [0, 1]
    x = torch.rand(2, 3, 24, 40) * 0.6 + 0.2
    model = make_model(reblur="linear")
    with torch.no_grad():
        frames = model(x)
    assert (frames - x[:, None]).abs().max() > 1e-2
    lin_mean = srgb_to_linear(frames).mean(dim=1)
    torch.testing.assert_close(lin_mean, srgb_to_linear(x), atol=1e-5, rtol=0)
    # ... and it is the linear, not the sRGB mean that is tied: the sRGB mean is off
    assert (frames.mean(dim=1) - x).abs().max() > 1e-4


def test_reblur_none_does_not_hold(make_model):
    x = torch.rand(2, 3, 24, 40) * 0.6 + 0.2
    model = make_model(reblur="none")
    with torch.no_grad():
        frames = model(x)
    assert (frames.mean(dim=1) - x).abs().max() > 1e-3
    assert (srgb_to_linear(frames).mean(dim=1) - srgb_to_linear(x)).abs().max() > 1e-3


def test_srgb_linear_round_trip():
    x = torch.linspace(0, 1, 1001)
    torch.testing.assert_close(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5, rtol=0)
    # known values of the sRGB curve
    assert srgb_to_linear(torch.tensor(0.5)).item() == pytest.approx(0.21404, abs=1e-4)
    assert srgb_to_linear(torch.tensor(0.04045)).item() == pytest.approx(0.04045 / 12.92)
    assert linear_to_srgb(torch.tensor(1.0)).item() == pytest.approx(1.0)


# --------------------------------------------------------------------------- config
def test_config_json_round_trip(tmp_path):
    cfg = GeneratorConfig(
        width=12,
        enc_blocks=(1, 2),
        dec_blocks=(2, 1),
        middle_blocks=3,
        num_frames=9,
        reblur="linear",
        init_std=0.02,
    )
    path = tmp_path / "config.json"
    cfg.to_json(path)
    data = json.loads(path.read_text())
    assert data["enc_blocks"] == [1, 2] and data["width"] == 12
    back = GeneratorConfig.from_json(path)
    assert back == cfg
    assert back.enc_blocks == (1, 2)  # tuples again, so == and hash work
    assert hash(back) == hash(cfg)
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg


def test_config_default_json_round_trip(tmp_path):
    GeneratorConfig().to_json(tmp_path / "c.json")
    assert GeneratorConfig.from_json(tmp_path / "c.json") == GeneratorConfig()


def test_config_ignores_underscore_metadata():
    d = GeneratorConfig().to_dict()
    d["_blurvid"] = {"version": "x"}
    assert GeneratorConfig.from_dict(d) == GeneratorConfig()


def test_config_unknown_keys_are_an_error(tmp_path):
    d = GeneratorConfig().to_dict()
    d["depth_multiplier"] = 2
    with pytest.raises(ConfigError, match="unknown keys \\['depth_multiplier'\\]"):
        GeneratorConfig.from_dict(d)
    (tmp_path / "config.json").write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="unknown keys"):
        GeneratorConfig.from_json(tmp_path / "config.json")


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"width": 7}, "width"),
        ({"width": 2}, "width"),
        ({"width": "32"}, "width"),
        ({"enc_blocks": [1, 1], "dec_blocks": [1]}, "same"),
        ({"enc_blocks": [], "dec_blocks": []}, "same"),
        ({"enc_blocks": [-1, 1, 1]}, ">= 0"),
        ({"enc_blocks": ["x", 1, 1]}, "enc_blocks"),
        ({"enc_blocks": 3}, "enc_blocks"),
        ({"num_frames": 1}, "num_frames"),
        ({"num_frames": "7"}, "num_frames"),
        ({"reblur": "gamma"}, "reblur"),
        ({"init_std": 0}, "init_std"),
        ({"init_std": "big"}, "init_std"),
        ({"init": "xavier"}, "init must be"),
    ],
)
def test_config_invalid_values(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        GeneratorConfig.from_dict({**GeneratorConfig().to_dict(), **data})


def test_config_errors_are_value_errors():
    with pytest.raises(ValueError):
        GeneratorConfig(width=3)


def test_config_from_json_bad_files(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        GeneratorConfig.from_json(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        GeneratorConfig.from_json(tmp_path / "list.json")
    with pytest.raises(ConfigError, match="cannot read"):
        GeneratorConfig.from_json(tmp_path / "missing.json")


def test_generator_accepts_dict_config_and_rejects_others():
    assert Generator({"width": 8}).config == GeneratorConfig(width=8)
    with pytest.raises(ConfigError, match="GeneratorConfig"):
        Generator("width=8")  # type: ignore[arg-type]


def test_from_pretrained_rejects_architecture_kwargs(tmp_path):
    with pytest.raises(ConfigError, match="unexpected arguments"):
        Generator.from_pretrained(tmp_path, width=8)


# --------------------------------------------------------------------------- init
def test_init_is_normal_with_std_0_01():
    model = Generator()  # default config: enough weights for a tight estimate
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Conv2d)])
    assert weights.numel() > 500_000
    assert weights.std().item() == pytest.approx(0.01, rel=0.02)
    assert abs(weights.mean().item()) < 1e-4
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            assert torch.all(m.bias == 0)
        if isinstance(m, GatedBlock):
            assert torch.all(m.beta == 0)  # residual scales start at zero
    # the head does not start at zero (else every frame would be the same)
    assert model.head.weight.abs().max() > 0


def test_init_std_follows_config(make_model):
    model = Generator(GeneratorConfig(init_std=0.05))
    w = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Conv2d)])
    assert w.std().item() == pytest.approx(0.05, rel=0.02)


def test_kaiming_init_keeps_pytorch_defaults_in_the_body_and_n001_in_the_head():
    torch.manual_seed(0)
    model = Generator(GeneratorConfig(init="kaiming"))
    assert model.head.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(model.head.bias == 0)
    expand = model.encoders[0][0].expand  # 1x1 conv, fan_in 32: U(-1/sqrt(32), 1/sqrt(32))
    assert expand.weight.std().item() == pytest.approx(1 / (32**0.5 * 3**0.5), rel=0.05)
    assert expand.bias.abs().max() > 0  # PyTorch's default bias init, not zeros
    assert all(torch.all(m.beta == 0) for m in model.modules() if isinstance(m, GatedBlock))
    # a G that starts from "kaiming" is the same network: config round trip, same size
    assert GeneratorConfig.from_dict(model.config.to_dict()) == model.config
    assert model.num_parameters() == Generator().num_parameters()
    # config.json files written before this option load as the paper's init
    old = {k: v for k, v in GeneratorConfig().to_dict().items() if k != "init"}
    assert GeneratorConfig.from_dict(old).init == "paper"


def _beta_grad(model: Generator) -> float:
    """Mean |dL/d beta| of the gated blocks for one MSE step towards a shifted target."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    target = torch.roll(x, 2, dims=-1).unsqueeze(1).expand(-1, 7, -1, -1, -1)
    torch.nn.functional.mse_loss(model(x), target).backward()
    return float(torch.stack([m.beta.grad.abs().mean() for m in model.modules()
                              if isinstance(m, GatedBlock)]).mean())  # fmt: skip


def test_paper_init_starts_the_gated_blocks_with_no_gradient_to_speak_of():
    """Why ``init="kaiming"`` exists: with N(0, 0.01) on every conv a block's output is a
    product of four tiny factors, so the gradient that would open its residual scale (beta)
    is ~1e-21 -- far below Adam's eps (1e-8), so each update moves beta by ~lr x 1e-13 and the
    blocks stay shut (G trains as a linear filter); with PyTorch's default init it is ~1e-5.
    Measured over 3 seeds: 2e-22..2e-21 vs 1.3e-5..2.8e-5; asserted with 1e4-fold margins."""
    for seed in (0, 1):
        torch.manual_seed(seed)
        paper = _beta_grad(Generator(GeneratorConfig(width=8, init="paper")))
        torch.manual_seed(seed)
        kaiming = _beta_grad(Generator(GeneratorConfig(width=8, init="kaiming")))
        assert paper < 1e-16 and kaiming > 1e-9


def test_seeded_init_is_reproducible(make_model):
    a, b = make_model(seed=3), make_model(seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    c = make_model(seed=4)
    assert not torch.equal(a.stem.weight, c.stem.weight)


# --------------------------------------------------------------------------- behaviour
def test_forward_is_deterministic(tiny_model, perturbed):
    model = perturbed(tiny_model)
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_batch_equals_one_by_one(tiny_model, perturbed):
    model = perturbed(tiny_model, std=0.05)
    x = torch.rand(4, 3, 24, 40)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(4)])
    assert (batched - x[:, None]).abs().max() > 0.1  # a non-trivial function
    # batched and single convolutions may take different kernels: float32 rounding only
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_output_depends_on_the_input(tiny_model, perturbed):
    model = perturbed(tiny_model)
    with torch.no_grad():
        a = model(torch.rand(1, 3, 16, 16))
        b = model(torch.rand(1, 3, 16, 16))
    assert (a - b).abs().max() > 0.1


def test_frames_differ_from_each_other(tiny_model):
    with torch.no_grad():
        y = tiny_model(torch.rand(1, 3, 32, 32))
    assert (y[:, 0] - y[:, -1]).abs().max() > 1e-3


def test_forward_is_differentiable(tiny_model):
    tiny_model.train()
    x = torch.rand(2, 3, 16, 16)
    tiny_model(x).square().mean().backward()
    grads = {n: p.grad for n, p in tiny_model.named_parameters()}
    assert all(g is not None for g in grads.values())
    assert grads["head.weight"].abs().sum() > 0
    # the zero-initialised residual scales get a gradient, so the blocks can start learning
    assert any(g.abs().sum() > 0 for n, g in grads.items() if n.endswith("beta"))


def test_forward_does_not_clamp(tiny_model, perturbed):
    model = perturbed(tiny_model)
    with torch.no_grad():
        y = model(torch.rand(1, 3, 16, 16))
    assert y.min() < 0 or y.max() > 1  # raw values, as training wants them


def test_hub_mixin_config_matches(tiny_model):
    assert tiny_model._hub_mixin_config == tiny_model.config.to_dict()
    assert tiny_model.metadata == {}


def test_onednn_and_native_kernels_agree(tiny_model, perturbed):
    """The suite runs on native CPU kernels for speed (conftest); oneDNN, the default for
    users, gives the same frames to float rounding."""
    model = perturbed(tiny_model, std=0.05)
    x = torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        native = model(x)
        torch.backends.mkldnn.enabled = True
        try:
            onednn = model(x)
        finally:
            torch.backends.mkldnn.enabled = False
    torch.testing.assert_close(onednn, native, atol=1e-5, rtol=1e-5)


def test_layernorm2d_normalises_over_channels_only():
    """Known answer: per pixel, zero mean / unit variance over C, then the affine map."""
    from blurvid.model import LayerNorm2d

    torch.manual_seed(0)
    ln = LayerNorm2d(16)
    torch.nn.init.normal_(ln.weight)
    torch.nn.init.normal_(ln.bias)
    x = torch.randn(2, 16, 9, 11) * 3 + 1
    mu = x.mean(1, keepdim=True)
    var = (x - mu).pow(2).mean(1, keepdim=True)
    expected = (x - mu) / torch.sqrt(var + ln.eps) * ln.weight[:, None, None] + ln.bias[
        :, None, None
    ]
    out = ln(x)
    assert out.shape == x.shape and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
