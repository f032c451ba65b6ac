"""Known-answer tests of the losses, one group per equation of the paper (Eq. 1-8)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from blurvid.errors import ConfigError, InvalidImageError, PlaceholderWeightsWarning
from blurvid.train.features import vgg19_features
from blurvid.train.losses import (
    GRAM_TRIPLETS,
    adversarial_generator_loss,
    base_gan_loss,
    bicycle_loss,
    central_content_loss,
    cycle_flow_loss,
    cycle_flow_warps,
    discriminator_loss,
    gram_loss,
    gram_matrix,
    gram_stage_batch,
    gram_stage_loss,
    pair_content_loss,
    psnr_loss,
    reblur,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def vgg_conv54():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        return vgg19_features(layers="features.34", seed=0)


@pytest.fixture(scope="module")
def vgg_relu31():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        return vgg19_features(layers="relu3_1", seed=0)


def _texture(h: int, w: int, scale: int = 4, seed: int = 0) -> torch.Tensor:
    """Smooth random colour texture (1, 3, h, w) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, max(h // scale, 2), max(w // scale, 2), generator=g)
    return F.interpolate(base, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def _moving(h: int = 32, w: int = 32, px_per_frame: float = 0.5, seed: int = 0, n: int = 7):
    """(1, n, 3, h, w): a texture translated to the right by round(k * px_per_frame) px in frame k
    (crops of a wider texture, so no wrap-around)."""
    margin = int(math.ceil(px_per_frame * (n - 1))) + 1
    big = _texture(h, w + 2 * margin, seed=seed)
    frames = []
    for k in range(n):
        s = int(round(k * px_per_frame))
        frames.append(big[..., margin - s : margin - s + w])
    return torch.stack(frames, 1)


def _rand_frames(b=2, h=16, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 7, 3, h, w, generator=g)


# --------------------------------------------------------------------------- Eq. 1


def test_central_zero_at_truth_and_plain_mse(vgg_conv54):
    t = torch.rand(2, 3, 32, 32)
    assert central_content_loss(t, t, vgg_conv54).item() == 0.0
    p = (t + 0.1 * torch.randn_like(t)).clamp(0, 1)
    torch.testing.assert_close(central_content_loss(p, t), F.mse_loss(p, t))
    torch.testing.assert_close(central_content_loss(p, t, perceptual_weight=5.0), F.mse_loss(p, t))


def test_central_perceptual_part_positive_and_weighted(vgg_conv54):
    t = _texture(32, 32)
    p = (t + 0.1 * torch.randn_like(t)).clamp(0, 1)
    mse = F.mse_loss(p, t)
    full = central_content_loss(p, t, vgg_conv54)
    perceptual = full - mse
    assert perceptual.item() > 1e-6
    torch.testing.assert_close(
        central_content_loss(p, t, vgg_conv54, perceptual_weight=2.0), mse + 2 * perceptual
    )
    ref = F.mse_loss(vgg_conv54(p), vgg_conv54(t))  # MSE of conv5_4 features
    torch.testing.assert_close(perceptual, ref)


def test_central_accepts_multi_layer_dict():
    def two_layers(x):
        return {"a": x, "b": 2 * x}

    p, t = torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    # pixel 1 + features 1 + 4
    assert central_content_loss(p, t, two_layers).item() == pytest.approx(6.0)


# --------------------------------------------------------------------------- Eq. 2


@pytest.mark.parametrize("form", ["abs", "square"])
def test_pair_zero_at_truth_and_swap_invariant(form):
    t = _rand_frames()
    p = _rand_frames(seed=1)
    assert pair_content_loss(t, t, form=form).item() == 0.0
    base = pair_content_loss(p, t, form=form)
    assert base.item() > 0
    for i in range(3):  # swap predicted frames i and 8-i (0-based i, 6-i)
        q = p.clone()
        q[:, [i, 6 - i]] = p[:, [6 - i, i]]
        torch.testing.assert_close(pair_content_loss(q, t, form=form), base, rtol=0, atol=0)
        # ... and the truth's
        u = t.clone()
        u[:, [i, 6 - i]] = t[:, [6 - i, i]]
        assert pair_content_loss(u, t, form=form).item() == 0.0
    # the full time reversal is a composition of the three swaps
    assert pair_content_loss(t.flip(1), t, form=form).item() == 0.0


@pytest.mark.parametrize("form", ["abs", "square"])
def test_pair_wrong_pairing_raises_loss(form):
    t = _moving(px_per_frame=1.0)
    q = t.clone()
    q[:, [0, 1]] = t[:, [1, 0]]  # frame 1 swapped with frame 2: not a symmetric pair
    assert pair_content_loss(q, t, form=form).item() > 1e-4


def test_pair_diff_weight_and_escape_gradient():
    t = _moving(px_per_frame=1.0)
    p = t.clone()
    p[:, 0] = p[:, 6]  # frames 1 and 7 identical: only the difference term sees it
    full = pair_content_loss(p, t)
    no_diff = pair_content_loss(p, t, diff_weight=0.0)
    assert full.item() > no_diff.item()
    # near-identical frames (d ~ 1e-2, above eps): the difference term has an O(c) escape
    # slope with |.| but only O(c^2 |d|) with |.|^2 (the reason for the default form)
    g = torch.Generator().manual_seed(0)
    base = t.mean(1, keepdim=True).expand(-1, 7, -1, -1, -1)
    noise = 0.01 * torch.randn(base.shape, generator=g)
    grads = {}
    for form in ("abs", "square"):
        q = (base + noise).requires_grad_(True)
        diff_only = pair_content_loss(q, t, form=form) - pair_content_loss(
            q, t, form=form, diff_weight=0.0
        )
        diff_only.backward()
        grads[form] = q.grad.abs().mean().item()
    assert grads["abs"] > 10 * grads["square"] > 0


# --------------------------------------------------------------------------- Eq. 3


def test_adversarial_known_values():
    z = torch.zeros(3, 1, 2, 2)
    assert adversarial_generator_loss(z).item() == pytest.approx(math.log(2))
    assert adversarial_generator_loss(z, saturating=True).item() == pytest.approx(-math.log(2))
    assert discriminator_loss(z, z).item() == pytest.approx(2 * math.log(2))
    # logit l: non-saturating -log(sigmoid(l)); a fooled D (large l) gives ~0
    assert adversarial_generator_loss(torch.tensor([2.0])).item() == pytest.approx(
        -math.log(1 / (1 + math.exp(-2)))
    )
    assert adversarial_generator_loss(torch.tensor([30.0])).item() < 1e-10
    assert discriminator_loss(torch.tensor([30.0]), torch.tensor([-30.0])).item() < 1e-10
    # no overflow for extreme logits
    assert math.isfinite(discriminator_loss(torch.tensor([-1e4]), torch.tensor([1e4])).item())


# --------------------------------------------------------------------------- Eq. 4


def _oracle_flow(px: float):
    """Flow estimator that knows the content moves +px (x) from frame 1 to frame 7."""

    def est(a, b):
        f = torch.zeros(a.shape[0], 2, *a.shape[-2:])
        # est(p1, p7): pixel x of frame 1 is at x + px in frame 7; est(p7, p1): at x - px
        f[:, 0] = px if est.calls % 2 == 0 else -px
        est.calls += 1
        return f

    est.calls = 0
    est.name = "oracle"
    return est


def test_cycle_flow_warp_moves_pixels_where_expected():
    t = _moving(32, 32, px_per_frame=0.5)  # frame 7 = frame 1 shifted right by 3 px
    assert torch.equal(t[:, 6, ..., 3:], t[:, 0, ..., :-3])
    new1, new7 = cycle_flow_warps(t, _oracle_flow(3.0))
    # I1_syn2 = W(p7, F_1->7): equals frame 1 away from the 3 px border the shift uncovers
    torch.testing.assert_close(new1[..., :-3], t[:, 0, ..., :-3], rtol=0, atol=1e-5)
    torch.testing.assert_close(new7[..., 3:], t[:, 6, ..., 3:], rtol=0, atol=1e-5)
    # the opposite direction convention would be 6 px off
    assert (new1[..., :-3] - t[:, 6, ..., :-3]).abs().mean() > 0.01


def test_cycle_flow_dis_orders_small_vs_swapped_and_static():
    pytest.importorskip("cv2")
    t = _moving(64, 64, px_per_frame=0.5)
    good = cycle_flow_loss(t, t, "dis").item()
    swapped = cycle_flow_loss(t.flip(1), t, "dis").item()
    static = cycle_flow_loss(t[:, 3:4].expand(-1, 7, -1, -1, -1), t, "dis").item()
    assert good < 0.25 * static
    assert good < 0.1 * swapped
    assert static < swapped


def test_cycle_flow_gradient_reaches_pred_with_dis():
    pytest.importorskip("cv2")
    t = _moving(32, 32, px_per_frame=0.5)
    p = (t + 0.05 * torch.randn_like(t)).clamp(0, 1).requires_grad_(True)
    cycle_flow_loss(p, t, "dis").backward()
    assert p.grad is not None
    assert p.grad[:, 0].abs().sum() > 0 and p.grad[:, 6].abs().sum() > 0
    assert p.grad[:, 1:6].abs().sum() == 0  # only the end frames enter Eq. 4


def test_cycle_flow_learned_module_gets_gradient():
    class ConstFlow(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dx = torch.nn.Parameter(torch.tensor(1.0))

        def forward(self, a, b):
            f = torch.zeros(a.shape[0], 2, *a.shape[-2:])
            return f + torch.stack([self.dx, torch.zeros(())]).view(1, 2, 1, 1)

    m = ConstFlow()
    t = _moving(32, 32, px_per_frame=0.5)
    cycle_flow_loss(t, t, m).backward()
    assert m.dx.grad is not None and m.dx.grad.abs() > 0


# --------------------------------------------------------------------------- Eq. 5


def test_base_gan_total_is_weighted_sum():
    t = _moving(32, 32, px_per_frame=0.5)
    p = (t + 0.05 * torch.randn_like(t)).clamp(0, 1).requires_grad_(True)
    logits = torch.randn(1, 7, 1, 2, 2)

    def feat(x):
        return F.avg_pool2d(x, 4)

    w = dict(
        central_weight=0.7,
        perceptual_weight=0.3,
        pair_weight=1.3,
        pair_diff_weight=0.4,
        adv_weight=0.05,
        flow_weight=0.2,
    )
    total, parts = base_gan_loss(p, t, logits, features=feat, flow=_oracle_flow(3.0), **w)
    expected = (
        w["central_weight"] * parts["central"]
        + w["pair_weight"] * parts["pair"]
        + w["adv_weight"] * parts["adv"]
        + w["flow_weight"] * parts["flow"]
    )
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert parts["total"] == pytest.approx(total.item())
    assert parts["pair"] == pytest.approx(
        parts["pair_sum"] + w["pair_diff_weight"] * parts["pair_diff"], rel=1e-5
    )
    assert parts["central"] > parts["central_mse"] > 0
    assert parts["adv"] == pytest.approx(adversarial_generator_loss(logits).item())
    assert all(v > 0 for k, v in parts.items())
    total.backward()
    assert p.grad is not None and p.grad.abs().sum() > 0


def test_base_gan_defaults_and_skipped_terms():
    t = _rand_frames(b=1, h=32, w=32)
    with pytest.raises(ConfigError, match="fake_logits"):
        base_gan_loss(t, t)
    # zero weights: the term is not computed (an invalid flow name is never resolved)
    total, parts = base_gan_loss(t, t, adv_weight=0, flow="no-such-flow", flow_weight=0)
    assert total.item() == 0.0 and parts["adv"] == 0.0 and parts["flow"] == 0.0
    with pytest.raises(ConfigError):
        base_gan_loss(t, t, adv_weight=0, flow="no-such-flow")
    # paper's alpha and beta
    _, parts = base_gan_loss(t, t, torch.zeros(1), flow=_oracle_flow(0.0))
    assert parts["total"] == pytest.approx(0.0005 * math.log(2) + 0.001 * parts["flow"])


# --------------------------------------------------------------------------- Eq. 6


def test_gram_matrix_hand_computed():
    # B=1, three frames, C=1, h=1, w=2: F = [[1, 2], [3, 4], [0, 1]], M = C*h*w = 2
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]]).view(1, 3, 1, 1, 2)
    expected = torch.tensor([[5.0, 11.0, 2.0], [11.0, 25.0, 4.0], [2.0, 4.0, 1.0]]) / 2
    torch.testing.assert_close(gram_matrix(f)[0], expected)
    # a list of three (B, C, h, w) maps gives the same matrix
    torch.testing.assert_close(gram_matrix([f[:, 0], f[:, 1], f[:, 2]]), gram_matrix(f))


