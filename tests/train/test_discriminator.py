"""PatchGAN discriminator: shapes, init, checks, and that discriminator_step learns."""

from __future__ import annotations

import pytest
import torch

from blurvid.errors import ConfigError, InvalidImageError
from blurvid.train.discriminator import PatchDiscriminator, discriminator_step
from blurvid.train.losses import discriminator_loss


@pytest.mark.parametrize(
    ("n_layers", "size", "out"),
    [(3, 32, 2), (3, 64, 6), (2, 32, 6), (1, 16, 6)],
)
def test_output_shape(n_layers, size, out):
    d = PatchDiscriminator(width=8, n_layers=n_layers)
    y = d(torch.rand(2, 3, size, size))
    assert y.shape == (2, 1, out, out)  # H // 2**n - 2
    assert d.min_size == 3 * 2**n_layers


def test_frame_stack_and_spectral_norm():
    d = PatchDiscriminator(width=8, spectral_norm=True, norm="none").eval()  # eval: no power step
    x = torch.rand(2, 7, 3, 32, 32)
    y = d(x)
    assert y.shape == (2, 7, 1, 2, 2)
    torch.testing.assert_close(y[:, 4], d(x[:, 4]))


def test_init_std_and_bias():
    torch.manual_seed(0)
    d = PatchDiscriminator(width=32, init_std=0.01)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5
    w = torch.cat([c.weight.flatten() for c in convs])
    assert w.std().item() == pytest.approx(0.01, rel=0.05)
    assert all(c.bias.abs().sum() == 0 for c in convs)


def test_bad_inputs():
    d = PatchDiscriminator(width=8)
    with pytest.raises(InvalidImageError):
        d(torch.rand(1, 3, 16, 16))  # below the 24 px minimum
    with pytest.raises(InvalidImageError):
        d(torch.rand(1, 1, 32, 32))
    with pytest.raises(InvalidImageError):
        d(torch.rand(3, 32, 32))
    with pytest.raises(ConfigError):
        PatchDiscriminator(n_layers=0)
    with pytest.raises(ConfigError):
        PatchDiscriminator(norm="batch")


def test_discriminator_step_learns_easy_problem():
    torch.manual_seed(0)
    d = PatchDiscriminator(width=8)
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(0)
    real = 0.7 + 0.3 * torch.rand(4, 3, 32, 32, generator=g)  # bright, noisy
    fake = torch.full((4, 3, 32, 32), 0.2, requires_grad=True)  # dark, flat "G output"
    losses = [discriminator_step(d, opt, real, fake) for _ in range(15)]
    assert losses[0] == pytest.approx(2 * torch.log(torch.tensor(2.0)).item(), abs=0.05)
    with torch.no_grad():
        final = discriminator_loss(d(real), d(fake)).item()
    assert final < 0.5 * losses[0]
    assert losses[-1] < losses[0]
    assert fake.grad is None  # fake was detached: no gradient to G
