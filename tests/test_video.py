"""Tests of :mod:`blurvid.video`: video in, slow motion out (tiny clips, tiny generators)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import one_error_line
from PIL import Image

import blurvid
from blurvid import Generator, GeneratorConfig, cli
from blurvid.errors import (
    ConfigError,
    EmptyVideoError,
    NotAVideoError,
    OutputExistsError,
    OutputNotWritableError,
    UnsupportedCodecError,
    VariableFrameRateError,
)
from blurvid.video import ClipOrienter, choose_order, probe_video, slow_motion

av = pytest.importorskip("av")
pytestmark = pytest.mark.usefixtures("fast_cpu")

W, H, STEP = 80, 48, 7  # the square moves STEP px per input frame


def square(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A white 12x16 square on grey at x = 10 + STEP * i."""
    img = np.full((h, w, 3), 60, np.uint8)
    x0 = 10 + STEP * i
    img[16:32, x0 : x0 + 12] = 230
    return img


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    *,
    fps: int = 30,
    pts: list[int] | None = None,
    rotation: int = 0,
    full_range: bool = False,
    audio: bool = False,
) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2] if frames else (H, W)
        s.pix_fmt = "yuv420p"
        s.codec_context.time_base = Fraction(1, fps)
        fmt: dict = {"format": "yuv420p"}
        if full_range:  # and BT.709, as phones write
            s.codec_context.color_range, s.codec_context.colorspace = 2, 1
            fmt.update(dst_color_range=2, dst_colorspace=1)
        if rotation:
            s.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=48000) if audio else None
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(**fmt)
            f.pts = i if pts is None else pts[i]
            c.mux(s.encode(f))
        c.mux(s.encode(None))
        if a is not None:
            t = np.arange(48000 * len(frames) // fps) / 48000
            wave = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], 2, 0)
            for k in range(0, wave.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(wave[:, k : k + 1024]), format="fltp", layout="stereo"
                )
                af.sample_rate = 48000
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def read_clip(path: Path, fmt: str = "rgb24") -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format=fmt) for f in c.decode(video=0)])


class ShiftGenerator(Generator):
    """An oracle G: frame k of an input is the input rolled by ``k - 3`` px (the true
    sub-frames of the square clip), the 7 frames randomly reversed per input (seeded)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(GeneratorConfig(width=8))
        self.rng = torch.Generator().manual_seed(seed)
        self.flips = 0
        self.eval()  # ready to run: the API runs it as it is (a train-mode G runs as a copy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.stack([x.roll(k - 3, dims=-1) for k in range(7)], dim=1)
        flip = torch.rand(x.shape[0], generator=self.rng) < 0.5
        self.flips += int(flip.sum())
        return torch.where(flip.view(-1, 1, 1, 1, 1), out.flip(1), out)


class IdentityGenerator(Generator):
    def __init__(self) -> None:
        super().__init__(GeneratorConfig(width=8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).repeat(1, 7, 1, 1, 1)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "in.mp4", [square(i) for i in range(8)])


def square_x(frames: np.ndarray) -> np.ndarray:
    """Horizontal centre of the bright square in each decoded frame."""
    bright = frames[:, 16:32].mean(axis=-1).mean(axis=1) > 145  # (N, W): columns of the square
    cols = np.arange(frames.shape[2])
    return np.array([cols[b].mean() for b in bright])


# ----------------------------------------------------------------------------- pipeline
def test_probe_reads_size_rate_and_count(clip):
    info = probe_video(clip)
    assert (info.width, info.height, info.frames, info.fps) == (W, H, 8, Fraction(30))
    assert (info.codec, info.rotation, info.audio) == ("h264", 0, False)


@pytest.mark.parametrize(("speed", "fps"), [("realtime", 210), ("slow", 30)])
def test_slow_motion_writes_factor_frames_at_the_right_rate(clip, tmp_path, tiny_model, speed, fps):
    out = tmp_path / "out.mp4"
    result = slow_motion(clip, out, model=tiny_model, speed=speed, progress=False)
    assert (result.input_frames, result.output_frames, result.fps) == (8, 56, Fraction(fps))
    info = probe_video(out)
    assert (info.frames, info.fps, info.width, info.height) == (56, Fraction(fps), W, H)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]  # no temp file


def test_order_is_consistent_across_the_clip(clip, tmp_path):
    """With an oracle G that returns the true sub-frames in random order, the written clip
    moves steadily to the right: every input frame's group was put back in time order."""
    for seed, batch in ((3, 3), (0, 1)):  # batch 1: the first frame looks one batch ahead
        g = ShiftGenerator(seed=seed)
        out = tmp_path / f"out{batch}.mp4"
        result = slow_motion(clip, out, model=g, progress=False, batch_size=batch)
        assert g.flips >= 2 and result.reversed_frames == g.flips
        xs = square_x(read_clip(out))
        assert len(xs) == 56
        steps = np.diff(xs)
        assert steps.min() > 0.4 and abs(steps.mean() - 1.0) < 0.05  # 1 px per output frame


