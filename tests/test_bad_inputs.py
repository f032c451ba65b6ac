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

from blurvid import (
    ConfigError,
    DataError,
    FrameExtractor,
    InvalidImageError,
    WeightsError,
    extract_frames,
    interpolate_recursive,
    load_model,
)
from blurvid.io import to_batch

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


# ---- one-channel float / 32-bit images (round 2: they were clipped to [0, 1], i.e. white)
GRAY = np.random.default_rng(3).integers(0, 256, (H, W)).astype(np.float32)  # whole 0..255


def _f(values) -> Image.Image:
    arr = np.full((H, W), 0.5, np.float32)
    arr.flat[: len(values)] = values
    return Image.fromarray(arr)


def _i(values) -> Image.Image:
    arr = np.full((H, W), 7, np.int32)
    arr.flat[: len(values)] = values
    return Image.fromarray(arr)


CASES += [
    Case("pil-F-0..255", lambda t: Image.fromarray(GRAY), shape=OK_PIL),
    Case("pil-F-0..65535", lambda t: Image.fromarray(GRAY * 257), shape=OK_PIL),
    Case("pil-F-fraction-over-1", lambda t: _f([1.5]), BAD, "values in \\[0.5, 1.5\\].*scale"),
    Case("pil-F-negative", lambda t: _f([-0.25]), BAD, "values in \\[-0.25, 0.5\\]"),
    Case("pil-F-over-65535", lambda t: _f([70000.0]), BAD, "0..255 or 0..65535"),
    Case("pil-F-nan", lambda t: _f([np.nan]), BAD, "PIL mode 'F'.*NaN"),
    Case("pil-F-inf", lambda t: _f([np.inf]), BAD, "NaN or infinite"),
    Case("pil-I-0..255", lambda t: Image.fromarray(GRAY.astype(np.int32)), shape=OK_PIL),
    Case("pil-I-negative", lambda t: _i([-1]), BAD, "PIL mode 'I'.*\\[-1, 7\\]"),
    Case("pil-I-over-65535", lambda t: _i([2**20]), BAD, "PIL mode 'I'"),
    Case(
        "pil-I16-8-bit-values",
        lambda t: Image.fromarray(GRAY.astype(np.uint16)),
        shape=OK_PIL,
        warns="only values 0..255",
    ),
    Case("float-tiff-0..255", lambda t: _save(t, "f255.tif", Image.fromarray(GRAY)), shape=OK_PIL),
    Case("float-tiff-negative", lambda t: _save(t, "fneg.tif", _f([-3.0])), BAD, "scale it"),
    Case("float-tiff-nan", lambda t: _save(t, "fnan.tif", _f([np.nan])), BAD, "NaN"),
    Case(
        "int32-tiff-0..65535",
        lambda t: _save(t, "i.tif", Image.fromarray(GRAY.astype(np.int32) * 257)),
        shape=OK_PIL,
    ),
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


# =========================================================================== round 2 (issue 18)
# The classes of an independent corpus that still gave a traceback, a hang or a silent wrong
# answer: one-channel float/32-bit images, untrusted weights and configs, arguments checked
# in one entry point but not its twin, and CLI paths and numbers.


def table(rows: list[tuple]) -> dict[str, list]:
    """``argvalues`` and ``ids`` for ``pytest.mark.parametrize`` from rows ``(id, *values)``."""
    return {"argvalues": [row[1:] for row in rows], "ids": [row[0] for row in rows]}


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and 0 < len(message) < 400, message
    return message


# --------------------------------------------------------------------------- 1. image ranges


@pytest.mark.parametrize(
    "make, expected",
    [
        pytest.param(lambda: Image.fromarray(GRAY), GRAY / 255, id="F-0..255-whole"),
        pytest.param(lambda: Image.fromarray(GRAY / 255), GRAY / 255, id="F-0..1"),
        pytest.param(lambda: Image.fromarray(GRAY * 257), GRAY / 255, id="F-0..65535-whole"),
        pytest.param(
            lambda: Image.fromarray((GRAY > 127).astype(np.float32)),
            (GRAY > 127) * 1.0,
            id="F-binary-0/1",
        ),  # fmt: skip
        pytest.param(lambda: Image.fromarray(GRAY.astype(np.int32)), GRAY / 255, id="I-0..255"),
        pytest.param(
            lambda: Image.fromarray(GRAY.astype(np.int32) * 257), GRAY / 255, id="I-0..65535"
        ),
        pytest.param(
            lambda: Image.fromarray(GRAY.astype(np.uint16) * 257), GRAY / 255, id="I;16-full"
        ),
    ],
)
def test_one_channel_images_are_scaled_by_the_documented_rule(make, expected):
    """Not clipped to [0, 1] (which made a 0..255 float image white): scaled as
    docs/conventions.md says, to the value."""
    x, _ = to_batch(make())
    assert x.shape == (1, 3, H, W)
    np.testing.assert_allclose(x[0, 0].numpy(), expected, atol=1e-6)
    assert torch.equal(x[0, 0], x[0, 2])


def test_float_tiff_file_with_0_255_values_is_not_white(tmp_path):
    path = _save(tmp_path, "f255.tif", Image.fromarray(GRAY))
    x = to_batch(path)[0][0, 0].numpy()
    np.testing.assert_allclose(x, GRAY / 255, atol=1e-6)
    assert 0.3 < x.mean() < 0.7  # a white image would have mean 1


def test_16_bit_image_with_8_bit_values_warns_and_stays_16_bit():
    with pytest.warns(UserWarning, match="16-bit but holds only values 0..255"):
        x, _ = to_batch(Image.fromarray(GRAY.astype(np.uint16)))
    np.testing.assert_allclose(x[0, 0].numpy(), GRAY / 65535, atol=1e-7)


# --------------------------------------------------------------------------- 2. weights and configs
def _tiny():
    """The ``tiny_model`` of conftest.py (width 8, seed 0), for helpers outside fixtures
    (``from conftest import`` is ambiguous once tests/train/conftest.py is collected too)."""
    from blurvid import Generator, GeneratorConfig

    torch.manual_seed(0)
    return Generator(GeneratorConfig(width=8)).eval()


def _folder(tmp_path: Path, model=None, **state_changes) -> Path:
    """The tiny model saved as a folder; ``state_changes`` replace tensors of its weights."""
    from safetensors.torch import save_file

    from blurvid.hub import save_folder

    folder = save_folder(model or _tiny(), tmp_path / "m")
    if state_changes:
        from safetensors.torch import load_file

        state = load_file(folder / "model.safetensors")
        state.update(state_changes)
        save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def _with_value(value: float, dtype=torch.float32) -> torch.Tensor:
    t = _tiny().state_dict()["head.weight"].to(dtype).clone()
    t.view(-1)[5] = value
    return t


def _with_config(tmp_path: Path, **changes) -> Path:
    import json

    folder = _folder(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


WEIGHT_CASES = [
    # (id, folder maker, error type, message fragment)
    ("nan-weight", lambda t: _folder(t, **{"head.weight": _with_value(float("nan"))}),
     WeightsError, "'head.weight'.*1 NaN or infinite"),
    ("inf-weight", lambda t: _folder(t, **{"head.weight": _with_value(float("inf"))}),
     WeightsError, "NaN or infinite"),
    ("all-nan-model", lambda t: _folder(t, **{k: torch.full_like(v, float("nan"))
                                              for k, v in _tiny_state().items()}),
     WeightsError, "NaN or infinite"),
    ("float64-over-float32-range",
     lambda t: _folder(t, **{"head.weight": _with_value(1e300, torch.float64)}),
     WeightsError, "NaN or infinite value\\(s\\) \\(as float32\\)"),
    ("int64-weight", lambda t: _folder(t, **{"head.weight": _with_value(0).long()}),
     WeightsError, "dtype I64.*never cast"),
    ("int8-weight", lambda t: _folder(t, **{"stem.bias": torch.zeros(8, dtype=torch.int8)}),
     WeightsError, "dtype I8"),
    ("uint8-weight", lambda t: _folder(t, **{"stem.bias": torch.zeros(8, dtype=torch.uint8)}),
     WeightsError, "dtype U8"),
    ("bool-weight", lambda t: _folder(t, **{"stem.bias": torch.zeros(8, dtype=torch.bool)}),
     WeightsError, "dtype BOOL"),
    ("width-65536", lambda t: _with_config(t, width=65536), ConfigError, "width is 65536, over"),
    ("num-frames-10^7", lambda t: _with_config(t, num_frames=10**7), ConfigError,
     "num_frames is 10000000, over"),
    ("40-levels", lambda t: _with_config(t, enc_blocks=[1] * 40, dec_blocks=[1] * 40),
     ConfigError, "levels.*is 40, over"),
    ("10^6-blocks", lambda t: _with_config(t, enc_blocks=[10**6, 1, 1]), ConfigError,
     "blocks per level.*1000000"),
    ("10^6-middle-blocks", lambda t: _with_config(t, middle_blocks=10**6), ConfigError,
     "middle_blocks is 1000000"),
    ("too-many-parameters",
     lambda t: _with_config(t, width=512, enc_blocks=[8] * 4, dec_blocks=[8] * 4),
     ConfigError, "parameters, over blurvid's limit of 100,000,000"),
    ("init-std-inf", lambda t: _with_config(t, init_std=1e999), ConfigError, "init_std"),
    ("width-odd", lambda t: _with_config(t, width=9), ConfigError, "even integer"),
    ("width-bool", lambda t: _with_config(t, width=True), ConfigError, "width"),
    ("width-string", lambda t: _with_config(t, width="8"), ConfigError, "width"),
    ("blocks-float", lambda t: _with_config(t, enc_blocks=[1.5, 1, 1]), ConfigError,
     "list of integers"),
    ("config-not-object", lambda t: (_folder(t) / "config.json").write_text("[1, 2]") and t / "m",
     ConfigError, "JSON object"),
    ("config-1-MB", lambda t: (_folder(t) / "config.json").write_text(" " * 2**20 + "{}")
     and t / "m", ConfigError, "bytes, over"),
    ("param-count-mismatch", lambda t: _with_config(t, width=16), WeightsError,
     "implies 218,212 parameters, the file holds 60,508"),
]  # fmt: skip


def _tiny_state() -> dict:
    return _tiny().state_dict()


@pytest.mark.parametrize("make, error, match", **table(WEIGHT_CASES))
def test_untrusted_weights_and_configs(tmp_path, monkeypatch, make, error, match):
    """Refused with the typed error, fast, and before any real tensor of G is allocated
    (G is built on the meta device at most while the header is checked)."""
    folder = make(tmp_path)
    real_inits = []
    original = torch.nn.init.normal_

    def spy(tensor, *args, **kwargs):
        if tensor.device.type != "meta":
            real_inits.append(tuple(tensor.shape))
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "normal_", spy)
    with pytest.raises(error, match=match) as info:
        load_model(folder)
    assert type(info.value) is error
    one_line(info.value)
    if error is ConfigError or "dtype" in match or "implies" in match:
        assert real_inits == []  # refused from config.json and the header alone


def test_a_large_config_mismatch_is_refused_before_building(tmp_path, monkeypatch):
    """A config implying ~34 M parameters beside tiny weights: refused from the header,
    without building (allocating, initialising) the 136 MB model."""
    import blurvid.hub

    folder = _with_config(tmp_path, width=64, enc_blocks=[2] * 4, dec_blocks=[2] * 4)
    built = []
    real_init = blurvid.hub.Generator.__init__

    def spy(self, config=None):
        built.append(torch.empty(0).device.type)  # "meta" inside the skeleton's context
        real_init(self, config)

    monkeypatch.setattr(blurvid.hub.Generator, "__init__", spy)
    with pytest.raises(WeightsError, match="the config implies [0-9,]+ parameters"):
        load_model(folder)
    assert built in ([], ["meta"])


def test_parameter_count_formula_matches_the_built_model():
    from blurvid import Generator, GeneratorConfig

    for kw in [
        {},
        dict(width=6, enc_blocks=(2, 0), dec_blocks=(1, 3), middle_blocks=0, num_frames=3),
        dict(width=8, enc_blocks=(1, 2, 3, 1), dec_blocks=(0, 1, 1, 2), middle_blocks=4),
        dict(width=4, enc_blocks=(1,), dec_blocks=(2,), num_frames=2, reblur="none"),
    ]:
        cfg = GeneratorConfig(**kw)
        assert cfg.num_parameters() == Generator(cfg).num_parameters(), kw
    assert GeneratorConfig().num_parameters() == 825_460


def test_float16_and_float64_weights_still_load(tmp_path):
    model = _tiny()
    state = {k: v.double() for k, v in model.state_dict().items()}
    folder = _folder(tmp_path, **state)
    loaded = load_model(folder)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert torch.equal(loaded.head.weight, model.head.weight)


# --------------------------------------------------------------------------- 4. argument twins
ENTRY_POINTS = {
    "extract_frames": lambda img, m, **kw: extract_frames(img, model=m, **kw),
    "interpolate_recursive": lambda img, m, **kw: interpolate_recursive(img, 2, model=m, **kw),
    "FrameExtractor": lambda img, m, **kw: FrameExtractor(m, **kw)(img),
}
NO_CUDA = not torch.cuda.is_available()
BAD_ARGS = [
    # (id, keyword arguments, message fragment); each is a ConfigError from every entry point
    ("device-gpu", dict(device="gpu"), "invalid device 'gpu'"),
    ("device-int", dict(device=0), "device must be a string"),
    ("device-meta", dict(device="meta"), "device type 'meta' is not supported"),
    ("device-empty", dict(device=""), "invalid device"),
    ("tile-str", dict(tile="64"), "tile \\(pixels\\) must be an integer or None, got '64'"),
    ("tile-float", dict(tile=2.5), "tile \\(pixels\\) must be an integer or None, got 2.5"),
    ("tile-bool", dict(tile=True), "must be an integer"),
    ("tile-zero", dict(tile=0), "tile must be at least 64 pixels"),
    ("tile-negative", dict(tile=-64), "tile must be at least 64 pixels"),
    ("tile-too-small", dict(tile=32), "tile must be at least 64"),
    ("overlap-str", dict(tile=64, overlap="8"), "overlap \\(pixels\\) must be an integer"),
    ("overlap-negative", dict(tile=64, overlap=-1), "overlap \\(pixels\\) must be an integer >= 0"),
    ("overlap-half-tile", dict(tile=64, overlap=32), "overlap must be in \\[0, tile/2\\)"),
    ("overlap-without-tile-too-big", dict(overlap=600), "automatic tile of 1024"),
    ("batch-size-zero", dict(batch_size=0), "batch_size must be an integer >= 1"),
    ("batch-size-float", dict(batch_size=1.5), "batch_size must be an integer"),
    ("dtype-float64", dict(dtype="float64"), "dtype must be one of"),
    ("dtype-int", dict(dtype=torch.int8), "dtype must be float32"),
    ("dtype-number", dict(dtype=5), "dtype must be a string or a torch.dtype"),
    ("dtype-fp16-on-cpu", dict(dtype="fp16", device="cpu"), "CUDA only"),
]
if NO_CUDA:
    BAD_ARGS.append(("device-cuda-on-cpu-build", dict(device="cuda"), "CUDA is not available"))


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("kwargs, match", **table(BAD_ARGS))
def test_bad_arguments_same_error_from_every_entry_point(tiny_model, entry, kwargs, match):
    with pytest.raises(ConfigError, match=match) as info:
        ENTRY_POINTS[entry](torch.rand(1, 3, H, W), tiny_model, **kwargs)
    one_line(info.value)


@pytest.mark.parametrize("kwargs", [a[1] for a in BAD_ARGS if "too-small" not in a[0]])
def test_arguments_are_checked_before_the_image_is_read(tiny_model, tmp_path, kwargs):
    """A bad argument is reported as such even with an unreadable image: the checks run first."""
    with pytest.raises(ConfigError):
        extract_frames(tmp_path / "missing.png", model=tiny_model, **kwargs)


BAD_MODELS = [
    ("int", 123, "got 123"),
    ("float", 1.5, "got 1.5"),
    ("bytes", b"default", "got b'default'"),
    ("empty", "", "empty string"),
    ("blank", "   ", "empty string"),
    ("list", ["default"], "got \\['default'\\]"),
    ("state-dict", {"stem.weight": 0}, "model must be a Generator"),
]


@pytest.mark.parametrize("value, match", **table(BAD_MODELS))
def test_bad_model_references(value, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # load_model("") would have loaded from here
    with pytest.raises(ConfigError, match=match):
        extract_frames(torch.rand(3, H, W), model=value)
    with pytest.raises(ConfigError, match="name_or_path"):
        load_model(value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(device="gpu"), "invalid device"),
        (dict(device=1.0), "device must be a string"),
        (dict(revision=3), "revision must be a string"),
        (dict(revision="main"), "applies to Hub repos only.*bundled 'default'"),
        (dict(local_files_only="yes"), "local_files_only must be True or False"),
        (dict(cache_dir=5), "cache_dir must be a folder path"),
        (dict(token=12), "token must be a string"),
    ]
    + ([(dict(device="cuda"), "CUDA is not available")] if NO_CUDA else []),
)
def test_load_model_checks_what_extract_frames_checks(kwargs, match, monkeypatch):
    import blurvid.weights_io

    monkeypatch.setattr(blurvid.weights_io, "read_folder", lambda *a: pytest.fail("read weights"))
    with pytest.raises(ConfigError, match=match) as info:
        load_model("default", **kwargs)
    one_line(info.value)


