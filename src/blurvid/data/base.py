"""What every dataset of :mod:`blurvid.data` shares: the sample convention, per-item seeding,
8-bit quantisation and the safetensors files of samples.

A sample is ``{"blurry": (3, h, w) float32 in [0, 1], "frames": (F, 3, h, w) float32 in [0, 1]}``
with the frames in temporal order (index ``F // 2`` = the centre frame). Items are
deterministic: item ``i`` of a dataset built with seed ``s`` is always the same (every random
draw comes from a generator derived from ``(s, epoch, i)`` by :func:`item_generator`; no
global RNG is used). Call ``set_epoch(e)`` to get different crops/flips in each epoch.
"""

from __future__ import annotations

import os
from collections.abc import Sized
from pathlib import Path
from typing import Union, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .._fs import atomic_path
from ..errors import DataError

__all__ = ["Sample", "item_generator", "item_seed"]

PathLike = Union[str, os.PathLike]

Sample = dict  # {"blurry": (3, h, w), "frames": (F, 3, h, w)}


def item_seed(seed: int, *keys: int) -> int:
    """A well-mixed 63-bit seed from ``(seed, *keys)`` (``numpy.random.SeedSequence``)."""
    entropy = [int(seed) & 0xFFFFFFFFFFFFFFFF] + [int(k) & 0xFFFFFFFFFFFFFFFF for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]) & (2**63 - 1)


def item_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``(seed, *keys)``; no global RNG is touched."""
    g = torch.Generator()
    g.manual_seed(item_seed(seed, *keys))
    return g


def _quantize(x: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8 (rounded)."""
    return (x.clamp(0.0, 1.0) * 255.0).round_().to(torch.uint8)


def _dequantize(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def _resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``(..., 3, H, W)`` float, antialiased bilinear resize by ``scale`` (1.0: unchanged)."""
    if scale == 1.0:
        return x
    h, w = x.shape[-2:]
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    lead = x.shape[:-3]
    y = F.interpolate(
        x.reshape(-1, *x.shape[-3:]),
        size=(nh, nw),
        mode="bilinear",
        antialias=scale < 1.0,
        align_corners=False,
    )
    return y.reshape(*lead, x.shape[-3], nh, nw).clamp_(0.0, 1.0)


def _len(dataset: Dataset) -> int:
    """``len(dataset)``: torch's ``Dataset`` does not declare ``__len__`` (map-style ones do)."""
    return len(cast(Sized, dataset))


def _randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]``."""
    return int(lo) if hi <= lo else int(torch.randint(lo, hi + 1, (), generator=gen))


def _rand(gen: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return float(lo + (hi - lo) * torch.rand((), generator=gen, dtype=torch.float64))


class _SeededDataset(Dataset):
    """Per-item generators from ``(seed, epoch, index)``."""

    seed: int = 0
    epoch: int = 0

    def __len__(self) -> int:  # every dataset says its length
        raise NotImplementedError

    def _check_index(self, index: int) -> None:
        """``IndexError`` for an index outside ``[0, len(self))`` (the end of iteration)."""
        if not 0 <= index < len(self):
            raise IndexError(index)

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws of every item (call before each epoch's iterator)."""
        self.epoch = int(epoch)

    def _generator(self, index: int, stream: int = 0) -> torch.Generator:
        return item_generator(self.seed, self.epoch, index, stream)

    def _stream_seed(self) -> int:
        """The seed of the rendered sample stream: ``seed`` in epoch 0 (item ``i`` is then
        ``render_*(..., item_generator(seed, i))``), mixed with the epoch after it."""
        return self.seed if self.epoch == 0 else item_seed(self.seed, self.epoch)


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def _load_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    if not path.is_file():
        raise DataError(f"{path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises SafetensorError / OSError
        raise DataError(f"{path} is not a readable safetensors file ({exc})") from exc
    return tensors, meta
