"""Video in, slow motion out: every blurry frame of a clip becomes 7 (or 42) sharp frames.

:func:`slow_motion` decodes a clip with PyAV (``pip install 'blurvid[video]'``), runs the
generator on batches of input frames (the recursion of :func:`blurvid.interpolate_recursive`
for ``factor=42``), puts the frames of every input frame in one consistent time order
(:class:`blurvid.order.ClipOrienter`) and encodes H.264 at ``fps x factor`` (``speed="realtime"``, same
duration) or at the input fps (``speed="slow"``, ``factor`` times longer). It streams: memory
holds one batch of input frames and their outputs, whatever the clip's length.

Frame order: G cannot know which way time runs inside one blurry frame (the blur integral is
the same both ways), so each frame's 7 outputs come in either order. Per input frame the
order is chosen that agrees with the clip's motion: the optical flow between the previous and
the next input frame predicts the scene at the first and last output's time
(:func:`blurvid.order.motion_reverse_mask`; without OpenCV, the pixel rule of
:func:`choose_order`: the first output continues the previous frame's last output).

Decisions: a variable frame rate is refused (:class:`~blurvid.errors.VariableFrameRateError`,
the message gives the ``ffmpeg`` line that fixes it); still images are refused (use
``blurvid extract``); the rotation (display matrix) and the colour range and matrix of the
input are written to the output; audio is dropped or kept in time with the video (slowed
down with ``atempo``, pitch kept, for ``speed="slow"``). The output is written to a temporary
file beside it and renamed at the end: an error or Ctrl-C leaves no partial file.

Working scale: ``max_side=N`` runs G on frames downscaled to long side ``N`` and writes the
video at that size. ``max_side="auto"`` decides the scale once for the whole clip
(:func:`clip_scale`: a clip has one camera and one exposure time, and a size that changed from
frame to frame would make the sharpness jump): the median blur length of
:data:`AUTO_SAMPLES` evenly spaced frames, read before the main pass, gives one
:class:`~blurvid.working_scale.ScalePlan`; G runs at its size, the time order is chosen there,
and the frames come back at the input size as for ``extract_frames(max_side="auto")``
(:func:`~blurvid.working_scale.to_input_size`, :func:`~blurvid.working_scale.blend_to_input`).

Do no harm: where the neighbouring frames show that a pixel does not move, G's frames (which
invent motion on sharp input) give way to the input, per pixel (:mod:`blurvid.motion_gate`,
``motion_gate=True``).
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .errors import (
    BlurvidError,
    ConfigError,
    EmptyVideoError,
    NotAVideoError,
    OutputExistsError,
    OutputNotWritableError,
    UnsupportedCodecError,
    VariableFrameRateError,
    VideoError,
    require,
)
from .model import Generator
from .order import ClipOrienter, _flow_available, choose_order, orient_groups, thumbnail
from .working_scale import ScalePlan, blend_to_input, plan_scale, to_input_size

__all__ = [
    "ClipOrienter",
    "SlowMotionResult",
    "VideoInfo",
    "choose_order",
    "clip_scale",
    "probe_video",
    "slow_motion",
]

#: Output frames per input frame -> recursion depth, for the paper's 7-frame G (a G of T frames:
#: T and T x (T - 1), see :func:`factors_for`).
FACTORS = {7: 1, 42: 2}
SPEEDS = ("realtime", "slow")
AUDIO = ("drop", "keep")
#: Output suffix -> container format; all get H.264 (yuv420p).
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: A clip is refused as variable-frame-rate when more than this share of its frame
#: intervals differ from the median interval by more than ``VFR_TOLERANCE`` of it.
VFR_TOLERANCE = 0.25
VFR_SHARE = 0.01
#: Pixels of input frames per generator batch (x6 for factor 42).
BATCH_PIXELS = 2_100_000
#: Frames of a clip whose blur is read for ``max_side="auto"`` (:func:`clip_scale`).
AUTO_SAMPLES = 5
_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe"}


def factors_for(num_frames: int) -> dict[int, int]:
    """``{output frames per input frame: recursion depth}`` for a G of ``num_frames`` frames:
    one pass (``T``) or the paper's recursion (``T x (T - 1)``, Sec. 4.3).

    Examples:
        >>> factors_for(7)
        {7: 1, 42: 2}
        >>> factors_for(5)
        {5: 1, 20: 2}
    """
    return {num_frames: 1, num_frames * (num_frames - 1): 2}


# ----------------------------------------------------------------------------- recursion
# (the time-order rule lives in blurvid.order; ClipOrienter and choose_order stay importable here)
def _recurse(frames: torch.Tensor, depth: int, run) -> torch.Tensor:
    """Deeper levels of the recursion (paper Sec. 4.3): neighbouring frames are averaged
    into a blurry image and re-expanded by G; each new group is oriented from ``I_k`` to
    ``I_k+1`` (:func:`choose_order` with both neighbours), so the order never flips inside."""
    for _ in range(depth - 1):
        b, n, c, h, w = frames.shape
        pairs = frames[:, :-1].add(frames[:, 1:]).mul_(0.5)
        sub = run(pairs.reshape(b * (n - 1), c, h, w))
        sub = sub.reshape(b, n - 1, sub.shape[1], c, h, w)
        neighbours = thumbnail(frames)
        sub, _ = orient_groups(sub, neighbours[:, :-1], neighbours[:, 1:])
        frames = sub.reshape(b, -1, c, h, w)
    return frames


# ----------------------------------------------------------------------------- probing
@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reads from a clip without decoding it all."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int
    codec: str
    rotation: int
    color_range: int
    colorspace: int
    audio: bool


def _open_input(av: Any, path: Path) -> Any:
    if not path.is_file():
        raise NotAVideoError(f"{path}: no such file; pass the path of a video (mp4, mov, mkv...)")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise NotAVideoError(
            f"{path} is not a video FFmpeg can read ({exc.__class__.__name__}); "
            "pass an mp4, mov, mkv... file"
        ) from None
    if container.format.name in _IMAGE_FORMATS or not container.streams.video:
        container.close()
        what = "a still image" if container.streams.video else "a file without a video stream"
        raise NotAVideoError(
            f"{path} is {what}, not a video; for photos use `blurvid extract` instead"
        )
    return container


def probe_video(video: str | os.PathLike) -> VideoInfo:
    """Check a clip and read its size, frame rate, frame count, codec, rotation, colour
    range and audio, by demuxing its packets (no decoding except the first frame).

    Raises:
        NotAVideoError: missing file, not a container FFmpeg reads, no video stream, or a
            still image.
        UnsupportedCodecError: no decoder for its video codec in this PyAV build.
        EmptyVideoError: the video stream holds no frames.
        VariableFrameRateError: the intervals between frames vary (see ``VFR_TOLERANCE``).
        DependencyError: PyAV is not installed (``pip install 'blurvid[video]'``).
    """
    av = require("av", "video", "reading videos")
    path = Path(video)
    with _open_input(av, path) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name if stream.codec_context is not None else "unknown"
        _require_codec(
            av,
            codec,
            "r",
            f"{path}: no decoder for its video codec {codec!r} in this PyAV/FFmpeg build; "
            "re-encode it to H.264 (ffmpeg -i IN -c:v libx264 OUT.mp4)",
        )
        count, stamps = 0, []
        for packet in container.demux(stream):
            if packet.size:
                count += 1
                t = packet.pts if packet.pts is not None else packet.dts
                if t is not None:
                    stamps.append(t)
        pts = sorted(stamps)
        if not count:
            raise EmptyVideoError(f"{path} has a video stream but no frames; pass another clip")
        first = _first_frame(av, container, stream, path)
        deltas = [b - a for a, b in zip(pts, pts[1:])]
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if deltas:
            median = statistics.median(deltas)
            if median <= 0:
                raise VariableFrameRateError(
                    f"{path}: its frame timestamps do not increase; re-encode it at a "
                    "constant rate first: ffmpeg -i IN -vf fps=30 -c:v libx264 OUT.mp4"
                )
            off = sum(abs(d - median) > VFR_TOLERANCE * median for d in deltas)
            if off > VFR_SHARE * len(deltas):
                raise VariableFrameRateError(
                    f"{path} has a variable frame rate ({off} of {len(deltas)} frame intervals "
                    f"differ from the median by > {VFR_TOLERANCE:.0%}); re-encode it at a "
                    "constant rate first: ffmpeg -i IN -vf fps=30 -c:v libx264 OUT.mp4"
                )
            fps = 1 / (median * stream.time_base)
        if not fps:
            raise VariableFrameRateError(f"{path}: no frame rate; re-encode it with ffmpeg -r 30")
        return VideoInfo(
            path=path,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=Fraction(fps).limit_denominator(1001),
            frames=count,
            codec=codec,
            rotation=int(round(first.rotation or 0)) if hasattr(first, "rotation") else 0,
            color_range=int(first.color_range or 0),
            colorspace=int(first.colorspace or 0),
            audio=bool(container.streams.audio),
        )


def _require_codec(av: Any, name: str, mode: str, message: str) -> None:
    try:
        av.codec.Codec(name, mode)
    except Exception:  # noqa: BLE001 - PyAV raises several kinds for unknown codecs
        raise UnsupportedCodecError(message) from None


def _first_frame(av: Any, container: Any, stream: Any, path: Path) -> Any:
    container.seek(0, stream=stream)
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as exc:
        raise UnsupportedCodecError(
            f"{path}: its {stream.codec_context.name!r} video cannot be decoded ({exc}); "
            "re-encode it to H.264 (ffmpeg -i IN -c:v libx264 OUT.mp4)"
        ) from None
    raise EmptyVideoError(f"{path} has video packets but no decodable frame; pass another clip")


# ----------------------------------------------------------------------------- output
def _check_output(output: Path, overwrite: bool) -> str:
    fmt = CONTAINERS.get(output.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"output {output} must end in {', '.join(CONTAINERS)} (H.264 video), "
            f"got {output.suffix or 'no suffix'!r}"
        )
    if output.is_dir():
        raise OutputNotWritableError(f"output {output} is a folder; pass a file name like out.mp4")
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output} exists already; pass overwrite=True (CLI: --overwrite)")
    folder = output.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise OutputNotWritableError(
            f"cannot write {output}: {folder} is not a writable folder; pick another output path"
        )
    return fmt


def _exact(av: Any) -> Any:
    """swscale flags for exact colour conversion: its default YUV -> RGB path is ~1.2 levels
    too dark on average (measured on the project's BT.709 clips); with these, 0.01."""
    interp = av.video.reformatter.Interpolation
    if not hasattr(interp, "ACCURATE_RND"):  # pragma: no cover - older PyAV
        return None
    return interp.BILINEAR | interp.ACCURATE_RND | interp.FULL_CHR_H_INT


def _to_tensor(av: Any, frames: list[Any], info: VideoInfo) -> torch.Tensor:
    import numpy as np

    kw: dict[str, Any] = {"format": "rgb24", "interpolation": _exact(av)}
    if info.color_range:
        kw["src_color_range"] = info.color_range
    arr = np.stack([f.to_ndarray(**kw) for f in frames])  # (B, H, W, 3) uint8
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


class _Encoder:
    """H.264 video stream of the output, tagged with the input's rotation and colour range."""

    def __init__(self, av: Any, container: Any, info: VideoInfo, rate: Fraction, crf: int):
        self.av, self.container = av, container
        self.stream = container.add_stream("libx264", rate=rate)
        self.w, self.h = info.width + info.width % 2, info.height + info.height % 2
        s = self.stream
        s.width, s.height, s.pix_fmt = self.w, self.h, "yuv420p"
        s.codec_context.time_base = 1 / rate
        s.options = {"crf": str(crf)}
        self.fmt: dict[str, Any] = {"format": "yuv420p", "interpolation": _exact(av)}
        if info.color_range:
            s.codec_context.color_range = info.color_range
            self.fmt["dst_color_range"] = info.color_range
        if info.colorspace and info.colorspace != 2:  # 2 = unspecified: BT.601 both ways
            s.codec_context.colorspace = info.colorspace
            self.fmt["dst_colorspace"] = info.colorspace  # the matrix the input decoded with
        if info.rotation and hasattr(s, "set_display_rotation"):
            s.set_display_rotation(info.rotation)
        self.pts = 0

    def write(self, frames: torch.Tensor) -> None:
        """Encode ``(N, 3, H, W)`` float frames in [0, 1]."""
        pad = (0, self.w - frames.shape[-1], 0, self.h - frames.shape[-2])
        if any(pad):
            frames = F.pad(frames, pad, mode="replicate")
        u8 = frames.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
        for img in u8.permute(0, 2, 3, 1).contiguous().cpu().numpy():
            frame = self.av.VideoFrame.from_ndarray(img, format="rgb24").reformat(**self.fmt)
            frame.pts = self.pts
            self.pts += 1
            self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))


