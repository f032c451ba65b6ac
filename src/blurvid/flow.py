"""Optical flow: estimators and a differentiable backward warp.

Conventions
-----------
* Images are ``(B, C, H, W)`` float tensors; flow is ``(B, 2, H, W)`` in **pixels**,
  channel 0 = horizontal (x, to the right), channel 1 = vertical (y, downwards).
* ``estimate_flow(a, b)`` returns the flow **from a to b**: pixel ``x`` of ``a`` is seen at
  ``x + F(x)`` in ``b``. Hence ``warp(b, F)`` re-creates ``a`` (backward warping), which is
  what the cycle-flow loss (paper Eq. 4) and the EPE metric use.

The default estimator is OpenCV's DIS (``pip install 'blurvid[flow]'``). It runs on the CPU
in numpy, so **no gradient flows through the flow field**: losses built on it get gradients
only through the warped image. A learned flow network (e.g. PWC-Net or RAFT as in the paper)
can be plugged in with :class:`ModuleFlow`, whose weights the user supplies.
"""

from __future__ import annotations

from typing import Callable, Protocol, Union

import numpy as np
import torch
import torch.nn.functional as F

from .colour import rgb_to_luma
from .errors import ConfigError, InvalidImageError, require

__all__ = ["DISFlow", "FlowEstimator", "ModuleFlow", "estimate_flow", "get_flow_estimator", "warp"]


class FlowEstimator(Protocol):
    """Anything called as ``estimator(a, b) -> flow`` with ``a, b: (B, 3, H, W)`` in [0, 1]
    and ``flow: (B, 2, H, W)`` in pixels, from ``a`` to ``b``."""

    name: str

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor: ...


def _base_grid(b: int, h: int, w: int, device, dtype) -> torch.Tensor:
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=dtype),
        torch.arange(w, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack((xs, ys), dim=0).unsqueeze(0).expand(b, 2, h, w)


def warp(image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Backward-warp ``image`` by ``flow``: ``out[..., y, x] = image[..., y + fy, x + fx]``.

    Bilinear sampling with ``grid_sample`` (a spatial transformer, paper ref. [50]); it is
    differentiable with respect to both ``image`` and ``flow``.

    Args:
        image: ``(B, C, H, W)`` float tensor.
        flow: ``(B, 2, H, W)`` displacement in pixels (x first, then y).
        padding_mode: what to sample outside the image (``"border"``, ``"zeros"``, ``"reflection"``).

    Returns:
        ``(B, C, H, W)`` warped image.

    Examples:
        >>> img = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> flow = torch.zeros(1, 2, 4, 4); flow[:, 0] = 1.0   # look one pixel to the right
        >>> warp(img, flow)[0, 0, 0].tolist()
        [1.0, 2.0, 3.0, 3.0]
    """
    if image.ndim != 4 or flow.ndim != 4 or flow.shape[1] != 2:
        raise InvalidImageError(
            f"warp expects image (B, C, H, W) and flow (B, 2, H, W), got {tuple(image.shape)} "
            f"and {tuple(flow.shape)}"
        )
    if image.shape[0] != flow.shape[0] or image.shape[-2:] != flow.shape[-2:]:
        raise InvalidImageError(
            f"image {tuple(image.shape)} and flow {tuple(flow.shape)} differ in batch or size"
        )
    b, _, h, w = image.shape
    flow = flow.to(image.dtype)
    coords = _base_grid(b, h, w, image.device, image.dtype) + flow
    # normalise to [-1, 1] (align_corners=True: -1 and 1 are the centres of the corner pixels)
    gx = 2.0 * coords[:, 0] / max(w - 1, 1) - 1.0
    gy = 2.0 * coords[:, 1] / max(h - 1, 1) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(
        image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True
    )


def _to_gray_u8(x: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` or ``(1, H, W)`` float in [0, 1] -> ``(H, W)`` uint8 luma."""
    x = x.detach().float().clamp(0, 1).cpu()
    x = (rgb_to_luma(x) if x.shape[0] == 3 else x)[0]
    return np.ascontiguousarray((x * 255.0 + 0.5).to(torch.uint8).numpy())


class DISFlow:
    """OpenCV's Dense Inverse Search optical flow (Kroeger et al., ECCV 2016).

    About 45 ms at 720p on one CPU core with the ``"medium"`` preset. Needs
    ``opencv-python-headless`` (``pip install 'blurvid[flow]'``). Non-differentiable: the
    returned flow is a constant for autograd.

    Args:
        preset: ``"ultrafast"``, ``"fast"`` or ``"medium"``.
    """

    _PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}

    def __init__(self, preset: str = "medium") -> None:
        if preset not in self._PRESETS:
            raise ConfigError(f"DIS preset must be one of {sorted(self._PRESETS)}, got {preset!r}")
        self.preset = preset
        self.name = f"opencv-dis-{preset}"
        self._cv2 = require("cv2", "flow", "DIS optical flow")
        self._dis = self._cv2.DISOpticalFlow_create(self._PRESETS[preset])

    @torch.no_grad()
    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.ndim != 4:
            raise InvalidImageError(
                f"flow needs two (B, C, H, W) batches of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
            )
        out = []
        for ai, bi in zip(a, b):
            f = self._dis.calc(_to_gray_u8(ai), _to_gray_u8(bi), None)  # (H, W, 2) float32
            out.append(torch.from_numpy(f).permute(2, 0, 1))
        return torch.stack(out).to(device=a.device, dtype=torch.float32)


class ModuleFlow:
    """Wrap a learned flow network ``module(a, b) -> (B, 2, H, W)`` as a flow estimator.

    Gradients flow through the module (useful for a frozen PWC-Net/RAFT in Eq. 4). Load
    the module's weights yourself, from a local safetensors file; blurvid ships none.
    """

    def __init__(self, module: torch.nn.Module, name: str = "module") -> None:
        self.module = module
        self.name = name

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        flow = self.module(a, b)
        if flow.shape != (a.shape[0], 2, a.shape[2], a.shape[3]):
            raise ConfigError(
                f"flow module {self.name!r} returned {tuple(flow.shape)}, expected "
                f"{(a.shape[0], 2, a.shape[2], a.shape[3])}"
            )
        return flow


FlowLike = Union[str, FlowEstimator, Callable[[torch.Tensor, torch.Tensor], torch.Tensor], None]


def get_flow_estimator(flow: FlowLike = "dis") -> FlowEstimator:
    """Resolve ``"dis"``/``"dis-fast"``/``"dis-ultrafast"``, an estimator or a callable."""
    if flow is None or flow == "dis":
        return DISFlow("medium")
    if isinstance(flow, str):
        if flow.startswith("dis-"):
            return DISFlow(flow[4:])
        raise ConfigError(
            f"unknown flow estimator {flow!r}: use 'dis', 'dis-fast', 'dis-ultrafast' or a callable"
        )
    if isinstance(flow, torch.nn.Module):
        return ModuleFlow(flow, name=type(flow).__name__)
    if callable(flow):
        if not hasattr(flow, "name"):
            return ModuleFlow(flow, name=getattr(flow, "__name__", "callable"))  # type: ignore[arg-type]
        return flow  # type: ignore[return-value]
    raise ConfigError(f"flow must be a name or a callable, got {type(flow).__name__}")


def estimate_flow(a: torch.Tensor, b: torch.Tensor, estimator: FlowLike = "dis") -> torch.Tensor:
    """Flow from ``a`` to ``b`` (``(B, 2, H, W)``, pixels), so that ``warp(b, flow) ~= a``."""
    return get_flow_estimator(estimator)(a, b)