def test_revision_with_a_local_folder_is_refused(tmp_path):
    folder = _folder(tmp_path)
    with pytest.raises(ConfigError, match="local folder: drop revision"):
        load_model(folder, revision="v1")


def test_path_objects_and_numpy_integers_are_accepted(tmp_path, tiny_model):
    folder = _folder(tmp_path, tiny_model)
    x = torch.rand(3, 32, 32)
    expected = extract_frames(x, model=tiny_model)
    assert torch.equal(extract_frames(x, model=folder), expected)  # a Path, like a str
    assert torch.equal(extract_frames(x, model=str(folder)), expected)
    assert torch.equal(load_model(folder).head.weight, tiny_model.head.weight)
    out = interpolate_recursive(x, np.int64(2), model=tiny_model, tile=np.int32(64))
    assert out.shape == (42, 3, 32, 32)
    assert extract_frames(x, model=tiny_model, batch_size=np.uint8(2)).shape == (7, 3, 32, 32)
    assert FrameExtractor(tiny_model, depth=np.int16(1))(x[None]).shape == (1, 7, 3, 32, 32)


@pytest.mark.parametrize("depth", [True, False, 2.0, "2", np.float64(2), None])
def test_depth_must_be_an_integer_never_a_bool(tiny_model, depth):
    with pytest.raises(ConfigError, match="depth must be an integer"):
        interpolate_recursive(torch.rand(3, H, W), depth, model=tiny_model)


