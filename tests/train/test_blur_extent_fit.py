"""Fitting the blur-extent head (:mod:`blurvid.train.blur_extent`): reproducible samples whose
true length is the rendered path, and a fit that learns."""

from __future__ import annotations

import pytest
import torch

from blurvid.train.blur_extent import LENGTH, fit, predict, render_samples, save_net


@pytest.fixture(scope="module")
def photos():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(3, 40, 40, generator=g)
    up = torch.nn.functional.interpolate(base[None], size=(200, 200), mode="bicubic")[0]
    return [up.clamp(0, 1), torch.rand(3, 160, 180, generator=g)]


def test_samples_are_reproducible_by_index(photos):
    a = render_samples(photos, 6, seed=3, size=48)
    b = render_samples(photos, 3, seed=3, start=3, size=48)
    assert torch.equal(a["luma"][3:], b["luma"]) and torch.equal(a["length"][3:], b["length"])
    assert a["luma"].dtype == torch.uint8 and a["luma"].shape == (6, 1, 48, 48)


def test_lengths_cover_sharp_and_the_drawn_range(photos):
    s = render_samples(photos, 60, seed=1, size=32)
    sharp = s["length"] == 0
    assert 1 <= int(sharp.sum()) <= 20  # SHARP_SHARE = 12 %
    blurred = s["length"][~sharp]
    # the arc of the sub-frame positions is a little under the drawn path length
    assert float(blurred.min()) >= 0.3 * LENGTH[0] and float(blurred.max()) <= LENGTH[1]
    # a sharp sample's image is the photo itself (noise aside): no motion
    assert set(s["photo"].tolist()) == {0, 1}


def test_a_tiny_fit_learns_the_lengths(photos, tmp_path):
    train = render_samples(photos, 96, seed=2, size=32)
    net, log = fit(train, steps=160, batch=16, lr=3e-3, log_every=40, progress=False,
                   widths=(8, 16, 24))  # fmt: skip
    assert log[-1]["loss"] < 0.6 * log[0]["loss"]
    est = predict(net, train["luma"])
    true = train["length"]
    # long blur reads longer than short blur
    assert float(est[true > 30].median()) > 2 * float(est[(true > 0) & (true < 5)].median())
    save_net(net, tmp_path / "net.safetensors", {"note": "test"})
    from blurvid.blur_extent import load_blur_extent_net

    back = load_blur_extent_net(str(tmp_path / "net.safetensors"))
    torch.testing.assert_close(predict(back, train["luma"][:4]), est[:4])