class _Audio:
    """The input's first audio stream, re-encoded to AAC; slowed down by ``slow`` (atempo
    chain, pitch kept) when the video is slowed down."""

    def __init__(self, av: Any, container: Any, source: Any, slow: int) -> None:
        self.container = container
        rate = source.codec_context.sample_rate or 48000
        self.stream = container.add_stream("aac", rate=rate)
        self.stream.codec_context.layout = source.codec_context.layout
        self.graph: Any = None
        if slow > 1:
            graph = av.filter.Graph()
            node = graph.add_abuffer(template=source)
            tempo = 1.0 / slow
            while tempo < 0.5 - 1e-9:  # atempo takes 0.5..100 per instance
                nxt = graph.add("atempo", "0.5")
                node.link_to(nxt)
                node, tempo = nxt, tempo / 0.5
            nxt = graph.add("atempo", f"{tempo:.6f}")
            node.link_to(nxt)
            sink = graph.add("abuffersink")
            nxt.link_to(sink)
            graph.configure()
            self.graph = graph

    def write(self, frame: Any) -> None:
        if self.graph is None:
            frame.pts = None
            self.container.mux(self.stream.encode(frame))
            return
        self.graph.push(frame)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                out = self.graph.pull()
            except (BlockingIOError, EOFError):  # PyAV's EAGAIN / EOF derive from these
                return
            out.pts = None
            self.container.mux(self.stream.encode(out))

    def close(self) -> None:
        if self.graph is not None:
            self.graph.push(None)  # flush the atempo chain
            self._drain()
        self.container.mux(self.stream.encode(None))


