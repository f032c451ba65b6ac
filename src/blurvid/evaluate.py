"""``blurvid eval``: PSNR / SSIM / EPE as in the paper's Table 1, with stated protocols.

Every table has two reference rows beside the models (:func:`blurvid.scores.static_baselines`):

* **identity** -- the blurry input repeated 7 times: a model below it is worse than nothing;
* **oracle-static** -- the true centre frame repeated 7 times: the best any pure deblurrer
  (no motion) can score. Its 7-frame mean is inflated by the exact centre frame (PSNR capped
  at 100 dB); compare models with it in the **outer-6** column (the mean PSNR of the six
  frames around the centre, where it is a fair ceiling for a static answer), and compare the
  **centre** column (the middle frame alone: the deblurring, which motion in the outer
  frames cannot inflate) with the identity's.

Data sources (``--data``):

* ``val:DIR`` -- the project's fixed validation set built from the shared data folder
  ``DIR`` (:func:`blurvid.data.validation_set`; the held-out files are named by a split
  manifest, ``--split FILE``, default ``scripts/data_split.json`` of a blurvid checkout);
* ``gopro:DIR`` or a folder with ``test/``: a GOPRO_Large_all-style folder, 7 consecutive
  sharp frames averaged into the blurry input (``--blur linear`` averages in linear light);
* ``cases:DIR`` or a folder of sub-folders each holding ``blurry.*`` and 7 sharp frames
  (any names, sorted);
* ``photos:DIR`` -- a synthetic set rendered on the fly (seeded camera shake) from photos.

The protocol, the validation set and the published reference numbers are documented in
``docs/evaluation.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ._fs import atomic_write_bytes
from .errors import ConfigError, DataError
from .metrics import (
    CENTER,
    NUM_FRAMES,
    PAPER,
    STRICT,
    Protocol,
    psnr,
    sequence_metrics,
    sequence_motion,
)
from .scores import motion_ratio, static_baselines

if TYPE_CHECKING:
    from .data import DataSplit

__all__ = ["EvalRow", "PROTOCOLS", "evaluate", "format_table", "iter_samples", "resolve_data"]

PROTOCOLS = {"paper": PAPER, "strict": STRICT, "center": CENTER}
DATA_KINDS = ("val", "gopro", "cases", "photos", "leaves")
SUBSETS = ("synthetic", "real")
Sample = tuple[str, torch.Tensor, torch.Tensor]  # (name, blurry (3,H,W), frames (T,3,H,W))


# ----------------------------------------------------------------------------- data
def _cases(root: Path) -> Iterator[Sample]:
    from .io import list_images, read_image

    dirs = sorted(d for d in root.iterdir() if d.is_dir())
    if not dirs:
        raise DataError(f"{root} holds no case folders (each: blurry.* + the sharp frames)")
    count = 0  # frames per case: as many as G makes (7 by default), the same in every case
    for d in dirs:
        images = list_images(d)
        blurry = [p for p in images if p.stem.lower() == "blurry"]
        frames = [p for p in images if p.stem.lower() != "blurry"]
        count = count or max(len(frames), 2)
        if len(blurry) != 1 or len(frames) != count:
            same = f" (as in {dirs[0].name})" if d != dirs[0] else " (at least 2)"
            raise DataError(
                f"{d}: expected one blurry.* and {count} frame images{same}, "
                f"found {len(blurry)} and {len(frames)}"
            )
        b, f = read_image(blurry[0]), [read_image(p) for p in frames]
        sizes = {tuple(x.shape[-2:]) for x in [b, *f]}
        if len(sizes) != 1:
            raise DataError(
                f"{d}: expected blurry.* and the frames of one size, got sizes {sorted(sizes)}"
            )
        yield d.name, b, torch.stack(f)


def _from_dataset(ds, prefix: str) -> Iterator[Sample]:
    for i in range(len(ds)):
        item = ds[i]
        yield f"{prefix}{i:04d}", item["blurry"], item["frames"]


def resolve_data(spec: str) -> tuple[str, Path | None]:
    """``(kind, path)`` of a ``--data`` spec: an explicit ``KIND:PATH``, or a path whose kind
    is detected (``test/`` inside: gopro; sub-folders: cases; otherwise photos); ``leaves:``
    alone has no path (``None``).

    Raises:
        DataError: the path does not exist.
    """
    kind, _, rest = spec.partition(":")
    if kind == "leaves" and not rest:  # procedural scenes need no path
        return kind, None
    if kind not in DATA_KINDS or not rest:  # no known prefix (a plain path, C:\...): auto-detect
        kind, rest = "", spec
    path = Path(rest)
    if not path.exists():
        raise DataError(
            f"evaluation data {path} does not exist (use val:, gopro:, cases: or photos: + a "
            f"path, or leaves:)"
        )
    if not kind:
        if (path / "test").is_dir():
            kind = "gopro"
        elif path.is_dir() and any(p.is_dir() for p in path.iterdir()):
            kind = "cases"
        else:
            kind = "photos"
    return kind, path


def iter_samples(
    spec: str,
    *,
    blur: str = "srgb",
    seed: int = 0,
    size: int = 256,
    count: int = 64,
    subset: str | None = None,
    split: DataSplit | str | Path | None = None,
) -> Iterator[Sample]:
    """Samples ``(name, blurry (3,H,W), frames (T,3,H,W))`` from a ``--data`` spec
    (``count`` synthetic samples of ``size`` pixels for ``photos:``; ``subset``
    ``"synthetic"`` or ``"real"`` keeps only that part of ``val:``, whose held-out files
    ``split`` names: see :func:`blurvid.data.validation_set`).

    A generator: errors (a missing path, a malformed folder) are raised on first iteration.
    """
    kind, path = resolve_data(spec)
    if subset is not None and (kind != "val" or subset not in SUBSETS):
        raise ConfigError(
            f"subset {subset!r}: expected one of {SUBSETS}, and only with val:DIR data"
        )
    if kind == "leaves":
        from .data import LeavesConfig, LeavesDataset, ShakeConfig

        shake = ShakeConfig(size=size, linear_light=blur == "linear")
        ds = LeavesDataset(LeavesConfig(shake=shake), path, length=count, seed=seed)
        yield from _from_dataset(ds, "leaves")
    elif path is None:  # pragma: no cover - resolve_data gives a path to every other kind
        raise DataError(f"data spec {spec!r} needs a path")
    elif kind == "val":
        from .data import validation_set

        val = validation_set(path, split=split)
        if subset is not None:
            val = val.subset(subset)
        names = val.get("source", [f"val{i:04d}" for i in range(len(val["blurry"]))])
        for i in range(len(val["blurry"])):
            yield f"{names[i]}_{i:03d}", val["blurry"][i], val["frames"][i]
    elif kind == "gopro":
        from .data import GoproDataset

        yield from _from_dataset(
            GoproDataset(path, split="test", crop=None, gamma_linear=blur == "linear", seed=seed),
            "gopro",
        )
    elif kind == "cases":
        yield from _cases(path)
    elif kind == "photos":
        from .data import ShakeConfig, SyntheticShakeDataset

        cfg = ShakeConfig(size=size, linear_light=blur == "linear")
        yield from _from_dataset(SyntheticShakeDataset(path, cfg, length=count, seed=seed), "photo")
    else:  # pragma: no cover - the kinds above are DATA_KINDS
        raise DataError(f"unknown data kind {kind!r}: use val:, gopro:, cases: or photos:")


# ----------------------------------------------------------------------------- scoring
@dataclass
class EvalRow:
    """One row of the table: a method and its mean scores."""

    name: str
    psnr: float = float("nan")
    ssim: float = float("nan")
    epe: float = float("nan")
    seconds: float = float("nan")
    n: int = 0
    per_frame_psnr: list[float] = field(default_factory=list)
    reversed_fraction: float = float("nan")
    reblur_psnr: float = float("nan")
    motion_ratio: float = float("nan")
    centre_psnr: float = float("nan")
    outer_psnr: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict, NaN (no timing, no EPE) as ``None`` so that it is valid JSON."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return [clean(x) for x in v] if isinstance(v, list) else v

        return {k: clean(v) for k, v in self.__dict__.items()}


class _Acc:
    def __init__(self, name: str) -> None:
        self.name, self.n, self.seconds, self.rev = name, 0, 0.0, 0.0
        self.sums: dict[str, float] = {}
        self.frames: torch.Tensor | None = None  # per-frame PSNR sums, (num_frames,)
        self.motion: dict[str, list[torch.Tensor]] = {"pred": [], "true": []}  # per sample

    def add(
        self,
        res: dict[str, torch.Tensor],
        seconds: float = 0.0,
        *,
        pred: torch.Tensor,
        true: torch.Tensor,
        blurry: torch.Tensor,
    ) -> None:
        """Accumulate one batch: ``res`` from :func:`sequence_metrics`; ``pred``/``true``
        ``(B, T, 3, H, W)`` and ``blurry`` ``(B, 3, H, W)`` for the re-blur and motion scores."""
        for k in ("psnr", "ssim", "epe", "centre_psnr"):
            self.sums[k] = self.sums.get(k, 0.0) + float(res[k].double().sum())
        # re-blur consistency (Sec. 3.1: the blur is the mean of the frames)
        reblur = psnr(pred.mean(dim=1).clamp(0, 1), blurry)
        self.sums["reblur"] = self.sums.get("reblur", 0.0) + float(reblur.double().sum())
        for key, seq in (("pred", pred), ("true", true)):
            self.motion[key].append(sequence_motion(seq).double().cpu())
        per_frame = res["psnr_per_frame"].double().sum(0).cpu()
        self.frames = per_frame if self.frames is None else self.frames + per_frame
        self.rev += float(res["reversed"].double().sum())
        self.n += int(res["psnr"].numel())
        self.seconds += seconds

    def row(self, timed: bool) -> EvalRow:
        n = max(self.n, 1)
        frames = self.frames / n if self.frames is not None else torch.zeros(0, dtype=torch.float64)
        mid = frames.numel() // 2
        outer = torch.cat([frames[:mid], frames[mid + 1 :]])
        motion = {k: torch.cat(v) if v else torch.zeros(0) for k, v in self.motion.items()}
        return EvalRow(
            self.name, self.sums.get("psnr", 0) / n, self.sums.get("ssim", 0) / n, self.sums.get("epe", 0) / n,
            self.seconds / n if timed else float("nan"), self.n, frames.tolist(), self.rev / n,
            self.sums.get("reblur", 0) / n, motion_ratio(motion["pred"], motion["true"]),
            self.sums.get("centre_psnr", float("nan")) / n,
            float(outer.mean()) if outer.numel() else float("nan"),
        )  # fmt: skip


def _check_frame_count(name: str, t: int, models: dict[str, Any]) -> None:
    """Every model must make as many frames (its ``config.num_frames``) as sample ``name``
    holds (``t``): checked on each sample, before any model runs on it."""
    for label, model in models.items():
        n = getattr(getattr(model, "config", None), "num_frames", t)
        if n != t:
            raise DataError(
                f"model {label!r} makes {n} frames per image but sample {name!r} has {t}: "
                f"evaluate it on data with {n} frames per sample (e.g. cases:DIR folders of "
                f"blurry.* + {n} frames)"
            )


def evaluate(
    models: dict[str, Any],
    samples: Iterable[Sample],
    *,
    protocol: Protocol = PAPER,
    compute_epe: bool = True,
    limit: int | None = None,
    device: str | None = None,
    save_frames: Path | None = None,
    progress: bool = True,
) -> list[EvalRow]:
    """Score each model and the two reference rows on ``samples`` under ``protocol``.

    Returns rows in the order: identity, oracle-static, then the models. A model whose
    metadata marks it as an untrained placeholder (the bundled ``default``) gets
    ``" (untrained placeholder)"`` after its label. Each model runs once untimed on the
    first sample (warm-up), so ``seconds`` is the mean steady-state time per image.
    With ``save_frames``, ``save_frames/LABEL/SAMPLE/frame_000.png`` is the blurry input
    and ``frame_001..007.png`` the predicted frames. The models run and all rows are scored
    on ``device`` (default: CPU); SSIM at 1280x720 costs seconds per frame on a CPU core.
    """
    from tqdm import tqdm

    from .api import extract_frames, resolve_device

    dev = resolve_device(device) if device is not None else torch.device("cpu")

    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    ref = {"identity": _Acc("identity"), "oracle_static": _Acc("oracle-static")}  # named below
    accs = {}  # kept apart from ``ref``: a model may be labelled "identity" or "oracle"
    for label, model in models.items():
        placeholder = (getattr(model, "metadata", None) or {}).get("placeholder") == "true"
        accs[label] = _Acc(f"{label} (untrained placeholder)" if placeholder else label)
    if limit is not None:
        samples = itertools.islice(samples, limit)  # never reads / renders sample limit + 1
    count, first_t = 0, 0
    for name, blurry, frames in tqdm(
        samples, total=limit, desc="eval", unit="img", disable=not progress
    ):
        true = frames.unsqueeze(0).float().to(dev)
        x = blurry.unsqueeze(0).float().to(dev)
        t = true.shape[1]
        _check_frame_count(name, t, models)
        if count == 0:
            ref["identity"].name = f"identity (blurry x{t})"
            ref["oracle_static"].name = f"oracle-static (true centre x{t})"
            first_t = t
        elif t != first_t:
            raise DataError(
                f"sample {name!r} has {t} frames, the samples before it {first_t}: "
                f"every sample of one evaluation needs the same number of frames"
            )
        for key, static in static_baselines(x, true).items():
            seq = static.contiguous()
            res = sequence_metrics(seq, true, protocol, compute_epe=compute_epe)
            ref[key].add(res, pred=seq, true=true, blurry=x)
        for label, model in models.items():
            if count == 0:  # warm-up: lazy initialisation, kernel selection for this shape
                extract_frames(x, model=model, device=device, max_side=None)
            t0 = time.perf_counter()
            # the network itself at full size, as the paper's Table 1 scores it (not the
            # automatic working scale, which may hand back the input: docs/evaluation.md)
            pred = extract_frames(x, model=model, device=device, max_side=None).float().to(dev)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            dt = time.perf_counter() - t0
            res = sequence_metrics(pred, true, protocol, compute_epe=compute_epe)
            accs[label].add(res, dt, pred=pred, true=true, blurry=x)
            if save_frames is not None:
                from .io import save_pngs

                save_pngs(
                    torch.cat([x, pred[0]]).cpu(),
                    Path(save_frames) / label.replace("/", "_") / name,
                    overwrite=True,
                )
        count += 1
    if count == 0:
        raise DataError("no evaluation samples found")
    rows = [ref["identity"].row(False), ref["oracle_static"].row(False)]
    rows += [accs[m].row(True) for m in models]
    return rows


def format_table(rows: list[EvalRow], protocol: Protocol, compute_epe: bool = True) -> str:
    """A Markdown table like the paper's Table 1 (PSNR, SSIM, EPE, seconds/image), plus the
    centre frame's PSNR alone ("exact" for the oracle, whose centre frame is the truth), the
    mean PSNR of the outer frames (six of 7), the re-blur PSNR (mean of the frames vs the
    input; 100 = exact) and the motion ratio (mean |first - last frame| of the prediction
    over the truth's; 1 = as much motion)."""
    t = len(rows[0].per_frame_psnr) if rows and rows[0].per_frame_psnr else NUM_FRAMES
    head = (
        f"| Method | PSNR (dB) | centre PSNR | outer-{t - 1} PSNR | SSIM | EPE (px) "
        "| re-blur PSNR (dB) | motion | s/image |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []

    def num(v: float, fmt: str) -> str:
        return format(v, fmt) if v == v else "-"

    for r in rows:
        epe = num(r.epe, ".2f") if compute_epe else "-"
        centre = "exact" if r.centre_psnr >= 100.0 else num(r.centre_psnr, ".2f")
        lines.append(
            f"| {r.name} | {r.psnr:.2f} | {centre} | {num(r.outer_psnr, '.2f')} | {r.ssim:.3f} "
            f"| {epe} | {num(r.reblur_psnr, '.2f')} | {num(r.motion_ratio, '.2f')} "
            f"| {num(r.seconds, '.3f')} |"
        )
    n = rows[0].n if rows else 0
    return head + "\n".join(lines) + f"\n\nProtocol: {protocol.describe(t)}; {n} samples."


# ----------------------------------------------------------------------------- CLI
def _parse_models(items: list[str]) -> dict[str, Any]:
    from .hub import load_model

    models = {}
    for item in items:
        label, sep, name = item.partition("=")
        if not sep:
            label, name = item, item
        if not label or not name:
            raise ConfigError(f"--model {item!r}: expected NAME or LABEL=NAME")
        if label in models:
            raise ConfigError(
                f"--model: the label {label!r} is used twice; name the rows with LABEL=NAME"
            )
        models[label] = load_model(name)
    return models


def _cmd_eval(args: argparse.Namespace) -> int:
    import dataclasses

    from .checks import check_device, check_int, check_output_dir, check_output_file

    protocol = PROTOCOLS[args.protocol]
    if args.border:
        protocol = dataclasses.replace(protocol, border=args.border)
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}")
    # every argument is checked before any model is loaded or sample rendered
    check_int(args.border, "--border", minimum=0)
    check_int(args.size, "--size", minimum=8)
    check_device(args.device)
    if args.json:
        check_output_file(args.json, "--json")
    if args.save_frames:
        check_output_dir(args.save_frames, "--save-frames")
    kind, _ = resolve_data(args.data)  # a missing path fails here, before any model is loaded
    split = None
    if kind == "val":  # which files val: holds out, also before any work
        from .data import find_split

        split = find_split(args.split)
    models = _parse_models(args.model or ["default"])
    samples = iter_samples(
        args.data,
        blur=args.blur,
        seed=args.seed,
        size=args.size,
        count=args.limit or 64,
        subset=args.subset,
        split=split,
    )
    rows = evaluate(
        models, samples, protocol=protocol, compute_epe=not args.no_epe, limit=args.limit,
        device=args.device, save_frames=Path(args.save_frames) if args.save_frames else None,
        progress=not args.quiet,
    )  # fmt: skip
    print(format_table(rows, protocol, not args.no_epe))
    if args.json:
        described = protocol.describe(len(rows[0].per_frame_psnr) or NUM_FRAMES)
        payload = {
            # --blur applies where the blur is synthesised here (gopro:, photos:); val: and
            # cases: come with their blurry images
            "protocol": {**dataclasses.asdict(protocol), "name": described,
                         "blur": args.blur if kind in ("gopro", "photos", "leaves") else None},
            "data": args.data, "data_kind": kind, "subset": args.subset, "limit": args.limit,
            "flow_estimator": protocol.flow if not args.no_epe else None,
            "models": {label: dict(getattr(m, "metadata", {}) or {}) for label, m in models.items()},
            "rows": [r.to_dict() for r in rows],
        }  # fmt: skip
        atomic_write_bytes(
            args.json, (json.dumps(payload, indent=2, allow_nan=False) + "\n").encode()
        )
    return 0


def add_eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="PSNR / SSIM / EPE like the paper's Table 1",
        description="Score models against the identity and oracle-static references.",
    )
    p.add_argument(
        "--data",
        required=True,
        help="val:DIR, gopro:DIR, cases:DIR, photos:DIR (auto-detected without prefix) or leaves: "
        "(procedural scenes; leaves:DIR takes colours from photos)",
    )
    p.add_argument(
        "--model",
        action="append",
        help="'default', a folder or a Hub id; LABEL=NAME to name a row; repeatable",
    )
    p.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="paper",
        help="paper: all frames, best order; strict: given order; center: centre frame only",
    )
    p.add_argument(
        "--border", type=int, default=0, help="pixels cropped from each side before scoring"
    )
    p.add_argument(
        "--blur",
        choices=("srgb", "linear"),
        default="srgb",
        help="how blur is synthesised from sharp frames",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="score at most N samples (photos: render N, default 64)",
    )
    p.add_argument(
        "--subset",
        choices=SUBSETS,
        default=None,
        help="val: data only: score only the synthetic or the real part",
    )
    p.add_argument(
        "--split",
        help="val: data only: the data split manifest naming the held-out files (default: "
        "$BLURVID_SPLIT, else scripts/data_split.json of the blurvid checkout)",
    )
    p.add_argument("--no-epe", action="store_true", help="skip the flow EPE (no OpenCV needed)")
    p.add_argument("--save-frames", help="write the predicted frames here for inspection")
    p.add_argument(
        "--json", default="blurvid_eval.json", help="where to write the JSON results ('' to skip)"
    )
    p.add_argument(
        "--device",
        help="where the models run and the rows are scored: cpu (default), cuda, cuda:1 ...",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256, help="crop size for photos: synthetic sets")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(handler=_cmd_eval)
