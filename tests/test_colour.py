"""blurvid.colour: the sRGB curve and luma, in one module that imports nothing of blurvid."""

import numpy as np
import pytest
import torch
from PIL import Image

import blurvid.model
from blurvid import colour


def test_old_import_path_is_the_same_function():
    assert blurvid.model.srgb_to_linear is colour.srgb_to_linear
    assert blurvid.model.linear_to_srgb is colour.linear_to_srgb


def test_curve_known_values_and_continuity():
    x = torch.tensor([0.0, 0.04045, 0.5, 1.0], dtype=torch.float64)
    lin = colour.srgb_to_linear(x)
    assert lin.tolist() == pytest.approx([0.0, 0.04045 / 12.92, 0.21404114, 1.0], abs=1e-7)
    # the two branches meet at the threshold (no jump)
    eps = 1e-9
    lo, hi = colour.srgb_to_linear(
        torch.tensor([0.04045 - eps, 0.04045 + eps], dtype=torch.float64)
    )
    assert float(hi - lo) < 1e-8


def test_clamp_false_extends_beyond_one():
    x = torch.tensor([1.5])
    assert colour.srgb_to_linear(x).item() == 1.0
    assert colour.srgb_to_linear(x, clamp=False).item() == pytest.approx(
        ((1.5 + 0.055) / 1.055) ** 2.4
    )


def test_luma_matches_pillow_convert_L():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    ours = colour.rgb_to_luma(torch.from_numpy(rgb).permute(2, 0, 1).double())[0]
    pil = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float64)
    assert ours.shape == (8, 8)
    assert np.abs(ours.numpy() - pil).max() <= 1.0  # Pillow rounds in fixed point
