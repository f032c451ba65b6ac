#!/usr/bin/env python3
"""One lent-GPU call of the release run (issue 31), end to end in at most ten minutes.

On the device machine (its ``python3`` holds torch with CUDA; blurvid comes from this checkout's
``src/``, nothing is installed), with the data folder that ``scripts/gpu_carry.sh prepare``
makes and the device tool carries (``shared-copy/``: photos, video stills, sintel frames, the
validation sequence, the latest export in fp16)::

    OUT=$OUT python3 scripts/gpu_session.py shared-copy

The same code on the CPU in a few seconds (tiny crop, batch 2, one step per segment, a 64x64
"720p"); CI runs it (``tests/train/test_gpu_session.py``)::

    python scripts/gpu_session.py DATA --out /tmp/o --dry-run

What it does, all in one process, writing under ``--out`` (default ``$OUT``), at most 8 files
two folders down (what the device tool brings back):

1. ``bench.json`` ``data``: the device path's samples/s on the release mix at a few batch sizes
   (:class:`blurvid.train.device_data.DeviceSampler`, samples rendered on the device).
2. Training (``--data-path device``, the data mix of ``recipes/release-v0.3.toml``:
   the fast recipe, restoration only, EMA 0.999, centre weight 10, bf16 autocast on CUDA),
   continued from ``DATA/latest`` (its step count and the 400 000-step schedule go on), in
   ``--segments`` segments of ``--minutes`` each; after each segment the EMA weights in fp16
   go to ``s<N>/`` (``model.safetensors`` + ``config.json``) and the validation scores (when the
   held-out sequence came along) to the log. ``log.jsonl``: the trainer's log (its ``data_s``:
   the device's time making batches; ``step_s``: its time training).
3. ``bench.json`` ``train``: samples/s and the data/compute split; ``inference``: G on a
   1280x720 image -> 7 frames, median ms in fp32, bf16 (autocast) and fp16 (half weights).
4. ``session.log``: the console.

Exit code 0 when every part ran (a segment that stops at its time limit is the normal case).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # this checkout's blurvid (nothing is installed there)


class _Tee:
    """Write to the console and the session log."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


#: The release whose data mix the session trains on.
RECIPE = REPO / "recipes" / "release-v0.3.toml"


def data_specs(root: Path, video: bool, recipe: Path = RECIPE) -> list[str]:
    """The recipe's data mix (``[data] specs``, shares and all) on what ``root`` holds, the
    carried copy of the data folder: ``stills:`` becomes ``photos:ROOT/stills`` (extracted
    beforehand by ``gpu_carry.sh prepare``: no PyAV on the device), ``video:`` is kept only
    with ``video`` (PyAV imports), and a spec whose folder ``root`` lacks is left out."""
    from blurvid.train.recipe import load_recipe

    specs = []
    for spec in load_recipe(recipe).specs(data_root=str(root)):
        kind, rest = spec.split(":", 1)
        path, at, weight = rest.rpartition("@") if "@" in rest else (rest, "", "")
        if kind == "stills":
            kind, path = "photos", str(root / "stills")
        if (kind == "video" and not video) or not Path(path).exists():
            continue
        specs.append(f"{kind}:{path}{at}{weight}")
    if not specs:
        raise SystemExit(f"gpu_session: none of {recipe.name}'s data folders are in {root}")
    return specs


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_data(sampler, device, batches: list[int], reps: int) -> dict:
    """Samples/s of the device path on the mix, per batch size (wall time, synchronised)."""
    import torch

    gen = torch.Generator(device=device).manual_seed(0)
    out = {}
    for b in batches:
        sampler.sample(b, gen)
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            sampler.sample(b, gen)
        _sync(device)
        out[f"batch{b}_samples_s"] = round(reps * b / (time.perf_counter() - t), 1)
        print(
            f"gpu_session: data path, batch {b}: {out[f'batch{b}_samples_s']} samples/s", flush=True
        )
    return out


