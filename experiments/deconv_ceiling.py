"""Ceiling of a physics step: deconvolve the validation photos with their TRUE camera path.

Issue 15's first candidate: camera shake is close to one blur kernel per photo, so a predicted
path plus non-blind deconvolution might deblur at once. Before building a path predictor, this
measures the ceiling: the synthetic half of the fixed validation set is re-rendered with its
true trajectories (same seeds), and each blurry image is deconvolved in linear light with the
exact path kernel (Wiener with a gradient prior, reflect padding + edge taper), at several
regularisation weights. Also: the same without noise, rotation, zoom and sprites (pure
translation), and the interior only (24 px from the border), to show what limits it.

    python experiments/deconv_ceiling.py            # -> experiments/results/deconv_ceiling.json

Not part of the library: the functions below are the experiment's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent


def _check_path(path: torch.Tensor) -> None:
    if not isinstance(path, torch.Tensor) or path.ndim != 3 or path.shape[-1] != 2:
        raise ValueError(
            f"path must be a (B, N, 2) tensor of (x, y) offsets in pixels, got "
            f"{tuple(path.shape) if isinstance(path, torch.Tensor) else type(path).__name__}"
        )


def path_kernel(path: torch.Tensor, size: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Rasterise camera paths into blur kernels by bilinear splatting.

    Args:
        path: ``(B, N, 2)`` content offsets ``(x, y)`` in pixels, one per instant of the
            exposure (evenly spaced in time), relative to the instant the sharp image shows.
            Offsets beyond the kernel's half size are clamped to its border.
        size: odd kernel side ``K``; the centre pixel ``(K // 2, K // 2)`` is offset 0.
        weights: optional ``(B, N)`` non-negative weights of the instants (default equal).

    Returns:
        ``(B, K, K)`` kernels that sum to 1; ``kernel[b, y, x]`` is the share of the exposure
        the content spent at offset ``(x - K // 2, y - K // 2)``. Differentiable in ``path``.
    """
    _check_path(path)
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be an odd integer >= 1, got {size!r}")
    b, n, _ = path.shape
    r = size // 2
    p = path.clamp(-r, r) + r  # pixel coordinates in [0, K-1]
    x0 = p[..., 0].detach().floor().clamp(0, size - 1)
    y0 = p[..., 1].detach().floor().clamp(0, size - 1)
    fx, fy = p[..., 0] - x0, p[..., 1] - y0
    w = torch.ones(b, n, dtype=path.dtype, device=path.device) if weights is None else weights
    w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
    out = torch.zeros(b, size * size, dtype=path.dtype, device=path.device)
    for dx, dy, wt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi = (x0 + dx).clamp(max=size - 1).long()
        yi = (y0 + dy).clamp(max=size - 1).long()
        out = out.scatter_add(1, yi * size + xi, wt * w)
    return out.view(b, size, size)