def test_frame_extractor_refuses_unknown_arguments(tiny_model):
    with pytest.raises(ConfigError, match="unexpected arguments \\['tiles'\\]"):
        FrameExtractor(tiny_model, tiles=64, tile=64)
    with pytest.raises(ConfigError, match="tile"):
        FrameExtractor(tiny_model, tile="64")


# --------------------------------------------------------------------------- 5. CLI
@pytest.fixture
def cli_setup(tmp_path, tiny_model, monkeypatch):
    """An input image, a model folder, and a trap: running G (any work) fails the test."""
    import blurvid.api

    image = _save(tmp_path, "in.png", _pil())
    model = _folder(tmp_path, tiny_model)
    monkeypatch.setattr(blurvid.api, "_extract", lambda *a: pytest.fail("G ran"))
    (tmp_path / "a-file").write_text("x")
    return tmp_path, image, model


def _cli_error(capsys, *args) -> str:
    from helpers import one_error_line

    from blurvid import cli

    assert cli.main([str(a) for a in args]) == 1
    return one_error_line(capsys.readouterr().err)


EXTRACT_FLAGS = [
    ("output-is-a-file", ["-o", "{t}/a-file"], "is a file, not a folder"),
    ("output-under-a-file", ["-o", "{t}/a-file/out"], "is under .*a-file, which is a file"),
    ("output-unwritable", ["-o", "/proc/blurvid-out"], "cannot write to -o/--output"),
    ("fps-zero", ["--fps", "0"], "--fps must be a positive number"),
    ("fps-tiny", ["--fps", "1e-9"], "--fps must be a positive number from 0.01 to 1000"),
    ("fps-huge", ["--fps", "1e9"], "from 0.01 to 1000"),
    ("fps-negative", ["--fps", "-24"], "--fps must be"),
    ("fps-nan", ["--fps", "nan"], "got nan"),
    ("fps-inf", ["--fps", "inf"], "got inf"),
    ("workers-negative", ["--workers", "-1"], "--workers must be an integer >= 0"),
    ("tile-zero", ["--tile", "0"], "--tile must be an integer >= 64"),
    ("tile-negative", ["--tile", "-5"], "--tile must be an integer >= 64"),
    ("tile-below-the-model-minimum", ["--tile", "40"], "--tile must be an integer >= 64"),
    ("device-gpu", ["--device", "gpu"], "invalid device 'gpu'"),
    ("revision-with-default", ["--model", "default", "--revision", "v1"],
     "bundled 'default' weights have no revisions"),
    ("revision-with-folder", ["--revision", "v1"], "local folder: drop revision"),
    ("model-empty", ["--model", ""], "empty string"),
]  # fmt: skip


