"""Camera realism: how a camera turns the light of an exposure into the blurry photo.

A synthetic blurry image is the average of sharp sub-frames (the exposure, Sec. 4.1 of the
paper; :mod:`blurvid.data.shake`). A real camera adds more between the scene and the file, and
a network trained without it deblurs real photos much worse (Rim et al., "Realistic Blur
Synthesis for Learning Image Deblurring", ECCV 2022, "RSBlur": +1.57 dB on real blur from
noise, +0.78 dB from the camera's tone curve instead of plain linear light, +0.06 dB from
saturated highlights). :func:`expose` applies these steps, each switched by
:class:`CameraConfig` and drawn per sample from the sample's generator:

1. **Highlights** (``highlights``): scene radiance above ``highlight_threshold`` (linear) is
   raised by a gain in ``highlight_gain``, so light sources exceed the sensor's range.
2. **Exposure average** in linear light, then **clipping** at 1: a saturated light that moves
   leaves a saturated streak, not a dimmed one (``clip(mean(x))``, not ``mean(clip(x))``).
3. **Signal-dependent noise** (``noise="poisson-gaussian"``): ``y = x + sqrt(a x + b) n`` in
   linear light, shot-noise ``a`` log-uniform in ``shot_noise`` and read noise ``b`` tied to it
   as in Brooks et al., "Unprocessing Images for Learned Raw Denoising" (CVPR 2019):
   ``log b = 2.18 log a + 1.20 + N(0, 0.26^2)``. ``noise="gaussian"`` keeps the plain sRGB
   Gaussian noise of ``ShakeConfig.noise_sigma`` (the behaviour before this module).
4. **Tone curve** (``tone``): with this probability a random camera response replaces plain
   sRGB: a gamma ``x ** (1 / g)``, ``g`` in ``gamma``, blended with a smoothstep S-curve by a
   weight in ``[0, contrast]``. The sharp targets go through the same curve (they are what the
   same camera would record with a short exposure).
5. **JPEG** (``jpeg_prob``): the blurry input is re-encoded with a quality in ``jpeg_quality``
   (Pillow, on the CPU).

The sharp targets stay clean: no noise, no JPEG. With :meth:`CameraConfig.off` (the default of
every synthetic source) the result is bit-identical to the plain pipeline: ``srgb(mean)`` plus
the Gaussian noise. ``expose`` returns the drawn parameters so a sample can record them.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from typing import Any

import numpy as np
import torch

from ..colour import linear_to_srgb
from ..errors import ConfigError
from .base import _quantize, _rand, _randint

__all__ = [
    "CAMERA_STEPS",
    "CameraConfig",
    "CameraDraws",
    "check_batchable",
    "develop_batch",
    "draw_camera_batch",
    "expose",
    "jpeg",
    "tone_curve",
]

#: The realism steps :meth:`CameraConfig.parse` knows, in the order they act.
CAMERA_STEPS = ("highlights", "noise", "tone", "jpeg")


@dataclass(frozen=True)
class CameraConfig:
    """Which camera-realism steps :func:`expose` applies, and their ranges.

    Attributes:
        highlights: Probability that a sample's bright scene parts are raised above 1.
        highlight_threshold: Linear radiance above which the scene is raised.
        highlight_gain: (min, max) gain of the excess above the threshold (a gain ``g``
            maps ``x`` to ``t + g (x - t)``; at ``x = 1`` that is ``1 + (g - 1)(1 - t)``).
        noise: ``"gaussian"`` (sRGB Gaussian noise of the source's ``noise_sigma``) or
            ``"poisson-gaussian"`` (signal-dependent, linear light; see the module).
        shot_noise: (min, max) of the shot-noise variance per unit of signal ``a``
            (log-uniform); 1e-4 is a bright daylight photo, 1.2e-2 a phone in dim light.
        tone: Probability of a random tone curve instead of plain sRGB.
        gamma: (min, max) of the random curve's gamma.
        contrast: Largest weight of the smoothstep S-curve in the random curve.
        jpeg_prob: Probability that the blurry input is re-encoded as JPEG.
        jpeg_quality: (min, max) JPEG quality.
    """

    highlights: float = 0.0
    highlight_threshold: float = 0.8
    highlight_gain: tuple[float, float] = (2.0, 8.0)
    noise: str = "gaussian"
    shot_noise: tuple[float, float] = (1e-4, 1.2e-2)
    tone: float = 0.0
    gamma: tuple[float, float] = (1.8, 2.6)
    contrast: float = 1.0
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (60, 95)

    def __post_init__(self) -> None:
        for name in ("highlights", "tone", "jpeg_prob"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"CameraConfig.{name} is a probability in [0, 1], got {p}")
        if self.noise not in ("gaussian", "poisson-gaussian"):
            raise ConfigError(
                f"CameraConfig.noise must be 'gaussian' or 'poisson-gaussian', got {self.noise!r}"
            )
        for name, lo_min in (
            ("highlight_gain", 1.0),
            ("shot_noise", 1e-12),
            ("gamma", 0.1),
            ("jpeg_quality", 1),
        ):
            lo, hi = getattr(self, name)
            if not lo_min <= lo <= hi:
                raise ConfigError(
                    f"CameraConfig.{name} must be (min, max) with {lo_min} <= min <= max, "
                    f"got {(lo, hi)}"
                )
        if self.jpeg_quality[1] > 100:
            raise ConfigError(f"CameraConfig.jpeg_quality must be <= 100, got {self.jpeg_quality}")
        if not 0.0 < self.highlight_threshold < 1.0:
            raise ConfigError("CameraConfig.highlight_threshold must be in (0, 1)")
        if not 0.0 <= self.contrast <= 1.0:
            raise ConfigError("CameraConfig.contrast must be in [0, 1]")

    @classmethod
    def off(cls) -> CameraConfig:
        """No realism step: plain sRGB of the linear average plus Gaussian noise."""
        return cls()

    @classmethod
    def realistic(cls) -> CameraConfig:
        """Every step on: highlights on a quarter of the samples, Poisson-Gaussian noise, a
        random tone curve on half of them, JPEG on half of them."""
        return cls(highlights=0.25, noise="poisson-gaussian", tone=0.5, jpeg_prob=0.5)

    @classmethod
    def parse(cls, text: str | CameraConfig | None) -> CameraConfig:
        """A config from a short string: ``"off"``, ``"all"`` (:meth:`realistic`) or steps
        joined by ``+`` or ``,`` (``"noise+tone"``) taken from :meth:`realistic`.

        Raises:
            ConfigError: An unknown step name.
        """
        if isinstance(text, CameraConfig):
            return text
        if text is None or text.strip().lower() in ("", "off", "none"):
            return cls.off()
        name = text.strip().lower()
        if name in ("all", "realistic", "on"):
            return cls.realistic()
        steps = [s.strip() for s in name.replace(",", "+").split("+") if s.strip()]
        unknown = [s for s in steps if s not in CAMERA_STEPS]
        if unknown:
            raise ConfigError(
                f"unknown camera realism step {unknown[0]!r} in {text!r}: use 'off', 'all' or "
                f"steps joined by '+' from {', '.join(CAMERA_STEPS)}"
            )
        full, off = cls.realistic(), cls.off()
        fields = {
            "highlights": ("highlights",),
            "noise": ("noise",),
            "tone": ("tone",),
            "jpeg": ("jpeg_prob",),
        }
        changes = {f: getattr(full, f) for s in steps for f in fields[s]}
        return replace(off, **changes)

    def describe(self) -> str:
        """The inverse of :meth:`parse` for the presets (``"off"``, ``"all"``, ``"noise+tone"``),
        else every field (what a bank's metadata records)."""
        if self == CameraConfig.off():
            return "off"
        if self == CameraConfig.realistic():
            return "all"
        for k in range(1, len(CAMERA_STEPS)):
            for combo in combinations(CAMERA_STEPS, k):
                if CameraConfig.parse("+".join(combo)) == self:
                    return "+".join(combo)
        return ";".join(f"{k}={v}" for k, v in asdict(self).items())

    @property
    def is_off(self) -> bool:
        """True when :func:`expose` is the plain pipeline."""
        return self == CameraConfig.off()


# ----------------------------------------------------------------------------- steps
def tone_curve(
    x: torch.Tensor, gamma: float | torch.Tensor, contrast: float | torch.Tensor
) -> torch.Tensor:
    """A camera response on linear light in [0, 1]: ``x ** (1 / gamma)`` blended with its
    smoothstep by ``contrast`` (0: a plain gamma curve). Monotonic, 0 -> 0, 1 -> 1."""
    g = x.clamp(0.0, 1.0) ** (1.0 / gamma)
    return g + contrast * (g * g * (3.0 - 2.0 * g) - g)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """``(3, h, w)`` float in [0, 1] through a JPEG round trip of ``quality`` (Pillow, CPU);
    the result is on ``x``'s device."""
    from PIL import Image

    arr = _quantize(x.detach().cpu()).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        out = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(out.copy()).permute(2, 0, 1).contiguous().to(x.device)


def _log_uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return math.exp(_rand(gen, math.log(lo), math.log(hi)))


def _raise_highlights(
    x: torch.Tensor, threshold: float, gain: float | torch.Tensor
) -> torch.Tensor:
    """Step 1: radiance above ``threshold`` raised by ``gain`` (``t + g (x - t)``)."""
    return torch.where(x > threshold, threshold + gain * (x - threshold), x)


def _log_read_noise(log_shot, z):
    """Step 3's read-noise variance tied to the shot noise (Brooks et al. 2019):
    ``log b = 2.18 log a + 1.20 + 0.26 z`` with ``z ~ N(0, 1)`` (floats or tensors)."""
    return 2.18 * log_shot + 1.20 + 0.26 * z


def _signal_noise(x: torch.Tensor, a, b, n: torch.Tensor) -> torch.Tensor:
    """Step 3: ``x + sqrt(a x + b) n``, clipped to [0, 1]."""
    return (x + torch.sqrt(a * x + b) * n).clamp(0.0, 1.0)


def expose(
    subframes: torch.Tensor,
    targets: torch.Tensor,
    gen: torch.Generator,
    camera: CameraConfig | None = None,
    noise_sigma: float = 0.0,
    linear_light: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Turn an exposure into the blurry photo and its sharp frames (module docstring).

    Args:
        subframes: ``(N, 3, h, w)`` the scene over the exposure (linear light when
            ``linear_light``, else sRGB), averaged into the blurry image.
        targets: ``(F, 3, h, w)`` the sharp frames in the same space.
        gen: CPU generator of the random draws (after the scene's own draws).
        camera: The realism steps (``None``: :meth:`CameraConfig.off`).
        noise_sigma: Largest sigma of the sRGB Gaussian noise (``camera.noise == "gaussian"``).
        linear_light: Whether the inputs are linear light. The realism steps act on linear
            light; with ``False`` only the sRGB average and the Gaussian noise apply.

    Returns:
        ``(blurry (3, h, w), frames (F, 3, h, w), params)``, float32 in [0, 1] on the inputs'
        device; ``params`` holds the drawn values (``noise_sigma``, and for the realism steps
        that ran ``highlight_gain``, ``shot_noise``, ``read_noise``, ``gamma``, ``contrast``,
        ``jpeg_quality``).

    Raises:
        ConfigError: Realism steps requested on sRGB (``linear_light=False``) inputs.
    """
    cam = camera if camera is not None else CameraConfig.off()
    params: dict[str, Any] = {}
    if cam.is_off or not linear_light:
        if not cam.is_off:
            raise ConfigError("camera realism needs linear light (linear_light=True)")
        to_srgb = linear_to_srgb if linear_light else (lambda x: x.clamp(0.0, 1.0))
        blurry = to_srgb(subframes.mean(0))
        frames = to_srgb(targets)
        return _gaussian(blurry, frames, gen, noise_sigma, params)

    # 1. highlights: the scene's bright parts above the sensor's range
    if cam.highlights > 0 and _rand(gen) < cam.highlights:
        gain = _rand(gen, *cam.highlight_gain)
        t = cam.highlight_threshold
        subframes = _raise_highlights(subframes, t, gain)
        targets = _raise_highlights(targets, t, gain)
        params["highlight_gain"] = gain
    # 2. the exposure average, then the sensor clips
    blur_lin = subframes.mean(0).clamp(0.0, 1.0)
    targets = targets.clamp(0.0, 1.0)
    # 3. signal-dependent noise in linear light
    if cam.noise == "poisson-gaussian":
        a = _log_uniform(gen, *cam.shot_noise)
        b = math.exp(_log_read_noise(math.log(a), float(torch.randn((), generator=gen))))
        n = torch.randn(blur_lin.shape, generator=gen, dtype=torch.float32).to(blur_lin.device)
        blur_lin = _signal_noise(blur_lin, a, b, n)
        params["shot_noise"], params["read_noise"] = a, b
    # 4. the camera's tone curve, the same for the blurry photo and the sharp frames
    if cam.tone > 0 and _rand(gen) < cam.tone:
        gamma, contrast = _rand(gen, *cam.gamma), _rand(gen, 0.0, cam.contrast)
        blurry, frames = tone_curve(blur_lin, gamma, contrast), tone_curve(targets, gamma, contrast)
        params["gamma"], params["contrast"] = gamma, contrast
    else:
        blurry, frames = linear_to_srgb(blur_lin), linear_to_srgb(targets)
    if cam.noise == "gaussian":
        blurry, frames, params = _gaussian(blurry, frames, gen, noise_sigma, params)
    # 5. JPEG of the blurry input only
    if cam.jpeg_prob > 0 and _rand(gen) < cam.jpeg_prob:
        q = _randint(gen, *cam.jpeg_quality)
        blurry = jpeg(blurry, q)
        params["jpeg_quality"] = q
    return blurry, frames, params


def _gaussian(
    blurry: torch.Tensor,
    frames: torch.Tensor,
    gen: torch.Generator,
    noise_sigma: float,
    params: dict[str, Any],
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """sRGB Gaussian noise of sigma ``U(0, noise_sigma)`` on the blurry image."""
    sigma = _rand(gen, 0.0, noise_sigma)
    if sigma > 0:
        noise = torch.randn(tuple(blurry.shape), generator=gen, dtype=torch.float32)
        blurry = (blurry + sigma * noise.to(blurry.device)).clamp(0.0, 1.0)
    params["noise_sigma"] = sigma
    return blurry, frames, params


# ----------------------------------------------------------------------------- batches
@dataclass
class CameraDraws:
    """Per-sample draws of :func:`expose`'s steps for a batch (:func:`draw_camera_batch`),
    ``(B,)`` tensors on the batch's device; a step that is off is ``None``."""

    sigma: torch.Tensor
    gain: torch.Tensor | None = None
    shot: torch.Tensor | None = None
    read: torch.Tensor | None = None
    tone: torch.Tensor | None = None
    gamma: torch.Tensor | None = None
    contrast: torch.Tensor | None = None

    def light(self, x: torch.Tensor, camera: CameraConfig) -> torch.Tensor:
        """Step 1 on scene radiance ``x (B, ...)`` (a gain of 1 where a sample has none)."""
        if self.gain is None:
            return x
        g = self.gain.reshape(-1, *([1] * (x.ndim - 1)))
        return _raise_highlights(x, camera.highlight_threshold, g)


def _uniform(gen: torch.Generator, n: int, lo, hi, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device, dtype=torch.float64)


def check_batchable(camera: CameraConfig | str | None) -> CameraConfig:
    """``camera`` parsed, if its steps can run in a batch on a device (all but JPEG).

    Raises:
        ConfigError: JPEG requested (Pillow runs on the CPU only).
    """
    cam = CameraConfig.parse(camera)
    if cam.jpeg_prob > 0:
        raise ConfigError(
            "camera realism's JPEG step runs on the CPU (Pillow) and cannot run in a batch on "
            "the device: drop 'jpeg' (e.g. camera 'highlights+noise+tone') or use the worker "
            "data path"
        )
    return cam


def draw_camera_batch(
    camera: CameraConfig | None,
    noise_sigma: float,
    n: int,
    gen: torch.Generator,
    device: torch.device,
) -> CameraDraws:
    """:func:`expose`'s random draws for ``n`` samples at once, from a generator on ``device``
    (the same distributions, drawn as tensors: no per-sample Python, no host sync).

    Raises:
        ConfigError: JPEG requested (Pillow runs on the CPU only: use the worker path, or the
            other steps, e.g. ``"highlights+noise+tone"``).
    """
    cam = check_batchable(camera)
    u = lambda lo, hi: _uniform(gen, n, lo, hi, device)  # noqa: E731
    draws = CameraDraws(sigma=u(0.0, noise_sigma if cam.noise == "gaussian" else 0.0))
    if cam.is_off:
        return draws
    if cam.highlights > 0:
        on = u(0.0, 1.0) < cam.highlights
        draws.gain = torch.where(on, u(*cam.highlight_gain), torch.ones_like(draws.sigma))
    if cam.noise == "poisson-gaussian":
        log_a = u(math.log(cam.shot_noise[0]), math.log(cam.shot_noise[1]))
        z = torch.randn(n, generator=gen, device=device, dtype=torch.float64)
        draws.shot, draws.read = torch.exp(log_a), torch.exp(_log_read_noise(log_a, z))
    if cam.tone > 0:
        draws.tone = u(0.0, 1.0) < cam.tone
        draws.gamma, draws.contrast = u(*cam.gamma), u(0.0, cam.contrast)
    return draws


def develop_batch(
    blur_lin: torch.Tensor,
    targets: torch.Tensor,
    draws: CameraDraws,
    camera: CameraConfig | None,
    gen: torch.Generator,
    linear_light: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 2-4 of :func:`expose` for a batch: ``blur_lin (B, 3, h, w)`` the exposure's mean
    (after :meth:`CameraDraws.light`), ``targets (B, F, 3, h, w)`` the sharp frames, both in
    linear light (sRGB when not ``linear_light``). Returns ``(blurry, frames)`` float32 in [0, 1]."""
    cam = camera if camera is not None else CameraConfig.off()
    col = lambda v: v.float().reshape(-1, 1, 1, 1)  # noqa: E731  (B,) -> (B, 1, 1, 1)
    if cam.is_off or not linear_light:
        to_srgb = linear_to_srgb if linear_light else (lambda x: x.clamp(0.0, 1.0))
        blurry, frames = to_srgb(blur_lin), to_srgb(targets)
    else:
        blur_lin, targets = blur_lin.clamp(0.0, 1.0), targets.clamp(0.0, 1.0)
        if draws.shot is not None and draws.read is not None:
            n = torch.randn(blur_lin.shape, generator=gen, device=blur_lin.device)
            blur_lin = _signal_noise(blur_lin, col(draws.shot), col(draws.read), n)
        blurry, frames = linear_to_srgb(blur_lin), linear_to_srgb(targets)
        if draws.tone is not None and draws.gamma is not None and draws.contrast is not None:
            g, c, on = col(draws.gamma), col(draws.contrast), col(draws.tone).bool()
            blurry = torch.where(on, tone_curve(blur_lin, g, c), blurry)
            frames = torch.where(on[:, None], tone_curve(targets, g[:, None], c[:, None]), frames)
    if cam.noise == "gaussian":
        noise = torch.randn(blurry.shape, generator=gen, device=blurry.device)
        blurry = (blurry + col(draws.sigma) * noise).clamp(0.0, 1.0)
    return blurry.float(), frames.float()
