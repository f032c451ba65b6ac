"""The blur-extent estimate (:mod:`blurvid.blur_extent`): known blur lengths come back within
the stated error, sharp images read as sharp, the pyramid reaches long blur, bad input and
bad weights give typed errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from blurvid.blur_extent import (
    BlurExtentNet,
    blur_extent,
    estimate_blur_extent,
    load_blur_extent_net,
    to_length,
    to_target,
)
from blurvid.errors import InvalidImageError, WeightsError

pytestmark = pytest.mark.usefixtures("fast_cpu")


@pytest.fixture(scope="module")
def photo():
    """A validation photo (never seen by the head's fit), 512 px from its centre."""
    from blurvid.data import find_split
    from blurvid.io import read_image

    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
    if not root.is_dir():
        pytest.skip("shared data not found")
    img = read_image(root / find_split().validation_photos[0])
    h, w = img.shape[-2:]
    return img[:, (h - 512) // 2 : (h + 512) // 2, (w - 512) // 2 : (w + 512) // 2]


def shaken(photo, length: float, seed: int = 0) -> tuple[torch.Tensor, float]:
    """The training data's camera shake of ``length`` px on ``photo``, 8-bit; its true arc."""
    from blurvid.data import item_generator, render_shake
    from blurvid.data.base import _dequantize, _quantize
    from blurvid.train.blur_extent import sample_config

    cfg = sample_config(length, realism=False, size=384).replace(photo_scale=(1.0, 1.0))
    s = render_shake(photo, cfg, item_generator(seed, int(length)), debug=True)
    tr = s["trajectory"]
    return _dequantize(_quantize(s["blurry"])), float((tr[1:] - tr[:-1]).norm(dim=1).sum())


def test_a_sharp_photo_reads_as_under_two_pixels(photo):
    assert estimate_blur_extent(photo[:, :384, :384]) < 2.0


@pytest.mark.parametrize("length", [8.0, 16.0])
def test_blur_in_the_training_range_comes_back_within_a_factor_1_5(photo, length):
    blurry, arc = shaken(photo, length)
    est = estimate_blur_extent(blurry)
    assert arc / 1.5 <= est <= arc * 1.5, (est, arc)


def test_long_blur_is_read_at_a_coarser_level_within_a_factor_2(photo):
    blurry, arc = shaken(photo, 80.0)
    be = blur_extent(blurry)
    assert be.level >= 1 and be.levels[0] > 24.0  # full size saturates; a coarser level reads it
    assert arc / 2 <= be.length <= arc * 2, (be.length, arc)


def test_the_estimate_ignores_brightness_and_contrast(photo):
    blurry, _ = shaken(photo, 12.0)
    a = estimate_blur_extent(blurry)
    b = estimate_blur_extent(0.2 + 0.5 * blurry)
    assert abs(math.log2(a / b)) < 0.1


def test_per_tile_lengths_are_in_image_pixels(photo):
    blurry, _ = shaken(photo, 12.0)
    be = blur_extent(blurry)
    assert be.tiles.shape == (4, 4)  # 384 px in 96 px tiles
    scored = be.tiles[~be.tiles.isnan()]
    assert 1 <= len(scored) <= 12
    assert scored.median() == pytest.approx(be.length, rel=0.3)


def test_a_flat_image_has_no_blur():
    assert estimate_blur_extent(torch.full((3, 64, 64), 0.5)) == 0.0


def test_target_and_length_round_trip_and_saturate():
    lengths = torch.tensor([0.0, 1.0, 10.0, 64.0])
    torch.testing.assert_close(to_length(to_target(lengths)), lengths)
    assert to_target(torch.tensor(500.0)) == to_target(torch.tensor(64.0))


@pytest.mark.parametrize("bad, match", [
    (torch.rand(2, 3, 64, 64), "one"), (torch.rand(3, 20, 64), "32x32"),
    ((torch.rand(3, 64, 64) * 255).byte(), "float"),
])  # fmt: skip
def test_bad_images_are_refused_with_a_typed_error(bad, match):
    with pytest.raises(InvalidImageError, match=match):
        estimate_blur_extent(bad)


def test_missing_or_foreign_weights_are_a_typed_error(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(WeightsError, match="not found"):
        load_blur_extent_net(str(tmp_path / "none.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match="cannot read"):
        load_blur_extent_net(str(tmp_path / "junk.safetensors"))
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="BlurExtentNet"):
        load_blur_extent_net(str(tmp_path / "other.safetensors"))


def test_the_head_runs_on_odd_sizes():
    net = BlurExtentNet().eval()
    with torch.no_grad():
        assert net(torch.rand(2, 1, 37, 51)).shape == (2,)
