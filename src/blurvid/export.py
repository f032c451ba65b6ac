"""Export G for deployment: ONNX (run by onnxruntime, no PyTorch needed) or TorchScript.

Both formats hold the same graph, :class:`ExportableGenerator`, with this contract:

* input ``blurry``: float32 ``(B, 3, H, W)``, RGB in [0, 1] (divide uint8 by 255); ``B``,
  ``H`` and ``W`` are dynamic, with ``H, W >= model.config.size_multiple`` (16 for the
  bundled model);
* output ``frames``: float32 ``(B, 7, 3, H, W)`` in [0, 1], the frames in time order.

The graph pads the input to the size multiple itself (reflect, as :class:`Generator`
does), crops back and clamps, so its output equals :func:`blurvid.extract_frames` on the
same tensor (to float rounding) for every image that extract_frames does not tile (up to
2.1 MP). Larger images run whole: tile them yourself if memory is short.

ONNX export needs the ``onnx`` extra (``pip install 'blurvid[onnx]'``: onnx, onnxscript
and onnxruntime); TorchScript needs only torch, but PyTorch has deprecated TorchScript:
prefer ONNX for new deployments, and load a TorchScript file only from a source you trust.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from ._fs import atomic_path
from ._version import __version__
from .errors import ConfigError, require
from .model import Generator

__all__ = ["FORMATS", "ExportableGenerator", "export_model", "export_onnx", "export_torchscript"]

#: Formats of :func:`export_model` (``folder``: ``config.json`` + ``model.safetensors``).
FORMATS = ("folder", "onnx", "torchscript")
#: Default ONNX opset (onnxruntime >= 1.14 runs it).
ONNX_OPSET = 18
#: Largest height or width the exported graph is declared for (a bound torch.export needs).
MAX_SIDE = 32768
INPUT_NAME = "blurry"
OUTPUT_NAME = "frames"

ModelLike = Union[Generator, str, os.PathLike, None]


class ExportableGenerator(nn.Module):
    """``G`` plus the inference contract, traceable with dynamic height and width:
    reflect-pad to ``size_multiple``, run the U-Net, crop, re-blur constraint, clamp to [0, 1].

    Args:
        generator: the model to wrap (used as is: put it in ``eval()`` and float32 first).
    """

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, blurry: torch.Tensor) -> torch.Tensor:
        """Args: blurry ``(B, 3, H, W)``, ``H, W >= size_multiple``.
        Returns: frames ``(B, N, 3, H, W)`` in [0, 1]."""
        g = self.generator
        h, w = blurry.shape[-2:]
        m = g.config.size_multiple
        # always pad (by 0 when already a multiple): no branch on the size in the graph
        x = F.pad(blurry, (0, (m - w % m) % m, 0, (m - h % m) % m), mode="reflect")
        return g._compose(blurry, g._residuals(x)[..., :h, :w]).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------- helpers
def _prepare(model: ModelLike) -> ExportableGenerator:
    """A float32, eval-mode copy of ``model`` (a Generator, a name or a folder) on the CPU."""
    import copy

    from .hub import load_model

    if isinstance(model, Generator):
        g = copy.deepcopy(model)
    elif model is None or isinstance(model, (str, os.PathLike)):
        g = load_model(model if model is not None else "default", device="cpu")
    else:
        raise ConfigError(
            f"model must be a Generator, a name or a folder, got {type(model).__name__}"
        )
    return ExportableGenerator(g.to(device="cpu", dtype=torch.float32).eval()).eval()


def _check_path(path: str | os.PathLike, fmt: str) -> Path:
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{out} is a folder: give a file name for the {fmt} model")
    return out


def _example(m: int) -> torch.Tensor:
    # batch 2 and sizes that are not multiples of m: nothing gets specialised to the example
    return torch.rand(2, 3, 2 * m + 3, 3 * m + 5, generator=torch.Generator().manual_seed(0))


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporters' progress lines and notes that concern other libraries."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"copyreg")
            yield
    finally:
        logger.setLevel(level)


# ----------------------------------------------------------------------------- exporters
def export_onnx(model: ModelLike, path: str | os.PathLike, *, opset: int = ONNX_OPSET) -> Path:
    """Write G as one self-contained ONNX file with dynamic batch, height and width.

    Args:
        model: a :class:`Generator`, a name or folder for :func:`blurvid.load_model`
            (``None``: the bundled default).
        path: the ``.onnx`` file to write (atomically; replaced if it exists).
        opset: ONNX opset version.

    Returns:
        ``path``. Input ``blurry`` ``(B, 3, H, W)``, output ``frames`` ``(B, 7, 3, H, W)``,
        both float32 in [0, 1]; the file's metadata records ``blurvid_version``,
        ``size_multiple`` and ``num_frames``.
    """
    out = _check_path(path, "ONNX")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 17:
        raise ConfigError(f"opset must be an integer >= 17, got {opset!r}")
    for module in ("onnx", "onnxscript"):
        require(module, "onnx", "ONNX export")
    wrapper = _prepare(model)
    cfg = wrapper.generator.config
    m = cfg.size_multiple
    dims = {
        0: torch.export.Dim("batch"),
        2: torch.export.Dim("height", min=m, max=MAX_SIDE),
        3: torch.export.Dim("width", min=m, max=MAX_SIDE),
    }
    with _quiet_exporter():
        program = torch.onnx.export(
            wrapper,
            (_example(m),),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_shapes={"blurry": dims},
            dynamo=True,
            verbose=False,
        )
    if program is None:  # pragma: no cover - the dynamo exporter always returns one
        raise RuntimeError("torch.onnx.export returned no program")
    program.model.metadata_props.update(
        {
            "blurvid_version": __version__,
            "size_multiple": str(m),
            "num_frames": str(cfg.num_frames),
            "contract": "blurry float32 (B,3,H,W) RGB in [0,1], H,W >= size_multiple "
            "-> frames float32 (B,num_frames,3,H,W) in [0,1]",
        }
    )
    with atomic_path(out) as tmp:
        program.save(tmp, external_data=False)
    return out


def export_torchscript(model: ModelLike, path: str | os.PathLike) -> Path:
    """Write G as a traced TorchScript file (``torch.jit.load`` it; dynamic batch and size).

    Args:
        model: as for :func:`export_onnx`.
        path: the ``.pt`` file to write (atomically; replaced if it exists).

    Returns:
        ``path``; the module maps ``(B, 3, H, W)`` to ``(B, 7, 3, H, W)``, both float32 in
        [0, 1], ``H, W >= size_multiple``.
    """
    out = _check_path(path, "TorchScript")
    wrapper = _prepare(model)
    with _quiet_exporter(), torch.no_grad(), atomic_path(out) as tmp:
        traced = torch.jit.trace(wrapper, _example(wrapper.generator.config.size_multiple))
        torch.jit.save(traced, str(tmp))
    return out


def export_model(model: ModelLike, path: str | os.PathLike, *, format: str = "onnx") -> Path:
    """Export ``model`` to ``path`` in one of :data:`FORMATS`.

    ``"folder"`` writes ``config.json`` + ``model.safetensors`` (what
    :func:`blurvid.load_model` reads); ``"onnx"`` and ``"torchscript"`` see
    :func:`export_onnx` and :func:`export_torchscript`.

    Examples:
        >>> import tempfile, pathlib, blurvid
        >>> from blurvid.export import export_model
        >>> g = blurvid.Generator(blurvid.GeneratorConfig(width=8))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = export_model(g, pathlib.Path(tmp) / "g", format="folder")
        ...     sorted(p.name for p in out.iterdir())
        ['config.json', 'model.safetensors']
    """
    if format not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format == "onnx":
        return export_onnx(model, path)
    if format == "torchscript":
        return export_torchscript(model, path)
    from .hub import save_folder

    return save_folder(_prepare(model).generator, path)
