"""The files of a saved model: ``config.json`` beside ``model.safetensors``, written and read
strictly, from a folder or a Hugging Face Hub repo.

One format everywhere (as timm / diffusers). Loading is strict -- missing or unexpected keys
and wrong shapes are errors -- and **only safetensors are ever read**: pickle files (``.bin``,
``.pt``, ``.pth``, ``.ckpt``) are refused, because unpickling a file from a stranger can run
arbitrary code. Sizes are checked from the (bounded) config and the safetensors header before
the model is built or any tensor read.

This module sits below the model: it knows no architecture. Its loaders are given the two
things they need of one -- ``read_config(path)`` (a config with ``num_parameters()``) and
``build(config)`` (the module) -- by :class:`blurvid.model.Generator` (``save_pretrained`` /
``from_pretrained``) and by :mod:`blurvid.hub` (``load_model``, the bundled default).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar, Union

import torch
from torch import nn

from ._fs import atomic_write_bytes
from ._version import __version__
from .checks import check_device, check_model_source
from .errors import (
    ConfigError,
    PlaceholderWeightsWarning,
    WeightsError,
    WeightsNotFoundError,
)
from .hub_fetch import fetch

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_MODEL",
    "WEIGHTS_NAME",
    "load",
    "metadata_of",
    "write_folder",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: The name of the checkpoint bundled in the wheel (``blurvid.load_model("default")``).
DEFAULT_MODEL = "default"

PathLike = Union[str, os.PathLike]

#: The attribute of a loaded module that holds where its weights came from.
_METADATA = "_blurvid_metadata"


class SizedConfig(Protocol):
    """What the loaders need of a config: the parameter count it implies (without building)."""

    def num_parameters(self) -> int: ...


C = TypeVar("C", bound=SizedConfig)
M = TypeVar("M", bound=nn.Module)


def metadata_of(model: nn.Module) -> dict[str, str]:
    """Where a module's weights came from (set by the loaders; empty for a fresh module)."""
    return dict(getattr(model, _METADATA, {}))


def _set_metadata(model: nn.Module, metadata: Mapping[str, str]) -> None:
    setattr(model, _METADATA, dict(metadata))


# ----------------------------------------------------------------------------- writing
def write_folder(
    folder: PathLike,
    state: Mapping[str, torch.Tensor],
    write_config: Callable[[Path], object],
    *,
    dtype: torch.dtype | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``model.safetensors`` (``state``, on the CPU, optionally cast to ``dtype``) and
    ``config.json`` (``write_config(path)``) into ``folder``, atomically file by file.

    ``metadata`` is stored in the safetensors header beside ``format`` and
    ``blurvid_version``.
    """
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, v in state.items():
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    meta = {"format": "pt", "blurvid_version": __version__, **(metadata or {})}
    atomic_write_bytes(folder / WEIGHTS_NAME, save(tensors, metadata=meta))
    write_config(folder / CONFIG_NAME)
    return folder


# ----------------------------------------------------------------------------- reading
def _refuse_pickle(path: Path) -> None:
    raise WeightsError(
        f"refusing to load {path}: it is a pickle-format file, and unpickling a file can run "
        f"arbitrary code. blurvid loads only '{WEIGHTS_NAME}' (safetensors) beside a "
        f"'{CONFIG_NAME}'. Convert trusted weights with safetensors.torch.save_file."
    )


#: safetensors dtypes accepted for G's weights (integer weights are refused, never cast).
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def _corrupt(weights_file: Path, exc: Exception) -> WeightsError:
    return WeightsError(
        f"cannot read {weights_file}: the file is corrupt, truncated or not safetensors "
        f"({type(exc).__name__}: {exc}). Download or save it again."
    )


def _read_header(weights_file: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{name: (shape, dtype)}`` from the safetensors header, without reading any tensor."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights_file), framework="pt", device="cpu") as f:
            return {
                key: (tuple(f.get_slice(key).get_shape()), str(f.get_slice(key).get_dtype()))
                for key in f.keys()
            }
    except Exception as exc:  # safetensors raises SafetensorError, OSError, ValueError...
        raise _corrupt(weights_file, exc) from exc


def _read_state(weights_file: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        tensors = {}
        with safe_open(str(weights_file), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except Exception as exc:  # safetensors raises SafetensorError, OSError, ValueError...
        raise _corrupt(weights_file, exc) from exc
    return tensors, meta


def _shape_mismatch(
    expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]]
) -> list[str]:
    """What differs between the tensors a config implies and those a file holds."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(
        f"{k}: file {found[k]} vs config {expected[k]}"
        for k in set(found) & set(expected)
        if found[k] != expected[k]
    )
    parts = []
    if missing:
        parts.append(f"missing keys {missing[:3]}{' ...' if len(missing) > 3 else ''}")
    if unexpected:
        parts.append(f"unexpected keys {unexpected[:3]}{' ...' if len(unexpected) > 3 else ''}")
    if wrong:
        parts.append(f"{len(wrong)} wrong shapes, e.g. {wrong[0]}")
    return parts


