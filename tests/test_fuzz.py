"""Property-based fuzzing of the public inference API (Hypothesis, in the ``test`` extra).

Over shapes, dtypes, value ranges and argument types of :func:`blurvid.extract_frames`,
:func:`blurvid.interpolate_recursive` and :func:`blurvid.load_model`, every outcome is
either a correct result or a :class:`blurvid.BlurvidError` subclass with a one-line
message -- never another exception, a hang or a silently wrong answer. "Correct" is checked
to the value: inputs are drawn as an image ``u`` in [0, 1] and then encoded (uint8, uint16,
float, PIL modes...), and the mean of the returned frames must reproduce ``u`` (the tiny G
ties the frames' mean to its input; its residuals are ~0.01, and clamping moves values near
0 and 1 a little), so a mis-scaled input (e.g. a 0..255 float image clipped to white) fails.

Deterministic (``derandomize=True``, no example database) and quick: tiny images, the tiny
G of ``conftest.py``, modest ``max_examples``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from blurvid import BlurvidError, extract_frames, interpolate_recursive, load_model

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.usefixtures("fast_cpu")

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: How far the frames' mean may be from the input (tiny G, clamping near 0 and 1).
TOLERANCE = 0.03


def assert_blurvid_error(exc: BaseException) -> None:
    assert isinstance(exc, BlurvidError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert message and "\n" not in message and len(message) < 400, message


# --------------------------------------------------------------------------- images
@st.composite
def unit_images(draw, min_side: int = 8) -> np.ndarray:
    """An ``(H, W)`` image in [0, 1] (smooth or noisy, possibly constant), H, W in 8..24."""
    h = draw(st.integers(min_side, 24))
    w = draw(st.integers(min_side, 24))
    seed = draw(st.integers(0, 2**16))
    style = draw(st.sampled_from(["noise", "ramp", "constant", "binary"]))
    rng = np.random.default_rng(seed)
    if style == "noise":
        u = rng.random((h, w))
    elif style == "ramp":
        u = np.add.outer(np.linspace(0, 1, h), np.linspace(0, 1, w)) / 2
    elif style == "constant":
        u = np.full((h, w), draw(st.sampled_from([0.0, 0.5, 1.0])))
    else:
        u = (rng.random((h, w)) > 0.5).astype(np.float64)
    return u


def _quantise(u: np.ndarray, levels: int) -> np.ndarray:
    return np.round(u * levels) / levels


# each encoder: u (H, W) in [0, 1] -> (input for extract_frames, the [0, 1] image it means)
def _enc_tensor(u, dtype):
    x = torch.from_numpy(np.stack([u] * 3)).to(dtype)
    return x, x.double().numpy()[0]


ENCODERS = {
    "tensor-f32": lambda u: _enc_tensor(u, torch.float32),
    "tensor-f64-batch": lambda u: (torch.from_numpy(np.stack([u] * 3))[None], u),
    "tensor-f16": lambda u: _enc_tensor(u, torch.float16),
    "tensor-bf16": lambda u: _enc_tensor(u, torch.bfloat16),
    "numpy-u8": lambda u: (np.stack([np.round(u * 255)] * 3, -1).astype(np.uint8), _quantise(u, 255)),
    "numpy-u16": lambda u: (np.stack([np.round(u * 65535)] * 3, -1).astype(np.uint16), _quantise(u, 65535)),
    "numpy-f32": lambda u: (np.stack([u] * 3, -1).astype(np.float32), u),
    "numpy-f64-gray": lambda u: (u, u),
    "numpy-u8-rgba": lambda u: (np.dstack([np.round(u * 255)] * 3 + [np.zeros_like(u)]).astype(np.uint8), _quantise(u, 255)),
    "pil-L": lambda u: (Image.fromarray(np.round(u * 255).astype(np.uint8)), _quantise(u, 255)),
    "pil-RGB": lambda u: (Image.fromarray(np.stack([np.round(u * 255)] * 3, -1).astype(np.uint8)), _quantise(u, 255)),
    "pil-F-unit": lambda u: (Image.fromarray(u.astype(np.float32)), u),
    "pil-F-0..255": lambda u: (Image.fromarray(np.round(u * 255).astype(np.float32)), _quantise(u, 255)),
    "pil-I-0..255": lambda u: (Image.fromarray(np.round(u * 255).astype(np.int32)), _quantise(u, 255)),
    "pil-I;16": lambda u: (Image.fromarray(np.round(u * 65535).astype(np.uint16)), _quantise(u, 65535)),
}  # fmt: skip


def _frames_mean(out: Any) -> np.ndarray:
    """Mean over the 7 frames of the first channel, as float64 ``(H, W)``."""
    if isinstance(out, list):  # "RGB" frames: the first channel; "L" frames: the only one
        arrays = [np.asarray(f, np.float64) for f in out]
        return np.mean([a if a.ndim == 2 else a[..., 0] for a in arrays], axis=0) / 255
    if isinstance(out, np.ndarray):
        arr = out.astype(np.float64)
        scale = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(out.dtype, 1)
        return (arr if arr.ndim == 3 else arr[..., 0]).mean(0) / scale  # (N, H, W) greyscale
    t = out.double()
    return (t[0] if t.ndim == 5 else t)[:, 0].mean(0).numpy()


@FUZZ
@given(u=unit_images(), kind=st.sampled_from(sorted(ENCODERS)))
def test_valid_images_of_every_kind_give_the_right_frames(tiny_model, u, kind):
    image, meant = ENCODERS[kind](u)
    out = extract_frames(image, model=tiny_model)
    h, w = u.shape
    if isinstance(out, list):  # greyscale in ("L"), greyscale out; other modes give RGB
        mode = "L" if image.mode in ("L", "LA") else "RGB"
        assert len(out) == 7 and all(f.size == (w, h) and f.mode == mode for f in out)
    elif isinstance(out, np.ndarray):
        arr = np.asarray(image)  # (H, W) greyscale -> (N, H, W); colour (and RGBA) -> RGB
        shape = (7, h, w) if arr.ndim == 2 else (7, h, w, 1 if arr.shape[-1] == 1 else 3)
        assert out.shape == shape and out.dtype == arr.dtype
    else:
        assert out.shape[-4:] == (7, 3, h, w) and out.dtype == image.dtype
        assert bool(torch.isfinite(out.float()).all())
        assert float(out.min()) >= 0 and float(out.max()) <= 1
    # the frames re-blur to the input as the encoding means it: a mis-scaled read fails here
    assert np.abs(_frames_mean(out) - meant).mean() < TOLERANCE


# --------------------------------------------------------------------------- arbitrary arrays
ARRAY_DTYPES = ["uint8", "uint16", "int8", "int32", "int64", "float16", "float32", "float64",
                "bool", "complex64"]  # fmt: skip
VALUES = ["unit", "0..255", "0..65535", "negative", "nan", "inf", "huge", "zeros"]


def with_values(base: np.ndarray, values: str) -> np.ndarray:
    """``base`` (uniform in [0, 1)) turned into one of the ``VALUES`` ranges."""
    return {
        "unit": lambda: base,
        "0..255": lambda: np.round(base * 255),
        "0..65535": lambda: np.round(base * 65535),
        "negative": lambda: base - 0.5,
        "nan": lambda: np.where(base > 0.9, np.nan, base),
        "inf": lambda: np.where(base > 0.9, np.inf, base),
        "huge": lambda: base * 1e30,
        "zeros": lambda: np.zeros_like(base),
    }[values]()


@st.composite
def arbitrary_arrays(draw) -> np.ndarray:
    """Mostly an image-like shape ``(H, W[, C])``, else any shape of 0-5 dims."""
    if draw(st.sampled_from([True, True, True, False])):
        sides = st.sampled_from([8, 9, 13, 16, 20, 7, 1])  # mostly valid sizes
        h, w = draw(sides), draw(sides)
        shape = draw(
            st.sampled_from(
                [(h, w), (h, w, 1), (h, w, 3), (h, w, 3), (h, w, 4), (3, h, w), (1, h, w, 3)]
            )
        )
    else:
        ndim = draw(st.integers(0, 5))
        shape = tuple(
            draw(
                st.lists(
                    st.sampled_from([0, 1, 2, 3, 4, 7, 8, 9, 16]), min_size=ndim, max_size=ndim
                )
            )
        )
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = draw(st.sampled_from(VALUES))
    arr = with_values(rng.random(shape), values)
    if values in ("unit", "zeros") and draw(st.booleans()):  # valid more often
        dtype = np.dtype(draw(st.sampled_from(["float16", "float32", "float64"])))
    else:
        dtype = np.dtype(draw(st.sampled_from(ARRAY_DTYPES)))
    with np.errstate(all="ignore"):
        return arr.astype(dtype)  # fmt: skip


def _outcome(call) -> Any:
    """Run ``call``: its result, or None after checking the error is a one-line BlurvidError."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the property: only BlurvidError
        assert_blurvid_error(exc)
        return None


