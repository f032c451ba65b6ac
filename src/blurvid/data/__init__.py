"""Data for training and evaluation: blurry image + 7 sharp frames, from photos, frames or videos.

Every dataset here returns samples in one convention::

    {"blurry": (3, h, w) float32 in [0, 1], "frames": (7, 3, h, w) float32 in [0, 1]}

with the frames in temporal order (index 3 = the centre frame). Items are deterministic: item
``i`` of a dataset built with seed ``s`` is always the same (every random draw comes from a
generator derived from ``(s, epoch, i)``; no global RNG is used). Call ``set_epoch(e)`` to get
different crops/flips in each epoch. Both :mod:`blurvid.evaluate` and :mod:`blurvid.train` use
this package; it imports no training code. One module per idea:

* :mod:`blurvid.data.shake` -- synthetic camera shake and moving sprites rendered from still
  photos (:func:`render_shake`, :class:`ShakeConfig`, :class:`SyntheticShakeDataset`).
* :mod:`blurvid.data.leaves` -- procedural "dead leaves" scenes of textured shapes, some moving
  on their own, under the same camera shake (:func:`render_leaves`, :class:`LeavesConfig`,
  :class:`LeavesDataset`): content without limit.
* :mod:`blurvid.data.camera` -- camera realism after the exposure: saturated highlights clipped
  after the average, Poisson-Gaussian noise, a tone curve, JPEG (:class:`CameraConfig`,
  :func:`expose`).
* :mod:`blurvid.data.sequences` -- real footage: windows of consecutive sharp frames averaged
  into the blurry image (:class:`GoproDataset`, the paper's data, Sec. 4.1;
  :class:`FrameFolderDataset`; :class:`VideoDataset`, PyAV imported only when used).
* :mod:`blurvid.data.augment` -- :class:`Augment` (the paper's crops and flips, Sec. 4.2, and
  optional rotations, time reversal, colour gains, noise, JPEG).
* :mod:`blurvid.data.validation` -- :func:`validation_set`, the fixed, bit-reproducible
  validation set (held-out photos with synthetic shake + real-motion frame windows).
* :mod:`blurvid.data.split` -- :class:`DataSplit`: which files of a data folder are held out,
  read from a manifest (the project's is ``scripts/data_split.json`` of the repository; the
  package itself names no data files).
* :mod:`blurvid.data.base` -- what all of them share (seeding, 8-bit quantisation).

Training-only pieces (sample banks, mixing, loaders, ``--data`` specs) are in
:mod:`blurvid.train.data`.
"""

from .augment import Augment, random_crop
from .base import Sample, item_generator, item_seed
from .camera import CameraConfig, expose
from .leaves import LeavesConfig, LeavesDataset, leaves_image, render_leaves
from .sequences import (
    VIDEO_SUFFIXES,
    FrameFolderDataset,
    GoproDataset,
    VideoDataset,
    blur_from_frames,
    video_stills,
)
from .shake import (
    PYRAMID_LEVELS,
    ShakeConfig,
    SyntheticShakeDataset,
    build_pyramid,
    load_photos,
    render_batch,
    render_item,
    render_shake,
)
from .split import DataSplit, find_split, resolve_data_root
from .validation import VALIDATION_SHAKE, ValidationSet, validation_set

__all__ = [
    "PYRAMID_LEVELS",
    "VALIDATION_SHAKE",
    "VIDEO_SUFFIXES",
    "Augment",
    "CameraConfig",
    "DataSplit",
    "FrameFolderDataset",
    "GoproDataset",
    "LeavesConfig",
    "LeavesDataset",
    "Sample",
    "ShakeConfig",
    "SyntheticShakeDataset",
    "ValidationSet",
    "VideoDataset",
    "blur_from_frames",
    "build_pyramid",
    "expose",
    "find_split",
    "item_generator",
    "item_seed",
    "leaves_image",
    "load_photos",
    "random_crop",
    "render_batch",
    "render_item",
    "render_leaves",
    "render_shake",
    "resolve_data_root",
    "validation_set",
    "video_stills",
]
