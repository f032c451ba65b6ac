"""Tests of blurvid.api: extract_frames, interpolate_recursive, FrameExtractor, tiling."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import blurvid
from blurvid import (
    ConfigError,
    FrameExtractor,
    PlaceholderWeightsWarning,
    extract_frames,
    interpolate_recursive,
    num_recursive_frames,
)
from blurvid import api as api_module
from blurvid.api import run_generator

pytestmark = pytest.mark.usefixtures("fast_cpu")


def smooth_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A smooth random RGB image ``(1, 3, h, w)`` spanning [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = F.avg_pool2d(torch.rand(1, 3, h + 8, w + 8, generator=g), 9, 1)[..., :h, :w]
    return (x - x.min()) / (x.max() - x.min())


class Spy:
    """Records every batch the generator sees (a copy), and whether inference mode was on."""

    def __init__(self, model):
        self.model = model
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []
        self.inference_mode: list[bool] = []
        self.training: list[bool] = []
        self._forward = model.forward
        model.forward = self  # instance attribute: nn.Module.__call__ calls self.forward

    def __call__(self, x):
        self.inputs.append(x.clone())
        self.inference_mode.append(torch.is_inference_mode_enabled())
        self.training.append(self.model.training)
        y = self._forward(x)
        self.outputs.append(y.clone())
        return y


# --------------------------------------------------------------------------- input kinds
def test_path_gives_seven_pil_images_of_the_input_size(tiny_model, png_path):
    frames = extract_frames(png_path, model=tiny_model)
    assert isinstance(frames, list) and len(frames) == 7
    assert all(
        isinstance(f, Image.Image) and f.mode == "RGB" and f.size == (30, 20) for f in frames
    )
    # str paths too
    assert len(extract_frames(str(png_path), model=tiny_model)) == 7


def test_pil_input(tiny_model, image_u8):
    frames = extract_frames(Image.fromarray(image_u8), model=tiny_model)
    assert len(frames) == 7 and frames[0].size == (30, 20)
    # the seeded model predicts small residuals: frames look like the input
    diff = np.abs(np.asarray(frames[3], dtype=float) - image_u8.astype(float))
    assert diff.mean() < 5


def test_numpy_uint8(tiny_model, image_u8):
    out = extract_frames(image_u8, model=tiny_model)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (7, 20, 30, 3)


def test_numpy_uint16(tiny_model, image_u8):
    arr = image_u8.astype(np.uint16) * 257
    out = extract_frames(arr, model=tiny_model)
    assert out.dtype == np.uint16 and out.shape == (7, 20, 30, 3)
    assert out.max() > 255  # really 16-bit values, not 8-bit ones in a uint16 array


def test_numpy_float32(tiny_model, image_u8):
    arr = image_u8.astype(np.float32) / 255
    out = extract_frames(arr, model=tiny_model)
    assert out.dtype == np.float32 and out.shape == (7, 20, 30, 3)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_numpy_kinds_agree(tiny_model, image_u8):
    u8 = extract_frames(image_u8, model=tiny_model)
    f32 = extract_frames(image_u8.astype(np.float32) / 255, model=tiny_model)
    np.testing.assert_allclose(u8 / 255.0, f32, atol=0.5 / 255 + 1e-6)


def test_tensor_3d(tiny_model):
    out = extract_frames(torch.rand(3, 20, 30), model=tiny_model)
    assert out.shape == (7, 3, 20, 30) and out.dtype == torch.float32


def test_tensor_4d(tiny_model):
    out = extract_frames(torch.rand(2, 3, 20, 30), model=tiny_model)
    assert out.shape == (2, 7, 3, 20, 30)


def test_tensor_float64_keeps_dtype(tiny_model):
    out = extract_frames(torch.rand(3, 16, 16, dtype=torch.float64), model=tiny_model)
    assert out.dtype == torch.float64 and out.shape == (7, 3, 16, 16)


def test_values_are_clamped_to_unit_range(tiny_model, perturbed):
    model = perturbed(tiny_model)  # raw outputs far outside [0, 1]
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        raw = model(x)
    assert raw.min() < 0 and raw.max() > 1
    out = extract_frames(x, model=model)
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out, raw.clamp(0, 1))


def test_pil_and_tensor_paths_agree(tiny_model, png_path):
    pil = extract_frames(png_path, model=tiny_model)
    x = torch.from_numpy(np.array(Image.open(png_path))).permute(2, 0, 1).float() / 255
    ten = extract_frames(x, model=tiny_model)
    back = (
        torch.from_numpy(np.stack([np.asarray(f) for f in pil])).permute(0, 3, 1, 2).float() / 255
    )
    assert (back - ten).abs().max() <= 0.5 / 255 + 1e-6


def test_exif_rotated_jpeg_gives_rotated_frames(tiny_model, tmp_path, image_u8):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = tmp_path / "rotated.jpg"
    Image.fromarray(image_u8).save(path, exif=exif)
    assert Image.open(path).size == (30, 20)  # stored landscape
    frames = extract_frames(path, model=tiny_model)
    assert frames[0].size == (20, 30)  # displayed portrait


@pytest.mark.parametrize("mode", ["RGBA", "L", "LA", "P", "I;16"])
def test_other_png_modes_are_converted(tiny_model, tmp_path, image_u8, mode):
    img = Image.fromarray(image_u8)
    if mode == "I;16":
        img = Image.fromarray(image_u8[..., 0].astype(np.uint16) * 257)
    else:
        img = img.convert(mode)
    path = tmp_path / f"{mode.replace(';', '')}.png"
    img.save(path)
    frames = extract_frames(path, model=tiny_model)
    expected = "L" if mode in ("L", "LA") else "RGB"  # greyscale files give greyscale frames
    assert len(frames) == 7 and frames[0].mode == expected and frames[0].size == (30, 20)
    if mode in ("L", "LA", "I;16"):  # gray in, (almost) gray out: channels agree on the input
        x = blurvid.io.read_image(path)
        assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])


def test_greyscale_in_greyscale_out(tiny_model, image_u8):
    """PIL "L" -> "L" frames, numpy (H, W) -> (N, H, W): the luma of the RGB frames the
    model makes of the same image in colour (to one 8-bit level)."""
    grey = Image.fromarray(image_u8).convert("L")
    colour = extract_frames(grey.convert("RGB"), model=tiny_model)
    frames = extract_frames(grey, model=tiny_model)
    assert [(f.mode, f.size) for f in frames] == [("L", (30, 20))] * 7
    arr = extract_frames(np.asarray(grey), model=tiny_model)
    assert arr.shape == (7, 20, 30) and arr.dtype == np.uint8
    slow = interpolate_recursive(np.asarray(grey), 2, model=tiny_model)
    assert slow.shape == (42, 20, 30) and slow.dtype == np.uint8
    for f, a, c in zip(frames, arr, colour):
        luma = np.asarray(c.convert("L"), np.int16)
        assert np.array_equal(np.asarray(f), a)
        assert np.abs(a.astype(np.int16) - luma).max() <= 1
    assert np.abs(np.asarray(frames[3], np.int16) - np.asarray(grey, np.int16)).mean() < 5


# --------------------------------------------------------------------------- recursion
@pytest.mark.parametrize("depth, expected", [(1, 7), (2, 42), (3, 287)])
def test_interpolate_recursive_counts(tiny_model, depth, expected):
    out = interpolate_recursive(torch.rand(3, 16, 16), depth, model=tiny_model)
    assert out.shape == (expected, 3, 16, 16)
    assert num_recursive_frames(depth) == expected


def test_interpolate_recursive_other_kinds(tiny_model, png_path, image_u8):
    assert len(interpolate_recursive(png_path, 2, model=tiny_model)) == 42
    assert interpolate_recursive(image_u8, 2, model=tiny_model).shape == (42, 20, 30, 3)
    assert interpolate_recursive(torch.rand(2, 3, 16, 16), 2, model=tiny_model).shape == (
        2,
        42,
        3,
        16,
        16,
    )


@pytest.mark.parametrize("n", [2, 3, 5, 7, 9])
def test_num_recursive_frames_formula(n):
    # n(1) = N, n(d + 1) = N * (n(d) - 1)  <=>  n(d) = (N + (N - 2) * N**d) / (N - 1)
    for depth in range(1, 7):
        closed = (n + (n - 2) * n**depth) // (n - 1)
        assert (n + (n - 2) * n**depth) % (n - 1) == 0
        assert num_recursive_frames(depth, n) == closed
    assert [num_recursive_frames(d) for d in (1, 2, 3, 4)] == [7, 42, 287, 2002]


@pytest.mark.parametrize("depth", [0, -1, 1.5, "2", None, True, False])
def test_invalid_depth(tiny_model, depth):
    with pytest.raises(ConfigError, match="depth"):
        num_recursive_frames(depth)
    with pytest.raises(ConfigError, match="depth"):
        interpolate_recursive(torch.rand(3, 16, 16), depth, model=tiny_model)


def test_recursion_is_planned_and_refused_before_any_work(tiny_model, monkeypatch):
    """The frame count and the memory estimate come first; a request over the budget is a
    typed error that names the count, raised before G runs (not an OOM kill)."""
    from blurvid.api import plan_recursive

    per_frame = 4 * 3 * 720 * 1280
    assert plan_recursive(3, 720, 1280, memory_limit="1T") == (287, per_frame * (287 + 42))
    assert plan_recursive(1, 720, 1280, batch=2, memory_limit="1T").bytes == 2 * per_frame * 7
    need = 4 * 3 * 16 * 16 * (42 + 7)  # depth 2 on 16x16: 42 frames made from 7
    spy = Spy(tiny_model)
    x = torch.rand(3, 16, 16)
    with pytest.raises(blurvid.OutputTooLargeError, match=r"would make 42 frames per image"):
        interpolate_recursive(x, 2, model=tiny_model, memory_limit=need - 1)
    monkeypatch.setenv("BLURVID_MEMORY_LIMIT", str(need - 1))
    with pytest.raises(MemoryError, match=r"42 frames .* about 150.5 kB"):
        interpolate_recursive(x, 2, model=tiny_model)
    assert spy.inputs == []  # refused before any forward pass
    assert interpolate_recursive(x, 2, model=tiny_model, memory_limit=need).shape[0] == 42
    spy.inputs.clear()
    monkeypatch.setenv("BLURVID_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="BLURVID_MEMORY_LIMIT"):
        interpolate_recursive(x, 2, model=tiny_model)
    monkeypatch.delenv("BLURVID_MEMORY_LIMIT")
    # a huge depth on a tiny image: refused at once with the count, on any machine
    with pytest.raises(blurvid.OutputTooLargeError, match=r"depth=40\).* 5\.306e\+33 frames"):
        interpolate_recursive(x, 40, model=tiny_model)
    with pytest.raises(blurvid.OutputTooLargeError, match=r"about 10\^84510 frames"):
        interpolate_recursive(x, 10**5, model=tiny_model)
    with pytest.raises(ConfigError, match="depth"):
        interpolate_recursive(x, True, model=tiny_model)  # a bool is not a depth
    with pytest.raises(ConfigError, match="memory_limit"):
        interpolate_recursive(x, 2, model=tiny_model, memory_limit=0)
    assert spy.inputs == []


def test_available_memory_falls_back_without_proc_meminfo(monkeypatch):
    import builtins

    from blurvid import checks

    assert checks.memory_limit("12G") == 12 * 2**30 and checks.memory_limit(" 1.5 kib ") == 1536
    for bad in ("12 apples", "-1G", "0", True):
        with pytest.raises(ConfigError, match="memory_limit"):
            checks.memory_limit(bad)
    real_open = builtins.open

    def no_proc(path, *args, **kwargs):
        if str(path) == "/proc/meminfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    monkeypatch.setattr(checks.os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096}.get(name, 1000))
    assert checks.available_memory() == 4096 * 1000  # free pages x page size

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(checks.os, "sysconf", no_sysconf)
    assert checks.available_memory() == checks.FALLBACK_MEMORY


def test_recursion_progress_bar(tiny_model, capsys):
    out = interpolate_recursive(torch.rand(2, 3, 16, 16), 3, model=tiny_model, progress=True)
    assert out.shape == (2, 287, 3, 16, 16)
    err = capsys.readouterr().err
    # total: 2 x (1 image + 6 pairs + 41 pairs); how far each redraw got depends on timing
    assert "depth 3" in err and "/96 [" in err
    interpolate_recursive(torch.rand(3, 16, 16), 2, model=tiny_model)
    assert capsys.readouterr().err == ""  # off by default


def test_recursion_averages_neighbouring_pairs_in_batches(tiny_model, perturbed):
    model = perturbed(tiny_model, std=0.05)
    spy = Spy(model)
    x = torch.rand(1, 3, 16, 16)
    out = interpolate_recursive(x[0], 2, model=model, batch_size=4)
    assert out.shape == (42, 3, 16, 16)
    # level 1: one call with the image; level 2: the 6 pairs in batches of 4 -> 4 + 2
    assert [t.shape[0] for t in spy.inputs] == [1, 4, 2]
    torch.testing.assert_close(spy.inputs[0], x)
    level1 = spy.outputs[0][0].clamp(0, 1)  # (7, 3, H, W), as the API returns it
    pairs = 0.5 * (level1[:-1] + level1[1:])  # (6, 3, H, W)
    torch.testing.assert_close(torch.cat(spy.inputs[1:]), pairs, atol=1e-6, rtol=0)
    # the output is the 7 frames of each pair, each group in G's order or reversed (the one
    # that runs from the frame before it to the frame after it: tests/test_recursion_order.py)
    level2 = torch.cat(spy.outputs[1:]).clamp(0, 1)  # (6, 7, 3, H, W)
    for group, frames in zip(out.reshape(6, 7, 3, 16, 16), level2):
        assert torch.allclose(group, frames) or torch.allclose(group, frames.flip(0))
    # ... and the pairs are really different images (a real recursion, not 6 copies)
    assert (pairs[0] - pairs[-1]).abs().max() > 1e-3


def test_recursion_depth3_batches_all_pairs(tiny_model):
    spy = Spy(tiny_model)
    interpolate_recursive(torch.rand(3, 16, 16), 3, model=tiny_model, batch_size=64)
    # 1 image, 6 pairs, 41 pairs: each level in one forward pass
    assert [t.shape[0] for t in spy.inputs] == [1, 6, 41]


def test_recursion_batch_equals_one_by_one(tiny_model):
    x = torch.rand(3, 3, 16, 24)
    batched = interpolate_recursive(x, 2, model=tiny_model)
    single = torch.stack([interpolate_recursive(x[i], 2, model=tiny_model) for i in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- behaviour
def test_batch_equals_one_by_one(tiny_model, perturbed):
    model = perturbed(tiny_model, std=0.05)
    x = torch.rand(5, 3, 16, 24)
    batched = extract_frames(x, model=model, batch_size=2)
    single = torch.stack([extract_frames(x[i], model=model) for i in range(5)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)


def test_batch_size_chunks_the_forward_passes(tiny_model):
    spy = Spy(tiny_model)
    extract_frames(torch.rand(5, 3, 16, 16), model=tiny_model, batch_size=2, max_side=None)
    assert [t.shape[0] for t in spy.inputs] == [2, 2, 1]
    # the default "auto" too: images too small to read run at full size, together
    spy.inputs.clear()
    extract_frames(torch.rand(5, 3, 16, 16), model=tiny_model, batch_size=2)
    assert [t.shape[0] for t in spy.inputs] == [2, 2, 1]


def test_deterministic_on_cpu(tiny_model, perturbed):
    model = perturbed(tiny_model, std=0.05)
    x = torch.rand(2, 3, 24, 24)
    assert torch.equal(extract_frames(x, model=model), extract_frames(x, model=model))
    assert torch.equal(
        interpolate_recursive(x, 2, model=model), interpolate_recursive(x, 2, model=model)
    )


def test_training_mode_is_left_alone(tiny_model):
    """A model in train() mode runs as an eval-mode copy; the caller's model never leaves
    train() mode (tests/test_api_model_state.py: also under threads)."""
    tiny_model.train()
    x = torch.rand(3, 16, 16)
    out = extract_frames(x, model=tiny_model)
    with torch.no_grad():
        want = copy.deepcopy(tiny_model).eval()(x[None])[0].clamp(0, 1)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-6)
    interpolate_recursive(x, 2, model=tiny_model)
    assert tiny_model.training
    tiny_model.eval()  # a ready model runs as it is, not copied
    spy = Spy(tiny_model)
    extract_frames(x, model=tiny_model)
    assert spy.training == [False] and not tiny_model.training


def test_training_mode_is_restored_after_an_error(tiny_model):
    tiny_model.train()

    def boom(x):
        raise RuntimeError("boom")

    tiny_model.forward = boom
    with pytest.raises(RuntimeError, match="boom"):
        extract_frames(torch.rand(3, 16, 16), model=tiny_model)
    assert tiny_model.training


def test_runs_under_inference_mode(tiny_model):
    spy = Spy(tiny_model)
    x = torch.rand(3, 16, 16, requires_grad=True)
    out = extract_frames(x, model=tiny_model)
    assert spy.inference_mode == [True]
    assert not out.requires_grad and out.grad_fn is None
    assert all(p.grad is None for p in tiny_model.parameters())


def test_bad_arguments(tiny_model):
    x = torch.rand(3, 16, 16)
    with pytest.raises(ConfigError, match="CUDA"):
        extract_frames(x, model=tiny_model, dtype="float16")
    with pytest.raises(ConfigError, match="dtype"):
        extract_frames(x, model=tiny_model, dtype="int8")
    with pytest.raises(ConfigError, match="dtype"):
        extract_frames(x, model=tiny_model, dtype=torch.int32)
    with pytest.raises(ConfigError, match="device"):
        extract_frames(x, model=tiny_model, device="gpu0")
    with pytest.raises(ConfigError, match="model"):
        extract_frames(x, model=42)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            extract_frames(x, model=tiny_model, device="cuda")
    assert extract_frames(x, model=tiny_model, dtype="fp32", device="cpu").shape == (7, 3, 16, 16)


def test_default_model_is_loaded_once_and_cached(monkeypatch):
    monkeypatch.setattr(api_module, "_MODEL_CACHE", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        out = extract_frames(torch.rand(3, 16, 16))
        assert out.shape == (7, 3, 16, 16)
        (model,) = api_module._MODEL_CACHE.values()
        extract_frames(torch.rand(3, 16, 16), model="default")
    assert list(api_module._MODEL_CACHE.values()) == [model]
    assert model.metadata["source"] == "default"


# --------------------------------------------------------------------------- tiling
def test_tiled_matches_untiled(tiny_model):
    """Tiles (64 px, 16 px overlap) on a 96x96 image, blended with feathered weights.

    Measured with the seeded width-8 model: residuals (frames - input) reach 0.017; tiled vs
    untiled differ by at most 1.5e-3 (at the tile seams, where the padding differs) and
    2.7e-5 on average; far from every tile edge (the corners covered by one tile only) the
    difference is float rounding. Bounds asserted: 3-4x those numbers.
    """
    x = smooth_image(96, 96)
    spy = Spy(tiny_model)
    with torch.inference_mode():
        full = run_generator(tiny_model, x)
        tiled = run_generator(tiny_model, x, tile=64, overlap=16)
    assert [t.shape[-2:] for t in spy.inputs[1:]] == [(64, 64)] * 4  # 2 x 2 tiles
    residual = (full - x[:, None]).abs()
    assert residual.max() > 0.01  # so the comparison is not trivially small
    diff = (full - tiled).abs()
    assert diff.max() < 5e-3
    assert diff.mean() < 1e-4
    # along the seams (tile 2 starts at 32, tile 1 ends at 64)
    seams = torch.cat(
        [
            diff[..., :, 30:34].flatten(),
            diff[..., :, 62:66].flatten(),
            diff[..., 30:34, :].flatten(),
            diff[..., 62:66, :].flatten(),
        ]
    )
    assert seams.max() < 5e-3
    # corners seen by one tile only, far from its inner edges
    for ys, xs in [(slice(0, 16), slice(0, 16)), (slice(80, 96), slice(80, 96))]:
        assert diff[..., ys, xs].max() < 1e-5
    # the public API takes the same path
    torch.testing.assert_close(
        extract_frames(x, model=tiny_model, tile=64, overlap=16, max_side=None), tiled
    )


def test_tiling_is_automatic_above_the_pixel_limit(tiny_model, monkeypatch):
    monkeypatch.setattr(api_module, "AUTO_TILE_PIXELS", 64 * 64)
    monkeypatch.setattr(api_module, "DEFAULT_TILE", 64)
    spy = Spy(tiny_model)
    x = smooth_image(80, 96)
    out = extract_frames(x[0], model=tiny_model, overlap=16)
    assert out.shape == (7, 3, 80, 96)
    assert len(spy.inputs) == 4 and all(t.shape[-2:] == (64, 64) for t in spy.inputs)


def test_tile_argument_checks(tiny_model):
    x = torch.rand(3, 96, 96)
    with pytest.raises(ConfigError, match="tile must be at least 64"):
        extract_frames(x, model=tiny_model, tile=32)
    with pytest.raises(ConfigError, match="overlap"):
        extract_frames(x, model=tiny_model, tile=64, overlap=32)
    with pytest.raises(ConfigError, match="overlap"):
        extract_frames(x, model=tiny_model, tile=64, overlap=-1)
    # a tile larger than the image is one pass
    spy = Spy(tiny_model)
    extract_frames(x, model=tiny_model, tile=128, max_side=None)
    assert len(spy.inputs) == 1
    # small tiles work without an explicit overlap (the default shrinks to tile // 4)
    spy.inputs.clear()
    assert extract_frames(x, model=tiny_model, tile=64, max_side=None).shape == (7, 3, 96, 96)
    assert len(spy.inputs) == 4


def test_tiled_batch_and_odd_sizes(tiny_model):
    x = torch.rand(2, 3, 70, 101)
    out = extract_frames(x, model=tiny_model, tile=64, overlap=8)
    assert out.shape == (2, 7, 3, 70, 101)
    assert out.min() >= 0 and out.max() <= 1


# --------------------------------------------------------------------------- module
def test_frame_extractor_agrees_with_extract_frames(tiny_model):
    module = FrameExtractor(tiny_model)
    x = torch.rand(2, 3, 16, 24)
    assert torch.equal(module(x), extract_frames(x, model=tiny_model))
    assert module.generator is tiny_model
    assert "generator" in dict(module.named_children())


def test_frame_extractor_depth(tiny_model):
    module = FrameExtractor(tiny_model, depth=2, batch_size=3)
    x = torch.rand(1, 3, 16, 16)
    out = module(x)
    assert out.shape == (1, 42, 3, 16, 16)
    assert torch.equal(out, interpolate_recursive(x, 2, model=tiny_model))
    with pytest.raises(ConfigError, match="depth"):
        FrameExtractor(tiny_model, depth=0)


def test_frame_extractor_default_model(monkeypatch):
    monkeypatch.setattr(api_module, "_MODEL_CACHE", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        module = FrameExtractor()
    assert module.generator.config == blurvid.load_model("default").config
    assert module(torch.rand(1, 3, 16, 16)).shape == (1, 7, 3, 16, 16)


def test_auto_batch_size_bounds_pixels_per_pass(tiny_model, monkeypatch):
    """batch_size=None sends at most BATCH_PIXELS pixels through G per forward pass."""
    import blurvid.api as api

    sizes = []
    original = tiny_model.forward

    def spy(x):
        sizes.append(x.shape[0])
        return original(x)

    monkeypatch.setattr(tiny_model, "forward", spy)
    monkeypatch.setattr(api, "BATCH_PIXELS", 3 * 32 * 32)
    out = api.extract_frames(torch.rand(7, 3, 32, 32), model=tiny_model, max_side=None)
    assert out.shape == (7, 7, 3, 32, 32)
    assert sizes == [3, 3, 1]


# --------------------------------------------------------------------------- frame count
def test_a_five_frame_model_gives_five_frames_in_every_kind(make_model, perturbed, image_u8):
    """The frame count is the model's config.num_frames, never a hard-coded 7."""
    g = perturbed(make_model(num_frames=5), std=0.05)
    x = torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(0))
    assert extract_frames(x, model=g).shape == (2, 5, 3, 16, 24)
    assert extract_frames(x[0], model=g).shape == (5, 3, 16, 24)
    assert extract_frames(image_u8, model=g).shape == (5, *image_u8.shape)
    assert len(extract_frames(Image.fromarray(image_u8), model=g)) == 5
    with torch.no_grad():
        torch.testing.assert_close(extract_frames(x, model=g), g(x).clamp(0, 1))
    assert interpolate_recursive(x, 3, model=g).shape == (2, 5 * 19, 3, 16, 24)
    assert num_recursive_frames(3, 5) == 95


@pytest.mark.parametrize("n", [1, 0, 2.0, True])
def test_num_recursive_frames_checks_num_frames(n):
    with pytest.raises(ConfigError, match="num_frames"):
        num_recursive_frames(2, n)
