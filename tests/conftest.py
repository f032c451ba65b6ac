"""Shared fixtures of the core test suite: a tiny generator, small images, the shared data.

Every test runs offline and on the CPU. The tiny generator (width 8, 60 k parameters) keeps
the in-process tests cheap; the bundled default model is used only where the test is about
it, always on small images. On two cores the full suite takes under 5 minutes and the fast
subset (``-m "not slow"``: no subprocesses, multi-process or kill/resume runs, README or
example scripts) under a minute; mark a test that takes more than ~3 s ``slow``.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from blurvid import Generator, GeneratorConfig, PlaceholderWeightsWarning

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

# A suite started in the background of a non-interactive shell (`pytest &`, `nohup ... &`)
# inherits SIGINT ignored, and so would every CLI process the Ctrl-C tests start (they would
# never stop). Give the suite, and so its children, the disposition of a foreground run.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def make_tiny_model(seed: int = 0, **overrides) -> Generator:
    """A narrow generator, seeded, in eval mode; ``overrides`` go to :class:`GeneratorConfig`."""
    torch.manual_seed(seed)
    model = Generator(GeneratorConfig(width=8, **overrides))
    return model.eval()


def perturb(model: Generator, seed: int = 1, std: float = 0.2) -> Generator:
    """Give every parameter (incl. the zero-initialised residual scales) random values, so
    the blocks are not identities and the outputs depend strongly on the weights."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * std)
    return model


@pytest.fixture
def fast_cpu():
    """Run the test with PyTorch's native CPU convolutions instead of oneDNN (mkldnn), on
    one thread.

    oneDNN builds a kernel for every new input shape (0.3-1 s each on a 2-core CPU) and the
    core tests use dozens of small odd shapes on purpose; the native kernels need no such
    set-up, which makes these tests ~4x faster. The two agree to float rounding
    (``test_model.py::test_onednn_and_native_kernels_agree``); the CLI tests in
    subprocesses run with the defaults. One thread: the tensors are tiny, and OpenMP threads
    that spin-wait make a loaded machine (tests running in parallel) many times slower.
    Use with ``pytestmark = pytest.mark.usefixtures("fast_cpu")``.
    """
    mkldnn, threads = torch.backends.mkldnn.enabled, torch.get_num_threads()
    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = mkldnn
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="module")
def _one_thread_in_data_and_training_tests(request):
    """One intra-op thread for tests/data and tests/train: their small tensors gain little from
    two, and on a shared 2-core machine OpenMP threads waiting for each other make ops up to
    10x slower."""
    if Path(request.path).parent.name not in ("data", "train"):
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_model() -> Generator:
    """``Generator(GeneratorConfig(width=8))`` with seed 0, in eval mode."""
    return make_tiny_model()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def image_u8(rng) -> np.ndarray:
    """A 20x30 (H x W) random RGB uint8 image."""
    return (rng.random((20, 30, 3)) * 255).astype(np.uint8)


@pytest.fixture
def png_path(tmp_path, image_u8) -> Path:
    """A 30x20 (W x H) RGB PNG on disk."""
    path = tmp_path / "blurry.png"
    Image.fromarray(image_u8).save(path)
    return path


@pytest.fixture
def shared_data() -> Path:
    """``/work/shared/data`` (beside the repository); skips where it is absent."""
    path = REPO.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture
def default_model():
    """The bundled default model (the trained release weights)."""
    from blurvid import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("error", PlaceholderWeightsWarning)  # the release is trained
        return load_model("default")


@pytest.fixture
def placeholder_folder(tmp_path) -> Path:
    """A model folder flagged as an untrained placeholder (``placeholder: true`` in its
    safetensors metadata), the way a development build without trained weights ships."""
    from blurvid.hub import save_folder

    return save_folder(
        make_tiny_model(seed=0), tmp_path / "placeholder-model", metadata={"placeholder": "true"}
    )


@pytest.fixture
def make_model():
    """The factory behind ``tiny_model``: ``make_model(seed=0, **config_overrides)``."""
    return make_tiny_model


def natural_texture(h: int, w: int, seed: int = 3) -> torch.Tensor:
    """``(3, h, w)`` in [0, 1] with detail at every scale from 2 to 64 px, as photos have (a
    motion of a dozen pixels can be followed coarse to fine; box-filtered noise has nothing
    coarse to follow)."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    t = torch.zeros(1, 3, h, w)
    for s in (2, 4, 8, 16, 32, 64):
        noise = torch.rand(1, 3, h // s + 2, w // s + 2, generator=gen)
        t += F.interpolate(noise, size=(h, w), mode="bilinear", align_corners=False) * s**0.5
    return ((t - t.min()) / (t.max() - t.min()))[0]


@pytest.fixture
def natural():
    """``natural(h, w, seed=3)``: a photo-like texture (see :func:`natural_texture`)."""
    return natural_texture


@pytest.fixture
def perturbed():
    """``perturbed(model, seed=1, std=0.2)``: randomise all parameters in place (see :func:`perturb`)."""
    return perturb


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m blurvid`` in a subprocess: ``src`` first on the path, offline."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(scope="module")
def tiny_photos(tmp_path_factory) -> Path:
    """A folder of two smooth 160x192 PNG photos (seeded), for the data and training tests."""
    folder = tmp_path_factory.mktemp("photos")
    g = torch.Generator().manual_seed(0)
    for i in range(2):
        x = torch.nn.functional.interpolate(
            torch.rand(1, 3, 20, 24, generator=g), size=(160, 192), mode="bicubic"
        )
        arr = (x[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"p{i}.png")
    return folder
