"""blurvid: turn one motion-blurred photo into the short sharp video hidden inside it.

An implementation of Zhang et al., "Every Moment Matters: Detail-Aware Networks to Bring a
Blurry Image Alive" (ACM MM 2020). Training lives in :mod:`blurvid.train` (imported on
demand only).

>>> import blurvid
>>> frames = blurvid.extract_frames("blurry.jpg")          # doctest: +SKIP
>>> slowmo = blurvid.interpolate_recursive("blurry.jpg")   # 42 frames  # doctest: +SKIP
>>> blurvid.slow_motion("clip.mp4", "slowmo.mp4")            # 7x the frames  # doctest: +SKIP
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from ._version import __version__
from .errors import (
    BlurvidError,
    ConfigError,
    DataError,
    DependencyError,
    EmptyVideoError,
    HubError,
    InvalidImageError,
    NotAVideoError,
    OutputExistsError,
    OutputNotWritableError,
    OutputTooLargeError,
    PlaceholderWeightsWarning,
    UnsupportedCodecError,
    VariableFrameRateError,
    VideoError,
    WeightsError,
    WeightsNotFoundError,
)

if _typing.TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
    from .api import FrameExtractor, extract_frames, interpolate_recursive, num_recursive_frames
    from .hub import load_model
    from .model import Generator, GeneratorConfig
    from .order import choose_order
    from .video import slow_motion

#: Public names imported on first use (PEP 562), so that ``import blurvid`` -- and
#: ``blurvid --help`` -- do not import torch: name -> the submodule that defines it.
_LAZY = {
    "FrameExtractor": "api",
    "extract_frames": "api",
    "interpolate_recursive": "api",
    "num_recursive_frames": "api",
    "load_model": "hub",
    "Generator": "model",
    "GeneratorConfig": "model",
    "choose_order": "order",
    "slow_motion": "video",
}

__all__ = [
    "BlurvidError",
    "ConfigError",
    "DataError",
    "DependencyError",
    "EmptyVideoError",
    "FrameExtractor",
    "Generator",
    "GeneratorConfig",
    "HubError",
    "InvalidImageError",
    "NotAVideoError",
    "OutputExistsError",
    "OutputNotWritableError",
    "OutputTooLargeError",
    "PlaceholderWeightsWarning",
    "UnsupportedCodecError",
    "VariableFrameRateError",
    "VideoError",
    "WeightsError",
    "WeightsNotFoundError",
    "__version__",
    "choose_order",
    "extract_frames",
    "interpolate_recursive",
    "load_model",
    "num_recursive_frames",
    "slow_motion",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