def test_still_pixels_stay_the_input(tmp_path):
    """Do no harm (blurvid.motion_gate): a G that invents motion everywhere (it rolls the
    whole frame) changes the still textured background only with the gate off; with it, the
    background comes back as it went in (H.264 aside) and the moving square still moves."""
    pytest.importorskip("cv2")
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 256, (H // 6, W // 6, 3)).astype(np.uint8)
    back = np.asarray(Image.fromarray(noise).resize((W, H), Image.BICUBIC))  # a 3 px roll shows
    frames = []
    for i in range(6):
        img = back.copy()
        img[16:32, 10 + STEP * i : 22 + STEP * i] = 230
        frames.append(img)
    clip = write_clip(tmp_path / "in.mp4", frames)
    src = read_clip(clip).astype(float)  # the decoded input
    got = {}
    for g, gate in ((IdentityGenerator(), True), (ShiftGenerator(seed=2), True),
                    (ShiftGenerator(seed=2), False)):  # fmt: skip
        out = tmp_path / "out.mp4"
        result = slow_motion(
            clip, out, model=g, progress=False, motion_gate=gate, overwrite=True, crf=0
        )
        assert result.motion_gate is gate
        got[type(g).__name__[0] + str(gate)[0]] = (
            read_clip(out).astype(float).reshape(6, 7, H, W, 3)
        )
    # 12 px and more below the square: out of reach of its motion (the map's 9 px window);
    # "IT": the input as the YUV 4:2:0 round trip gives it back (an identity G; crf 0)
    still = {k: np.abs(v[:, :, 44:] - src[:, None, 44:]).mean() for k, v in got.items()}
    assert still["ST"] < still["IT"] + 0.5 and still["SF"] > still["IT"] + 10.0
    for i in range(6):  # on the square: G's rolled frames, with the gate as without it
        box = (i, slice(None), slice(16, 32), slice(10 + STEP * i, 22 + STEP * i))
        kept, rolled = got["ST"][box], got["SF"][box]
        assert np.abs(kept - rolled).mean() < 1.0
        assert np.abs(kept - src[box[0], None, 16:32, box[3]]).mean() > 10.0


def test_factor_42_keeps_the_order_inside_the_recursion(tmp_path):
    frames = [square(i) for i in range(3)]
    clip = write_clip(tmp_path / "in.mp4", frames)
    result = slow_motion(
        clip, tmp_path / "out.mp4", model=ShiftGenerator(seed=1), factor=42, progress=False
    )
    assert (result.output_frames, result.fps) == (126, Fraction(1260))
    xs = square_x(read_clip(tmp_path / "out.mp4")).reshape(18, 7)  # (pair, sub-frame)
    # the fake G cannot know the smaller blur of a pair, so its groups overlap; what must
    # hold: every group runs forwards, and the groups follow each other in time
    assert np.all(np.diff(xs, axis=1) > 0.4)
    assert np.all(np.diff(xs.mean(axis=1)) > 0.4)


def test_rotation_colour_range_and_pixels_are_kept(tmp_path):
    img = np.stack(np.meshgrid(np.linspace(0, 255, W), np.linspace(0, 255, H)), -1)
    img = np.concatenate([img, img[..., :1]], -1).astype(np.uint8)
    clip = write_clip(tmp_path / "in.mp4", [img] * 3, rotation=90, full_range=True)
    before = probe_video(clip)
    assert (before.rotation, before.color_range) == (90, 2)
    out = tmp_path / "out.mp4"
    slow_motion(clip, out, model=IdentityGenerator(), progress=False, crf=0)
    after = probe_video(out)
    assert (after.rotation, after.color_range, after.frames) == (90, 2, 21)
    assert (after.colorspace, before.colorspace) == (1, 1)
    luma = [read_clip(path, "gray")[0].astype(float) for path in (clip, out)]
    # decoded -> RGB -> encoded gives back the same luma: no squeeze into 16-235 (14 levels
    # off), no BT.601/709 mix-up, no bias of swscale's fast path (~1.2 levels)
    assert np.abs(luma[0] - luma[1]).mean() < 0.3


def test_audio_is_kept_and_stretched(tmp_path, tiny_model):
    clip = write_clip(tmp_path / "in.mp4", [square(i) for i in range(6)], audio=True)
    for speed, seconds in (("realtime", 0.2), ("slow", 1.4)):
        out = tmp_path / f"{speed}.mp4"
        slow_motion(clip, out, model=tiny_model, speed=speed, audio="keep", progress=False)
        with av.open(str(out)) as c:
            a = c.streams.audio[0]
            length = sum(f.samples for f in c.decode(a)) / a.sample_rate
        assert abs(length - seconds) < 0.1 * seconds + 0.05
    slow_motion(clip, tmp_path / "drop.mp4", model=tiny_model, progress=False)
    assert not probe_video(tmp_path / "drop.mp4").audio


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kind", ["missing", "text", "image"])
def test_not_a_video(tmp_path, tiny_model, kind):
    path = tmp_path / "in.mp4"
    if kind == "text":
        path.write_text("hello")
    elif kind == "image":
        path = tmp_path / "in.png"
        Image.fromarray(square(0)).save(path)
    with pytest.raises(NotAVideoError, match="video"):
        slow_motion(path, tmp_path / "out.mp4", model=tiny_model)
    assert not (tmp_path / "out.mp4").exists()


def test_zero_frames(tmp_path, tiny_model):
    clip = tmp_path / "in.avi"  # (an MP4 muxer drops a stream without packets)
    with av.open(str(clip), "w") as c:
        s = c.add_stream("mpeg4", rate=30)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        c.start_encoding()
    with pytest.raises(EmptyVideoError, match="no frames"):
        slow_motion(clip, tmp_path / "out.mp4", model=tiny_model)


def test_variable_frame_rate_is_refused(tmp_path, tiny_model):
    clip = write_clip(
        tmp_path / "in.mp4", [square(i) for i in range(8)], pts=[0, 1, 2, 5, 6, 9, 10, 14]
    )
    with pytest.raises(VariableFrameRateError, match="ffmpeg -i IN -vf fps=30"):
        slow_motion(clip, tmp_path / "out.mp4", model=tiny_model)


def test_unsupported_codec(clip, tmp_path, tiny_model, monkeypatch):
    real = av.codec.Codec

    def no_h264(name, mode="r"):
        if name == "h264" and mode == "r":
            raise av.codec.codec.UnknownCodecError(name)
        return real(name, mode)

    monkeypatch.setattr(av.codec, "Codec", no_h264)
    with pytest.raises(UnsupportedCodecError, match="'h264'"):
        slow_motion(clip, tmp_path / "out.mp4", model=tiny_model)


def test_output_checks_come_first(clip, tmp_path, tiny_model):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputNotWritableError, match="not a writable folder"):
        slow_motion(clip, blocker / "out.mp4", model=tiny_model)
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(OutputNotWritableError, match="is a folder"):
        slow_motion(clip, tmp_path / "dir.mp4", model=tiny_model)
    with pytest.raises(OutputExistsError, match="overwrite"):
        slow_motion(clip, blocker.with_name("in.mp4"), model=tiny_model)
    with pytest.raises(ConfigError, match="must end in"):
        slow_motion(clip, tmp_path / "out.gif", model=tiny_model)
    bad = ({"factor": 8}, {"speed": "fast"}, {"audio": "stretch"}, {"crf": 60}, {"dtype": "fp16"})
    for kw in bad:
        with pytest.raises(ConfigError):
            slow_motion(clip, tmp_path / "out.mp4", model=tiny_model, **kw)