def test_gram_matrix_shape_symmetry_normalisation():
    g = torch.Generator().manual_seed(0)
    b, c, h, w = 2, 4, 3, 5
    x = torch.randn(b, 3, c, h, w, generator=g)
    G = gram_matrix(x)
    assert G.shape == (b, 3 * c, 3 * c)
    torch.testing.assert_close(G, G.transpose(1, 2))
    # rows are (frame, channel): block (k, l) = <frame k channels, frame l channels> / (C h w)
    ref = torch.einsum("bkchw,bldhw->bkcld", x, x).reshape(b, 3 * c, 3 * c) / (c * h * w)
    torch.testing.assert_close(G, ref)
    # normalised by C*H*W of ONE frame: doubling h*w by repetition leaves it unchanged
    torch.testing.assert_close(gram_matrix(torch.cat([x, x], dim=-1)), G)
    with pytest.raises(InvalidImageError):
        gram_matrix(torch.randn(3, 4, 5))


# --------------------------------------------------------------------------- Eq. 7


def test_gram_triplets_exactly_as_paper():
    paper = ["1-2-3", "2-3-4", "3-4-5", "4-5-6", "5-6-7", "1-3-5", "2-4-6", "3-5-7", "1-4-7"]
    assert [tuple(int(i) - 1 for i in s.split("-")) for s in paper] == list(GRAM_TRIPLETS)
    assert len(set(GRAM_TRIPLETS)) == 9
    for a, b, c in GRAM_TRIPLETS:
        assert b - a == c - b > 0