def _check_result(out: Any) -> None:
    if out is None:
        return
    frames = out if not isinstance(out, list) else np.stack([np.asarray(f) for f in out])
    arr = frames.float().numpy() if isinstance(frames, torch.Tensor) else frames
    assert np.isfinite(arr.astype(np.float64)).all()
    if arr.dtype.kind == "f":
        assert arr.min() >= 0 and arr.max() <= 1


@FUZZ
@given(arr=arbitrary_arrays(), as_tensor=st.booleans(), channels_first=st.booleans())
def test_arbitrary_arrays_and_tensors(tiny_model, arr, as_tensor, channels_first):
    image: Any = arr
    if as_tensor:
        if arr.dtype == np.uint16:
            arr = arr.astype(np.int32)  # torch has no general uint16 support
        image = torch.from_numpy(np.ascontiguousarray(arr))
        if channels_first and image.ndim >= 3:
            image = image.movedim(-1, -3)
    out = _outcome(lambda: extract_frames(image, model=tiny_model))
    _check_result(out)


@FUZZ
@given(
    mode=st.sampled_from(["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I", "F", "I;16", "YCbCr", "HSV"]),
    size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    values=st.sampled_from(VALUES),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_arbitrary_pil_images(tiny_model, mode, size, values, seed):
    rng = np.random.default_rng(seed)
    w, h = size
    if mode in ("I", "F", "I;16"):
        arr = with_values(rng.random((h, w)), values)
        dtype = {"I": np.int32, "F": np.float32, "I;16": np.uint16}[mode]
        with np.errstate(all="ignore"):
            image = Image.fromarray(arr.astype(dtype))
    else:
        rgb = Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8))
        image = rgb.convert(mode) if mode != "HSV" else rgb.convert("HSV")
    with warnings.catch_warnings():  # 16-bit data with 8-bit values warns by design
        warnings.simplefilter("ignore", UserWarning)
        out = _outcome(lambda: extract_frames(image, model=tiny_model))
    _check_result(out)
    if out is not None:
        assert len(out) == 7 and out[0].size == (w, h)


