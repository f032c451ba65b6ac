"""Saving and loading G: local folders, the Hugging Face Hub, and the bundled default.

One format everywhere (as timm / diffusers): a folder with ``config.json`` (the
:class:`~blurvid.model.GeneratorConfig`) beside ``model.safetensors``. Loading is strict --
missing or unexpected keys and wrong shapes are errors -- and **only safetensors are ever
read**: pickle files (``.bin``, ``.pt``, ``.pth``, ``.ckpt``) are refused, because unpickling
a file from a stranger can run arbitrary code.

The public face of :mod:`blurvid.weights_io` (which owns the files and knows no architecture)
for G: the bundled ``"default"`` alias, the loaders and :func:`provenance`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from .model import Generator
from .weights_io import DEFAULT_MODEL, PathLike

__all__ = [
    "DEFAULT_MODEL",
    "default_weights_dir",
    "load_folder",
    "load_model",
    "load_pretrained",
    "provenance",
    "save_folder",
]


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
    return model._write_folder(folder, dtype=dtype, metadata=metadata)


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


def default_weights_dir() -> Path:
    """The folder of the checkpoint bundled in the wheel (works offline after install)."""
    return Path(str(resources.files("blurvid") / "weights" / "default"))


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
    return Generator._load(
        name_or_path,
        bundled=default_weights_dir(),
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
    """:meth:`Generator.from_pretrained`: :func:`load_model` without the bundled ``"default"``
    alias (a folder named ``default`` is that folder), plus ``force_download``."""
    return Generator.from_pretrained(
        name_or_path,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        force_download=force_download,
        device=device,
    )


def load_folder(folder: PathLike, *, device: str | torch.device | None = None) -> Generator:
    """Load a ``save_pretrained`` folder strictly (never the Hub, never the bundled alias).
    Raises typed errors naming what to do."""
    return Generator._load(folder, bundled=None, hub=False, device=device)
