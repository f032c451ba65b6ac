"""``max_side="auto"`` (:mod:`blurvid.working_scale`): the rule from a blur length to a working
size and a weight, frames back at the input size, and the API path end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blurvid import ConfigError, extract_frames, interpolate_recursive
from blurvid.api import plan_working_scale
from blurvid.working_scale import (
    FULL_EFFECT_PX,
    FULL_SIZE_PX,
    GUARD_NO_BLUR_PX,
    GUARD_QUANTILE,
    GUARDS,
    NO_BLUR_PX,
    PROBE_LEVELS,
    PROBE_PX,
    TARGET_PX,
    auto_max_side,
    blend_to_input,
    blur_weight,
    frames_blur_px,
    guard_blur_px,
    guard_weight,
    plan_scale,
    probe_sides,
    probed_blur_px,
    to_input_size,
)

pytestmark = pytest.mark.usefixtures("fast_cpu")


@pytest.mark.parametrize("blur", [0.0, 1.0, 10.0, FULL_SIZE_PX, math.nan])
def test_blur_inside_the_training_range_keeps_full_size(blur):
    assert auto_max_side(3000, 4000, blur) is None


@pytest.mark.parametrize("h, w, blur, side", [(3000, 4000, 160.0, 400), (720, 1280, 48.0, 427),
                                              (4000, 3000, 64.0, 1000)])  # fmt: skip
def test_long_blur_is_brought_to_the_target_length(h, w, blur, side):
    assert auto_max_side(h, w, blur) == side
    # at that size the blur is TARGET_PX long, to within the rounding of the side
    assert abs(blur * side / max(h, w) - TARGET_PX) < 0.1


def test_the_working_size_never_goes_under_the_minimum():
    assert auto_max_side(100, 3000, 10_000.0) == 240  # short side 8 px
    assert auto_max_side(200, 200, 10_000.0) == 16
    assert auto_max_side(30, 30, 25.0) == 19
    assert auto_max_side(16, 16, 25.0) is None  # the minimum side is the image's own


def test_blur_weight_is_zero_without_blur_one_with_it_and_linear_between():
    assert blur_weight(0.0) == blur_weight(NO_BLUR_PX) == 0.0
    assert blur_weight(FULL_EFFECT_PX) == blur_weight(100.0) == 1.0
    mid = (NO_BLUR_PX + FULL_EFFECT_PX) / 2
    assert blur_weight(mid) == pytest.approx(0.5)
    ws = [blur_weight(b / 10) for b in range(100)]
    assert ws == sorted(ws)


def test_to_input_size_gives_back_the_input_from_its_own_downscale():
    """Frames equal to the downscaled input come back as the input itself: the upsampled
    frames plus the input's detail above the working resolution."""
    x = torch.rand(2, 3, 45, 61)
    small = F.interpolate(x, size=(20, 27), mode="bilinear", antialias=True, align_corners=False)
    frames = small.unsqueeze(1).repeat(1, 7, 1, 1, 1)
    back = to_input_size(frames, x)
    assert back.shape == (2, 7, 3, 45, 61)
    torch.testing.assert_close(back, x.unsqueeze(1).expand_as(back), atol=1e-5, rtol=0)


def test_to_input_size_is_identity_at_full_size_and_blend_moves_to_the_input():
    x = torch.rand(1, 3, 16, 16)
    frames = torch.rand(1, 7, 3, 16, 16)
    assert to_input_size(frames, x) is frames
    assert blend_to_input(frames, x, 1.0) is frames
    torch.testing.assert_close(blend_to_input(frames, x, 0.0), x.unsqueeze(1).expand_as(frames))
    half = blend_to_input(frames, x, 0.5)
    torch.testing.assert_close(half, (frames + x.unsqueeze(1)) / 2)


def test_an_image_too_small_to_measure_runs_at_full_size():
    plan = plan_scale(torch.rand(3, 20, 64))
    assert plan.max_side is None and plan.weight == 1.0 and math.isnan(plan.blur_px)


def test_plan_scale_uses_a_given_length():
    plan = plan_scale(torch.rand(3, 300, 400), blur_px=100.0)
    assert (plan.max_side, plan.weight) == (64, 1.0)
    assert plan_scale(torch.rand(3, 300, 400), blur_px=1.0).weight == 0.0


