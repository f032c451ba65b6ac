"""Colour conversions: the sRGB transfer curve (IEC 61966-2-1) and luma.

One home for colour, so that data, losses, the training loop and the model all convert sRGB
the same way without importing one another. Functional, elementwise, any shape; tensors are
float RGB in [0, 1] with channels on axis ``-3`` where a channel axis matters.

>>> import torch
>>> from blurvid.colour import linear_to_srgb, srgb_to_linear
>>> srgb_to_linear(torch.tensor([0.0, 0.5, 1.0])).round(decimals=4)
tensor([0.0000, 0.2140, 1.0000])
>>> x = torch.linspace(0, 1, 11)
>>> bool(torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-6))
True
"""

from __future__ import annotations

import torch

__all__ = ["LUMA", "linear_to_srgb", "rgb_to_luma", "srgb_to_linear"]

#: ITU-R 601-2 luma weights of R, G, B: what Pillow's ``convert("L")`` uses.
LUMA = (0.299, 0.587, 0.114)


def srgb_to_linear(x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """sRGB (IEC 61966-2-1) to linear light, elementwise.

    ``clamp=True`` first clips to [0, 1]; ``clamp=False`` extends the curve beyond 1 (losses on
    unclamped predictions). Both branches are gradient-safe (no NaN from the unused branch).
    """
    if clamp:
        x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Linear light to sRGB, elementwise (``clamp`` as in :func:`srgb_to_linear`)."""
    if clamp:
        x = x.clamp(0.0, 1.0)
    return torch.where(
        x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055
    )


def rgb_to_luma(rgb: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` RGB -> ``(..., 1, H, W)`` luma (ITU-R 601-2, as Pillow's "L").

    >>> rgb_to_luma(torch.ones(3, 1, 1)).flatten().tolist()
    [1.0]
    """
    w = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    return (rgb * w).sum(dim=-3, keepdim=True)
