"""blurvid.tile_motion: one motion length per tile, in torch alone (no OpenCV)."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from blurvid.tile_motion import tile_motion


def _shift(x: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """``x`` moved by ``(dx, dy)`` px (bilinear; the content of pixel p appears at p + d)."""
    h, w = x.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype),
                            indexing="ij")  # fmt: skip
    grid = torch.stack([2 * (xs - dx) / (w - 1) - 1, 2 * (ys - dy) / (h - 1) - 1], -1)
    return F.grid_sample(x[None], grid[None], align_corners=True, padding_mode="border")[0]


@pytest.mark.parametrize(("dx", "dy"), [(0.6, 0.0), (2.5, -1.5), (0.0, 7.0), (-9.0, 9.0)])
def test_a_known_shift_comes_back_on_every_inner_tile(natural, dx, dy):
    """Sub-pixel to ~13 px: the median tile reads the shift's length within 0.1 px."""
    x = natural(160, 224)
    lengths = tile_motion(x, _shift(x, dx, dy))
    assert lengths.numel() >= 60  # (160-32)/16+1 x (224-32)/16+1 = 9 x 13 tiles, most read
    assert float(lengths.median()) == pytest.approx((dx * dx + dy * dy) ** 0.5, abs=0.1)


def test_the_same_frame_twice_reads_no_motion_and_so_does_noise(natural):
    """Identical frames: 0 on every tile. Frames that differ by noise alone (no motion to
    explain it): the moved tile does not match better than the unmoved one, so 0 too."""
    x = natural(128, 128)
    assert float(tile_motion(x, x).abs().max()) == 0.0
    noisy = x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    assert float(tile_motion(x, noisy).quantile(0.9)) < 0.5


def test_a_flat_frame_and_a_single_edge_cannot_be_read():
    """No texture: no tile. Vertical stripes moved along them: the motion along an edge is
    not visible, so those tiles are not read (rather than read as still)."""
    flat = torch.full((3, 96, 96), 0.5)
    assert tile_motion(flat, flat).numel() == 0
    stripes = (torch.arange(96.0) / 6).sin().mul(0.4).add(0.5).expand(3, 96, 96)
    assert tile_motion(stripes, stripes.roll(5, dims=-2)).numel() == 0


def test_half_moving_half_still_reads_both_halves(natural):
    """The left half moves 4 px, the right half stays: the tiles read 0 and 4."""
    x = natural(128, 256)
    y = x.clone()
    y[..., :128] = _shift(x, 4.0, 0.0)[..., :128]
    lengths = tile_motion(x, y)
    assert float(lengths.quantile(0.2)) < 0.2
    assert float(lengths.quantile(0.8)) == pytest.approx(4.0, abs=0.2)


def test_it_needs_no_opencv_and_frames_of_one_size(natural, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 fails
    x = natural(64, 80)
    assert float(tile_motion(x[None], _shift(x, 2.0, 0.0)[None]).median()) == pytest.approx(
        2.0, abs=0.1
    )
    with pytest.raises(ValueError, match="one size"):
        tile_motion(x, x[:, :32])