def test_gram_loss_zero_at_truth_and_grows_with_motion_change(vgg_relu31):
    t = _moving(32, 32, px_per_frame=1.0)
    assert gram_loss(t, t, vgg_relu31).item() == 0.0
    faster = _moving(32, 32, px_per_frame=2.0)
    static = t[:, 3:4].expand(-1, 7, -1, -1, -1)
    l_fast = gram_loss(faster, t, vgg_relu31).item()
    l_static = gram_loss(static, t, vgg_relu31).item()
    ref = gram_matrix(vgg_relu31(t[0, :3]).unsqueeze(0)).abs().mean().item()  # typical entry
    assert l_fast > 0.05 * ref and l_static > 0.05 * ref
    l_fro = gram_loss(faster, t, vgg_relu31, norm="fro").item()
    assert l_fro > 0
    # only the frame at index 3 changes: triplets without it see nothing, those with it do
    q = t.clone()
    q[:, 3] = _moving(32, 32, px_per_frame=1.0, seed=7)[:, 3]
    assert gram_loss(q, t, vgg_relu31, triplets=[(0, 1, 2), (4, 5, 6), (0, 2, 4)]).item() == 0.0
    assert gram_loss(q, t, vgg_relu31, triplets=[(2, 3, 4)]).item() > 0.05 * ref
    # the 9-triplet sum is the sum of the single-triplet losses
    per = sum(gram_loss(faster, t, vgg_relu31, triplets=[tr]).item() for tr in GRAM_TRIPLETS)
    assert l_fast == pytest.approx(per, rel=1e-4)


