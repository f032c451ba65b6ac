"""``blurvid demo``: a local web page (Gradio) to try the model on your own photos.

Drop a blurry photo and get its frames as a strip and an animated GIF (optionally boomerang),
sized for a screen, as soon as the model is done; full-size downloads (PNG frames as a ZIP,
the strip as one PNG) are written on request. A depth slider gives 42 or 287 frames by
recursion, and a working-scale choice runs G at the size the blur's length picks
(``max_side="auto"``, the default, as ``extract_frames``': a sharp photo comes back as it is;
slow motion at full size) or at full size. The page serves on 127.0.0.1 unless told
otherwise. A bad upload (not an image, corrupt, too large) shows blurvid's one-line error on
the page; the server goes on.

Under load it stays bounded (:class:`Limits`, :mod:`blurvid._serving`): one extraction at a
time by default, requests queued behind it with their position and expected wait on the
page, a request dropped or stopped when its page goes away, the latest results kept within a
disk budget, and every file removed when the server stops (Ctrl-C or SIGTERM).

The work is done by :func:`process` and :func:`write_downloads`, which need no Gradio;
:func:`build_demo` and :func:`launch` need the ``demo`` extra (``pip install 'blurvid[demo]'``).
"""

from __future__ import annotations

import argparse
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from ._fs import atomic_path
from .errors import BlurvidError, ConfigError, InvalidImageError, require

__all__ = [
    "DemoResult",
    "Limits",
    "build_demo",
    "example_images",
    "launch",
    "process",
    "write_downloads",
]

#: Largest upload the demo reads, in bytes.
MAX_UPLOAD_BYTES = 50 * 2**20
#: Largest image the demo processes, in pixels (12 MP: about 20 s on 2 CPU cores, tiled).
MAX_PIXELS = 12_000_000
#: Budget of output pixels (frames x height x width) for recursion: 42 frames of 2.1 MP.
MAX_FRAME_PIXELS = 42 * 2_100_000
#: Frames shown in the strip and written to the strip PNG.
STRIP_FRAMES = 7
#: Long side, in pixels, of what the page shows (strip previews, animation); the downloads
#: keep the full size.
SCREEN_SIDE = 800
#: zlib level of the full-size PNGs: 1 takes a quarter of the default 6's time for files
#: 16 % larger (the 720p example photo: 0.07 s / 0.97 MB against 0.26 s / 0.83 MB).
PNG_LEVEL = 1
#: Recursion depths the demo offers (7, 42, 287 frames with the paper's 7-frame G; a G of ``T``
#: frames gives ``blurvid.api.num_recursive_frames(depth, T)``).
DEPTHS = (1, 2, 3)
#: Working scales the page offers (label, value): G at the size the blur's length picks
#: (``max_side="auto"``, the default; 7 frames, slow motion at full size), or at full size.
SCALES = (("Automatic, from the blur's length", "auto"), ("Full size", "full"))

Progress = Callable[[float, str], None]


@dataclass
class DemoResult:
    """What :func:`process` wrote. ``strip`` holds the previews shown in the strip and
    ``gif`` the animation, both at most :data:`SCREEN_SIDE` pixels on their long side;
    ``frames_file`` keeps the full-size frames for :func:`write_downloads`, which writes
    ``zip`` (every frame as a full-size PNG) and ``strip_png`` (the strip at full size)."""

    frames: int
    size: tuple[int, int]  # (width, height)
    seconds: float
    max_side: str | None = None  # "auto": the automatic working scale
    strip: list[Path] = field(default_factory=list)
    gif: Path | None = None
    zip: Path | None = None
    strip_png: Path | None = None
    frames_file: Path | None = None
    stem: str = "photo"

    @property
    def downloads(self) -> list[Path]:
        return [p for p in (self.gif, self.zip, self.strip_png) if p is not None]

    def summary(self) -> str:
        w, h = self.size
        scale = " at the automatic working scale" if self.max_side == "auto" else ""
        return f"{self.frames} frames of {w}x{h}{scale} in {self.seconds:.2f} s"


