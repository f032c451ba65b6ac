"""``blurvid train`` and ``blurvid convert-vgg19`` (also ``python -m blurvid.train``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, DataError
from .config import GRAM_FEATURES, STAGES, TrainConfig

if TYPE_CHECKING:
    from ..model import Generator
    from .recipe import Recipe


def resolve_train_args(
    args: argparse.Namespace,
) -> tuple[tuple[str, ...], dict[str, TrainConfig], Recipe | None]:
    """What ``blurvid train`` ARGS would train, without any work or file written: the stages,
    each one's :class:`TrainConfig` (preset, ``--config`` file or recipe, then the flags) and
    the recipe (None without one). With a recipe, ``args.val`` and ``args.split`` are filled
    from it where not given (``scripts/release.py --dry-run`` compares commands with this)."""
    import dataclasses

    stages = STAGES if args.stage == "all" else (args.stage,)
    recipe = None
    if args.config and Path(args.config).suffix == ".toml":
        from .recipe import load_recipe

        recipe = load_recipe(args.config)
        where = dict(data_root=args.data_root, out=str(args.out), bank_seed=args.bank_seed)
        configs = {s: recipe.stage_config(s, **where) for s in stages}
    else:
        if args.data_root is not None or args.bank_seed is not None:
            raise ConfigError(
                "--data-root and --bank-seed apply to a recipe file (--config FILE.toml)"
            )
        if args.config:
            cfg = TrainConfig.from_json(args.config)
        else:
            cfg = TrainConfig.fast() if args.recipe == "fast" else TrainConfig.paper()
        configs = {s: cfg for s in stages}
    # every option whose dest names a TrainConfig field overrides it when given; "stage"
    # (may be "all") is set per stage by train(), "data" is a list turned into a tuple below
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"stage", "data"}
    overrides = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if args.data:
        overrides["data"] = tuple(args.data)
    arch = {
        field: getattr(args, dest)
        for dest, field in _ARCH_OPTIONS.items()
        if getattr(args, dest) is not None
    }
    for s, c in configs.items():
        generator = {"generator": dataclasses.replace(c.generator, **arch)} if arch else {}
        configs[s] = c.replace(**overrides, **generator)
    if recipe is not None:
        if args.val is None and not args.no_val and recipe.validation.get("data"):
            args.val = recipe.validation_folder(args.data_root)
        if args.split is None and recipe.data.get("split"):
            args.split = recipe.data["split"]
    if args.no_val:
        args.val = None
    return stages, configs, recipe


def _cmd_train(args: argparse.Namespace) -> int:
    from ..checks import check_device, check_model_source, check_output_dir
    from .data import check_data_specs
    from .loop import TimeLimitReached, check_resumable, train

    stages, configs, recipe = resolve_train_args(args)
    cfg = configs[stages[0]]
    where = dict(data_root=args.data_root, out=str(args.out), bank_seed=args.bank_seed)
    if not cfg.data:
        raise ConfigError(
            "no training data: pass --data (photos:DIR, stills:VIDEOS, frames:DIR, video:FILE, gopro:DIR, bank:FILE)"
        )
    if args.time_limit is not None and not args.time_limit > 0:
        raise ConfigError(
            f"--time-limit must be a positive number of minutes, got {args.time_limit}"
        )
    bank = recipe.bank_file(str(args.out), args.bank_seed) if recipe and not args.data else None
    made = f"bank:{Path(args.out) / stages[0]}"  # a bank the first stage renders (v0.1's)
    for s, c in configs.items():  # before any work, as every argument below
        specs = recipe.specs(args.data_root) if recipe and bank else c.data
        later = [d for d in specs if s != stages[0] and d.startswith(made)]
        if not specs or len(later) < len(specs):
            check_data_specs([d for d in specs if d not in later])
    if args.val or args.split is not None:  # the held-out files of --val and photos:/frames:
        from ..data import find_split

        find_split(args.split)  # no manifest, or a malformed one, fails here
    if args.split is not None:  # the trainer builds the dataset: it reads the environment
        os.environ["BLURVID_SPLIT"] = str(Path(args.split).resolve())
    check_device(cfg.device)
    if cfg.init is not None:
        check_model_source(cfg.init, "--init")
    if (
        args.continue_from is not None
        and not (Path(args.continue_from) / "model.safetensors").is_file()
    ):
        raise ConfigError(
            f"--continue-from {args.continue_from}: no model.safetensors there; pass a run's "
            f"exported folder (`blurvid export OUT/<stage> OUT/<stage>/latest`) or its best/"
        )
    resume = args.resume is not None
    if resume:  # before any work: --resume never silently starts from step 0
        try:
            check_resumable(args.out, stages)
        except DataError:
            if args.resume != "auto" and args.continue_from is None:
                raise
            resume = False  # --resume auto: a script re-run until done, first run
            start = (
                f"continuing from {args.continue_from}"
                if args.continue_from
                else "starting at step 0"
            )
            print(f"blurvid: nothing to resume in {args.out}: {start}", file=sys.stderr)
    check_output_dir(args.out, "--out")
    if (
        not resume
        and args.continue_from is None
        and cfg.init is None
        and stages[0] == "base"
        and cfg.generator.init == "paper"
    ):
        print(
            "blurvid: note: a new G with the paper's N(0, 0.01) initialisation (Sec. 4.2): on "
            "the budgets measured its gated blocks never open and it trains as a linear filter "
            "(about +0.1 dB; docs/training.md, 'Learning speed'). Pass --g-init kaiming (or "
            "--recipe fast) unless you reproduce the paper to the letter.",
            file=sys.stderr,
        )
    if recipe is not None:
        from .recipe import write_resolved

        resolved = recipe.resolved(stages, **where)
        resolved["stages"] = {s: c.to_dict() for s, c in configs.items()}  # with the flags
        write_resolved(resolved, args.out)
        if bank is not None and not bank.is_file():  # render it as the release scripts did
            from .data import dataset_from_specs

            dataset_from_specs(recipe.specs(args.data_root), crop=recipe.bank_crop,
                               seed=recipe.bank_seed(args.bank_seed),
                               bank_size=int(recipe.bank["size"]), bank_dir=bank.parent,
                               progress=not args.quiet, split=args.split,
                               camera=recipe.train.get("camera"))  # fmt: skip
    val = None
    if args.val:
        from ..data import validation_set

        val = validation_set(args.val)  # the fixed set (128x128), whatever the training crop
    try:
        limit = args.time_limit * 60 if args.time_limit else None
        train(cfg, args.out, stages=stages, resume=resume, continue_from=args.continue_from,
              val_data=val, progress=not args.quiet, time_limit_s=limit,
              stage_configs=configs if recipe is not None else None)  # fmt: skip
    except TimeLimitReached as exc:
        print(f"{exc}; checkpoint saved, continue with --resume")
        return 75  # EX_TEMPFAIL: not finished, try again
    except KeyboardInterrupt:
        return 130
    last = Path(args.out) / stages[-1] / "model"
    print(f"trained model saved in {last} (load it with blurvid.load_model({str(last)!r}))")
    return 0


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 1,1,2, got {text!r}"
        ) from None
    return values


#: options (their dest) that set a field of a new G's :class:`~blurvid.model.GeneratorConfig`
_ARCH_OPTIONS = {"width": "width", "enc_blocks": "enc_blocks", "middle_blocks": "middle_blocks",
                 "dec_blocks": "dec_blocks", "g_init": "init"}  # fmt: skip


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
        if action.dest in fields or action.dest in _ARCH_OPTIONS:
            a, b = (
                (getattr(paper, action.dest), getattr(fast, action.dest))
                if action.dest in fields
                else (
                    getattr(paper.generator, _ARCH_OPTIONS[action.dest]),
                    getattr(fast.generator, _ARCH_OPTIONS[action.dest]),
                )
            )
            a, b = (",".join(map(str, v)) if isinstance(v, tuple) else v for v in (a, b))
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
        help="data source, repeatable: photos:DIR, stills:VIDEOS (shake on video stills), leaves: or "
        "leaves:PHOTOS (procedural scenes), frames:DIR, video:FILE, gopro:DIR, bank:FILE, each with "
        "an optional @WEIGHT "
        "(default: none, or the --config file's)",
    )
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, model/ export)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="yes",
        choices=("yes", "auto"),
        help="continue from the run folder's checkpoint (an error when there is nothing to "
        "resume); '--resume auto' starts at step 0 then, for scripts re-run until done",
    )
    p.add_argument(
        "--continue-from",
        metavar="DIR",
        help="continue the first stage from its exported weights (e.g. OUT/base/latest, from "
        "`blurvid export`) when its full checkpoint is gone: the step count, schedule and best "
        "validation carry on, the optimiser's moments start fresh with a new warm-up; with "
        "--resume, a checkpoint found in --out takes precedence",
    )
    p.add_argument(
        "--recipe",
        choices=("paper", "fast"),
        default="paper",
        help="hyper-parameter preset: the paper's, or the small-compute one of docs/training.md",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a recipe file (recipes/*.toml: every stage's settings, the data, the bank, "
        "validation) or a run's train_config.json, instead of the --recipe preset; the "
        "options below override single fields (default: none)",
    )
    p.add_argument(
        "--data-root",
        dest="data_root",
        metavar="DIR",
        help="the data folder a recipe file's {data} names (e.g. the one `blurvid data "
        "download` filled) (default: the recipe's data_root)",
    )
    p.add_argument(
        "--bank-seed",
        dest="bank_seed",
        type=int,
        help="a recipe with a [bank]: the seed of the sample bank to render and train on "
        "(default: the recipe's)",
    )
    p.add_argument(
        "--no-val",
        dest="no_val",
        action="store_true",
        help="no validation, even where the recipe file names a validation folder",
    )
    p.add_argument("--steps", type=int, help="optimisation steps per stage")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="samples per step per process")
    p.add_argument("--crop", type=int, help="training crop size in pixels")
    p.add_argument("--lr", type=float, help="learning rate, cosine-annealed to --lr-min")
    p.add_argument("--lr-min", dest="lr_min", type=float, help="final learning rate")
    p.add_argument(
        "--decay-start",
        dest="decay_start",
        type=int,
        help="step where the cosine to --lr-min begins, a constant --lr before it (0: "
        "the cosine spans the whole run)",
    )
    p.add_argument("--seed", type=int, help="seeds data order, augmentation and init")
    p.add_argument("--workers", dest="num_workers", type=int, help="data-loading worker processes")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--width", type=int, help="G's base width, new models only (default: 32)")
    p.add_argument(
        "--init", help="start from this model folder (default: a new G, or the previous stage)"
    )
    p.add_argument(
        "--enc-blocks",
        dest="enc_blocks",
        type=_int_list,
        help="gated blocks per encoder level, e.g. 1,1,2, new models only",
    )
    p.add_argument(
        "--middle-blocks",
        dest="middle_blocks",
        type=int,
        help="blocks at the bottleneck, new models only",
    )
    p.add_argument(
        "--dec-blocks",
        dest="dec_blocks",
        type=_int_list,
        help="gated blocks per decoder level, e.g. 1,1,1, new models only",
    )
    p.add_argument(
        "--g-init",
        dest="g_init",
        choices=("paper", "kaiming"),
        help="initialisation of a new G: paper = N(0, 0.01) on every conv (Sec. 4.2), kaiming "
        "= PyTorch's standard init (Kaiming-uniform) for the body and N(0, 0.01) for the head, as NAFNet",
    )
    p.add_argument(
        "--camera",
        help="camera realism of the synthetic data (photos, stills, leaves): off, all, "
        "or steps joined by + from highlights, noise, tone, jpeg (docs/training.md)",
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
    p.add_argument(
        "--split",
        help="data split manifest: the files --val uses and photos:/frames: specs leave out "
        "(default: $BLURVID_SPLIT, else scripts/data_split.json of the blurvid checkout)",
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
        "--gram-features",
        dest="gram_features",
        choices=GRAM_FEATURES,
        help="stage gram: features of the Gram matrices: vgg19 (--vgg19-weights, else seeded "
        "random VGG19) or filters (a fixed multi-scale oriented filter bank, no weights)",
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
        ("--central-weight", "weight of Eq. 1's central-frame MSE"),
        ("--frames-weight", "weight of the best-order MSE over all frames"),
        ("--central-l1-weight", "extra L1 on the centre frame (0 = off, as in the paper)"),
        ("--central-psnr-weight", "per-sample PSNR loss on the centre frame (0 = off)"),
        ("--frames-psnr-weight", "per-sample best-order PSNR loss on all frames (0 = off)"),
        ("--pair-diff-weight", "weight of Eq. 2's difference term (paper: 1)"),
        ("--gram-weight", "Eq. 7 weight (stage gram)"),
        ("--base-weight", "weight of the stage-1 loss kept on during stages gram/hepta"),
        ("--ema-decay", "EMA of G's weights, scored and exported (0 = off; e.g. 0.999)"),
    ):  # fmt: skip
        p.add_argument(flag, dest=flag[2:].replace("-", "_"), type=float, help=text)
    p.add_argument(
        "--time-limit",
        dest="time_limit",
        type=float,
        help="stop cleanly after this many minutes: checkpoint saved, exit code 75, resume "
        "with --resume (default: none)",
    )
    p.add_argument(
        "--cpu-amp",
        dest="cpu_amp",
        action="store_const",
        const=True,
        help="bf16 autocast on the CPU: 1.2-1.3x faster steps on CPUs with native bf16 "
        "(AVX512-BF16, AMX), no faster on others (benchmarks/bench_cpu_amp.py)",
    )
    p.add_argument(
        "--no-cpu-amp",
        dest="cpu_amp",
        action="store_const",
        const=False,
        help='float32 on the CPU, also where the --config file says cpu_amp = true or "auto" '
        "(default: the preset's float32, or the --config file's cpu_amp)",
    )
    p.add_argument(
        "--loader-uint8",
        dest="loader_uint8",
        action="store_const",
        const=True,
        help="ship batches from the loader as uint8 (a bank's precision) and convert on the "
        "device: 4x less traffic from the worker processes",
    )
    p.add_argument(
        "--data-path",
        dest="data_path",
        choices=("workers", "device"),
        help="where samples are made: 'workers' (CPU loader processes) or "
        "'device' (whole batches rendered on the training device: the GPU path)",
    )
    p.add_argument(
        "--pool-size",
        dest="pool_size",
        type=int,
        help="--data-path device: samples per real-footage pool (frames/video/gopro/bank), "
        "rendered once at start-up",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _show_defaults(p)
    p.set_defaults(handler=_cmd_train)


def _cmd_convert(args: argparse.Namespace) -> int:
    from ..checks import check_output_file
    from .features import convert_torchvision_vgg19

    check_output_file(args.dst, "dst")  # before the 550 MB file is read
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


def _checkpoint_path(source: str | Path) -> Path | None:
    """The checkpoint file ``source`` names (the file, or a run folder holding one), else None."""
    path = Path(source)
    if path.is_dir():
        path = path / "checkpoint.safetensors"
    return path if path.is_file() else None


def generator_from_checkpoint(checkpoint: str | Path) -> tuple[Generator, dict[str, str]]:
    """The G of a training checkpoint (file or run folder) and its provenance metadata."""
    from ..model import Generator
    from .checkpoint import load_checkpoint, load_module

    path = _checkpoint_path(checkpoint) or Path(checkpoint)
    tensors, meta = load_checkpoint(path)
    cfg = TrainConfig.from_dict(meta["config"])
    g = Generator(cfg.generator)  # checkpoints record G's actual architecture
    # a run with EMA on exports the averaged weights, as the trainer's own model/ does
    prefix = "G_ema" if any(k.startswith("G_ema.") for k in tensors) else "G"
    load_module(g, prefix, tensors)
    metadata = {
        "placeholder": "false",
        "stage": cfg.stage,
        "steps": str(meta["step"]),
        "from_checkpoint": path.name,
        "weights": "ema" if prefix == "G_ema" else "raw",
    }
    return g, metadata


def export_checkpoint(checkpoint: str | Path, out: str | Path, *, fp16: bool = False) -> Path:
    """Write the G of a training checkpoint as a model folder (``config.json`` +
    ``model.safetensors``) that :func:`blurvid.load_model` loads -- to evaluate or ship a
    model in the middle of a run. ``checkpoint`` may be the file or its run folder."""
    import torch

    from ..hub import save_folder

    g, metadata = generator_from_checkpoint(checkpoint)
    return save_folder(g, out, dtype=torch.float16 if fp16 else None, metadata=metadata)


def _cmd_export(args: argparse.Namespace) -> int:
    from ..checks import check_output_dir
    from ..export import export_model

    if args.out and args.output:
        raise ConfigError("give the output once: as OUT or as -o/--output, not both")
    out = args.out or args.output
    if not out:
        raise ConfigError("no output: pass OUT (a folder) or -o FILE (.onnx, .pt)")
    if args.fp16 and args.format != "folder":
        raise ConfigError("--fp16 applies to --format folder only (ONNX/TorchScript are float32)")
    if args.format == "folder":
        check_output_dir(out, "out")  # before the source is read
    source = args.source or "default"
    if _checkpoint_path(source) is not None:
        if args.format == "folder":
            written = export_checkpoint(source, out, fp16=args.fp16)
        else:
            written = export_model(generator_from_checkpoint(source)[0], out, format=args.format)
    elif args.format == "folder":
        import torch

        from ..hub import load_model, provenance, save_folder

        dtype = torch.float16 if args.fp16 else None
        model = load_model(source, device="cpu")  # same weights: keep their training record
        written = save_folder(model, out, dtype=dtype, metadata=provenance(model))
    else:
        written = export_model(source, out, format=args.format)
    how = {
        "folder": f"load it with blurvid.load_model({str(written)!r})",
        "onnx": "run it with onnxruntime: input 'blurry' (B,3,H,W) in [0,1], see docs/export.md",
        "torchscript": "load it with torch.jit.load; see docs/export.md",
    }[args.format]
    print(f"wrote {written} ({how})")
    return 0


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a checkpoint or model as a model folder, ONNX or TorchScript",
        description="Write G -- from a training checkpoint (file or run folder) or a model "
        "(name, folder or Hub id; default: the bundled one) -- as a model folder (config.json + "
        "model.safetensors), an ONNX file or a TorchScript file. ONNX and TorchScript take "
        "float32 (B,3,H,W) RGB in [0,1] with any H, W >= 16 and give (B,7,3,H,W) in [0,1].",
    )
    p.add_argument(
        "source",
        nargs="?",
        help="checkpoint.safetensors, a run folder, or a model name/folder (default: 'default')",
    )
    p.add_argument("out", nargs="?", help="output (folder, or file for onnx/torchscript)")
    p.add_argument("-o", "--output", help="output, instead of OUT")
    p.add_argument(
        "--format",
        choices=("folder", "onnx", "torchscript"),
        default="folder",
        help="folder (default): config.json + model.safetensors; onnx: for onnxruntime "
        "(needs blurvid[onnx]); torchscript: traced, for torch.jit.load",
    )
    p.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    p.set_defaults(handler=_cmd_export)