def test_gram_loss_gradient_and_bad_triplets(vgg_relu31):
    t = _moving(32, 32, px_per_frame=1.0)
    p = _moving(32, 32, px_per_frame=2.0).requires_grad_(True)
    gram_loss(p, t, vgg_relu31).backward()
    assert p.grad.abs().sum() > 0
    with pytest.raises(ConfigError):
        gram_loss(t, t, vgg_relu31, triplets=[(0, 3, 7)])


def test_gram_stage_batch_modes():
    stage1 = _rand_frames(b=2, h=8, w=8).requires_grad_(True)
    truth = _rand_frames(b=2, h=8, w=8, seed=3)
    batch = gram_stage_batch(stage1)
    assert batch.indices == (0, 3, 6)
    torch.testing.assert_close(batch.targets, stage1[:, [0, 3, 6]].detach())
    torch.testing.assert_close(
        batch.blurry, (stage1[:, 0] + stage1[:, 3] + stage1[:, 6]).detach() / 3
    )
    assert not batch.targets.requires_grad and not batch.blurry.requires_grad
    gt = gram_stage_batch(None, "ground_truth", true_frames=truth, indices=(1, 3, 5))
    torch.testing.assert_close(gt.targets, truth[:, [1, 3, 5]])
    torch.testing.assert_close(gt.blurry, truth[:, [1, 3, 5]].mean(1))
    with pytest.raises(ConfigError):
        gram_stage_batch(stage1, "ground_truth")
    with pytest.raises(ConfigError):
        gram_stage_batch(stage1, "oracle")
    with pytest.raises(ConfigError):
        gram_stage_batch(stage1, indices=(3, 0, 6))


def test_gram_stage_loss(vgg_relu31):
    t = _moving(32, 32, px_per_frame=1.0)
    three = t[:, [0, 3, 6]]
    pred = torch.rand_like(t)
    pred[:, [0, 3, 6]] = three  # other frames are free
    total, parts = gram_stage_loss(pred, three, vgg_relu31)
    assert total.item() == 0.0 and parts["gram"] == 0.0 and parts["content"] == 0.0
    pred2 = pred.clone()
    pred2[:, 6] = t[:, 5]
    total, parts = gram_stage_loss(pred2, three, vgg_relu31, gram_weight=10.0)
    assert parts["gram"] > 0 and parts["content"] > 0
    assert total.item() == pytest.approx(parts["content"] + 10.0 * parts["gram"], rel=1e-5)