def example_images() -> list[Path]:
    """The example photos shipped with blurvid (wheel: ``blurvid/examples``; source checkout:
    ``examples/images``)."""
    here = Path(__file__).resolve().parent
    for folder in (here / "examples", here.parents[1] / "examples" / "images"):
        images = sorted(
            p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")
        )
        if images:
            return images
    return []


def _check_upload(path: Path, max_bytes: int, max_pixels: int) -> None:
    """Size checks before decoding: bytes on disk, then pixels from the header."""
    if not path.is_file():
        raise InvalidImageError(f"{path.name}: no such file; upload an image")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidImageError(
            f"{path.name} is {size / 2**20:.1f} MB; the demo takes files up to "
            f"{max_bytes / 2**20:.0f} MB: downscale or recompress it"
        )
    try:
        with Image.open(path) as img:
            w, h = img.size
    except Exception:  # not an image at all: read_image gives the library's message
        return
    if w * h > max_pixels:
        raise InvalidImageError(
            f"{path.name} is {w}x{h} = {w * h:,} pixels; the demo takes up to "
            f"{max_pixels:,} (start it with --max-pixels to change that): downscale it"
        )


def _frame_count(depth: int, num_frames: int) -> int:
    from .api import num_recursive_frames

    return num_recursive_frames(depth, num_frames)


def _check_depth(depth: Any, pixels: int, frame_pixels: int, num_frames: int = 7) -> int:
    if isinstance(depth, float) and depth.is_integer():
        depth = int(depth)  # sliders send floats
    if depth not in DEPTHS:
        counts = ", ".join(str(_frame_count(d, num_frames)) for d in DEPTHS)
        raise ConfigError(f"depth must be 1, 2 or 3 ({counts} frames), got {depth!r}")
    count = _frame_count(depth, num_frames)
    if count * pixels > frame_pixels:
        most = frame_pixels // count
        raise ConfigError(
            f"depth {depth} gives {count} frames: the demo allows it for images up to "
            f"{most:,} pixels and this one has {pixels:,}: choose a lower depth or a smaller image"
        )
    return int(depth)


def _check_scale(max_side: Any, depth: int) -> str | None:
    """The working scale: ``None`` (full size) or ``"auto"``, which is for 7 frames (depth
    1): slow motion (depth 2 and 3) runs at full size."""
    if max_side not in (None, "auto"):
        raise ConfigError(f"the working scale must be None (full size) or 'auto', got {max_side!r}")
    return max_side if depth == 1 else None


def _strip_image(frames: list[Image.Image]) -> Image.Image:
    w, h = frames[0].size
    strip = Image.new("RGB", (w * len(frames), h))
    for i, f in enumerate(frames):
        strip.paste(f, (i * w, 0))
    return strip


def _screen_size(img: Image.Image) -> Image.Image:
    """``img`` with its long side at most :data:`SCREEN_SIDE` (antialiased), else itself."""
    w, h = img.size
    scale = SCREEN_SIDE / max(w, h)
    if scale >= 1:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _strip_picks(count: int) -> list[int]:
    return [int(i) for i in np.linspace(0, count - 1, STRIP_FRAMES).round().astype(int)]


