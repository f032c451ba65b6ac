"""Training losses of Zhang et al., "Every Moment Matters" (ACM MM 2020), one per equation.

Conventions (as in the rest of blurvid):

* an image is ``(B, 3, H, W)`` float RGB in [0, 1];
* the generator's output is ``(B, 7, 3, H, W)``: frame index ``0..6`` is the paper's frame
  ``1..7`` (``I^1 ... I^7``), the centre frame is index 3 (the paper's ``I^4``). A G with
  another odd number of frames ``T`` trains with the same losses: centre ``T // 2``, pairs
  ``(i, T - 1 - i)``, Gram triplets from :func:`gram_triplets`;
* every loss returns a 0-d tensor that can be back-propagated; composite losses
  (:func:`base_gan_loss`, :func:`gram_stage_loss`, :func:`bicycle_loss`) return
  ``(total, parts)`` where ``parts`` holds detached Python floats for logging;
* "MSE" is the mean of squared differences over all elements, "L1" the mean absolute
  difference, so values do not depend on batch or image size.

Map of the paper:

=============  ===========================================  =====================================
Equation       Function                                     Stage
=============  ===========================================  =====================================
Eq. 1          :func:`central_content_loss`                  1 (BaseGAN)
Eq. 2          :func:`pair_content_loss`                     1
Eq. 3          :func:`adversarial_generator_loss`,           1 (and 2, 3 if a D is used)
               :func:`discriminator_loss`
Eq. 4          :func:`cycle_flow_loss`                       1
Eq. 5          :func:`base_gan_loss`                         1
Eq. 6          :func:`gram_matrix`                           2 (GramGAN)
Eq. 7          :func:`gram_loss`, :data:`GRAM_TRIPLETS`,     2
               :func:`gram_stage_batch`, :func:`gram_stage_loss`
Eq. 8          :func:`bicycle_loss`, :func:`reblur`          3 (HeptaGAN)
=============  ===========================================  =====================================

Where the paper leaves a choice open (norms, layers, reductions) the docstring says which
reading is implemented and why.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Callable, NamedTuple, Union

import torch
import torch.nn.functional as F

from ..colour import linear_to_srgb, srgb_to_linear
from ..errors import ConfigError, InvalidImageError
from ..flow import FlowLike, get_flow_estimator, warp

__all__ = [
    "GRAM_TRIPLETS",
    "GramStageBatch",
    "adversarial_generator_loss",
    "base_gan_loss",
    "best_order_mse",
    "bicycle_loss",
    "central_content_loss",
    "cycle_flow_loss",
    "cycle_flow_warps",
    "discriminator_loss",
    "gram_loss",
    "gram_matrix",
    "gram_stage_batch",
    "gram_stage_loss",
    "gram_triplets",
    "pair_content_loss",
    "psnr_loss",
    "reblur",
    "reblur_l1",
]

#: A feature extractor: ``(N, 3, H, W)`` in [0, 1] -> ``(N, C, h, w)``, or a dict/list of such
#: maps (several layers; their losses are summed). :func:`blurvid.train.features.vgg19_features`
#: builds one.
FeatureExtractor = Callable[[torch.Tensor], Union[torch.Tensor, Mapping[str, torch.Tensor]]]

#: The 9 triplets of equally spaced frames of Eq. 7, 0-based (paper frames 1-2-3 ... 1-4-7):
#: spacing 1 (five), spacing 2 (three), spacing 3 (one).
GRAM_TRIPLETS: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 6),
    (0, 2, 4), (1, 3, 5), (2, 4, 6),
    (0, 3, 6),
)  # fmt: skip


def gram_triplets(num_frames: int) -> tuple[tuple[int, int, int], ...]:
    """The triplets of equally spaced frames of ``num_frames`` (Eq. 7's nine for 7 frames),
    by spacing, then start: :data:`GRAM_TRIPLETS` for 7.

    Examples:
        >>> gram_triplets(5)
        ((0, 1, 2), (1, 2, 3), (2, 3, 4), (0, 2, 4))
        >>> gram_triplets(7) == GRAM_TRIPLETS
        True
    """
    return tuple(
        (i, i + s, i + 2 * s) for s in range(1, (num_frames - 1) // 2 + 1)
        for i in range(num_frames - 2 * s)
    )  # fmt: skip


# --------------------------------------------------------------------------- helpers


def _shape(x: object) -> object:
    return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__


def _check_images(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.ndim != 4:
        raise InvalidImageError(
            f"{what}: expected two (B, C, H, W) tensors, got {_shape(a)} and {_shape(b)}"
        )
    if a.shape != b.shape:
        raise InvalidImageError(
            f"{what}: prediction {tuple(a.shape)} and target {tuple(b.shape)} differ"
        )


def _check_frames(x: torch.Tensor, what: str, n: int | None = None, odd: bool = False) -> None:
    """``x`` is ``(B, T, C, H, W)`` float with ``T == n`` (any ``T`` for None; with ``odd``,
    an odd ``T >= 3``: a centre frame and pairs around it)."""
    ok = isinstance(x, torch.Tensor) and x.ndim == 5
    if ok:
        t = x.shape[1]
        ok = (n is None or t == n) and (not odd or (t >= 3 and t % 2 == 1))
    if not ok:
        want = str(n) if n is not None else "T odd >= 3" if odd else "T"
        raise InvalidImageError(f"{what}: expected frames (B, {want}, C, H, W), got {_shape(x)}")
    if not x.is_floating_point():
        raise InvalidImageError(f"{what}: expected float frames in [0, 1], got {x.dtype}")


def _check_pair(
    pred: torch.Tensor, true: torch.Tensor, what: str, n: int | None = None, odd: bool = False
) -> None:
    _check_frames(pred, f"{what} (prediction)", n, odd)
    _check_frames(true, f"{what} (target)", n, odd)
    if pred.shape != true.shape:
        raise InvalidImageError(
            f"{what}: prediction {tuple(pred.shape)} and target {tuple(true.shape)} differ"
        )


def _features(features: FeatureExtractor, x: torch.Tensor) -> list[torch.Tensor]:
    """Run a feature extractor and return its maps as a list (one per layer)."""
    out = features(x)
    if isinstance(out, torch.Tensor):
        maps = [out]
    elif isinstance(out, Mapping):
        maps = list(out.values())
    elif isinstance(out, (list, tuple)):
        maps = list(out)
    else:
        raise ConfigError(
            f"feature extractor returned {type(out).__name__}: expected a tensor or a dict of tensors"
        )
    for m in maps:
        if not isinstance(m, torch.Tensor) or m.ndim != 4 or m.shape[0] != x.shape[0]:
            raise ConfigError(
                f"feature extractor must return (N, C, h, w) maps for N={x.shape[0]}, got {_shape(m)}"
            )
    return maps


def _frame_features(features: FeatureExtractor, frames: torch.Tensor) -> list[torch.Tensor]:
    """``(B, T, 3, H, W)`` -> list of ``(B, T, C, h, w)``: the extractor runs once on B*T images."""
    b, t = frames.shape[:2]
    return [
        m.reshape(b, t, *m.shape[1:])
        for m in _features(features, frames.reshape(b * t, *frames.shape[2:]))
    ]


def _smooth_abs(x: torch.Tensor, eps: float) -> torch.Tensor:
    """``sqrt(x^2 + eps^2) - eps``: |x| with a continuous gradient (0 at 0), exact at 0."""
    return torch.sqrt(x * x + eps * eps) - eps


@functools.lru_cache(maxsize=4)
def _default_extractor(layer: str) -> torch.nn.Module:
    from .features import vgg19_features

    return vgg19_features(layers=(layer,))


def _resolve_features(
    features: FeatureExtractor | None, like: torch.Tensor, layer: str
) -> FeatureExtractor:
    if features is not None:
        if not callable(features):
            raise ConfigError(
                f"features must be a callable (N, 3, H, W) -> (N, C, h, w), got {type(features).__name__}"
            )
        return features
    module = _default_extractor(layer)
    return module.to(device=like.device, dtype=like.dtype)


# --------------------------------------------------------------------------- Eq. 1


def central_content_loss(
    pred_center: torch.Tensor,
    true_center: torch.Tensor,
    features: FeatureExtractor | None = None,
    perceptual_weight: float = 1.0,
) -> torch.Tensor:
    """Content loss of the centre frame, paper Eq. 1: pixel MSE plus perceptual MSE.

    ``L = MSE(I_sharp, G(I_blurry)) + perceptual_weight * MSE(Phi(I_sharp), Phi(G(I_blurry)))``

    The paper writes both terms as an unspecified norm ``||.||``; we read them as mean
    squared errors ("the pixel-wise MSE loss", and Johnson et al.'s perceptual loss, ref.
    [47], which is a feature MSE). ``Phi`` is "the last convolution layer of VGG19": pass
    ``vgg19_features()`` whose default layer ``features.34`` is conv5_4 **before** its ReLU.
    The target's features are computed without gradient.

    Args:
        pred_center: predicted centre frame ``(B, 3, H, W)`` (output index 3), in [0, 1].
        true_center: sharp centre frame, same shape.
        features: feature extractor ``Phi`` (see :data:`FeatureExtractor`); ``None`` gives
            the plain pixel MSE.
        perceptual_weight: weight of the perceptual term (1 in the paper). Pre-ReLU conv5_4
            features of an ImageNet VGG are large; lower it if the term dominates.

    Returns:
        0-d tensor, >= 0, zero iff prediction == target.

    Examples:
        >>> p, t = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
        >>> central_content_loss(p, t).item()
        0.25
    """
    _check_images(pred_center, true_center, "central_content_loss (Eq. 1)")
    loss = F.mse_loss(pred_center, true_center)
    if features is None or perceptual_weight == 0:
        return loss
    fp = _features(features, pred_center)
    with torch.no_grad():
        ft = _features(features, true_center)
    perceptual = sum(F.mse_loss(a, b) for a, b in zip(fp, ft))
    return loss + perceptual_weight * perceptual


# ------------------------------------------------------------------- PSNR loss (extra)


def psnr_loss(
    pred: torch.Tensor, true: torch.Tensor, *, best_order: bool = False, eps: float = 1e-8
) -> torch.Tensor:
    """Per-sample PSNR loss: the mean over samples of ``10 log10(MSE_i + eps)`` (= -PSNR in dB).

    Not in the paper (which trains with MSE, Eq. 1): the pixel loss of NAFNet (Chen et al.,
    ECCV 2022) and the calibration notes' fastest CPU recipe. Its gradient is the MSE's
    scaled by ``1 / MSE_i`` per sample, so every sample counts by its dB error, as in the
    validation metric (a mean of per-sample PSNR gains), while with a plain MSE a few heavily
    blurred samples (errors ~10x larger, squared) dominate the step.

    Args:
        pred: ``(B, 3, H, W)`` images or ``(B, T, 3, H, W)`` frames, in [0, 1].
        true: the targets, same shape.
        best_order: frames only: each sample's MSE in the better of forward / reversed order
            (the order-invariant form of the best-order PSNR).
        eps: floor of the MSE (1e-8 caps a perfect sample at 80 dB).

    Returns:
        0-d tensor (can be negative: -PSNR of a typical sample is about -25).

    Examples:
        >>> p, t = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.1)
        >>> round(psnr_loss(p, t).item(), 3)  # MSE 0.01 -> 20 dB
        -20.0
    """
    if not isinstance(pred, torch.Tensor) or pred.ndim not in (4, 5):
        raise InvalidImageError(
            f"psnr_loss: expected (B, C, H, W) or (B, T, C, H, W), got {_shape(pred)}"
        )
    if not isinstance(true, torch.Tensor) or pred.shape != true.shape:
        raise InvalidImageError(
            f"psnr_loss: prediction {_shape(pred)} and target {_shape(true)} differ"
        )
    if best_order and pred.ndim != 5:
        raise InvalidImageError("psnr_loss: best_order needs frames (B, T, C, H, W)")
    mse = _sample_mse(pred, true, best_order)
    return (10.0 / math.log(10.0)) * torch.log(mse + eps).mean()


def _sample_mse(pred: torch.Tensor, true: torch.Tensor, best_order: bool) -> torch.Tensor:
    """Per-sample MSE ``(B,)``; with ``best_order`` the better of forward / reversed frames."""
    mse = (pred - true).pow(2).flatten(1).mean(1)
    if best_order:
        mse = torch.minimum(mse, (pred.flip(1) - true).pow(2).flatten(1).mean(1))
    return mse


# --------------------------------------------------------------------------- Eq. 2


def _pair_terms(
    pred: torch.Tensor, true: torch.Tensor, form: str, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    if form not in ("abs", "square"):
        raise ConfigError(f"pair loss form must be 'abs' or 'square', got {form!r}")
    sum_term = pred.new_zeros(())
    diff_term = pred.new_zeros(())
    t = pred.shape[1]
    for i in range(t // 2):  # paper i = 1, 2, 3 -> pairs (1,7), (2,6), (3,5) -> 0-based (i, 6 - i)
        j = t - 1 - i
        ps, pd = pred[:, i] + pred[:, j], pred[:, i] - pred[:, j]
        ts, td = true[:, i] + true[:, j], true[:, i] - true[:, j]
        if form == "abs":
            ps, pd, ts, td = (_smooth_abs(v, eps) for v in (ps, pd, ts, td))
        else:
            ps, pd, ts, td = ps * ps, pd * pd, ts * ts, td * td
        sum_term = sum_term + F.mse_loss(ps, ts)
        diff_term = diff_term + F.mse_loss(pd, td)
    return sum_term, diff_term


def pair_content_loss(
    pred: torch.Tensor,
    true: torch.Tensor,
    *,
    diff_weight: float = 1.0,
    form: str = "abs",
    eps: float = 1e-3,
) -> torch.Tensor:
    """Order-invariant content loss of the six non-central frames, paper Eq. 2.

    For each symmetric pair ``(i, 8-i)``, ``i = 1, 2, 3`` (0-based ``(0,6), (1,5), (2,4)``),
    the paper compares ``[x, y]+ = |x + y|^2`` and ``[x, y]- = |x - y|^2`` of prediction and
    truth (following Jin et al., CVPR 2018, its ref. [1]). Both are unchanged when the two
    frames of a pair swap, so the loss does not force a time direction (Eq. 4 does that).

    Our reading (the equation leaves the outer norm out): per pair,
    ``MSE(|p_i + p_j|, |t_i + t_j|) + diff_weight * MSE(|p_i - p_j|, |t_i - t_j|)``, summed
    over the 3 pairs (the paper's ``sum_{i=1}^3``). The square in ``|.|^2`` is read as the
    squared error of the MSE, which is Jin et al.'s form. Why ``|x - y|`` rather than
    ``|x - y|^2`` (available as ``form="square"``): a pair still predicted as two identical
    frames (the usual start, and the failure the paper fights) sits at ``d = x - y = 0``; the
    loss ``(|d| - c)^2`` has a slope of ``2c`` there pushing the frames apart, while
    ``(d^2 - c^2)^2`` has a slope of ``4 c^2 |d|``, vanishing at 0. ``|.|`` is smoothed as
    ``sqrt(v^2 + eps^2) - eps`` so the gradient is continuous (no sign flip at 0, no
    infinite slope as with ``sqrt(v^2)``); any loss that is symmetric under the swap has
    zero gradient at *exactly* ``d = 0``, so generators need a small random output init.

    Args:
        pred: predicted frames ``(B, 7, 3, H, W)``.
        true: sharp frames, same shape.
        diff_weight: weight of the difference terms (a curriculum can ramp it from 0: they
            force motion-sized differences before the content is learnt).
        form: ``"abs"`` (default, see above) or ``"square"`` (literal squared maps).
        eps: smoothing of ``|.|`` for ``form="abs"``, in image units (1e-3 ~ 0.26/255).

    Returns:
        0-d tensor, >= 0; zero at the truth and unchanged when predicted frames ``i`` and
        ``8 - i`` are swapped.
    """
    _check_pair(pred, true, "pair_content_loss (Eq. 2)", odd=True)
    s, d = _pair_terms(pred, true, form, eps)
    return s + diff_weight * d


# --------------------------------------------------------------------------- Eq. 3


def adversarial_generator_loss(
    fake_logits: torch.Tensor, *, saturating: bool = False
) -> torch.Tensor:
    """Adversarial loss of G, paper Eq. 3, on discriminator **logits**.

    The paper writes the minimax form ``L_adv = log(1 - D(G(I_blurry)))`` (minimised by G).
    Its gradient vanishes when D confidently rejects the fakes, so by default we use the
    standard *non-saturating* form of Goodfellow et al., ``-log D(G(I)) =
    softplus(-logit)``, averaged over all logits (a PatchGAN gives one per patch). With
    ``saturating=True`` the literal ``log(1 - sigmoid(logit)) = -softplus(logit)`` is
    returned. Both are computed from logits with ``softplus``, which is numerically stable.

    Args:
        fake_logits: ``D(G(I_blurry))`` before the sigmoid, any shape.
        saturating: use the paper's literal minimax form.

    Returns:
        0-d tensor. Non-saturating: ``log 2`` at logits 0, -> 0 as D is fooled.

    Examples:
        >>> round(adversarial_generator_loss(torch.zeros(2, 1, 3, 3)).item(), 6)
        0.693147
    """
    if not isinstance(fake_logits, torch.Tensor) or fake_logits.numel() == 0:
        raise InvalidImageError(
            f"fake_logits must be a non-empty tensor, got {_shape(fake_logits)}"
        )
    if saturating:
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Loss of D for Eq. 3: binary cross-entropy on logits, real -> 1, fake -> 0.

    ``softplus(-real).mean() + softplus(fake).mean()`` = ``-log D(real) - log(1 - D(fake))``.
    The two terms are summed (not averaged): ``2 log 2`` at logits 0. Pass ``fake_logits``
    computed from detached fakes (see :func:`blurvid.train.discriminator.discriminator_step`).

    Examples:
        >>> round(discriminator_loss(torch.zeros(4), torch.zeros(4)).item(), 6)
        1.386294
    """
    for name, t in (("real_logits", real_logits), ("fake_logits", fake_logits)):
        if not isinstance(t, torch.Tensor) or t.numel() == 0:
            raise InvalidImageError(f"{name} must be a non-empty tensor, got {_shape(t)}")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


# --------------------------------------------------------------------------- Eq. 4


def cycle_flow_warps(
    pred: torch.Tensor, flow: FlowLike = "dis"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two re-created end frames of Eq. 4 (Fig. 3): ``(I^1_syn2, I^7_syn2)``.

    With blurvid's flow convention (``estimator(a, b)`` is the flow *from a to b*: pixel
    ``x`` of ``a`` is seen at ``x + flow(x)`` in ``b``, so ``warp(b, flow) ~= a``):

    * ``I^1_syn2 = warp(p7, estimator(p1, p7))``: frame 7 pulled onto frame 1's pixel grid;
    * ``I^7_syn2 = warp(p1, estimator(p7, p1))``: frame 1 pulled onto frame 7's grid;

    where ``p1, p7 = pred[:, 0], pred[:, 6]``. The paper's ``W(I^7_syn1, I^{7->1}_flow)`` is
    read as "the flow that brings frame 7's content to frame 1" which, for backward warping,
    is the field computed with frame 1 as the reference, ``estimator(p1, p7)``.

    Returns:
        ``(new_first, new_last)``, each ``(B, 3, H, W)``.
    """
    _check_frames(pred, "cycle_flow_loss (Eq. 4)", odd=True)
    est = get_flow_estimator(flow)
    p1, p7 = pred[:, 0], pred[:, -1]
    flow_1_to_7 = est(p1, p7)
    flow_7_to_1 = est(p7, p1)
    return warp(p7, flow_1_to_7), warp(p1, flow_7_to_1)


def cycle_flow_loss(pred: torch.Tensor, true: torch.Tensor, flow: FlowLike = "dis") -> torch.Tensor:
    """Cycle flow loss, paper Eq. 4: fixes the time direction of the predicted sequence.

    ``L_flow = MSE(I^1_sharp, W(p7, F_{1->7})) + MSE(I^7_sharp, W(p1, F_{7->1}))`` with the
    flows estimated **between the predicted** end frames ``p1 = pred[:, 0]`` and
    ``p7 = pred[:, 6]`` (see :func:`cycle_flow_warps` for the exact direction convention).
    If the prediction's motion runs backwards, warping ``p7`` by the ``p1 -> p7`` flow
    re-creates ``p1 ~= I^7_sharp`` and the loss is large; it is small only when frame 1
    resembles ``I^1_sharp`` *and* the motion between the ends is right. ``||.||_2^2`` is
    read as the mean squared error (so the value does not scale with image size).

    The paper uses PWC-Net (ref. [49]) for the flow. The default here is OpenCV's DIS
    (``pip install 'blurvid[flow]'``), which runs in numpy: **no gradient flows through the
    flow field**, only through the warped image (bilinear ``grid_sample``), which is enough
    to pull the warped frames towards the targets. A learned flow network (an
    ``nn.Module`` or callable ``(a, b) -> (B, 2, H, W)``, see
    :func:`blurvid.flow.get_flow_estimator`) also passes gradient through the flow.

    Args:
        pred: predicted frames ``(B, 7, 3, H, W)`` in [0, 1].
        true: sharp frames, same shape (only indices 0 and 6 are used).
        flow: ``"dis"``/``"dis-fast"``/``"dis-ultrafast"``, a flow estimator, a callable or
            an ``nn.Module``. Resolve it once with ``get_flow_estimator`` and pass the
            result to avoid re-creating it every step.

    Returns:
        0-d tensor, >= 0.
    """
    _check_pair(pred, true, "cycle_flow_loss (Eq. 4)", odd=True)
    new_first, new_last = cycle_flow_warps(pred, flow)
    return F.mse_loss(new_first, true[:, 0]) + F.mse_loss(new_last, true[:, -1])


# --------------------------------------------------------------------------- Eq. 5


def base_gan_loss(
    pred: torch.Tensor,
    true: torch.Tensor,
    fake_logits: torch.Tensor | None = None,
    *,
    features: FeatureExtractor | None = None,
    flow: FlowLike = "dis",
    central_weight: float = 1.0,
    perceptual_weight: float = 1.0,
    pair_weight: float = 1.0,
    pair_diff_weight: float = 1.0,
    adv_weight: float = 0.0005,
    flow_weight: float = 0.001,
    pair_form: str = "abs",
    saturating: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage-1 (BaseGAN) generator loss, paper Eq. 5.

    ``total = central_weight * L_central (Eq. 1) + pair_weight * L_pair (Eq. 2)
    + adv_weight * L_adv (Eq. 3) + flow_weight * L_flow (Eq. 4)``, with the paper's
    ``alpha = adv_weight = 0.0005`` and ``beta = flow_weight = 0.001`` (Sec. 4.2) and unit
    content weights. A term whose weight is 0 is not computed (no D pass, no flow) and is
    logged as 0.0, so a curriculum can ramp terms in.

    Args:
        pred: ``G(I_blurry)``, ``(B, 7, 3, H, W)`` in [0, 1].
        true: the 7 sharp frames, same shape.
        fake_logits: ``D(pred)`` logits (e.g. a :class:`PatchDiscriminator` on the centre
            frame or on all 7 frames). Required unless ``adv_weight == 0``.
        features: perceptual feature extractor for Eq. 1 (``None``: pixel MSE only).
        flow: flow estimator for Eq. 4 (see :func:`cycle_flow_loss`).
        central_weight: weight of Eq. 1.
        perceptual_weight: weight of the VGG term inside Eq. 1.
        pair_weight: weight of Eq. 2.
        pair_diff_weight: Eq. 2's ``diff_weight`` (the difference term).
        adv_weight: alpha of Eq. 5 (Eq. 3 term).
        flow_weight: beta of Eq. 5 (Eq. 4 term).
        pair_form: ``"abs"`` or ``"square"`` (see :func:`pair_content_loss`).
        saturating: use the literal minimax Eq. 3 for G.

    Returns:
        ``(total, parts)``: the 0-d loss tensor and a dict of detached floats with the
        *unweighted* terms ``central``, ``central_mse``, ``pair``, ``pair_sum``,
        ``pair_diff``, ``adv``, ``flow`` and the ``total``, so that
        ``total == central_weight*central + pair_weight*pair + adv_weight*adv
        + flow_weight*flow`` and ``pair == pair_sum + pair_diff_weight*pair_diff``.

    Raises:
        ConfigError: ``adv_weight != 0`` but no ``fake_logits`` (the adversarial term would
            be silently dropped).
    """
    _check_pair(pred, true, "base_gan_loss (Eq. 5)", odd=True)
    if adv_weight != 0 and fake_logits is None:
        raise ConfigError(
            "base_gan_loss: adv_weight is non-zero but fake_logits is None: pass D(pred) "
            "logits, or set adv_weight=0 to train without the adversarial term"
        )
    zero = pred.new_zeros(())
    mid = pred.shape[1] // 2
    pc, tc = pred[:, mid], true[:, mid]
    central_mse = F.mse_loss(pc, tc)
    central = (
        central_content_loss(pc, tc, features, perceptual_weight)
        if features is not None
        else central_mse
    )
    if pair_weight != 0:
        p_sum, p_diff = _pair_terms(pred, true, pair_form, 1e-3)
    else:
        p_sum = p_diff = zero
    pair = p_sum + pair_diff_weight * p_diff
    adv = (
        adversarial_generator_loss(fake_logits, saturating=saturating)
        if adv_weight != 0 and fake_logits is not None  # None with adv_weight != 0 raised above
        else zero
    )
    flow_term = cycle_flow_loss(pred, true, flow) if flow_weight != 0 else zero
    total = (
        central_weight * central + pair_weight * pair + adv_weight * adv + flow_weight * flow_term
    )
    parts = {
        "central": float(central.detach()),
        "central_mse": float(central_mse.detach()),
        "pair": float(pair.detach()),
        "pair_sum": float(p_sum.detach()),
        "pair_diff": float(p_diff.detach()),
        "adv": float(adv.detach()),
        "flow": float(flow_term.detach()),
        "total": float(total.detach()),
    }
    return total, parts


# --------------------------------------------------------------------------- Eq. 6 - 7


def gram_matrix(features_three: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Spatio-temporal Gram matrix of three frames' feature maps, paper Eq. 6 (Fig. 4).

    The paper stacks the three maps on a new first axis (frames), reshapes the 4-d tensor
    to a 2-d ``F`` whose first axis combines (frames, channels) and second (height, width),
    and takes ``Gram = F^T F / M`` with ``M = C H W``. We read the product as the one that
    gives Fig. 4's ``3 x 3`` blocks of channel correlations (diagonal blocks: each frame's
    own Gram; off-diagonal blocks: correlations *between* frames, which carry the motion):

    ``F`` of shape ``(3C, hw)`` with row ``k*C + c`` = channel ``c`` of frame ``k``;
    ``Gram = F @ F.T / (C * h * w)``, shape ``(3C, 3C)``, symmetric.

    ``C`` is the channel count of **one** frame's map (not 3C). Any number ``K`` of frames
    works the same way (``(KC, KC)``).

    Args:
        features_three: ``(B, 3, C, h, w)``, or a sequence of three ``(B, C, h, w)`` maps.

    Returns:
        ``(B, 3C, 3C)`` tensor.

    Examples:
        >>> f = torch.ones(1, 3, 2, 1, 2)          # B=1, 3 frames, C=2, h=1, w=2
        >>> g = gram_matrix(f)
        >>> g.shape, g[0, 0, 0].item()             # sum of 2 products of 1 / (2*1*2)
        (torch.Size([1, 6, 6]), 0.5)
    """
    x: torch.Tensor | Sequence[torch.Tensor]
    if isinstance(features_three, (list, tuple)):
        if not features_three or not all(
            isinstance(m, torch.Tensor) and m.ndim == 4 for m in features_three
        ):
            raise InvalidImageError("gram_matrix: expected a sequence of (B, C, h, w) feature maps")
        if len({tuple(m.shape) for m in features_three}) != 1:
            raise InvalidImageError(
                f"gram_matrix: feature maps differ in shape: {[tuple(m.shape) for m in features_three]}"
            )
        x = torch.stack(list(features_three), dim=1)
    else:
        x = features_three
    if not isinstance(x, torch.Tensor) or x.ndim != 5:
        raise InvalidImageError(f"gram_matrix: expected (B, K, C, h, w) features, got {_shape(x)}")
    b, k, c, h, w = x.shape
    f = x.reshape(b, k * c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / float(c * h * w)


def _gram_distance(a: torch.Tensor, b: torch.Tensor, norm: str) -> torch.Tensor:
    d = a - b
    if norm == "l1":
        return d.abs().mean()
    if norm == "fro":
        # sqrt(sum d^2 + tiny): a Frobenius norm with a finite gradient at d == 0
        return torch.sqrt(d.pow(2).sum(dim=(1, 2)) + 1e-12).mean()
    raise ConfigError(f"gram norm must be 'l1' or 'fro', got {norm!r}")


def gram_loss(
    pred: torch.Tensor,
    true: torch.Tensor,
    features: FeatureExtractor | None = None,
    *,
    triplets: Sequence[Sequence[int]] = GRAM_TRIPLETS,
    norm: str = "l1",
) -> torch.Tensor:
    """Gram-matrix motion loss, paper Eq. 7: ``sum_i || Gram_i(pred) - Gram_i(true) ||``.

    For each of the 9 triplets of equally spaced frames (:data:`GRAM_TRIPLETS`), the Gram
    matrix (:func:`gram_matrix`, Eq. 6) of the three frames' feature maps is compared.
    The target's features are computed without gradient. The norm is unspecified in the
    paper; the default ``"l1"`` is the mean absolute entry difference per triplet
    (independent of C, finite gradient everywhere); ``"fro"`` is the Frobenius norm per
    sample, averaged over the batch. Triplet terms are summed (the paper's ``sum_{i=1}^9``).

    Args:
        pred: predicted frames ``(B, T, 3, H, W)`` (T = 7 for the 9 triplets).
        true: target frames, same shape.
        features: feature extractor (see :data:`FeatureExtractor`). Default: the VGG19 of
            :func:`blurvid.train.features.vgg19_features` at **relu3_1** (``features.11``,
            256 channels at 1/4 resolution, a mid-level layer as in Gram-based texture and
            dynamic-texture work, ref. [51]); built once per process, so it follows the
            weights rules (and warning) of that function.
        triplets: frame index triplets (0-based), default the 9 of the paper.
        norm: ``"l1"`` or ``"fro"``.

    Returns:
        0-d tensor, >= 0, zero at the truth.
    """
    _check_pair(pred, true, "gram_loss (Eq. 7)", n=None)
    trip = [tuple(int(i) for i in t) for t in triplets]
    if not trip or any(len(t) == 0 or min(t) < 0 or max(t) >= pred.shape[1] for t in trip):
        raise ConfigError(f"gram_loss: triplets {trip} must index the {pred.shape[1]} frames")
    feats = _resolve_features(features, pred, "relu3_1")
    fp = _frame_features(feats, pred)
    with torch.no_grad():
        ft = _frame_features(feats, true)
    loss = pred.new_zeros(())
    for mp, mt in zip(fp, ft):
        for t in trip:
            idx = list(t)
            loss = loss + _gram_distance(gram_matrix(mp[:, idx]), gram_matrix(mt[:, idx]), norm)
    return loss


class GramStageBatch(NamedTuple):
    """Input and supervision of one GramGAN (stage-2) step; see :func:`gram_stage_batch`."""

    blurry: torch.Tensor
    """``(B, 3, H, W)``: mean of the three chosen frames, the input of G."""
    targets: torch.Tensor
    """``(B, 3, 3, H, W)``: the three chosen frames, targets of output frames 1, 4, 7."""
    indices: tuple[int, int, int]
    """Which of the 7 source frames were taken (0-based)."""


def gram_stage_batch(
    stage1_frames: torch.Tensor | None,
    mode: str = "prediction",
    *,
    true_frames: torch.Tensor | None = None,
    indices: Sequence[int] = (0, 3, 6),
) -> GramStageBatch:
    """Build the stage-2 (GramGAN) input and targets, paper Sec. 3.2 and Eq. 7.

    The paper: "``I_blurry`` is the blurry image produced by averaging the three frames
    ``{I_sharp}`` taken from the seven frames output by the BaseGAN ... ``I^1_syn, I^4_syn,
    I^7_syn`` of ``G(I_blurry)`` ... constrain[ed] by referring to the corresponding ground
    truth ``{I_sharp}``", and Fig. 2 averages frames of the first stage's output.

    Our reading, ``mode="prediction"`` (the paper's text): take three frames (default
    0, 3, 6 = paper's 1, 4, 7) of the **stage-1 output** ``G(blurry_7)``, **detached** (they
    act as pseudo ground truth); ``blurry`` = their mean; the targets of G's output frames
    1, 4, 7 are those three frames. G then learns to spread the motion of three frames over
    seven outputs ("interpolate the motion across the three frames into the fine-grained
    motion dynamics across the output seven frames").

    The text is ambiguous ("{I_sharp}" may also mean real sharp frames), and pseudo targets
    from an under-trained G teach G its own errors. ``mode="ground_truth"`` therefore takes
    the three frames from the real sharp sequence ``true_frames`` instead (the same
    construction with real data); it is the safer choice early in training.

    Args:
        stage1_frames: ``(B, 7, 3, H, W)`` output of G on the 7-frame blurry image (used in
            ``"prediction"`` mode; may be None in ``"ground_truth"`` mode).
        mode: ``"prediction"`` or ``"ground_truth"``.
        true_frames: ``(B, 7, 3, H, W)`` sharp frames (required in ``"ground_truth"`` mode).
        indices: the three source frames, 0-based, increasing.

    Returns:
        :class:`GramStageBatch` ``(blurry (B, 3, H, W), targets (B, 3, 3, H, W), indices)``.
    """
    if mode == "prediction":
        src, name = stage1_frames, "stage1_frames"
    elif mode == "ground_truth":
        src, name = true_frames, "true_frames"
    else:
        raise ConfigError(
            f"gram_stage_batch: mode must be 'prediction' or 'ground_truth', got {mode!r}"
        )
    if src is None:
        raise ConfigError(f"gram_stage_batch: mode={mode!r} needs {name}")
    _check_frames(src, f"gram_stage_batch ({name})", odd=True)
    idx = tuple(int(i) for i in indices)
    t = src.shape[1]
    if len(idx) != 3 or list(idx) != sorted(set(idx)) or idx[0] < 0 or idx[-1] >= t:
        raise ConfigError(
            f"gram_stage_batch: indices must be 3 increasing frame indices in 0..{t - 1}, "
            f"got {indices}"
        )
    targets = src[:, list(idx)].detach()
    return GramStageBatch(blurry=targets.mean(dim=1), targets=targets, indices=idx)  # type: ignore[arg-type]


def gram_stage_loss(
    pred7: torch.Tensor,
    three_targets: torch.Tensor,
    features: FeatureExtractor | None = None,
    *,
    out_indices: Sequence[int] = (0, 3, 6),
    content_weight: float = 1.0,
    gram_weight: float = 1.0,
    norm: str = "l1",
) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage-2 (GramGAN) loss: content on output frames 1, 4, 7 plus their Gram loss.

    ``total = content_weight * MSE(pred7[:, (0,3,6)], targets)
    + gram_weight * ||Gram(pred7[:, (0,3,6)]) - Gram(targets)||``.

    With only three supervising frames, just one of Eq. 7's nine triplets, (1, 4, 7), has
    targets; this is the paper's Fig. 4 ("I^1_syn, I^4_syn and I^7_syn ... are taken as
    input to calculate the Gram matrix"). When all seven sharp frames are known, use
    :func:`gram_loss` on them for the full nine-triplet sum. Add an adversarial term
    yourself if D is trained in this stage.

    Args:
        pred7: ``G(blurry)`` of :func:`gram_stage_batch`'s input, ``(B, 7, 3, H, W)``.
        three_targets: ``(B, 3, 3, H, W)`` targets of the outputs ``out_indices``.
        features: feature extractor for the Gram matrix (default VGG19 relu3_1, as in
            :func:`gram_loss`).
        out_indices: the supervised output frames (default paper's 1, 4, 7).
        content_weight: weight of the content MSE.
        gram_weight: weight of the Gram term.
        norm: Gram distance, ``"l1"`` or ``"fro"``.

    Returns:
        ``(total, parts)`` with detached floats ``content``, ``gram``, ``total``.
    """
    _check_frames(pred7, "gram_stage_loss (prediction)", odd=True)
    _check_frames(three_targets, "gram_stage_loss (targets)", n=3)
    oi = [int(i) for i in out_indices]
    t = pred7.shape[1]
    if len(oi) != 3 or min(oi) < 0 or max(oi) >= t:
        raise ConfigError(
            f"gram_stage_loss: out_indices must be 3 frame indices in 0..{t - 1}, got {out_indices}"
        )
    sel = pred7[:, oi]
    if sel.shape != three_targets.shape:
        raise InvalidImageError(
            f"gram_stage_loss: outputs {tuple(sel.shape)} vs targets {tuple(three_targets.shape)}"
        )
    content = F.mse_loss(sel, three_targets)
    gram = (
        gram_loss(sel, three_targets, features, triplets=((0, 1, 2),), norm=norm)
        if gram_weight != 0
        else pred7.new_zeros(())
    )
    total = content_weight * content + gram_weight * gram
    return total, {
        "content": float(content.detach()),
        "gram": float(gram.detach()),
        "total": float(total.detach()),
    }


# --------------------------------------------------------------------------- Eq. 8


def reblur(frames: torch.Tensor, *, linear_light: bool = False) -> torch.Tensor:
    """The blur function ``F`` of HeptaGAN (Sec. 3.3): the mean of the frames.

    Args:
        frames: ``(B, T, C, H, W)``, any ``T >= 1`` (7 for G's output).
        linear_light: average in linear light (sRGB decoded, averaged, re-encoded), which is
            how a camera integrates light; the paper averages the stored values (False).

    Returns:
        ``(B, C, H, W)``.

    Examples:
        >>> reblur(torch.stack([torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)], 1))[0, 0, 0, 0].item()
        0.5
    """
    _check_frames(frames, "reblur", n=None)
    if linear_light:
        return linear_to_srgb(srgb_to_linear(frames, clamp=False).mean(dim=1), clamp=False)
    return frames.mean(dim=1)


def bicycle_loss(
    frames_in: torch.Tensor,
    frames_out: torch.Tensor,
    *,
    reblur_weight: float = 1.0,
    frame_weight: float = 1.0,
    linear_light: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """HeptaGAN bi-cycle consistency loss, paper Eq. 8.

    ``L_C = L1(F({I_in}), F({I_out})) + (1/7) sum_i L1(I_in^i, I_out^i)`` where
    ``F`` = :func:`reblur` (the mean of the frames) and ``{I_out} = G(F({I_in}))``. This is
    the pure form: the caller computes ``frames_out = G(reblur(frames_in))`` so that the
    loss has no hidden forward pass. L1 is the mean absolute difference, so the first term
    is the paper's ``1/N sum ||.||_1`` per pixel and the second its ``1/(7N)`` average over
    the 7 frames. Per Sec. 3.3, ``frames_in`` are the (detached) frames of the previous
    stage or real sharp frames; G is the only trained function.

    Args:
        frames_in: ``(B, 7, 3, H, W)`` in [0, 1] (any T works).
        frames_out: ``G(reblur(frames_in))``, same shape.
        reblur_weight: weight of the re-blur (first) term.
        frame_weight: weight of the per-frame (second) term.
        linear_light: re-blur in linear light (see :func:`reblur`).

    Returns:
        ``(total, parts)`` with detached floats ``reblur``, ``frames``, ``total``.

    Examples:
        >>> x = torch.rand(1, 7, 3, 4, 4)
        >>> total, parts = bicycle_loss(x, x + 0.25)
        >>> round(parts["reblur"], 6), round(parts["frames"], 6)
        (0.25, 0.25)
    """
    _check_pair(frames_out, frames_in, "bicycle_loss (Eq. 8)", n=None)
    term_blur = F.l1_loss(
        reblur(frames_out, linear_light=linear_light), reblur(frames_in, linear_light=linear_light)
    )
    term_frames = F.l1_loss(frames_out, frames_in)
    total = reblur_weight * term_blur + frame_weight * term_frames
    return total, {
        "reblur": float(term_blur.detach()),
        "frames": float(term_frames.detach()),
        "total": float(total.detach()),
    }


# --------------------------------------------------------------------------- recipe extras
# Not in the paper: the small-compute recipe's terms (``TrainConfig.frames_weight``,
# ``reblur_weight``), added to Eq. 5 by :class:`blurvid.train.stages.RestorationLoss`.


def best_order_mse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """MSE over all frames in the better of forward / reversed order, per sample, averaged
    over the batch: one blurred image does not tell the direction of time.

    Examples:
        >>> x = torch.rand(2, 5, 3, 4, 4)
        >>> best_order_mse(x.flip(1), x).item()
        0.0
    """
    return _sample_mse(pred, true, best_order=True).mean()


def reblur_l1(pred: torch.Tensor, blurry: torch.Tensor) -> torch.Tensor:
    """L1 between the linear-light mean of the frames ``(B, T, 3, H, W)`` and the
    linear-light blurry input ``(B, 3, H, W)`` (a camera integrates light, Sec. 3.1)."""
    return (srgb_to_linear(pred).mean(1) - srgb_to_linear(blurry)).abs().mean()
