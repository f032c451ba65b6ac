"""The inference API never changes the caller's model (issue 17): no dtype or device
conversion in place, no train/eval switching other threads can see, and a FrameExtractor
owns its model instead of the shared cached default."""

from __future__ import annotations

import copy
import threading

import torch
from conftest import make_tiny_model, perturb

import blurvid.api as api_module
from blurvid import FrameExtractor, extract_frames, interpolate_recursive


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_a_float64_model_stays_float64_and_unchanged():
    g = perturb(make_tiny_model()).double()
    before = _state(g)
    x = torch.rand(2, 3, 24, 24)
    out = extract_frames(x, model=g, max_side=None)
    assert out.dtype == torch.float32 and out.shape == (2, 7, 3, 24, 24)
    assert all(p.dtype == torch.float64 for p in g.parameters())
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    # the answer is the model's, computed in float32 (a float32 copy of the same weights)
    with torch.no_grad():
        expected = g.float().eval()(x).clamp(0, 1)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


def test_a_model_in_train_mode_stays_in_train_mode_under_threads():
    """8 threads at once on one model in train() mode: the model is never switched to eval()
    (it was in 8 of 10 trials, when the API saved and restored ``training`` around each call),
    and every thread gets the eval-mode answer."""
    g = perturb(make_tiny_model()).train()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        want = copy.deepcopy(g).eval()(x).clamp(0, 1)
    seen_eval, results, errors = [], [], []

    def watch(stop):
        while not stop.is_set():
            if not g.training or any(not m.training for m in g.modules()):
                seen_eval.append(True)

    def work():
        try:
            results.append(extract_frames(x, model=g))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for _ in range(3):
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(stop,))
        watcher.start()
        workers = [threading.Thread(target=work) for _ in range(8)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        watcher.join()
    assert not errors
    assert not seen_eval and g.training and all(m.training for m in g.modules())
    assert len(results) == 24
    for r in results:
        torch.testing.assert_close(r, want, rtol=0, atol=1e-6)


def test_recursion_copies_a_train_mode_model_once(monkeypatch):
    g = make_tiny_model().train()
    copies = []
    original = api_module._runnable

    def counting(model, device, dtype):
        ready = original(model, device, dtype)
        copies.append(ready is not model)
        return ready

    monkeypatch.setattr(api_module, "_runnable", counting)
    out = interpolate_recursive(torch.rand(3, 16, 16), 2, model=g)
    assert out.shape == (42, 3, 16, 16)
    assert copies[0] is True and not any(copies[1:])  # one copy, then the ready copy is reused
    assert g.training


def test_frame_extractor_owns_its_default_model(monkeypatch):
    monkeypatch.setattr(api_module, "_MODEL_CACHE", {})
    x = torch.rand(1, 3, 16, 16)
    shared_before = extract_frames(x)  # loads and caches the default
    (cached,) = api_module._MODEL_CACHE.values()
    module = FrameExtractor()
    assert module.generator is not cached
    module.double()  # moving/casting the extractor...
    assert all(p.dtype == torch.float32 for p in cached.parameters())  # ...moves nobody else's
    assert torch.equal(extract_frames(x), shared_before)
    assert module(x.double()).shape == (1, 7, 3, 16, 16)