def process(
    upload: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    model: Any = None,
    depth: int = 1,
    fps: float = 10.0,
    boomerang: bool = False,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_frame_pixels: int = MAX_FRAME_PIXELS,
    progress: Progress | None = None,
    downloads: bool = True,
    on_frames: Callable[[DemoResult], None] | None = None,
    max_side: str | None = "auto",
) -> DemoResult:
    """Extract the frames of ``upload`` and write the demo's outputs into ``out_dir``.

    What the page shows first is all that is written on the way: the strip previews and the
    animation, at most :data:`SCREEN_SIDE` pixels on their long side, and the full-size
    frames as one raw file; the full-size downloads (ZIP of PNGs, strip PNG) follow with
    ``downloads=True``, or later by :func:`write_downloads` (the page builds them on request).

    Args:
        upload: the uploaded file.
        out_dir: folder for the outputs (created).
        model: a :class:`blurvid.Generator` or a name for :func:`blurvid.load_model`.
        depth: 1, 2 or 3 (7, 42 or 287 frames).
        fps: frames per second of the GIF.
        boomerang: the GIF plays forward then backward.
        max_bytes: largest accepted file.
        max_pixels: largest accepted image.
        max_frame_pixels: budget of frames x pixels (limits the depth for large images).
        progress: called with (fraction, description) as the work goes on.
        downloads: also write the full-size downloads now.
        on_frames: called with the result as soon as the strip previews are written,
            before the animation.
        max_side: the working scale: ``"auto"`` (default): the size the blur's length
            picks, frames at the photo's size, a sharp photo back as it is
            (``extract_frames(max_side="auto")``; for depth 1: depth 2 and 3 run at full
            size); ``None``: G at full size.

    Returns:
        A :class:`DemoResult`; errors are :class:`blurvid.BlurvidError` with one-line
        messages that name the file by its name, not its temporary path.
    """
    from .api import extract_frames, interpolate_recursive
    from .io import frames_to_pil, read_image, save_gif

    report = progress or (lambda fraction, desc: None)
    path = Path(upload)
    try:
        _check_upload(path, max_bytes, max_pixels)
        report(0.05, "reading the photo")
        image = read_image(path)
    except InvalidImageError as exc:  # the uploader knows the file by its name only
        raise InvalidImageError(str(exc).replace(str(path), path.name)) from None
    _, h, w = image.shape
    num_frames = getattr(getattr(model, "config", None), "num_frames", 7)
    depth = _check_depth(depth, h * w, max_frame_pixels, num_frames)
    max_side = _check_scale(max_side, depth)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    report(0.15, f"extracting {_frame_count(depth, num_frames)} frames")
    start = time.perf_counter()
    if depth == 1:
        frames = extract_frames(image, model=model, max_side=max_side)
    else:
        frames = interpolate_recursive(image, depth, model=model)
    seconds = time.perf_counter() - start
    images = frames_to_pil(frames)
    del frames

    report(0.8, "writing the previews")
    stem = path.stem or "photo"
    result = DemoResult(
        frames=len(images), size=(w, h), seconds=seconds, stem=stem, max_side=max_side
    )
    result.frames_file = out / f"{stem}_frames.npy"
    with atomic_path(result.frames_file) as tmp, open(tmp, "wb") as f:
        np.save(f, np.stack([np.asarray(img) for img in images]))
    screen = [_screen_size(img) for img in images]
    for rank, i in enumerate(_strip_picks(len(images))):
        p = out / f"{stem}_strip_{rank}.jpg"
        with atomic_path(p) as tmp:
            screen[i].save(tmp, format="JPEG", quality=90)
        result.strip.append(p)
    if on_frames is not None:  # the page shows the strip now; the animation follows
        on_frames(result)
    # a fast palette per frame (octree): about 4x faster than Pillow's default for the GIF
    palette = [img.quantize(256, method=Image.Quantize.FASTOCTREE) for img in screen]
    result.gif = save_gif(
        palette, out / f"{stem}.gif", fps=fps, boomerang=boomerang, overwrite=True
    )
    if downloads:
        write_downloads(result, progress=report)
    report(1.0, "done")
    return result


def write_downloads(result: DemoResult, progress: Progress | None = None) -> DemoResult:
    """Write the full-size downloads of ``result`` beside its frames: every frame as a PNG
    in a ZIP, and the strip as one PNG (``result.zip``, ``result.strip_png``)."""
    report = progress or (lambda fraction, desc: None)
    if result.frames_file is None or not result.frames_file.is_file():
        raise ConfigError(
            "the frames of this photo were removed (the demo keeps its latest results only): "
            "run the photo again"
        )
    out, stem = result.frames_file.parent, result.stem
    frames = np.load(result.frames_file, mmap_mode="r")
    report(0.85, "writing the full-size strip")
    result.strip_png = out / f"{stem}_strip.png"
    with atomic_path(result.strip_png) as tmp:
        picked = [Image.fromarray(np.asarray(frames[i])) for i in _strip_picks(len(frames))]
        _strip_image(picked).save(tmp, format="PNG", compress_level=PNG_LEVEL)
    report(0.9, "writing the full-size frames")
    result.zip = out / f"{stem}_frames.zip"
    digits = max(3, len(str(len(frames) - 1)))
    with atomic_path(result.zip) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for i, frame in enumerate(frames):
            with zf.open(f"{stem}/frame_{i:0{digits}d}.png", "w") as f:
                Image.fromarray(np.asarray(frame)).save(f, format="PNG", compress_level=PNG_LEVEL)
    return result


