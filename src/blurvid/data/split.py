"""Which files of a data folder are held out for validation: a split manifest read from a file.

The library knows no data folder of its own: functions take paths. A project that trains and
validates on one data folder writes its split into a small JSON manifest; blurvid's own is
``scripts/data_split.json`` in the repository. It lives there, not in the package, because it
names the files of one particular folder (the project's ``../shared/data``), which a wheel
installed elsewhere knows nothing about; the repository's scripts and CLI find it from a
checkout (:func:`find_split`) or take ``--split FILE``.

The manifest::

    {
      "format": "blurvid-data-split-v1",
      "data_root": "../../shared/data",          # optional, relative to the manifest's folder
      "validation": {"photos": ["a.jpg", ...],   # files of DATA_ROOT/photos, in order
                     "frames": "sam2_bedroom"},  # a folder of DATA_ROOT/frames
      "training": {"photos": ["b.jpg", ...]}     # optional
    }
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from ..errors import DataError

__all__ = ["SPLIT_FORMAT", "DataSplit", "default_split", "find_split", "resolve_data_root"]

PathLike = Union[str, os.PathLike]

#: The ``format`` value of a split manifest.
SPLIT_FORMAT = "blurvid-data-split-v1"

#: Where a blurvid checkout keeps the project's manifest, relative to the repository root.
_REPO_MANIFEST = Path("scripts") / "data_split.json"


@dataclass(frozen=True)
class DataSplit:
    """A training/validation split of a data folder (see the module docstring).

    Attributes:
        validation_photos: File names in ``DATA_ROOT/photos`` held out for validation, in
            the order the validation set uses them.
        validation_frames: Folder name in ``DATA_ROOT/frames`` whose frame windows are the
            real-motion half of the validation set.
        training_photos: File names in ``DATA_ROOT/photos`` meant for training (informative:
            ``photos:`` training specs use every photo not held out).
        data_root: The data folder the manifest describes (``None``: not stated).
        path: The manifest file it was read from (``None``: built in code).
    """

    validation_photos: tuple[str, ...]
    validation_frames: str
    training_photos: tuple[str, ...] = ()
    data_root: Path | None = None
    path: Path | None = None

    @classmethod
    def load(cls, path: PathLike) -> DataSplit:
        """Read and check a manifest.

        Raises:
            DataError: Missing or unreadable file, another format, or a malformed field.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"data split {path} does not exist; pass a data_split.json manifest")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"data split {path} is not readable JSON ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("format") != SPLIT_FORMAT:
            raise DataError(f'data split {path}: expected "format": "{SPLIT_FORMAT}"')
        val, train = doc.get("validation"), doc.get("training", {})
        if not isinstance(val, dict) or not isinstance(train, dict):
            raise DataError(f'data split {path}: "validation" and "training" must be objects')
        photos = _names(val.get("photos"), path, "validation.photos")
        if not photos:
            raise DataError(f"data split {path}: validation.photos is empty")
        (frames,) = _names([val.get("frames")], path, "validation.frames")
        training = _names(train.get("photos", []), path, "training.photos")
        if set(photos) & set(training):
            raise DataError(
                f"data split {path}: {sorted(set(photos) & set(training))} are both training "
                f"and validation photos; list each photo once"
            )
        root = doc.get("data_root")
        if root is not None and not isinstance(root, str):
            raise DataError(f"data split {path}: data_root must be a path string")
        return cls(
            photos,
            frames,
            training,
            (path.parent / root).resolve() if root is not None else None,
            path,
        )


def _names(value: Any, path: Path, field: str) -> tuple[str, ...]:
    """A list of plain file names (no folders), checked."""
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v and Path(v).name == v for v in value
    ):
        raise DataError(f"data split {path}: {field} must list plain file or folder names")
    return tuple(value)


def _checkout_manifest() -> Path | None:
    """``scripts/data_split.json`` of the checkout this package is imported from, if any."""
    here = Path(__file__).resolve()  # <repo>/src/blurvid/data/split.py in a checkout
    if here.parents[2].name != "src":
        return None
    candidate = here.parents[3] / _REPO_MANIFEST
    return candidate if candidate.is_file() else None


def _default_manifest() -> Path | None:
    env = os.environ.get("BLURVID_SPLIT")
    if env:
        return Path(env)
    found = _checkout_manifest()
    if found is not None:
        return found
    cwd = Path.cwd() / _REPO_MANIFEST
    return cwd if cwd.is_file() else None


def find_split(split: DataSplit | PathLike | None = None) -> DataSplit:
    """The split to use: ``split`` itself or the manifest it names, else ``$BLURVID_SPLIT``,
    else ``scripts/data_split.json`` of the blurvid checkout the package is imported from or
    of the working directory.

    Raises:
        DataError: None of these exists, or the manifest is malformed.
    """
    if isinstance(split, DataSplit):
        return split
    path = Path(split) if split is not None else _default_manifest()
    if path is None:
        raise DataError(
            "no data split: pass --split FILE / split= (a data_split.json manifest, e.g. "
            "scripts/data_split.json of a blurvid checkout) or set BLURVID_SPLIT"
        )
    return DataSplit.load(path)


def default_split() -> DataSplit | None:
    """:func:`find_split` when a manifest is configured or found, else ``None``."""
    return find_split() if _default_manifest() is not None else None


def resolve_data_root(
    data_root: PathLike | None = None, split: DataSplit | PathLike | None = None
) -> Path:
    """``data_root``, else ``$BLURVID_DATA``, else the ``data_root`` of the split
    (:func:`find_split`).

    Raises:
        DataError: No folder is given or found, or it does not exist.
    """
    root = _data_root(data_root, split)
    if not root.is_dir():
        raise DataError(
            f"data folder {root} not found (resolved from {Path.cwd()}); pass data_root= or set "
            f"BLURVID_DATA to the folder holding photos/, frames/ and video/"
        )
    return root


def _data_root(data_root: PathLike | None, split: DataSplit | PathLike | None) -> Path:
    """:func:`resolve_data_root` without the check that the folder exists."""
    if data_root is None:
        data_root = os.environ.get("BLURVID_DATA") or None
    if data_root is None:
        found = default_split() if split is None else find_split(split)
        data_root = found.data_root if found is not None else None
    if data_root is None:
        raise DataError(
            "no data folder: pass data_root= (val:DIR, --val DIR) or set BLURVID_DATA to the "
            "folder holding photos/, frames/ and video/"
        )
    return Path(data_root)
