"""The training loop: three stages on one weight-shared G, resumable, multi-GPU.

Plain PyTorch. :class:`Trainer` runs one stage (``base`` -> ``gram`` -> ``hepta``, paper
Sec. 3 and 4.2) and is the same for all three: what differs (inputs, losses, the frozen
reference G) is the stage object of :mod:`blurvid.train.stages`. :func:`train` chains
stages, each starting from the previous stage's weights (handed over in memory);
:func:`finetune` is the short in-process API for a user's own data.

Reproducibility: every random choice derives from ``config.seed`` and the step number (data
order, per-step augmentation) or is saved in the checkpoint (RNG states), so ``--resume``
continues bit-identically on CPU. Checkpoints are written atomically every
``ckpt_every`` steps, at the end, and on Ctrl-C / SIGTERM (at the end of the current step;
a second Ctrl-C interrupts at once); the process then exits with code 130.

Multi-GPU / multi-node: launch with ``torchrun --nproc-per-node N -m blurvid.train ...``;
each rank trains on its own shard of every step's samples (a rank-strided, step-addressed
sampler, i.e. a DistributedSampler that can resume mid-epoch) and gradients are averaged by
DDP (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import time
from collections.abc import Iterator, Mapping, Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from .._fs import atomic_write_bytes
from ..data.augment import flip_batch
from ..data.base import _dequantize, _quantize, item_seed
from ..errors import ConfigError, DataError
from ..hub import load_model, save_folder
from ..model import Generator
from . import checkpoint as ckpt
from .config import STAGES, TrainConfig
from .discriminator import PatchDiscriminator, discriminator_step
from .losses import best_order_mse as best_order_mse  # re-exported: older code imports it here
from .losses import reblur_l1 as reblur_l1
from .stages import StepBatch, make_stage

if TYPE_CHECKING:
    from ..data import ValidationSet
    from .device_data import DeviceSampler

__all__ = ["TimeLimitReached", "Trainer", "finetune", "lr_at", "ramp_at", "train"]

CHECKPOINT_NAME = "checkpoint.safetensors"
LOG_NAME = "log.jsonl"


# ----------------------------------------------------------------------------- schedules
def lr_at(step: int, cfg: TrainConfig, rewarm_from: int | None = None) -> float:
    """Linear warm-up, then cosine annealing from ``cfg.lr`` to ``cfg.lr_min`` (Sec. 4.2)
    between ``max(cfg.warmup_steps, cfg.decay_start)`` and ``cfg.steps``; a constant ``cfg.lr``
    between the warm-up and ``cfg.decay_start`` when that is later.

    ``rewarm_from``: the step at which a run was continued from exported weights with fresh
    optimiser moments (:class:`Trainer`'s ``continue_from``); the cosine's value is then ramped
    up again linearly over ``cfg.warmup_steps`` from that step, as Adam's first steps are
    large when its moments are new."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    start = max(cfg.warmup_steps, cfg.decay_start)
    span = max(cfg.steps - start, 1)
    t = min(max(step - start, 0) / span, 1.0)
    lr = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1.0 + math.cos(math.pi * t))
    if rewarm_from is not None and cfg.warmup_steps and 0 <= step - rewarm_from < cfg.warmup_steps:
        lr *= (step - rewarm_from + 1) / cfg.warmup_steps
    return lr


def ramp_at(step: int, cfg: TrainConfig) -> float:
    """Curriculum factor in [0, 1] for the difference, flow and adversarial terms."""
    if cfg.ramp_end <= 0:
        return 1.0
    start, end = cfg.ramp_start * cfg.steps, cfg.ramp_end * cfg.steps
    if step < start:
        return 0.0
    if step >= end or end <= start:
        return 1.0
    return (step - start) / (end - start)