# ----------------------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class SlowMotionResult:
    """What :func:`slow_motion` wrote."""

    path: Path
    input_frames: int
    output_frames: int
    fps: Fraction
    reversed_frames: int
    seconds: float
    #: With ``max_side="auto"``: the clip's plan (blur length, working size, weight of G).
    scale: ScalePlan | None = None
    #: Whether still pixels were kept as the input (``motion_gate`` asked for and OpenCV's
    #: flow installed; :mod:`blurvid.motion_gate`).
    motion_gate: bool = False


def _batches(av: Any, container: Any, stream: Any, size: int, path: Path) -> Iterator[list]:
    batch: list[Any] = []
    try:
        for frame in container.decode(stream):
            batch.append(frame)
            if len(batch) == size:
                yield batch
                batch = []
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: decoding failed ({exc}); the file may be damaged") from None
    if batch:
        yield batch


def sample_indices(frames: int, count: int = AUTO_SAMPLES) -> list[int]:
    """The frames :func:`clip_scale` reads in a clip of ``frames`` frames: those at the
    centres of ``count`` equal stretches of it (every frame of a shorter clip).

    Examples:
        >>> sample_indices(8), sample_indices(300), sample_indices(3)
        ([0, 2, 4, 5, 7], [30, 90, 150, 210, 270], [0, 1, 2])
    """
    return sorted({min(frames - 1, int((i + 0.5) * frames / count)) for i in range(count)})


