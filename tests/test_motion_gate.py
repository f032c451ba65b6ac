"""The do-no-harm gate of clips (blurvid.motion_gate): still pixels stay the input."""

import math

import pytest
import torch

from blurvid.motion_gate import (
    MISSED_PX,
    SMOOTH,
    MotionGate,
    gate_frames,
    motion_blur_px,
    motion_weight,
    neighbour_speed,
)
from blurvid.working_scale import FULL_EFFECT_PX, NO_BLUR_PX

pytestmark = pytest.mark.usefixtures("fast_cpu")


@pytest.mark.parametrize(
    ("speed", "weight"),
    [(0.0, 0.0), (1.5, 0.0), (4.2, 0.4), (7.0, 1.0), (math.nan, 1.0)],
)
def test_weight_of_a_uniform_motion(speed, weight):
    """Blur = 6/7 of the motion per interval (7 frames); under 2 px the input, from 6 px
    G's frames, linear between (4.2 px per interval -> 3.6 px of blur -> 0.4); unknown
    motion (no neighbours) keeps G's frames."""
    w = motion_weight(torch.full((2, 1, 18, 32), speed), (18, 32))
    assert w.shape == (2, 1, 18, 32)
    assert torch.allclose(w, torch.full_like(w, weight), atol=1e-5)


def test_blur_is_in_pixels_of_the_frames():
    """A thumbnail half the frames' size: its pixels are two of the frames'."""
    speed = torch.full((1, 1, 16, 32), 2.1)
    blur = motion_blur_px(speed, (32, 64))
    assert blur.shape == (1, 1, 32, 64)
    assert torch.allclose(blur, torch.full_like(blur, 2 * 2.1 * 6 / 7), atol=1e-5)
    assert float(motion_weight(speed, (32, 64)).mean()) == pytest.approx(
        (3.6 - NO_BLUR_PX) / (FULL_EFFECT_PX - NO_BLUR_PX), abs=1e-5
    )


def test_weight_is_local_and_has_no_seam():
    """Motion in the left half only: G's frames there (and a little beyond: the blur of a
    moving edge reaches past it), the input from SMOOTH pixels past the edge, and between
    the two a ramp that never goes back."""
    speed = torch.zeros(1, 1, 40, 64)
    speed[..., :32] = 7.0
    w = motion_weight(speed, (40, 64))[0, 0]
    assert torch.all(w[:, : 32 - SMOOTH] == 1.0)
    assert torch.all(w[:, 32 + SMOOTH :] == 0.0)
    assert torch.all(w[:, 1:] <= w[:, :-1] + 1e-6)
    assert float(w[:, 32].min()) > 0.5  # the moving edge itself is kept


def test_gate_frames_moves_towards_the_input():
    gen = torch.Generator().manual_seed(0)
    frames, x = torch.rand(2, 7, 3, 8, 10, generator=gen), torch.rand(2, 3, 8, 10, generator=gen)
    before = frames.clone()
    assert torch.equal(
        gate_frames(frames, x, torch.zeros(2, 1, 8, 10)), x[:, None].expand_as(frames)
    )
    assert torch.allclose(gate_frames(frames, x, torch.ones(2, 1, 8, 10)), frames)
    half = gate_frames(frames, x, torch.full((2, 1, 8, 10), 0.5))
    assert torch.allclose(half, 0.5 * (frames + x[:, None]), atol=1e-6)
    assert torch.equal(frames, before)  # not changed without inplace
    same = gate_frames(frames, x, torch.full((2, 1, 8, 10), 0.5), inplace=True)
    assert same is frames and torch.allclose(frames, half)


def _texture(h: int, w: int, seed: int) -> torch.Tensor:
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    t = F.avg_pool2d(torch.rand(1, 3, h + 4, w + 4, generator=gen), 5, 1)[0]
    return (t - t.min()) / (t.max() - t.min())


STEP = 10  # the patch's motion per frame (pixels)


def _clip(frames: int = 6) -> torch.Tensor:
    """``(frames, 3, 72, 140)``: a still texture with a 16x24 textured patch moving
    :data:`STEP` px per frame to the right (x from 10 + STEP i)."""
    back, patch = _texture(72, 140, 0), _texture(16, 24, 1)
    out = back.repeat(frames, 1, 1, 1)
    for i in range(frames):
        x0 = 10 + STEP * i
        out[i, :, 28:44, x0 : x0 + 24] = patch
    return out


def test_neighbour_speed_finds_a_small_fast_object():
    """The patch moves 10 px per frame; the background does not move; a lone frame has no
    neighbours (NaN). On a clip this small DIS reads the patch as nearly still (under
    3 px), but the flow-aligned neighbour does not match it there: it counts as moving
    (MISSED_PX; 20-44 % of its pixels, where 3x3 of them are together), so G's frames are
    kept all over it."""
    pytest.importorskip("cv2")
    clip = _clip()
    speed = neighbour_speed(clip)
    assert speed.shape == (6, 1, 72, 140)
    for i in range(6):
        x0 = 10 + STEP * i
        patch = speed[i, 0, 28:44, x0 : x0 + 24]
        assert float((patch >= MISSED_PX).float().mean()) > 0.1  # the texture matches in places
        weight = motion_weight(speed[i : i + 1], (72, 140))  # the gaps are pooled away
        assert float(weight[0, 0, 28:44, x0 : x0 + 24].min()) == 1.0
        assert float(speed[i, 0, 52:, :].max()) < 0.5  # the still background
    assert torch.isnan(neighbour_speed(clip[:1])).all()


def test_a_texture_moving_slowly_is_read_by_the_flow():
    """A whole textured frame moving 3 px per frame: read as 3 px (the flow explains it),
    not as missed."""
    pytest.importorskip("cv2")
    back = _texture(80, 160, 2)
    clip = torch.stack([back[:, :, 3 * i : 3 * i + 120] for i in range(4)])
    speed = neighbour_speed(clip)[:, :, 10:-10, 10:-10]
    assert float(speed.median()) == pytest.approx(3.0, abs=0.3)
    assert float(speed.max()) < MISSED_PX
    assert torch.isnan(neighbour_speed(clip[:1])).all()


def test_motion_gate_keeps_still_pixels_and_moving_ones(tmp_path):
    """G's frames where the patch moves, the input exactly where nothing moves; batch by
    batch it gates as the whole clip at once."""
    pytest.importorskip("cv2")
    clip = _clip()
    frames = torch.stack([clip.roll(k - 3, dims=-1) for k in range(7)], 1)  # G invents motion
    whole = MotionGate()(frames.clone(), clip)  # (it gates in place)
    still = clip[:, None, :, 58:, :].expand(-1, 7, -1, -1, -1)
    assert torch.equal(whole[:, :, :, 58:, :], still)
    for i in range(6):  # on the patch: G's frames
        x0 = 10 + STEP * i
        region = (slice(None), slice(28, 44), slice(x0, x0 + 24))
        assert torch.allclose(whole[i][(slice(None), *region)], frames[i][(slice(None), *region)])
    gate, parts = MotionGate(), []
    for start in (0, 2, 4):
        nxt = clip[start + 2] if start + 2 < 6 else None
        parts.append(gate(frames[start : start + 2].clone(), clip[start : start + 2], nxt))
    assert torch.allclose(torch.cat(parts), whole, atol=1e-6)
