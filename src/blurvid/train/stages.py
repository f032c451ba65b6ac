"""The paper's three training stages, one object each (Sec. 3).

A stage turns one augmented batch into the loss of G and owns what only it needs: its input
construction, its loss terms and their helper networks, and the frozen reference G of the
``"prediction"`` readings. The loop (:class:`blurvid.train.loop.Trainer`) stays generic: data,
optimisers, EMA, mixed precision, clipping, logging, checkpoints, validation.

=========================  =====================  ===========================================
Stage                      Paper                  Loss of G
=========================  =====================  ===========================================
:class:`BaseStage`         BaseGAN, Eq. 1-5       :class:`RestorationLoss` on ``G(blurry)``
:class:`GramStage`         GramGAN, Eq. 6-7       Gram terms (+ ``base_weight`` x Eq. 5)
:class:`HeptaStage`        HeptaGAN, Eq. 8        bi-cycle loss (+ ``base_weight`` x Eq. 5)
=========================  =====================  ===========================================

Frame count: every index comes from the batch (``T = frames.shape[1]``): the centre
``T // 2``, the end frames ``0`` and ``T - 1``, :func:`~blurvid.train.losses.gram_triplets`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Callable, ClassVar, NamedTuple

import torch

from ..model import Generator
from .config import TrainConfig
from .losses import (
    base_gan_loss,
    best_order_mse,
    bicycle_loss,
    gram_loss,
    gram_stage_batch,
    gram_stage_loss,
    gram_triplets,
    psnr_loss,
    reblur_l1,
)

__all__ = [
    "BaseStage",
    "GramStage",
    "HeptaStage",
    "RestorationLoss",
    "Stage",
    "StageLoss",
    "StepBatch",
    "make_stage",
]

#: G's forward pass in training (G itself, or its DDP / compiled wrapper).
Forward = Callable[[torch.Tensor], torch.Tensor]
#: Predicted frames ``(B, T, 3, H, W)`` -> D's logits on the frames D judges this step.
Critic = Callable[[torch.Tensor], torch.Tensor]


class StepBatch(NamedTuple):
    """One step's batch, on the training device, after augmentation."""

    blurry: torch.Tensor
    """``(B, 3, H, W)`` blurry inputs."""
    frames: torch.Tensor
    """``(B, T, 3, H, W)`` their sharp frames."""
    ramp: float
    """Curriculum factor in [0, 1] of this step (:func:`blurvid.train.loop.ramp_at`)."""
    critic: Critic | None
    """D on predicted frames, or None when the adversarial term is off this step."""


class StageLoss(NamedTuple):
    """What one stage step hands back to the loop."""

    total: torch.Tensor
    """0-d loss of G, to back-propagate."""
    parts: dict[str, float]
    """Detached terms for the log (the keys of ``log.jsonl``)."""
    pred: torch.Tensor
    """``G(blurry)`` of the batch's own blurry input: what D learns to reject."""


