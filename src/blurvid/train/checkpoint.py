"""Training checkpoints: one safetensors file, written atomically, never pickled.

A checkpoint holds G, D, both optimisers, the stage-1 reference G (stages 2-3), the step,
the RNG states and the training config. Tensors go into the safetensors body; everything
else (step, optimiser hyper-parameters, numpy/python RNG states, the config) into its
JSON metadata. The file is written to a temporary name and moved into place with
``os.replace``, so a crash or a full disk during a write leaves the previous checkpoint
intact; temporary files left by killed writes are removed by the next successful save.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from .._fs import atomic_write_bytes
from .._version import __version__
from ..errors import DataError, WeightsError

__all__ = ["capture_rng", "load_checkpoint", "restore_rng", "save_checkpoint"]

FORMAT = "blurvid-train-checkpoint-1"


def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    sd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    meta[prefix] = {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(
    prefix: str, opt: torch.optim.Optimizer, tensors: dict, meta: dict
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    for idx, values in meta[prefix]["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    opt.load_state_dict({"state": state, "param_groups": meta[prefix]["param_groups"]})


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``tensors`` (sorted by name)."""
    import hashlib

    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The torch/CUDA RNG states as tensors and numpy/python states as JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = cast(tuple[Any, ...], np.random.get_state())  # the legacy tuple (the default)
    py_state = random.getstate()
    meta = {
        "numpy": [
            np_state[0],
            np_state[1].tolist(),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(
        (k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1])
    )
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    n = meta["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = meta["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def save_checkpoint(
    path: os.PathLike,
    *,
    step: int,
    modules: dict[str, torch.nn.Module | None],
    optimizers: dict[str, torch.optim.Optimizer | None],
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temporary file + ``os.replace``)."""
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "blurvid_version": __version__,
        "step": step,
        "config": config,
    }
    for name, module in modules.items():
        if module is None:
            continue
        for k, v in module.state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
    for name, opt in optimizers.items():
        if opt is not None:
            _flatten_optimizer(name, opt, tensors, meta)
    rng_t, rng_m = capture_rng()
    tensors.update(rng_t)
    meta["rng"] = rng_m
    meta["extra"] = extra or {}
    meta["sha256"] = tensors_sha256(tensors)
    path = Path(path)
    atomic_write_bytes(path, save(tensors, metadata={"trainer": json.dumps(meta)}))
    # temporary files of writes that were killed (SIGKILL, power loss) cannot clean up
    # after themselves: remove them once a newer checkpoint is safely in place
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def load_checkpoint(path: os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: ``(tensors, meta)``. Raises WeightsError for corrupt files."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"no checkpoint at {path}: nothing to resume (drop --resume to start fresh)"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = json.loads((f.metadata() or {})["trainer"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise WeightsError(
            f"checkpoint {path} is corrupt or not a blurvid checkpoint ({exc})"
        ) from exc
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a {FORMAT} file")
    if "sha256" in meta and tensors_sha256(tensors) != meta["sha256"]:
        raise WeightsError(
            f"checkpoint {path} is corrupt: its tensors do not match the checksum written with "
            f"them (a damaged disk or copy); resume from another copy or start fresh"
        )
    return tensors, meta


def load_module(module: torch.nn.Module, prefix: str, tensors: dict[str, torch.Tensor]) -> None:
    """Strictly load ``prefix.*`` tensors into ``module``."""
    sd = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"checkpoint does not match the model ({prefix}): {exc}") from exc


def load_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict, meta: dict) -> None:
    if prefix in meta:
        _unflatten_optimizer(prefix, opt, tensors, meta)