def test_auto_returns_a_flat_image_as_it_went_in(tiny_model):
    x = torch.full((3, 40, 56), 0.4)
    frames = extract_frames(x, model=tiny_model, max_side="auto")
    assert frames.shape == (7, 3, 40, 56)
    torch.testing.assert_close(frames, x.expand_as(frames))


def test_auto_runs_g_small_and_returns_frames_at_the_input_size(tiny_model, monkeypatch):
    """A long blur: G sees the image at the planned working size, the frames come back at the
    input size, for every input kind."""
    import blurvid.api as api

    seen = []
    real = api._extract

    def spy(g, x, *args):
        seen.append(tuple(x.shape[-2:]))
        return real(g, x, *args)

    monkeypatch.setattr(api, "plan_scale", lambda img, **kw: plan_scale(img, blur_px=96.0))
    monkeypatch.setattr(api, "_extract", spy)
    x = torch.rand(3, 48, 96)
    frames = extract_frames(x, model=tiny_model, max_side="auto")
    assert seen == [(8, 16)] and frames.shape == (7, 3, 48, 96)
    pil = extract_frames(_pil(x), model=tiny_model, max_side="auto")
    assert len(pil) == 7 and pil[0].size == (96, 48)


def _pil(x):
    from PIL import Image

    return Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))


def test_auto_on_a_batch_runs_the_full_size_images_through_g_together(tiny_model, monkeypatch):
    """A batch of four read as 1, 12, 12 and 100 px: the first is the input (G not run), the
    two in range go through G together at full size, the long one alone at its size; each
    image's frames are what it gets alone."""
    import blurvid.api as api
    import blurvid.blur_extent as be

    x = torch.stack([_texture(64, 96) * s for s in (1.0, 0.9, 0.8, 0.7)])
    reads = {1.0: 1.0, 0.9: 12.0, 0.8: 12.0, 0.7: 100.0}
    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: reads[round(float(img.max()), 1)])
    seen = []

    def spy(g, xs, *args):
        seen.append((xs.shape[0], *xs.shape[-2:]))
        return _Offsets()(xs.float())

    monkeypatch.setattr(api, "_extract", spy)
    frames = extract_frames(x, model=tiny_model)
    small = api.working_size(64, 96, auto_max_side(64, 96, 100.0))  # 100 px brought to 16
    assert seen == [(2, 64, 96), (1, *small)] and small[1] < 20
    assert frames.shape == (4, 7, 3, 64, 96)
    assert torch.equal(frames[0], x[0].expand(7, -1, -1, -1))
    for i in range(4):
        torch.testing.assert_close(frames[i], extract_frames(x[i], model=tiny_model))


def test_only_the_word_auto_is_taken(tiny_model):
    with pytest.raises(ConfigError, match="'auto'"):
        extract_frames(torch.rand(3, 32, 32), model=tiny_model, max_side="automatic")
    with pytest.raises(ConfigError, match="'auto'"):
        interpolate_recursive(torch.rand(3, 32, 32), 2, model=tiny_model, max_side="Auto")


def test_recursion_with_auto_runs_every_level_small_and_returns_the_input_size(
    tiny_model, monkeypatch
):
    """Slow motion with ``max_side="auto"``: a blur read as 100 px puts level 1 at long side
    82 (after the probe at 128); the 6 pairs of level 2 run there too, and the 42 frames come
    back at the input size. A flat photo (no blur) comes back as 42 copies of itself."""
    import blurvid.api as api
    import blurvid.blur_extent as be

    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: 10.0)
    monkeypatch.setattr(api, "frames_blur_px", lambda frames, side, q=0.9: 100.0)
    seen = []

    def spy(g, x, *args):
        seen.append((x.shape[0], *x.shape[-2:]))
        return _Offsets()(x.float())

    monkeypatch.setattr(api, "_extract", spy)
    x = _texture(400, 512)
    frames = interpolate_recursive(x, 2, model=tiny_model, max_side="auto")
    assert seen == [(1, 100, 128), (1, 64, 82), (6, 64, 82)]  # probe, level 1, level 2
    assert frames.shape == (42, 3, 400, 512)
    monkeypatch.undo()
    flat = torch.full((3, 64, 80), 0.4)
    out = interpolate_recursive(flat, 2, model=tiny_model, max_side="auto")
    assert out.shape == (42, 3, 64, 80) and torch.equal(out, flat.expand(42, -1, -1, -1))