class RestorationLoss:
    """Stage 1's loss of ``G(blurry)`` against the sharp frames: Eq. 5 (Eq. 1-4) plus the
    recipe's extra terms (``frames_weight``, ``central_l1_weight``, ``central_psnr_weight``,
    ``frames_psnr_weight``, ``reblur_weight``).

    Kept on in stages 2 and 3 with weight ``base_weight`` so that G does not forget.
    The batch's ramp scales the difference, flow and adversarial terms.

    Args:
        config: the stage's :class:`TrainConfig`.
        generator: G's architecture: the re-blur L1 is trained only for a G without a
            built-in blur model (``reblur="none"``).
        device: where the VGG19 features of Eq. 1 run.
    """

    def __init__(self, config: TrainConfig, generator: Generator, device: torch.device) -> None:
        self.cfg = config
        self.train_reblur = generator.config.reblur == "none"
        self.features = None
        if config.perceptual_weight > 0:
            from .features import vgg19_features

            self.features = vgg19_features(config.vgg19_weights, layers="features.34").to(device)
        self.flow = None
        if config.flow_weight > 0:
            from ..flow import get_flow_estimator

            self.flow = get_flow_estimator(config.flow)

    def __call__(
        self, pred: torch.Tensor, batch: StepBatch
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``(total, parts)`` for ``pred = G(batch.blurry)``."""
        c, r, frames = self.cfg, batch.ramp, batch.frames
        fake_logits = batch.critic(pred) if batch.critic is not None else None
        total, parts = base_gan_loss(
            pred, frames, fake_logits,
            features=self.features, flow=self.flow or "dis",
            central_weight=c.central_weight, perceptual_weight=c.perceptual_weight,
            pair_weight=c.pair_weight, pair_diff_weight=c.pair_diff_weight * r,
            adv_weight=c.adv_weight * r if fake_logits is not None else 0.0,
            flow_weight=c.flow_weight * r if self.flow is not None else 0.0,
        )  # fmt: skip
        if c.frames_weight:
            f = best_order_mse(pred, frames)
            total = total + c.frames_weight * f
            parts["frames"] = float(f.detach())
        if c.central_l1_weight:
            mid = frames.shape[1] // 2
            l1 = (pred[:, mid] - frames[:, mid]).abs().mean()
            total = total + c.central_l1_weight * l1
            parts["central_l1"] = float(l1.detach())
        if c.central_psnr_weight:
            mid = frames.shape[1] // 2
            cp = psnr_loss(pred[:, mid], frames[:, mid])
            total = total + c.central_psnr_weight * cp
            parts["central_psnr"] = float(cp.detach())
        if c.frames_psnr_weight:
            fp = psnr_loss(pred, frames, best_order=True)
            total = total + c.frames_psnr_weight * fp
            parts["frames_psnr"] = float(fp.detach())
        if c.reblur_weight:
            rb = reblur_l1(pred, batch.blurry)
            # Only a G without a built-in blur model (reblur="none") is trained on this
            # term. "linear" makes it 0 by construction; with "srgb" (the mean of the
            # frames is the input in sRGB) it equals the Jensen gap
            # mean(lin(P_i)) - lin(mean(P_i)) >= 0, i.e. a pure penalty on any difference
            # between the frames, which stalls learning (tests/train/test_loop.py overfit).
            if self.train_reblur:
                total = total + c.reblur_weight * rb
            parts["reblur"] = float(rb.detach())
        return total, parts


class Stage(ABC):
    """One training stage of the weight-shared G.

    Built in two steps so that random draws happen where they always did (runs resume
    bit-identically): ``__init__`` freezes the reference copy of G (before the loop wraps
    or converts G), :meth:`setup` builds the loss networks (VGG19 features draw initial
    weights from the global RNG before loading theirs).

    Args:
        config: the stage's :class:`TrainConfig`.
        generator: G, on its training device, not yet wrapped (DDP, compile).
    """

    #: the stage's name in :data:`~blurvid.train.config.STAGES`
    name: ClassVar[str]

    def __init__(self, config: TrainConfig, generator: Generator) -> None:
        self.cfg = config
        self.generator = generator
        #: frozen copy of the G this stage starts from (checkpoint key ``ref``), or None
        self.reference: Generator | None = None
        if self.uses_reference(config):
            self.reference = copy.deepcopy(generator).eval().requires_grad_(False)
        self.restoration: RestorationLoss | None = None

    @staticmethod
    def uses_reference(config: TrainConfig) -> bool:
        """Whether the stage's inputs come from the frozen starting G (a ``"prediction"``
        reading of the paper)."""
        return False

    def setup(self, device: torch.device) -> None:
        """Build the loss networks (VGG19 features, flow estimator) on ``device``."""
        self.restoration = RestorationLoss(self.cfg, self.generator, device)

    @abstractmethod
    def loss(self, forward: Forward, batch: StepBatch) -> StageLoss:
        """The loss of G (run as ``forward``: G or its DDP / compiled wrapper) on ``batch``."""

    def _restoration(
        self, pred: torch.Tensor, batch: StepBatch
    ) -> tuple[torch.Tensor, dict[str, float]]:
        if self.restoration is None:
            raise RuntimeError(f"stage {self.name}: call setup() before loss()")
        return self.restoration(pred, batch)

    def _keep_restoring(
        self, total: torch.Tensor, parts: dict[str, float], pred: torch.Tensor, batch: StepBatch
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Stages 2 and 3: add ``base_weight`` x the stage-1 loss (logged as ``base_*``)."""
        if self.cfg.base_weight:
            b_total, b_parts = self._restoration(pred, batch)
            total = total + self.cfg.base_weight * b_total
            parts.update({f"base_{k}": v for k, v in b_parts.items()})
        return total, parts


