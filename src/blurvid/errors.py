"""The exception hierarchy of blurvid.

Every error a user can meet derives from :class:`BlurvidError` and also from the
matching built-in exception (``ValueError``, ``TypeError``, ``FileNotFoundError``...), so
``except ValueError`` keeps working. Each message says what was wrong and what to do.
The CLI turns these into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

__all__ = [
    "BlurvidError",
    "ConfigError",
    "DataError",
    "DependencyError",
    "EmptyVideoError",
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
]


class BlurvidError(Exception):
    """Base class of every error raised on purpose by blurvid."""


class InvalidImageError(BlurvidError, ValueError):
    """An input image (file, array or tensor) cannot be used as given."""


class ConfigError(BlurvidError, ValueError):
    """A configuration (``config.json``, a dataclass field, a CLI flag) is invalid."""


class WeightsError(BlurvidError, ValueError):
    """Weights are corrupt, in a refused format (pickle), or do not match the config."""


class WeightsNotFoundError(BlurvidError, FileNotFoundError):
    """Weights could not be found locally, in the cache, or on the Hub."""


class HubError(WeightsNotFoundError):
    """The Hugging Face Hub could not provide the weights (unknown repo, offline, HTTP error)."""


class DataError(BlurvidError, ValueError):
    """A training or evaluation data source is missing, empty or malformed."""


class DependencyError(BlurvidError, ImportError):
    """An optional dependency is needed for this feature; the message names the pip extra."""


class OutputExistsError(BlurvidError, FileExistsError):
    """An output path exists already and overwriting was not asked for (``--overwrite``)."""


class OutputNotWritableError(BlurvidError, PermissionError):
    """An output path cannot be written (read-only folder, a folder in the way, disk full)."""


class VideoError(BlurvidError, ValueError):
    """An input video cannot be used as given (base of the specific video errors below)."""


class NotAVideoError(VideoError):
    """The input is not a video file (unreadable container, no video stream, a still image)."""


class EmptyVideoError(VideoError):
    """The input video has a video stream but no frames."""


class VariableFrameRateError(VideoError):
    """The input video has a variable frame rate; re-encode it at a constant rate first."""


class UnsupportedCodecError(VideoError):
    """The video's codec (or the output's encoder) is not available in this PyAV build."""


class OutputTooLargeError(BlurvidError, MemoryError):
    """A request's output would not fit in memory (e.g. a deep ``interpolate_recursive``);
    refused before any work, with the numbers."""


class PlaceholderWeightsWarning(UserWarning):
    """The loaded weights are an untrained placeholder: outputs are not meaningful."""


def require(module: str, extra: str, feature: str):
    """Import an optional dependency or raise :class:`DependencyError` naming the extra.

    >>> require("math", "none", "arithmetic").sqrt(4.0)
    2.0
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError(
            f"{feature} needs the optional package '{module}', which is not installed: "
            f"run `pip install 'blurvid[{extra}]'`."
        ) from exc
