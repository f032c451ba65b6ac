"""The ``blurvid`` command line: ``extract``, ``train``, ``eval``, ``convert-vgg19``.

Thin by design: it parses arguments, calls the Python API and turns :class:`BlurvidError`
into one line on stderr with a non-zero exit code (1; 2 for usage errors; 130 on Ctrl-C, 143
on SIGTERM, which unwinds like Ctrl-C so that temporary files are removed).
``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, cast

from ._fs import Terminated, sigterm_as_interrupt
from ._version import __version__
from .errors import BlurvidError, InvalidImageError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + 15  # SIGTERM

Handler = Callable[[argparse.Namespace], int]


# ----------------------------------------------------------------------------- extract
def _collect_inputs(items: Sequence[str]) -> list[Path]:
    from .io import list_images

    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise InvalidImageError(
                    f"folder {p} holds no images ({', '.join(('png', 'jpg', '...'))})"
                )
            paths.extend(found)
        else:
            paths.append(p)
    return paths


class _DecodedImages:
    """Dataset of input paths -> ``(index, tensor (3, H, W) or None, error or None)``, so
    decoding runs in DataLoader workers while G works on the previous image (a map-style
    dataset by protocol: no ``torch.utils.data.Dataset`` base, so that importing the CLI
    does not import torch)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from .io import read_image

        try:
            return i, read_image(self.paths[i]), None
        except BlurvidError as exc:
            return i, None, str(exc)


