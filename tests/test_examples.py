"""The scripts in ``examples/`` keep working: each runs with ``--smoke`` (tiny sizes, a few
seconds) in a subprocess, offline, and its outputs are checked.

The bundled weights are trained, so the examples run without a placeholder warning.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SHARED_DATA = REPO.parent / "shared" / "data"
SCRIPTS = (
    "extract_frames.py",
    "slow_motion.py",
    "finetune_on_videos.py",
    "evaluate.py",
    "load_from_hub.py",
)


@pytest.fixture
def run_example(subprocess_env, tmp_path):
    """``run_example(script, *args, prelude=None)``: run ``examples/script --smoke *args`` in
    ``tmp_path`` on one thread; fail with its output unless it exits with 0. ``prelude``: Python
    code run in the same interpreter before the script (e.g. to hide a module)."""
    env = {**subprocess_env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def run(script: str, *args: str, prelude: str | None = None) -> subprocess.CompletedProcess:
        path = EXAMPLES / script
        argv = [str(path), "--smoke", *args]
        if prelude is None:
            cmd = [sys.executable, *argv]
        else:
            code = f"{prelude}\nimport runpy, sys\nsys.argv = {argv!r}\nrunpy.run_path({str(path)!r}, run_name='__main__')"
            cmd = [sys.executable, "-c", code]
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, (
            f"{script} exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
        return proc

    return run


def assert_pngs(folder: Path, count: int = 7) -> None:
    pngs = sorted(folder.glob("frame_*.png"))
    assert [p.name for p in pngs] == [f"frame_{i:03d}.png" for i in range(count)]
    for p in pngs:
        with Image.open(p) as img:
            img.load()
            assert img.mode == "RGB" and img.size == (64, 48)  # the 400x300 clock, shrunk to 64 px


def gif_frames(path: Path) -> int:
    with Image.open(path) as img:
        assert img.format == "GIF"
        return img.n_frames


@pytest.mark.slow
def test_extract_frames(run_example, tmp_path):
    out = tmp_path / "out"
    proc = run_example("extract_frames.py", "-o", str(out))
    assert "PlaceholderWeightsWarning" not in proc.stderr  # the bundled weights are trained
    assert_pngs(out / "clock_motion")
    assert gif_frames(out / "clock_motion.gif") == 7
    with Image.open(out / "clock_motion_sheet.png") as sheet:
        assert sheet.width >= 8 * 64 and sheet.height >= 48  # the input + 7 frames side by side


@pytest.mark.slow
def test_slow_motion_mp4_boomerang(run_example, tmp_path):
    av = pytest.importorskip("av")
    out = tmp_path / "out"
    proc = run_example("slow_motion.py", "-o", str(out), "--boomerang", "--fps", "12")
    assert "42 frames" in proc.stdout
    with av.open(str(out / "clock_motion_slowmo.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (64, 48)
        assert float(stream.average_rate) == 12
        assert sum(1 for _ in container.decode(stream)) == 42 + 40  # forward, then back


@pytest.mark.slow
def test_slow_motion_falls_back_to_gif_without_pyav(run_example, tmp_path):
    out = tmp_path / "out"
    proc = run_example(
        "slow_motion.py", "-o", str(out), prelude="import sys; sys.modules['av'] = None"
    )
    assert "GIF instead" in proc.stdout and "blurvid[video]" in proc.stdout
    assert not (out / "clock_motion_slowmo.mp4").exists()
    assert gif_frames(out / "clock_motion_slowmo.gif") == 42


@pytest.mark.skipif(
    not (SHARED_DATA / "video").is_dir(), reason=f"no shared videos at {SHARED_DATA / 'video'}"
)
@pytest.mark.slow
def test_finetune_on_videos(run_example, tmp_path):
    import blurvid

    out = tmp_path / "run"
    proc = run_example("finetune_on_videos.py", str(SHARED_DATA / "video"), "-o", str(out))
    for row in ("| identity (blurry x7) |", "| before |", "| after |"):
        assert row in proc.stdout
    assert "PSNR gain over the blurry input" in proc.stdout
    assert (out / "train" / "log.jsonl").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fine-tuned weights are not flagged as a placeholder
        model = blurvid.load_model(out / "model")
    assert model.metadata["steps"] == "5" and model.metadata["finetuned_from"] == "default"


@pytest.mark.slow
def test_evaluate(run_example):
    proc = run_example("evaluate.py")
    lines = proc.stdout.splitlines()
    assert (
        "| Method | PSNR (dB) | centre PSNR | outer-6 PSNR | SSIM | EPE (px) | re-blur PSNR (dB) | motion | s/image |"
        in lines
    )
    rows = {
        line.split("|")[1].strip(): line
        for line in lines
        if line.startswith("| ") and "---" not in line
    }
    assert {
        "identity (blurry x7)",
        "oracle-static (true centre x7)",
        "default",
    } <= set(rows)
    for row in rows.values():
        assert "nan" not in row
    assert "2 samples" in proc.stdout


@pytest.mark.slow
def test_load_from_hub(run_example, tmp_path):
    out = tmp_path / "out"
    proc = run_example("load_from_hub.py", "-o", str(out))
    assert "loaded hf://blurvid-examples/smoke at commit" in proc.stdout
    assert "from the cache, offline" in proc.stdout
    assert_pngs(out / "clock_motion")


def test_readme_lists_every_example():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(SCRIPTS)
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for script in SCRIPTS:
        assert f"examples/{script}" in readme, script