def _mismatch_error(source: str, parts: list[str]) -> WeightsError:
    return WeightsError(
        f"weights in {source} do not match its config.json ({'; '.join(parts)}). The config "
        f"and the weights must come from the same save_pretrained call."
    )


def _check_header(
    cfg: C,
    build: Callable[[C], nn.Module],
    header: dict[str, tuple[tuple[int, ...], str]],
    source: str,
) -> None:
    """Check the weights file against its (bounded) config BEFORE G is built or any tensor
    read: float dtypes only, and the parameter count the config implies (so that building
    G never allocates more than the file holds); names and shapes are checked once G is
    built (:func:`_load_state_strict`)."""
    for key, (_, dtype) in sorted(header.items()):
        if dtype not in FLOAT_DTYPES:
            raise WeightsError(
                f"tensor {key!r} in {source} has dtype {dtype}; G's weights must be floating "
                f"point ({', '.join(FLOAT_DTYPES)}), and integer weights are never cast: "
                f"the file is not a blurvid model. Save it again with save_pretrained"
            )
    implied = cfg.num_parameters()
    held = sum(math.prod(shape) for shape, _ in header.values())
    if held == implied:  # G is then no larger than the file: build it, check names and shapes
        return
    # name the first difference, from G built on the meta device (it allocates nothing;
    # slow the first time, ~2 s, hence only on this error path)
    with torch.device("meta"):
        skeleton = build(cfg)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    parts = _shape_mismatch(expected, {k: shape for k, (shape, _) in header.items()})
    count = f"the config implies {implied:,} parameters, the file holds {held:,}"
    raise _mismatch_error(source, [count, *parts[:1]])


def _load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    expected = model.state_dict()
    parts = _shape_mismatch(
        {k: tuple(v.shape) for k, v in expected.items()},
        {k: tuple(v.shape) for k, v in state.items()},
    )
    if parts:
        raise _mismatch_error(source, parts)
    with torch.no_grad():
        for k, v in expected.items():
            v.copy_(state[k].to(v.dtype))
            if not bool(torch.isfinite(v).all()):  # NaN/Inf in the file, or over float32's range
                bad = int((~torch.isfinite(v)).sum())
                raise WeightsError(
                    f"tensor {k!r} in {source} holds {bad} NaN or infinite value(s) (as float32): "
                    f"the weights are damaged (e.g. a diverged training run); load other weights"
                )


def _find_files(folder: Path) -> tuple[Path, Path]:
    """``(config.json, model.safetensors)`` of a folder (or of the ``.safetensors`` file given);
    pickles are refused, missing files are a :class:`WeightsNotFoundError`."""
    if folder.is_file():
        if folder.suffix in PICKLE_SUFFIXES:
            _refuse_pickle(folder)
        if folder.name.endswith(".safetensors"):
            folder = folder.parent
        else:
            raise WeightsError(
                f"{folder} is a file; pass the folder that holds {CONFIG_NAME} and {WEIGHTS_NAME}"
            )
    weights = folder / WEIGHTS_NAME
    config = folder / CONFIG_NAME
    if not weights.is_file():
        pickles = (
            sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
            if folder.is_dir()
            else []
        )
        if pickles:
            _refuse_pickle(folder / pickles[0])
        raise WeightsNotFoundError(
            f"no {WEIGHTS_NAME} in {folder}: pass a folder written by save_pretrained, "
            f"a Hub repo id, or 'default' for the bundled weights"
        )
    if not config.is_file():
        raise WeightsNotFoundError(
            f"no {CONFIG_NAME} beside {weights}: blurvid needs the config that was saved with the weights"
        )
    return config, weights


def read_folder(folder: Path, read_config: Callable[[Path], C], build: Callable[[C], M]) -> M:
    """Read a saved folder strictly: the (bounded) config, the safetensors header checked
    against it, then the module built and its state copied in (names, shapes, finiteness)."""
    config, weights = _find_files(folder)
    cfg = read_config(config)  # bounded: see model.MAX_PARAMETERS
    _check_header(cfg, build, _read_header(weights), str(folder))
    model = build(cfg)
    state, meta = _read_state(weights)
    _load_state_strict(model, state, str(folder))
    _set_metadata(model, {**meta, "source": str(folder)})
    return model


