"""blurvid.order: one time-order rule for a photo, a clip and the recursion."""

import pytest
import torch

import blurvid
import blurvid.video
from blurvid.errors import ConfigError
from blurvid.order import (
    ClipOrienter,
    choose_order,
    motion_reverse_mask,
    orient_groups,
    thumbnail,
)


def test_one_home_for_the_rule():
    assert blurvid.choose_order is choose_order is blurvid.video.choose_order
    assert blurvid.video.ClipOrienter is ClipOrienter


def test_orient_groups_agrees_with_choose_order():
    """Groups running from ``before`` to ``after`` (brightness ramps), some given reversed:
    exactly those are flipped back, as choose_order decides group by group."""
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0.3, 0.7, 5).view(5, 1, 1, 1)
    noise = 0.05 * torch.rand(2, 3, 5, 3, 8, 8, generator=gen)
    reversed_ = torch.tensor([[True, False, True], [False, False, True]])
    groups = torch.where(reversed_.view(2, 3, 1, 1, 1, 1), ramp.flip(0), ramp) + noise
    before, after = torch.full((2, 3, 3, 8, 8), 0.2), torch.full((2, 3, 3, 8, 8), 0.8)
    oriented, flips = orient_groups(groups, before, after)
    assert torch.equal(flips, reversed_)
    for b in range(2):
        for p in range(3):
            want = choose_order(groups[b, p], previous=before[b, p], following=after[b, p])
            assert bool(flips[b, p]) is want
            expected = groups[b, p].flip(0) if want else groups[b, p]
            assert torch.equal(oriented[b, p], expected)
    assert (
        oriented[..., 1:, :, :, :].mean((-3, -2, -1))
        > oriented[..., :-1, :, :, :].mean((-3, -2, -1))
    ).all()


def test_thumbnails_of_thumbnails_are_equal():
    x = torch.rand(2, 3, 200, 130, generator=torch.Generator().manual_seed(1))
    t = thumbnail(x)
    assert t.shape == (2, 3, 50, 33) and torch.equal(thumbnail(t), t)


# ----------------------------------------------------------------------------- motion rule
def _moving_clip(groups: int = 8, seed: int = 0) -> torch.Tensor:
    """``(groups, 7, 3, 72, 96)``: a smooth random texture moving 1 px per sub-frame, the
    direction changing between groups (right, down, left, up, ...), so every group's true
    order is known and the motion is not one global drift."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    big = F.avg_pool2d(torch.rand(1, 3, 260, 290, generator=gen), 5, 1)[0]  # 256 x 286
    big = (big - big.min()) / (big.max() - big.min())
    steps = [(1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1)]
    y, x, frames = 90, 90, []
    for g in range(groups):
        dx, dy = steps[g % len(steps)]
        for _ in range(7):
            frames.append(big[:, y : y + 72, x : x + 96])
            y, x = y + dy, x + dx
    return torch.stack(frames).reshape(groups, 7, 3, 72, 96)


def test_motion_rule_orients_a_clip_whose_order_is_known():
    """Each group of the true sub-frames, randomly reversed, is put back in time order from
    the motion between its neighbours; G-like frames (each a blend towards the group's
    centre, so they move less than the truth) too."""
    pytest.importorskip("cv2")
    groups = _moving_clip()
    truth = torch.rand(len(groups), generator=torch.Generator().manual_seed(3)) < 0.5
    assert 2 <= int(truth.sum()) <= len(groups) - 2
    soft = 0.6 * groups + 0.4 * groups[:, 3:4]  # less motion, blurrier: like G's frames
    for frames in (groups, soft):
        shown = torch.where(truth.view(-1, 1, 1, 1, 1), frames.flip(1), frames)
        oriented, flips = ClipOrienter(rule="motion")(shown, groups.mean(1))
        assert torch.equal(flips, truth)
        assert torch.equal(oriented, frames)


def test_motion_rule_is_the_same_in_batches():
    """slow_motion orients batch by batch (the orienter keeps the last input frame, small,
    and is given the next one): the flips equal those of the whole clip at once, also for
    frames larger than ORDER_SIDE."""
    pytest.importorskip("cv2")
    import torch.nn.functional as F

    groups = _moving_clip(7, seed=1)  # 4x larger: over ORDER_SIDE, so compared downscaled
    groups = F.interpolate(groups.flatten(0, 1), scale_factor=4, mode="nearest").view(
        7, 7, 3, 288, 384
    )
    shown = torch.where((torch.arange(7) % 3 == 0).view(-1, 1, 1, 1, 1), groups.flip(1), groups)
    blurry = shown.mean(1)
    _, whole = ClipOrienter(rule="motion")(shown, blurry)
    orienter, parts = ClipOrienter(rule="motion"), []
    for start in range(0, 7, 3):
        nxt = blurry[start + 3] if start + 3 < 7 else None
        parts.append(orienter(shown[start : start + 3], blurry[start : start + 3], nxt)[1])
    assert torch.equal(torch.cat(parts), whole)
    assert orienter.reversed_count == int(whole.sum()) >= 2


def test_motion_reverse_mask_without_neighbours_keeps_the_order():
    pytest.importorskip("cv2")
    frames = _moving_clip(1)
    flips = motion_reverse_mask(frames[:, 0].flip(0), frames[:, -1], frames.mean(1))
    assert flips.tolist() == [False]


def test_clip_orienter_rule_is_checked():
    with pytest.raises(ConfigError, match="rule"):
        ClipOrienter(rule="flow")
    assert ClipOrienter(rule="pixels").rule == "pixels"
