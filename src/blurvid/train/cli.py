"""``blurvid train`` and ``blurvid convert-vgg19`` (also ``python -m blurvid.train``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .config import STAGES, TrainConfig


def _cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    from ..model import GeneratorConfig
    from .loop import train

    if args.config:
        cfg = TrainConfig.from_json(args.config)
    else:
        cfg = TrainConfig.fast() if args.recipe == "fast" else TrainConfig.paper()
    # every option whose dest names a TrainConfig field overrides it when given; "stage"
    # (may be "all") is set per stage by train(), "data" is a list turned into a tuple below
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"stage", "data"}
    overrides = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if args.data:
        overrides["data"] = tuple(args.data)
    if args.width:
        overrides["generator"] = GeneratorConfig(width=args.width)
    cfg = cfg.replace(**overrides)
    if not cfg.data:
        raise ConfigError(
            "no training data: pass --data (photos:DIR, frames:DIR, video:FILE, gopro:DIR, bank:FILE)"
        )
    stages = STAGES if args.stage == "all" else (args.stage,)
    val = None
    if args.val:
        from .data import validation_set

        val = validation_set(args.val)  # the fixed set (128x128), whatever the training crop
    try:
        train(
            cfg, args.out, stages=stages, resume=args.resume, val_data=val, progress=not args.quiet
        )
    except KeyboardInterrupt:
        return 130
    last = Path(args.out) / stages[-1] / "model"
    print(f"trained model saved in {last} (load it with blurvid.load_model({str(last)!r}))")
    return 0


def _show_defaults(p: argparse.ArgumentParser) -> None:
    """Append its default to every option's help that does not state one: the value of
    both recipes for an option that overrides a :class:`TrainConfig` field (unset = the
    preset's value), the argparse default otherwise."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    paper, fast = TrainConfig.paper(), TrainConfig.fast()
    for action in p._actions:
        if isinstance(action, argparse._HelpAction) or action.required:
            continue
        if action.help is None or "default" in action.help:
            continue
        if action.dest in fields:
            a, b = getattr(paper, action.dest), getattr(fast, action.dest)
            default = f"{a}" if a == b else f"{a} with --recipe paper, {b} with fast"
        elif isinstance(action, argparse._StoreTrueAction):
            default = "off"
        else:
            default = f"{action.default}"
        action.help += f" (default: {default})"


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train or fine-tune G (BaseGAN -> GramGAN -> HeptaGAN)",
        description="Train G through the paper's three stages; resumable with --resume.",
    )
    p.add_argument(
        "--stage",
        choices=(*STAGES, "all"),
        default="base",
        help="stage to run, or all three in order",
    )
    p.add_argument(
        "--data",
        action="append",
        help="data source, repeatable: photos:DIR, frames:DIR, video:FILE, gopro:DIR, bank:FILE "
        "(default: none, or the --config file's)",
    )
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, model/ export)")
    p.add_argument(
        "--resume", action="store_true", help="continue from the run folder's checkpoint"
    )
    p.add_argument(
        "--recipe",
        choices=("paper", "fast"),
        default="paper",
        help="hyper-parameter preset: the paper's, or the small-compute one of docs/training.md",
    )
    p.add_argument(
        "--config",
        help="a train_config.json to start from instead of the --recipe preset (default: none)",
    )
    p.add_argument("--steps", type=int, help="optimisation steps per stage")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="samples per step per process")
    p.add_argument("--crop", type=int, help="training crop size in pixels")
    p.add_argument("--lr", type=float, help="learning rate, cosine-annealed to --lr-min")
    p.add_argument("--lr-min", dest="lr_min", type=float, help="final learning rate")
    p.add_argument("--seed", type=int, help="seeds data order, augmentation and init")
    p.add_argument("--workers", dest="num_workers", type=int, help="data-loading worker processes")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--width", type=int, help="G's base width, new models only (default: 32)")
    p.add_argument(
        "--init", help="start from this model folder (default: a new G, or the previous stage)"
    )
    p.add_argument(
        "--bank-size",
        dest="bank_size",
        type=int,
        help="pre-render this many samples (fast CPU training; 0 = render every step)",
    )
    p.add_argument(
        "--val",
        help="shared data folder to build the fixed validation set from (default: none)",
    )
    p.add_argument("--val-every", dest="val_every", type=int, help="validate every N steps")
    p.add_argument(
        "--ckpt-every", dest="ckpt_every", type=int, help="save a checkpoint every N steps"
    )
    p.add_argument(
        "--sample-every", dest="sample_every", type=int, help="save sample frames every N steps"
    )
    p.add_argument(
        "--log-every", dest="log_every", type=int, help="write a log.jsonl line every N steps"
    )
    p.add_argument(
        "--vgg19-weights",
        dest="vgg19_weights",
        help="local VGG19 safetensors, see convert-vgg19 (default: $BLURVID_VGG19_WEIGHTS, "
        "else seeded random weights, with a warning)",
    )
    p.add_argument("--flow", help="flow estimator for Eq. 4: dis, dis-fast, dis-ultrafast")
    p.add_argument(
        "--gram-mode",
        dest="gram_mode",
        choices=("prediction", "ground_truth"),
        help="stage gram: where the three averaged frames of its input come from",
    )
    p.add_argument(
        "--hepta-source",
        dest="hepta_source",
        choices=("prediction", "ground_truth"),
        help="stage hepta: where its seven input frames come from",
    )
    for flag, text in (  # loss weights and curriculum: float overrides of TrainConfig fields
        ("--adv-weight", "alpha of Eq. 5 (0 = no D)"),
        ("--flow-weight", "beta of Eq. 5 (0 = no flow)"),
        ("--perceptual-weight", "VGG19 feature term of Eq. 1 (0 = no VGG)"),
        ("--ramp-start", "fraction of --steps where the difference/flow/adversarial terms start "
                         "ramping in"),
        ("--ramp-end", "fraction of --steps where they reach full weight"),
        ("--pair-diff-weight", "weight of Eq. 2's difference term (paper: 1)"),
        ("--gram-weight", "Eq. 7 weight (stage gram)"),
        ("--base-weight", "weight of the stage-1 loss kept on during stages gram/hepta"),
    ):  # fmt: skip
        p.add_argument(flag, dest=flag[2:].replace("-", "_"), type=float, help=text)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _show_defaults(p)
    p.set_defaults(handler=_cmd_train)


