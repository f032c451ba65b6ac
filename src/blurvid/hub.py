"""Saving and loading G: local folders, the Hugging Face Hub, and the bundled default.

One format everywhere (as timm / diffusers): a folder with ``config.json`` (the
:class:`~blurvid.model.GeneratorConfig`) beside ``model.safetensors``. Loading is strict --
missing or unexpected keys and wrong shapes are errors -- and **only safetensors are ever
read**: pickle files (``.bin``, ``.pt``, ``.pth``, ``.ckpt``) are refused, because unpickling
a file from a stranger can run arbitrary code.
"""

from __future__ import annotations

import math
import os
import warnings
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any, Union

import torch

from ._fs import atomic_write_bytes
from ._version import __version__
from .checks import check_device, check_model_source
from .errors import (
    ConfigError,
    HubError,
    PlaceholderWeightsWarning,
    WeightsError,
    WeightsNotFoundError,
)
from .model import Generator, GeneratorConfig

__all__ = [
    "DEFAULT_MODEL",
    "default_weights_dir",
    "load_folder",
    "load_model",
    "load_pretrained",
    "provenance",
    "save_folder",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
DEFAULT_MODEL = "default"

PathLike = Union[str, os.PathLike]


# ----------------------------------------------------------------------------- writing
def save_folder(
    model: Generator,
    folder: PathLike,
    *,
    dtype: torch.dtype | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` into ``folder`` (atomically, file by file).

    Args:
        model: the generator to save.
        folder: target directory (created).
        dtype: optionally cast floating tensors (e.g. ``torch.float16`` for a small wheel).
        metadata: extra string metadata stored in the safetensors header (e.g. training
            stage, steps); ``placeholder`` is copied from the model's own metadata.
    """
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        state[k] = v.contiguous()
    meta = {"format": "pt", "blurvid_version": __version__}
    meta["placeholder"] = model.metadata.get("placeholder", "false")
    meta.update(metadata or {})
    atomic_write_bytes(folder / WEIGHTS_NAME, save(state, metadata=meta))
    model.config.to_json(folder / CONFIG_NAME)  # the one writer of config.json (atomic)
    return folder


# what the loaders add to ``Generator.metadata`` (not stored in the weights file)
LOAD_KEYS = frozenset({"source", "revision", "requested_revision"})
# what save_folder writes itself
WRITER_KEYS = frozenset({"format", "blurvid_version", "placeholder"})


def provenance(model: Generator) -> dict[str, str]:
    """The training record of a loaded model's weights (``stage``, ``steps``, ``release``,
    validation scores ...): its safetensors metadata less what the loader added (where it was
    loaded from) and what :func:`save_folder` writes itself. Pass it as ``save_folder(...,
    metadata=provenance(model))`` to re-save the same weights (e.g. in fp16) without losing
    where they came from; not for weights that were trained further."""
    return {k: v for k, v in model.metadata.items() if k not in LOAD_KEYS | WRITER_KEYS}


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
    cfg: GeneratorConfig, header: dict[str, tuple[tuple[int, ...], str]], source: str
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
        skeleton = Generator(cfg)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    parts = _shape_mismatch(expected, {k: shape for k, (shape, _) in header.items()})
    count = f"the config implies {implied:,} parameters, the file holds {held:,}"
    raise _mismatch_error(source, [count, *parts[:1]])


def _load_state_strict(model: Generator, state: dict[str, torch.Tensor], source: str) -> None:
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


def _read_folder(folder: Path) -> Generator:
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
    cfg = GeneratorConfig.from_json(config)  # bounded: see model.MAX_PARAMETERS
    _check_header(cfg, _read_header(weights), str(folder))
    model = Generator(cfg)
    state, meta = _read_state(weights)
    _load_state_strict(model, state, str(folder))
    model._blurvid_metadata = {**meta, "source": str(folder)}
    return model


def _finish(model: Generator, device: str | torch.device | None, **metadata: str) -> Generator:
    model._blurvid_metadata.update(metadata)
    model.eval()
    if device is not None:
        model.to(device)
    if model.metadata.get("placeholder") == "true":
        warnings.warn(
            f"the weights from {model.metadata.get('source')} are an UNTRAINED PLACEHOLDER: the "
            f"frames will not be meaningful. Train with `blurvid train` or load trained weights.",
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


def default_weights_dir() -> Path:
    """The folder of the checkpoint bundled in the wheel (works offline after install)."""
    return Path(str(resources.files("blurvid") / "weights" / "default"))


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~")) and "\\" not in name


#: HTTP statuses that huggingface_hub retries with backoff (for ~25 s) before giving up.
_RETRIED_STATUS = (408, 429, 500, 502, 503, 504)


def _is_network_error(exc: BaseException) -> bool:
    """A transport-level failure (refused, reset, timeout, DNS) of any HTTP client the
    installed huggingface_hub uses (httpx in new versions, requests in old ones)."""
    root = type(exc).__module__.split(".")[0]
    return isinstance(exc, (ConnectionError, TimeoutError)) or root in (
        "httpx",
        "httpx2",
        "requests",
        "urllib3",
    )


def _http_status(exc: BaseException | None) -> int | None:
    """The HTTP status behind ``exc`` or one of its causes, if the server answered at all."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        exc = exc.__cause__ or exc.__context__
    return None


def _probe_hub(repo_id: str, revision: str | None, token: str | bool | None) -> str | None:
    """One HEAD request for ``config.json``, without retries.

    Returns why the Hub could not be reached (refused, timeout, a 5xx/429 answer), or None
    when it answered -- with the file or with an error that ``hf_hub_download`` reports
    precisely (unknown repo, revision or file).
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    try:
        url = hf_hub_url(repo_id, CONFIG_NAME, revision=revision)
        get_hf_file_metadata(
            url,
            token=token,
            timeout=constants.HF_HUB_ETAG_TIMEOUT,
            library_name="blurvid",
            library_version=__version__,
        )
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return f"HTTP {status}" if status in _RETRIED_STATUS else None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}" if _is_network_error(exc) else None
    return None


def _download(repo_id: str, **kwargs: Any) -> tuple[Path, dict[str, str]]:
    """Fetch ``config.json`` + ``model.safetensors`` of a Hub repo into the cache; returns
    the snapshot folder and the metadata that records where it came from."""
    import huggingface_hub
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = kwargs.get("local_files_only") or huggingface_hub.constants.HF_HUB_OFFLINE
    unreachable = (
        None if offline else _probe_hub(repo_id, kwargs.get("revision"), kwargs.get("token"))
    )
    if unreachable is not None:
        # hf_hub_download would retry for ~25 s before falling back on its cache: go to the
        # cache at once (same result when the files are cached, a fast error when not)
        if kwargs.get("force_download"):
            raise HubError(
                f"could not reach the Hugging Face Hub for {repo_id!r} ({unreachable}), so "
                f"force_download is impossible. Check the network or HF_ENDPOINT"
            )
        kwargs = {**kwargs, "local_files_only": True}
    files = {}
    for filename in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            files[filename] = Path(
                hf_hub_download(
                    repo_id, filename, library_name="blurvid", library_version=__version__, **kwargs
                )
            )
        except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
            if offline:
                raise HubError(
                    f"{repo_id!r} ({filename}) is not in the local cache and blurvid is offline "
                    f"(HF_HUB_OFFLINE=1 or local_files_only=True): pass a local folder, or go "
                    f"online once to fill the cache"
                ) from exc
            status = _http_status(exc)
            if unreachable is None and status is not None:  # it answered, with an error
                raise HubError(
                    f"the Hugging Face Hub answered HTTP {status} for {filename} of {repo_id!r} "
                    f"and it is not cached. Check the repo id, the token or HF_ENDPOINT, or "
                    f"pass a local folder"
                ) from exc
            raise HubError(
                f"could not reach the Hugging Face Hub for {repo_id!r} and it is not cached "
                f"({unreachable or exc.__class__.__name__}). Check the network or HF_ENDPOINT, "
                f"or pass a local folder"
            ) from exc
        except RepositoryNotFoundError as exc:
            raise HubError(
                f"Hub repo {repo_id!r} does not exist or is private (pass token= for private repos)"
            ) from exc
        except RevisionNotFoundError as exc:
            raise HubError(
                f"revision {kwargs.get('revision')!r} not found in Hub repo {repo_id!r}"
            ) from exc
        except EntryNotFoundError as exc:
            raise HubError(
                f"Hub repo {repo_id!r} has no {filename}: blurvid needs {CONFIG_NAME} + {WEIGHTS_NAME} "
                f"(pickle weights are refused)"
            ) from exc
        except HfHubHTTPError as exc:
            raise HubError(f"the Hub answered with an error for {repo_id!r}: {exc}") from exc
        except (OSError, ValueError) as exc:  # connection errors, bad repo names
            raise HubError(f"could not download {filename} of {repo_id!r}: {exc}") from exc
        except Exception as exc:
            if _is_network_error(exc):  # e.g. the connection broke during the download
                raise HubError(f"could not download {filename} of {repo_id!r}: {exc}") from exc
            raise
        if filename == CONFIG_NAME:  # bounded and valid before the weights are downloaded
            GeneratorConfig.from_json(files[CONFIG_NAME])
    folder = files[WEIGHTS_NAME].parent
    if files[CONFIG_NAME].parent != folder:  # cache snapshot folders always match; be safe
        raise WeightsError(f"config and weights of {repo_id!r} resolved to different snapshots")
    return folder, {
        "source": f"hf://{repo_id}",
        "revision": folder.name,  # the commit hash of the cache snapshot
        "requested_revision": str(kwargs.get("revision") or "main"),
    }


def load_model(
    name_or_path: PathLike = DEFAULT_MODEL,
    *,
    revision: str | None = None,
    device: str | torch.device | None = None,
    cache_dir: PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> Generator:
    """Load G for inference (``eval()`` mode, on ``device``).

    Args:
        name_or_path: ``"default"`` (the checkpoint bundled in the wheel, offline), a folder
            written by ``save_pretrained``, or a Hugging Face Hub repo id ``"user/name"``.
        revision: Hub branch, tag or commit (pinned when given).
        device: where to put the model (``"cpu"``, ``"cuda"``...); default CPU.
        cache_dir: Hub cache folder (passed to ``huggingface_hub``).
        local_files_only: use the Hub cache only, never the network.
        token: Hub token for private repos.

    Raises:
        WeightsNotFoundError / HubError: nothing found (the message says where it looked).
        WeightsError: corrupt weights, a refused pickle, or weights that do not match the config.
        ConfigError: an invalid ``config.json``.

    Examples:
        >>> import blurvid
        >>> model = blurvid.load_model("default")  # doctest: +SKIP
    """
    return _load(
        name_or_path,
        bundled=True,
        hub=True,
        revision=revision,
        device=device,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
    )


def load_pretrained(
    name_or_path: PathLike,
    *,
    revision: str | None = None,
    cache_dir: PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
    device: str | torch.device | None = None,
) -> Generator:
    """What :meth:`Generator.from_pretrained` runs: :func:`load_model` without the bundled
    ``"default"`` alias (a folder named ``default`` is that folder), plus ``force_download``.

    Hub files are fetched with ``huggingface_hub.hf_hub_download`` (its cache, ``revision``,
    ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` apply); the resolved commit is recorded in
    ``model.metadata["revision"]``.
    """
    return _load(
        name_or_path,
        bundled=False,
        hub=True,
        revision=revision,
        device=device,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        force_download=force_download,
    )


def load_folder(folder: PathLike, *, device: str | torch.device | None = None) -> Generator:
    """Load a ``save_pretrained`` folder strictly (never the Hub, never the bundled alias).
    Raises typed errors naming what to do."""
    return _load(folder, bundled=False, hub=False, device=device)


# ----------------------------------------------------------------------------- one loading path
def _load(
    name_or_path: PathLike,
    *,
    bundled: bool,
    hub: bool,
    revision: str | None = None,
    device: str | torch.device | None = None,
    cache_dir: PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
) -> Generator:
    """Every loader's one path: check the arguments (before any file is read), resolve the
    name to a local folder, read it strictly (:func:`_read_folder`), then :func:`_finish`.

    Args:
        bundled: ``"default"`` names the checkpoint bundled in the wheel.
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
    if bundled and name == DEFAULT_MODEL:
        if revision is not None:
            raise ConfigError(
                f"revision={revision!r} applies to Hub repos only; the bundled 'default' "
                f"weights have no revisions: drop revision (CLI: --revision)"
            )
        folder = default_weights_dir()
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
    return _finish(_read_folder(folder), dev, **metadata)
