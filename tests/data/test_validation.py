"""Tests of blurvid.data.validation and blurvid.data.split: the fixed validation set and the
manifest that names its held-out files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from blurvid.data import DataSplit, ValidationSet, find_split, validation_set
from blurvid.errors import DataError
from blurvid.model import linear_to_srgb, srgb_to_linear

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")


@needs_data
def test_photo_split_covers_the_photo_folder():
    """The project's manifest (scripts/data_split.json) splits every photo of the shared data."""
    split = find_split()
    assert split.path.resolve() == (REPO / "scripts" / "data_split.json").resolve()
    names = {p.name for p in (DATA / "photos").iterdir()}
    assert set(split.validation_photos).isdisjoint(split.training_photos)
    assert set(split.validation_photos) | set(split.training_photos) == names
    assert len(split.validation_photos) == 6 and split.validation_frames == "sam2_bedroom"
    assert (DATA / "frames" / split.validation_frames).is_dir()


@needs_data
@pytest.mark.slow
def test_validation_set_fixed_size_and_bit_identical(tmp_path):
    a = validation_set(DATA)
    b = validation_set(DATA)
    assert isinstance(a, ValidationSet) and len(a) == 80
    assert a.blurry.shape == (80, 3, 128, 128) and a.frames.shape == (80, 7, 3, 128, 128)
    assert a.blurry.dtype == torch.float32
    assert a.source.count("synthetic") == 64 and a.source.count("real") == 16
    assert (
        torch.equal(a.blurry, b.blurry) and torch.equal(a.frames, b.frames) and a.names == b.names
    )
    assert torch.equal(torch.round(a.frames * 255) / 255, a.frames)  # on the 8-bit grid
    # mapping access, as used by the trainer / evaluator
    assert a["blurry"] is a.blurry and a.get("source") == a.source and len(a["frames"]) == 80
    # the synthetic half moves: frame 1 != frame 7
    syn = a.subset("synthetic")
    assert float((syn.frames[:, 0] - syn.frames[:, 6]).abs().mean()) > 0.01
    real = a.subset("real")
    assert (
        real.blurry - linear_to_srgb(srgb_to_linear(real.frames).mean(1))
    ).abs().max() <= 0.5 / 255 + 1e-6
    # cache file: reused when built with the same arguments, rebuilt otherwise
    path = tmp_path / "val.safetensors"
    a.save(path)
    cached = validation_set(DATA, cache_path=path)
    assert torch.equal(cached.frames, a.frames) and torch.equal(cached.blurry, a.blurry)
    assert cached.source == a.source and cached.names == a.names
    small = validation_set(DATA, n_synthetic=2, n_real=1, cache_path=path)
    assert len(small) == 3 and torch.equal(small.blurry[:2], a.blurry[:2])
    assert len(ValidationSet.load(path)) == 3


def test_validation_set_missing_root(tmp_path):
    with pytest.raises(DataError):
        validation_set(tmp_path / "nowhere")
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match="validation photos missing"):
        validation_set(tmp_path)


# ----------------------------------------------------------------------------- split manifest
def _manifest(path: Path, **changes) -> Path:
    doc = {
        "format": "blurvid-data-split-v1",
        "data_root": "data",
        "validation": {"photos": ["p0.png", "p1.png"], "frames": "clip"},
        "training": {"photos": ["p2.png"]},
        **changes,
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def no_default_split(monkeypatch, tmp_path):
    """No manifest anywhere: not configured, not in a checkout, not in the working folder."""
    import blurvid.data.split as split_mod

    monkeypatch.delenv("BLURVID_SPLIT", raising=False)
    monkeypatch.delenv("BLURVID_DATA", raising=False)
    monkeypatch.setattr(split_mod, "_checkout_manifest", lambda: None)
    monkeypatch.chdir(tmp_path)


def test_split_manifest_is_read_and_checked(tmp_path):
    split = DataSplit.load(_manifest(tmp_path / "s.json"))
    assert split.validation_photos == ("p0.png", "p1.png") and split.validation_frames == "clip"
    assert split.training_photos == ("p2.png",)
    assert split.data_root == (tmp_path / "data").resolve()  # relative to the manifest's folder
    bad = [
        ("not json", "not readable JSON"),
        (json.dumps({"format": "other"}), "format"),
        (json.dumps({"format": "blurvid-data-split-v1", "validation": []}), "must be objects"),
    ]
    for text, message in bad:
        (tmp_path / "bad.json").write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=message):
            DataSplit.load(tmp_path / "bad.json")
    for changes, message in [
        ({"validation": {"photos": ["../x.png"], "frames": "clip"}}, "plain file"),
        ({"validation": {"photos": [], "frames": "clip"}}, "empty"),
        ({"validation": {"photos": ["a.png"], "frames": 3}}, "plain file"),
        ({"training": {"photos": ["p1.png"]}}, "both training and validation"),
        ({"data_root": 5}, "data_root"),
    ]:
        with pytest.raises(DataError, match=message):
            DataSplit.load(_manifest(tmp_path / "bad.json", **changes))
    with pytest.raises(DataError, match="does not exist"):
        DataSplit.load(tmp_path / "missing.json")


