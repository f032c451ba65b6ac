"""Tests of the ``blurvid`` command line: end to end in a subprocess (a few) and in-process
through :func:`blurvid.cli.main` (the rest, for speed)."""

from __future__ import annotations

import subprocess
import warnings

import numpy as np
import pytest
import torch
from helpers import one_error_line
from PIL import Image

import blurvid
from blurvid import cli
from blurvid.io import read_image

pytestmark = pytest.mark.usefixtures("fast_cpu")


def run(python, env, *args, timeout=120):
    return subprocess.run(
        [python, "-m", "blurvid", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def model_dir(tmp_path, tiny_model):
    """The tiny model saved as a folder, for ``--model``."""
    folder = tmp_path / "tiny-model"
    tiny_model.save_pretrained(folder)
    return folder


@pytest.fixture
def small_png(tmp_path, rng):
    path = tmp_path / "in" / "small.png"
    path.parent.mkdir()
    Image.fromarray((rng.random((24, 33, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def clock_png(tmp_path, shared_data):
    """The scikit-image clock, motion-blurred, downscaled to 100x75 (odd height)."""
    src = shared_data / "blurry" / "skimage_clock_motion.png"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    path = tmp_path / "clock.png"
    Image.open(src).resize((100, 75), Image.BILINEAR).save(path)
    return path


# --------------------------------------------------------------------------- subprocess
@pytest.mark.slow
def test_extract_end_to_end_subprocess(python, subprocess_env, tmp_path, clock_png):
    av = pytest.importorskip("av")
    out = tmp_path / "out"
    res = run(python, subprocess_env, "extract", clock_png, "-o", out, "--format", "png,gif,mp4")
    assert res.returncode == 0, res.stderr
    assert "clock.png: 7 frames" in res.stdout
    # the bundled weights are the trained release: nothing to warn about
    assert "warning" not in res.stderr and "Traceback" not in res.stderr
    pngs = sorted((out / "clock").glob("*.png"))
    assert [p.name for p in pngs] == [f"frame_{i:03d}.png" for i in range(7)]
    frames = [read_image(p) for p in pngs]
    assert all(f.shape == (3, 75, 100) for f in frames)
    # the mean of the 7 written frames re-blurs to the input (up to 8-bit rounding), and
    # the frames are not 7 copies of one image
    x = read_image(clock_png)
    assert (torch.stack(frames).mean(0) - x).abs().mean() < 2 / 255
    assert (frames[0] - frames[-1]).abs().mean() > 0
    with Image.open(out / "clock.gif") as gif:
        assert gif.n_frames == 7 and gif.size == (100, 75)
    with av.open(str(out / "clock.mp4")) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (100, 76)
    assert n == 7


@pytest.mark.slow
def test_extract_small_image_subprocess(python, subprocess_env, tmp_path, small_png):
    """End to end without the shared data: a 33x24 image written here, default model."""
    out = tmp_path / "out"
    res = run(python, subprocess_env, "extract", small_png, "-o", out, "--format", "png,gif")
    assert res.returncode == 0, res.stderr
    assert len(list((out / "small").glob("frame_*.png"))) == 7
    with Image.open(out / "small.gif") as gif:
        assert gif.n_frames == 7 and gif.size == (33, 24)


@pytest.mark.slow
def test_version_subprocess(python, subprocess_env):
    res = run(python, subprocess_env, "--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"blurvid {blurvid.__version__}"


@pytest.mark.slow
def test_no_arguments_prints_usage_exit_2(python, subprocess_env):
    res = run(python, subprocess_env)
    assert res.returncode == 2
    assert "usage: blurvid" in res.stderr and "extract" in res.stderr


@pytest.mark.slow
def test_missing_file_one_line_error_subprocess(python, subprocess_env, tmp_path):
    res = run(python, subprocess_env, "extract", tmp_path / "nope.png", "-o", tmp_path / "out")
    assert res.returncode == 1
    assert "no such file" in one_error_line(res.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_debug_shows_the_traceback_subprocess(python, subprocess_env, tmp_path):
    res = run(
        python, subprocess_env, "--debug", "extract", tmp_path / "nope.png", "-o", tmp_path / "out"
    )
    assert res.returncode != 0
    assert "Traceback (most recent call last)" in res.stderr
    assert "InvalidImageError" in res.stderr


# --------------------------------------------------------------------------- in-process
def test_extract_in_process(tmp_path, small_png, model_dir, capsys):
    out = tmp_path / "out"
    assert cli.main(["extract", str(small_png), "-o", str(out), "--model", str(model_dir)]) == 0
    assert len(list((out / "small").glob("frame_*.png"))) == 7
    with Image.open(out / "small.gif") as gif:
        assert gif.n_frames == 7 and gif.size == (33, 24)
    captured = capsys.readouterr()
    assert "small.png: 7 frames" in captured.out and captured.err == ""


def test_depth_2_gives_42_pngs(tmp_path, small_png, model_dir, capsys):
    out = tmp_path / "out"
    args = ["extract", str(small_png), "-o", str(out), "--model", str(model_dir), "--format", "png"]
    assert cli.main([*args, "--depth", "2"]) == 0
    pngs = sorted((out / "small").glob("*.png"))
    assert len(pngs) == 42 and pngs[-1].name == "frame_041.png"
    assert not (out / "small.gif").exists()
    # the count and the memory estimate (float32 frames of two levels) come first
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("small.png: depth 2 -> 42 frames of 33x24, about 465.7 kB in memory")
    # a depth whose frames would not fit: one line naming the count, nothing written
    assert cli.main([*args, "--depth", "40", "-o", str(tmp_path / "deep")]) == 1
    assert "would make 5.306e+33 frames" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "deep").exists()


def test_boomerang_gif(tmp_path, small_png, model_dir):
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "extract",
                str(small_png),
                "-o",
                str(out),
                "--model",
                str(model_dir),
                "--format",
                "gif",
                "--boomerang",
                "--fps",
                "5",
                "-q",
            ]
        )
        == 0
    )
    with Image.open(out / "small.gif") as gif:
        assert gif.info["duration"] == 200
        assert gif.n_frames <= 12  # 2n - 2 (identical neighbours may be merged by Pillow)


def test_folder_input(tmp_path, rng, model_dir, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.png", "b.jpg"):
        Image.fromarray((rng.random((16, 20, 3)) * 255).astype(np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert (
        cli.main(
            ["extract", str(folder), "-o", str(out), "--model", str(model_dir), "--format", "png"]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["a", "b"]
    assert len(list((out / "b").glob("*.png"))) == 7
    assert capsys.readouterr().out.count("7 frames") == 2


def test_empty_folder_is_an_error(tmp_path, model_dir, capsys):
    (tmp_path / "empty").mkdir()
    assert (
        cli.main(
            [
                "extract",
                str(tmp_path / "empty"),
                "-o",
                str(tmp_path / "o"),
                "--model",
                str(model_dir),
            ]
        )
        == 1
    )
    assert "holds no images" in one_error_line(capsys.readouterr().err)


def test_corrupt_file_one_line_error(tmp_path, model_dir, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    assert (
        cli.main(["extract", str(bad), "-o", str(tmp_path / "o"), "--model", str(model_dir)]) == 1
    )
    line = one_error_line(capsys.readouterr().err)
    assert "bad.png" in line


def test_one_bad_input_among_several(tmp_path, small_png, model_dir, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    out = tmp_path / "out"
    code = cli.main(
        ["extract", str(small_png), str(bad), "-o", str(out), "--model", str(model_dir), "-q"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "1 of 2 inputs failed" in err and "Traceback" not in err
    assert len(list((out / "small").glob("*.png"))) == 7  # the good one was still written


def test_existing_output_needs_overwrite(tmp_path, small_png, model_dir, capsys):
    out = tmp_path / "out"
    args = ["extract", str(small_png), "-o", str(out), "--model", str(model_dir), "-q"]
    assert cli.main(args) == 0
    capsys.readouterr()
    assert cli.main(args) == 1
    assert "exists already" in one_error_line(capsys.readouterr().err)
    assert cli.main([*args, "--overwrite"]) == 0


def test_bad_format_and_model(tmp_path, small_png, model_dir, capsys):
    assert cli.main(["extract", str(small_png), "-o", str(tmp_path), "--format", "avi"]) == 1
    assert "--format" in one_error_line(capsys.readouterr().err)
    assert (
        cli.main(
            ["extract", str(small_png), "-o", str(tmp_path), "--model", str(tmp_path / "none")]
        )
        == 1
    )
    assert "neither an existing folder" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--fps", "0"], "fps must be a positive number"),
        (["--depth", "0"], "depth must be an integer >= 1"),
        (["--tile", "16"], "--tile must be an integer >= 64"),
        (["--device", "tpu:9"], "device"),
    ],
)
def test_bad_flag_values_one_line_error(tmp_path, small_png, model_dir, capsys, flags, fragment):
    args = ["extract", str(small_png), "-o", str(tmp_path / "o"), "--model", str(model_dir), *flags]
    assert cli.main(args) == 1
    assert fragment in one_error_line(capsys.readouterr().err)


def test_tile_flag(tmp_path, rng, model_dir):
    path = tmp_path / "big.png"
    Image.fromarray((rng.random((80, 96, 3)) * 255).astype(np.uint8)).save(path)
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "extract",
                str(path),
                "-o",
                str(out),
                "--model",
                str(model_dir),
                "--tile",
                "64",
                "--format",
                "png",
                "-q",
            ]
        )
        == 0
    )
    assert read_image(out / "big" / "frame_000.png").shape == (3, 80, 96)


def test_quiet_prints_nothing(tmp_path, small_png, model_dir, capsys):
    assert (
        cli.main(
            ["extract", str(small_png), "-o", str(tmp_path / "o"), "--model", str(model_dir), "-q"]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_usage_errors_exit_2(capsys):
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["extract"])  # missing images and -o
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["extract", "x.png", "-o", "o", "--depth", "two"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"blurvid {blurvid.__version__}"


def test_ctrl_c_exits_130(monkeypatch, tmp_path, small_png, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_extract", interrupted)
    code = cli.main(["extract", str(small_png), "-o", str(tmp_path)])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err


def test_debug_reraises_in_process(tmp_path, model_dir):
    with pytest.raises(blurvid.InvalidImageError):
        cli.main(
            [
                "--debug",
                "extract",
                str(tmp_path / "nope.png"),
                "-o",
                str(tmp_path),
                "--model",
                str(model_dir),
            ]
        )


def test_warnings_become_one_line_and_the_hook_is_restored(
    tmp_path, small_png, capsys, placeholder_folder
):
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code = cli.main(
            [
                "extract",
                str(small_png),
                "-o",
                str(tmp_path / "o"),
                "-q",
                "--model",
                str(placeholder_folder),
            ]
        )
    assert code == 0
    err = capsys.readouterr().err
    assert err.startswith(
        f"blurvid: warning: the weights from {placeholder_folder} are an UNTRAINED PLACEHOLDER"
    )
    assert err.count("\n") == 1
    assert warnings.showwarning is before


def test_rank_share_splits_inputs_without_duplicates(monkeypatch):
    """Under torchrun every input goes to exactly one rank (no padding duplicates)."""
    from blurvid.cli import _rank_share

    seen = []
    for rank in range(3):
        monkeypatch.setenv("WORLD_SIZE", "3")
        monkeypatch.setenv("RANK", str(rank))
        share, r, _ = _rank_share(8)
        assert r == rank
        seen.extend(share)
    assert sorted(seen) == list(range(8))
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    assert list(_rank_share(5)[0]) == [0, 1, 2, 3, 4]
