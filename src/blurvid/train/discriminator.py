"""The GAN discriminator D of the adversarial loss (paper Eq. 3, Eq. 5).

The paper says only that D "classifies a recovered frame to determine whether or not the
reconstructed frame is a real image". We use a PatchGAN (Isola et al., pix2pix, paper ref.
[38]) on **single frames**: it returns a map of logits, one per overlapping patch, which is
cheap, works at any size above a minimum, and judges texture sharpness, the detail the
paper's adversarial term is there for. Weights are drawn from N(0, 0.01) as in the paper's
Sec. 4.2 ("model weights are initialized from a normal distribution with zero mean and a
standard deviation of 0.01"); ``init_std=0.02`` gives the DCGAN/pix2pix habit.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from ..errors import ConfigError, InvalidImageError
from .losses import discriminator_loss

__all__ = ["PatchDiscriminator", "discriminator_step"]


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator on single frames, returning logits (no sigmoid).

    Layout (pix2pix): ``n_layers`` stride-2 4x4 convs (width, 2 width, 4 width, ... capped at
    8 width), one stride-1 4x4 conv, and a stride-1 4x4 conv to one channel; LeakyReLU(0.2)
    between them and an optional norm after every conv but the first and the last. The
    receptive field is 70x70 px for ``n_layers=3``.

    Args:
        in_channels: channels of a frame (3 for RGB).
        width: channels of the first conv.
        n_layers: number of stride-2 convs (>= 1).
        norm: ``"instance"`` (affine InstanceNorm, the default: batches are small, 4 in the
            paper) or ``"none"``.
        spectral_norm: wrap every conv in spectral normalisation (Miyato et al. 2018).
        init_std: standard deviation of the normal init of conv weights (biases are zero).

    Shape:
        - Input: ``(B, C, H, W)`` or a stack of frames ``(B, T, C, H, W)``, float in [0, 1],
          with ``H, W >= 3 * 2**n_layers`` (24 for the default).
        - Output: ``(B, 1, H', W')`` logits with ``H' = H // 2**n_layers - 2`` (and the same
          for W), or ``(B, T, 1, H', W')`` for a stack.

    Examples:
        >>> d = PatchDiscriminator(width=8)
        >>> d(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 1, 2, 2])
        >>> d(torch.rand(2, 7, 3, 32, 32)).shape
        torch.Size([2, 7, 1, 2, 2])
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 32,
        n_layers: int = 3,
        *,
        norm: str = "instance",
        spectral_norm: bool = False,
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        if int(in_channels) < 1 or int(width) < 1 or int(n_layers) < 1:
            raise ConfigError(
                f"PatchDiscriminator needs in_channels, width and n_layers >= 1, got "
                f"{in_channels}, {width}, {n_layers}"
            )
        if norm not in ("instance", "none"):
            raise ConfigError(f"norm must be 'instance' or 'none', got {norm!r}")
        if not init_std > 0:
            raise ConfigError(f"init_std must be > 0, got {init_std}")
        self.in_channels, self.n_layers = int(in_channels), int(n_layers)

        def conv(cin: int, cout: int, stride: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, kernel_size=4, stride=stride, padding=1)

        chans = [int(in_channels)] + [int(width) * min(2**i, 8) for i in range(self.n_layers + 1)]
        convs = [conv(chans[i], chans[i + 1], 2) for i in range(self.n_layers)]
        convs.append(conv(chans[-2], chans[-1], 1))
        convs.append(conv(chans[-1], 1, 1))
        for c in convs:
            nn.init.normal_(c.weight, 0.0, float(init_std))
            assert c.bias is not None  # conv() builds them with a bias
            nn.init.zeros_(c.bias)
        if spectral_norm:
            # spectral_norm parametrizes each conv in place and returns it (still a Conv2d)
            convs = [cast(nn.Conv2d, nn.utils.parametrizations.spectral_norm(c)) for c in convs]
        layers: list[nn.Module] = []
        for i, c in enumerate(convs):
            layers.append(c)
            last = i == len(convs) - 1
            if 0 < i and not last and norm == "instance":
                layers.append(nn.InstanceNorm2d(chans[i + 1], affine=True))
            if not last:
                layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)

    @property
    def min_size(self) -> int:
        """The smallest height/width accepted (output at least 1x1)."""
        return 3 * 2**self.n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim not in (4, 5):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidImageError(f"D expects (B, C, H, W) or (B, T, C, H, W) frames, got {got}")
        if x.shape[-3] != self.in_channels or min(x.shape[-2:]) < self.min_size:
            raise InvalidImageError(
                f"D expects {self.in_channels} channels and H, W >= {self.min_size}, got "
                f"{tuple(x.shape)}"
            )
        if x.ndim == 5:
            b, t = x.shape[:2]
            y = self.net(x.reshape(b * t, *x.shape[2:]))
            return y.reshape(b, t, *y.shape[1:])
        return self.net(x)


def discriminator_step(
    D: nn.Module,
    opt: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
) -> float:
    """One update of D with the non-saturating GAN loss (Eq. 3, D side).

    Computes ``discriminator_loss(D(real), D(fake.detach()))``, back-propagates into D only
    (``fake`` is detached, so G gets no gradient and its graph is left intact), and steps
    ``opt``. Gradients of D are zeroed first.

    Args:
        D: the discriminator (e.g. :class:`PatchDiscriminator`).
        opt: optimiser over ``D``'s parameters.
        real: real frames ``(B, 3, H, W)`` or ``(B, T, 3, H, W)`` in [0, 1].
        fake: generated frames of the same layout (detached here).

    Returns:
        The D loss *before* the update, as a Python float.
    """
    opt.zero_grad(set_to_none=True)
    loss = discriminator_loss(D(real), D(fake.detach()))
    loss.backward()
    opt.step()
    return float(loss.detach())