def test_recursion_with_auto_at_full_size_is_the_plain_recursion(
    tiny_model, perturbed, monkeypatch
):
    """Blur inside the training range (read as 12 px): full size, G's frames in full, so
    ``"auto"`` gives what ``None`` gives; the memory check is for the input size."""
    import blurvid.blur_extent as be
    from blurvid import OutputTooLargeError

    g = perturbed(tiny_model, std=0.05)
    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: 12.0)
    x = _texture(64, 96)
    auto = interpolate_recursive(x, 2, model=g, max_side="auto")
    torch.testing.assert_close(auto, interpolate_recursive(x, 2, model=g), rtol=0, atol=1e-6)
    with pytest.raises(OutputTooLargeError):
        interpolate_recursive(_texture(400, 512), 3, model=g, max_side="auto", memory_limit="50M")


def test_cli_max_side_auto_writes_frames_at_the_input_size(tmp_path, tiny_model, capsys):
    from PIL import Image

    from blurvid import cli

    model_dir = tmp_path / "model"
    tiny_model.save_pretrained(model_dir)
    path = tmp_path / "flat.png"
    Image.new("RGB", (48, 40), (90, 120, 30)).save(path)  # no edge: no blur, the input back
    args = ["extract", str(path), "--model", str(model_dir), "--format", "png"]
    assert cli.main([*args, "-o", str(tmp_path / "a"), "--max-side", "auto"]) == 0
    pngs = sorted((tmp_path / "a" / "flat").glob("*.png"))
    assert len(pngs) == 7 and {Image.open(p).size for p in pngs} == {(48, 40)}
    assert Image.open(pngs[0]).getpixel((5, 5)) == (90, 120, 30)
    # what "auto" chose, one line per image (not with -q)
    assert f"{path}: working scale: blur 0.0 px: no blur, the input" in capsys.readouterr().out
    assert cli.main([*args, "-o", str(tmp_path / "q"), "--max-side", "auto", "-q"]) == 0
    assert "working scale" not in capsys.readouterr().out
    # slow motion: every level at the size "auto" picks; the flat photo, 42 times as it is
    assert cli.main([*args, "-o", str(tmp_path / "b"), "--max-side", "auto", "--depth", "2"]) == 0
    assert f"{path}: working scale: blur 0.0 px: no blur, the input" in capsys.readouterr().out
    pngs = sorted((tmp_path / "b" / "flat").glob("*.png"))
    assert len(pngs) == 42 and Image.open(pngs[41]).getpixel((5, 5)) == (90, 120, 30)
    with pytest.raises(SystemExit):
        cli.main([*args, "-o", str(tmp_path / "c"), "--max-side", "half"])
    assert "integer long side in pixels, 'auto' or 'full'" in capsys.readouterr().err


def test_cli_extract_defaults_to_auto_for_7_frames_and_full_size_for_slow_motion(
    tmp_path, tiny_model, capsys
):
    """No ``--max-side``: "auto" for 7 frames (the flat photo comes back as it is);
    ``--max-side full``: G's own frames at full size; ``--depth 2``: full size, no refusal."""
    from PIL import Image

    from blurvid import cli

    model_dir = tmp_path / "model"
    tiny_model.save_pretrained(model_dir)
    path = tmp_path / "flat.png"
    Image.new("RGB", (48, 40), (90, 120, 30)).save(path)
    args = ["extract", str(path), "--model", str(model_dir), "--format", "png"]
    assert cli.main([*args, "-o", str(tmp_path / "d")]) == 0
    assert f"{path}: working scale: blur 0.0 px: no blur, the input" in capsys.readouterr().out
    first = Image.open(tmp_path / "d" / "flat" / "frame_000.png")
    assert first.size == (48, 40) and first.getpixel((5, 5)) == (90, 120, 30)
    assert cli.main([*args, "-o", str(tmp_path / "f"), "--max-side", "full"]) == 0
    assert "working scale" not in capsys.readouterr().out
    g_frames = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "f" / "flat").glob("*.png"))]
    changed = sum(int((f != np.array([90, 120, 30], dtype=np.uint8)).sum()) for f in g_frames)
    assert len(g_frames) == 7 and changed > 4000  # G's frames: ~19 000 of 40 320 values moved
    assert cli.main([*args, "-o", str(tmp_path / "s"), "--depth", "2"]) == 0
    assert len(list((tmp_path / "s" / "flat").glob("*.png"))) == 42