def _rank_share(n: int) -> tuple[range, int, int]:
    """Under ``torchrun`` each rank takes every WORLD_SIZE-th input (a DistributedSampler
    without shuffling or padding: no input is done twice); otherwise all of them."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return range(rank, n, world), rank, int(os.environ.get("LOCAL_RANK", "0"))


def _write_outputs(frames, path: Path, out: Path, formats: list[str], fps: float, args) -> list:
    from .io import save_gif, save_mp4, save_pngs

    stem, written = path.stem, []
    kw = dict(fps=fps, boomerang=args.boomerang, overwrite=args.overwrite)
    if "png" in formats:
        written += save_pngs(frames, out / stem, prefix="frame", overwrite=args.overwrite)[:1]
    if "gif" in formats:
        written.append(save_gif(frames, out / f"{stem}.gif", **kw))
    if "mp4" in formats:
        written.append(save_mp4(frames, out / f"{stem}.mp4", **kw))
    return written


@contextmanager
def _log_lines(name: str, prefix: str, on: bool = True) -> Iterator[None]:
    """While inside, INFO records of the logger ``name`` are printed as lines (``prefix`` +
    message) between the progress bars: what ``--max-side auto`` chose for an image."""
    if not on:
        yield
        return
    import logging

    from tqdm import tqdm

    class _Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            tqdm.write(prefix + record.getMessage())

    log, handler = logging.getLogger(name), _Lines()
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def _max_side_arg(text: str) -> int | str:
    """``--max-side``: an integer, ``auto`` or ``full``."""
    if text.strip().lower() in ("auto", "full"):
        return text.strip().lower()
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer long side in pixels, 'auto' or 'full', got {text!r}"
        ) from None


def _cmd_extract(args: argparse.Namespace) -> int:
    import torch
    from torch.utils.data import DataLoader, Dataset, Subset
    from tqdm import tqdm

    from .api import (
        extract_frames,
        interpolate_recursive,
        plan_recursive,
        resolve_device,
        working_size,
    )
    from .checks import check_device, check_int, check_max_side, check_output_dir, check_tile
    from .hub import load_model
    from .io import _check_fps, read_image

    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bad = sorted(set(formats) - {"png", "gif", "mp4"})
    if bad or not formats:
        raise InvalidImageError(
            f"--format takes png, gif and/or mp4 (comma-separated), got {args.format!r}"
        )
    # every argument is checked before any work (decoding, running G) starts
    fps = args.fps if args.fps is not None else (8.0 if args.depth == 1 else 24.0)
    _check_fps(fps, "--fps")
    check_int(args.workers, "--workers", minimum=0, optional=True)
    check_tile(args.tile, None, "--tile")
    if args.max_side is None:  # the default: "auto" for 7 frames, full size for slow motion
        args.max_side = "auto" if args.depth == 1 else "full"
    if args.max_side == "full":
        args.max_side = None
    elif args.max_side != "auto":
        check_max_side(args.max_side, "--max-side")
    check_device(args.device)
    inputs = _collect_inputs(args.images)
    share, rank, local_rank = _rank_share(len(inputs))
    device_name = args.device
    if device_name is None and torch.cuda.is_available() and len(share) < len(inputs):
        device_name = f"cuda:{local_rank}"  # one GPU per rank under torchrun
    device = resolve_device(device_name)
    out = check_output_dir(args.output, "-o/--output")
    model = load_model(args.model, device=device, revision=args.revision)
    check_tile(args.tile, model.config.size_multiple, "--tile")

    def process(path: Path, image: torch.Tensor) -> None:
        x = image.unsqueeze(0)
        kw = dict(model=model, device=device, tile=args.tile, max_side=args.max_side)
        auto = args.max_side == "auto"  # frames at the input size
        h, w = image.shape[-2:]
        if not auto:
            h, w = working_size(h, w, args.max_side)
        if args.depth == 1:
            with _log_lines("blurvid.api", f"{path}: ", on=auto and not args.quiet):
                frames = extract_frames(x, **kw)[0]
        else:  # count, estimate and refuse what would not fit before any work
            plan = plan_recursive(args.depth, h, w, num_frames=model.config.num_frames)
            if not args.quiet:
                tqdm.write(f"{path}: depth {args.depth} -> {plan.describe(h, w)}")
            with _log_lines("blurvid.api", f"{path}: ", on=auto and not args.quiet):
                frames = interpolate_recursive(x, args.depth, progress=not args.quiet, **kw)[0]
        written = _write_outputs(frames, path, out, formats, fps, args)
        if not args.quiet:
            size = f" of {w}x{h}" if (h, w) != tuple(image.shape[-2:]) else ""
            done = ", ".join(str(f) for f in written)
            tqdm.write(f"{path}: {frames.shape[0]} frames{size} -> {done}")

    if len(inputs) == 1:  # one image: errors propagate as they are
        process(inputs[0], read_image(inputs[0]))
        return 0
    workers = args.workers if args.workers is not None else min(2, len(share))
    loader: DataLoader[Any] = DataLoader(
        Subset(cast("Dataset[Any]", _DecodedImages(inputs)), share),
        batch_size=None,
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    failures = 0
    for i, image, error in tqdm(
        loader, total=len(share), desc=f"extract (rank {rank})" if rank else "extract",
        unit="img", disable=args.quiet,
    ):  # fmt: skip
        try:
            if error is not None:
                raise InvalidImageError(error)
            process(inputs[i], image)
        except BlurvidError as exc:
            failures += 1
            tqdm.write(f"blurvid: error: {exc}", file=sys.stderr)
    if failures:
        print(f"blurvid: {failures} of {len(share)} inputs failed", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _add_extract(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="blurry image(s) -> sharp frames (PNG / GIF / MP4)",
        description="Extract the 7 sharp frames hidden in each blurry image (42 with --depth 2).",
    )
    p.add_argument("images", nargs="+", help="image files and/or folders of images")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument(
        "--format",
        default="png,gif",
        help="comma-separated: png, gif, mp4 (mp4 needs blurvid[video]); default png,gif",
    )
    p.add_argument(
        "--depth", type=int, default=1,
        help="recursion depth: 1 -> 7 frames, 2 -> 42, 3 -> 287, 4 -> 2002 (the frame count "
        "and memory estimate are printed first; a depth whose frames would not fit in memory "
        "is refused: see BLURVID_MEMORY_LIMIT)",
    )  # fmt: skip
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frames per second of GIF/MP4 (default 8, or 24 with --depth > 1)",
    )
    p.add_argument(
        "--boomerang",
        action="store_true",
        help="play forward then backward (the frame order is ambiguous)",
    )
    p.add_argument(
        "--model", default="default", help="'default' (bundled), a folder, or a Hub repo id"
    )
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    p.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)"
    )
    p.add_argument(
        "--tile", type=int, default=None, help="process in tiles of this size (bounded memory)"
    )
    p.add_argument(
        "--max-side", type=_max_side_arg, default=None, metavar="auto|full|N",
        help="working resolution. 'auto' (the default for --depth 1): the blur's length picks "
        "the size per image, frames at the input size, and a photo without blur comes back "
        "unchanged (docs/api.md; with --depth 2-3 every level runs at that size); 'full' (the "
        "default for --depth 2-3): G at full size; N: "
        "downscale images whose long side is over N pixels to N before G, frames written at "
        "that size",
    )  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--workers", type=int, default=None,
        help="image-decoding worker processes for many inputs (default 2); under torchrun "
        "each rank takes its share of the inputs",
    )  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(handler=_cmd_extract)


# ----------------------------------------------------------------------------- registry
#: Every subcommand: (module, function that adds its parser, one-line help). A command's
#: module is imported only when that command runs (or its ``--help`` is asked for), so
#: ``blurvid extract`` never loads the training loop, Gradio or PyAV; ``blurvid --help``
#: lists the commands from this table alone.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "extract": ("blurvid.cli", "_add_extract", "blurry image(s) -> sharp frames (PNG / GIF / MP4)"),
    "slowmo": ("blurvid.video", "add_slowmo_parser",
               "blurry video -> sharp slow motion (7x or 42x the frames)"),
    "eval": ("blurvid.evaluate", "add_eval_parser", "PSNR / SSIM / EPE like the paper's Table 1"),
    "train": ("blurvid.train.cli", "add_train_parser",
              "train or fine-tune G (BaseGAN -> GramGAN -> HeptaGAN)"),
    "export": ("blurvid.train.cli", "add_export_parser",
               "export a checkpoint or model as a model folder, ONNX or TorchScript"),
    "convert-vgg19": ("blurvid.train.cli", "add_convert_vgg19_parser",
                      "convert torchvision's vgg19-*.pth into safetensors for the perceptual loss"),
    "data": ("blurvid.data.download", "add_data_parser",
             "get the project's data (photos, videos, frames) from the Hugging Face Hub"),
    "demo": ("blurvid.demo", "add_demo_parser",
             "open a local web page to try blurvid on your photos (needs blurvid[demo])"),
}  # fmt: skip


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is one), else None."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None  # an unknown command: argparse says so
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s sub-parser is built in full (its module imported),
    the others are names with their one-line help."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="blurvid",
        description="Turn one motion-blurred photo into the short sharp video hidden inside it.",
    )
    parser.add_argument("--version", action="version", version=f"blurvid {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, adder, text) in COMMANDS.items():
        if name == command:  # a missing module of blurvid's own is an error, never skipped
            getattr(importlib.import_module(module), adder)(sub)
        else:
            sub.add_parser(name, help=text)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"blurvid: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    previous_showwarning = warnings.showwarning
    if not args.debug:
        warnings.showwarning = _show_warning
    try:
        with sigterm_as_interrupt():
            return int(args.handler(args) or 0)
    except Terminated:
        print("blurvid: stopped (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("blurvid: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BlurvidError as exc:
        if args.debug:
            raise
        print(f"blurvid: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:  # main() may be called in-process (tests, notebooks): leave no global change
        warnings.showwarning = previous_showwarning


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