def _cmd_convert(args: argparse.Namespace) -> int:
    from .features import convert_torchvision_vgg19

    out = convert_torchvision_vgg19(args.src, args.dst, overwrite=args.overwrite)
    print(f"wrote {out}; use it with --vgg19-weights {out} or BLURVID_VGG19_WEIGHTS={out}")
    return 0


def add_convert_vgg19_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-vgg19",
        help="convert torchvision's vgg19-*.pth into safetensors for the perceptual loss",
        description="Read torchvision's VGG19 ImageNet file with torch.load(weights_only=True) once, keep features.*, write safetensors.",
    )
    p.add_argument("src", help="torchvision vgg19-dcbb9e9d.pth")
    p.add_argument("dst", help="output .safetensors")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(handler=_cmd_convert)


def export_checkpoint(checkpoint: str | Path, out: str | Path, *, fp16: bool = False) -> Path:
    """Write the G of a training checkpoint as a model folder (``config.json`` +
    ``model.safetensors``) that :func:`blurvid.load_model` loads -- to evaluate or ship a
    model in the middle of a run. ``checkpoint`` may be the file or its run folder."""
    import torch

    from ..hub import save_folder
    from ..model import Generator
    from .checkpoint import load_checkpoint, load_module

    path = Path(checkpoint)
    if path.is_dir():
        path = path / "checkpoint.safetensors"
    tensors, meta = load_checkpoint(path)
    cfg = TrainConfig.from_dict(meta["config"])
    g = Generator(cfg.generator)  # checkpoints record G's actual architecture
    load_module(g, "G", tensors)
    metadata = {
        "placeholder": "false",
        "stage": cfg.stage,
        "steps": str(meta["step"]),
        "from_checkpoint": path.name,
    }
    return save_folder(g, out, dtype=torch.float16 if fp16 else None, metadata=metadata)


def _cmd_export(args: argparse.Namespace) -> int:
    out = export_checkpoint(args.checkpoint, args.out, fp16=args.fp16)
    print(f"wrote {out} (load it with blurvid.load_model({str(out)!r}))")
    return 0


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="turn a training checkpoint into a loadable model folder",
        description="Write the G of a training checkpoint as config.json + model.safetensors.",
    )
    p.add_argument("checkpoint", help="checkpoint.safetensors, or the run folder holding it")
    p.add_argument("out", help="output model folder")
    p.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    p.set_defaults(handler=_cmd_export)