def median_plan(
    frames: list[torch.Tensor], read: Callable[[torch.Tensor], float] | None = None
) -> ScalePlan:
    """One :class:`~blurvid.working_scale.ScalePlan` for frames ``(3, H, W)`` of one clip:
    :func:`~blurvid.working_scale.plan_scale` of the median of their blur lengths (frames
    too small to read: full size, G's frames). ``read``: a frame's blur length (default:
    the estimate, ``plan_scale(frame).blur_px``; with G's probe,
    :func:`blurvid.api.plan_working_scale`)."""
    lengths = [read(f) if read is not None else plan_scale(f).blur_px for f in frames]
    if any(math.isnan(v) for v in lengths):
        return plan_scale(frames[0])
    return plan_scale(frames[0], blur_px=statistics.median(lengths))


def _sample_frames(av: Any, info: VideoInfo, count: int) -> list[torch.Tensor]:
    """The :func:`sample_indices` frames ``(3, H, W)`` of the clip, decoded in one pass up to
    the last one picked."""
    picks = sample_indices(info.frames, count)
    out: list[torch.Tensor] = []
    with _open_input(av, info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frames in enumerate(_batches(av, container, stream, 1, info.path)):
            if i in picks:
                out.append(_to_tensor(av, frames, info)[0])
            if i >= picks[-1]:
                break
    return out


def _clip_plan(
    av: Any, info: VideoInfo, samples: int, read: Callable[[torch.Tensor], float] | None = None
) -> ScalePlan:
    return median_plan(_sample_frames(av, info, samples), read)


def clip_scale(
    video: str | os.PathLike,
    *,
    samples: int = AUTO_SAMPLES,
    model: Generator | str | None = None,
) -> ScalePlan:
    """The working scale ``slow_motion(video, ..., max_side="auto")`` uses for the whole clip.

    Rule: ``samples`` frames are decoded at the centres of ``samples`` equal stretches of the
    clip (all of a shorter clip), the blur length of each is read as for a photo
    (:func:`blurvid.api.plan_working_scale` with ``model``: the estimate, and G's own motion
    at 1/4 and 1/8 of the size for long blur where the frames are large enough; without
    ``model`` the estimate alone,
    :func:`blurvid.blur_extent.estimate_blur_extent`) and their **median** is the clip's
    blur length; :func:`blurvid.working_scale.plan_scale` turns it into one plan for every
    frame: full size up to 24 px, else the size that brings the blur to 16 px; under 2 px G is
    not run (the frames are the input's), up to 6 px its frames are blended with the input.
    Frames too small to read (under 32 px a side) run at full size.

    Returns:
        A :class:`~blurvid.working_scale.ScalePlan` (``blur_px``, ``max_side``, ``weight``).

    Raises:
        ConfigError: ``samples`` is not an integer >= 1.
        NotAVideoError, EmptyVideoError, VariableFrameRateError, UnsupportedCodecError:
            see :func:`probe_video`.
    """
    from .checks import check_int

    check_int(samples, "samples", minimum=1)
    av = require("av", "video", "reading videos")
    info = probe_video(video)
    if model is None:
        return _clip_plan(av, info, samples)
    from .api import plan_working_scale

    return _clip_plan(av, info, samples, lambda f: plan_working_scale(f, model=model).blur_px)


def slow_motion(
    video: str | os.PathLike,
    output: str | os.PathLike,
    *,
    factor: int = 7,
    speed: str = "realtime",
    audio: str = "drop",
    model: Generator | str | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    tile: int | None = None,
    batch_size: int | None = None,
    crf: int = 18,
    overwrite: bool = False,
    progress: bool = True,
    max_side: int | str | None = None,
    motion_gate: bool = True,
) -> SlowMotionResult:
    """Turn every blurry frame of a clip into ``factor`` sharp frames and write the result.

    Args:
        video: path of the input clip (anything FFmpeg reads; constant frame rate).
        output: ``.mp4``, ``.mov`` or ``.mkv`` path (H.264); written atomically.
        factor: 7 (one pass of G per frame) or 42 (the recursion, paper Sec. 4.3).
        speed: ``"realtime"``: output at ``fps x factor``, same duration; ``"slow"``:
            output at the input fps, ``factor`` times longer.
        audio: ``"drop"`` (default) or ``"keep"`` (re-encoded to AAC; slowed down ``factor``
            times with its pitch kept when ``speed="slow"``).
        model: a :class:`~blurvid.Generator` or a name/path for :func:`blurvid.load_model`
            (default: the bundled model).
        device: ``"cpu"``, ``"cuda"``...; default: CUDA when available.
        dtype: ``"float32"`` (default) or ``"float16"``/``"bfloat16"`` on CUDA.
        tile: run G in tiles of this many pixels (automatic above 2.1 MP, e.g. 4K).
        batch_size: input frames per batch (default: as many as fit in 2.1 MP, at least 1).
        crf: x264 quality (0-51, lower is better; 18 is visually lossless).
        overwrite: replace ``output`` when it exists.
        progress: show a progress bar (frames/s and ETA) on stderr.
        max_side: working resolution (as for :func:`blurvid.extract_frames`): frames whose
            long side is larger are downscaled (antialiased) to it before G, and **the output
            video has that size** (:func:`blurvid.api.working_size`). Default: full size.
            ``"auto"``: one working size for the whole clip from its blur
            (:func:`clip_scale` with the model: the median blur length of
            :data:`AUTO_SAMPLES` evenly spaced frames, each read as for a photo, G's probe
            for long blur included, before the main pass); G runs and the time order is chosen at that
            size, and **the output video has the input size** (bilinear, plus the input's
            own detail above the working resolution). Without the motion gate a clip read
            as without blur (under 2 px) is written as its own frames, each repeated
            ``factor`` times, without running G (2-6 px: blended with them); with it (the
            default) the gate decides per pixel instead of one weight for the clip.
        motion_gate: do no harm where the clip does not move (default on; needs OpenCV's
            flow, ``pip install 'blurvid[flow]'``, else off): per pixel, the blur the
            neighbouring frames' motion allows decides how much of G's frames to keep
            (the input under 2 px, G's frames from 6 px, :mod:`blurvid.motion_gate`); a
            still background stays the input instead of G's invented motion.

    Returns:
        A :class:`SlowMotionResult` (path, frame counts, output fps, flipped groups, time,
        and with ``max_side="auto"`` the clip's :class:`~blurvid.working_scale.ScalePlan`).

    Raises:
        ConfigError: a bad ``factor``, ``speed``, ``audio``, ``crf`` or output suffix.
        OutputExistsError: ``output`` exists and ``overwrite`` is False.
        OutputNotWritableError: ``output``'s folder cannot be written.
        NotAVideoError, EmptyVideoError, VariableFrameRateError, UnsupportedCodecError:
            see :func:`probe_video`.
    """
    import time

    from .api import (
        _extract,
        _get_model,
        _is_auto,
        _plan_auto,
        _resolve_dtype,
        _runnable,
        _to_working_size,
        resolve_device,
        working_size,
    )
    from .checks import check_max_side, check_tile
    from .motion_gate import MotionGate

    auto = _is_auto(max_side)
    fixed = None if auto else check_max_side(max_side)
    check_tile(tile, model.config.size_multiple if isinstance(model, Generator) else None)
    # the factor's check: now for a model object or the (7-frame) default, after loading for
    # a model given by another name
    t = model.config.num_frames if isinstance(model, Generator) else None
    known = factors_for(t) if t is not None else FACTORS
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
        raise ConfigError(f"factor must be one of {sorted(known)}, got {factor!r}")
    if (t is not None or model in (None, "default")) and factor not in known:
        model_words = f" for this {t}-frame model" if t is not None else ""
        raise ConfigError(f"factor must be one of {sorted(known)}{model_words}, got {factor!r}")
    if not isinstance(motion_gate, bool):
        raise ConfigError(f"motion_gate must be True or False, got {motion_gate!r}")
    if speed not in SPEEDS:
        raise ConfigError(f"speed must be one of {', '.join(SPEEDS)}, got {speed!r}")
    if audio not in AUDIO:
        raise ConfigError(f"audio must be one of {', '.join(AUDIO)}, got {audio!r}")
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise ConfigError(f"crf must be an integer in [0, 51], got {crf!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ConfigError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
    out = Path(output)
    fmt = _check_output(out, overwrite)
    info = probe_video(video)  # every input check, before the model is loaded
    av = require("av", "video", "writing videos")
    _require_codec(
        av,
        "libx264",
        "w",
        "this PyAV build has no H.264 encoder (libx264); install the PyAV wheel from PyPI "
        "(`pip install 'blurvid[video]'`)",
    )
    from tqdm import tqdm

    from ._fs import atomic_path
    from ._heap import reuse_freed_memory

    dev = resolve_device(device, model if isinstance(model, Generator) else None)
    dt = _resolve_dtype(dtype, dev)  # a bad dtype fails here, not after the first batch
    g = _runnable(_get_model(model, dev, dt), dev, dt)  # once; the caller's model stays as is
    plan = None
    if auto:  # the photo rule on sampled frames, G's probe for long blur included

        def read(frame: torch.Tensor) -> float:
            return _plan_auto(g, frame[None], dev, dtype, tile, None, None)[0].blur_px

        plan = _clip_plan(av, info, AUTO_SAMPLES, read)
    side = plan.max_side if plan is not None else fixed
    h, w = working_size(info.height, info.width, side)
    work = replace(info, width=w, height=h)  # what G sees
    shape = info if auto else work  # what the output is: the input's size with "auto"
    frames_per_pass = g.config.num_frames
    depths = factors_for(frames_per_pass)
    if factor not in depths:  # a model given by name: its frame count is known only now
        raise ConfigError(
            f"factor must be one of {sorted(depths)} for this {frames_per_pass}-frame model, "
            f"got {factor!r}"
        )
    depth = depths[factor]
    # the outputs of a batch are held at the output size (the input's, with "auto")
    per_frame = shape.width * shape.height * (frames_per_pass - 1 if depth > 1 else 1)
    size = batch_size or max(1, min(16, BATCH_PIXELS // per_frame))
    rate = info.fps * factor if speed == "realtime" else info.fps

    def run(x: torch.Tensor) -> torch.Tensor:
        return _extract(g, x, dev, dtype, tile, None, None)

    orienter = ClipOrienter()
    gate = MotionGate(num_frames=frames_per_pass) if motion_gate and _flow_available() else None
    start = time.perf_counter()
    try:
        # freed feature maps stay in the heap for the next batch: no fresh pages to zero
        # (a third of the CPU time went to page faults in the kernel, blurvid._heap)
        with reuse_freed_memory(), atomic_path(out) as tmp:
            with av.open(str(info.path)) as src, av.open(str(tmp), "w", format=fmt) as dst:
                vstream = src.streams.video[0]
                vstream.thread_type = "AUTO"
                encoder = _Encoder(av, dst, shape, rate, crf)
                sound = None
                if audio == "keep" and src.streams.audio:
                    slow = factor if speed == "slow" else 1
                    sound = _Audio(av, dst, src.streams.audio[0], slow)
                    _copy_audio(av, info.path, sound)
                bar = tqdm(
                    total=info.frames, unit="frame", desc="slowmo", disable=not progress,
                    dynamic_ncols=True,
                )  # fmt: skip
                with bar:
                    batches = _batches(av, src, vstream, size, info.path)
                    frames = next(batches, None)
                    while frames is not None:
                        upcoming = next(batches, None)  # one batch of look-ahead
                        full = _to_tensor(av, frames, info)
                        if plan is not None and plan.weight <= 0.0 and gate is None:  # the input
                            result = full.unsqueeze(1).expand(-1, factor, -1, -1, -1)
                        else:
                            x = _to_working_size(full, side)
                            hint = None  # the next input frame: the motion after this batch
                            if upcoming:
                                first = _to_tensor(av, upcoming[:1], info)
                                hint = _to_working_size(first, side)[0]
                            result = run(x)
                            result, _ = orienter(result, x.to(result.device), hint)
                            result = _recurse(result, depth, run)
                            if gate is not None:  # still pixels: the input
                                result = gate(result, x.to(result.device), hint)
                            if plan is not None:  # back at the input size
                                full = full.to(result)
                                result = to_input_size(result, full)
                                if gate is None:  # else the gate decided, per pixel
                                    result = blend_to_input(result, full, plan.weight)
                        for group in result:
                            encoder.write(group)
                        bar.update(len(frames))
                        frames = upcoming
                encoder.close()
                if sound is not None:
                    sound.close()
    except OSError as exc:
        if isinstance(exc, BlurvidError):
            raise
        raise OutputNotWritableError(
            f"could not write {out} ({exc}); pick a writable output path or free disk space"
        ) from None
    return SlowMotionResult(
        path=out,
        input_frames=info.frames,
        output_frames=encoder.pts,
        fps=rate,
        reversed_frames=orienter.reversed_count,
        seconds=time.perf_counter() - start,
        scale=plan,
        motion_gate=gate is not None,
    )


def _copy_audio(av: Any, path: Path, sound: _Audio) -> None:
    """Audio goes through its own reader (it is small next to the video, and the muxer
    interleaves by timestamps), so the video loop stays a plain decode -> G -> encode."""
    with av.open(str(path)) as src:
        for frame in src.decode(src.streams.audio[0]):
            sound.write(frame)


# ----------------------------------------------------------------------------- CLI
def _cmd_slowmo(args: Any) -> int:
    from .api import resolve_device
    from .checks import check_max_side, check_tile
    from .hub import load_model

    if args.max_side == "full":
        args.max_side = None
    elif args.max_side != "auto":
        check_max_side(args.max_side, "--max-side")
    check_tile(args.tile, None, "--tile")
    _check_output(Path(args.output), args.overwrite)  # bad paths fail before the model loads
    info = probe_video(args.input)
    device = resolve_device(args.device)
    model = load_model(args.model, device=device, revision=args.revision)
    check_tile(args.tile, model.config.size_multiple, "--tile")
    result = slow_motion(
        args.input,
        args.output,
        factor=args.factor,
        speed=args.speed,
        audio=args.audio,
        model=model,
        device=device,
        tile=args.tile,
        batch_size=args.batch_size,
        crf=args.crf,
        overwrite=args.overwrite,
        progress=not args.quiet,
        max_side=args.max_side,
        motion_gate=not args.no_motion_gate,
    )
    if not args.quiet:
        print(
            f"{args.input}: {result.input_frames} frames -> {result.output_frames} frames at "
            f"{float(result.fps):.3g} fps -> {result.path} ({result.seconds:.1f} s)"
        )
        if result.scale is not None:
            print(f"working scale: {_describe_plan(result.scale, info, result.motion_gate)}")
        if not args.no_motion_gate and not result.motion_gate:
            print(
                "note: still pixels were not kept as the input (the motion gate needs "
                "OpenCV's optical flow: pip install 'blurvid[flow]')"
            )
    return 0


def _describe_plan(plan: ScalePlan, info: VideoInfo, gated: bool = False) -> str:
    """One line for a clip's :class:`~blurvid.working_scale.ScalePlan`, e.g. ``"blur 48 px:
    G at 427x240, frames at 1280x720"``; ``gated``: the motion gate replaced the plan's
    weight."""
    from .api import working_size

    if math.isnan(plan.blur_px):
        return f"frames too small to read the blur: G at full size ({info.width}x{info.height})"
    blur = f"blur {plan.blur_px:.1f} px"
    if plan.weight <= 0.0 and not gated:
        return f"{blur}: no blur, the input's frames (G not run)"
    h, w = working_size(info.height, info.width, plan.max_side)
    size = f"G at {w}x{h}, frames at {info.width}x{info.height}"
    if gated:
        size += ", still pixels kept as the input (motion gate)"
    elif plan.weight < 1.0:
        size += f", {plan.weight:.0%} G and {1 - plan.weight:.0%} input"
    return f"{blur}: {size}"


def add_slowmo_parser(sub: Any) -> None:
    """The ``blurvid slowmo`` subcommand (added to :mod:`blurvid.cli`)."""
    from .cli import _max_side_arg

    p = sub.add_parser(
        "slowmo",
        help="blurry video -> sharp slow motion (7x or 42x the frames)",
        description="Turn every blurry frame of a clip into 7 (or 42) sharp frames "
        "(needs blurvid[video]).",
    )
    p.add_argument("input", help="input video (constant frame rate)")
    p.add_argument("-o", "--output", required=True, help="output .mp4, .mov or .mkv")
    p.add_argument("--factor", type=int, default=7,
                   help="output frames per input frame: 7 or 42 with a 7-frame model (T or "
                   "T x (T - 1) with a T-frame one; default 7)")  # fmt: skip
    p.add_argument("--speed", choices=SPEEDS, default="realtime",
                   help="realtime: fps x factor, same duration (default); slow: input fps, "
                   "factor times longer")  # fmt: skip
    p.add_argument("--audio", choices=AUDIO, default="drop",
                   help="drop (default) or keep (slowed down with --speed slow)")  # fmt: skip
    p.add_argument("--model", default="default", help="'default', a folder, or a Hub repo id")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if any)")
    p.add_argument("--tile", type=int, default=None, help="run G in tiles (automatic for 4K)")
    p.add_argument("--batch-size", type=int, default=None, help="input frames per batch")
    p.add_argument("--max-side", type=_max_side_arg, default=None, metavar="N|auto|full",
                   help="downscale frames whose long side is over N pixels to N before G; "
                   "the output video has that size ('full', the default: full size). 'auto': "
                   "one size for the whole clip from the median blur length of 5 evenly "
                   "spaced frames, the output at the input size (docs/video.md)")  # fmt: skip
    p.add_argument("--no-motion-gate", action="store_true",
                   help="G's frames everywhere, also where the clip does not move (default: "
                   "still pixels stay the input; docs/video.md)")  # fmt: skip
    p.add_argument("--crf", type=int, default=18, help="x264 quality, 0-51 (default 18)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(handler=_cmd_slowmo)
