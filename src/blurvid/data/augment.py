"""Seeded augmentation of samples: crops, flips, 90-degree rotations, time reversal, colour
gains, noise and JPEG re-compression (:class:`Augment`).

Augmentation follows the paper (Sec. 4.2: random 128x128 crops, random horizontal flips) and
adds the other options, all off by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import DataError
from .base import Sample, _rand, _randint
from .camera import jpeg

__all__ = ["Augment", "flip_batch", "random_crop"]


def _check_sample(sample: Sample) -> None:
    b, f = sample["blurry"], sample["frames"]
    if b.ndim != 3 or f.ndim != 4 or b.shape != f.shape[1:]:
        raise DataError(
            f"sample must hold blurry (3, h, w) and frames (F, 3, h, w), got "
            f"{tuple(b.shape)} and {tuple(f.shape)}"
        )


def flip_batch(
    blurry: torch.Tensor,
    frames: torch.Tensor,
    hflip: torch.Tensor | None = None,
    vflip: torch.Tensor | None = None,
    reverse: torch.Tensor | None = None,
    rot90: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample flips of a batch without a Python loop over its samples: ``blurry (B, 3, h,
    w)`` and ``frames (B, F, 3, h, w)`` mirrored where ``hflip`` / ``vflip`` (``(B,)`` bool),
    rotated by ``rot90`` quarter turns (``(B,)`` ints 0-3; square samples only) and ``frames``
    reversed in time where ``reverse``. Exact (values move, none is computed)."""

    def where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(mask.reshape(-1, *([1] * (a.ndim - 1))), a, b)

    if hflip is not None:
        blurry, frames = (
            where(hflip, blurry.flip(-1), blurry),
            where(hflip, frames.flip(-1), frames),
        )
    if vflip is not None:
        blurry, frames = (
            where(vflip, blurry.flip(-2), blurry),
            where(vflip, frames.flip(-2), frames),
        )
    if rot90 is not None:
        b0, f0 = blurry, frames
        for k in (1, 2, 3):
            blurry = where(rot90 == k, torch.rot90(b0, k, dims=(-2, -1)), blurry)
            frames = where(rot90 == k, torch.rot90(f0, k, dims=(-2, -1)), frames)
    if reverse is not None:
        frames = where(reverse, frames.flip(1), frames)
    return blurry, frames


def random_crop(sample: Sample, size: int | tuple[int, int], gen: torch.Generator) -> Sample:
    """Crop ``blurry`` and ``frames`` at the same random location.

    Raises:
        DataError: ``size`` is larger than the sample.
    """
    ch, cw = (size, size) if isinstance(size, int) else size
    h, w = sample["blurry"].shape[-2:]
    if ch > h or cw > w:
        raise DataError(
            f"crop {ch}x{cw} is larger than the {h}x{w} sample; use a smaller crop or "
            f"larger images (spatial_scale, ShakeConfig.size)"
        )
    y0, x0 = _randint(gen, 0, h - ch), _randint(gen, 0, w - cw)
    out = dict(sample)
    out["blurry"] = sample["blurry"][..., y0 : y0 + ch, x0 : x0 + cw]
    out["frames"] = sample["frames"][..., y0 : y0 + ch, x0 : x0 + cw]
    return out


@dataclass(frozen=True)
class Augment:
    """Seeded augmentation of a sample; every option off by default except ``hflip``.

    Applied in this order: crop, flips, 90-degree rotation, time reversal, colour gains (all
    to ``blurry`` and ``frames`` alike), then noise and JPEG re-compression (``blurry`` only).

    Attributes:
        crop: Random crop size (int or (h, w)); ``None`` keeps the size. The paper uses
            128x128 crops (Sec. 4.2).
        hflip: Random horizontal mirror, p = 0.5 (the paper's augmentation, Sec. 4.2).
        vflip: Random vertical mirror, p = 0.5.
        rot90: Random rotation by 0/90/180/270 degrees.
        time_reverse: Reverse the frame order with p = 0.5 (a blurry image does not tell the
            direction of time; the blurry image is unchanged).
        color_jitter: Per-channel multiplicative gains ``exp(U(-c, c))``. Gains on sRGB are
            (nearly) gains in linear light, so the blurry image stays the average of the
            frames; values are clamped to [0, 1].
        noise_sigma: Gaussian noise of sigma ``U(0, noise_sigma)`` added to ``blurry``.
        jpeg_quality: ``(lo, hi)``: with probability ``jpeg_prob`` re-encode ``blurry`` as a
            JPEG of quality ``U{lo..hi}`` (Pillow).
        jpeg_prob: Probability of the JPEG step.
    """

    crop: int | tuple[int, int] | None = None
    hflip: bool = True
    vflip: bool = False
    rot90: bool = False
    time_reverse: bool = False
    color_jitter: float = 0.0
    noise_sigma: float = 0.0
    jpeg_quality: tuple[int, int] | None = None
    jpeg_prob: float = 0.5

    def __call__(self, sample: Sample, gen: torch.Generator) -> Sample:
        """Augment ``sample`` with random draws from ``gen`` (returns a new dict)."""
        _check_sample(sample)
        s = dict(sample)
        if self.crop is not None:
            s = random_crop(s, self.crop, gen)
        b, f = s["blurry"], s["frames"]
        if self.hflip and _rand(gen) < 0.5:
            b, f = b.flip(-1), f.flip(-1)
        if self.vflip and _rand(gen) < 0.5:
            b, f = b.flip(-2), f.flip(-2)
        if self.rot90:
            k = _randint(gen, 0, 3)
            if k:
                b, f = torch.rot90(b, k, dims=(-2, -1)), torch.rot90(f, k, dims=(-2, -1))
        if self.time_reverse and _rand(gen) < 0.5:
            f = f.flip(0)
        if self.color_jitter > 0:
            gains = torch.exp((torch.rand(3, generator=gen) * 2 - 1) * self.color_jitter)[
                :, None, None
            ]
            b, f = (b * gains).clamp(0.0, 1.0), (f * gains).clamp(0.0, 1.0)
        if self.noise_sigma > 0:
            sigma = _rand(gen, 0.0, self.noise_sigma)
            b = (b + sigma * torch.randn(b.shape, generator=gen)).clamp(0.0, 1.0)
        if self.jpeg_quality is not None and _rand(gen) < self.jpeg_prob:
            b = jpeg(b, _randint(gen, *self.jpeg_quality))
        s["blurry"], s["frames"] = b.contiguous(), f.contiguous()
        return s
