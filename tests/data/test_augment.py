"""Tests of blurvid.data.augment: crops, flips, rotations, time reversal, noise, JPEG."""

from __future__ import annotations

import pytest
import torch
from helpers import check_consistent, ramp_sample

from blurvid.data import Augment, item_generator, random_crop
from blurvid.errors import DataError


def test_crop_is_consistent_and_sized():
    s = ramp_sample(160, 150)
    out = random_crop(s, 128, item_generator(0, 0))
    assert out["blurry"].shape == (3, 128, 128) and out["frames"].shape == (7, 3, 128, 128)
    check_consistent(out, reversed_=False)
    with pytest.raises(DataError, match="larger"):
        random_crop(s, 200, item_generator(0, 0))


def test_flips_rotations_and_time_reversal_are_consistent():
    s = ramp_sample(32, 32)
    seen = {"hflip": set(), "rot": set(), "rev": set()}
    aug = Augment(hflip=True, rot90=True, time_reverse=True)
    for i in range(24):
        out = aug(s, item_generator(1, i))
        rev = check_consistent(out)
        seen["rev"].add(rev)
        fr = out["frames"][6] if rev else out["frames"][0]
        # out.blurry must be one of the 8 dihedral transforms of s.blurry, and frame 1 the same one
        found = None
        for k in range(4):
            for flip in (False, True):
                ref = s["blurry"].flip(-1) if flip else s["blurry"]
                ref = torch.rot90(ref, k, dims=(-2, -1))
                if torch.equal(ref, out["blurry"]):
                    found = (k, flip)
                    ref_f = torch.rot90(
                        s["frames"][0].flip(-1) if flip else s["frames"][0], k, dims=(-2, -1)
                    )
                    assert torch.equal(ref_f, fr)
        assert found is not None
        seen["hflip"].add(found[1])
        seen["rot"].add(found[0])
    assert (
        seen["hflip"] == {False, True}
        and seen["rot"] == {0, 1, 2, 3}
        and seen["rev"] == {False, True}
    )


def test_time_reverse_reverses_frames_only():
    s = ramp_sample()
    aug = Augment(hflip=False, time_reverse=True)
    outs = [aug(s, item_generator(2, i)) for i in range(10)]
    revd = [o for o in outs if not torch.equal(o["frames"], s["frames"])]
    assert revd and len(revd) < 10
    for o in revd:
        assert torch.equal(o["frames"], s["frames"].flip(0)) and torch.equal(
            o["blurry"], s["blurry"]
        )


def test_noise_jpeg_and_jitter():
    s = ramp_sample()
    o = Augment(hflip=False, noise_sigma=0.05)(s, item_generator(3, 0))
    assert torch.equal(o["frames"], s["frames"]) and not torch.equal(o["blurry"], s["blurry"])
    j = Augment(hflip=False, jpeg_quality=(20, 30), jpeg_prob=1.0)(s, item_generator(3, 1))
    assert torch.equal(j["frames"], s["frames"])
    assert 0 < float((j["blurry"] - s["blurry"]).abs().mean()) < 0.05
    c = Augment(hflip=False, color_jitter=0.2)(s, item_generator(3, 2))
    gains = (c["blurry"] / s["blurry"].clamp_min(1e-6))[:, 5:, 5:].flatten(1).median(dim=1).values
    assert not torch.allclose(gains, torch.ones(3), atol=1e-3)
    assert torch.allclose(
        c["frames"][0], (s["frames"][0] * gains[:, None, None]).clamp(0, 1), atol=2e-3
    )
    a1 = Augment(rot90=True, noise_sigma=0.02)(s, item_generator(3, 3))
    a2 = Augment(rot90=True, noise_sigma=0.02)(s, item_generator(3, 3))
    assert torch.equal(a1["blurry"], a2["blurry"])


def test_flip_batch_moves_each_sample_as_its_own_flips_would():
    from blurvid.data.augment import flip_batch

    g = torch.Generator().manual_seed(0)
    b, f = torch.rand(6, 3, 5, 5, generator=g), torch.rand(6, 7, 3, 5, 5, generator=g)
    h, v, r = (torch.rand(6, generator=g) < 0.5 for _ in range(3))
    k = torch.randint(4, (6,), generator=g)
    ob, of = flip_batch(b, f, hflip=h, vflip=v, reverse=r, rot90=k)
    for i in range(6):  # the per-sample loop it replaces
        eb, ef = b[i], f[i]
        if h[i]:
            eb, ef = eb.flip(-1), ef.flip(-1)
        if v[i]:
            eb, ef = eb.flip(-2), ef.flip(-2)
        eb, ef = torch.rot90(eb, int(k[i]), (-2, -1)), torch.rot90(ef, int(k[i]), (-2, -1))
        if r[i]:
            ef = ef.flip(0)
        assert torch.equal(ob[i], eb) and torch.equal(of[i], ef)
