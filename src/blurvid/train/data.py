"""Training data: sample banks, mixing, loaders and the ``--data`` specs of ``blurvid train``.

The datasets themselves (synthetic shake, GOPRO, frame folders, videos), augmentation and the
fixed validation set live in :mod:`blurvid.data`, shared with evaluation; this module keeps
what only training needs:

* :class:`MixDataset` -- several sources mixed by weight.
* :class:`SampleBank` / :class:`BankDataset` -- a pre-rendered bank of samples (uint8,
  safetensors) reused with crops, flips, 90-degree rotations and time reversal, so a CPU
  spends its time training instead of rendering.
* :func:`make_loader`, :func:`set_epoch` -- seeded ``DataLoader`` set-up.
* :func:`dataset_from_specs`, :func:`check_data_specs` -- ``KIND:PATH[@WEIGHT]`` strings to a
  dataset; the files a :class:`~blurvid.data.split.DataSplit` holds out for validation are
  left out.

The names that moved to :mod:`blurvid.data` are re-exported here, so existing imports keep
working. ``TRAINING_PHOTOS``, ``VALIDATION_PHOTOS``, ``VALIDATION_FRAME_FOLDERS`` and
``DEFAULT_DATA_ROOT`` are read on access from the project's split manifest
(:func:`blurvid.data.find_split`); the package itself names no data files.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.augment import Augment, random_crop
from ..data.base import (
    PathLike,
    Sample,
    _atomic_save,
    _dequantize,
    _len,
    _load_safetensors,
    _quantize,
    _randint,
    _SeededDataset,
    item_seed,
)
from ..data.camera import CameraConfig
from ..data.leaves import LeavesConfig, LeavesDataset
from ..data.sequences import (
    VIDEO_SUFFIXES,
    FrameFolderDataset,
    GoproDataset,
    VideoDataset,
    blur_from_frames,
)
from ..data.shake import STEADY, ShakeConfig, SyntheticShakeDataset, _photo_list, load_photos
from ..data.split import DataSplit, default_split, find_split, resolve_data_root
from ..data.validation import VALIDATION_SHAKE, ValidationSet, validation_set
from ..errors import ConfigError, DataError
from ..io import list_images

__all__ = [
    "DATA_KINDS",
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
    "bank_file_name",
    "blur_from_frames",
    "check_data_specs",
    "dataset_from_specs",
    "load_photos",
    "make_loader",
    "random_crop",
    "resolve_data_root",
    "set_epoch",
    "training_photo_paths",
    "validation_set",
]

#: The project's split, read from its manifest on access (see the module docstring).
_SPLIT_NAMES = {
    "TRAINING_PHOTOS": lambda s: s.training_photos,
    "VALIDATION_PHOTOS": lambda s: s.validation_photos,
    "VALIDATION_FRAME_FOLDERS": lambda s: (s.validation_frames,),
    "DEFAULT_DATA_ROOT": lambda s: str(s.data_root) if s.data_root is not None else None,
}


def __getattr__(name: str) -> Any:
    """``TRAINING_PHOTOS`` & co. from the project's split manifest (:func:`find_split`).

    Raises:
        DataError: No manifest is configured or found.
    """
    if name in _SPLIT_NAMES:
        return _SPLIT_NAMES[name](find_split())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def training_photo_paths(
    data_root: PathLike | None = None, split: DataSplit | PathLike | None = None
) -> list[Path]:
    """Paths of the split's training photos under ``data_root/photos`` that exist.

    Raises:
        DataError: No split, or none of them exists.
    """
    found = find_split(split)
    folder = resolve_data_root(data_root, found) / "photos"
    paths = [folder / n for n in found.training_photos if (folder / n).is_file()]
    if not paths:
        raise DataError(f"none of the training photos is in {folder}")
    return paths


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
        self._check_index(index)
        k, j = self.source_of(index)
        return self.sources[k][j]


# ----------------------------------------------------------------------------- bank
_BANK_FORMAT = "blurvid-sample-bank-v1"


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
        self._check_index(index)
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


# ----------------------------------------------------------------------------- specs
def _parse_spec(spec: str) -> tuple[str, Path | None, float]:
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or (not rest and kind != "leaves"):
        raise ConfigError(
            f"data spec {spec!r} must be KIND:PATH[@WEIGHT] with KIND one of "
            f"{', '.join(DATA_KINDS)} (leaves: takes no path, or a photo folder for its colours)"
        )
    weight = 1.0
    if "@" in rest:
        head, _, w = rest.rpartition("@")
        try:
            weight = float(w)
            rest = head
        except ValueError:
            pass
    return kind, (Path(rest) if rest else None), weight


DATA_KINDS = ("photos", "steady", "stills", "leaves", "frames", "video", "gopro", "bank")


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
        if path is not None and not path.exists():
            raise DataError(f"data spec {spec!r}: {path} does not exist")


def bank_file_name(
    size: int, crop: int, seed: int, camera: CameraConfig | str | None = None
) -> str:
    """The file name :func:`dataset_from_specs` gives a bank: ``bank_<size>_<crop>_<seed>``, and
    with camera realism a short hash of it (a bank with realism never takes the name of one
    without)."""
    cam = CameraConfig.parse(camera)
    tag = "" if cam.is_off else "_cam" + hashlib.sha1(cam.describe().encode()).hexdigest()[:8]
    return f"bank_{size}_{crop}_{seed}{tag}.safetensors"


def dataset_from_specs(
    specs: Sequence[str],
    crop: int = 128,
    seed: int = 0,
    bank_size: int = 0,
    bank_dir: PathLike | None = None,
    length: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    split: DataSplit | PathLike | None = None,
    camera: CameraConfig | str | None = None,
) -> Dataset:
    """Build a training dataset from ``--data`` strings ``KIND:PATH[@WEIGHT]``.

    Kinds: ``photos:DIR`` (:class:`SyntheticShakeDataset`, ``ShakeConfig(size=crop)``; the
    split's validation photos are left out so the validation set stays unseen),
    ``steady:DIR`` (the same photos under a nearly steady camera,
    :data:`blurvid.data.shake.STEADY`: motion of at most 3 px, so G learns to give a nearly
    sharp image back unchanged),
    ``stills:FILE_OR_DIR`` (the same synthetic shake on still frames of videos,
    :func:`~blurvid.data.video_stills`: 24 of the sharpest per video, at half size),
    ``leaves:`` or ``leaves:DIR`` (procedural dead-leaves scenes with moving shapes,
    :class:`~blurvid.data.LeavesDataset`; with a photo folder, their colours and photo
    textures come from its training photos),
    ``frames:DIR`` (:class:`FrameFolderDataset`; a folder of frames, or a folder of such
    folders, less the split's validation sequence), ``video:FILE_OR_DIR`` (:class:`VideoDataset`, ``spatial_scale=0.5``),
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
        split: The files held out for validation: a :class:`~blurvid.data.split.DataSplit`
            or a manifest path (default: the project's manifest when
            :func:`~blurvid.data.find_split` finds one, else nothing is held out).
        camera: Camera realism of the synthetic sources (photos, stills, leaves): a
            :class:`~blurvid.data.CameraConfig` or its short form (``"off"``, ``"all"``,
            ``"noise+tone"``; :meth:`~blurvid.data.CameraConfig.parse`). Real footage
            (frames, video, gopro) is left as recorded.

    Raises:
        ConfigError: An empty list or a malformed spec/unknown kind.
        DataError: A missing or empty source.
    """
    check_data_specs(specs)
    held_out = find_split(split) if split is not None else default_split()
    val_photos = held_out.validation_photos if held_out is not None else ()
    val_frames = (held_out.validation_frames,) if held_out is not None else ()
    sources: list[tuple[Dataset, float]] = []
    hflip = Augment(hflip=True)
    cam = CameraConfig.parse(camera)
    for i, spec in enumerate(specs):
        kind, path, weight = _parse_spec(spec)
        sub_seed = item_seed(seed, i)
        if kind in ("photos", "steady", "stills", "leaves"):
            shake = ShakeConfig(size=crop, camera=cam)
            if kind == "steady":
                shake = shake.replace(**STEADY)
            photos: list = []
            if kind == "stills" and path is not None:
                from ..data import video_stills

                photos = video_stills(path)
            elif path is not None:
                photos = [p for p in _photo_list(path) if Path(p).name not in val_photos]
                if not photos:
                    raise DataError(f"data spec {spec!r}: no training photos left in {path}")
            if kind == "leaves":
                ds: Dataset = LeavesDataset(
                    LeavesConfig(shake=shake), photos or None, length or 10_000, sub_seed
                )
            else:
                ds = SyntheticShakeDataset(photos, shake, length=length or 10_000, seed=sub_seed)
        elif path is None:  # _parse_spec lets only leaves: omit its path
            raise ConfigError(f"data spec {spec!r} needs a path")
        elif kind == "frames":
            if list_images(path):
                folders = [path]
                if path.name in val_frames:
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
                    if p.is_dir() and list_images(p) and p.name not in val_frames
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
        bank_path = Path(bank_dir) / bank_file_name(bank_size, crop, seed, cam)
    cpus = os.cpu_count() or 1
    workers = num_workers if num_workers is not None else (0 if cpus <= 2 else min(8, cpus // 2))
    bank = SampleBank.render(
        dataset,
        min(bank_size, _len(dataset)),
        bank_path,
        num_workers=workers,
        progress=progress,
        metadata={
            "specs": "\n".join(specs),
            "crop": str(crop),
            **({} if cam.is_off else {"camera": cam.describe()}),
        },
    )
    return BankDataset(bank, seed=seed)
