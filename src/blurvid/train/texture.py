"""A fixed oriented filter bank: texture features for the Gram loss (Eq. 6-7) without
pretrained weights.

The paper's Gram matrices are taken on ImageNet-trained VGG19 features. blurvid ships no VGG
weights, and its fallback (seeded *random* VGG19 weights, :mod:`blurvid.train.features`) gives
Gram terms that are not a motion-texture statistic (docs/training.md, "The Gram term"). This
module is the alternative that needs no weights at all: a **deterministic, analytic**
multi-scale oriented filter bank, in the spirit of Portilla & Simoncelli's texture statistics
(IJCV 2000: correlations of rectified oriented band-pass responses, across orientations,
scales and -- here -- frames). Selected with ``TrainConfig.gram_features = "filters"``
(``blurvid train --gram-features filters``).

What it computes, for an RGB image in [0, 1]:

1. Three opponent channels: luma ``Y = (R + G + B) / 3``, red-green ``R - G`` and
   blue-yellow ``(R + G) / 2 - B``.
2. A Gaussian pyramid of ``scales`` levels (binomial 5-tap blur, then every second pixel).
3. At every level, a quadrature pair of Gabor filters (7 x 7, sigma 1.5 px, 0.25 cycles/px:
   about one octave wide) at ``orientations`` evenly spaced angles in [0, pi); the even filter
   is made zero-mean, so a flat region gives 0.
4. Rectification: the luma's even and odd responses split into their positive and negative
   halves (``relu(x)``, ``relu(-x)``: 4 maps per orientation, they keep the phase, i.e. edges
   vs lines and their polarity); the two colour channels give the local energy
   ``sqrt(even^2 + odd^2)`` (2 maps per orientation).

So every level has ``6 * orientations`` channels (36 by default) at ``1 / 2^level`` of the
input size; :class:`FilterBankFeatures` returns them as a dict ``{"scale0": ..., ...}``, and
the Gram loss takes one Gram matrix per level. A motion blur along one direction removes the
energy of the filters across it, so the Gram statistic tells a horizontal blur from a vertical
one (tests/train/test_texture.py checks exactly that); random VGG19 features mix orientations.

The filters are built from closed-form expressions (no random numbers, no file), identical on
every machine; the module has no parameters (only non-persistent buffers) and stays in eval
mode, while gradients flow to its input as a loss needs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, InvalidImageError
from .config import GRAM_FEATURES  # re-exported: the kinds TrainConfig.gram_features takes

__all__ = ["FilterBankFeatures", "GRAM_FEATURES", "filter_bank_features"]


_KSIZE = 7
_SIGMA = 1.5
_FREQ = 0.25  # cycles per pixel
_EPS = 1e-4  # of the colour energy sqrt(e^2 + o^2 + eps^2) - eps: a finite gradient at 0


def _gabor_bank(orientations: int) -> torch.Tensor:
    """``(2 * orientations, 1, 7, 7)`` float64 kernels: (even, odd) per orientation, the
    orientation ``k * pi / orientations`` being the direction of the carrier wave (0: the
    filter responds to intensity changes along x, i.e. to vertical edges)."""
    r = torch.arange(_KSIZE, dtype=torch.float64) - (_KSIZE - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    env = torch.exp(-(x * x + y * y) / (2 * _SIGMA**2))
    kernels = []
    for k in range(orientations):
        theta = math.pi * k / orientations
        u = x * math.cos(theta) + y * math.sin(theta)
        even = env * torch.cos(2 * math.pi * _FREQ * u)
        even = even - env * (even.sum() / env.sum())  # zero mean (DC-free), still windowed
        odd = env * torch.sin(2 * math.pi * _FREQ * u)
        for kern in (even, odd):
            kernels.append(kern / kern.abs().sum())  # unit L1: responses in the input's range
    return torch.stack(kernels)[:, None]


def _binomial() -> torch.Tensor:
    b = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16
    return (b[:, None] * b[None, :])[None, None]


class FilterBankFeatures(nn.Module):
    """Rectified multi-scale oriented filter responses (see the module docstring).

    Args:
        scales: pyramid levels (>= 1; 4 by default: 64 px crops give 64, 32, 16, 8 px maps).
        orientations: filter orientations per level (>= 2; 6 by default, every 30 degrees).

    Shape:
        - Input: ``(N, 3, H, W)`` RGB in [0, 1], ``min(H, W) >= 4 * 2^(scales - 1)``.
        - Output: dict ``{"scale{l}": (N, 6 * orientations, H / 2^l, W / 2^l)}`` for
          ``l = 0 .. scales - 1`` (sizes rounded up).
    """

    bank: torch.Tensor  # buffers (typed for mypy)
    blur: torch.Tensor
    opponent: torch.Tensor

    def __init__(self, scales: int = 4, orientations: int = 6) -> None:
        super().__init__()
        if isinstance(scales, bool) or not isinstance(scales, int) or scales < 1:
            raise ConfigError(f"FilterBankFeatures: scales must be an integer >= 1, got {scales!r}")
        if isinstance(orientations, bool) or not isinstance(orientations, int) or orientations < 2:
            raise ConfigError(
                f"FilterBankFeatures: orientations must be an integer >= 2, got {orientations!r}"
            )
        self.scales = scales
        self.orientations = orientations
        bank = _gabor_bank(orientations).float()
        self.register_buffer("bank", bank.repeat(3, 1, 1, 1), persistent=False)  # per channel
        self.register_buffer("blur", _binomial().float().repeat(3, 1, 1, 1), persistent=False)
        opp = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [1.0, -1.0, 0.0], [0.5, 0.5, -1.0]])
        self.register_buffer("opponent", opp[:, :, None, None], persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def channels(self) -> int:
        """Channels of every level's map: ``6 * orientations``."""
        return 6 * self.orientations

    def train(self, mode: bool = True) -> FilterBankFeatures:  # noqa: D102 - always eval
        return super().train(False)

    def _level(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        o = self.orientations
        pad = _KSIZE // 2
        r = F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), self.bank.to(x.dtype), groups=3)
        r = r.reshape(n, 3, o, 2, h, w)  # channel, orientation, (even, odd)
        luma = torch.cat([F.relu(r[:, 0]), F.relu(-r[:, 0])], dim=2)  # (n, o, 4, h, w)
        colour = torch.sqrt(r[:, 1:].pow(2).sum(dim=3) + _EPS * _EPS) - _EPS  # (n, 2, o, h, w)
        return torch.cat([luma.reshape(n, 4 * o, h, w), colour.reshape(n, 2 * o, h, w)], dim=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidImageError(f"filter-bank features expect (N, 3, H, W) RGB, got {got}")
        need = 4 * 2 ** (self.scales - 1)
        if min(x.shape[-2:]) < need:
            raise InvalidImageError(
                f"filter-bank features with {self.scales} scales need images of at least "
                f"{need} x {need} px, got {tuple(x.shape[-2:])}: use larger crops or fewer scales"
            )
        h = F.conv2d(x, self.opponent.to(x.dtype))
        out: dict[str, torch.Tensor] = {}
        for level in range(self.scales):
            if level:
                h = F.conv2d(
                    F.pad(h, (2, 2, 2, 2), mode="reflect"), self.blur.to(x.dtype), groups=3
                )
                h = h[:, :, ::2, ::2]
            out[f"scale{level}"] = self._level(h)
        return out

    def extra_repr(self) -> str:
        return f"scales={self.scales}, orientations={self.orientations}"


def filter_bank_features(scales: int = 4, orientations: int = 6) -> FilterBankFeatures:
    """The fixed filter bank of the Gram loss's ``"filters"`` features (module docstring).

    Examples:
        >>> f = filter_bank_features()
        >>> {k: tuple(v.shape) for k, v in f(torch.rand(1, 3, 64, 64)).items()}["scale3"]
        (1, 36, 8, 8)
    """
    return FilterBankFeatures(scales=scales, orientations=orientations)
