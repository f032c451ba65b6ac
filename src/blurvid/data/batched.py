"""Batched camera shake on one device: a whole batch of :func:`~blurvid.data.shake.render_shake`
samples at once, with every random draw a tensor on that device.

The model is :func:`~blurvid.data.shake.render_shake`'s, through the same functions (the Bezier
trajectory and its arc length, the linear rotation and exponential zoom, the photo scale and its
pyramid level, the sub-frame and target times, the sprites' opacity, the camera of
:mod:`blurvid.data.camera`); what changes is how the work is laid out for a GPU:

* :class:`PhotoStore` packs every pyramid level of every photo into **one** uint8 tensor (the
  images' rows stacked, each padded to the widest) with their sizes, so the source patches of a
  whole batch are one gather (indices clamped to each image: its border is repeated, as
  ``grid_sample``'s ``padding_mode="border"`` would).
* The sub-frames of all samples are warped by one ``grid_sample`` per chunk of sub-frame times
  (chunks bound the memory to about ``max_elems`` output pixels) and summed as they come: the
  exposure's average (in linear light) never holds all 56 sub-frames at once.
* Sprites are composited over every sub-frame with their opacity evaluated analytically at each
  output pixel (:func:`~blurvid.data.shake._feathered_alpha`), not resampled from a raster.
* No ``.item()``, ``.tolist()`` or host copies: the batch is drawn and rendered without waiting
  for the device (the sizes of every tensor follow from the config alone).

A sample is not bit-identical to :func:`render_shake` (other draws, other generator), but is
drawn from the same distribution: ``tests/train/test_device_data.py`` compares the batch
statistics of both paths. JPEG (Pillow, CPU only) is not available here
(:func:`~blurvid.data.camera.draw_camera_batch` says so).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ..colour import linear_to_srgb, srgb_to_linear
from ..errors import DataError
from .camera import develop_batch, draw_camera_batch
from .shake import (
    ShakeConfig,
    _affine_grid,
    _bezier_points,
    _camera_motion,
    _feathered_alpha,
    _render_times,
    _rot,
    _source_extent,
)

__all__ = ["PhotoStore", "render_shake_batch"]

_F64 = torch.float64


class PhotoStore:
    """Photo pyramids (:func:`~blurvid.data.shake.load_photos`) packed on one device.

    Attributes:
        store: ``(R, W, 3)`` uint8, every level of every photo (rows stacked, padded to the
            widest ``W``).
        row0, h, w: ``(N, L)`` long: each level's first row in ``store`` and its size
            (0 where a photo has fewer levels).
        scales: ``(N, L)`` float64, each level's height over its level 0 (-1 where missing).

    Raises:
        DataError: No photos, or a level that is not ``(3, h, w)``.
    """

    def __init__(
        self, pyramids: Sequence[Sequence[torch.Tensor]], device: str | torch.device | None = None
    ) -> None:
        if len(pyramids) == 0:
            raise DataError("PhotoStore: no photos")
        levels = [list(p) for p in pyramids]
        for p in levels:
            if not p or any(lv.ndim != 3 or lv.shape[0] != 3 for lv in p):
                raise DataError("PhotoStore: each photo must be a list of (3, h, w) levels")
        n, nl = len(levels), max(len(p) for p in levels)
        width = max(int(lv.shape[-1]) for p in levels for lv in p)
        rows = sum(int(lv.shape[-2]) for p in levels for lv in p)
        store = torch.zeros(rows, width, 3, dtype=torch.uint8)
        row0, h, w = (torch.zeros(n, nl, dtype=torch.long) for _ in range(3))
        r = 0
        for i, p in enumerate(levels):
            for li, lv in enumerate(p):
                u8 = lv if lv.dtype == torch.uint8 else (lv.float().clamp(0, 1) * 255).round()
                lh, lw = int(lv.shape[-2]), int(lv.shape[-1])
                store[r : r + lh, :lw] = u8.to(torch.uint8).permute(1, 2, 0)
                row0[i, li], h[i, li], w[i, li] = r, lh, lw
                r += lh
        self.scales_host = torch.where(h > 0, h.double() / h[:, :1].double(), -1.0)
        dev = torch.device(device) if device is not None else torch.device("cpu")
        self.device = dev
        self.store = store.to(dev)
        self.row0, self.h, self.w = row0.to(dev), h.to(dev), w.to(dev)
        self.scales = self.scales_host.to(dev)

    def __len__(self) -> int:
        return int(self.row0.shape[0])

    @functools.lru_cache(maxsize=8)  # noqa: B019  (a few configs per store, kept with it)
    def min_ratio(self, scale_min: float) -> float:
        """The smallest output-per-level-pixel ratio ``r`` a photo scale ``>= scale_min`` can
        give (:func:`render_shake_batch` picks the smallest level at least as large as the
        scale): bounds the source patch (host arithmetic on the sizes, no device work)."""
        s = self.scales_host
        ratios = [1.0]
        for i in range(s.shape[0]):
            lv = [float(v) for v in s[i] if v > 0]
            ratios += [b / a for a, b in zip(lv, lv[1:])]
            ratios.append(min(1.0, scale_min / lv[-1]))
        return max(min(ratios), 1e-3)

    def level_for(self, photo: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``(B,)`` the smallest level of each photo at least ``scale`` large (level 0 when
        even that is smaller), as :func:`render_shake` chooses."""
        ok = self.scales[photo] >= scale[:, None] - 1e-9
        idx = torch.arange(ok.shape[1], device=ok.device)
        return (ok.long() * idx).amax(1)

    def gather(
        self,
        photo: torch.Tensor,
        level: torch.Tensor,
        y0: torch.Tensor,
        x0: torch.Tensor,
        ph: int,
        pw: int,
    ) -> torch.Tensor:
        """``(B, 3, ph, pw)`` float32 sRGB patches whose top-left corners are ``(y0, x0)`` in
        level ``level`` of photo ``photo`` (all ``(B,)``); rows and columns past an image's
        edge repeat its border."""
        dev = self.store.device
        h, w = self.h[photo, level], self.w[photo, level]
        ys = torch.minimum(
            (y0[:, None] + torch.arange(ph, device=dev)).clamp_min(0), h[:, None] - 1
        )
        xs = torch.minimum(
            (x0[:, None] + torch.arange(pw, device=dev)).clamp_min(0), w[:, None] - 1
        )
        rows = self.row0[photo, level][:, None] + ys
        patch = self.store[rows[:, :, None], xs[:, None, :]]  # (B, ph, pw, 3)
        return patch.permute(0, 3, 1, 2).float().div_(255.0)


