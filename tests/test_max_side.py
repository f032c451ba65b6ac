"""Working resolution (``max_side``): the size the frames come back at, for every input kind,
the downscale itself, the memory plan at the working size, the checks, and the CLI flag."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import one_error_line
from PIL import Image

from blurvid import (
    ConfigError,
    FrameExtractor,
    OutputTooLargeError,
    cli,
    extract_frames,
    interpolate_recursive,
)
from blurvid.api import working_size

pytestmark = pytest.mark.usefixtures("fast_cpu")


# --------------------------------------------------------------------------- working_size
@pytest.mark.parametrize(
    "h, w, max_side, expected",
    [
        (720, 1280, 512, (288, 512)),  # landscape: the long side becomes max_side
        (1280, 720, 512, (512, 288)),  # portrait
        (480, 752, 512, (327, 512)),  # 326.8 rounds up
        (1000, 1000, 999, (999, 999)),
        (300, 400, 512, (300, 400)),  # already small: unchanged
        (300, 400, 400, (300, 400)),  # equal: unchanged
        (300, 400, None, (300, 400)),  # None: full size
    ],
)
def test_working_size_known_answers(h, w, max_side, expected):
    assert working_size(h, w, max_side) == expected


def test_working_size_keeps_the_aspect_ratio_within_rounding():
    rng = np.random.default_rng(0)
    for _ in range(500):
        h, w = (int(v) for v in rng.integers(16, 5000, size=2))
        max_side = int(rng.integers(16, 3000))
        if max(h, w) > max_side and min(h, w) * max_side / max(h, w) < 7.5:
            with pytest.raises(ConfigError, match="under blurvid's minimum of 8"):
                working_size(h, w, max_side)
            continue
        nh, nw = working_size(h, w, max_side)
        if max(h, w) <= max_side:
            assert (nh, nw) == (h, w)
            continue
        assert max(nh, nw) == max_side
        scale = max_side / max(h, w)  # the short side is the nearest pixel to the exact one
        assert abs(min(nh, nw) - min(h, w) * scale) <= 0.5
        assert (nh >= nw) == (h >= w)


@pytest.mark.parametrize(
    "value, fragment",
    [
        (15, "at least 16 pixels"),
        (0, "at least 16 pixels"),
        (-512, "at least 16 pixels"),
        (True, "must be an integer long side"),
        (512.0, "must be an integer long side"),
        ("512", "must be an integer long side"),
    ],
)
def test_bad_max_side_is_refused_with_what_to_pass(tiny_model, value, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        working_size(100, 100, value)
    assert "None" in str(info.value)  # the message says how to get full size
    # checked at the boundary, before the image is read: a missing file is not reported
    with pytest.raises(ConfigError, match=fragment):
        extract_frames("/no/such/file.png", model=tiny_model, max_side=value)
    with pytest.raises(ConfigError, match=fragment):
        interpolate_recursive("/no/such/file.png", 2, model=tiny_model, max_side=value)
    with pytest.raises(ConfigError, match=fragment):
        FrameExtractor(tiny_model, max_side=value)


def test_numpy_integers_are_accepted(tiny_model):
    assert working_size(40, 60, np.int64(30)) == (20, 30)


def test_an_image_too_elongated_for_max_side_names_the_smallest_usable_value(tiny_model):
    with pytest.raises(ConfigError, match=r"shrink the 400x10 image to 16x0 .* max_side >= 320"):
        extract_frames(torch.rand(3, 10, 400), model=tiny_model, max_side=16)
    assert working_size(10, 400, 320) == (8, 320)  # the value it names works


# --------------------------------------------------------------------------- every input kind
@pytest.fixture
def photo_u8(rng) -> np.ndarray:
    """A 36x60 (H x W) random RGB image: max_side=30 gives 18x30."""
    return (rng.random((36, 60, 3)) * 255).astype(np.uint8)


def test_output_size_for_every_input_kind(tiny_model, photo_u8, tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(photo_u8).save(path)
    tensor = torch.from_numpy(photo_u8).permute(2, 0, 1).float() / 255
    kw = dict(model=tiny_model, max_side=30)

    frames = extract_frames(path, **kw)
    assert [f.size for f in frames] == [(30, 18)] * 7
    frames = extract_frames(Image.fromarray(photo_u8), **kw)
    assert [f.size for f in frames] == [(30, 18)] * 7
    out = extract_frames(photo_u8, **kw)
    assert out.shape == (7, 18, 30, 3) and out.dtype == np.uint8
    out = extract_frames(photo_u8.astype(np.float32) / 255, **kw)
    assert out.shape == (7, 18, 30, 3) and out.dtype == np.float32
    assert extract_frames(tensor, **kw).shape == (7, 3, 18, 30)
    batch = torch.stack([tensor, tensor.flip(-1)])
    assert extract_frames(batch, **kw).shape == (2, 7, 3, 18, 30)
    assert extract_frames(tensor.double(), **kw).dtype == torch.float64  # dtype kept


def test_g_runs_on_the_antialiased_downscale(tiny_model, perturbed, photo_u8):
    g = perturbed(tiny_model)
    x = torch.from_numpy(photo_u8).permute(2, 0, 1)[None].float() / 255
    small = F.interpolate(x, size=(18, 30), mode="bilinear", antialias=True, align_corners=False)
    expected = extract_frames(small, model=g)
    torch.testing.assert_close(extract_frames(x, model=g, max_side=30), expected)
    # a plain (aliasing) bilinear resize gives other frames: the filter is part of the result
    plain = F.interpolate(x, size=(18, 30), mode="bilinear", align_corners=False)
    assert (extract_frames(plain, model=g) - expected).abs().max() > 1e-3


def test_no_op_when_the_image_is_already_small(tiny_model, perturbed, photo_u8):
    g = perturbed(tiny_model)
    full = extract_frames(photo_u8, model=g, max_side=None)
    assert full.shape == (7, 36, 60, 3)
    for max_side in (60, 61, 4096):
        np.testing.assert_array_equal(extract_frames(photo_u8, model=g, max_side=max_side), full)


def test_frame_extractor_agrees_with_extract_frames(tiny_model, perturbed):
    g = perturbed(tiny_model)
    x = torch.rand(2, 3, 40, 24, generator=torch.Generator().manual_seed(3))
    module = FrameExtractor(g, max_side=20)
    torch.testing.assert_close(module(x), extract_frames(x, model=g, max_side=20))
    assert module(x).shape == (2, 7, 3, 20, 12)
    assert FrameExtractor(g, depth=2, max_side=20)(x).shape == (2, 42, 3, 20, 12)


# --------------------------------------------------------------------------- recursion and memory
def test_recursion_at_the_working_size_and_planned_for_it(tiny_model):
    x = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    # depth 2 at 64x64: 4*3*64*64*(42 + 7) bytes = 2.4 MB; at 32x32 a quarter of it
    with pytest.raises(OutputTooLargeError, match="of 64x64"):
        interpolate_recursive(x, 2, model=tiny_model, memory_limit="1M")
    frames = interpolate_recursive(x, 2, model=tiny_model, memory_limit="1M", max_side=32)
    assert frames.shape == (42, 3, 32, 32)
    with pytest.raises(OutputTooLargeError, match="of 32x32"):  # the message names that size
        interpolate_recursive(x, 2, model=tiny_model, memory_limit="500K", max_side=32)


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def model_dir(tmp_path, tiny_model):
    folder = tmp_path / "tiny-model"
    tiny_model.save_pretrained(folder)
    return folder


def test_cli_max_side_writes_frames_at_the_working_size(tmp_path, photo_u8, model_dir, capsys):
    path = tmp_path / "in.png"
    Image.fromarray(photo_u8).save(path)
    args = ["extract", str(path), "--model", str(model_dir), "--format", "png"]
    assert cli.main([*args, "-o", str(tmp_path / "a"), "--max-side", "30"]) == 0
    pngs = sorted((tmp_path / "a" / "in").glob("*.png"))
    assert len(pngs) == 7 and {Image.open(p).size for p in pngs} == {(30, 18)}
    assert "in.png: 7 frames of 30x18 ->" in capsys.readouterr().out  # the size is said
    assert cli.main([*args, "-o", str(tmp_path / "b"), "--max-side", "30", "--depth", "2"]) == 0
    pngs = sorted((tmp_path / "b" / "in").glob("*.png"))
    assert len(pngs) == 42 and {Image.open(p).size for p in pngs} == {(30, 18)}
    lines = capsys.readouterr().out.splitlines()  # the plan is for the working size
    assert lines[0].endswith("in.png: depth 2 -> 42 frames of 30x18, about 317.5 kB in memory")
    assert lines[-1].startswith(f"{path}: 42 frames of 30x18 ->")


def test_cli_bad_max_side_one_line_error_before_any_work(tmp_path, small_png_path, capsys):
    out = tmp_path / "never"
    args = ["extract", str(small_png_path), "-o", str(out), "--model", str(tmp_path / "none")]
    assert cli.main([*args, "--max-side", "8"]) == 1
    assert "--max-side must be at least 16 pixels" in one_error_line(capsys.readouterr().err)
    assert not out.exists()  # refused before the model (a missing folder) is even looked at


@pytest.fixture
def small_png_path(tmp_path, image_u8):
    path = tmp_path / "small.png"
    Image.fromarray(image_u8).save(path)
    return path


# --------------------------------------------------------------------------- video
def test_slow_motion_writes_the_video_at_the_working_size(tmp_path, tiny_model, capsys):
    pytest.importorskip("av")
    from test_video import square, write_clip

    from blurvid.video import probe_video, slow_motion

    clip = write_clip(tmp_path / "in.mp4", [square(i) for i in range(3)])  # 80x48
    out = tmp_path / "out.mp4"
    result = slow_motion(clip, out, model=tiny_model, max_side=40, progress=False)
    info = probe_video(out)
    assert (info.width, info.height, info.frames) == (40, 24, 21) == (40, 24, result.output_frames)
    with pytest.raises(ConfigError, match="at least 16 pixels"):  # before the clip is read
        slow_motion(tmp_path / "missing.mp4", tmp_path / "o.mp4", model=tiny_model, max_side=4)
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    args = ["slowmo", str(clip), "-o", str(tmp_path / "cli.mp4"), "--model", str(folder), "-q"]
    assert cli.main([*args, "--max-side", "40"]) == 0
    written = probe_video(tmp_path / "cli.mp4")
    assert (written.width, written.height) == (40, 24)
    assert cli.main([*args, "--max-side", "4", "--overwrite"]) == 1
    assert "--max-side must be at least 16" in one_error_line(capsys.readouterr().err)
