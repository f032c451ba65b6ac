"""The fixed validation set: held-out photos with synthetic shake + windows of real motion.

:func:`validation_set` builds it from a data folder and a :class:`~blurvid.data.split.DataSplit`
(which photos and which frame sequence are held out; the project's own split is the manifest
``scripts/data_split.json`` of the repository), or from explicit ``photos=`` and ``frames=``.
Both training (``blurvid train --val``) and evaluation (``blurvid eval --data val:DIR``) use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from .base import (
    PathLike,
    _atomic_save,
    _dequantize,
    _load_safetensors,
    _quantize,
    _randint,
    item_generator,
)
from .sequences import FrameFolderDataset, blur_from_frames
from .shake import ShakeConfig, load_photos, render_shake
from .split import DataSplit, _data_root, find_split, resolve_data_root

__all__ = ["VALIDATION_SHAKE", "ValidationSet", "validation_set"]


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
    *,
    split: DataSplit | PathLike | None = None,
    photos: Sequence[PathLike] | None = None,
    frames: PathLike | None = None,
) -> ValidationSet:
    """The fixed validation set: synthetic shake on held-out photos + real motion.

    * ``n_synthetic`` samples: the held-out photos in turn (sample ``i`` uses photo ``i % k``
      of the ``k`` photos; odd samples cut sprites from photo ``(i + 3) % k``), rendered with
      :data:`VALIDATION_SHAKE` (camera path 4-24 px, +-2 deg, +-3 % zoom, 0-2 sprites, 56
      sub-frames in linear light, centre targets, noise <= 2/255) from
      ``item_generator(seed, i)``.
    * ``n_real`` samples: windows of 7 consecutive frames of the held-out frame folder
      (blurvid's split: ``frames/sam2_bedroom``, real 30 fps video, a mostly still camera
      with children jumping on a bed), downscaled by ``real_scale`` (0.35: 336x189, which
      shrinks the motion per frame in pixels by the same factor), starts spread evenly over
      the 60 frames; blurry = their average in linear light, targets = the frames, no noise.
      The crop is the one with the most motion (mean ``|frame 1 - frame 7|``) among 4 seeded
      candidates, so samples are not static. At 30 fps the fast motion shows as ghosting
      (discrete copies) rather than a smooth streak: a harder, real-world complement to the
      synthetic half.

    Every value is rounded to the 8-bit grid, which keeps the set bit-identical across runs
    and machines (tested by building it twice). The default set is 80 samples of 128x128
    (64 + 16) and takes a few seconds to build on a CPU.

    Args:
        data_root: Folder with ``photos/`` and ``frames/`` (default: ``$BLURVID_DATA``, else
            the split's ``data_root``; see :func:`~blurvid.data.split.resolve_data_root`).
        size: Sample height/width.
        n_synthetic: Number of synthetic samples.
        n_real: Number of real-motion samples (at most 54 with blurvid's split).
        seed: Seed (keep the default to compare runs).
        cfg: Override :data:`VALIDATION_SHAKE`.
        real_scale: Downscale factor of the real frames (960x540 originals).
        cache_path: If given and the file holds a set built with the same arguments from the
            same photos and frame folder, load it; otherwise build the set and save it there.
        split: Which photos and frame folder are held out: a
            :class:`~blurvid.data.split.DataSplit` or a manifest path (default:
            :func:`~blurvid.data.split.find_split`, which finds ``scripts/data_split.json``
            of a blurvid checkout). Not needed when ``photos`` and ``frames`` are given.
        photos: The held-out photos (paths, in order) instead of the split's.
        frames: The folder of consecutive frames of the real half instead of the split's.

    Returns:
        A :class:`ValidationSet` (``blurry (N, 3, size, size)``, ``frames (N, 7, 3, size,
        size)``, ``source`` labels ``"synthetic"``/``"real"``, ``names``).

    Raises:
        DataError: No split or data folder found, missing photos or frames.
    """
    cfg = (cfg if cfg is not None else VALIDATION_SHAKE).replace(size=size)
    if n_synthetic <= 0 and n_real <= 0:
        raise ConfigError("validation_set: n_synthetic + n_real must be > 0")
    root: Path | None = None
    if photos is None or frames is None:  # the split's files under the data folder
        found = find_split(split)
        root = _data_root(data_root, found)
        if photos is None:
            photos = [root / "photos" / n for n in found.validation_photos]
        if frames is None:
            frames = root / "frames" / found.validation_frames
    photo_paths, frame_folder = [Path(p) for p in photos], Path(frames)
    # the names record which files the set was built from: a cache of other files is rebuilt
    params = f"v1|{size}|{n_synthetic}|{n_real}|{seed}|{real_scale}|{cfg!r}"
    if cache_path is not None and Path(cache_path).is_file():
        cached = ValidationSet.load(cache_path)
        if cached.params == params and _same_sources(cached, photo_paths, frame_folder):
            return cached
    if root is not None:
        resolve_data_root(root)  # a missing folder is named as such
    blurry, targets, source, names = [], [], [], []
    if n_synthetic > 0:
        missing = [str(p) for p in photo_paths if not p.is_file()]
        if missing or not photo_paths:
            raise DataError(
                f"validation photos missing: {', '.join(missing) or 'none given'}; pass the "
                f"data folder that holds them (data_root=, val:DIR)"
            )
        pyrs = load_photos(photo_paths)
        k = len(photo_paths)
        for i in range(n_synthetic):
            sprite = pyrs[(i + 3) % k] if i % 2 else None
            s = render_shake(pyrs[i % k], cfg, item_generator(seed, i), sprite_photo=sprite)
            blurry.append(s["blurry"])
            targets.append(s["frames"])
            source.append("synthetic")
            names.append(f"synthetic:{photo_paths[i % k].name}:{i}")
    if n_real > 0:
        ds = FrameFolderDataset(
            frame_folder,
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
            targets.append(f)
            source.append("real")
            names.append(f"real:{frame_folder.name}:{start:05d}:y{y0}x{x0}")
    vs = ValidationSet(
        _dequantize(_quantize(torch.stack(blurry))),
        _dequantize(_quantize(torch.stack(targets))),
        source,
        names,
        params,
    )
    if cache_path is not None:
        vs.save(cache_path)
    return vs


def _same_sources(vs: ValidationSet, photos: Sequence[Path], frames: Path) -> bool:
    """Whether the names of ``vs`` (``synthetic:PHOTO:i``, ``real:FOLDER:...``) are those of a
    set built from these photos and this frame folder."""
    for name in vs.names:
        kind, _, rest = name.partition(":")
        if kind == "synthetic":
            photo, _, index = rest.rpartition(":")
            if not (photos and index.isdigit() and photo == photos[int(index) % len(photos)].name):
                return False
        elif kind != "real" or rest.partition(":")[0] != frames.name:
            return False
    return True
