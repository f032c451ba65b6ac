"""Tests of blurvid.train.data: sample banks, mixing, loaders, ``--data`` specs and the names it
re-exports from blurvid.data."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from helpers import check_consistent, ramp_sample, write_frames
from PIL import Image

from blurvid.data import Augment, DataSplit, ShakeConfig, SyntheticShakeDataset
from blurvid.errors import ConfigError, DataError
from blurvid.train.data import (
    BankDataset,
    MixDataset,
    SampleBank,
    dataset_from_specs,
    make_loader,
    set_epoch,
)


# ----------------------------------------------------------------------------- bank
class _Failing(torch.utils.data.Dataset):
    def __init__(self, ds, fail_at):
        self.ds, self.fail_at, self.seed = ds, fail_at, ds.seed

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        if i >= self.fail_at:
            raise RuntimeError("interrupted")
        return self.ds[i]


def test_bank_round_trip_atomic_and_resume(tiny_photos, tmp_path):
    ds = SyntheticShakeDataset(tiny_photos, ShakeConfig(size=32), length=10, seed=0)
    path = tmp_path / "bank" / "b.safetensors"
    # interrupted after the first chunk: the chunk survives
    with pytest.raises(RuntimeError, match="interrupted"):
        SampleBank.render(_Failing(ds, 6), n=10, path=path, chunk_size=4, progress=False)
    parts = sorted((tmp_path / "bank" / "b.safetensors.parts").iterdir())
    assert [p.name for p in parts] == ["part_00000.safetensors"]
    bank = SampleBank.render(ds, n=10, path=path, chunk_size=4, progress=False)
    assert path.is_file() and not (tmp_path / "bank" / "b.safetensors.parts").exists()
    assert sorted(p.name for p in (tmp_path / "bank").iterdir()) == [
        "b.safetensors"
    ]  # no temp files
    assert bank.blurry.dtype == torch.uint8 and bank.frames.shape == (10, 7, 3, 32, 32)
    # safetensors, not pickle: 8-byte header length then a JSON header
    raw = path.read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + hlen])
    assert set(header) >= {"blurry", "frames", "__metadata__"}
    loaded = SampleBank.load(path)
    assert torch.equal(loaded.blurry, bank.blurry) and torch.equal(loaded.frames, bank.frames)
    for i in (0, 5, 9):  # resumed chunk + fresh chunks == the dataset, within quantisation
        s = ds[i]
        assert (loaded[i]["blurry"] - s["blurry"]).abs().max() <= 0.5 / 255 + 1e-6
        assert (loaded[i]["frames"] - s["frames"]).abs().max() <= 0.5 / 255 + 1e-6
    again = SampleBank.render(ds, n=10, path=path, progress=False)  # complete file: loaded
    assert torch.equal(again.frames, bank.frames)
    with pytest.raises(DataError):
        SampleBank.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(DataError):
        SampleBank.load(tmp_path / "junk.safetensors")


def test_bank_dataset_crops_flips_and_epochs():
    s = ramp_sample(48, 48)
    bank = SampleBank.from_samples([s, s])
    ds = BankDataset(bank, crop=32, length=6, seed=0)
    assert len(ds) == 6
    revs = set()
    for i in range(6):
        o = ds[i]
        assert o["blurry"].shape == (3, 32, 32) and o["frames"].shape == (7, 3, 32, 32)
        revs.add(check_consistent(o))
    assert revs == {False, True}
    assert torch.equal(ds[3]["blurry"], BankDataset(bank, crop=32, length=6, seed=0)[3]["blurry"])
    first = ds[3]["blurry"]
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["blurry"], first)
    with pytest.raises(DataError):
        BankDataset(bank, crop=64)


# ----------------------------------------------------------------------------- mix / loader
def test_mix_dataset_weights_and_determinism(tiny_photos):
    a = BankDataset(SampleBank.from_samples([ramp_sample(32, 32)]), augment=Augment(hflip=False))
    b = SyntheticShakeDataset(tiny_photos, ShakeConfig(size=32), length=4, seed=1)
    only_a = MixDataset([(a, 1.0), (b, 0.0)], length=20, seed=0)
    assert {only_a.source_of(i)[0] for i in range(20)} == {0}
    mix = MixDataset([(a, 1.0), (b, 1.0)], length=40, seed=0)
    picks = [mix.source_of(i)[0] for i in range(40)]
    assert 8 < sum(picks) < 32
    assert picks == [
        MixDataset([(a, 1.0), (b, 1.0)], length=40, seed=0).source_of(i)[0] for i in range(40)
    ]
    assert mix[3]["blurry"].shape == (3, 32, 32)
    with pytest.raises(ConfigError):
        MixDataset([(a, 0.0)], length=3)


def test_make_loader_batches_seeding_and_workers(tiny_photos):
    ds = SyntheticShakeDataset(tiny_photos, ShakeConfig(size=32), length=8, seed=0)
    l0 = make_loader(ds, batch_size=4, shuffle=True, num_workers=0, seed=7)
    batch = next(iter(l0))
    assert batch["blurry"].shape == (4, 3, 32, 32) and batch["frames"].shape == (4, 7, 3, 32, 32)
    l2 = make_loader(ds, batch_size=4, shuffle=True, num_workers=2, seed=7)
    batch2 = next(iter(l2))
    assert torch.equal(batch["frames"], batch2["frames"])  # same order, same items in workers
    l3 = make_loader(ds, batch_size=4, shuffle=True, num_workers=0, seed=8)
    assert not torch.equal(next(iter(l3))["blurry"], batch["blurry"])
    set_epoch(l0, 1)
    assert ds.epoch == 1
    with pytest.raises(ConfigError):
        make_loader(ds, distributed=True)


def test_dataset_from_specs(tiny_photos, tmp_path):
    write_frames(tmp_path / "clip", 9, h=40, w=40)
    ds = dataset_from_specs(
        [f"photos:{tiny_photos}@2", f"frames:{tmp_path / 'clip'}"], crop=32, length=10
    )
    assert isinstance(ds, MixDataset) and len(ds) == 10 and ds[0]["frames"].shape == (7, 3, 32, 32)
    banked = dataset_from_specs(
        [f"photos:{tiny_photos}"], crop=32, bank_size=3, bank_dir=tmp_path, progress=False
    )
    assert isinstance(banked, BankDataset) and len(banked) == 3
    assert (tmp_path / "bank_3_32_0.safetensors").is_file()
    with pytest.raises(ConfigError):
        dataset_from_specs(["nonsense"])
    with pytest.raises(ConfigError):
        dataset_from_specs([f"tape:{tmp_path}"])
    with pytest.raises(DataError):
        dataset_from_specs([f"photos:{tmp_path / 'missing'}"])


def test_frames_spec_leaves_out_the_validation_sequence(tmp_path):
    """``frames:ROOT`` trains on every sequence under ROOT except the validation one: the
    project's (scripts/data_split.json, found from the checkout) or a given split's."""
    import blurvid.train.data as td

    held_out = td.VALIDATION_FRAME_FOLDERS[0]  # read from the project's manifest
    assert held_out == "sam2_bedroom"
    for name in ("clip_a", held_out, "clip_c"):
        (tmp_path / name).mkdir()
        for i in range(9):
            Image.new("RGB", (40, 40), (i * 20, 0, 0)).save(tmp_path / name / f"{i:03d}.png")
    ds = dataset_from_specs([f"frames:{tmp_path}"], crop=32, progress=False)
    assert [f.name for f in ds.folders] == ["clip_a", "clip_c"]
    with pytest.warns(UserWarning, match="validation set"):
        dataset_from_specs([f"frames:{tmp_path / held_out}"], crop=32, progress=False)
    other = DataSplit(("p.png",), "clip_c")
    ds = dataset_from_specs([f"frames:{tmp_path}"], crop=32, progress=False, split=other)
    assert [f.name for f in ds.folders] == ["clip_a", held_out]


def test_photos_spec_leaves_out_the_split_photos(tiny_photos, tmp_path, monkeypatch):
    """``photos:DIR`` skips the split's validation photos; with no split found, none."""
    import blurvid.data.split as split_mod

    names = sorted(p.name for p in tiny_photos.iterdir())
    held_out = DataSplit((names[0],), "clip")
    ds = dataset_from_specs([f"photos:{tiny_photos}"], crop=32, length=2, split=held_out)
    assert len(ds.photos) == len(names) - 1
    with pytest.raises(DataError, match="no training photos left"):
        dataset_from_specs([f"photos:{tiny_photos}"], split=DataSplit(tuple(names), "clip"))
    monkeypatch.delenv("BLURVID_SPLIT", raising=False)
    monkeypatch.setattr(split_mod, "_checkout_manifest", lambda: None)
    monkeypatch.chdir(tmp_path)
    ds = dataset_from_specs([f"photos:{tiny_photos}"], crop=32, length=2)
    assert len(ds.photos) == len(names)
    import blurvid.train.data as td

    with pytest.raises(DataError, match="no data split"):
        td.VALIDATION_PHOTOS  # noqa: B018 - the access reads the manifest


