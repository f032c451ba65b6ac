"""Typed training configuration: one dataclass, saved beside every checkpoint.

Defaults are the paper's (Sec. 4.2): N(0, 0.01) initialisation, batch 4, 128x128 crops
with horizontal flips, Adam with a learning rate annealed from 1e-4 to 1e-5, and
alpha = 0.0005, beta = 0.001 in Eq. 5. Everything the paper leaves open (number of steps,
curriculum, how stage 2/3 inputs are formed) is a named field with its reading documented.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import check_int, check_number
from ..data.camera import CameraConfig
from ..errors import ConfigError
from ..model import GeneratorConfig

__all__ = ["GRAM_FEATURES", "STAGES", "TrainConfig"]

STAGES = ("base", "gram", "hepta")
#: The feature kinds of the Gram loss (``TrainConfig.gram_features``): ``"vgg19"`` (VGG19 at
#: ``gram_layer``: the local weights file, else the seeded random fallback) or ``"filters"``
#: (the fixed filter bank of :mod:`blurvid.train.texture`).
GRAM_FEATURES = ("vgg19", "filters")


@dataclass
class TrainConfig:
    """All knobs of one training stage.

    Attributes:
        stage: ``"base"`` (BaseGAN, Eq. 1-5), ``"gram"`` (GramGAN, Eq. 6-7) or
            ``"hepta"`` (HeptaGAN, Eq. 8). All stages train the same weight-shared G.
        steps: optimisation steps of this stage.
        batch_size: samples per step per process (paper: 4).
        crop: training crop size (paper: 128).
        lr, lr_min: learning rate, cosine-annealed from ``lr`` to ``lr_min`` (paper: 1e-4 -> 1e-5).
        betas, weight_decay: Adam(W) parameters.
        warmup_steps: linear learning-rate warm-up.
        decay_start: step at which the cosine from ``lr`` to ``lr_min`` begins; until then
            (after the warm-up) the rate stays at ``lr`` ("warmup-stable-decay"). ``0`` = the
            cosine starts right after the warm-up and spans the whole run (the paper's
            schedule). A long run can go on at a constant rate and anneal a branch for a
            release: ``--continue-from`` its export with ``--decay-start`` at that step and
            ``--steps`` a few thousand later.
        grad_clip: max gradient norm (0 = off). The norm before clipping is logged
            (``grad_norm``).
        ema_decay: exponential moving average of G's weights, updated every step
            (``0`` = off; warmed up over the first steps). With EMA on, validation scores and the exported ``model/`` are
            the averaged weights; the raw weights keep training (and are in the checkpoint).
        central_weight, perceptual_weight: Eq. 1 (MSE + VGG19 conv5_4 feature MSE).
        pair_weight, pair_diff_weight: Eq. 2 sum and difference terms.
        adv_weight: alpha of Eq. 5 (0 disables D entirely).
        adv_frames: which predicted frames D judges each step: ``"random"`` (one per sample,
            seeded; 7x cheaper than ``"all"``, the same expected signal), ``"center"`` or
            ``"all"``.
        flow_weight: beta of Eq. 5 (cycle-flow loss, Eq. 4; 0 disables flow estimation).
        frames_weight: extra best-order MSE over all 7 frames (0 in the paper recipe; the
            calibration notes found it the fastest signal on small compute).
        central_l1_weight: extra L1 (mean absolute difference) on the centre frame, beside
            Eq. 1's MSE (0 in the paper; the pixel loss of most deblurring networks, which
            weighs small residual errors at edges more than the MSE does).
        central_psnr_weight, frames_psnr_weight: per-sample PSNR loss
            (:func:`~blurvid.train.losses.psnr_loss`, NAFNet's pixel loss; 0 in the paper) on
            the centre frame and on all frames in the better order: every sample weighs by
            its dB error instead of its squared error.
        reblur_weight: L1 between the linear-light mean of the predicted frames and the
            linear-light blurry input (0 in the paper). Trained only for a G without a
            built-in blur model (``GeneratorConfig(reblur="none")``); with ``"srgb"`` or
            ``"linear"`` it is logged, not optimised (it would be 0, or only penalise motion).
        ramp_start, ramp_end: curriculum, as fractions of ``steps``: the difference, flow and
            adversarial terms are 0 before ``ramp_start`` and reach full weight at
            ``ramp_end`` (both 0 = the paper's constant weights).
        base_weight: in stages ``gram``/``hepta``, weight of the stage-1 loss kept on
            ordinary samples so G does not forget (the paper fine-tunes without saying
            what else stays on; 0 = stage loss only).
        gram_weight, gram_mode: Eq. 7 weight, and where the three frames averaged into the
            stage-2 input come from: ``"prediction"`` (the stage-1 G's output, the paper's
            text) or ``"ground_truth"``.
        gram_layer: VGG19 layer whose feature maps form the Gram matrices.
        gram_features: the features of the Gram matrices: ``"vgg19"`` (VGG19 at
            ``gram_layer``: ``vgg19_weights``, else the seeded random fallback) or
            ``"filters"`` (a fixed multi-scale oriented filter bank, no weights needed:
            :mod:`blurvid.train.texture`; ``gram_layer`` is then unused).
        hepta_source: stage-3 input frames: ``"ground_truth"`` (seven sharp frames, Fig. 5)
            or ``"prediction"`` (the previous stage's outputs, Sec. 3.3 text).
        flow: flow estimator of Eq. 4 (``"dis"``, ``"dis-fast"``...).
        vgg19_weights: local VGG19 weights file (safetensors); None = env
            ``BLURVID_VGG19_WEIGHTS`` or the seeded random fallback (warns once).
        generator: architecture of G (ignored when starting from ``init``).
        init: folder (``save_pretrained`` output) to start from; a stage starts from the
            previous stage's result when run through ``--stage all``.
        data: data sources (``photos:DIR``, ``stills:DIR``, ``leaves:[DIR]``, ``frames:DIR``,
            ``video:FILE``, ``gopro:DIR``, ``bank:FILE``, each with an optional ``@WEIGHT``).
        camera: camera realism of the synthetic sources (photos, stills, leaves):
            ``"off"``, ``"all"`` or steps joined by ``+`` from highlights, noise, tone, jpeg
            (:class:`blurvid.data.CameraConfig`).
        bank_size: when > 0, pre-render this many samples into ``out/bank.safetensors``
            once and train from it (CPU recipe: the model trains instead of rendering).
        val_every, ckpt_every, log_every, sample_every: intervals in steps.
        num_workers: data-loading worker processes.
        seed: seeds everything (data order, augmentation, init).
        device: ``"cpu"``, ``"cuda"``; None = CUDA when available.
        amp: bf16 autocast on CUDA.
        cpu_amp: bf16 autocast on the CPU too (the forward pass and loss of each training step;
            weights, Adam, EMA and validation stay float32). 1.2-1.3x faster steps on a CPU with
            native bf16 (AVX512-BF16 / AMX; ``benchmarks/bench_cpu_amp.py``), no faster (0.95x)
            without its kernels, hence off by default; the gradients agree with float32 to ~2 % (cosine
            1.000), far inside the step-to-step noise of SGD, and a 2 000-step A/B of the
            release run scores within 0.01 dB of float32 (``experiments/cpu_amp_ab.py``).
        channels_last: channels-last memory format on CUDA.
        compile: ``torch.compile`` G (CUDA).
        loader_uint8: the data loader ships each batch as uint8 (``round(255 x)``, the
            precision of a sample bank) and the step converts it back on the training device:
            4x less data between the loader's worker processes and the trainer. A bank's
            samples (already ``k / 255``) come through exactly; samples rendered on the fly are
            quantised as a bank's are. Off by default (for a GPU fed by many workers).
        data_path: where training samples are made: ``"workers"`` (the default: each sample
            rendered on the CPU, in ``num_workers`` loader processes) or ``"device"`` (every
            batch drawn and rendered on the training device in batched torch, no workers:
            :mod:`blurvid.train.device_data`; real footage and ``leaves:`` come from pools
            made once at start-up). Not with ``bank_size``.
        pool_size: ``data_path="device"``: samples per real-footage pool (``frames:``,
            ``video:``, ``gopro:``, ``bank:``), rendered once at start-up; a ``leaves:``
            source draws ``min(64, pool_size)`` canvases.
    """

    stage: str = "base"
    steps: int = 10_000
    batch_size: int = 4
    crop: int = 128
    lr: float = 1e-4
    lr_min: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 0
    decay_start: int = 0
    grad_clip: float = 0.0
    ema_decay: float = 0.0
    central_weight: float = 1.0
    perceptual_weight: float = 1.0
    pair_weight: float = 1.0
    pair_diff_weight: float = 1.0
    adv_weight: float = 0.0005
    adv_frames: str = "random"
    flow_weight: float = 0.001
    frames_weight: float = 0.0
    central_l1_weight: float = 0.0
    central_psnr_weight: float = 0.0
    frames_psnr_weight: float = 0.0
    reblur_weight: float = 0.0
    ramp_start: float = 0.0
    ramp_end: float = 0.0
    base_weight: float = 1.0
    gram_weight: float = 1.0
    gram_mode: str = "prediction"
    gram_layer: str = "relu3_1"
    gram_features: str = "vgg19"
    hepta_source: str = "ground_truth"
    flow: str = "dis"
    vgg19_weights: str | None = None
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    init: str | None = None
    data: tuple[str, ...] = ()
    camera: str = "off"
    bank_size: int = 0
    val_every: int = 1000
    ckpt_every: int = 500
    log_every: int = 10
    sample_every: int = 1000
    num_workers: int = 0
    seed: int = 0
    device: str | None = None
    amp: bool = True
    cpu_amp: bool = False
    channels_last: bool = True
    compile: bool = False
    loader_uint8: bool = False
    data_path: str = "workers"
    pool_size: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.generator, dict):
            self.generator = GeneratorConfig.from_dict(self.generator)
        if not isinstance(self.betas, (list, tuple)) or len(self.betas) != 2:
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = tuple(check_number(b, "betas") for b in self.betas)  # type: ignore[assignment]
        self.data = tuple(str(d) for d in self.data)
        CameraConfig.parse(self.camera)  # a typed error for an unknown step, before any work
        if self.stage not in STAGES:
            raise ConfigError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.data_path not in ("workers", "device"):
            raise ConfigError(f"data_path must be 'workers' or 'device', got {self.data_path!r}")
        if self.data_path == "device" and self.bank_size:
            raise ConfigError(
                "data_path='device' renders every batch on the device: drop bank_size "
                "(--bank-size), which is for the worker path"
            )
        for name in ("steps", "batch_size", "crop", "ckpt_every", "log_every", "pool_size"):
            check_int(getattr(self, name), name, minimum=1)
        for name in (
            "warmup_steps",
            "decay_start",
            "bank_size",
            "val_every",
            "sample_every",
            "num_workers",
            "seed",
        ):
            check_int(getattr(self, name), name, minimum=0)  # val/sample_every 0 = off
        if self.crop < 16 or self.crop % self.generator.size_multiple:
            raise ConfigError(
                f"crop must be a multiple of {self.generator.size_multiple} and >= 16, got {self.crop}"
            )
        self._check_numbers()
        if self.decay_start >= self.steps:
            raise ConfigError(
                f"decay_start ({self.decay_start}) must be below steps ({self.steps}): the "
                f"rate anneals from decay_start to steps"
            )
        if not 0 <= self.ramp_start <= self.ramp_end <= 1:
            raise ConfigError("need 0 <= ramp_start <= ramp_end <= 1")
        if self.adv_frames not in ("random", "center", "all"):
            raise ConfigError(
                f"adv_frames must be 'random', 'center' or 'all', got {self.adv_frames!r}"
            )
        if self.gram_mode not in ("prediction", "ground_truth"):
            raise ConfigError(
                f"gram_mode must be 'prediction' or 'ground_truth', got {self.gram_mode!r}"
            )
        if self.gram_features not in GRAM_FEATURES:
            raise ConfigError(
                f"gram_features must be 'vgg19' or 'filters', got {self.gram_features!r}"
            )
        if self.hepta_source not in ("prediction", "ground_truth"):
            raise ConfigError(
                f"hepta_source must be 'prediction' or 'ground_truth', got {self.hepta_source!r}"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.lr <= 0 or self.lr_min < 0 or self.lr_min > self.lr:
            raise ConfigError(
                f"need 0 <= lr_min <= lr and lr > 0, got lr={self.lr}, lr_min={self.lr_min}"
            )

    def _check_numbers(self) -> None:
        """Every float knob is a finite number >= 0 (``nan`` fails every comparison, so it
        would pass the range checks below unnoticed); Adam's betas are in [0, 1)."""
        for f in dataclasses.fields(self):
            if f.type == "float":
                check_number(getattr(self, f.name), f.name, minimum=0.0)
        for beta in self.betas:
            check_number(beta, "betas", minimum=0.0)
            if beta >= 1:
                raise ConfigError(f"betas must be in [0, 1), got {self.betas}")

    # -- presets ---------------------------------------------------------------------
    @classmethod
    def paper(cls, **overrides: Any) -> TrainConfig:
        """The paper's settings (Sec. 4.2) -- the defaults."""
        return cls(**overrides)

    @classmethod
    def fast(cls, **overrides: Any) -> TrainConfig:
        """The small-compute recipe of ``docs/training.md`` (what the release weights use):
        AdamW 1e-3 (0.9, 0.9), batch 8, best-order frame MSE + linear re-blur from the
        start, difference/flow/adversarial terms ramped in over 30-60 % of the steps (the
        Eq. 2 difference term at weight 0.1), DIS
        "fast" flow, and no perceptual term (a VGG19 pass costs several times G's on a CPU,
        and without the pretrained VGG19 file its features carry little; pass
        ``perceptual_weight=1.0`` and ``vgg19_weights=`` to restore Eq. 1 in full). The Gram
        weight stays the paper's 1: on the release run, 1000 (which made the random-VGG Gram
        terms ~20 % of the loss) cost 0.33 dB of validation PSNR against 0. A new G starts
        from NAFNet's initialisation (``GeneratorConfig(init="kaiming")``): with the paper's
        N(0, 0.01) everywhere its gated blocks never open and it trains as a linear filter.
        The rest is the winner of ``benchmarks/learning_speed.py`` ("centre10-deep-ema-kaiming",
        docs/training.md "Learning speed"): G with its extra blocks at 1/8 and 1/16 resolution
        (encoder 1, 1, 2, bottleneck 4, decoder 1, 1, 1: 1.70 M parameters at the same 720p
        inference time), Eq. 1's central MSE weighted 10 (at the paper's 1 the centre frame
        stays at the input and every gain is motion in the outer frames) and an EMA of the
        weights (decay 0.999; what validation scores and ``model/`` holds)."""
        base: dict[str, Any] = dict(
            generator=GeneratorConfig(
                init="kaiming", enc_blocks=(1, 1, 2), middle_blocks=4, dec_blocks=(1, 1, 1)
            ),
            central_weight=10.0, ema_decay=0.999,
            lr=1e-3, lr_min=1e-6, betas=(0.9, 0.9), weight_decay=1e-3, batch_size=8,
            warmup_steps=200, grad_clip=1.0, frames_weight=1.0, reblur_weight=1.0,
            perceptual_weight=0.0, ramp_start=0.3, ramp_end=0.6, flow="dis-fast",
            # Eq. 2's difference term is ~8x the frame MSE on this data: at weight 1 it
            # dominated the loss and cost 0.27 dB of validation PSNR on the release run
            pair_diff_weight=0.1,
        )  # fmt: skip
        base.update(overrides)
        return cls(**base)

    # -- (de)serialisation ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["generator"] = self.generator.to_dict()
        d["betas"] = list(self.betas)
        d["data"] = list(self.data)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training config keys {unknown}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read training config {path}: {exc}") from exc

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)
