"""The device-resident data path (``TrainConfig.data_path = "device"``, ``--data-path device``):
every training batch drawn and rendered on the training device, with no worker processes.

The worker path renders each sample on the CPU (:mod:`blurvid.data.shake`, one Python call per
sample in ``DataLoader`` workers); a GPU then waits for its CPU (42 samples/s on the one GPU
session so far). Here the same ``--data`` specs become sources that live on the device:

* ``photos:`` / ``stills:`` -- the photos (video stills) in a :class:`~blurvid.data.batched.PhotoStore`,
  rendered by :func:`~blurvid.data.batched.render_shake_batch` (camera shake, sprites, the
  exposure in linear light, camera realism) for the whole batch at once.
* ``leaves:`` -- a pool of ``leaves_pool`` dead-leaves canvases (:func:`~blurvid.data.leaves_image`,
  drawn once at start-up) shaken like photos; their moving shapes become sprites cut from the
  canvases (the worker path draws them analytically per sub-frame).
* ``frames:``, ``video:``, ``gopro:``, ``bank:`` (real footage) -- a pool of ``pool_size``
  samples rendered once by the worker path's dataset and kept as uint8 on the device.

A batch mixes the sources by weight with a fixed share per step (a Weyl sequence over the
sample stream: the long-run mix is the weights' exactly, and no count is read from the
device), then gets the worker path's augmentation (horizontal and vertical flips and time
reversal, each with p = 1/2; pools also 90-degree turns as a bank's), all as batched tensor
operations. :meth:`DeviceSampler.sample` makes no host copy and no host sync.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..data.augment import flip_batch
from ..data.base import _dequantize, _len, item_generator, item_seed
from ..data.batched import PhotoStore, render_shake_batch
from ..data.camera import CameraConfig, check_batchable
from ..data.leaves import LeavesConfig, LeavesDataset, _canvas_side, leaves_image
from ..data.shake import ShakeConfig, SyntheticShakeDataset, build_pyramid
from ..data.split import DataSplit
from ..errors import ConfigError, DataError
from .data import SampleBank

__all__ = ["DeviceSampler", "PoolSource", "ShakeSource", "Source"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


class Source(Protocol):
    """A source of samples on one device."""

    def draw(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...


class ShakeSource:
    """Camera shake of photos in a :class:`~blurvid.data.batched.PhotoStore`."""

    augment_rot90 = False

    def __init__(self, store: PhotoStore, cfg: ShakeConfig, other_sprite_prob: float = 0.5):
        check_batchable(cfg.camera)
        self.store, self.cfg, self.other_sprite_prob = store, cfg, other_sprite_prob

    @classmethod
    def of_leaves(
        cls, canvases: Sequence[torch.Tensor], cfg: LeavesConfig, device: torch.device
    ) -> ShakeSource:
        """Dead-leaves canvases (:func:`~blurvid.data.leaves_image`, side
        ``_canvas_side(cfg)``) shaken like photos at scale 1 by ``cfg.shake``'s camera; its
        moving shapes (count, path length, rotation) become sprites cut from the canvases."""
        shake = cfg.shake.replace(
            photo_scale=(1.0, 1.0),
            sprites=cfg.movers,
            sprite_path_length=cfg.mover_path_length,
            sprite_rotation_deg=cfg.mover_rotation_deg,
        )
        pyramids = [build_pyramid(c, (1.0,)) for c in canvases]
        return cls(PhotoStore(pyramids, device), shake)

    def draw(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        out = render_shake_batch(self.store, self.cfg, n, gen, self.other_sprite_prob)
        return out["blurry"], out["frames"]


class PoolSource:
    """Samples rendered once, kept as uint8 on the device, drawn uniformly with replacement
    (flips, 90-degree turns and time reversal vary them, as for a sample bank)."""

    augment_rot90 = True

    def __init__(self, blurry: torch.Tensor, frames: torch.Tensor, device: torch.device):
        if blurry.dtype != torch.uint8 or frames.dtype != torch.uint8 or len(blurry) == 0:
            raise DataError("PoolSource needs a non-empty uint8 pool (a SampleBank's tensors)")
        self.blurry, self.frames = blurry.to(device), frames.to(device)

    def draw(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self.blurry), (n,), generator=gen, device=self.blurry.device)
        return _dequantize(self.blurry[idx]), _dequantize(self.frames[idx])


def _pool(dataset: Dataset, n: int, progress: bool) -> SampleBank:
    """``n`` samples of ``dataset`` as a bank: its items in order, epoch after epoch (a seeded
    dataset draws new crops and flips each epoch), so a source of few windows still fills it."""
    size = _len(dataset)
    samples = []
    for k in tqdm(range(n), desc="device data pool", unit="sample", disable=not progress):
        if k % size == 0 and hasattr(dataset, "set_epoch"):
            dataset.set_epoch(k // size)
        samples.append(dataset[k % size])
        if k + 1 == size and not hasattr(dataset, "set_epoch"):
            break  # the same items again would add nothing
    return SampleBank.from_samples(samples)


class DeviceSampler:
    """Training batches drawn on one device from weighted sources (see the module docstring).

    Args:
        sources: ``(source, weight)`` pairs (weights > 0).
        device: Where the batches are made.
        augment: Flips and time reversal (p = 1/2 each; pools also 90-degree turns).

    Raises:
        ConfigError: No sources or a weight <= 0.
    """

    def __init__(
        self,
        sources: Sequence[tuple[Source, float]],
        device: str | torch.device,
        augment: bool = True,
    ) -> None:
        if not sources or any(not (w > 0 and math.isfinite(w)) for _, w in sources):
            raise ConfigError("DeviceSampler needs at least one source, each with a weight > 0")
        self.sources = [s for s, _ in sources]
        w = np.array([float(wt) for _, wt in sources])
        self.cum = np.cumsum(w / w.sum())
        self.cum[-1] = 1.0
        self.device = torch.device(device)
        self.augment = augment
        self.position = 0

    @classmethod
    def from_specs(
        cls,
        specs: Sequence[str],
        crop: int,
        device: str | torch.device,
        seed: int = 0,
        camera: CameraConfig | str | None = None,
        split: DataSplit | str | None = None,
        pool_size: int = 256,
        leaves_pool: int | None = None,
        progress: bool = True,
    ) -> DeviceSampler:
        """The sources of ``--data`` specs (the worker path's
        :func:`~blurvid.train.data.dataset_from_specs`, one spec at a time, so the same files
        are held out for validation), moved to ``device``: ``pool_size`` samples per
        real-footage source, ``leaves_pool`` canvases per ``leaves:`` source (default
        ``min(64, pool_size)``).

        Raises:
            ConfigError: A malformed spec, or camera realism with JPEG.
            DataError: A missing or empty source.
        """
        from .data import _parse_spec, check_data_specs, dataset_from_specs

        check_data_specs(specs)
        dev = torch.device(device)
        leaves_pool = min(64, pool_size) if leaves_pool is None else leaves_pool
        sources: list[tuple[Source, float]] = []
        for i, spec in enumerate(specs):
            _, _, weight = _parse_spec(spec)
            sub_seed = item_seed(seed, i)
            ds = dataset_from_specs([spec], crop=crop, seed=sub_seed, camera=camera, split=split,
                                    progress=progress)  # fmt: skip
            src: Source
            if isinstance(ds, SyntheticShakeDataset):
                src = ShakeSource(PhotoStore(ds.photos, dev), ds.cfg, ds.other_sprite_prob)
            elif isinstance(ds, LeavesDataset):  # canvases drawn once on the CPU
                side, photos = _canvas_side(ds.cfg), ds.photos or None
                canvases = [leaves_image(side, ds.cfg, item_generator(sub_seed, j), photos)
                            for j in range(leaves_pool)]  # fmt: skip
                src = ShakeSource.of_leaves(canvases, ds.cfg, dev)
            else:
                bank = _pool(ds, pool_size, progress)
                src = PoolSource(bank.blurry, bank.frames, dev)
            sources.append((src, weight))
        return cls(sources, dev)

    def counts(self, batch_size: int, position: int) -> list[int]:
        """Samples per source for the batch at stream ``position``: source ``k`` takes the
        positions whose Weyl number ``frac((p + 1) * 0.618...)`` falls in its share of [0, 1)
        (host arithmetic only)."""
        p = np.arange(position, position + batch_size, dtype=np.float64) + 1.0
        which = np.searchsorted(self.cum, np.mod(p * _GOLDEN, 1.0), side="right")
        return np.bincount(np.minimum(which, len(self.sources) - 1),
                           minlength=len(self.sources)).tolist()  # fmt: skip

    def sample(
        self, batch_size: int, generator: torch.Generator, position: int | None = None
    ) -> dict[str, torch.Tensor]:
        """One batch: ``{"blurry": (B, 3, S, S), "frames": (B, F, 3, S, S)}`` float32 in [0, 1]
        on the device, from ``generator`` (a ``torch.Generator`` on the device). ``position``:
        the batch's place in the sample stream (the mix's share; default: after the last)."""
        pos = self.position if position is None else int(position)
        self.position = pos + batch_size
        blurry, frames, turnable = [], [], []
        for src, n in zip(self.sources, self.counts(batch_size, pos)):
            if n:
                b, f = src.draw(n, generator)
                blurry.append(b)
                frames.append(f)
                turnable.append(torch.full((n,), bool(getattr(src, "augment_rot90", False)),
                                           device=self.device))  # fmt: skip
        b, f = torch.cat(blurry), torch.cat(frames)
        if self.augment:
            flips = torch.rand(batch_size, 3, generator=generator, device=self.device) < 0.5
            k = torch.randint(4, (batch_size,), generator=generator, device=self.device)
            square = b.shape[-1] == b.shape[-2]
            b, f = flip_batch(b, f, hflip=flips[:, 0], vflip=flips[:, 1], reverse=flips[:, 2],
                              rot90=k * torch.cat(turnable) if square else None)  # fmt: skip
        return {"blurry": b, "frames": f}