def bench_inference(model, device, size: tuple[int, int], reps: int) -> dict:
    """Median ms of G on one ``(h, w)`` image -> 7 frames: fp32, bf16 autocast, fp16 weights."""
    import copy

    import torch

    h, w = size
    x = torch.rand(1, 3, h, w, device=device)
    out: dict = {"size": f"{w}x{h}", "device": str(device)}
    for name in ("fp32", "bf16", "fp16"):
        g = copy.deepcopy(model).eval().to(device)
        xin = x
        ctx: contextlib.AbstractContextManager = contextlib.nullcontext()
        if name == "bf16":
            ctx = torch.autocast(device.type, dtype=torch.bfloat16)
        elif name == "fp16":
            g, xin = g.half(), x.half()
        if device.type == "cuda":
            g = g.to(memory_format=torch.channels_last)
        try:
            times = []
            with torch.inference_mode(), ctx:
                for i in range(reps + 2):
                    _sync(device)
                    t = time.perf_counter()
                    y = g(xin)
                    _sync(device)
                    if i >= 2:  # two warm-ups
                        times.append(time.perf_counter() - t)
            out[f"{name}_ms"] = round(statistics.median(times) * 1e3, 2)
            out[f"{name}_frames"] = list(y.shape)
        except (RuntimeError, NotImplementedError) as exc:  # e.g. fp16 kernels missing on a CPU
            out[f"{name}_error"] = str(exc).splitlines()[0][:200]
        print(
            f"gpu_session: inference {name}: {out.get(f'{name}_ms', out.get(f'{name}_error'))}",
            flush=True,
        )
    return out


