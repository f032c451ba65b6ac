"""blurvid: turn one motion-blurred photo into the short sharp video hidden inside it.

An implementation of Zhang et al., "Every Moment Matters: Detail-Aware Networks to Bring a
Blurry Image Alive" (ACM MM 2020). Training lives in :mod:`blurvid.train` (imported on
demand only).

>>> import blurvid
>>> frames = blurvid.extract_frames("blurry.jpg")          # doctest: +SKIP
>>> slowmo = blurvid.interpolate_recursive("blurry.jpg")   # 42 frames  # doctest: +SKIP
>>> blurvid.slow_motion("clip.mp4", "slowmo.mp4")            # 7x the frames  # doctest: +SKIP
"""

from ._version import __version__
from .api import FrameExtractor, extract_frames, interpolate_recursive, num_recursive_frames
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
from .hub import load_model
from .model import Generator, GeneratorConfig
from .order import choose_order
from .video import slow_motion

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
