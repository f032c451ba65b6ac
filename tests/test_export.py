"""``blurvid export --format onnx|torchscript`` and :mod:`blurvid.export`.

The ONNX file is made once per module through the CLI from the bundled (trained) model and
run in onnxruntime against :func:`blurvid.extract_frames` on crops of the bundled example
photo, at sizes that are and are not multiples of 16. The docs' onnxruntime snippet runs in a
subprocess where ``import torch`` fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import blurvid
from blurvid.cli import main
from blurvid.export import ExportableGenerator, export_model, export_onnx, export_torchscript

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "images" / "clock_motion.png"
DOCS = REPO / "docs" / "export.md"
ONNX_REASON = "onnxruntime/onnx/onnxscript not installed: pip install 'blurvid[onnx]'"


def _crop(h: int, w: int, top: int = 40, left: int = 60) -> torch.Tensor:
    rgb = np.asarray(Image.open(EXAMPLE).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(rgb[top : top + h, left : left + w].transpose(2, 0, 1).copy())


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    for module in ("onnxruntime", "onnx", "onnxscript"):
        pytest.importorskip(module, reason=ONNX_REASON)
    path = tmp_path_factory.mktemp("onnx") / "blurvid.onnx"
    assert main(["export", "--format", "onnx", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def session(onnx_file):
    import onnxruntime as ort

    return ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])


# ----------------------------------------------------------------------------- ONNX
@pytest.mark.slow
@pytest.mark.parametrize("shape", [(1, 64, 96), (2, 45, 77)])
def test_onnx_matches_pytorch(session, default_model, shape):
    """Same frames as extract_frames to 1e-4, with batch, height and width all dynamic
    (the file was exported from a 2x35x53 example)."""
    b, h, w = shape
    x = torch.stack([_crop(h, w, top=40 + 17 * i) for i in range(b)])
    ref = blurvid.extract_frames(x, model=default_model, max_side=None).numpy()
    (out,) = session.run(["frames"], {"blurry": x.numpy()})
    assert out.shape == (b, 7, 3, h, w) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4)
    assert out.min() >= 0.0 and out.max() <= 1.0
    # the frames are not the input repeated: the trained model moves things
    assert np.abs(out[:, 0] - out[:, -1]).mean() > 1e-3


@pytest.mark.slow
def test_onnx_file_declares_its_contract(onnx_file, session):
    import onnx

    model = onnx.load(str(onnx_file))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["size_multiple"] == "16" and meta["num_frames"] == "7"
    assert meta["blurvid_version"] == blurvid.__version__
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape[1]) == ("blurry", "tensor(float)", 3)
    assert (out.name, out.shape[1:3]) == ("frames", [7, 3])
    assert all(isinstance(d, str) for d in (*inp.shape[::2], inp.shape[3]))  # B, H, W dynamic
    assert not list(onnx_file.parent.glob("*.data"))  # one self-contained file


@pytest.mark.slow
def test_docs_snippet_runs_with_onnxruntime_and_numpy_alone(onnx_file, tmp_path, default_model):
    """The docs' snippet, as written, in a process where ``import torch`` fails."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Extracting frames with onnxruntime") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    x = _crop(48, 80)
    Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
        tmp_path / "blurry.png"
    )
    (tmp_path / "blurvid.onnx").symlink_to(onnx_file)
    prelude = "import sys\nsys.modules['torch'] = None  # no PyTorch on this machine\n"
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    ref = blurvid.extract_frames(tmp_path / "blurry.png", model=default_model, max_side=None)
    for i in range(7):
        got = np.asarray(Image.open(tmp_path / f"frame_{i}.png"), dtype=np.int16)
        want = np.asarray(ref[i], dtype=np.int16)
        assert got.shape == (48, 80, 3) and np.abs(got - want).max() <= 1


# ----------------------------------------------------------------------------- TorchScript
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_torchscript_round_trip_at_two_sizes(tmp_path, tiny_model, perturbed):
    g = perturbed(tiny_model)
    path = tmp_path / "g.pt"
    assert main(["export", "--format", "torchscript", "-o", str(path)]) == 0  # bundled model
    assert export_torchscript(g, path) == path  # replaces the file
    loaded = torch.jit.load(str(path))
    for shape in [(1, 3, 16, 16), (2, 3, 41, 70)]:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            out = loaded(x)
        ref = blurvid.extract_frames(x, model=g, max_side=None)  # G itself, as exported
        assert out.shape == (shape[0], 7, *shape[1:])
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_exportable_generator_equals_extract_frames(tiny_model, perturbed):
    """The wrapper the exporters trace: pad, U-Net, crop, re-blur, clamp == extract_frames."""
    g = perturbed(tiny_model)
    x = torch.rand(2, 3, 35, 50, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = ExportableGenerator(g)(x)
    torch.testing.assert_close(
        out, blurvid.extract_frames(x, model=g, max_side=None), rtol=0, atol=1e-6
    )


def test_export_folder_round_trip(tmp_path, tiny_model, perturbed):
    g = perturbed(tiny_model)
    out = export_model(g, tmp_path / "m", format="folder")
    loaded = blurvid.load_model(out)
    for a, b in zip(g.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------- errors
def test_export_errors_are_one_line_and_early(tmp_path, tiny_model, capsys):
    with pytest.raises(blurvid.ConfigError, match="format must be one of"):
        export_model(tiny_model, tmp_path / "x", format="tflite")
    with pytest.raises(blurvid.ConfigError, match="is a folder"):
        export_torchscript(tiny_model, tmp_path)
    with pytest.raises(blurvid.ConfigError, match="opset must be an integer >= 17"):
        export_onnx(tiny_model, tmp_path / "g.onnx", opset=11)
    with pytest.raises(blurvid.ConfigError, match="model must be a Generator"):
        export_torchscript(3.5, tmp_path / "g.pt")  # type: ignore[arg-type]
    cases = [
        (["--format", "onnx", "--fp16", "-o", "g.onnx"], "--fp16 applies to --format folder"),
        (["--format", "onnx"], "no output"),
        (["default", "a", "-o", "b"], "give the output once"),
    ]
    for argv, message in cases:
        assert main(["export", *argv]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written