@pytest.mark.parametrize("flags, match", **table(EXTRACT_FLAGS))
def test_extract_cli_checks_every_argument_before_any_work(cli_setup, capsys, flags, match):
    t, image, model = cli_setup
    if "/proc/" in " ".join(flags) and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    flags = [f.replace("{t}", str(t)) for f in flags]
    args = ["extract", image, "-o", t / "out", "--model", model, "-q", *flags]
    if "--model" in flags:  # the case names its own model
        args = ["extract", image, "-o", t / "out", "-q", *flags]
    assert match and __import__("re").search(match, _cli_error(capsys, *args))
    assert not (t / "out").exists()


def test_extract_cli_unwritable_folder_as_user(cli_setup, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    t, image, model = cli_setup
    locked = t / "locked"
    locked.mkdir(mode=0o500)
    error = _cli_error(capsys, "extract", image, "-o", locked / "out", "--model", model)
    assert "cannot write to -o/--output" in error


TRAIN_FLAGS = [
    ("ckpt-every-0", ["--ckpt-every", "0"], "ckpt_every must be an integer >= 1"),
    ("log-every-0", ["--log-every", "0"], "log_every must be an integer >= 1"),
    ("val-every-negative", ["--val-every", "-5"], "val_every must be an integer >= 0"),
    ("steps-0", ["--steps", "0"], "steps must be an integer >= 1"),
    ("batch-size-0", ["--batch-size", "0"], "batch_size must be an integer >= 1"),
    ("workers-negative", ["--workers", "-1"], "num_workers must be an integer >= 0"),
    ("bank-size-negative", ["--bank-size", "-1"], "bank_size must be an integer >= 0"),
    ("lr-nan", ["--lr", "nan"], "lr must be a finite number"),
    ("lr-inf", ["--lr", "inf"], "lr must be a finite number"),
    ("lr-negative", ["--lr=-1e-4"], "lr must be >= 0"),
    ("lr-zero", ["--lr", "0"], "lr > 0"),
    ("lr-min-nan", ["--lr-min", "nan"], "lr_min must be a finite number"),
    ("adv-weight-nan", ["--adv-weight", "nan"], "adv_weight must be a finite number"),
    ("flow-weight-negative", ["--flow-weight=-1"], "flow_weight must be >= 0"),
    ("gram-weight-inf", ["--gram-weight", "inf"], "gram_weight must be a finite number"),
    ("ramp-nan", ["--ramp-start", "nan"], "ramp_start must be a finite number"),
    ("ramp-over-1", ["--ramp-end", "2"], "ramp_start <= ramp_end <= 1"),
    ("width-odd", ["--width", "9"], "even integer"),
    ("width-huge", ["--width", "100000"], "width is 100000, over"),
    ("seed-negative", ["--seed", "-1"], "seed must be an integer >= 0"),
    ("resume-with-nothing", ["--resume"], "nothing to resume in .*drop --resume"),
    ("data-missing", ["--data", "photos:{t}/nowhere"], "nowhere does not exist"),
    ("data-unknown-kind", ["--data", "pictures:{t}"], "unknown data kind 'pictures'"),
    ("data-no-kind", ["--data", "{t}"], "must be KIND:PATH"),
    ("data-weight-zero", ["--data", "photos:{t}@0"], "weight must be a number > 0"),
    ("data-weight-nan", ["--data", "photos:{t}@nan"], "weight must be a number > 0"),
    ("device-gpu", ["--device", "gpu"], "invalid device 'gpu'"),
    ("init-empty", ["--init", ""], "--init is an empty string"),
    ("out-is-a-file", ["--out", "{t}/a-file"], "--out .*is a file, not a folder"),
    ("out-under-a-file", ["--out", "{t}/a-file/run"], "which is a file"),
]


@pytest.mark.parametrize("flags, match", **table(TRAIN_FLAGS))
def test_train_cli_checks_every_argument_before_any_work(
    tmp_path, capsys, monkeypatch, flags, match
):
    import re

    import blurvid.train.loop

    monkeypatch.setattr(blurvid.train.loop, "Trainer", lambda *a, **k: pytest.fail("trained"))
    (tmp_path / "a-file").write_text("x")
    photos = tmp_path / "photos"
    photos.mkdir()
    _save(photos, "p.png", _pil(64, 64))
    flags = [f.replace("{t}", str(tmp_path)) for f in flags]
    out = [] if "--out" in flags else ["--out", tmp_path / "run"]
    args = ["train", "--data", f"photos:{photos}", *out, "--width", "8", "--crop", "32", *flags]
    error = _cli_error(capsys, *args)
    assert re.search(match, error), error
    assert not (tmp_path / "run").exists()


def test_train_resume_auto_starts_fresh_and_says_so(tmp_path, capsys, monkeypatch):
    import blurvid.train.loop
    from blurvid import cli

    calls = []
    monkeypatch.setattr(blurvid.train.loop, "train", lambda *a, **k: calls.append(k["resume"]))
    photos = tmp_path / "photos"
    photos.mkdir()
    _save(photos, "p.png", _pil(64, 64))
    args = ["train", "--data", f"photos:{photos}", "--out", str(tmp_path / "run"), "-q"]
    assert cli.main([*args, "--resume", "auto"]) == 0
    assert calls == [False]
    assert "nothing to resume in" in capsys.readouterr().err
    (tmp_path / "run" / "base").mkdir(parents=True)
    (tmp_path / "run" / "base" / "checkpoint.safetensors").write_bytes(b"")
    assert cli.main([*args, "--resume", "auto"]) == 0
    assert cli.main([*args, "--resume"]) == 0
    assert calls == [False, True, True]


def test_train_resume_continues_what_exists(tmp_path, monkeypatch):
    """--resume is accepted when the run folder holds a checkpoint or a finished stage."""
    from blurvid.train.loop import CHECKPOINT_NAME, check_resumable

    with pytest.raises(DataError, match="nothing to resume"):
        check_resumable(tmp_path, ("base", "gram"))
    (tmp_path / "gram").mkdir()
    (tmp_path / "gram" / CHECKPOINT_NAME).write_bytes(b"")
    check_resumable(tmp_path, ("base", "gram"))
    with pytest.raises(DataError, match="no finished stage of base"):
        check_resumable(tmp_path, ("base",))


@pytest.mark.parametrize(
    "args, match",
    [
        (["export", "{t}/ckpt.safetensors", "{t}/a-file"], "out .*a-file is a file"),
        (["export", "{t}/ckpt.safetensors", "{t}/a-file/m"], "which is a file"),
        (["convert-vgg19", "{t}/vgg.pth", "{t}/a-file/v.safetensors"], "dst .*a-file is a file"),
        (["convert-vgg19", "{t}/vgg.pth", "{t}"], "dst .* is a folder"),
    ],
    ids=["export-out-is-a-file", "export-out-under-a-file", "vgg-dst-under-a-file", "vgg-dst-dir"],
)
def test_export_and_convert_check_their_output_first(tmp_path, capsys, args, match):
    import re

    (tmp_path / "a-file").write_text("x")
    error = _cli_error(capsys, *[a.replace("{t}", str(tmp_path)) for a in args])
    assert re.search(match, error), error


EVAL_FLAGS = [
    ("json-under-a-file", ["--json", "{t}/a-file/r.json"], "--json .*a-file is a file"),
    ("json-is-a-folder", ["--json", "{t}"], "--json .* is a folder"),
    ("save-frames-is-a-file", ["--save-frames", "{t}/a-file"], "is a file, not a folder"),
    ("border-negative", ["--border", "-1"], "border.* >= 0, got -1"),
    ("size-tiny", ["--size", "2"], "--size must be an integer >= 8"),
    ("device-gpu", ["--device", "gpu"], "invalid device"),
    ("limit-0", ["--limit", "0"], "--limit must be >= 1"),
]


@pytest.mark.parametrize("flags, match", **table(EVAL_FLAGS))
def test_eval_cli_checks_every_argument_before_any_work(
    tmp_path, capsys, monkeypatch, flags, match
):
    import re

    import blurvid.evaluate

    monkeypatch.setattr(blurvid.evaluate, "evaluate", lambda *a, **k: pytest.fail("evaluated"))
    (tmp_path / "a-file").write_text("x")
    flags = [f.replace("{t}", str(tmp_path)) for f in flags]
    error = _cli_error(capsys, "eval", "--data", f"photos:{tmp_path}", "-q", *flags)
    assert re.search(match, error), error


def test_round_2_corpus_is_large():
    """More cases of each class than the issue listed."""
    assert len(WEIGHT_CASES) >= 20 and len(BAD_ARGS) >= 18 and len(BAD_MODELS) >= 6
    assert len(EXTRACT_FLAGS) >= 14 and len(TRAIN_FLAGS) >= 20 and len(EVAL_FLAGS) >= 6