def _patch_side(cfg: ShakeConfig, store: PhotoStore) -> int:
    """Side of the square source patch that holds every sample's warp (see the module):
    the half extent :func:`~blurvid.data.shake._source_extent` can reach, at the smallest
    ratio of output to level pixels."""
    zoom_min = math.sqrt(1.0 - min(cfg.zoom, 0.999))
    half_turn = math.radians(cfg.rotation_deg) / 2
    reach = cfg.size / 2 * (math.cos(half_turn) + math.sin(min(half_turn, math.pi / 2)))
    need = (reach + cfg.path_length[1]) / zoom_min + 2.0
    return 2 * math.ceil(need / store.min_ratio(cfg.photo_scale[0])) + 5


def render_shake_batch(
    store: PhotoStore,
    cfg: ShakeConfig,
    n: int,
    generator: torch.Generator,
    other_sprite_prob: float = 0.5,
    max_elems: int | None = None,
    debug: bool = False,
) -> dict[str, torch.Tensor]:
    """Render ``n`` samples of camera shake at once on ``store``'s device.

    Args:
        store: The photos.
        cfg: As :func:`~blurvid.data.shake.render_shake`'s (its JPEG step excepted).
        n: Batch size.
        generator: A ``torch.Generator`` on ``store.device``: every draw.
        other_sprite_prob: Probability that a sample's sprites come from another photo.
        max_elems: About how many output pixels (samples x sub-frames x S x S) one
            ``grid_sample`` call renders: bounds the memory. Default 2**20 on a CPU (cache
            sized: 1.8x faster than 2**25 at batch 32, 128 px), 2**25 on a GPU (fewer launches).
        debug: Also return ``"subframes"`` ``(n, 7k, 3, S, S)`` sRGB before the camera,
            ``"trajectory"`` ``(n, 7k, 2)`` the content's displacement and ``"path_length"``
            ``(n,)`` (the drawn arc lengths).

    Returns:
        ``{"blurry": (n, 3, S, S), "frames": (n, F, 3, S, S)}`` float32 in [0, 1].
    """
    dev = store.device
    S, nf, k = cfg.size, cfg.num_frames, cfg.subframes_per_frame
    nk = nf * k
    times, tgt_idx = _render_times(cfg, dev)
    T = times.shape[0]

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand((n, *shape), generator=generator, device=dev, dtype=_F64)

    def angle() -> torch.Tensor:
        return u(0.0, 2 * math.pi)

    draws = draw_camera_batch(cfg.camera, cfg.noise_sigma, n, generator, dev)
    photo = torch.randint(len(store), (n,), generator=generator, device=dev)
    other = torch.randint(len(store), (n,), generator=generator, device=dev)
    sprite_photo = torch.where(u(0.0, 1.0) < other_sprite_prob, other, photo)

    # --- the camera: trajectory (content displacement, centred on its mean), rotation, zoom
    length = u(*cfg.path_length)
    direction = (
        torch.full((n,), math.radians(cfg.angle_deg), device=dev, dtype=_F64)
        if cfg.angle_deg is not None
        else angle()
    )
    c, sv = cfg.curvature, cfg.speed_variation
    trans = _bezier_points(length, direction, u(-c, c, 2), u(-sv, sv, 2), times)
    trans = trans - trans[:, :nk].mean(1, keepdim=True)
    rot_total = torch.deg2rad(u(-cfg.rotation_deg, cfg.rotation_deg))
    theta, zoom = _camera_motion(rot_total[:, None], u(-cfg.zoom, cfg.zoom)[:, None], times)
    Minv, need = _source_extent(trans, theta, zoom, S)

    # --- photo scale and pyramid level; the source patch around a random centre
    H0, W0 = store.h[photo, 0].double(), store.w[photo, 0].double()
    fit = torch.maximum((2 * need[:, 0] + 8) / W0, (2 * need[:, 1] + 8) / H0)
    scale = torch.maximum(u(*cfg.photo_scale), fit)
    level = store.level_for(photo, scale)
    r = scale / store.scales[photo, level]
    half = (need / r[:, None]).ceil().long() + 1  # (n, 2): hx, hy
    size = torch.stack([store.w[photo, level], store.h[photo, level]], -1)  # (n, 2): w, h
    room = (size - 2 * half).clamp_min(1)
    centre = half + (u(0.0, 1.0, 2) * room).floor().long()
    P = _patch_side(cfg, store)
    corner = centre - half
    patch = store.gather(photo, level, corner[:, 1], corner[:, 0], P, P)
    if cfg.linear_light:
        patch = srgb_to_linear(patch)
    # normalised patch coordinates (align_corners=False) of each output pixel, per sub-frame
    M = Minv / r[:, None, None, None]
    A = M * (S / P)
    b = -(2.0 / P) * torch.einsum("btij,btj->bti", M, trans) + ((2 * half + 1) / P - 1)[:, None]
    n_out = (2 * torch.arange(S, dtype=_F64, device=dev) + 1) / S - 1

    # --- sprites: one slot per possible sprite, absent ones fully transparent
    sprites = []
    lo_s, hi_s = cfg.sprites
    count = torch.randint(lo_s, hi_s + 1, (n,), generator=generator, device=dev)
    Q = max(4, round(S * cfg.sprite_size[1]))
    centre_px = (S - 1) / 2
    pix = torch.arange(S, dtype=_F64, device=dev) - centre_px
    for slot in range(hi_s):
        wh = (S * u(*cfg.sprite_size, 2)).round().clamp_min(4).long()  # (n, 2): sw, sh
        sl = store.level_for(sprite_photo, scale)
        tex_size = torch.stack([store.w[sprite_photo, sl], store.h[sprite_photo, sl]], -1)
        small = (tex_size < wh + 2).any(-1)
        sl = torch.where(small, torch.zeros_like(sl), sl)
        tex_size = torch.stack([store.w[sprite_photo, sl], store.h[sprite_photo, sl]], -1)
        wh = torch.where(small[:, None], torch.minimum(wh, tex_size - 2), wh)
        present = (slot < count) & (wh >= 4).all(-1)
        origin = (u(0.0, 1.0, 2) * (tex_size - wh + 1)).floor().long()
        tex = store.gather(sprite_photo, sl, origin[:, 1], origin[:, 0], Q, Q)
        if cfg.linear_light:
            tex = srgb_to_linear(tex)
        # the feathered mask on the texture's pixels (render_shake's), premultiplied
        radii = wh.double() / 2 - 1.0  # rx, ry
        rounded = u(0.0, 1.0) >= 0.5
        feather = u(1.0, 4.0) / radii.amin(-1)
        grid_q = torch.arange(Q, dtype=_F64, device=dev)
        mx = (grid_q - (wh[:, :1] - 1) / 2) / radii[:, :1]  # (n, Q)
        my = (grid_q - (wh[:, 1:] - 1) / 2) / radii[:, 1:]
        alpha = (
            _feathered_alpha(
                mx[:, None, :], my[:, :, None], rounded[:, None, None], feather[:, None, None]
            )
            * present[:, None, None]
        )
        rgba = torch.cat([tex * alpha[:, None].float(), alpha[:, None].float()], 1)
        start = u(-S / 2, S / 2, 2)
        path = start[:, None] + _bezier_points(
            u(*cfg.sprite_path_length), angle(), u(-c, c, 2), u(-sv, sv, 2), times
        )
        turn = torch.deg2rad(u(-cfg.sprite_rotation_deg, cfg.sprite_rotation_deg))
        phi = turn[:, None] * times + (u(-math.pi, math.pi) * 0.1)[:, None]
        # output offset -> the sprite's [-1, 1] coordinates -> the texture patch's (side Q)
        R = _rot(-phi) * (2.0 / wh.double())[:, None, :, None]
        off = -torch.einsum("btij,btj->bti", R, path)
        to_tex = (wh.double() / Q)[:, None, :]
        sprites.append((R * to_tex[..., None], (off + 1) * to_tex - 1, rgba))

    # --- the exposure: chunks of sub-frame times, summed as they come
    if max_elems is None:
        max_elems = 2**20 if dev.type == "cpu" else 2**25
    step = max(1, max_elems // max(1, n * S * S))
    if cfg.target == "mean":
        step = max(k, step - step % k)
    blur = torch.zeros(n, 3, S, S, device=dev)
    targets = torch.zeros(n, nf, 3, S, S, device=dev)
    keep: list[torch.Tensor] = []
    for a in range(0, T, step):
        e = min(T, a + step)
        m = e - a
        grid = _affine_grid(A[:, a:e], b[:, a:e], n_out, n_out, dev).reshape(n, m * S, S, 2)
        sub = F.grid_sample(
            patch, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        sub = sub.reshape(n, 3, m, S, S).transpose(1, 2)  # (n, m, 3, S, S)
        for R, off, rgba in sprites:
            q = _affine_grid(R[:, a:e], off[:, a:e], pix, pix, dev).reshape(n, m * S, S, 2)
            spr = F.grid_sample(rgba, q, mode="bilinear", padding_mode="zeros", align_corners=False)
            spr = spr.reshape(n, 4, m, S, S).transpose(1, 2)  # (n, m, 4, S, S)
            sub = sub.mul_(1.0 - spr[:, :, 3:]).add_(spr[:, :, :3])
        nb = max(0, min(e, nk) - a)  # blur sub-frames in this chunk
        if cfg.target == "mean" and nb:
            targets[:, a // k : (a + nb) // k] = sub[:, :nb].reshape(n, nb // k, k, 3, S, S).mean(2)
        for f, t in enumerate(tgt_idx if cfg.target == "center" else ()):
            if a <= t < e:
                targets[:, f] = sub[:, t - a]
        if nb:
            blur += draws.light(sub[:, :nb], cfg.camera).sum(1)
            if debug:
                keep.append(sub[:, :nb])
    blurry, frames = develop_batch(
        blur / nk, draws.light(targets, cfg.camera), draws, cfg.camera, generator, cfg.linear_light
    )
    out: dict[str, Any] = {"blurry": blurry.contiguous(), "frames": frames.contiguous()}
    if debug:
        subs = torch.cat(keep, 1)
        out["subframes"] = linear_to_srgb(subs) if cfg.linear_light else subs.clamp(0.0, 1.0)
        out["trajectory"] = trans[:, :nk].float()
        out["path_length"] = length.float()
    return out