def _finish(model: M, device: torch.device | None, **metadata: str) -> M:
    _set_metadata(model, {**metadata_of(model), **metadata})
    model.eval()
    if device is not None:
        model.to(device)
    if metadata_of(model).get("placeholder") == "true":
        warnings.warn(
            f"the weights from {metadata_of(model).get('source')} are an UNTRAINED PLACEHOLDER: "
            f"the frames will not be meaningful. Train with `blurvid train` or load trained weights.",
            PlaceholderWeightsWarning,
            stacklevel=_user_stacklevel(),
        )
    return model


def _user_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first caller outside blurvid (so it is
    shown once per user call site, not once per blurvid line)."""
    import sys

    frame: FrameType | None = sys._getframe(1)
    level = 1
    pkg = str(Path(__file__).resolve().parent)
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(pkg):
        frame, level = frame.f_back, level + 1
    return level


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~")) and "\\" not in name


def _download(
    repo_id: str, read_config: Callable[[Path], object], **kwargs: Any
) -> tuple[Path, dict[str, str]]:
    """Fetch ``config.json`` + ``model.safetensors`` of a Hub repo into the cache (the config
    is read, bounded and valid, before the weights are requested); returns the snapshot folder
    and the metadata that records where it came from."""

    def check(filename: str, path: Path) -> None:
        if filename == CONFIG_NAME:
            read_config(path)

    files = fetch(
        repo_id,
        (CONFIG_NAME, WEIGHTS_NAME),
        check=check,
        missing_hint=f": blurvid needs {CONFIG_NAME} + {WEIGHTS_NAME} (pickle weights are refused)",
        **kwargs,
    )
    folder = files[WEIGHTS_NAME].parent
    if files[CONFIG_NAME].parent != folder:  # cache snapshot folders always match; be safe
        raise WeightsError(f"config and weights of {repo_id!r} resolved to different snapshots")
    return folder, {
        "source": f"hf://{repo_id}",
        "revision": folder.name,  # the commit hash of the cache snapshot
        "requested_revision": str(kwargs.get("revision") or "main"),
    }


# ----------------------------------------------------------------------------- one loading path
def load(
    name_or_path: PathLike,
    *,
    read_config: Callable[[Path], C],
    build: Callable[[C], M],
    bundled: Path | None,
    hub: bool,
    revision: str | None = None,
    device: str | torch.device | None = None,
    cache_dir: PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
) -> M:
    """Every loader's one path: check the arguments (before any file is read), resolve the
    name to a local folder, read it strictly (:func:`read_folder`), then put the module in
    ``eval()`` mode on ``device`` and warn when its weights are a placeholder.

    Args:
        read_config, build: the model's config reader and constructor.
        bundled: the folder that ``"default"`` names (None: ``"default"`` is a path).
        hub: a name that is not an existing path may be a Hub repo id.
    """
    name = check_model_source(name_or_path, "name_or_path")
    dev = check_device(device)
    if revision is not None and not isinstance(revision, str):
        raise ConfigError(f"revision must be a string, got {type(revision).__name__}")
    for flag, value in (("local_files_only", local_files_only), ("force_download", force_download)):
        if not isinstance(value, bool):
            raise ConfigError(f"{flag} must be True or False, got {value!r}")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise ConfigError(f"cache_dir must be a folder path, got {type(cache_dir).__name__}")
    if token is not None and not isinstance(token, (str, bool)):
        raise ConfigError(f"token must be a string, True or None, got {type(token).__name__}")
    metadata: dict[str, str] = {}
    if bundled is not None and name == DEFAULT_MODEL:
        if revision is not None:
            raise ConfigError(
                f"revision={revision!r} applies to Hub repos only; the bundled 'default' "
                f"weights have no revisions: drop revision (CLI: --revision)"
            )
        folder = bundled
        if not (folder / WEIGHTS_NAME).is_file():
            raise WeightsNotFoundError(
                f"the bundled default weights are missing from {folder}: reinstall blurvid"
            )
        metadata["source"] = DEFAULT_MODEL
    elif Path(name).expanduser().exists() or not hub:
        if revision is not None:
            raise ConfigError(
                f"revision={revision!r} applies to Hub repos only, and {name!r} is a local "
                f"folder: drop revision (CLI: --revision)"
            )
        folder = Path(name).expanduser()
    elif _looks_like_repo_id(name):
        folder, metadata = _download(
            name,
            read_config,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            force_download=force_download,
        )
    else:
        raise WeightsNotFoundError(
            f"{name!r} is neither an existing folder nor a Hub repo id ('user/name'); "
            f"use 'default' for the bundled weights"
        )
    return _finish(read_folder(folder, read_config, build), dev, **metadata)
