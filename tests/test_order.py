"""blurvid.order: one time-order rule for a photo, a clip and the recursion."""

import torch

import blurvid
import blurvid.video
from blurvid.order import ClipOrienter, choose_order, orient_groups, thumbnail


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