# --------------------------------------------------------------------------- Eq. 8


def test_bicycle_zero_and_constant_offset():
    x = torch.rand(2, 7, 3, 8, 8) * 0.5
    total, parts = bicycle_loss(x, x)
    assert total.item() == 0.0
    c = 0.125
    total, parts = bicycle_loss(x, x + c)
    assert parts["reblur"] == pytest.approx(c, abs=1e-6)  # |mean(x + c) - mean(x)| = c
    assert parts["frames"] == pytest.approx(c, abs=1e-6)
    assert total.item() == pytest.approx(2 * c, abs=1e-6)
    total, _ = bicycle_loss(x, x + c, reblur_weight=2.0, frame_weight=0.5)
    assert total.item() == pytest.approx(2.5 * c, abs=1e-6)


def test_bicycle_terms_differ_and_reblur():
    x = torch.rand(1, 7, 3, 8, 8)
    # a time-permuted output re-blurs to the same image but its frames are wrong
    _, parts = bicycle_loss(x, x.flip(1))
    assert parts["reblur"] < 1e-6 and parts["frames"] > 0.05
    torch.testing.assert_close(reblur(x), x.mean(1))
    same = x[:, :1].expand(-1, 7, -1, -1, -1)
    torch.testing.assert_close(reblur(same, linear_light=True), x[:, 0], atol=1e-5, rtol=0)
    two = torch.stack([torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)], 1)
    assert reblur(two, linear_light=True)[0, 0, 0, 0].item() == pytest.approx(
        0.7354, abs=1e-3
    )  # sRGB of 0.5 linear


# --------------------------------------------------------------------------- boundary checks


@pytest.mark.parametrize(
    "call",
    [
        lambda: pair_content_loss(torch.rand(1, 6, 3, 8, 8), torch.rand(1, 6, 3, 8, 8)),
        lambda: pair_content_loss(torch.rand(1, 7, 3, 8, 8), torch.rand(1, 7, 3, 8, 9)),
        lambda: central_content_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 4, 4)),
        lambda: cycle_flow_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)),
        lambda: bicycle_loss(torch.rand(1, 7, 3, 8, 8), torch.rand(1, 6, 3, 8, 8)),
        lambda: adversarial_generator_loss(torch.zeros(0)),
    ],
)
def test_bad_shapes_raise_invalid_image(call):
    with pytest.raises(InvalidImageError):
        call()


def test_gram_loss_default_extractor_is_vgg_relu31(vgg_relu31):
    t = _moving(32, 32, px_per_frame=1.0)
    p = _moving(32, 32, px_per_frame=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        default = gram_loss(p, t)
    torch.testing.assert_close(default, gram_loss(p, t, vgg_relu31))


# --------------------------------------------------------------------------- PSNR loss


def test_psnr_loss_is_minus_the_mean_per_sample_psnr():
    from blurvid.metrics import psnr

    g = torch.Generator().manual_seed(0)
    true = torch.rand(3, 3, 8, 8, generator=g)
    # errors of very different size per sample: an MSE would be dominated by the last one
    pred = true + torch.tensor([0.01, 0.03, 0.3]).view(3, 1, 1, 1) * torch.randn(
        3, 3, 8, 8, generator=g
    )
    expected = -psnr(pred, true).mean().item()
    assert psnr_loss(pred, true).item() == pytest.approx(expected, abs=1e-3)
    # per-sample weighting: each sample's gradient is its MSE gradient over its MSE
    p = pred.clone().requires_grad_(True)
    psnr_loss(p, true).backward()
    mse_i = (pred - true).pow(2).flatten(1).mean(1)
    scale = 10 / math.log(10) / 3 / mse_i / (3 * 8 * 8)
    expected_grad = 2 * (pred - true) * scale.view(3, 1, 1, 1)
    torch.testing.assert_close(p.grad, expected_grad, rtol=1e-4, atol=1e-6)


def test_psnr_loss_best_order_ignores_time_direction():
    g = torch.Generator().manual_seed(1)
    true = torch.rand(2, 7, 3, 8, 8, generator=g)
    pred = true + 0.05 * torch.randn(2, 7, 3, 8, 8, generator=g)
    fwd = psnr_loss(pred, true, best_order=True)
    assert psnr_loss(pred.flip(1), true, best_order=True).item() == pytest.approx(fwd.item())
    assert psnr_loss(pred.flip(1), true).item() > fwd.item() + 1.0  # plain order: much worse
    with pytest.raises(InvalidImageError):
        psnr_loss(pred[:, 0], true[:, 0], best_order=True)
    with pytest.raises(InvalidImageError):
        psnr_loss(pred, true[:, :5])
