"""Reading images and writing frames: files, PIL, numpy and torch, PNG/GIF/MP4.

Conventions: tensors are float RGB in [0, 1], ``(3, H, W)`` or ``(B, 3, H, W)``; numpy
images are channels-last ``(H, W, 3)`` (``uint8``, ``uint16`` or float in [0, 1]). EXIF
orientation is applied; grayscale, palette, CMYK and 16-bit files are converted to RGB; an
alpha channel is dropped. Every output file is written atomically (temporary file, then
``os.replace``), so an interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ._fs import atomic_path
from .checks import check_image_tensor, check_size, max_pixels
from .colour import rgb_to_luma
from .errors import ConfigError, InvalidImageError, OutputExistsError, require

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageInput",
    "atomic_output",
    "frames_to_pil",
    "list_images",
    "read_image",
    "save_gif",
    "save_mp4",
    "save_pngs",
    "to_batch",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray, torch.Tensor]


# ----------------------------------------------------------------------------- reading
def _pil_to_float_array(img: Image.Image, what: str) -> np.ndarray:
    """A decoded PIL image of any mode -> ``(H, W, 3)`` float32 in [0, 1]."""
    n_frames = int(getattr(img, "n_frames", 1))
    if n_frames > 1:
        warnings.warn(
            f"{what} has {n_frames} frames (animated); using the first one",
            UserWarning,
            stacklevel=4,
        )
        img.seek(0)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = _gray_to_unit(np.asarray(img, dtype=np.float32), img.mode, what)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode != "RGB":
        img = _convert_rgb(img, what)
    return np.asarray(img, dtype=np.float32) / 255.0


def _gray_to_unit(arr: np.ndarray, mode: str, what: str) -> np.ndarray:
    """One-channel 16-bit, 32-bit integer or float PIL data -> [0, 1], by the rule of
    ``docs/conventions.md``: ``"I;16"`` is 16-bit (/ 65535); a float ``"F"`` image already
    in [0, 1] is kept; otherwise whole numbers in 0..255 are 8-bit data (/ 255) and whole
    numbers in 0..65535 16-bit data (/ 65535). Anything else (negative, fractional values
    above 1, over 65535, NaN) is refused: no rule would read it right."""
    if not np.isfinite(arr).all():
        raise InvalidImageError(f"{what} (PIL mode {mode!r}) contains NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())  # never empty: check_size ran
    if mode.startswith("I;16"):
        if 0 < hi <= 255:
            warnings.warn(
                f"{what} is 16-bit but holds only values 0..{hi:.0f} of 65535, so it reads "
                f"as nearly black; if it holds 8-bit data, pass `np.asarray(img) / 255`",
                UserWarning,
                stacklevel=5,
            )
        return arr / np.float32(65535.0)
    if mode == "F" and lo >= 0.0 and hi <= 1.0:
        return arr
    if lo >= 0.0 and hi <= 65535.0 and bool((arr == np.round(arr)).all()):
        return arr / np.float32(255.0 if hi <= 255.0 else 65535.0)
    raise InvalidImageError(
        f"{what} (PIL mode {mode!r}) has values in [{lo:.4g}, {hi:.4g}]; blurvid reads float "
        f"images in [0, 1] and whole numbers in 0..255 or 0..65535: scale it to [0, 1] and "
        f"pass the array"
    )


def _convert_rgb(img: Image.Image, what: str) -> Image.Image:
    if img.mode == "P":
        return img.convert("RGBA").convert("RGB")
    try:
        return img.convert("RGB")
    except ValueError:
        pass
    try:  # e.g. premultiplied "La": Pillow converts it only to "LA"
        return img.convert("LA").convert("RGB")
    except ValueError:
        raise InvalidImageError(
            f"{what} has PIL mode {img.mode!r}, which cannot be converted to RGB; convert it "
            f"first, e.g. `img.convert('RGB')`"
        ) from None


_PILLOW_LIMIT_LOCK = threading.Lock()


def _is_rgb16_png(path: Path) -> bool:
    """True for a 16-bit-per-channel colour PNG (IHDR bit depth 16, colour type 2 or 6),
    which Pillow decodes at 8 bits per channel."""
    with open(path, "rb") as f:
        head = f.read(26)
    return (
        head[:8] == b"\x89PNG\r\n\x1a\n"
        and head[12:16] == b"IHDR"
        and head[24] == 16
        and head[25] in (2, 6)
    )


def _read_rgb16_png(path: Path) -> np.ndarray | None:
    """Decode a 16-bit colour PNG at full precision with OpenCV when it is installed
    (``(H, W, 3)`` float32 in [0, 1]); None without OpenCV (a warning says what is lost)."""
    try:
        import cv2
    except ImportError:
        warnings.warn(
            f"{path} is a 16-bit colour PNG; Pillow reads it at 8 bits per channel. Install "
            f"OpenCV (`pip install 'blurvid[flow]'`) to keep all 16 bits.",
            UserWarning,
            stacklevel=3,
        )
        return None
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    rgb = arr[..., 2::-1] if arr.shape[2] >= 3 else arr  # BGR(A) -> RGB, alpha dropped
    return np.ascontiguousarray(rgb, dtype=np.float32) / 65535.0


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """Read an image file as a ``(3, H, W)`` float32 tensor in [0, 1] (greyscale files are
    repeated over the three channels).

    Raises:
        InvalidImageError: missing path, a directory, an empty/corrupt/truncated file, a
            file that is not an image, too small, or over the pixel limit.
    """
    return _read_image(path)[0]


def _read_image(path: str | os.PathLike) -> tuple[torch.Tensor, str]:
    """:func:`read_image` and the PIL mode of the file (``"L"``, ``"RGB"``...)."""
    path = Path(path)
    if not path.exists():
        raise InvalidImageError(f"{path}: no such file")
    if path.is_dir():
        raise InvalidImageError(
            f"{path} is a directory; pass an image file (the CLI accepts folders)"
        )
    if path.stat().st_size == 0:
        raise InvalidImageError(f"{path} is an empty file")
    try:
        with warnings.catch_warnings(), _PILLOW_LIMIT_LOCK:
            # blurvid's own pixel limit (check_size, BLURVID_MAX_PIXELS) replaces Pillow's
            # warning, and Pillow's hard limit is raised to it so that it governs alone
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            if previous is not None:
                Image.MAX_IMAGE_PIXELS = max(previous, max_pixels())
            try:
                img = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
        with img:
            w, h, mode = *img.size, img.mode
            check_size(h, w, str(path))  # before decoding: decompression-bomb guard
            arr16 = _read_rgb16_png(path) if _is_rgb16_png(path) else None
            if arr16 is not None:
                arr = arr16
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    img.load()
                arr = _pil_to_float_array(img, str(path))
    except InvalidImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's hard limit, hit while opening
        raise InvalidImageError(
            f"{path} is over the pixel limit, a guard against decompression bombs ({exc}); "
            f"downscale it"
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImageError(f"{path} is not a readable image ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"{path} is corrupt or truncated ({exc})") from exc
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous(), mode


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


# ----------------------------------------------------------------------------- kinds
#: PIL modes given back as greyscale ("L") frames; every other mode gives "RGB" frames.
GREY_MODES = ("L", "LA")


@dataclass
class _Restore:
    """How to give frames back in the kind (and mode) of the input."""

    kind: str  # "pil", "numpy", "tensor"
    batched: bool = False
    dtype: Any = None
    device: Any = None
    grey: bool = False  # greyscale input: frames go back greyscale
    squeeze: bool = False  # numpy (H, W) input: frames (N, H, W), no channel axis

    def __call__(self, frames: torch.Tensor) -> Any:
        """``frames``: ``(B, N, 3, H, W)`` float in [0, 1]."""
        if self.kind == "tensor":
            out = frames.to(device=self.device, dtype=self.dtype)
            return out if self.batched else out[0]
        if self.kind == "numpy":
            return self._numpy(frames[0])
        return frames_to_pil(frames[0], mode="L" if self.grey else "RGB")

    def _numpy(self, frames: torch.Tensor) -> np.ndarray:
        """``(N, 3, H, W)`` -> ``(N, H, W, C)`` (or ``(N, H, W)``) of the input dtype, one
        frame at a time (no full-size float temporaries beside the result)."""
        n, _, h, w = frames.shape
        shape = (n, h, w) if self.squeeze else (n, h, w, 1 if self.grey else 3)
        out = np.empty(shape, dtype=self.dtype)
        scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(self.dtype))
        for i in range(n):
            f = rgb_to_luma(frames[i]) if self.grey else frames[i]
            a = f.permute(1, 2, 0).float().cpu().numpy()  # (H, W, C)
            a = a[..., 0] if self.squeeze else a
            out[i] = a * scale + 0.5 if scale is not None else a
        return out


def _numpy_to_tensor(arr: np.ndarray) -> tuple[torch.Tensor, Any]:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise InvalidImageError(
            f"numpy image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {arr.shape}"
        )
    if arr.shape[-1] not in (1, 3, 4):
        hint = (
            " (it looks channels-first: use np.moveaxis(a, 0, -1))"
            if arr.shape[0] in (1, 3, 4)
            else ""
        )
        raise InvalidImageError(
            f"numpy image must be channels-last (H, W, 3), got shape {arr.shape}{hint}"
        )
    check_size(int(arr.shape[0]), int(arr.shape[1]), "numpy image")  # before any conversion
    dtype = arr.dtype
    if dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif dtype == np.uint16:
        x = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(dtype, np.floating):
        x = arr.astype(np.float32)
        if not np.isfinite(x).all():
            raise InvalidImageError("numpy image contains NaN or infinite values")
        if x.size and (x.min() < 0 or x.max() > 1):
            raise InvalidImageError(
                f"float numpy image values span [{x.min():.4g}, {x.max():.4g}]; expected [0, 1] "
                f"(divide 8-bit data by 255)"
            )
    else:
        raise InvalidImageError(
            f"numpy image dtype {dtype} is not supported: use uint8, uint16 or float in [0, 1]"
        )
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=2)
    x = x[..., :3]
    return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1), dtype


def to_batch(image: ImageInput) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any]]:
    """Normalise any accepted image to ``(B, 3, H, W)`` float32 and a function giving
    frames ``(B, N, 3, H, W)`` back in the input's kind and mode (list of PIL images, "L"
    for a greyscale image or file and "RGB" otherwise; numpy ``(N, H, W, 3)`` of the input
    dtype, ``(N, H, W)`` for an ``(H, W)`` array and ``(N, H, W, 1)`` for ``(H, W, 1)``;
    or a tensor ``(..., N, 3, H, W)``). Greyscale frames are the luma of the model's RGB
    frames (ITU-R 601-2, as Pillow's ``convert("L")``)."""
    if isinstance(image, torch.Tensor):
        x = check_image_tensor(image)
        restore = _Restore(
            "tensor", batched=image.ndim == 4, dtype=image.dtype, device=image.device
        )
        return x.float().contiguous(), restore
    if isinstance(image, np.ndarray):
        x, dtype = _numpy_to_tensor(image)
        grey = image.ndim == 2 or image.shape[-1] == 1
        return x.unsqueeze(0), _Restore("numpy", dtype=dtype, grey=grey, squeeze=image.ndim == 2)
    if isinstance(image, Image.Image):
        w, h = image.size
        check_size(h, w, "PIL image")
        try:
            arr = _pil_to_float_array(image, "PIL image")
        except InvalidImageError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:  # closed, truncated, undecodable
            raise InvalidImageError(f"PIL image cannot be decoded ({exc})") from exc
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).unsqueeze(0)
        return x, _Restore("pil", grey=image.mode in GREY_MODES)
    if isinstance(image, (str, os.PathLike)):
        x, mode = _read_image(image)
        return x.unsqueeze(0), _Restore("pil", grey=mode in GREY_MODES)
    raise InvalidImageError(
        f"image must be a path, PIL image, numpy array or torch tensor, got {type(image).__name__}"
    )