@pytest.mark.parametrize(
    ("exc", "raised"),
    [
        (KeyboardInterrupt, KeyboardInterrupt),
        (RuntimeError, RuntimeError),
        (lambda _: OSError(28, "No space left on device"), OutputNotWritableError),
    ],
)
def test_interrupt_leaves_no_file(clip, tmp_path, tiny_model, monkeypatch, exc, raised):
    from blurvid import video

    calls = []

    def write(self, frames):
        calls.append(1)
        if len(calls) == 3:
            raise exc("stop")
        return real(self, frames)

    real = video._Encoder.write
    monkeypatch.setattr(video._Encoder, "write", write)
    with pytest.raises(raised):
        slow_motion(clip, tmp_path / "out.mp4", model=tiny_model, progress=False, batch_size=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_without_opencv_the_gate_is_off_and_the_cli_says_so(
    clip, tmp_path, tiny_model, capsys, monkeypatch
):
    import blurvid.video as video

    monkeypatch.setattr(video, "_flow_available", lambda: False)
    result = slow_motion(clip, tmp_path / "a.mp4", model=tiny_model, progress=False)
    assert result.motion_gate is False
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    args = ["slowmo", str(clip), "--model", str(folder)]
    assert cli.main([*args, "-o", str(tmp_path / "b.mp4")]) == 0
    assert "pip install 'blurvid[flow]'" in capsys.readouterr().out
    assert cli.main([*args, "-o", str(tmp_path / "c.mp4"), "--no-motion-gate"]) == 0
    assert "motion gate" not in capsys.readouterr().out  # not asked for: nothing to say


# ----------------------------------------------------------------------------- CLI
def test_cli_slowmo(clip, tmp_path, tiny_model, capsys):
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    out = tmp_path / "o.mp4"
    args = ["slowmo", str(clip), "-o", str(out), "--model", str(folder), "-q"]
    assert cli.main([*args, "--speed", "slow"]) == 0
    assert probe_video(out).frames == 56
    assert cli.main(args) == 1  # exists
    assert "--overwrite" in one_error_line(capsys.readouterr().err)
    assert cli.main(["slowmo", str(folder / "config.json"), "-o", str(tmp_path / "p.mp4")]) == 1
    assert "not a video" in one_error_line(capsys.readouterr().err)


# ----------------------------------------------------------------------------- order
def test_choose_order_checks_its_input():
    frames = torch.rand(7, 3, 8, 8)
    assert choose_order(frames) is False  # no neighbour: keep
    with pytest.raises(ConfigError, match="previous"):
        choose_order(frames, previous=torch.rand(3, 4, 4))
    with pytest.raises(ConfigError, match="N >= 2"):
        choose_order(frames[0])


def _oracle_accuracy(sharp: torch.Tensor, seed: int) -> tuple[int, int]:
    """Blur groups of 7 true frames, hand the ORACLE groups to the orienter randomly
    reversed, count the groups with motion > 1 px whose true order it recovers."""
    from blurvid.flow import estimate_flow

    groups = sharp[: len(sharp) // 7 * 7].reshape(-1, 7, *sharp.shape[1:])
    flow = estimate_flow(groups[:, 0], groups[:, -1])
    moving = flow.norm(dim=1).mean(dim=(-2, -1)) * 4 > 1.0  # in full-resolution pixels
    truth = torch.rand(len(groups), generator=torch.Generator().manual_seed(seed)) < 0.5
    shown = torch.where(truth.view(-1, 1, 1, 1, 1), groups.flip(1), groups)
    _, flips = ClipOrienter()(shown, groups.mean(1))
    return int((flips == truth)[moving].sum()), int(moving.sum())


def test_oracle_order_is_recovered_on_the_bedroom_frames(shared_data):
    pytest.importorskip("cv2")
    paths = sorted((shared_data / "frames" / "sam2_bedroom").glob("*.jpg"))
    imgs = [np.asarray(Image.open(p).convert("RGB").reduce(4)) for p in paths]  # 240x135
    sharp = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255
    right, total = _oracle_accuracy(sharp, seed=0)
    assert total >= 6 and right / total >= 0.9


@pytest.mark.slow
def test_oracle_order_is_recovered_on_the_shared_videos(shared_data):
    pytest.importorskip("cv2")
    right = total = 0
    for path in sorted((shared_data / "video").glob("sam2_*.mp4")):
        with av.open(str(path)) as c:
            imgs = [f.to_ndarray(format="rgb24", width=320, height=180) for f in c.decode(video=0)]
        sharp = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255
        r, t = _oracle_accuracy(sharp, seed=1)
        right, total = right + r, total + t
    assert total >= 100 and right / total >= 0.9


def test_public_names():
    assert blurvid.slow_motion is slow_motion


def test_a_five_frame_model_gives_5_or_20_frames_per_input_frame(clip, tmp_path, make_model):
    """The factor follows the model's frame count (T or T x (T - 1)); the 7-frame factors are
    refused for a 5-frame G with a message that names the ones that work."""
    g = make_model(num_frames=5)
    result = slow_motion(clip, tmp_path / "out.mp4", model=g, factor=5, progress=False)
    assert (result.input_frames, result.output_frames, result.fps) == (8, 40, Fraction(150))
    assert probe_video(tmp_path / "out.mp4").frames == 40
    with pytest.raises(ConfigError, match=r"\[5, 20\] for this 5-frame model"):
        slow_motion(clip, tmp_path / "bad.mp4", model=g, factor=7, progress=False)
    folder = tmp_path / "five"
    g.save_pretrained(folder)  # by name: checked once the model is loaded, before any output
    with pytest.raises(ConfigError, match="5-frame model"):
        slow_motion(clip, tmp_path / "bad.mp4", model=str(folder), factor=42, progress=False)
    assert not (tmp_path / "bad.mp4").exists()


_STOPPED_MID_RUN = """
import sys, time
from blurvid import cli, video

calls = []
real = video._Encoder.write


def write(self, frames):
    calls.append(1)
    if len(calls) == 2:  # the temporary output exists and holds frames: wait for the signal
        print("writing", flush=True)
        while True:
            time.sleep(0.05)
    return real(self, frames)


video._Encoder.write = write
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_slowmo_stopped_by_a_signal_leaves_no_file(
    clip, tmp_path, tiny_model, python, subprocess_env, signame, code
):
    """Ctrl-C and SIGTERM (kill, docker stop) both remove the hidden temporary output."""
    import signal
    import subprocess

    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = ["slowmo", str(clip), "-o", str(out_dir / "o.mp4"), "--model", str(folder)]
    args += ["--batch-size", "1", "--device", "cpu"]
    proc = subprocess.Popen(
        [python, "-c", _STOPPED_MID_RUN, *args],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        assert [p.name for p in out_dir.iterdir()][0].endswith(".tmp")  # the hidden output
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert list(out_dir.iterdir()) == []
    assert err.strip().splitlines()[-1] in ("blurvid: interrupted", "blurvid: stopped (SIGTERM)")


def test_progress_shows_frames_per_second_and_the_time_left(clip, tmp_path, tiny_model, capsys):
    slow_motion(clip, tmp_path / "out.mp4", model=tiny_model, batch_size=2, progress=True)
    err = capsys.readouterr().err
    assert "slowmo" in err and "frame/s" in err
    assert "8/8 [" in err and "<00:00" in err  # elapsed<remaining: the ETA


_PAGE_FAULTS = """
import resource, sys
import torch
sys.path.insert(0, sys.argv[1])
from conftest import make_tiny_model
from blurvid._heap import reuse_freed_memory

torch.set_num_threads(1)  # per-thread arenas: the counts would depend on the thread count
g = make_tiny_model().eval()
x = torch.rand(1, 3, 544, 960)  # the 7 output frames: 44 MB, above glibc's mmap threshold


def faults():
    with torch.inference_mode():
        g(x)  # the first pass may grow the heap
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        g(x)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


before = faults()
with reuse_freed_memory() as applies:
    inside = faults()
print(applies, before, inside, faults())
"""


def test_freed_memory_is_reused_inside_and_given_back_after(python, subprocess_env):
    """glibc maps every large block afresh, so each forward pass of G on a large frame
    touches fresh pages (a page fault each, zeroed by the kernel); inside reuse_freed_memory
    the freed feature maps serve the next pass, and afterwards the allocator's defaults are
    back. In a fresh process: the allocator's state depends on what ran before."""
    import subprocess

    tests = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [python, "-c", _PAGE_FAULTS, tests],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    applies, before, inside, after = done.stdout.split()
    if applies != "True":
        pytest.skip("not glibc: the allocator is left alone")
    # measured: about 1/7 (2 threads) to 1/20 of the faults inside; a margin for any machine
    assert int(inside) < int(before) / 4 and int(after) > int(before) / 2


# ----------------------------------------------------------------------------- max_side="auto"
class SizeSpy(Generator):
    """A G that records the size of every input it is given (frames: the input repeated)."""

    def __init__(self) -> None:
        super().__init__(GeneratorConfig(width=8))
        self.sizes: list[tuple[int, int]] = []
        self.eval()  # run as it is (a train-mode G would run as a copy, its list unseen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes += [tuple(x.shape[-2:])] * x.shape[0]
        return x.unsqueeze(1).repeat(1, 7, 1, 1, 1)


AUTO_SIDE = 192  # frames of the auto clips: 192x192, two 96 px tiles of the blur estimate a side


@pytest.fixture(scope="module")
def auto_clips(tmp_path_factory) -> dict[str, Path]:
    """Two 4-frame clips of one procedural dead-leaves scene: ``shaken``, the training data's
    camera shake with a 90 px path (3.75x the top of the training range 4-24 px) on every
    frame; ``sharp``, the scene moving 3 px per frame without blur."""
    from blurvid.data import item_generator, render_shake
    from blurvid.data.leaves import leaves_image
    from blurvid.train.blur_extent import sample_config

    scene = leaves_image((320, 320), generator=torch.Generator().manual_seed(0))
    cfg = sample_config(90.0, realism=False, size=AUTO_SIDE).replace(photo_scale=(1.0, 1.0))
    shaken = [render_shake(scene, cfg, item_generator(i, 90))["blurry"] for i in range(4)]
    sharp = [scene[:, 40 : 40 + AUTO_SIDE, 40 + 3 * i : 40 + 3 * i + AUTO_SIDE] for i in range(4)]
    folder = tmp_path_factory.mktemp("auto_clips")

    def u8(frames: list[torch.Tensor]) -> list[np.ndarray]:
        return [(f.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy() for f in frames]

    return {
        "shaken": write_clip(folder / "shaken.mp4", u8(shaken)),
        "sharp": write_clip(folder / "sharp.mp4", u8(sharp)),
    }


def test_a_long_blur_picks_a_smaller_working_size_than_a_sharp_clip(auto_clips):
    from blurvid.video import clip_scale
    from blurvid.working_scale import FULL_SIZE_PX, NO_BLUR_PX

    shaken, sharp = clip_scale(auto_clips["shaken"]), clip_scale(auto_clips["sharp"])
    assert shaken.blur_px > FULL_SIZE_PX and shaken.max_side < AUTO_SIDE
    assert sharp.blur_px < NO_BLUR_PX < shaken.blur_px and sharp.max_side is None


@pytest.mark.parametrize("factor", [7, 42])
def test_auto_runs_g_at_one_size_for_the_whole_clip_and_writes_the_input_size(
    auto_clips, tmp_path, factor
):
    """Every pass of G (one input frame each, and the recursion's pairs) sees the one working
    size of the clip's plan; the video comes back at the input size."""
    from blurvid.api import working_size

    g = SizeSpy()
    out = tmp_path / "out.mp4"
    result = slow_motion(auto_clips["shaken"], out, model=g, factor=factor, max_side="auto",
                         batch_size=1, progress=False)  # fmt: skip
    plan = result.scale
    assert plan is not None and plan.max_side < AUTO_SIDE
    passes = 4 if factor == 7 else 4 * 7  # 4 frames, then 4 x 6 pairs
    assert g.sizes == [working_size(AUTO_SIDE, AUTO_SIDE, plan.max_side)] * passes
    info = probe_video(out)
    assert (info.width, info.height, info.frames) == (AUTO_SIDE, AUTO_SIDE, 4 * factor)


@pytest.mark.parametrize("gate", [False, True])
def test_auto_on_a_sharp_clip_keeps_its_size_and_frames(auto_clips, tmp_path, gate):
    """Without blur G never runs at a smaller size, and the video keeps the input size.
    Without the motion gate, under 2 px G does not run at all (the frames are the input's);
    with it G runs at full size and the gate decides per pixel."""
    if gate:
        pytest.importorskip("cv2")
    g = SizeSpy()
    out = tmp_path / "out.mp4"
    result = slow_motion(auto_clips["sharp"], out, model=g, max_side="auto", crf=0,
                         progress=False, motion_gate=gate)  # fmt: skip
    assert result.scale.weight == 0.0 and result.motion_gate is gate
    assert g.sizes == ([(AUTO_SIDE, AUTO_SIDE)] * 4 if gate else [])
    frames, source = read_clip(out, "gray"), read_clip(auto_clips["sharp"], "gray")
    assert frames.shape == (28, AUTO_SIDE, AUTO_SIDE)
    # each input frame, 7 times (lossless H.264: the luma off by the conversions' rounding)
    diff = np.abs(frames.astype(int) - np.repeat(source, 7, axis=0).astype(int)).mean()
    assert diff < 1.0, (diff, result.scale)


def test_the_clip_scale_is_the_median_of_evenly_spaced_frames(clip, monkeypatch):
    """The square clip (8 frames, the square at x = 10 + 7 i): the frames read are those at
    the centres of 5 equal stretches (0, 2, 4, 5, 7), and the median of their lengths plans
    the clip."""
    from blurvid import video
    from blurvid.working_scale import auto_max_side, plan_scale

    read = []

    def fake(image, blur_px=None):
        if blur_px is None:  # a sampled frame: its index from the square's position
            row = image[:, 16:32].mean(0).mean(0)  # (W,) brightness of the square's rows
            i = round((float(torch.nonzero(row > 0.55).float().mean()) - 15.5) / STEP)
            read.append(i)
            blur_px = 10.0 * (i + 1)
        return plan_scale(image, blur_px=blur_px)

    monkeypatch.setattr(video, "plan_scale", fake)
    plan = video.clip_scale(clip)
    assert read == [0, 2, 4, 5, 7]
    assert plan.blur_px == 50.0 and plan.max_side == auto_max_side(H, W, 50.0)
    with pytest.raises(ConfigError, match="samples"):
        video.clip_scale(clip, samples=0)


def test_max_side_is_checked_before_any_work(clip, tmp_path, tiny_model):
    with pytest.raises(ConfigError, match="'auto'"):
        slow_motion(clip, tmp_path / "o.mp4", model=tiny_model, max_side="half", progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_cli_slowmo_max_side_auto(auto_clips, tmp_path, tiny_model, capsys):
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    out = tmp_path / "o.mp4"
    args = ["slowmo", str(auto_clips["shaken"]), "-o", str(out), "--model", str(folder)]
    assert cli.main([*args, "--max-side", "auto"]) == 0
    info = probe_video(out)
    assert (info.width, info.height, info.frames) == (AUTO_SIDE, AUTO_SIDE, 28)
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("working scale: blur ") and f"frames at {AUTO_SIDE}x{AUTO_SIDE}" in line
    with pytest.raises(SystemExit):
        cli.main([*args, "--max-side", "half", "--overwrite"])
    assert "integer long side in pixels, 'auto' or 'full'" in capsys.readouterr().err
    assert cli.main([*args, "--max-side", "full", "--overwrite"]) == 0  # the default, by name
    assert "working scale" not in capsys.readouterr().out
    assert probe_video(out).frames == 28


def test_auto_reads_the_sampled_frames_as_photos_g_probe_included(
    auto_clips, tmp_path, monkeypatch
):
    """``slow_motion(..., max_side="auto")`` reads each sampled frame with the photo rule of
    the model it runs (``api._plan_auto``: the estimate and G's probe for long blur), and so
    does ``clip_scale(..., model=...)``: a sharp clip read as 40 px runs at the size for 40 px."""
    import blurvid.api as api
    from blurvid.api import working_size
    from blurvid.video import clip_scale
    from blurvid.working_scale import ScalePlan, auto_max_side

    seen = []

    def fake(g, x, *args):
        seen.append(tuple(x.shape))
        return ScalePlan(40.0, None, 1.0), {}

    monkeypatch.setattr(api, "_plan_auto", fake)
    g = SizeSpy()
    result = slow_motion(auto_clips["sharp"], tmp_path / "o.mp4", model=g, max_side="auto",
                         batch_size=1, progress=False, motion_gate=False)  # fmt: skip
    side = auto_max_side(AUTO_SIDE, AUTO_SIDE, 40.0)
    assert result.scale.blur_px == 40.0 and result.scale.max_side == side
    assert len(seen) == 4 and all(s == (1, 3, AUTO_SIDE, AUTO_SIDE) for s in seen)
    assert g.sizes == [working_size(AUTO_SIDE, AUTO_SIDE, side)] * 4
    monkeypatch.setattr(api, "plan_working_scale", lambda f, model: ScalePlan(40.0, None, 1.0))
    assert clip_scale(auto_clips["sharp"], model=g).blur_px == 40.0
    assert clip_scale(auto_clips["sharp"]).blur_px < 2.0  # without a model: the estimate