# ----------------------------------------------------------------------------- Gradio
@dataclass(frozen=True)
class Limits:
    """The server's bounds (see docs/demo.md): ``workers`` extractions at once (on CPU one
    uses every core already), ``max_waiting`` requests queued behind them, the last ``keep``
    results kept for ``max_age`` seconds, at most ``max_disk`` bytes in the work folder
    (uploads, results and Gradio's cache; one result being written may add up to
    :data:`RUN_BYTES`), a request dropped or stopped ``abandon_after`` seconds after its
    page stopped asking for it."""

    workers: int = 1
    max_waiting: int = 32
    keep: int = 16
    max_age: float = 1800.0
    max_disk: int = 2 * 2**30
    abandon_after: float = 10.0


#: Most bytes one request writes: its full-size frames (3 bytes a pixel), the ZIP of PNGs
#: and the strip PNG (each at most as large, PNG rarely compresses photos below half),
#: previews and the animation.
RUN_BYTES = 3 * 3 * MAX_FRAME_PIXELS
#: Seconds between two updates of the queue position on the page (each also tells the
#: server that the page still waits).
POLL_SECONDS = 0.5


def _status(jobs: Any, job: Any, begun: float) -> str:
    pos = jobs.position(job)
    if pos:
        ahead = "1 request" if pos == 1 else f"{pos} requests"
        return f"In the queue: {ahead} before yours, about {jobs.expected_wait(job):.0f} s to wait."
    spent = time.monotonic() - begun
    return (
        f"Working on your photo... ({spent:.0f} s; a photo takes about {jobs.mean_seconds():.0f} s)"
    )


def _gallery(res: DemoResult) -> list[tuple[str, str]]:
    return [(str(p), f"frame {i + 1}") for i, p in enumerate(res.strip)]


def _wait_for(jobs: Any, job: Any, begun: float) -> Any:
    """Generator: yields status lines while ``job`` waits or runs (each yield also keeps it
    alive), returns its result. Leaving it early (the page closed, the client cancelled)
    cancels the job."""
    try:
        while not jobs.wait(job, POLL_SECONDS):
            jobs.touch(job)
            yield _status(jobs, job, begun)
        return job.value()
    finally:
        if not job.done:
            jobs.cancel(job)