def test_find_split_order(tmp_path, monkeypatch, no_default_split):
    with pytest.raises(DataError, match="no data split: pass --split FILE"):
        find_split()
    explicit = _manifest(tmp_path / "explicit.json")
    assert find_split(explicit).path == explicit
    assert find_split(find_split(explicit)).path == explicit  # a DataSplit passes through
    (tmp_path / "scripts").mkdir()
    here = _manifest(tmp_path / "scripts" / "data_split.json")
    assert find_split().path.resolve() == here.resolve()  # the working folder's checkout
    env = _manifest(tmp_path / "env.json")
    monkeypatch.setenv("BLURVID_SPLIT", str(env))
    assert find_split().path == env
    assert find_split(explicit).path == explicit


def test_the_checkout_manifest_is_found_from_anywhere(tmp_path, monkeypatch):
    """Imported from a checkout (``<repo>/src/blurvid``), the package finds
    ``<repo>/scripts/data_split.json`` whatever the working folder; installed, it does not."""
    import blurvid.data.split as split_mod

    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    manifest = _manifest(repo / "scripts" / "data_split.json")
    monkeypatch.delenv("BLURVID_SPLIT", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(split_mod, "__file__", str(repo / "src" / "blurvid" / "data" / "split.py"))
    assert find_split().path == manifest
    installed = tmp_path / "lib" / "site-packages" / "blurvid" / "data" / "split.py"
    monkeypatch.setattr(split_mod, "__file__", str(installed))
    with pytest.raises(DataError, match="no data split"):
        find_split()


@pytest.fixture
def small_data(tmp_path, tiny_photos):
    """A data folder: photos/p0.png, p1.png (160x192) and frames/clip (9 frames, 48x64)."""
    from helpers import write_frames

    root = tmp_path / "data"
    (root / "photos").mkdir(parents=True)
    for i, p in enumerate(sorted(tiny_photos.iterdir())):
        (root / "photos" / f"p{i}.png").write_bytes(p.read_bytes())
    write_frames(root / "frames" / "clip", 9, h=48, w=64)
    return root


SMALL = dict(size=32, n_synthetic=3, n_real=2, real_scale=1.0)


def test_validation_set_from_a_manifest_or_from_files(tmp_path, small_data, no_default_split):
    with pytest.raises(DataError, match="no data split"):
        validation_set(small_data, **SMALL)
    manifest = _manifest(tmp_path / "split.json")  # data_root "data": small_data
    a = validation_set(split=manifest, **SMALL)
    assert a.names[:3] == ["synthetic:p0.png:0", "synthetic:p1.png:1", "synthetic:p0.png:2"]
    assert all(n.startswith("real:clip:") for n in a.names[3:]) and len(a) == 5
    b = validation_set(
        photos=[small_data / "photos" / "p0.png", small_data / "photos" / "p1.png"],
        frames=small_data / "frames" / "clip",
        **SMALL,
    )
    assert torch.equal(a.blurry, b.blurry) and torch.equal(a.frames, b.frames)
    assert a.names == b.names and a.params == b.params
    with pytest.raises(DataError, match="validation photos missing"):
        validation_set(photos=[tmp_path / "nope.png"], frames=small_data / "frames" / "clip")
    with pytest.raises(DataError, match="no data folder"):
        validation_set(split=_manifest(tmp_path / "rootless.json", data_root=None), **SMALL)


def test_a_cache_of_other_files_is_rebuilt(tmp_path, small_data, no_default_split, monkeypatch):
    photos = [small_data / "photos" / "p0.png", small_data / "photos" / "p1.png"]
    frames = small_data / "frames" / "clip"
    cache = tmp_path / "val.safetensors"
    a = validation_set(photos=photos, frames=frames, cache_path=cache, **SMALL)
    swapped = validation_set(photos=photos[::-1], frames=frames, cache_path=cache, **SMALL)
    assert swapped.names[0] == "synthetic:p1.png:0" and not torch.equal(swapped.blurry, a.blurry)
    assert ValidationSet.load(cache).names == swapped.names  # the cache now holds the new set
    import blurvid.data.validation as val_mod

    def no_rendering(*args, **kwargs):
        raise AssertionError("the cached set must be loaded, not rebuilt")

    monkeypatch.setattr(val_mod, "load_photos", no_rendering)
    again = validation_set(photos=photos[::-1], frames=frames, cache_path=cache, **SMALL)
    assert torch.equal(again.frames, swapped.frames) and again.names == swapped.names