def test_steady_spec_renders_nearly_sharp_samples(tiny_photos):
    """``steady:DIR``: the same photos as ``photos:DIR`` under a nearly steady camera -- the
    frames barely move (and the blurry image is nearly the centre frame), far less than under
    the default 4-24 px shake of the same photos and seeds."""

    def motion(spec):
        ds = dataset_from_specs([spec], crop=64, length=12, seed=3, split=DataSplit((), "x"))
        f = torch.stack([ds[i]["frames"] for i in range(12)])
        b = torch.stack([ds[i]["blurry"] for i in range(12)])
        return (f[:, 0] - f[:, -1]).abs().mean().item(), (b - f[:, 3]).abs().mean().item()

    steady, shake = motion(f"steady:{tiny_photos}"), motion(f"photos:{tiny_photos}")
    assert steady[0] < 0.5 * shake[0] and steady[1] < 0.5 * shake[1]
    assert steady[1] < 0.05  # the blurry image is nearly its centre frame


def test_moved_names_are_still_importable_from_blurvid_train():
    """Code written against blurvid.train.data / blurvid.train.synthetic keeps working."""
    import blurvid.data
    import blurvid.data.shake
    import blurvid.train.data as td
    import blurvid.train.synthetic as syn

    for name in ("Augment", "GoproDataset", "FrameFolderDataset", "VideoDataset",
                 "SyntheticShakeDataset", "ValidationSet", "validation_set", "blur_from_frames",
                 "load_photos", "random_crop", "VIDEO_SUFFIXES", "VALIDATION_SHAKE"):  # fmt: skip
        assert getattr(td, name) is getattr(blurvid.data, name), name
    for name in syn.__all__:  # Pyramid (a type alias) is only in blurvid.data.shake
        assert getattr(syn, name) is getattr(blurvid.data, name, blurvid.data.shake.Pyramid)
    split = blurvid.data.find_split()
    assert td.VALIDATION_PHOTOS == split.validation_photos and len(td.TRAINING_PHOTOS) == 33
    assert td.DEFAULT_DATA_ROOT == str(split.data_root)
    with pytest.raises(AttributeError):
        td.NO_SUCH_NAME  # noqa: B018


def test_bank_file_of_other_data_is_not_reused(tiny_photos, tmp_path):
    """Same size, crop and seed, other data: the cached bank must not be served silently."""
    other = tmp_path / "other"
    other.mkdir()
    first = sorted(tiny_photos.iterdir())[0]
    (other / first.name).write_bytes(first.read_bytes())
    a = dataset_from_specs([f"photos:{tiny_photos}"], crop=32, bank_size=4, bank_dir=tmp_path,
                           progress=False)  # fmt: skip
    again = dataset_from_specs([f"photos:{tiny_photos}"], crop=32, bank_size=4,
                               bank_dir=tmp_path, progress=False)  # fmt: skip
    assert torch.equal(a.bank.frames, again.bank.frames)  # same data: the file is reused
    with pytest.raises(DataError, match="rendered from other data .*specs"):
        dataset_from_specs([f"photos:{other}"], crop=32, bank_size=4, bank_dir=tmp_path,
                           progress=False)  # fmt: skip
