"""interpolate_recursive keeps one time order across its groups although G returns each
group in a random order (issue 19's note): every new group runs from the frame before it to
the frame after it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blurvid import Generator, GeneratorConfig, interpolate_recursive, num_recursive_frames

W = 64


class RandomOrderShift(Generator):
    """An oracle-like G: frame k is the input rolled by ``k - n // 2`` px, the ``n`` frames
    (7 by default) reversed at random per image (seeded): right up to G's arbitrary order."""

    def __init__(self, seed: int, num_frames: int = 7) -> None:
        super().__init__(GeneratorConfig(width=8, num_frames=num_frames))
        self.rng = torch.Generator().manual_seed(seed)
        self.flips = 0
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.config.num_frames
        out = torch.stack([x.roll(k - n // 2, dims=-1) for k in range(n)], dim=1)
        flip = torch.rand(x.shape[0], generator=self.rng) < 0.5
        self.flips += int(flip.sum())
        return torch.where(flip.view(-1, 1, 1, 1, 1), out.flip(1), out)


def blob(x0: float) -> torch.Tensor:
    """A soft vertical bar (Gaussian profile, sigma 4 px) at column ``x0``, (3, 16, W)."""
    col = torch.exp(-((torch.arange(W, dtype=torch.float32) - x0) ** 2) / (2 * 4.0**2))
    return (0.1 + 0.8 * col).expand(3, 16, W).clone()


def centroid(frames: torch.Tensor) -> np.ndarray:
    prof = (frames[:, 0].mean(1) - 0.1).clamp_min(0).numpy()  # (N, W)
    return (prof * np.arange(W)).sum(1) / prof.sum(1)


@pytest.mark.parametrize("n", [7, 5])
def test_depth_2_groups_follow_one_time_order(n):
    """Also for a G of 5 frames: (5 - 1) x 5 = 20 frames, read from the model's config."""
    for seed in range(4):
        g = RandomOrderShift(seed, num_frames=n)
        frames = interpolate_recursive(blob(30.0), 2, model=g)
        assert frames.shape == (num_recursive_frames(2, n), 3, 16, W) == ((n - 1) * n, 3, 16, W)
        assert g.flips >= (n - 1) // 2  # G really returned reversed groups
        xs = centroid(frames)
        if xs[-1] < xs[0]:  # the first level may run either way; one way throughout
            xs = -xs
        groups = xs.reshape(n - 1, n)
        assert np.all(np.diff(groups, axis=1) > 0.4), (seed, groups.round(2))
        assert np.all(np.diff(groups.mean(axis=1)) > 0.4), (seed, groups.round(2))