class BaseStage(Stage):
    """BaseGAN (Sec. 3.1): G(blurry) against the sharp frames, Eq. 1-5."""

    name = "base"

    def loss(self, forward: Forward, batch: StepBatch) -> StageLoss:
        pred = forward(batch.blurry).float()
        total, parts = self._restoration(pred, batch)
        return StageLoss(total, parts, pred)


class GramStage(Stage):
    """GramGAN (Sec. 3.2): three of the frames (paper 1, 4, 7: the ends and the centre) are
    averaged into a new blurry input whose output's frames at those positions must match
    them, content and Gram matrix (Eq. 6, ``gram_stage_*``); plus Eq. 7 on all equally
    spaced triplets of ``G(blurry)`` (``gram9``). ``gram_weight`` scales the Gram terms
    only."""

    name = "gram"
    #: the features of the Gram matrices (built by :meth:`setup`): VGG19 at ``gram_layer``,
    #: or the fixed filter bank of :mod:`blurvid.train.texture` (``gram_features="filters"``)
    features: torch.nn.Module | None = None

    @staticmethod
    def uses_reference(config: TrainConfig) -> bool:
        return config.gram_mode == "prediction"

    def setup(self, device: torch.device) -> None:
        super().setup(device)
        if self.cfg.gram_features == "filters":
            from .texture import filter_bank_features

            self.features = filter_bank_features().to(device)
            return
        from .features import vgg19_features

        self.features = vgg19_features(self.cfg.vgg19_weights, layers=self.cfg.gram_layer).to(
            device
        )

    def loss(self, forward: Forward, batch: StepBatch) -> StageLoss:
        c, blurry, frames = self.cfg, batch.blurry, batch.frames
        b, t = frames.shape[:2]
        ends = (0, t // 2, t - 1)  # paper frames 1, 4, 7
        with torch.no_grad():
            stage1 = self.reference(blurry).float() if self.reference is not None else None
        gb = gram_stage_batch(stage1, c.gram_mode, true_frames=frames, indices=ends)
        out = forward(torch.cat([blurry, gb.blurry])).float()
        pred, pred3 = out[:b], out[b:]
        # gram_weight scales the Gram terms (Eq. 7) only; the stage-2 content MSE on
        # frames 1, 4, 7 keeps weight 1 (scaling it with the Gram calibration made G
        # copy the stage-1 G's frames 1000x harder and cost 0.3 dB on the release run)
        g_total, g_parts = gram_stage_loss(
            pred3, gb.targets, self.features, out_indices=ends, gram_weight=c.gram_weight
        )
        g9 = gram_loss(pred, frames, self.features, triplets=gram_triplets(t))
        total = g_total + c.gram_weight * g9
        parts = {"gram_stage": g_parts["total"], "gram9": float(g9.detach())}
        parts.update({f"gram_stage_{k}": v for k, v in g_parts.items() if k != "total"})
        total, parts = self._keep_restoring(total, parts, pred, batch)
        return StageLoss(total, parts, pred)


class HeptaStage(Stage):
    """HeptaGAN (Sec. 3.3, Eq. 8): frames (the sharp ones, or the starting G's prediction)
    are re-blurred and G must give them back (``hepta_*``)."""

    name = "hepta"

    @staticmethod
    def uses_reference(config: TrainConfig) -> bool:
        return config.hepta_source == "prediction"

    def loss(self, forward: Forward, batch: StepBatch) -> StageLoss:
        blurry, b = batch.blurry, batch.blurry.shape[0]
        if self.reference is not None:
            with torch.no_grad():
                src = self.reference(blurry).float().clamp(0, 1)
        else:
            src = batch.frames
        out = forward(torch.cat([blurry, src.mean(1)])).float()
        pred, cyc = out[:b], out[b:]
        h_total, h_parts = bicycle_loss(src, cyc)
        parts = {f"hepta_{k}": v for k, v in h_parts.items()}
        total, parts = self._keep_restoring(h_total, parts, pred, batch)
        return StageLoss(total, parts, pred)


_STAGES: dict[str, type[Stage]] = {s.name: s for s in (BaseStage, GramStage, HeptaStage)}


def make_stage(config: TrainConfig, generator: Generator) -> Stage:
    """The :class:`Stage` of ``config.stage`` for ``generator`` (call :meth:`Stage.setup`
    before its first loss)."""
    return _STAGES[config.stage](config, generator)
