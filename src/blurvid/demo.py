"""``blurvid demo``: a local web page (Gradio) to try the model on your own photos.

Drop a blurry photo and get its frames as a strip, an animated GIF (optionally boomerang) and
downloads (GIF, PNG frames as a ZIP, the strip as one PNG); a depth slider gives 42 or 287
frames by recursion. The page serves on 127.0.0.1 unless told otherwise. A bad upload (not
an image, corrupt, too large) shows blurvid's one-line error on the page; the server goes on.

The work is done by :func:`process`, which needs no Gradio; :func:`build_demo` and
:func:`launch` need the ``demo`` extra (``pip install 'blurvid[demo]'``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from ._fs import atomic_path
from .errors import BlurvidError, ConfigError, InvalidImageError, require

__all__ = ["DemoResult", "build_demo", "example_images", "launch", "process"]

#: Largest upload the demo reads, in bytes.
MAX_UPLOAD_BYTES = 50 * 2**20
#: Largest image the demo processes, in pixels (12 MP: about 20 s on 2 CPU cores, tiled).
MAX_PIXELS = 12_000_000
#: Budget of output pixels (frames x height x width) for recursion: 42 frames of 2.1 MP.
MAX_FRAME_PIXELS = 42 * 2_100_000
#: Frames shown in the strip and written to the strip PNG.
STRIP_FRAMES = 7
#: Recursion depths the demo offers (7, 42, 287 frames with the paper's 7-frame G; a G of ``T``
#: frames gives ``blurvid.api.num_recursive_frames(depth, T)``).
DEPTHS = (1, 2, 3)

Progress = Callable[[float, str], None]


@dataclass
class DemoResult:
    """What :func:`process` wrote: ``strip`` holds the frame PNGs shown in the strip."""

    frames: int
    size: tuple[int, int]  # (width, height)
    seconds: float
    strip: list[Path] = field(default_factory=list)
    gif: Path | None = None
    zip: Path | None = None
    strip_png: Path | None = None

    @property
    def downloads(self) -> list[Path]:
        return [p for p in (self.gif, self.zip, self.strip_png) if p is not None]

    def summary(self) -> str:
        w, h = self.size
        return f"{self.frames} frames of {w}x{h} in {self.seconds:.2f} s"


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


def _strip_image(frames: list[Image.Image]) -> Image.Image:
    w, h = frames[0].size
    strip = Image.new("RGB", (w * len(frames), h))
    for i, f in enumerate(frames):
        strip.paste(f, (i * w, 0))
    return strip


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
) -> DemoResult:
    """Extract the frames of ``upload`` and write the demo's outputs into ``out_dir``.

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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    report(0.15, f"extracting {_frame_count(depth, num_frames)} frames")
    start = time.perf_counter()
    if depth == 1:
        frames = extract_frames(image, model=model)
    else:
        frames = interpolate_recursive(image, depth, model=model)
    seconds = time.perf_counter() - start
    images = frames_to_pil(frames)
    del frames

    report(0.7, "writing the GIF")
    stem = path.stem or "photo"
    result = DemoResult(frames=len(images), size=(w, h), seconds=seconds)
    result.gif = save_gif(images, out / f"{stem}.gif", fps=fps, boomerang=boomerang, overwrite=True)
    report(0.85, "writing the frames")
    picks = np.linspace(0, len(images) - 1, STRIP_FRAMES).round().astype(int)
    for rank, i in enumerate(picks):
        p = out / f"{stem}_strip_{rank}.png"
        with atomic_path(p) as tmp:
            images[i].save(tmp, format="PNG")
        result.strip.append(p)
    result.strip_png = out / f"{stem}_strip.png"
    with atomic_path(result.strip_png) as tmp:
        _strip_image([images[i] for i in picks]).save(tmp, format="PNG")
    result.zip = out / f"{stem}_frames.zip"
    digits = max(3, len(str(len(images) - 1)))
    with atomic_path(result.zip) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for i, img in enumerate(images):
            with zf.open(f"{stem}/frame_{i:0{digits}d}.png", "w") as f:
                img.save(f, format="PNG")
    report(1.0, "done")
    return result


# ----------------------------------------------------------------------------- Gradio
def build_demo(
    model: Any = "default",
    *,
    work_dir: str | os.PathLike | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> Any:
    """The Gradio ``Blocks`` of the demo (call ``.launch()`` on it, or use :func:`launch`).

    Args:
        model: a :class:`blurvid.Generator`, or a name/folder for :func:`blurvid.load_model`
            (loaded once, now).
        work_dir: where outputs are written (default: a new temporary folder).
        max_bytes: largest accepted upload, in bytes.
        max_pixels: largest accepted image, in pixels.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    gr = require("gradio", "demo", "The web demo")
    from .hub import load_model
    from .model import Generator

    generator = model if isinstance(model, Generator) else load_model(model, device="cpu")
    if work_dir is None:  # our own temporary folder: removed when Python exits
        import atexit
        import shutil

        root = Path(tempfile.mkdtemp(prefix="blurvid-demo-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    else:
        root = Path(work_dir)
    examples = [str(p) for p in example_images()]

    def run(upload, depth, fps, boomerang, progress=gr.Progress()):  # noqa: B008 (Gradio API)
        if not upload:
            return "Drop a photo above, or click an example.", None, None, None
        out = Path(tempfile.mkdtemp(prefix="run-", dir=root))
        try:
            res = process(
                upload,
                out,
                model=generator,
                depth=depth,
                fps=fps,
                boomerang=boomerang,
                max_bytes=max_bytes,
                max_pixels=max_pixels,
                progress=lambda f, d: progress(f, desc=d),
            )
        except BlurvidError as exc:
            return f"**Error:** {exc}", None, None, None
        strip = [(str(p), f"frame {i + 1}") for i, p in enumerate(res.strip)]
        downloads = [str(p) for p in res.downloads]
        return f"{res.summary()}.", strip, str(res.gif), downloads

    with gr.Blocks(
        title="blurvid demo", analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        gr.Markdown(
            "# blurvid\nDrop a motion-blurred photo: blurvid extracts the short sharp video "
            "hidden in it (Zhang et al., ACM MM 2020). Everything runs on this computer."
        )
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
        inputs = [upload, depth, fps, boomerang]
        outputs = [status, strip, gif, files]
        upload.change(run, inputs, outputs)
        button.click(run, inputs, outputs)
    demo._blurvid_work_dir = root  # for launch(): the only folder the server may serve from
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
) -> Any:
    """Build and serve the demo on ``host:port`` (default 127.0.0.1, first free port from 7860).

    With ``block=False`` it returns the running ``Blocks`` at once (``.close()`` stops it).
    """
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise ConfigError(f"port must be an integer in 1..65535, got {port!r}")
    demo = build_demo(model, max_bytes=max_bytes, max_pixels=max_pixels)
    gr = require("gradio", "demo", "The web demo")
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        allowed_paths=[str(demo._blurvid_work_dir)],
        max_file_size=4 * max_bytes,  # Gradio refuses bigger uploads itself; ours says why below
        theme=_font_free_theme(gr),
        footer_links=[],
        quiet=not block,
    )
    return demo


# ----------------------------------------------------------------------------- CLI
def _cmd_demo(args: argparse.Namespace) -> int:
    launch(args.model, host=args.host, port=args.port, max_pixels=args.max_pixels)
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
    p.set_defaults(handler=_cmd_demo)