def test_to_input_size_upsamples_frame_by_frame_to_the_same_numbers():
    """Frame by frame (bounded memory) gives exactly what upsampling all frames at once does."""
    x = torch.rand(2, 3, 45, 61)
    frames = torch.rand(2, 7, 3, 20, 27)
    small = F.interpolate(x, size=(20, 27), mode="bilinear", antialias=True, align_corners=False)
    detail = x - F.interpolate(small, size=(45, 61), mode="bilinear", align_corners=False)
    up = F.interpolate(frames.flatten(0, 1), size=(45, 61), mode="bilinear", align_corners=False)
    expected = (up.view(2, 7, 3, 45, 61) + detail.unsqueeze(1)).clamp(0.0, 1.0)
    assert torch.equal(to_input_size(frames, x), expected)


# ----------------------------------------------------------------------------- the guard
def _texture(h: int, w: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(5)
    t = F.avg_pool2d(torch.rand(1, 3, h + 4, w + 4, generator=gen), 5, 1)[0]
    return (t - t.min()) / (t.max() - t.min())


def test_guard_blur_px_reads_both_or_the_estimate():
    assert guard_blur_px(16.0, 1.0, "geometric") == pytest.approx(4.0)
    assert guard_blur_px(16.0, 1.0) == 16.0  # "estimate"
    assert guard_blur_px(16.0, math.nan, "geometric") == 16.0  # no OpenCV: the estimate
    assert guard_blur_px(1.0, 9.0, "either") == 9.0  # either reading says "blurred"
    assert guard_blur_px(9.0, 1.0, "either") == 9.0
    assert guard_blur_px(1.0, math.nan, "either") == 1.0
    with pytest.raises(ValueError, match="guard"):
        guard_blur_px(1.0, 1.0, "mean")
    assert set(GUARDS) == {"estimate", "geometric", "either"}
    assert set(GUARD_QUANTILE) == set(GUARD_NO_BLUR_PX) == set(GUARDS)


def test_guard_weight_uses_each_guards_threshold():
    """The "either" guard returns the input up to 3 px (the estimate and the geometric guard:
    2 px) and keeps G's frames in full from 6 px, like every guard."""
    assert guard_weight(2.5, 1.0, "estimate") == pytest.approx(0.125)
    assert guard_weight(2.5, 1.0, "either") == 0.0  # both readings under 3 px: the input
    assert guard_weight(2.9, 2.9, "either") == 0.0
    assert guard_weight(1.0, 4.5, "either") == pytest.approx(0.5)  # G shows 4.5 px: half
    assert guard_weight(6.0, 0.0, "either") == 1.0
    assert guard_weight(16.0, 1.0, "geometric") == pytest.approx(0.5)  # sqrt(16) = 4 px
    with pytest.raises(ValueError, match="no_blur_px"):
        blur_weight(4.0, 6.0)


def test_frames_blur_px_is_the_motion_between_first_and_last_frame():
    """Frames of a texture 1 px apart each (6 px first to last): the blur they show is
    7/6 of that, 7 px; in pixels of an input twice their size, 14. Read in torch alone."""
    big = _texture(100, 180)
    frames = torch.stack([big[:, 10:90, k : k + 160] for k in range(7)])
    assert frames_blur_px(frames, 160) == pytest.approx(7.0, abs=0.7)
    assert frames_blur_px(frames, 320) == pytest.approx(14.0, abs=1.4)
    assert frames_blur_px(frames.flip(0), 160) == pytest.approx(7.0, abs=0.7)  # either way
    # half the frame still, half moving: the median reads the still half, the 90th percentile
    # the moving one
    half = frames.clone()
    half[..., :80] = frames[3:4, ..., :80]
    assert frames_blur_px(half, 160, quantile=0.25) < 1.0
    assert frames_blur_px(half, 160, quantile=0.9) == pytest.approx(7.0, abs=0.7)
    with pytest.raises(ValueError, match="quantile"):
        frames_blur_px(frames, 160, quantile=90.0)


class _Offsets(torch.nn.Module):
    """A stand-in G: frame k is the input plus ``(k - 3) / 100`` (no motion a flow can see)
    or, with ``roll``, the input rolled by ``roll (k - 3)`` px (motion)."""

    def __init__(self, roll: int = 0) -> None:
        super().__init__()
        self.roll = roll

    def forward(self, x):
        if self.roll:
            return torch.stack([x.roll(self.roll * (k - 3), dims=-1) for k in range(7)], 1)
        return torch.stack([x + (k - 3) / 100 for k in range(7)], 1)


@pytest.mark.parametrize(("blur", "roll", "guard", "kept"), [
    (16.0, 0, "estimate", True),    # estimate 16 px: G's frames
    (16.0, 0, "geometric", False),  # ... but G's frames show no motion: sqrt(16 x 0) -> input
    (16.0, 2, "geometric", True),   # G's frames 12 px apart (14 px of blur): sqrt(16 x 14)
    (1.0, 0, "estimate", False),    # estimate 1 px: the input (G not run)
    (1.0, 0, "either", False),      # 1 px and no motion in G's frames: the input
    (1.0, 2, "either", True),       # 1 px, but G's frames show 14 px: G's frames
    (16.0, 0, "either", True),      # 16 px read, whatever G shows: G's frames
])  # fmt: skip
def test_auto_guard_from_the_models_metadata(tiny_model, monkeypatch, blur, roll, guard, kept):
    """``max_side="auto"`` reads the guard from the model's ``auto_guard`` metadata."""
    pytest.importorskip("cv2")
    import blurvid.api as api
    from blurvid.weights_io import _METADATA

    monkeypatch.setattr(api, "plan_scale", lambda img, **kw: plan_scale(img, blur_px=blur))
    fake = _Offsets(roll)
    monkeypatch.setattr(api, "_extract", lambda g, x, *a: fake(x.float()))
    monkeypatch.setattr(tiny_model, _METADATA, {**tiny_model.metadata, "auto_guard": guard})
    x = _texture(64, 112) * 0.9 + 0.05
    frames = extract_frames(x, model=tiny_model, max_side="auto")
    g_frames = fake(x[None])[0]
    torch.testing.assert_close(frames, g_frames if kept else x.expand_as(frames))


def test_probe_sides_are_the_coarse_levels_big_enough_coarsest_first():
    assert probe_sides(3000, 4000) == [(3, 500), (2, 1000)]
    assert probe_sides(720, 1280) == [(2, 320)]  # 1/8 would be 90 px high
    assert probe_sides(383, 1000) == []  # too small to probe: the estimate alone
    assert [k for k, _ in probe_sides(10_000, 10_000)] == sorted(PROBE_LEVELS, reverse=True)


def test_probed_blur_px_takes_the_first_level_that_reads_a_long_blur():
    fire2 = PROBE_PX * 4  # the threshold at level 2, in input pixels
    assert probed_blur_px(20.0, [(2, fire2 + 1.0)]) == fire2 + 1.0  # estimate under-read
    assert probed_blur_px(20.0, [(3, 200.0), (2, 90.0)]) == 200.0  # the coarsest that fires
    assert probed_blur_px(20.0, [(3, 40.0), (2, 90.0)]) == 90.0  # 1/8 reads 5 px: go finer
    # nothing fires: the blur is at most the finest threshold; a shorter estimate stands
    assert probed_blur_px(150.0, [(3, 40.0), (2, 20.0)]) == fire2
    assert probed_blur_px(10.0, [(2, 20.0)]) == 10.0
    # no reading (too small, no OpenCV): the estimate
    assert probed_blur_px(150.0, []) == probed_blur_px(150.0, [(2, math.nan)]) == 150.0


def test_plan_scale_probes_coarse_to_fine_and_stops_at_the_first_that_fires(monkeypatch):
    import blurvid.blur_extent as be

    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: 20.0)
    image = torch.rand(3, 800, 1000)  # levels 3 (125 x 100) and 2 (250 x 200)
    asked = []

    def probe(side, shown):
        asked.append(side)
        return shown[side]

    plan = plan_scale(image, probe=lambda s: probe(s, {125: 100.0, 250: 70.0}))
    assert asked == [125] and plan.blur_px == 100.0  # 1/8 reads 12.5 px there: long blur
    assert plan.max_side == auto_max_side(800, 1000, 100.0) == 160
    asked.clear()
    plan = plan_scale(image, probe=lambda s: probe(s, {125: 40.0, 250: 70.0}))
    assert asked == [125, 250] and plan.blur_px == 70.0
    asked.clear()
    plan = plan_scale(image, probe=lambda s: probe(s, {125: 40.0, 250: 20.0}))
    assert asked == [125, 250] and (plan.blur_px, plan.max_side) == (20.0, None)


