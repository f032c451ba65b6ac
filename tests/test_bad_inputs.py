"""A corpus of bad and odd inputs, each with its expected outcome.

Every row is run through :func:`blurvid.extract_frames` (tiny model). The outcome is either
an exception -- always a typed :class:`blurvid.InvalidImageError` with a message that says
what is wrong, never a deep torch/Pillow/numpy error -- or success with the shape of the
frames: ``(7, H, W)`` for the list of PIL images a path gives, the array/tensor shape else.
"""

from __future__ import annotations

import inspect
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from PIL import Image

from blurvid import InvalidImageError, extract_frames

pytestmark = pytest.mark.usefixtures("fast_cpu")

H, W = 20, 30


# --------------------------------------------------------------------------- makers
def _rgb(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _pil(h: int = H, w: int = W) -> Image.Image:
    return Image.fromarray(_rgb(h, w))


def _save(tmp: Path, name: str, img: Image.Image, **kw) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


def _bytes(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _truncated(tmp: Path, name: str, fmt: str) -> Path:
    full = _save(tmp, "full_" + name, _pil(64, 64), format=fmt)
    data = full.read_bytes()
    return _bytes(tmp, name, data[: len(data) // 2])


def _png_header_only(tmp: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims ``width x height`` pixels, with no real image data: opening
    it is cheap, decoding it would be a decompression bomb (or fail)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return _bytes(tmp, f"bomb_{width}x{height}.png", data)


def _exif_rotated(tmp: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated by 90 degrees
    return _save(tmp, "exif6.jpg", _pil(), exif=exif)


def _animated_gif(tmp: Path) -> Path:
    frames = [Image.fromarray(_rgb(seed=i)).convert("P") for i in range(3)]
    path = tmp / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    return path


def _rgb16_png(tmp: Path) -> Path:
    cv2 = pytest.importorskip("cv2")
    path = tmp / "rgb16.png"
    cv2.imwrite(str(path), (np.random.default_rng(0).random((H, W, 3)) * 65535).astype(np.uint16))
    return path


def _with_env(var: str, value: str, make: Callable[[Path], Any]) -> Callable[[Path, Any], Any]:
    def maker(tmp: Path, monkeypatch) -> Any:
        monkeypatch.setenv(var, value)
        return make(tmp)

    return maker


def _dangling_symlink(tmp: Path) -> Path:
    link = tmp / "link.png"
    link.symlink_to(tmp / "gone.png")
    return link


def _closed_pil(tmp: Path) -> Image.Image:
    img = Image.open(_save(tmp, "c.png", _pil()))
    img.close()
    return img


def _lazy_truncated_pil(tmp: Path) -> Image.Image:
    return Image.open(_truncated(tmp, "lazy.png", "PNG"))


# --------------------------------------------------------------------------- the table
@dataclass
class Case:
    id: str
    make: Callable[..., Any]  # (tmp_path) -> input, or (tmp_path, monkeypatch) -> input
    error: type | None = None  # expected exception type, or None for success
    match: str = ""  # fragment of the message (a regex)
    shape: tuple | None = None  # on success: the frames' shape
    dtype: Any = None  # on success: the frames' dtype (numpy / torch)
    warns: str | None = None  # a UserWarning expected on success
    mode: str = "RGB"  # on success with PIL frames: their mode (greyscale in, "L" out)


OK_PIL = (7, H, W)
OK_NP = (7, H, W, 3)
OK_T = (7, 3, H, W)
BAD = InvalidImageError

CASES = [
    # ---- files
    Case("empty-file", lambda t: _bytes(t, "empty.png", b""), BAD, "empty file"),
    Case("truncated-png", lambda t: _truncated(t, "half.png", "PNG"), BAD, "corrupt or truncated"),
    Case(
        "truncated-jpeg", lambda t: _truncated(t, "half.jpg", "JPEG"), BAD, "corrupt or truncated"
    ),
    Case(
        "text-named-png",
        lambda t: _bytes(t, "text.png", b"hello, I am text"),
        BAD,
        "not a readable image",
    ),
    Case(
        "png-signature-then-garbage",
        lambda t: _bytes(t, "sig.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
        BAD,
        "not a readable image|corrupt",
    ),
    Case(
        "npy-file",
        lambda t: (np.save(t / "a.npy", _rgb()), t / "a.npy")[1],
        BAD,
        "not a readable image",
    ),
    Case("directory", lambda t: t, BAD, "is a directory"),
    Case("missing-path", lambda t: t / "does-not-exist.png", BAD, "no such file"),
    Case("dangling-symlink", _dangling_symlink, BAD, "no such file"),
    Case(
        "unicode-and-spaces",
        lambda t: _save(t, "ünï cödé dir/my blurry ☃ photo.png", _pil()),
        shape=OK_PIL,
    ),
    Case("str-path", lambda t: str(_save(t, "s.png", _pil())), shape=OK_PIL),
    Case("1x1", lambda t: _save(t, "1x1.png", Image.new("RGB", (1, 1))), BAD, "at least 8x8"),
    Case(
        "7x3", lambda t: _save(t, "7x3.png", Image.new("RGB", (7, 3))), BAD, "7x3 pixels.*at least"
    ),
    Case("8x8-minimum", lambda t: _save(t, "8x8.png", _pil(8, 8)), shape=(7, 8, 8)),
    Case("thin-8x200", lambda t: _save(t, "thin.png", _pil(8, 200)), shape=(7, 8, 200)),
    Case(
        "bomb-header-50000x50000",
        lambda t: _png_header_only(t, 50000, 50000),
        BAD,
        "pixel limit|over the limit",
    ),
    Case(
        "bomb-header-11000x10000",
        lambda t: _png_header_only(t, 11000, 10000),
        BAD,
        "110,000,000 pixels, over the limit",
    ),
    Case(
        "over-BLURVID_MAX_PIXELS",
        _with_env("BLURVID_MAX_PIXELS", "500", lambda t: _save(t, "a.png", _pil())),
        BAD,
        "600 pixels, over the limit of 500",
    ),
    Case(
        "bad-BLURVID_MAX_PIXELS",
        _with_env("BLURVID_MAX_PIXELS", "lots", lambda t: _save(t, "a.png", _pil())),
        BAD,
        "BLURVID_MAX_PIXELS must be an integer",
    ),
    Case(
        "16-bit-gray-png",
        lambda t: _save(t, "g16.png", Image.fromarray(_rgb()[..., 0].astype(np.uint16) * 257)),
        shape=OK_PIL,
    ),
    Case("16-bit-rgb-png", _rgb16_png, shape=OK_PIL),
    Case("palette-png", lambda t: _save(t, "p.png", _pil().convert("P")), shape=OK_PIL),
    Case("rgba-png", lambda t: _save(t, "rgba.png", _pil().convert("RGBA")), shape=OK_PIL),
    Case("la-png", lambda t: _save(t, "la.png", _pil().convert("LA")), shape=OK_PIL, mode="L"),
    Case("gray-L-png", lambda t: _save(t, "l.png", _pil().convert("L")), shape=OK_PIL, mode="L"),
    Case("1-bit-png", lambda t: _save(t, "bw.png", _pil().convert("1")), shape=OK_PIL),
    Case("cmyk-jpeg", lambda t: _save(t, "cmyk.jpg", _pil().convert("CMYK")), shape=OK_PIL),
    Case("exif-rotated-jpeg", _exif_rotated, shape=(7, W, H)),
    Case("animated-gif", _animated_gif, shape=OK_PIL, warns="3 frames"),
    Case(
        "float-tiff",
        lambda t: _save(t, "f.tif", Image.fromarray(_rgb()[..., 0].astype(np.float32) / 255)),
        shape=OK_PIL,
    ),
    Case("bmp", lambda t: _save(t, "a.bmp", _pil()), shape=OK_PIL),
    Case("webp", lambda t: _save(t, "a.webp", _pil()), shape=OK_PIL),
    Case("png-named-jpg", lambda t: _save(t, "really_png.jpg", _pil(), format="PNG"), shape=OK_PIL),
    # ---- tensors
    Case("nan-tensor", lambda t: torch.full((3, H, W), float("nan")), BAD, "NaN"),
    Case(
        "inf-tensor",
        lambda t: torch.rand(3, H, W).index_fill_(1, torch.tensor([3]), float("inf")),
        BAD,
        "NaN or infinite",
    ),
    Case(
        "uint8-tensor",
        lambda t: torch.from_numpy(_rgb()).permute(2, 0, 1),
        BAD,
        "dtype torch.uint8.*255",
    ),
    Case(
        "int64-tensor", lambda t: torch.ones(3, H, W, dtype=torch.int64), BAD, "dtype torch.int64"
    ),
    Case("bool-tensor", lambda t: torch.ones(3, H, W, dtype=torch.bool), BAD, "dtype torch.bool"),
    Case(
        "complex-tensor",
        lambda t: torch.rand(3, H, W, dtype=torch.complex64),
        BAD,
        "dtype torch.complex64",
    ),
    Case("4-channels", lambda t: torch.rand(4, H, W), BAD, "3 RGB channels"),
    Case("1-channel", lambda t: torch.rand(1, H, W), BAD, "3 RGB channels.*grayscale"),
    Case("2-d-tensor", lambda t: torch.rand(H, W), BAD, "\\(3, H, W\\) or \\(B, 3, H, W\\)"),
    Case(
        "5-d-tensor", lambda t: torch.rand(1, 1, 3, H, W), BAD, "\\(3, H, W\\) or \\(B, 3, H, W\\)"
    ),
    Case("0-d-tensor", lambda t: torch.tensor(0.5), BAD, "\\(3, H, W\\)"),
    Case("channels-last-tensor", lambda t: torch.rand(H, W, 3), BAD, "channels-last"),
    Case("non-contiguous-tensor", lambda t: torch.rand(3, 2 * H, 2 * W)[:, ::2, ::2], shape=OK_T),
    Case("permuted-tensor", lambda t: torch.rand(H, W, 3).permute(2, 0, 1), shape=OK_T),
    Case("meta-tensor", lambda t: torch.empty(3, H, W, device="meta"), BAD, "'meta' device"),
    Case("sparse-tensor", lambda t: torch.rand(3, H, W).to_sparse(), BAD, "layout"),
    Case("empty-batch", lambda t: torch.rand(0, 3, H, W), BAD, "empty batch"),
    Case("too-small-tensor", lambda t: torch.rand(3, 4, 4), BAD, "at least"),
    Case("float16-tensor", lambda t: torch.rand(3, H, W).half(), shape=OK_T, dtype=torch.float16),
    Case(
        "bfloat16-tensor",
        lambda t: torch.rand(3, H, W).bfloat16(),
        shape=OK_T,
        dtype=torch.bfloat16,
    ),
    Case(
        "float64-batch",
        lambda t: torch.rand(2, 3, H, W, dtype=torch.float64),
        shape=(2, *OK_T),
        dtype=torch.float64,
    ),
    Case("negative-values", lambda t: torch.rand(3, H, W) - 0.5, BAD, "expected \\[0, 1\\]"),
    Case("0-255-floats", lambda t: torch.rand(3, H, W) * 255, BAD, "divide 8-bit data by 255"),
    Case("requires-grad-tensor", lambda t: torch.rand(3, H, W, requires_grad=True), shape=OK_T),
    # ---- numpy
    Case("numpy-channels-first", lambda t: _rgb().transpose(2, 0, 1).copy(), BAD, "channels-first"),
    Case(
        "numpy-float-out-of-range", lambda t: _rgb().astype(np.float32), BAD, "expected \\[0, 1\\]"
    ),
    Case(
        "numpy-float-negative",
        lambda t: -np.ones((H, W, 3), np.float32),
        BAD,
        "expected \\[0, 1\\]",
    ),
    Case("numpy-float-nan", lambda t: np.full((H, W, 3), np.nan, np.float32), BAD, "NaN"),
    Case("numpy-int64", lambda t: _rgb().astype(np.int64), BAD, "dtype int64 is not supported"),
    Case("numpy-bool", lambda t: np.ones((H, W, 3), bool), BAD, "dtype bool is not supported"),
    Case(
        "numpy-object",
        lambda t: np.empty((H, W, 3), dtype=object),
        BAD,
        "dtype object is not supported",
    ),
    Case("numpy-2-channels", lambda t: _rgb()[..., :2], BAD, "channels-last"),
    Case("numpy-1-d", lambda t: np.zeros(100, np.uint8), BAD, "numpy image must be"),
    Case("numpy-4-d-batch", lambda t: np.zeros((2, H, W, 3), np.uint8), BAD, "numpy image must be"),
    Case("numpy-too-small", lambda t: np.zeros((4, 4, 3), np.uint8), BAD, "at least"),
    Case(
        "numpy-over-pixel-limit",
        _with_env("BLURVID_MAX_PIXELS", "100", lambda t: np.zeros((H, W, 3), np.uint8)),
        BAD,
        "over the limit",
    ),
    Case("numpy-gray-2-d", lambda t: _rgb()[..., 0], shape=(7, H, W), dtype=np.uint8),
    Case("numpy-rgba", lambda t: np.dstack([_rgb(), np.full((H, W), 255, np.uint8)]), shape=OK_NP),
    Case("numpy-non-contiguous", lambda t: _rgb(2 * H, 2 * W)[::2, ::2], shape=OK_NP),
    Case("numpy-uint16", lambda t: _rgb().astype(np.uint16) * 257, shape=OK_NP, dtype=np.uint16),
    Case(
        "numpy-float16", lambda t: (_rgb() / 255).astype(np.float16), shape=OK_NP, dtype=np.float16
    ),
    Case("numpy-float64", lambda t: _rgb() / 255.0, shape=OK_NP, dtype=np.float64),
    # ---- PIL objects
    Case("pil-1x1", lambda t: Image.new("RGB", (1, 1)), BAD, "at least"),
    Case(
        "pil-I16", lambda t: Image.fromarray(_rgb()[..., 0].astype(np.uint16) * 257), shape=OK_PIL
    ),
    Case("pil-premultiplied-La", lambda t: _pil().convert("La"), shape=OK_PIL),
    Case("pil-closed", _closed_pil, BAD, "cannot be decoded"),
    Case("pil-lazy-truncated", _lazy_truncated_pil, BAD, "cannot be decoded"),
    # ---- not images at all
    Case("python-list", lambda t: _rgb().tolist(), BAD, "got list"),
    Case("none", lambda t: None, BAD, "got NoneType"),
    Case("bytes", lambda t: _save(t, "b.png", _pil()).read_bytes(), BAD, "got bytes"),
    Case("int", lambda t: 3, BAD, "got int"),
]


def frames_shape(out: Any) -> tuple:
    if isinstance(out, list):
        assert all(isinstance(f, Image.Image) and f.mode in ("RGB", "L") for f in out)
        w, h = out[0].size
        assert all(f.size == (w, h) for f in out)
        return (len(out), h, w)
    return tuple(out.shape)


def test_corpus_is_large_and_ids_are_unique():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert (
        sum(c.error is None for c in CASES) >= 15 and sum(c.error is not None for c in CASES) >= 25
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, monkeypatch, tiny_model):
    monkeypatch.delenv("BLURVID_MAX_PIXELS", raising=False)
    if len(inspect.signature(case.make).parameters) == 2:
        image = case.make(tmp_path, monkeypatch)
    else:
        image = case.make(tmp_path)

    if case.error is not None:
        with pytest.raises(case.error, match=case.match) as info:
            extract_frames(image, model=tiny_model)
        assert type(info.value) is case.error  # the typed error itself, not a subclass of it
        message = str(info.value)
        assert "\n" not in message and len(message) < 400  # one readable line for the CLI
        return

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = extract_frames(image, model=tiny_model)
    user_warnings = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if case.warns:
        assert any(case.warns in m for m in user_warnings), user_warnings
    else:
        assert user_warnings == []
    assert frames_shape(out) == case.shape
    if isinstance(out, list):
        assert {f.mode for f in out} == {case.mode}
    if case.dtype is not None:
        assert out.dtype == case.dtype
    if isinstance(out, torch.Tensor):
        assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out.float()).all()
    elif isinstance(out, np.ndarray) and out.dtype.kind == "f":
        assert out.min() >= 0 and out.max() <= 1


def test_errors_come_before_any_decoding(tmp_path, monkeypatch):
    """The pixel limit is checked on the header: the image data is never decoded."""
    called = []
    monkeypatch.setattr(Image.Image, "load", lambda self: called.append(1))
    for w, h in [(11000, 10000), (50000, 50000)]:
        with pytest.raises(InvalidImageError, match="limit"):
            extract_frames(_png_header_only(tmp_path, w, h))
    assert called == []


def test_errors_are_also_value_errors(tmp_path):
    with pytest.raises(ValueError):
        extract_frames(tmp_path / "missing.png")
    with pytest.raises(ValueError):
        extract_frames(torch.rand(3, 2, 2))