# ----------------------------------------------------------------------------- writing
def frames_to_pil(frames: torch.Tensor, mode: str = "RGB") -> list[Image.Image]:
    """``(N, 3, H, W)`` float in [0, 1] -> list of PIL images of ``mode`` ("RGB" or "L",
    the luma), converted one frame at a time (no full-size temporaries)."""
    if mode not in ("RGB", "L"):
        raise InvalidImageError(f"frames_to_pil gives 'RGB' or 'L' images, got mode {mode!r}")
    images = []
    for f in frames.detach():
        f = f.float().clamp(0, 1)
        f = rgb_to_luma(f)[0, ..., None] if mode == "L" else f.permute(1, 2, 0)
        a = (f.cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
        images.append(Image.fromarray(a[..., 0] if mode == "L" else a))  # "L" / "RGB"
    return images


def _as_pil_list(frames: torch.Tensor | Sequence[Image.Image]) -> list[Image.Image]:
    if isinstance(frames, torch.Tensor):
        if frames.ndim != 4:
            raise InvalidImageError(f"frames must be (N, 3, H, W), got {tuple(frames.shape)}")
        images = frames_to_pil(frames)
    else:
        images = [f.convert("RGB") for f in frames]
    if not images:
        raise InvalidImageError("no frames to write")
    return images


@contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists already; pass overwrite=True (CLI: --overwrite)")
    with atomic_path(path) as tmp:
        yield tmp


#: Frame rates accepted for GIF/MP4 (a GIF frame lasts at most 655 s, at least 20 ms).
MIN_FPS, MAX_FPS = 0.01, 1000.0


def _check_fps(fps: float, name: str = "fps") -> float:
    try:
        value = float(fps)
    except (TypeError, ValueError, OverflowError):
        value = float("nan")
    if isinstance(fps, bool) or not MIN_FPS <= value <= MAX_FPS:  # NaN fails too
        raise ConfigError(
            f"{name} must be a positive number from {MIN_FPS:g} to {MAX_FPS:g}, got {fps!r}"
        )
    return value


def _loop(frames: list[Image.Image], boomerang: bool) -> list[Image.Image]:
    return frames + frames[-2:0:-1] if boomerang and len(frames) > 2 else frames


def save_pngs(
    frames: torch.Tensor | Sequence[Image.Image],
    folder: str | os.PathLike,
    prefix: str = "frame",
    overwrite: bool = False,
) -> list[Path]:
    """Write ``prefix_000.png ...`` into ``folder``; returns the paths."""
    images = _as_pil_list(frames)
    digits = max(3, len(str(len(images) - 1)))
    paths = []
    for i, img in enumerate(images):
        p = Path(folder) / f"{prefix}_{i:0{digits}d}.png"
        with atomic_output(p, overwrite) as tmp:
            img.save(tmp, format="PNG")
        paths.append(p)
    return paths


def save_gif(
    frames: torch.Tensor | Sequence[Image.Image],
    path: str | os.PathLike,
    fps: float = 10.0,
    boomerang: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write an endlessly looping animated GIF (Pillow). ``boomerang`` plays forward then back."""
    duration = max(20, int(round(1000.0 / _check_fps(fps))))
    images = _loop(_as_pil_list(frames), boomerang)
    with atomic_output(path, overwrite) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0
        )
    return Path(path)


def save_mp4(
    frames: torch.Tensor | Sequence[Image.Image],
    path: str | os.PathLike,
    fps: float = 24.0,
    boomerang: bool = False,
    overwrite: bool = False,
    crf: int = 18,
) -> Path:
    """Write an H.264 MP4 with PyAV (``pip install 'blurvid[video]'``); odd sizes are padded
    by one pixel (yuv420p needs even dimensions)."""
    fps = _check_fps(fps)
    av = require("av", "video", "writing MP4 files")
    from fractions import Fraction

    images = _loop(_as_pil_list(frames), boomerang)
    w, h = images[0].size
    ew, eh = w + (w % 2), h + (h % 2)
    with atomic_output(path, overwrite) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = ew, eh, "yuv420p"
            stream.options = {"crf": str(crf)}
            for img in images:
                if (ew, eh) != (w, h):
                    img = _pad_even(img, ew, eh)
                frame = av.VideoFrame.from_image(img)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return Path(path)


def _pad_even(img: Image.Image, w: int, h: int) -> Image.Image:
    arr = np.asarray(img)
    arr = np.pad(arr, ((0, h - arr.shape[0]), (0, w - arr.shape[1]), (0, 0)), mode="edge")
    return Image.fromarray(arr, "RGB")