def test_auto_reads_a_long_blur_the_estimate_misses_from_gs_own_motion(
    tiny_model, monkeypatch, caplog
):
    """The estimate reads 10 px (alone: full size); G at 1/4 size shows 100 px of motion (in
    input pixels): the blur is long, G runs again at the size that brings it to 16 px (long
    side 82, not within 15 % of the probe's 128), and the frames come back at the input
    size, G's in full."""
    import blurvid.api as api
    import blurvid.blur_extent as be

    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: 10.0)
    monkeypatch.setattr(api, "frames_blur_px", lambda frames, side, q=0.9: 100.0)
    seen = []

    def spy(g, x, *args):
        seen.append(tuple(x.shape[-2:]))
        return _Offsets()(x.float())

    monkeypatch.setattr(api, "_extract", spy)
    x = _texture(400, 512)
    with caplog.at_level("INFO", logger="blurvid.api"):
        frames = extract_frames(x, model=tiny_model, max_side="auto")
    assert seen == [(100, 128), (64, 82)]  # the probe at 1/4 (1/8 would be 50 px high)
    assert caplog.messages == [
        "working scale: blur 100.0 px: G at 82x64, frames at 512x400, 100% G's frames"
    ]
    assert frames.shape == (7, 3, 400, 512)
    # G's frames (the input's detail above 82 px added back): frame k is the input + (k-3)/100
    offsets = (frames - x).mean(dim=(1, 2, 3))
    torch.testing.assert_close(offsets, torch.arange(-3, 4) / 100, atol=2e-3, rtol=0)