def segment_kernels(path: torch.Tensor, size: int, num_frames: int = 7) -> torch.Tensor:
    """Kernels of ``num_frames`` consecutive, equal segments of each path.

    Frame ``i`` of a shaken exposure is the sharp image convolved with segment ``i``; the
    mean of the returned kernels is :func:`path_kernel` of the whole path (same ``N``
    divisible by ``num_frames``), the blur model of Sec. 3.3.

    Returns:
        ``(B, num_frames, K, K)``, each kernel summing to 1.
    """
    _check_path(path)
    b, n, _ = path.shape
    if n % num_frames:
        raise ValueError(f"path length {n} is not divisible by num_frames={num_frames}")
    seg = path.reshape(b * num_frames, n // num_frames, 2)
    return path_kernel(seg, size).view(b, num_frames, size, size)


def _kernel_otf(kernel: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Optical transfer function ``(B, 1, h, w // 2 + 1)`` of centred kernels ``(B, K, K)``."""
    b, k, _ = kernel.shape
    pad = torch.zeros(b, h, w, dtype=kernel.dtype, device=kernel.device)
    pad[:, :k, :k] = kernel
    pad = torch.roll(pad, shifts=(-(k // 2), -(k // 2)), dims=(1, 2))
    return torch.fft.rfft2(pad)[:, None]


def _taper(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflect-pad by ``pad`` and blend the padded border towards the opposite edge, so the
    padded image is smooth across the circular FFT boundary (an "edge taper")."""
    h, w = x.shape[-2:]
    mode = "reflect" if pad < min(h, w) else "replicate"
    y = F.pad(x, (pad, pad, pad, pad), mode=mode)
    if pad == 0:
        return y
    ramp = torch.linspace(0, 1, pad + 2, dtype=x.dtype, device=x.device)[1:-1]
    win_1d = torch.cat([ramp, torch.ones(1, dtype=x.dtype, device=x.device), ramp.flip(0)])

    def window(n: int) -> torch.Tensor:
        mid = torch.ones(n, dtype=x.dtype, device=x.device)
        return torch.cat([win_1d[:pad], mid, win_1d[pad + 1 :]])

    wy, wx = window(h)[:, None], window(w)[None, :]
    alpha = wy * wx
    mean = y.mean(dim=(-2, -1), keepdim=True)
    return alpha * y + (1 - alpha) * mean


def wiener_deconvolve(
    blurry: torch.Tensor, kernel: torch.Tensor, reg: float | torch.Tensor = 2e-3
) -> torch.Tensor:
    """Deconvolve ``blurry = sharp * kernel + noise`` with a gradient prior (closed form).

    ``X = conj(K) B / (|K|^2 + reg (|Dx|^2 + |Dy|^2))`` in the Fourier domain, where ``Dx, Dy``
    are finite differences: the MAP estimate under Gaussian noise and a Gaussian prior on the
    image gradients. ``reg`` trades sharpness for noise and ringing (about ``sigma^2`` over
    the gradient variance; 1e-3 - 1e-2 for 8-bit photos in linear light).

    Args:
        blurry: ``(B, C, H, W)`` (linear light).
        kernel: ``(B, K, K)`` centred kernels summing to 1 (see :func:`path_kernel`).
        reg: scalar or ``(B,)`` tensor, > 0.

    Returns:
        ``(B, C, H, W)``, not clamped. Differentiable in ``blurry``, ``kernel`` and ``reg``.
    """
    if blurry.ndim != 4 or kernel.ndim != 3 or kernel.shape[0] != blurry.shape[0]:
        raise ValueError(
            f"expected blurry (B, C, H, W) and kernel (B, K, K) with the same B, got "
            f"{tuple(blurry.shape)} and {tuple(kernel.shape)}"
        )
    h, w = blurry.shape[-2:]
    k = kernel.shape[-1]
    pad = k
    x = _taper(blurry, pad)
    hp, wp = x.shape[-2:]
    otf = _kernel_otf(kernel.to(x.dtype), hp, wp)
    fy = torch.fft.fftfreq(hp, device=x.device, dtype=x.dtype)[:, None]
    fx = torch.fft.rfftfreq(wp, device=x.device, dtype=x.dtype)[None, :]
    grad2 = (2 - 2 * torch.cos(2 * torch.pi * fx)) + (2 - 2 * torch.cos(2 * torch.pi * fy))
    if isinstance(reg, torch.Tensor) and reg.ndim:
        reg = reg.to(x.dtype).view(-1, 1, 1, 1)
    denom = otf.abs() ** 2 + reg * grad2
    est = torch.fft.irfft2(torch.fft.rfft2(x) * otf.conj() / denom, s=(hp, wp))
    return est[..., pad : pad + h, pad : pad + w]


def convolve_kernel(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Blur ``(B, C, H, W)`` with per-sample kernels ``(B, K, K)`` (or ``(B, N, K, K)`` ->
    ``(B, N, C, H, W)``), reflect-padded: the forward model of :func:`wiener_deconvolve`."""
    if kernel.ndim == 4:
        b, n = kernel.shape[:2]
        out = convolve_kernel(
            image.repeat_interleave(n, 0), kernel.reshape(b * n, *kernel.shape[-2:])
        )
        return out.view(b, n, *image.shape[1:])
    b, c, h, w = image.shape
    k = kernel.shape[-1]
    r = k // 2
    mode = "reflect" if r < min(h, w) else "replicate"
    x = F.pad(image, (r, r, r, r), mode=mode).reshape(1, b * c, h + 2 * r, w + 2 * r)
    weight = kernel.flip(-2, -1).repeat_interleave(c, 0)[:, None]  # conv2d correlates
    return F.conv2d(x, weight.to(x.dtype), groups=b * c).view(b, c, h, w)


# ----------------------------------------------------------------------------- experiment
def _psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return -10 * torch.log10(((a - b) ** 2).flatten(1).mean(1).clamp_min(1e-10))


def run(data_root: str, n: int, shake: dict, regs: list[float]) -> dict:
    from blurvid.data import ShakeConfig, find_split, item_generator, load_photos, render_shake
    from blurvid.data.base import _dequantize, _quantize
    from blurvid.model import linear_to_srgb, srgb_to_linear

    names = find_split().validation_photos  # the project's scripts/data_split.json
    pyrs = load_photos([Path(data_root) / "photos" / name for name in names])
    cfg = ShakeConfig(size=128, **shake)
    blurry, centre, paths = [], [], []
    for i in range(n):  # the validation set's synthetic samples: same photos, seeds, sprites
        sprite = pyrs[(i + 3) % 6] if i % 2 else None
        s = render_shake(pyrs[i % 6], cfg, item_generator(1234, i), sprite_photo=sprite, debug=True)
        tr = s["trajectory"].double()
        mid = tr.shape[0] // 2  # the centre instant t = 0.5 lies between sub-frames mid-1, mid
        paths.append((tr - (tr[mid - 1] + tr[mid]) / 2).float())
        blurry.append(s["blurry"])
        centre.append(s["frames"][cfg.num_frames // 2])
    b = _dequantize(_quantize(torch.stack(blurry)))
    c = _dequantize(_quantize(torch.stack(centre)))
    kernel = path_kernel(torch.stack(paths), 49)
    ident, ident_in = _psnr(b, c), _psnr(b[..., 24:-24, 24:-24], c[..., 24:-24, 24:-24])
    reblur = linear_to_srgb(convolve_kernel(srgb_to_linear(c), kernel))
    rows = []
    for reg in regs:
        x = linear_to_srgb(wiener_deconvolve(srgb_to_linear(b), kernel, reg))
        gain = _psnr(x, c) - ident
        gain_in = _psnr(x[..., 24:-24, 24:-24], c[..., 24:-24, 24:-24]) - ident_in
        rows.append({"reg": reg, "centre_gain_db": round(float(gain.mean()), 3),
                     "median_db": round(float(gain.median()), 3), "worst_db": round(float(gain.min()), 3),
                     "interior_gain_db": round(float(gain_in.mean()), 3)})  # fmt: skip
    return {"shake": shake, "samples": n, "identity_centre_psnr": round(float(ident.mean()), 3),
            "kernel_reblur_psnr": round(float(_psnr(reblur, b).mean()), 2), "rows": rows}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=str(default_data_dir(HERE.parent)))
    ap.add_argument("-n", type=int, default=64)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    regs = [1e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    result = {
        "command": "python experiments/deconv_ceiling.py",
        "validation_shake": run(args.data_root, args.n, {}, regs),
        "translation_only_no_noise": run(
            args.data_root,
            args.n,
            {"rotation_deg": 0.0, "zoom": 0.0, "sprites": (0, 0), "noise_sigma": 0.0},
            regs,
        ),  # fmt: skip
    }
    out = HERE / "results" / "deconv_ceiling.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    for key in ("validation_shake", "translation_only_no_noise"):
        r = result[key]
        print(f"{key}: identity centre {r['identity_centre_psnr']} dB, "
              f"re-blur with the true kernel {r['kernel_reblur_psnr']} dB")  # fmt: skip
        for row in r["rows"]:
            print("  ", row)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
