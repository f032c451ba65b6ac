"""Synthetic motion blur: camera shake and moving objects rendered from sharp photos.

The paper (Zhang et al., ACM MM 2020, Sec. 4.1) trains on GOPRO, where a blurry image is the
average of consecutive sharp 240 fps frames. Here the same construction is simulated from one
sharp still photo, so any photo collection becomes training data:

1. A smooth random camera trajectory is drawn for the exposure: a cubic Bezier curve for the
   translation (length in ``ShakeConfig.path_length`` output pixels, rescaled to that arc
   length), a linear in-plane rotation and a linear (exponential) zoom.
2. ``7 * k`` sub-frames (``k = subframes_per_frame``) are rendered by warping the photo with
   one batched ``F.grid_sample`` (an affine map per sub-frame), always from inside the photo,
   so no border ever shows.
3. 0-2 "sprites" (feathered patches cut from the same or another photo) move along their
   own trajectories and are composited on top, so the blur is not a single global motion.
4. The blurry image is the mean of **all** sub-frames, in linear light when
   ``linear_light`` (a camera integrates photons, not sRGB codes), otherwise in sRGB (the
   plain GOPRO average). The 7 targets are the sharp images at the centre time of each group
   of ``k`` sub-frames (``target="center"``) or the mean of each group (``target="mean"``,
   the counterpart of one GOPRO frame, which has a short exposure of its own).
5. Gaussian noise (sigma drawn up to ``noise_sigma``) is added to the blurry image only, or,
   with ``ShakeConfig.camera``, what a camera does after the exposure (saturated highlights
   clipped after the average, Poisson-Gaussian noise, a tone curve, JPEG:
   :mod:`blurvid.data.camera`).

Geometry convention: the trajectory is the displacement of the *content* on the output image,
in output pixels, ``+x`` to the right and ``+y`` down. A scene point at source position ``p``
(relative to the source-patch centre) appears at ``u = zoom * R(theta) p / r + t`` where
``r`` is the photo-scale factor described in :class:`ShakeConfig`.

Every random draw comes from a ``torch.Generator`` on the CPU, so one generator state always
gives the same sample, on any device. :func:`~blurvid.data.base.item_generator` derives one
from ``(seed, index)``. :class:`SyntheticShakeDataset` serves such samples from a photo
collection.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..colour import linear_to_srgb, srgb_to_linear
from ..errors import ConfigError, DataError, InvalidImageError
from ..io import IMAGE_SUFFIXES, list_images, read_image
from .augment import Augment
from .base import (
    PathLike,
    Sample,
    _rand,
    _randint,
    _resize,
    _SeededDataset,
    item_generator,
)
from .camera import CameraConfig, expose

__all__ = [
    "PYRAMID_LEVELS",
    "Pyramid",
    "ShakeConfig",
    "SyntheticShakeDataset",
    "build_pyramid",
    "load_photos",
    "render_batch",
    "render_item",
    "render_shake",
]

#: Scales (relative to the loaded photo) kept in a :func:`build_pyramid`; consecutive levels
#: differ by sqrt(2) so a warp never minifies by more than ~1.41 (little aliasing).
PYRAMID_LEVELS = (1.0, 0.7071, 0.5, 0.3536)

Pyramid = list  # list of (3, h, w) tensors (uint8 or float), level 0 the largest


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ShakeConfig:
    """Parameters of :func:`render_shake` (all lengths in output pixels).

    Attributes:
        size: Output height and width (square), e.g. 128 (the paper's crop, Sec. 4.2).
        num_frames: Number of sharp target frames (7 in the paper).
        subframes_per_frame: Sub-frames rendered per target frame; the blurry image averages
            ``num_frames * subframes_per_frame`` sub-frames (default 8 -> 56).
        path_length: (min, max) arc length of the camera translation over the exposure.
        curvature: Bezier control points are offset sideways by up to this fraction of the
            chord (0 = straight line).
        speed_variation: Control points move along the chord by up to this fraction, so the
            speed along the path is not constant (0 = constant speed on a straight line).
        angle_deg: Direction of the translation in degrees (0 = content moves right, 90 =
            down); ``None`` draws it uniformly.
        rotation_deg: Total in-plane rotation over the exposure, drawn in ``[-r, r]``.
        zoom: Total relative zoom over the exposure, drawn in ``[-z, z]`` (0.03 = +-3 %).
        sprites: (min, max) number of moving sprites (inclusive).
        sprite_size: (min, max) sprite side length as a fraction of ``size``.
        sprite_path_length: (min, max) arc length of a sprite's own motion.
        sprite_rotation_deg: Total sprite rotation over the exposure, drawn in ``[-r, r]``.
        noise_sigma: Maximum standard deviation of the Gaussian noise added to the blurry
            image (sRGB units); the per-sample sigma is uniform in ``[0, noise_sigma]``.
        photo_scale: (min, max) scale of the photo relative to the given image (level 0 of
            a pyramid), drawn per sample; smaller values show more of the scene in the
            output, so the same motion in pixels covers more content. Raised automatically
            when the photo would be too small for the output.
        linear_light: Average (and warp) in linear light; ``False`` averages sRGB values.
        target: ``"center"`` (sharp instant at each group's centre time) or ``"mean"`` (the
            mean of each group of sub-frames, in the same light space as the blurry image).
        camera: Camera realism after the exposure (highlights, clipping, Poisson-Gaussian
            noise, tone curve, JPEG: :class:`~blurvid.data.camera.CameraConfig`); off by
            default (the plain linear-light average and Gaussian noise).
    """

    size: int = 128
    num_frames: int = 7
    subframes_per_frame: int = 8
    path_length: tuple[float, float] = (4.0, 24.0)
    curvature: float = 0.5
    speed_variation: float = 0.15
    angle_deg: float | None = None
    rotation_deg: float = 2.0
    zoom: float = 0.03
    sprites: tuple[int, int] = (0, 2)
    sprite_size: tuple[float, float] = (0.15, 0.45)
    sprite_path_length: tuple[float, float] = (4.0, 32.0)
    sprite_rotation_deg: float = 10.0
    noise_sigma: float = 2.0 / 255.0
    photo_scale: tuple[float, float] = (0.35, 1.0)
    linear_light: bool = True
    target: str = "center"
    camera: CameraConfig = field(default_factory=CameraConfig.off)

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ConfigError(f"ShakeConfig.size must be >= 8, got {self.size}")
        if self.num_frames < 1 or self.subframes_per_frame < 1:
            raise ConfigError("ShakeConfig.num_frames and subframes_per_frame must be >= 1")
        for name in ("path_length", "sprites", "sprite_size", "sprite_path_length", "photo_scale"):
            lo, hi = getattr(self, name)
            if lo > hi or lo < 0:
                raise ConfigError(
                    f"ShakeConfig.{name} must be (min, max) with 0 <= min <= max, got {(lo, hi)}"
                )
        if self.photo_scale[0] <= 0:
            raise ConfigError("ShakeConfig.photo_scale must be > 0")
        if self.target not in ("center", "mean"):
            raise ConfigError(f"ShakeConfig.target must be 'center' or 'mean', got {self.target!r}")
        if self.noise_sigma < 0 or self.rotation_deg < 0 or self.zoom < 0:
            raise ConfigError("ShakeConfig.noise_sigma, rotation_deg and zoom must be >= 0")
        if not isinstance(self.camera, CameraConfig):
            object.__setattr__(self, "camera", CameraConfig.parse(self.camera))
        if not self.camera.is_off and not self.linear_light:
            raise ConfigError("ShakeConfig.camera realism needs linear_light=True")

    def replace(self, **changes) -> ShakeConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)

    @property
    def num_subframes(self) -> int:
        """Number of sub-frames averaged into the blurry image."""
        return self.num_frames * self.subframes_per_frame


#: A nearly steady camera (the training data kind ``steady:``, issue 30 "do no harm"): the
#: camera path and the sprites' own motion at most 3 px, in-plane rotation within +-0.25 deg
#: (the sprites' +-1 deg) and zoom within +-0.5 % over the exposure, so the blurry image is
#: nearly sharp and its 7 frames are nearly the image itself. Without such samples G never sees
#: a sharp input (the default path is 4-24 px) and degrades one (benchmarks/auto_scale.py, "Do
#: no harm"; experiments/content_realism.py measures what a share of them does).
STEADY: dict[str, Any] = {
    "path_length": (0.0, 3.0),
    "sprite_path_length": (0.0, 3.0),
    "rotation_deg": 0.25,
    "zoom": 0.005,
    "sprite_rotation_deg": 1.0,
}


# ----------------------------------------------------------------------------- pyramid
def build_pyramid(
    photo: torch.Tensor, levels: Sequence[float] = PYRAMID_LEVELS, dtype: torch.dtype = torch.uint8
) -> Pyramid:
    """Downscaled copies of a photo, for cheap per-sample random scales.

    Args:
        photo: ``(3, H, W)`` float in [0, 1] (or uint8).
        levels: Scales relative to ``photo``, decreasing, the first 1.0.
        dtype: ``torch.uint8`` (4x less memory, default) or a float dtype.

    Returns:
        A list of ``(3, h_i, w_i)`` tensors, level ``i`` at scale ``levels[i]`` (antialiased
        bilinear downscaling); levels smaller than 16 px are dropped.
    """
    if photo.ndim != 3 or photo.shape[0] != 3:
        raise DataError(f"photo must be (3, H, W), got {tuple(photo.shape)}")
    x = photo.float() / 255.0 if photo.dtype == torch.uint8 else photo.float()
    out = []
    h, w = x.shape[-2:]
    for s in levels:
        nh, nw = round(h * s), round(w * s)
        if min(nh, nw) < 16:
            break
        lv = (
            x
            if (nh, nw) == (h, w)
            else F.interpolate(
                x[None], size=(nh, nw), mode="bilinear", antialias=True, align_corners=False
            )[0]
        )
        out.append(_to_dtype(lv, dtype))
    return out


def _to_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.uint8:
        return (x.clamp(0, 1) * 255.0).round_().to(torch.uint8)
    return x.to(dtype)


def _as_pyramid(photo) -> tuple[Pyramid, list[float]]:
    if isinstance(photo, torch.Tensor):
        if photo.ndim != 3 or photo.shape[0] != 3:
            raise DataError(f"photo must be (3, H, W), got {tuple(photo.shape)}")
        return [photo], [1.0]
    levels = list(photo)
    if not levels:
        raise DataError("empty photo pyramid")
    h0 = levels[0].shape[-2]
    return levels, [lv.shape[-2] / h0 for lv in levels]


def _patch_float(img: torch.Tensor, y0: int, x0: int, h: int, w: int) -> torch.Tensor:
    p = img[:, y0 : y0 + h, x0 : x0 + w]
    return p.float() / 255.0 if p.dtype == torch.uint8 else p.float()


# ----------------------------------------------------------------------------- trajectories
def _bezier_points(
    length: torch.Tensor,
    angle: torch.Tensor,
    bend: torch.Tensor,
    speed: torch.Tensor,
    times: torch.Tensor,
) -> torch.Tensor:
    """``(..., T, 2)`` float64 positions along cubic Beziers of arc length ``length (...)``,
    starting at 0 for ``t = 0``: the chord runs along ``angle (...)`` radians, the two inner
    control points sit ``bend (..., 2)`` chords sideways and ``speed (..., 2)`` chords along it
    off their even spacing. One implementation for a single path and a batch of them."""
    zero, one = torch.zeros_like(length), torch.ones_like(length)
    ctrl = torch.stack(
        [
            torch.stack([zero, zero], -1),
            torch.stack([1 / 3 + speed[..., 0], bend[..., 0]], -1),
            torch.stack([2 / 3 + speed[..., 1], bend[..., 1]], -1),
            torch.stack([one, zero], -1),
        ],
        -2,
    )  # (..., 4, 2)

    def curve(t: torch.Tensor) -> torch.Tensor:
        t = t[:, None]
        b = torch.cat([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3], dim=1)
        return b @ ctrl

    dense = curve(torch.linspace(0, 1, 257, dtype=torch.float64, device=length.device))
    arc = (dense[..., 1:, :] - dense[..., :-1, :]).norm(dim=-1).sum(-1)
    pts = (
        curve(times.to(length.device, torch.float64))
        * (length / arc.clamp_min(1e-12))[..., None, None]
    )
    c, s = torch.cos(angle)[..., None, None], torch.sin(angle)[..., None, None]
    rot = torch.cat([torch.cat([c, s], -1), torch.cat([-s, c], -1)], -2)  # by +angle
    return pts @ rot


def _bezier_path(
    length: float,
    times: torch.Tensor,
    gen: torch.Generator,
    curvature: float,
    speed_var: float,
    angle_deg: float | None,
) -> torch.Tensor:
    """``(T, 2)`` float64 positions along a random cubic Bezier with arc length ``length``,
    starting at 0 for ``t = 0`` (``times`` in [0, 1]): :func:`_bezier_points` of draws from
    ``gen``."""
    angle = math.radians(angle_deg) if angle_deg is not None else _rand(gen, 0.0, 2 * math.pi)
    k1, k2 = _rand(gen, -curvature, curvature), _rand(gen, -curvature, curvature)
    s1, s2 = _rand(gen, -speed_var, speed_var), _rand(gen, -speed_var, speed_var)
    f64 = torch.float64
    return _bezier_points(
        torch.tensor(length, dtype=f64),
        torch.tensor(angle, dtype=f64),
        torch.tensor([k1, k2], dtype=f64),
        torch.tensor([s1, s2], dtype=f64),
        times,
    )


def _camera_motion(
    rot_total: float | torch.Tensor, zoom_total: float | torch.Tensor, times: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """In-plane rotation ``theta`` (radians) and zoom of the camera at ``times``: linear in time
    from ``-rot_total / 2`` to ``+rot_total / 2``, and exponential from ``(1 + zoom_total) **
    -0.5`` to ``** +0.5`` (both centred on the middle of the exposure). Tensors of per-sample
    totals ``(B, 1)`` give ``(B, T)``."""
    theta = rot_total * (times - 0.5)
    zoom = torch.exp(torch.log1p(torch.as_tensor(zoom_total, dtype=times.dtype)) * (times - 0.5))
    return theta, zoom


def _source_extent(
    trans: torch.Tensor, theta: torch.Tensor, zoom: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Minv, need)``: the map from an output offset to a source offset at photo scale 1
    (``(..., T, 2, 2)``) and the half extents ``(..., 2)`` (x, y, plus 2 px) of the source
    the output's corners visit over the exposure."""
    i = torch.arange(4, device=trans.device)  # (-1, -1), (1, -1), (-1, 1), (1, 1)
    corners = torch.stack([i % 2, i // 2], -1).to(torch.float64).mul_(2).sub_(1) * (size / 2)
    Minv = _rot(-theta) / zoom[..., None, None]
    src_c = torch.einsum("...tij,...tcj->...tci", Minv, corners - trans[..., None, :])
    return Minv, src_c.abs().amax(dim=(-3, -2)) + 2.0


def _rot(theta: torch.Tensor) -> torch.Tensor:
    """``(T, 2, 2)`` rotation matrices (column-vector convention, y down)."""
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _affine_grid(
    A: torch.Tensor, b: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, device
) -> torch.Tensor:
    """``(..., T, len(ys), len(xs), 2)`` float32 grid ``A_t @ (x, y) + b_t`` built by
    broadcasting (cheaper than ``F.affine_grid``'s batched matmul). ``A (..., T, 2, 2)``,
    ``b (..., T, 2)``."""
    A = A.to(device=device, dtype=torch.float32)
    b = b.to(device=device, dtype=torch.float32)
    xs = xs.to(device=device, dtype=torch.float32)
    ys = ys.to(device=device, dtype=torch.float32)
    g = torch.empty((*A.shape[:-2], ys.numel(), xs.numel(), 2), dtype=torch.float32, device=device)
    for c in range(2):
        row = A[..., c, 1, None] * ys + b[..., c, None]  # (..., T, h)
        torch.add(row[..., :, None], A[..., c, 0, None, None] * xs, out=g[..., c])
    return g


# ----------------------------------------------------------------------------- rendering
def _render_times(
    cfg: ShakeConfig, device: torch.device | None = None
) -> tuple[torch.Tensor, list[int]]:
    """Times of the blur sub-frames followed by any extra target instants (made on
    ``device``); returns ``(times, target_index)`` where ``target_index[f]`` indexes ``times``
    (``center`` only)."""
    n, k = cfg.num_frames, cfg.subframes_per_frame
    t_blur = (torch.arange(n * k, dtype=torch.float64, device=device) + 0.5) / (n * k)
    if cfg.target == "center" and k % 2 == 0:
        t_tgt = (torch.arange(n, dtype=torch.float64, device=device) + 0.5) / n
        return torch.cat([t_blur, t_tgt]), list(range(n * k, n * k + n))
    return t_blur, [f * k + (k - 1) // 2 for f in range(n)]


def _feathered_alpha(
    x: torch.Tensor, y: torch.Tensor, rounded: bool | torch.Tensor, feather: float | torch.Tensor
) -> torch.Tensor:
    """Opacity of a sprite at coordinates ``x, y`` scaled to its half axes: an ellipse, or a
    rounded rectangle (a superellipse of power 6) where ``rounded``, ramping from 0 at its edge
    to 1 over ``feather`` (in the same units). ``rounded`` may be a per-sprite tensor."""
    p = 6.0
    if isinstance(rounded, bool):
        d = (x.abs() ** p + y.abs() ** p) ** (1 / p) if rounded else torch.sqrt(x**2 + y**2)
    else:
        d = torch.where(rounded, (x.abs() ** p + y.abs() ** p) ** (1 / p), torch.sqrt(x**2 + y**2))
    return ((1.0 - d) / feather).clamp(0.0, 1.0)


def _sprite_mask(h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """``(1, h, w)`` feathered alpha, an ellipse or a rounded rectangle, zero at the border."""
    rx, ry = w / 2 - 1.0, h / 2 - 1.0
    y = (torch.arange(h, dtype=torch.float32) - (h - 1) / 2)[:, None] / ry
    x = (torch.arange(w, dtype=torch.float32) - (w - 1) / 2)[None, :] / rx
    rounded = not _rand(gen) < 0.5
    feather = _rand(gen, 1.0, 4.0) / min(rx, ry)
    return _feathered_alpha(x, y, rounded, feather)[None]


@dataclass
class _Scene:
    """The exposure of :func:`render_shake` before the camera: ``frames_lin (T, 3, S, S)`` (the
    ``nk`` blur sub-frames, then any extra target instants), the camera's motion and times."""

    frames_lin: torch.Tensor
    times: torch.Tensor
    tgt_idx: list[int]
    nk: int
    trans: torch.Tensor
    theta: torch.Tensor
    zoom: torch.Tensor

    def expose(self, cfg: ShakeConfig, gen: torch.Generator, debug: bool = False) -> dict[str, Any]:
        """Steps 4-5 of the module docstring: the exposure's average and its sharp targets
        through the camera (:func:`~blurvid.data.camera.expose`). With ``debug`` also
        ``"subframes"`` (sRGB, before the camera), ``"trajectory"`` (the camera's) and
        ``"camera"`` (the drawn realism parameters)."""
        n, k, S, nk = cfg.num_frames, cfg.subframes_per_frame, cfg.size, self.nk
        sub = self.frames_lin[:nk]
        if cfg.target == "center":
            targets = self.frames_lin[self.tgt_idx]
        else:
            targets = sub.reshape(n, k, 3, S, S).mean(1)
        blurry, frames, cam = expose(
            sub, targets, gen, cfg.camera, cfg.noise_sigma, cfg.linear_light
        )
        out: dict[str, Any] = {
            "blurry": blurry.float().contiguous(),
            "frames": frames.float().contiguous(),
        }
        if debug:
            srgb = linear_to_srgb(sub) if cfg.linear_light else sub.clamp(0.0, 1.0)
            out["subframes"] = srgb.float()
            out["trajectory"] = self.trans[:nk].float()
            out["camera"] = cam
        return out


def _shake_scene(
    photo: torch.Tensor | Sequence[torch.Tensor],
    cfg: ShakeConfig,
    gen: torch.Generator,
    sprite_photo: torch.Tensor | Sequence[torch.Tensor] | None = None,
) -> _Scene:
    """Camera shake of ``photo`` and its sprites over the exposure (steps 1-3 of the module
    docstring); the random draws are :func:`render_shake`'s, in its order."""
    levels, scales = _as_pyramid(photo)
    dev = levels[0].device
    S, n, k = cfg.size, cfg.num_frames, cfg.subframes_per_frame
    nk = n * k
    times, tgt_idx = _render_times(cfg)
    T = times.shape[0]

    # --- camera trajectory (content displacement), centred on its mean over the exposure
    length = _rand(gen, *cfg.path_length)
    trans = _bezier_path(length, times, gen, cfg.curvature, cfg.speed_variation, cfg.angle_deg)
    trans = trans - trans[:nk].mean(0, keepdim=True)
    rot_total = math.radians(_rand(gen, -cfg.rotation_deg, cfg.rotation_deg))
    zoom_total = _rand(gen, -cfg.zoom, cfg.zoom)
    theta, zoom = _camera_motion(rot_total, zoom_total, times)

    # --- photo scale: pick a pyramid level, the rest of the scale goes into the warp
    center = (S - 1) / 2
    Minv, need = _source_extent(trans, theta, zoom, S)  # half extents (x, y) at photo scale 1
    H0, W0 = levels[0].shape[-2:]
    s_min_fit = max(float(2 * need[0] + 8) / W0, float(2 * need[1] + 8) / H0)
    scale = _rand(gen, *cfg.photo_scale)
    scale = max(scale, s_min_fit)
    li = max([i for i, s in enumerate(scales) if s >= scale - 1e-9], default=0)
    img = levels[li]
    r = scale / scales[li]  # output px per level px (<= 1 unless the photo is tiny)
    hx, hy = math.ceil(float(need[0]) / r) + 1, math.ceil(float(need[1]) / r) + 1
    Hl, Wl = img.shape[-2:]
    if 2 * hx + 1 > Wl or 2 * hy + 1 > Hl:  # only for photos smaller than the output
        if min(Hl, Wl) < 8:
            raise DataError(f"photo is too small ({Hl}x{Wl}) to render {S}x{S} samples")
        f = max((2 * hx + 2) / Wl, (2 * hy + 2) / Hl)
        img = F.interpolate(
            _patch_float(img, 0, 0, Hl, Wl)[None],
            scale_factor=f,
            mode="bilinear",
            align_corners=False,
        )[0]
        r, Hl, Wl = r * f, *img.shape[-2:]
        hx, hy = math.ceil(float(need[0]) / r) + 1, math.ceil(float(need[1]) / r) + 1
    cx = _randint(gen, hx, Wl - 1 - hx)
    cy = _randint(gen, hy, Hl - 1 - hy)
    patch = _patch_float(img, cy - hy, cx - hx, 2 * hy + 1, 2 * hx + 1)
    if cfg.linear_light:
        patch = srgb_to_linear(patch)

    # --- background: all sub-frames in one grid_sample
    # normalised coords (align_corners=False): n_out = 2 u / S, n_src = 2 p / (w, h)
    wh = torch.tensor([2 * hx + 1, 2 * hy + 1], dtype=torch.float64)
    A = (2.0 / wh)[None, :, None] * (Minv / r) * (S / 2.0)
    b = -(2.0 / wh)[None, :] * torch.einsum("tij,tj->ti", Minv / r, trans)
    n_out = (2 * torch.arange(S, dtype=torch.float64) + 1) / S - 1
    grid = _affine_grid(A, b, n_out, n_out, dev).reshape(1, T * S, S, 2)
    frames_lin = F.grid_sample(
        patch[None].to(dev), grid, mode="bilinear", padding_mode="border", align_corners=False
    )[0]
    frames_lin = frames_lin.reshape(3, T, S, S).permute(1, 0, 2, 3)  # (T, 3, S, S)

    # --- sprites, each rendered only inside the bounding box of its path
    n_spr = _randint(gen, *cfg.sprites)
    s_levels, s_scales = _as_pyramid(sprite_photo) if sprite_photo is not None else (levels, scales)
    for _ in range(n_spr):
        sw = max(4, round(S * _rand(gen, *cfg.sprite_size)))
        sh = max(4, round(S * _rand(gen, *cfg.sprite_size)))
        sj = max([i for i, s in enumerate(s_scales) if s >= scale - 1e-9], default=0)
        tex_img = s_levels[sj]
        th, tw = tex_img.shape[-2:]
        if th < sh + 2 or tw < sw + 2:
            tex_img = s_levels[0]
            th, tw = tex_img.shape[-2:]
            sh, sw = min(sh, th - 2), min(sw, tw - 2)
            if sh < 4 or sw < 4:
                continue
        ty, tx = _randint(gen, 0, th - sh), _randint(gen, 0, tw - sw)
        tex = _patch_float(tex_img, ty, tx, sh, sw).to(dev)
        if cfg.linear_light:
            tex = srgb_to_linear(tex)
        alpha = _sprite_mask(sh, sw, gen).to(dev)
        rgba = torch.cat([tex * alpha, alpha], 0)  # premultiplied
        start = torch.tensor(
            [_rand(gen, -S / 2, S / 2), _rand(gen, -S / 2, S / 2)], dtype=torch.float64
        )
        s_len = _rand(gen, *cfg.sprite_path_length)
        path = start + _bezier_path(s_len, times, gen, cfg.curvature, cfg.speed_variation, None)
        phi = math.radians(_rand(gen, -cfg.sprite_rotation_deg, cfg.sprite_rotation_deg)) * times
        phi = phi + _rand(gen, -math.pi, math.pi) * 0.1
        rad = math.hypot(sw, sh) / 2 + 2
        x0 = max(0, math.floor(float(path[:, 0].min()) + center - rad))
        x1 = min(S, math.ceil(float(path[:, 0].max()) + center + rad) + 1)
        y0 = max(0, math.floor(float(path[:, 1].min()) + center - rad))
        y1 = min(S, math.ceil(float(path[:, 1].max()) + center + rad) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        R = _rot(-phi) * (2.0 / torch.tensor([sw, sh], dtype=torch.float64))[None, :, None]
        off = -torch.einsum("tij,tj->ti", R, path)
        xs = torch.arange(x0, x1, dtype=torch.float64) - center
        ys = torch.arange(y0, y1, dtype=torch.float64) - center
        q = _affine_grid(R, off, xs, ys, dev)  # (T, bh, bw, 2)
        spr = F.grid_sample(
            rgba[None],
            q.reshape(1, T * (y1 - y0), x1 - x0, 2),
            mode="bilinear",
            padding_mode="zeros",
            align_corners=False,
        )[0]
        spr = spr.reshape(4, T, y1 - y0, x1 - x0).permute(1, 0, 2, 3)  # (T, 4, bh, bw)
        win = frames_lin[:, :, y0:y1, x0:x1]
        frames_lin[:, :, y0:y1, x0:x1] = spr[:, :3] + (1.0 - spr[:, 3:]) * win

    return _Scene(frames_lin, times, tgt_idx, nk, trans, theta, zoom)


def render_shake(
    photo: torch.Tensor | Sequence[torch.Tensor],
    cfg: ShakeConfig | None = None,
    generator: torch.Generator | None = None,
    sprite_photo: torch.Tensor | Sequence[torch.Tensor] | None = None,
    debug: bool = False,
) -> dict[str, Any]:
    """Render one blurry image and its 7 sharp frames from a sharp photo.

    Args:
        photo: ``(3, H, W)`` float in [0, 1] or uint8, on any device, or a pyramid from
            :func:`build_pyramid` (the level matching the drawn photo scale is used).
        cfg: Rendering parameters.
        generator: CPU ``torch.Generator`` for every random draw (a fresh unseeded one if
            ``None``; pass one from :func:`item_generator` for reproducibility).
        sprite_photo: Where sprite textures are cut from (default: ``photo``).
        debug: Also return ``"subframes"`` ``(7k, 3, S, S)`` sRGB (the images averaged into
            the blurry one, before noise), ``"trajectory"`` ``(7k, 2)`` content displacement
            (x, y) in output pixels, ``"theta"`` ``(7k,)`` radians, ``"zoom"`` ``(7k,)`` and
            ``"noise_sigma"`` (0-d) and ``"camera"`` (the drawn camera-realism parameters,
            :func:`~blurvid.data.camera.expose`).

    Returns:
        ``{"blurry": (3, S, S), "frames": (7, 3, S, S)}`` float32 in [0, 1] on the photo's
        device, frames in temporal order (index 3 = centre).

    Raises:
        DataError: The photo is not ``(3, H, W)`` or smaller than 8 px.
    """
    cfg = cfg if cfg is not None else ShakeConfig()
    gen = generator if generator is not None else torch.Generator()
    scene = _shake_scene(photo, cfg, gen, sprite_photo)
    out = scene.expose(cfg, gen, debug)
    if debug:
        out["theta"] = scene.theta[: scene.nk].float()
        out["zoom"] = scene.zoom[: scene.nk].float()
        out["noise_sigma"] = torch.tensor(out["camera"].get("noise_sigma", 0.0))
    return out


def render_item(
    photos: Sequence[torch.Tensor | Sequence[torch.Tensor]],
    cfg: ShakeConfig | None,
    seed: int,
    index: int,
    other_sprite_prob: float = 0.5,
) -> dict[str, torch.Tensor]:
    """Sample ``index`` of the synthetic stream ``seed`` over a list of photos (or pyramids).

    The photo (and, with probability ``other_sprite_prob``, another photo for the sprite
    textures) is drawn from ``item_generator(seed, index)``, so the result depends only on
    ``(photos, cfg, seed, index)``. Used by ``SyntheticShakeDataset`` and :func:`render_batch`.
    """
    if len(photos) == 0:
        raise DataError("no photos to render from")
    gen = item_generator(seed, index)
    i = _randint(gen, 0, len(photos) - 1)
    j = _randint(gen, 0, len(photos) - 1)
    sprite = photos[j] if _rand(gen) < other_sprite_prob else None
    return render_shake(photos[i], cfg, gen, sprite_photo=sprite)


def render_batch(
    photos: Sequence[torch.Tensor | Sequence[torch.Tensor]],
    cfg: ShakeConfig | None = None,
    seed: int = 0,
    n: int = 8,
    start: int = 0,
    device: str | torch.device | None = None,
) -> dict[str, torch.Tensor]:
    """Render samples ``start .. start+n-1`` of the stream ``seed`` as one batch.

    Runs wherever the photos live (move them, or pyramids of them, to CUDA once and call this
    in the training loop for GPU-side synthesis; ``device`` moves them on each call, which is
    only sensible for small photos). Random draws stay on the CPU, so a sample is the same
    on every device up to float rounding, and equals ``SyntheticShakeDataset(...)[start + i]``
    built with the same photos, config and seed.

    Returns:
        ``{"blurry": (n, 3, S, S), "frames": (n, 7, 3, S, S)}`` float32 in [0, 1].
    """
    cfg = cfg if cfg is not None else ShakeConfig()
    if device is not None:
        photos = [
            p.to(device) if isinstance(p, torch.Tensor) else [lv.to(device) for lv in p]
            for p in photos
        ]
    items = [render_item(photos, cfg, seed, start + i) for i in range(n)]
    return {
        "blurry": torch.stack([it["blurry"] for it in items]),
        "frames": torch.stack([it["frames"] for it in items]),
    }


# ----------------------------------------------------------------------------- datasets
def _photo_list(photos) -> list:
    if isinstance(photos, (str, os.PathLike)):
        root = Path(photos)
        if not root.exists():
            raise DataError(f"photo folder {root} does not exist")
        if root.is_file():
            return [root]
        paths = list_images(root)
        if not paths:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
        return paths
    items = list(photos)
    if not items:
        raise DataError("the list of photos is empty")
    return items


def load_photos(
    photos: PathLike | Sequence[PathLike | torch.Tensor],
    levels: Sequence[float] = PYRAMID_LEVELS,
    max_side: int | None = None,
) -> list[list[torch.Tensor]]:
    """Read photos (a folder, paths or ``(3, H, W)`` tensors) into uint8 pyramids.

    Args:
        photos: Folder, list of paths, or list of ``(3, H, W)`` float tensors in [0, 1].
        levels: Pyramid scales (see :func:`build_pyramid`).
        max_side: Downscale photos whose long side is larger than this first.

    Returns:
        One pyramid (list of ``(3, h, w)`` uint8 tensors) per photo.

    Raises:
        DataError: Missing/empty folder or an unreadable image.
    """
    out = []
    for p in _photo_list(photos):
        if isinstance(p, torch.Tensor):
            img = p
        else:
            try:
                img = read_image(p)
            except InvalidImageError as exc:
                raise DataError(f"cannot use photo {p}: {exc}") from exc
        if max_side is not None and max(img.shape[-2:]) > max_side:
            img = _resize(img.float(), max_side / max(img.shape[-2:]))
        out.append(build_pyramid(img, levels))
    return out


class SyntheticShakeDataset(_SeededDataset):
    """Synthetic camera-shake (+ moving sprites) samples rendered on the fly from photos.

    Photos are read once into uint8 pyramids (about 1.9x the photo's bytes); each item draws
    a photo, a random scale in ``cfg.photo_scale`` (e.g. 0.35-1.0, so a motion of N pixels
    covers more or less content), a trajectory and sprites, and renders with
    :func:`render_shake` (about 15-30 ms for 128x128 on one CPU thread). With ``epoch == 0``
    item ``i`` equals ``render_batch(dataset.photos, cfg, seed, n, start=i)``'s first sample.

    Args:
        photos: Folder, list of image paths, or list of ``(3, H, W)`` tensors.
        cfg: Rendering parameters (size, motion, noise...).
        length: Number of items (an epoch).
        seed: Seed of the sample stream.
        augment: Optional :class:`Augment` applied after rendering (e.g. colour gains, JPEG).
        other_sprite_prob: Probability that sprites are cut from another photo.
        max_side: Downscale larger photos to this long side when loading.

    Raises:
        DataError: Missing/empty folder, unreadable photo.
    """

    def __init__(
        self,
        photos: PathLike | Sequence[PathLike | torch.Tensor],
        cfg: ShakeConfig | None = None,
        length: int = 10_000,
        seed: int = 0,
        augment: Augment | None = None,
        other_sprite_prob: float = 0.5,
        max_side: int | None = None,
    ) -> None:
        self.cfg = cfg if cfg is not None else ShakeConfig()
        self.photos = load_photos(photos, max_side=max_side)
        self.length, self.seed, self.augment = int(length), int(seed), augment
        self.other_sprite_prob = other_sprite_prob

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        self._check_index(index)
        seed = self._stream_seed()
        s = render_item(self.photos, self.cfg, seed, index, self.other_sprite_prob)
        if self.augment is not None:
            s = self.augment(s, self._generator(index, 1))
        return s