def build_demo(
    model: Any = "default",
    *,
    work_dir: str | os.PathLike | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    limits: Limits | None = None,
) -> Any:
    """The Gradio ``Blocks`` of the demo (call ``.launch()`` on it, or use :func:`launch`;
    ``.close()`` also stops its workers and removes its work folder).

    Args:
        model: a :class:`blurvid.Generator`, or a name/folder for :func:`blurvid.load_model`
            (loaded once, now).
        work_dir: where uploads and outputs are written (default: a new temporary folder);
            removed by ``.close()``, at exit, and on SIGTERM under :func:`launch`.
        max_bytes: largest accepted upload, in bytes.
        max_pixels: largest accepted image, in pixels.
        limits: the server's bounds (:class:`Limits`).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    import atexit
    import importlib.util

    if importlib.util.find_spec("gradio") is None:  # before any work, without importing it
        require("gradio", "demo", "The web demo")  # raises, saying which extra

    from ._serving import JobQueue, QueueFullError, Workspace
    from .hub import load_model
    from .model import Generator

    lim = limits or Limits()
    generator = model if isinstance(model, Generator) else load_model(model, device="cpu")
    space = Workspace(work_dir, keep=lim.keep, max_age=lim.max_age, max_bytes=lim.max_disk)
    # Gradio's uploads and its copies of the outputs go there too: bounded, removed with it
    # (set before Gradio is imported: some of its modules read it then)
    os.environ["GRADIO_TEMP_DIR"] = str(space.root / "gradio")
    import gradio as gr

    jobs = JobQueue(lim.workers, max_waiting=lim.max_waiting, abandon_after=lim.abandon_after)
    # a request whose page left stops at the next forward pass of G (a tile, on large photos)
    hook = generator.register_forward_pre_hook(lambda module, args: jobs.checkpoint())
    examples = [str(p) for p in example_images()]
    skip = gr.skip()

    def close_workers() -> None:
        jobs.close(timeout=60)
        hook.remove()
        space.close()

    atexit.register(close_workers)

    def run(upload, depth, fps, boomerang, scale=None):
        if not upload:
            yield "Drop a photo above, or click an example.", None, None, None, None
            return
        begun = time.monotonic()
        try:
            job = jobs.submit(
                lambda: process(
                    upload,
                    space.new_run(),
                    model=generator,
                    depth=depth,
                    fps=fps,
                    boomerang=boomerang,
                    max_bytes=max_bytes,
                    max_pixels=max_pixels,
                    progress=lambda f, d: jobs.checkpoint(),
                    downloads=False,
                    on_frames=jobs.share,
                    max_side=None if scale in (None, "full") else scale,
                )
            )
            waiting, shown = _wait_for(jobs, job, begun), False
            while True:
                line = next(waiting)
                early = job.partial
                if early is not None and not shown:  # the frames, before the animation
                    shown = True
                    text = f"{early.summary()}; the animation follows."
                    yield text, _gallery(early), skip, skip, skip
                else:
                    yield line, skip, skip, skip, skip
        except StopIteration as stop:
            res = stop.value
        except (BlurvidError, QueueFullError) as exc:
            yield f"**Error:** {exc}", None, None, None, None
            return
        total = time.monotonic() - begun
        strip = _gallery(res)
        text = (
            f"{res.summary()} ({total:.1f} s in all). Full-size frames: "
            "**Full-size downloads** below."
        )
        yield text, strip, str(res.gif), [str(res.gif)], res

    def full_size(res):
        if res is None:
            yield "Extract the frames of a photo first.", skip
            return
        begun = time.monotonic()
        try:
            # then back within the disk budget (this result, just written, is the newest)
            job = jobs.submit(lambda: (write_downloads(res), space.prune())[0])
            waiting = _wait_for(jobs, job, begun)
            while True:
                yield next(waiting), skip
        except StopIteration as stop:
            res = stop.value
        except BlurvidError as exc:
            yield f"**Error:** {exc}", skip
            return
        yield f"{res.summary()}. Full-size downloads ready.", [str(p) for p in res.downloads]

    with gr.Blocks(
        title="blurvid demo", analytics_enabled=False, delete_cache=(60, int(lim.max_age))
    ) as demo:
        gr.Markdown(
            "# blurvid\nDrop a motion-blurred photo: blurvid extracts the short sharp video "
            "hidden in it (Zhang et al., ACM MM 2020). Everything runs on this computer."
        )
        result = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label="Blurry photo (PNG, JPEG, ...)", elem_id="upload")
                if examples:
                    gr.Examples(examples=examples, inputs=upload, label="Examples")
                depth = gr.Slider(
                    1,
                    3,
                    value=1,
                    step=1,
                    label="Depth",
                    info="1: 7 frames, 2: 42 frames, 3: 287 frames (slow motion)",
                    elem_id="depth",
                )
                scale = gr.Radio(
                    choices=list(SCALES),
                    value="auto",
                    label="Working scale",
                    info="Automatic: G runs at the size that brings the blur into its training "
                    "range, frames at the photo's size, a sharp photo comes back as it is "
                    "(7 frames; slow motion at full size)",
                    elem_id="scale",
                )
                fps = gr.Slider(2, 30, value=10, step=1, label="GIF frames per second")
                boomerang = gr.Checkbox(label="Boomerang (forward, then back)", elem_id="boomerang")
                button = gr.Button("Extract frames", variant="primary", elem_id="run")
            with gr.Column(scale=2):
                status = gr.Markdown("Drop a photo, or click an example.", elem_id="status")
                strip = gr.Gallery(
                    label="Frames", columns=STRIP_FRAMES, rows=1, height=200, elem_id="frames"
                )
                gif = gr.Image(label="Animation", type="filepath", format="gif", elem_id="gif")
                files = gr.File(label="Downloads", file_count="multiple", elem_id="downloads")
                more = gr.Button("Full-size downloads (PNG frames as ZIP, strip)", elem_id="full")
        inputs = [upload, depth, fps, boomerang, scale]
        outputs = [status, strip, gif, files, result]
        # Gradio lets every request in (up to the queue's size); the JobQueue runs them
        concurrency = lim.workers + lim.max_waiting
        upload.change(run, inputs, outputs, concurrency_limit=concurrency)
        button.click(run, inputs, outputs, concurrency_limit=concurrency)
        more.click(full_size, [result], [status, files], concurrency_limit=concurrency)
    demo.queue(max_size=concurrency)
    demo._blurvid_work_dir = space.root  # for launch(): the only folder the server may serve from
    demo._blurvid_jobs = jobs
    gradio_close = demo.close

    def close(*args: Any, **kwargs: Any) -> Any:
        try:
            return gradio_close(*args, **kwargs)
        finally:
            close_workers()

    demo.close = close
    return demo


def _font_free_theme(gr: Any) -> Any:
    """Gradio's default theme with system fonts: no font download (works offline)."""
    sans = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=sans, font_mono=["ui-monospace", "monospace"])