# --------------------------------------------------------------------------- arguments
ANY_VALUE = st.sampled_from(
    [None, 0, 1, -1, 2, 64, 65, 96, 1024, 2.5, float("nan"), "64", "", True, False,
     np.int64(64), np.int32(2), np.float32(64.0), b"64", [64], torch.tensor(64)]
)  # fmt: skip
DEVICES = st.sampled_from(
    [None, "cpu", torch.device("cpu"), "gpu", "", "cpu:0", 0, "meta", "cuda:99", 1.5]
)
DTYPES = st.sampled_from(
    [None, "float32", "fp32", "fp16", "float64", torch.float32, torch.float64, torch.int8, 5, "x"]
)


GOOD = {
    "tile": st.sampled_from([None, 64, np.int64(96)]),
    "overlap": st.sampled_from([None, 0, 8]),
    "batch_size": st.sampled_from([None, 1, 3]),
    "device": st.sampled_from([None, "cpu", torch.device("cpu")]),
    "dtype": st.sampled_from([None, "float32", torch.float32]),
}


@st.composite
def mixed(draw, good: dict[str, Any], anything: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments: all valid (from ``good``), all valid but one (drawn from
    ``anything``), or all from ``anything`` -- so that valid calls are common too."""
    how = draw(st.sampled_from(["good", "one", "any"]))
    bad = draw(st.sampled_from(sorted(good))) if how == "one" else None
    return {k: draw(anything[k] if how == "any" or k == bad else g) for k, g in good.items()}


def argument_sets():
    anything = {k: {"device": DEVICES, "dtype": DTYPES}.get(k, ANY_VALUE) for k in GOOD}
    return mixed(GOOD, anything)


@FUZZ
@given(
    kwargs=argument_sets(), depth=st.sampled_from([1, 2, np.int64(2), True, 0, -1, 2.0, "2", None])
)
def test_arbitrary_arguments(tiny_model, kwargs, depth):
    x = torch.rand(3, 16, 24, generator=torch.Generator().manual_seed(0))
    out = _outcome(lambda: extract_frames(x, model=tiny_model, **kwargs))
    if out is not None:
        assert out.shape == (7, 3, 16, 24)
        assert np.abs(_frames_mean(out) - x[0].double().numpy()).mean() < TOLERANCE
    if depth is not None and not isinstance(depth, (bool, str, float)) and 1 <= int(depth) <= 2:
        out = _outcome(lambda: interpolate_recursive(x, depth, model=tiny_model, **kwargs))
        if out is not None:
            assert out.shape == (7 if int(depth) == 1 else 42, 3, 16, 24)
    else:
        with pytest.raises(BlurvidError):
            interpolate_recursive(x, depth, model=tiny_model, **kwargs)


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory) -> Path:
    from blurvid import Generator, GeneratorConfig
    from blurvid.hub import save_folder

    torch.manual_seed(0)
    model = Generator(GeneratorConfig(width=8))  # as conftest's tiny_model
    return save_folder(model, tmp_path_factory.mktemp("fuzz") / "tiny")


SOURCES = ["folder", "folder-path", "file", "default", "", " ", None, 123, 1.5, b"default",
           ["default"], "nowhere/at/all", "no-such-dir", "user/"]  # fmt: skip


@FUZZ
@given(
    kwargs=mixed(
        {
            "source": st.sampled_from(["folder", "folder-path", "file", "default"]),
            "revision": st.none(),
            "device": st.sampled_from([None, "cpu", torch.device("cpu")]),
            "local_files_only": st.booleans(),
        },
        {
            "source": st.sampled_from(SOURCES),
            "revision": st.sampled_from([None, "main", 3, ""]),
            "device": DEVICES,
            "local_files_only": st.sampled_from([False, True, "yes", 1]),
        },
    )
)
def test_load_model_arguments(saved_tiny, monkeypatch, kwargs):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never the network
    source = kwargs.pop("source")
    name: Any = {
        "folder": str(saved_tiny),
        "folder-path": saved_tiny,
        "file": saved_tiny / "model.safetensors",
    }.get(source, source) if isinstance(source, str) else source  # fmt: skip
    model = _outcome(lambda: load_model(name, **kwargs))
    if model is not None:
        assert not model.training
        assert all(math.isfinite(float(p.detach().abs().max())) for p in model.parameters())