# ----------------------------------------------------------------------------- data order
class StepSampler(Sampler[int]):
    """Step-addressed, rank-strided sampler: position ``k`` of the global stream (``k =
    (step * world + rank) * batch + j``) maps to ``perm_epoch[k % n]`` with one seeded
    permutation per epoch. Starting at any step reproduces the same stream."""

    def __init__(
        self,
        n: int,
        batch: int,
        steps: int,
        start: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        with_epoch: bool = False,
    ):
        if n < 1:
            raise DataError("the training dataset is empty")
        self.n, self.batch, self.steps, self.start = n, batch, steps, start
        self.seed, self.rank, self.world = seed, rank, world
        self.with_epoch = with_epoch  # yield (epoch, index) for an _EpochDataset
        self._perm: tuple[int, torch.Tensor | None] = (-1, None)

    def _index(self, k: int) -> int:
        epoch = k // self.n
        if self._perm[0] != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = (epoch, torch.randperm(self.n, generator=g))
        return int(self._perm[1][k % self.n])  # type: ignore[index]

    def __iter__(self) -> Iterator[Any]:
        for step in range(self.start, self.steps):
            base = (step * self.world + self.rank) * self.batch
            for j in range(self.batch):
                k = base + j
                yield (k // self.n, self._index(k)) if self.with_epoch else self._index(k)

    def __len__(self) -> int:
        return max(self.steps - self.start, 0) * self.batch


class _EpochDataset(Dataset):
    """Serves ``(epoch, index)`` from a :class:`StepSampler` with ``with_epoch=True``: calls
    ``dataset.set_epoch(epoch)`` when the stream enters a new epoch, so seeded datasets
    (banks, frame windows, synthetic shake) draw fresh crops and augmentations every epoch.
    Works in loader workers (each sets its own copy) and after a resume (the epoch follows
    from the stream position)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.epoch: int | None = None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, item: tuple[int, int]):
        epoch, index = item
        if epoch != self.epoch:
            self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
            self.epoch = epoch
        return self.dataset[index]


def augment_batch(blurry: torch.Tensor, frames: torch.Tensor, seed: int, step: int):
    """Per-step, seeded augmentation on the batch: horizontal flip (Sec. 4.2), vertical flip
    and time reversal, each with probability 1/2 per sample (varies crops across epochs)."""
    g = torch.Generator().manual_seed(seed * 7919 + step)
    flips = (torch.rand(blurry.shape[0], 3, generator=g) < 0.5).to(blurry.device)
    return flip_batch(blurry, frames, hflip=flips[:, 0], vflip=flips[:, 1], reverse=flips[:, 2])


def collate_uint8(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """``default_collate`` with the float samples in [0, 1] stored as uint8 ``round(255 x)``
    (``TrainConfig.loader_uint8``; :meth:`Trainer.train_step` turns them back into ``k / 255``)."""
    batch = default_collate(items)
    for key in ("blurry", "frames"):
        if batch[key].is_floating_point():
            batch[key] = _quantize(batch[key])
    return batch


def best_order_psnr(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean over samples of :func:`blurvid.metrics.best_order_psnr` (the PSNR of
    :data:`blurvid.metrics.PAPER`). ``pred, true``: ``(N, T, 3, H, W)``. Kept for older
    code; validation uses :func:`blurvid.scores.validation_scores`."""
    from ..metrics import best_order_psnr as per_sample

    return float(per_sample(pred, true).mean())


# ----------------------------------------------------------------------------- distributed
def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


class _Stop(Exception):
    pass


def _check_frames(what: str, frames: torch.Tensor, num_frames: int) -> None:
    if frames.ndim != 5 or frames.shape[1] != num_frames:
        raise DataError(
            f"{what}: expected frames (B, {num_frames}, 3, H, W) for a G of {num_frames} "
            f"frames, got {tuple(frames.shape)}: make the data with {num_frames} frames per sample"
        )


def _check_trainable(g: Generator, val_data: Any) -> None:
    """A G the losses can train (an odd frame count: a centre frame and pairs around it)
    and validation data with its frame count, before any work."""
    n = g.config.num_frames
    if n < 3 or n % 2 == 0:
        raise ConfigError(
            f"training needs a G with an odd number of frames >= 3 (a centre frame and "
            f"pairs around it), got num_frames={n}"
        )
    if val_data:
        _check_frames("validation data", val_data["frames"], n)


# ----------------------------------------------------------------------------- trainer
class Trainer:
    """One training stage.

    Args:
        config: the stage's :class:`TrainConfig`.
        out: run folder (checkpoint, ``log.jsonl``, samples, ``model/`` export).
        dataset: a dataset of ``{"blurry": (3,h,w), "frames": (T,3,h,w)}`` with ``T`` G's
            ``config.num_frames`` (7 in the paper, any odd number >= 3); default: built
            from ``config.data``.
        val_data: ``{"blurry": (N,3,h,w), "frames": (N,T,3,h,w)}`` (or a
            :class:`~blurvid.train.data.ValidationSet`) scored every
            ``val_every`` steps against the identity and oracle-static references.
        model: train this G itself (in place) instead of ``config.init`` / a fresh one.
        start_from: start from a copy of this G's weights (what loading ``config.init``
            would give, handed over in memory: :func:`train` passes each stage the
            previous stage's result).
        resume: continue from ``out/checkpoint.safetensors``.
        continue_from: continue a run whose full checkpoint is gone from its exported weights
            (a ``blurvid export`` folder such as ``out/latest``, whose metadata names its
            ``steps``): G and its EMA start from those weights, the step counter (so the
            learning-rate schedule and the log) from that step, the best validation so far
            from ``out/best``; the optimiser's moments start fresh, with a new warm-up of
            ``config.warmup_steps`` (see :func:`lr_at`). What a machine that lost the
            27 MB checkpoint (not committed) but kept the 6.6 MB export resumes with.
        progress: show a tqdm bar.
        time_limit_s: stop cleanly (checkpoint saved, ``KeyboardInterrupt`` raised as for
            Ctrl-C, :attr:`timed_out` set) once this many seconds of this ``fit`` have passed:
            for machines lent for a fixed time.
        sampler: with ``config.data_path == "device"``, this
            :class:`~blurvid.train.device_data.DeviceSampler` (e.g. an earlier trainer's, whose
            pools are made) instead of one built from ``config.data``.
    """

    def __init__(
        self,
        config: TrainConfig,
        out: str | os.PathLike,
        *,
        dataset: Dataset | None = None,
        val_data: dict[str, torch.Tensor] | ValidationSet | None = None,
        model: Generator | None = None,
        start_from: Generator | None = None,
        resume: bool = False,
        continue_from: str | os.PathLike | None = None,
        progress: bool = True,
        time_limit_s: float | None = None,
        sampler: DeviceSampler | None = None,
    ) -> None:
        if model is not None and start_from is not None:
            raise ConfigError("pass model= (train it in place) or start_from= (copy it), not both")
        if continue_from is not None and (resume or model is not None or start_from is not None):
            raise ConfigError(
                "continue_from= starts G from exported weights: not with resume=, model= or "
                "start_from="
            )
        self.cfg = config
        self.time_limit_s = time_limit_s
        self.timed_out = False
        #: best validation so far (``val_centre_gain_db``), its step; kept in the checkpoint
        self.best: dict[str, float] = {}
        #: the step a run was continued at from exported weights (a warm-up restarts there)
        self.rewarm_from: int | None = None
        self.out = Path(out)
        self.progress = progress
        self.world, self.rank, local = _dist_info()
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        if config.device:
            self.device = torch.device(config.device)
        elif torch.cuda.is_available():
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.is_main = self.rank == 0
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        # the same seed on every rank: G, D and the frozen reference start identical
        torch.manual_seed(config.seed)

        # -- models ------------------------------------------------------------------
        if model is not None:
            g = model
        elif start_from is not None:
            # a fresh G draws its initial weights from the seeded RNG exactly as loading
            # config.init does, so that D's initial weights (drawn next) are the same
            g = Generator(start_from.config)
            g.load_state_dict(start_from.state_dict())
            g._blurvid_metadata = dict(start_from.metadata)
        elif continue_from is not None:
            g = load_model(continue_from)
        elif config.init:
            g = load_model(config.init)  # "default", a folder or a Hub id
        else:
            g = Generator(config.generator)
        _check_trainable(g, val_data)
        self.G = g.to(self.device).train()
        # EMA of G's weights (config.ema_decay): what validation scores and model/ holds
        self.G_ema: Generator | None = None
        if config.ema_decay > 0:
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        # the stage: inputs, losses, and the frozen reference G of its "prediction" reading
        self.stage = make_stage(config, self.G)
        self.D = PatchDiscriminator().to(self.device) if config.adv_weight > 0 else None
        self.optG = torch.optim.AdamW(
            self.G.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
        self.optD = (
            torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=(0.5, 0.999))
            if self.D
            else None
        )
        torch.manual_seed(config.seed + self.rank)  # from here on, ranks draw independently
        if self.device.type == "cuda" and config.channels_last:
            # torch's stubs lack Module.to(memory_format=...)
            self.G.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.G_train: torch.nn.Module = self.G
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G_train = DDP(self.G, device_ids=ids)
            if self.D is not None:
                self.D = DDP(self.D, device_ids=ids)  # type: ignore[assignment]
        if config.compile and self.device.type == "cuda":
            self.G_train = torch.compile(self.G_train)  # type: ignore[assignment]

        # -- loss networks (where they always were built: VGG19 draws from the RNG) -----
        self.stage.setup(self.device)

        # -- data ----------------------------------------------------------------------
        #: the device-resident data path (``config.data_path == "device"``), else None
        self.sampler: DeviceSampler | None = None
        if sampler is not None and config.data_path != "device":
            raise ConfigError("sampler= is for data_path='device'")
        if sampler is not None:
            self.sampler = sampler
        elif config.data_path == "device":
            if dataset is not None:
                raise ConfigError(
                    "data_path='device' builds its sources from config.data on the device: "
                    "pass no dataset= (or use data_path='workers')"
                )
            from .device_data import DeviceSampler

            self.sampler = DeviceSampler.from_specs(
                config.data, crop=config.crop, device=self.device, seed=config.seed,
                camera=config.camera, pool_size=config.pool_size, progress=progress,
            )  # fmt: skip
        elif dataset is None:
            from .data import dataset_from_specs

            dataset = dataset_from_specs(
                config.data,
                crop=config.crop,
                seed=config.seed,
                bank_size=config.bank_size,
                bank_dir=self.out,
                camera=config.camera,
            )
        self.dataset = dataset
        self.val_data = val_data
        self.step = 0
        if resume:
            self._load(self.out / CHECKPOINT_NAME)
        elif continue_from is not None:
            self._continue(Path(continue_from), g.metadata)
        self._stop_requested = False

    @property
    def num_frames(self) -> int:
        """Frames G predicts per image (``G.config.num_frames``; 7 in the paper)."""
        return self.G.config.num_frames

    @property
    def ref(self) -> Generator | None:
        """The stage's frozen reference G (``"prediction"`` readings), else None."""
        return self.stage.reference

    # -- checkpoints ---------------------------------------------------------------------
    def _unwrap(self, m):
        return getattr(m, "module", m)

    def save(self) -> None:
        """Write ``out/checkpoint.safetensors`` atomically (main rank only)."""
        if not self.is_main:
            return
        ckpt.save_checkpoint(
            self.out / CHECKPOINT_NAME,
            step=self.step,
            modules={
                "G": self.G,
                "G_ema": self.G_ema,
                "D": self._unwrap(self.D) if self.D else None,
                "ref": self.ref,
            },
            optimizers={"optG": self.optG, "optD": self.optD},
            # G's actual architecture (from init, a passed model or the config), so that the
            # checkpoint alone describes its weights
            config=self.cfg.replace(generator=self.G.config).to_dict(),
            extra={"best": self.best, "rewarm_from": self.rewarm_from},
        )

    def _load(self, path: Path) -> None:
        tensors, meta = ckpt.load_checkpoint(path)
        saved = TrainConfig.from_dict(meta["config"])
        if saved.stage != self.cfg.stage:
            raise ConfigError(
                f"checkpoint {path} is from stage {saved.stage!r}, not {self.cfg.stage!r}; "
                f"resume with the same settings or use a new --out"
            )
        ckpt.load_module(self.G, "G", tensors)
        if self.G_ema is not None:
            # a checkpoint written before EMA was switched on starts the average from G
            has_ema = any(k.startswith("G_ema.") for k in tensors)
            if has_ema:
                ckpt.load_module(self.G_ema, "G_ema", tensors)
            else:
                self.G_ema.load_state_dict(self.G.state_dict())
        if self.D is not None:
            ckpt.load_module(self._unwrap(self.D), "D", tensors)
        if self.ref is not None:
            ckpt.load_module(self.ref, "ref", tensors)
        ckpt.load_optimizer(self.optG, "optG", tensors, meta)
        if self.optD is not None:
            ckpt.load_optimizer(self.optD, "optD", tensors, meta)
        ckpt.restore_rng(tensors, meta["rng"])
        self.step = int(meta["step"])
        self.best = dict(meta.get("extra", {}).get("best", {}))
        self.rewarm_from = meta.get("extra", {}).get("rewarm_from")

    def _continue(self, folder: Path, metadata: dict[str, str]) -> None:
        """Step counter and best-so-far for ``continue_from`` (see the class docstring)."""
        steps = metadata.get("steps", "")
        if not steps.isdigit():
            raise ConfigError(
                f"{folder} does not say how many steps its weights were trained (no 'steps' in "
                f"its metadata): continue only from a `blurvid export` or best/ folder of a run, "
                f"or start a new run from it with --init"
            )
        stage = metadata.get("stage")
        if stage is not None and stage != self.cfg.stage:
            raise ConfigError(
                f"{folder} holds weights of stage {stage!r}, not {self.cfg.stage!r}; "
                f"continue with the same stage or start one with --init"
            )
        self.step = self.rewarm_from = int(steps)
        if self.step >= self.cfg.steps:
            raise ConfigError(
                f"{folder} was trained {self.step} steps, the run's --steps is "
                f"{self.cfg.steps}: nothing left to train; raise --steps"
            )
        if (self.out / "best" / "model.safetensors").is_file():
            meta = load_model(self.out / "best").metadata
            with contextlib.suppress(KeyError, ValueError):
                self.best = {"val_centre_gain_db": float(meta["val_centre_gain_db"]),
                             "val_gain_db": float(meta["val_gain_db"]),
                             "step": float(meta["steps"])}  # fmt: skip

    # -- one step --------------------------------------------------------------------------
    def _autocast(self):
        """bf16 autocast of a training step's forward pass and loss: on CUDA with ``amp``, on
        the CPU with ``cpu_amp`` (see :class:`TrainConfig`)."""
        if self.device.type == "cuda" and self.cfg.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if self.device.type == "cpu" and self.cfg.cpu_amp:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _adv_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """The frames D sees (Eq. 3 is on single frames): all ``B*T`` of them, only the centre
        frames, or one frame per sample drawn from (seed, step) -- the same draw for real and
        fake, so D compares like with like. ``(B, T, 3, H, W) -> (N, 3, H, W)``."""
        mode = self.cfg.adv_frames
        if mode == "all":
            return frames.flatten(0, 1)
        if mode == "center":
            return frames[:, frames.shape[1] // 2]
        # one draw for the whole step's global batch; this rank takes its slice, so N ranks of
        # batch B see exactly what one process of batch N*B sees
        b = frames.shape[0]
        g = torch.Generator().manual_seed(self.cfg.seed * 104_729 + self.step)
        idx = torch.randint(frames.shape[1], (b * self.world,), generator=g)[
            self.rank * b : (self.rank + 1) * b
        ]
        return frames[torch.arange(b, device=frames.device), idx.to(frames.device)]

    def _critic(self, pred: torch.Tensor) -> torch.Tensor:
        """D's logits on the predicted frames it judges this step (Eq. 3)."""
        assert self.D is not None  # passed to the stage only with D on
        return self.D(self._adv_frames(pred))

    def train_step(self, blurry: torch.Tensor, frames: torch.Tensor) -> dict[str, float]:
        """One optimisation step of G (and D); returns the logged loss parts."""
        c = self.cfg
        _check_frames("training data", frames, self.num_frames)
        r = ramp_at(self.step, c)
        lr = lr_at(self.step, c, self.rewarm_from)
        for group in self.optG.param_groups:
            group["lr"] = lr
        # on the device (exact flips: the same batch on any device; on a GPU the main process's
        # CPU is left to feed the loader)
        blurry = _dequantize(blurry.to(self.device, non_blocking=True))
        frames = _dequantize(frames.to(self.device, non_blocking=True))
        if self.sampler is None:  # the device path's sampler augments its own batches
            blurry, frames = augment_batch(blurry, frames, c.seed + self.rank, self.step)
        adversarial = self.D is not None and c.adv_weight * r > 0
        batch = StepBatch(blurry, frames, r, self._critic if adversarial else None)
        with self._autocast():
            total, parts, pred = self.stage.loss(self.G_train, batch)
        if not torch.isfinite(total):
            raise FloatingPointError(
                f"loss became {float(total)} at step {self.step}; lower the learning rate"
            )
        self.optG.zero_grad(set_to_none=True)
        total.backward()
        if c.grad_clip:
            gn = torch.nn.utils.clip_grad_norm_(self.G.parameters(), c.grad_clip)
        else:
            gn = torch.nn.utils.get_total_norm(
                [p.grad for p in self.G.parameters() if p.grad is not None]
            )
        self.optG.step()
        if self.G_ema is not None:
            self._update_ema()
        if self.D is not None and self.optD is not None and c.adv_weight * r > 0:
            for group in self.optD.param_groups:
                group["lr"] = lr
            parts["d_loss"] = discriminator_step(
                self.D, self.optD, self._adv_frames(frames), self._adv_frames(pred.detach())
            )
        parts["loss"] = float(total.detach())
        parts["grad_norm"] = float(gn)
        parts["lr"] = lr
        parts["ramp"] = r
        return parts

    @torch.no_grad()
    def _update_ema(self) -> None:
        """``ema = d * ema + (1 - d) * G`` for parameters (buffers are copied), with the
        decay warmed up as ``min(d, (1 + step) / (10 + step))`` so that the average does
        not drag the initial weights along for thousands of steps."""
        assert self.G_ema is not None  # only called with EMA on
        d = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        ema = self.G_ema.state_dict()
        for name, value in self.G.state_dict().items():
            if value.is_floating_point():
                ema[name].lerp_(value.to(ema[name].dtype), 1.0 - d)
            else:
                ema[name].copy_(value)

    def _keep_best(self, val: dict[str, float]) -> None:
        """Export the scored weights to ``out/best/`` when the centre frame's validation
        gain (the deblurring itself) beats every earlier validation of this stage."""
        score = val.get("val_centre_gain_db")
        if score is None or not self.is_main:
            return
        if self.best and score <= self.best["val_centre_gain_db"]:
            return
        self.best = {"val_centre_gain_db": score, "val_gain_db": val["val_gain_db"],
                     "step": float(self.step)}  # fmt: skip
        save_folder(self.model, self.out / "best", metadata={
            "placeholder": "false", "stage": self.cfg.stage, "steps": str(self.step),
            "val_centre_gain_db": f"{score:.4f}", "val_gain_db": f"{val['val_gain_db']:.4f}",
        })  # fmt: skip

    @property
    def model(self) -> Generator:
        """The weights to score and export: the EMA when ``ema_decay > 0``, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    # -- validation ----------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """:func:`blurvid.scores.validation_scores` of G (its EMA when on) on the validation
        set, keys prefixed ``val_``: best-order PSNR over all frames (the ``PAPER``
        protocol's PSNR, without SSIM and EPE to stay cheap) vs the identity and
        oracle-static references, the centre frame's PSNR alone (``val_centre_*``: the
        deblurring itself, which the outer frames' motion cannot inflate), the motion ratio."""
        if not self.val_data:
            return {}
        from ..scores import predict_set, reference_scores, validation_scores

        blurry, frames = self.val_data["blurry"], self.val_data["frames"]
        pred = predict_set(self.model, blurry, device=self.device)
        if not hasattr(self, "_refs"):  # the same for every validation of this run
            self._refs = reference_scores(blurry, frames)
        scores = validation_scores(pred, frames, blurry, references=self._refs)
        return {f"val_{k}": v for k, v in scores.items()}

    def save_samples(self) -> None:
        if not (self.is_main and self.val_data):
            return
        from ..io import save_pngs

        with torch.no_grad():
            self.G.eval()
            blurry = self.val_data["blurry"][:2].to(self.device)
            pred = self.G(blurry).float().clamp(0, 1).cpu()
            self.G.train()
        true = self.val_data["frames"][:2]
        rows = []
        for i in range(pred.shape[0]):
            rows.append(torch.cat([blurry[i].cpu(), *pred[i].unbind(0)], dim=-1))
            rows.append(torch.cat([blurry[i].cpu(), *true[i].unbind(0)], dim=-1))
        grid = torch.cat(rows, dim=-2).unsqueeze(0)
        save_pngs(grid, self.out / "samples", prefix=f"step{self.step:07d}", overwrite=True)

    # -- loop ------------------------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        if self.is_main:
            with open(self.out / LOG_NAME, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _request_stop(self, signum, frame) -> None:
        """SIGTERM or a first Ctrl-C: finish the current step, save, leave cleanly (a
        KeyboardInterrupt in the middle of a step could save a half-updated G/optimiser
        under the old step number). A second Ctrl-C interrupts at once."""
        self._stop_requested = True
        if signum == signal.SIGINT:
            previous = self._old_handlers.get(signal.SIGINT)
            signal.signal(
                signal.SIGINT, previous if previous is not None else signal.default_int_handler
            )

    def _should_stop(self) -> bool:
        """The stop request, agreed by all ranks: a rank that left alone would leave the
        others waiting in the next gradient all-reduce (and rank 0 would never save)."""
        if self.world == 1:
            return self._stop_requested
        flag = torch.tensor([float(self._stop_requested)], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def _batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """The training batches from this step on: the data loader's (worker path), or the
        device sampler's, seeded by ``(seed, rank, step)`` so a resumed run draws the same
        batches. On CUDA the device path waits for each batch to be made, so that the log's
        ``data_s`` is the device's time making data and ``step_s`` its time training."""
        c = self.cfg
        if self.sampler is not None:
            gen = torch.Generator(device=self.device)
            for step in range(self.step, c.steps):
                gen.manual_seed(item_seed(c.seed, self.rank, step))
                position = (step * self.world + self.rank) * c.batch_size
                batch = self.sampler.sample(c.batch_size, gen, position)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                yield batch
            return
        assert self.dataset is not None  # built in __init__ for the worker path
        epochs = hasattr(self.dataset, "set_epoch")
        sampler = StepSampler(len(cast(Sized, self.dataset)), c.batch_size, c.steps, self.step, c.seed, self.rank, self.world,
                              with_epoch=epochs)  # fmt: skip
        g = torch.Generator().manual_seed(c.seed)
        yield from DataLoader(
            _EpochDataset(self.dataset) if epochs else self.dataset, batch_size=c.batch_size, sampler=sampler, num_workers=c.num_workers,
            pin_memory=self.device.type == "cuda", drop_last=True, generator=g,
            persistent_workers=False, collate_fn=collate_uint8 if c.loader_uint8 else None,
        )  # fmt: skip

    def fit(self) -> Generator:
        """Train until ``config.steps``; returns G (in train mode; its EMA, in eval mode, when
        ``ema_decay > 0``). Saves ``out/model/``."""
        from tqdm import tqdm

        c = self.cfg
        if self.is_main:
            atomic_write_bytes(self.out / "train_config.json", c.to_json().encode())
        loader = self._batches()
        self._stop_requested = False
        self._old_handlers: dict[signal.Signals, Any] = {}
        with contextlib.suppress(ValueError):  # not in the main thread: no handlers
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old_handlers[sig] = signal.signal(sig, self._request_stop)
        bar = tqdm(
            total=c.steps,
            initial=self.step,
            desc=f"train {c.stage}",
            disable=not (self.progress and self.is_main),
        )
        t0 = time.time()
        # where the time goes, logged per record: waiting for the loader (data_s) vs the step
        # itself (step_s, synchronised by its float() reads); validation and checkpoints are in
        # "time" only
        data_s = step_s = 0.0
        t_wait = time.perf_counter()
        try:
            for batch in loader:
                t_got = time.perf_counter()
                parts = self.train_step(batch["blurry"], batch["frames"])
                data_s += t_got - t_wait
                step_s += time.perf_counter() - t_got
                self.step += 1
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    rec = {
                        "stage": c.stage,
                        "step": self.step,
                        "time": round(time.time() - t0, 2),
                        "data_s": round(data_s, 3),
                        "step_s": round(step_s, 3),
                        **parts,
                    }
                    self._log(rec)
                    data_s = step_s = 0.0
                    bar.set_postfix(loss=f"{parts['loss']:.4f}", lr=f"{parts['lr']:.1e}")
                if c.val_every and self.step % c.val_every == 0 and self.val_data:
                    val = self.validate()
                    self._log({"stage": c.stage, "step": self.step, **val})
                    self._keep_best(val)
                    bar.write(
                        f"step {self.step}: " + ", ".join(f"{k}={v:.3f}" for k, v in val.items())
                    )
                if c.sample_every and self.step % c.sample_every == 0:
                    self.save_samples()
                if self.step % c.ckpt_every == 0:
                    self.save()
                out_of_time = (
                    self.time_limit_s is not None and time.time() - t0 >= self.time_limit_s
                )
                if out_of_time and self.step < c.steps:  # the last step finishes normally
                    self._stop_requested = self.timed_out = True
                if self._should_stop():
                    raise _Stop
                t_wait = time.perf_counter()
        except (KeyboardInterrupt, _Stop):
            self.save()
            bar.close()
            if self.is_main:
                bar.write(f"stopped at step {self.step}; checkpoint saved, continue with --resume")
            raise KeyboardInterrupt from None
        finally:
            bar.close()
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self.save()
        if self.is_main:
            save_folder(self.model, self.out / "model", metadata={
                "placeholder": "false", "stage": c.stage, "steps": str(self.step),
            })  # fmt: skip
        # the weights are trained now: a later save_pretrained must not copy a placeholder flag
        trained = self.model
        meta = {k: v for k, v in trained.metadata.items() if k != "placeholder"}
        trained._blurvid_metadata = {
            **meta,
            "placeholder": "false",
            "stage": c.stage,
            "steps": str(self.step),
        }
        return trained


# ----------------------------------------------------------------------------- chaining
class TimeLimitReached(KeyboardInterrupt):
    """:func:`train` stopped at its time limit; the checkpoint is saved, ``--resume`` goes on."""

    def __init__(self, stage: str, step: int) -> None:
        super().__init__(f"time limit reached in stage {stage} at step {step}")
        self.stage, self.step = stage, step


def _finished(stage_dir: Path) -> bool:
    """Both files of the stage's export exist (the weights are written first, so a kill
    between the two leaves an unfinished stage that resumes from its checkpoint)."""
    model = stage_dir / "model"
    return (model / "model.safetensors").is_file() and (model / "config.json").is_file()


def check_resumable(out: str | os.PathLike, stages: Sequence[str]) -> None:
    """Raise :class:`DataError` unless ``out`` holds something of ``stages`` to resume (a
    checkpoint or a finished stage): ``--resume`` never silently starts from step 0."""
    out = Path(out)
    if not any((out / s / CHECKPOINT_NAME).is_file() or _finished(out / s) for s in stages):
        raise DataError(
            f"nothing to resume in {out}: no {CHECKPOINT_NAME} and no finished stage of "
            f"{', '.join(stages)} (drop --resume to start fresh, or pass the run's --out)"
        )


def train(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    stages: Sequence[str] = ("base",),
    resume: bool = False,
    continue_from: str | os.PathLike | None = None,
    dataset: Dataset | None = None,
    val_data: dict[str, torch.Tensor] | ValidationSet | None = None,
    progress: bool = True,
    time_limit_s: float | None = None,
    stage_configs: Mapping[str, TrainConfig] | None = None,
) -> Generator:
    """Run ``stages`` in order in ``out/<stage>/``, each from the previous stage's result
    (weight sharing across stages, Sec. 3), handed over in memory: the same weights as its
    ``model/`` export, which the stage's config names as ``init``. ``resume`` skips finished stages
    and continues an interrupted one; with nothing to resume in ``out`` it is an error.
    ``time_limit_s`` bounds the whole call (see :class:`Trainer`); when it runs out,
    :class:`TimeLimitReached` is raised after the checkpoint is saved. ``continue_from``
    (exported weights of the first stage's run, e.g. ``out/base/latest``) continues that stage
    where its full checkpoint is gone (see :class:`Trainer`); a checkpoint that ``resume``
    finds takes precedence. ``stage_configs`` (a recipe file's, :mod:`blurvid.train.recipe`)
    gives stages their own config instead of ``config``; a stage whose own config names an
    ``init`` (e.g. v0.2's stages from ``base/best``) starts from that, not the previous
    stage's result."""
    out = Path(out)
    t_start = time.time()
    g: Generator | None = None
    prev: Path | None = None
    for name in stages:
        if name not in STAGES:
            raise ConfigError(f"unknown stage {name!r}; choose from {STAGES}")
    if resume and stages:
        check_resumable(out, stages)
    for name in stages:
        stage_dir = out / name
        own = (stage_configs or {}).get(name)
        cfg = (own or config).replace(stage=name)
        explicit_init = own is not None and own.init is not None
        if prev is not None and not explicit_init:
            cfg = cfg.replace(init=str(prev))
        prev = stage_dir / "model"
        if resume and _finished(stage_dir):
            g = load_model(prev)
            continue
        can_resume = resume and (stage_dir / CHECKPOINT_NAME).is_file()
        cont = continue_from if name == stages[0] and not can_resume else None
        left = None if time_limit_s is None else max(time_limit_s - (time.time() - t_start), 0.0)
        start = None if explicit_init else g
        trainer = Trainer(cfg, stage_dir, dataset=dataset, val_data=val_data, start_from=start,
                          resume=can_resume, continue_from=cont, progress=progress,
                          time_limit_s=left)  # fmt: skip
        try:
            g = trainer.fit()
        except KeyboardInterrupt:
            if trainer.timed_out:
                raise TimeLimitReached(name, trainer.step) from None
            raise
    if g is None:
        raise ConfigError("no stage to run: pass at least one of " + ", ".join(STAGES))
    return g


def finetune(
    model: Generator,
    dataset: Dataset,
    steps: int = 1000,
    *,
    out: str | os.PathLike | None = None,
    stage: str = "base",
    progress: bool = True,
    **overrides: Any,
) -> Generator:
    """Fine-tune ``model`` on ``dataset`` (``{"blurry", "frames"}`` samples) in place.

    Uses the :meth:`TrainConfig.fast` recipe with a lower learning rate (2e-4) unless
    overridden; ``out`` (default: a temporary folder) receives checkpoints and the export.

    Examples:
        >>> from blurvid.train.data import FrameFolderDataset  # doctest: +SKIP
        >>> model = blurvid.train.finetune(blurvid.load_model(), FrameFolderDataset("clip/"), steps=500)  # doctest: +SKIP
    """
    import tempfile

    defaults: dict[str, Any] = dict(
        lr=2e-4, ramp_start=0.0, ramp_end=0.0, warmup_steps=min(100, steps // 10)
    )
    defaults.update(overrides)
    cfg = TrainConfig.fast(stage=stage, steps=steps, generator=model.config, **defaults)
    with contextlib.ExitStack() as stack:
        folder = out if out is not None else stack.enter_context(tempfile.TemporaryDirectory())
        trained = Trainer(cfg, folder, dataset=dataset, model=model, progress=progress).fit()
    if trained is not model:  # EMA on: the average is the result; hand it over in place
        model.load_state_dict(trained.state_dict())
    return model.eval()