def launch(
    model: Any = "default",
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    block: bool = True,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    limits: Limits | None = None,
) -> Any:
    """Build and serve the demo on ``host:port`` (default 127.0.0.1, first free port from 7860).

    With ``block=False`` it returns the running ``Blocks`` at once (``.close()`` stops it and
    removes its files). With ``block=True`` it serves until Ctrl-C or SIGTERM, then stops
    the workers and removes every file it wrote.
    """
    from ._fs import sigterm_as_interrupt

    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise ConfigError(f"port must be an integer in 1..65535, got {port!r}")
    demo = build_demo(model, max_bytes=max_bytes, max_pixels=max_pixels, limits=limits)
    gr = require("gradio", "demo", "The web demo")
    try:
        with sigterm_as_interrupt():  # Gradio stops its server on KeyboardInterrupt
            demo.launch(
                server_name=host,
                server_port=port,
                share=False,
                prevent_thread_lock=not block,
                allowed_paths=[str(demo._blurvid_work_dir)],
                max_file_size=4 * max_bytes,  # Gradio refuses bigger uploads itself; ours says why
                theme=_font_free_theme(gr),
                footer_links=[],
                quiet=not block,
            )
    finally:
        if block:
            demo.close()
    return demo


# ----------------------------------------------------------------------------- CLI
def _cmd_demo(args: argparse.Namespace) -> int:
    from .checks import check_int

    check_int(args.workers, "--workers", minimum=1)
    check_int(args.max_waiting, "--max-waiting", minimum=0)
    check_int(args.keep, "--keep", minimum=1)
    limits = Limits(workers=args.workers, max_waiting=args.max_waiting, keep=args.keep)
    launch(args.model, host=args.host, port=args.port, max_pixels=args.max_pixels, limits=limits)
    return 0


def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="open a local web page to try blurvid on your photos (needs blurvid[demo])",
        description="Serve a web demo (Gradio) on 127.0.0.1: upload a blurry photo, get its "
        "frames, an animated GIF and downloads. Stop it with Ctrl-C.",
    )
    p.add_argument("--model", default="default", help="model name, folder or Hub id")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: first free from 7860)")
    p.add_argument(
        "--max-pixels",
        dest="max_pixels",
        type=int,
        default=MAX_PIXELS,
        help=f"largest image accepted, in pixels (default {MAX_PIXELS:,})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=Limits.workers,
        help="photos processed at once (default 1: one already uses every core)",
    )
    p.add_argument(
        "--max-waiting",
        dest="max_waiting",
        type=int,
        default=Limits.max_waiting,
        help=f"requests queued behind them (default {Limits.max_waiting})",
    )
    p.add_argument(
        "--keep",
        type=int,
        default=Limits.keep,
        help=f"results kept for download (default {Limits.keep}, 30 minutes)",
    )
    p.set_defaults(handler=_cmd_demo)