def test_auto_reuses_the_probes_frames_when_the_working_size_is_the_probes(tiny_model, monkeypatch):
    """G at 1/4 shows 56 px of motion (in input pixels): the working size that brings it to
    16 px (long side 146) is within 15 % of the probe's (128), so G runs once."""
    import blurvid.api as api
    import blurvid.blur_extent as be

    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: 10.0)
    monkeypatch.setattr(api, "frames_blur_px", lambda frames, side, q=0.9: 56.0)
    seen = []
    monkeypatch.setattr(api, "_extract", lambda g, x, *a: seen.append(x.shape) or _Offsets()(x))
    frames = extract_frames(_texture(400, 512), model=tiny_model, max_side="auto")
    assert [tuple(s[-2:]) for s in seen] == [(100, 128)] and frames.shape == (7, 3, 400, 512)


def test_auto_reads_gs_motion_without_opencv(tiny_model, natural, monkeypatch):
    """No OpenCV (``import cv2`` fails): G's motion is still read (plain torch). A stand-in G
    whose frames move 2 px each at the probe's 1/4 size (12 px first to last; 7/6 x 12 x 4 =
    56 input px) makes the probe fire; the working size that brings 56 px to 16 (long side
    146) is within 15 % of the probe's 128, so G runs once."""
    import sys

    import blurvid.api as api
    import blurvid.blur_extent as be

    monkeypatch.setitem(sys.modules, "cv2", None)
    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: 10.0)
    seen = []
    monkeypatch.setattr(api, "_extract", lambda g, x, *a: seen.append(x.shape) or _Offsets(2)(x))
    x = natural(400, 512, seed=5)
    plan = plan_working_scale(x, model=tiny_model)
    assert plan.blur_px == pytest.approx(56.0, rel=0.1)
    assert plan.max_side == pytest.approx(146, rel=0.1)
    seen.clear()
    frames = extract_frames(x, model=tiny_model, max_side="auto")
    assert [tuple(s[-2:]) for s in seen] == [(100, 128)] and frames.shape == (7, 3, 400, 512)


def test_plan_working_scale_is_what_auto_does(tiny_model, monkeypatch):
    """The public plan is the one ``extract_frames(..., max_side="auto")`` follows."""
    import blurvid.api as api
    import blurvid.blur_extent as be
    from blurvid import InvalidImageError
    from blurvid.api import plan_working_scale

    monkeypatch.setattr(be, "estimate_blur_extent", lambda img: 10.0)
    monkeypatch.setattr(api, "frames_blur_px", lambda frames, side, q=0.9: 100.0)
    x = _texture(400, 512)
    plan = plan_working_scale(x, model=tiny_model)
    assert (plan.blur_px, plan.max_side, plan.weight) == (100.0, 82, 1.0)
    monkeypatch.setattr(api, "frames_blur_px", lambda frames, side, q=0.9: math.nan)
    assert plan_working_scale(x, model=tiny_model).blur_px == 10.0  # no reading: the estimate
    with pytest.raises(InvalidImageError, match="one image"):
        plan_working_scale(torch.rand(2, 3, 64, 64), model=tiny_model)