def _time_split(log_path: Path, batch: int) -> dict:
    """Steps, samples/s and the data/compute split from the trainer's log (a record per step)."""
    recs = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    recs = [r for r in recs if "data_s" in r]
    if not recs:
        return {}
    data_s, step_s = sum(r["data_s"] for r in recs), sum(r["step_s"] for r in recs)
    return {"steps": len(recs), "last_step": recs[-1]["step"], "data_s": round(data_s, 2),
            "step_s": round(step_s, 2), "data_share": round(data_s / max(data_s + step_s, 1e-9), 3),
            "samples_s": round(len(recs) * batch / max(data_s + step_s, 1e-9), 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="the carried data folder (shared-copy/)")
    ap.add_argument("--out", type=Path, default=os.environ.get("OUT"), help="default: $OUT")
    ap.add_argument("--continue-from", type=Path, default=None,
                    help="export to continue (default: DATA/latest)")  # fmt: skip
    ap.add_argument("--run", type=Path, default=Path("/tmp/gpu-session"), help="scratch run folder")
    ap.add_argument("--minutes", type=float, default=3.0, help="training minutes per segment")
    ap.add_argument("--segments", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--compile", action="store_true", help="torch.compile G (CUDA only)")
    ap.add_argument("--dry-run", action="store_true",
                    help="the same code on the CPU in seconds: crop 32, batch 2, one step per "
                    "segment, small pools, a 64x64 inference")  # fmt: skip
    args = ap.parse_args(argv)
    if args.out is None:
        ap.error("--out or $OUT is required")
    args.out.mkdir(parents=True, exist_ok=True)
    log_file = open(args.out / "session.log", "a", encoding="utf-8")  # noqa: SIM115
    sys.stdout = _Tee(sys.__stdout__, log_file)  # type: ignore[assignment]
    sys.stderr = _Tee(sys.__stderr__, log_file)  # type: ignore[assignment]

    import torch

    from blurvid.hub import load_model
    from blurvid.train import TrainConfig

    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        raise SystemExit(
            f"gpu_session: torch {torch.__version__} sees no CUDA device: run it where python3 "
            f"holds torch with CUDA (the device machine), or rehearse with --dry-run"
        )
    device = torch.device("cpu" if dry else "cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"gpu_session: torch {torch.__version__}, device {name}, dry run {dry}", flush=True)
    try:
        import av  # noqa: F401

        has_av = True
    except ImportError:
        has_av = False
    specs = data_specs(args.data, video=has_av and not dry)
    print("gpu_session: data " + " ".join(specs), flush=True)
    latest = args.continue_from or args.data / "latest"
    crop, batch = (32, 2) if dry else (args.crop, args.batch)
    cfg = TrainConfig.fast(
        stage="base", steps=400_000, batch_size=batch, crop=crop, ramp_start=1.0, ramp_end=1.0,
        adv_weight=0.0, flow_weight=0.0, ema_decay=0.999, central_weight=10.0,
        ckpt_every=10**9, log_every=1, sample_every=0, val_every=0,
        data=tuple(specs), data_path="device", pool_size=4 if dry else 512,
        device=str(device), compile=args.compile, amp=True,
    )  # fmt: skip
    report: dict = {"device": name, "torch": torch.__version__, "dry_run": dry, "data": specs,
                    "batch": batch, "crop": crop}  # fmt: skip
    val = None
    split = REPO / "scripts" / "data_split.json"
    if (args.data / "frames" / "sam2_bedroom").is_dir():  # the held-out sequence came along
        from blurvid.data import validation_set

        val = validation_set(args.data, split=split)
    run = args.run / "base"
    rc = 0
    t0 = time.time()
    trainer = None

    def save_report() -> None:  # after every part: what ran comes back even if a later one fails
        (args.out / "bench.json").write_text(json.dumps(report, indent=1) + "\n")

    try:
        trainer = train_segments(args, cfg, val, latest, device, report, save_report, t0)
    except Exception:  # the inference timing below still runs, with the export's weights
        import traceback

        traceback.print_exc()
        rc = 1
    model = trainer.model if trainer is not None else load_model(latest)
    log = run / "log.jsonl"
    if log.is_file():  # a record per step; every 10th when it would not come back (16 MiB)
        lines = log.read_text().splitlines(keepends=True)
        if sum(map(len, lines)) > 15 * 2**20:
            lines = lines[::10]
        (args.out / "log.jsonl").write_text("".join(lines))
        report["train"] = _time_split(log, batch)
        save_report()
    size = (64, 64) if dry else (720, 1280)
    report["inference"] = bench_inference(model, device, size, 2 if dry else 10)
    save_report()
    print(f"gpu_session: done in {time.time() - t0:.0f} s (exit {rc}); back in $OUT: "
          + " ".join(sorted(p.relative_to(args.out).as_posix() for p in args.out.rglob("*") if p.is_file())))  # fmt: skip
    return rc


def train_segments(args, cfg, val, latest: Path, device, report: dict, save_report, t0: float):
    """The training segments (module docstring, step 2); returns the last trainer."""
    import torch

    from blurvid.hub import save_folder
    from blurvid.train import Trainer

    dry, run = args.dry_run, args.run / "base"
    trainer = None
    for seg in range(1, args.segments + 1):
        limit = 1e-6 if dry else args.minutes * 60
        kw = dict(resume=True) if seg > 1 else dict(continue_from=latest)
        trainer = Trainer(cfg, run, val_data=val, progress=False, time_limit_s=limit,
                          sampler=trainer.sampler if trainer is not None else None, **kw)  # fmt: skip
        if seg == 1:
            print(f"gpu_session: ready in {time.time() - t0:.1f} s (pools, G from {latest})")
            report["data_bench"] = bench_data(trainer.sampler, device,
                                              [2] if dry else [32, 128, 256], 1 if dry else 5)  # fmt: skip
            save_report()
        try:
            trainer.fit()
        except KeyboardInterrupt:
            if not trainer.timed_out:
                raise
        snap = args.out / f"s{seg}"
        save_folder(trainer.model, snap, dtype=torch.float16,
                    metadata={"placeholder": "false", "stage": "base", "steps": str(trainer.step)})  # fmt: skip
        scores = trainer.validate() if val is not None else {}
        print(f"gpu_session: segment {seg} ends at step {trainer.step}; EMA in {snap} {scores}",
              flush=True)  # fmt: skip
        report.setdefault("segments", []).append({"step": trainer.step, **scores})
        save_report()
    return trainer


if __name__ == "__main__":
    raise SystemExit(main())
