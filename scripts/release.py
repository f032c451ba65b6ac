"""One release from its recipe file: render the bank, train the base stage, the stages, export
``latest/``, evaluate, bundle -- every setting read from ``recipes/<release>.toml``.

    scripts/release.sh RECIPE.toml [ACTION] [--dry-run] [--out DIR] [--data-root DIR]
                       [--refresh-minutes M] [--no-stopping-rule] [-- BLURVID-TRAIN-OPTIONS]

ACTION (default ``train``):

* ``render``: the sample bank of the run's current seed (``[bank]``; ``OUT/base/bank_seed``),
  the other seeds' banks deleted (``scripts/render_release_bank.py``);
* ``train``: the base stage, resumable across sessions. Each start (and, with ``[bank]
  refresh_minutes``, every that many minutes of training: segments of ``--time-limit``,
  resumed exactly) renders a new bank, seed = the banks so far + 1, counted in
  ``OUT/base/bank_seed``. It resumes the checkpoint in ``OUT/base``; without one it continues
  from ``OUT/base/latest/`` (a fresh clone), and on the very first start (neither there) from
  ``[release] continue_from``. Between segments the ``[stopping]`` rule is checked on the log
  (``--no-stopping-rule``: go on regardless);
* ``stages``: the later stages of the recipe (``[stages.gram]``, ``[stages.hepta]``) on the
  bank of the current seed, each skipped when its ``model/`` exists;
* ``export``: ``OUT/base/latest/`` from the checkpoint (``[release] latest_fp16``), what a
  session commits;
* ``evaluate``: ``blurvid eval`` of ``[evaluate] models`` per protocol and subset into
  ``[evaluate] json``-*.json, then the Markdown tables (``scripts/release_tables.py``); a model
  whose folder is missing (a removed run, a stage not trained yet) is skipped with a note;
* ``bundle``: ``[bundle] source`` becomes the bundled default (``scripts/bundle_default.py``);
* ``status``: the validation curve and the stopping rule's verdict
  (``scripts/plot_release_curve.py``);
* ``all``: train, export, stages, evaluate, bundle, stopping at the first failure.

``--dry-run`` prints the commands (``+ ...``) and changes nothing (one segment of ``train``).
Options after ``--`` go to every ``blurvid train`` (e.g. ``--no-cpu-amp``, a tiny G in tests).
Exit code: the last command's (``train``: 0 done or stopped by the rule, 75 a time limit among
the options after ``--``, 130 interrupted). Runs from the repository root, as the shell
scripts it replaces did.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from blurvid._fs import atomic_write_bytes
from blurvid.errors import ConfigError
from blurvid.train.config import STAGES
from blurvid.train.recipe import Recipe, load_recipe

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = ("render", "train", "stages", "export", "evaluate", "bundle", "status", "all")


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Release:
    """The commands of one recipe's release (see the module docstring)."""

    def __init__(self, recipe: Recipe, *, out: str | None = None, data_root: str | None = None,
                 python: str = sys.executable, train_args: list[str] | None = None,
                 dry_run: bool = False, refresh_minutes: float | None = None,
                 stopping_rule: bool = True) -> None:  # fmt: skip
        self.recipe = recipe
        self.out = out or recipe.out
        self.data_root = data_root
        self.python = python
        self.train_args = list(train_args or [])
        self.dry_run = dry_run
        self.refresh = (
            recipe.bank.get("refresh_minutes", 0) if refresh_minutes is None else refresh_minutes
        )
        self.stopping_rule = stopping_rule

    # -- helpers -------------------------------------------------------------------
    @property
    def base(self) -> Path:
        return Path(self.out) / "base"

    def say(self, text: str) -> None:
        print(f"[{_stamp()}] {self.recipe.name}: {text}", flush=True)

    def run(self, cmd: list[str]) -> int:
        """Run ``cmd`` (print it first); a SIGTERM to this driver is passed on to it (the
        trainer then saves its checkpoint and stops; so does the driver)."""
        print("+ " + shlex.join(cmd), flush=True)
        if self.dry_run:
            return 0
        proc = subprocess.Popen(cmd)
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Ctrl-C reached the child too (same process group)
            proc.wait()
            return 130
        finally:
            signal.signal(signal.SIGTERM, previous)

    def fill(self, value: str) -> str:
        return str(self.recipe.fill(value, self.data_root, self.out))

    def blurvid(self, *args: str) -> list[str]:
        return [self.python, "-m", "blurvid", *args]

    def current_seed(self) -> int:
        """The seed of the bank the run trains on now (the recipe's first before any start)."""
        path = self.base / "bank_seed"
        return int(path.read_text()) if path.is_file() else self.recipe.bank_seed()

    def next_seed(self) -> int:
        path = self.base / "bank_seed"
        return int(path.read_text()) + 1 if path.is_file() else self.recipe.bank_seed()

    def validation_args(self) -> list[str]:
        """``--no-val`` where the recipe's validation set cannot be built here (its held-out
        frame sequence missing, as in a small test data folder); nothing otherwise (the
        recipe names the folder)."""
        folder = self.recipe.validation_folder(self.data_root)
        split = self.recipe.data.get("split")
        if folder is None or split is None:
            return []
        from blurvid.data import DataSplit

        frames = DataSplit.load(split).validation_frames
        return [] if (Path(folder) / "frames" / frames).is_dir() else ["--no-val"]

    def stage_args(self, stage: str, seed: int | None) -> list[str]:
        """``blurvid train`` for one stage of the recipe (before the run-control options)."""
        args = ["train", "--config", str(self.recipe.path), "--stage", stage, "--out", self.out]
        if self.data_root:
            args += ["--data-root", self.data_root]
        if seed is not None:
            args += ["--bank-seed", str(seed)]
        return args + self.validation_args() + ["-q"]

    # -- actions -------------------------------------------------------------------
    def render(self, seed: int | None = None) -> int:
        """The bank of ``seed`` (default: the current one); nothing without a ``[bank]``."""
        if not self.recipe.bank:
            self.say("no [bank] in the recipe: the trainer renders its own data")
            return 0
        seed = self.current_seed() if seed is None else seed
        bank = self.recipe.bank_file(self.out, seed)
        assert bank is not None
        split = self.recipe.data.get("split")
        if split is None:
            raise ConfigError(
                f"{self.recipe.path}: a [bank] needs [data] split (the held-out files)"
            )
        self.say(f"rendering bank seed {seed}")
        cmd = [self.python, "scripts/render_release_bank.py",
               " ".join(self.recipe.specs(self.data_root)), str(seed), str(self.recipe.bank["size"]),
               str(bank.parent), split, str(self.recipe.train.get("camera", "off")),
               str(self.recipe.bank_crop)]  # fmt: skip
        return self.run(cmd)

    def resume_args(self) -> list[str]:
        """The checkpoint in ``OUT/base`` if any (``--resume auto``), else ``latest/``, else --
        the first start -- ``[release] continue_from`` (``--continue-from``)."""
        first = (
            not (self.base / "checkpoint.safetensors").is_file()
            and not (self.base / "latest" / "model.safetensors").is_file()
        )
        source = self.recipe.release.get("continue_from") if first else None
        source = self.fill(source) if source else str(self.base / "latest")
        found = (Path(source) / "model.safetensors").is_file()
        return ["--resume", "auto"] + (["--continue-from", source] if found else [])

    def train_command(self, seed: int | None, resume: list[str] | None = None) -> list[str]:
        """The ``blurvid train`` command of the base stage on bank ``seed`` (``resume``:
        :meth:`resume_args` as the run's folder is now)."""
        segment = ["--time-limit", f"{self.refresh:g}"] if self.refresh else []
        resume = self.resume_args() if resume is None else resume
        return self.blurvid(*self.stage_args("base", seed), *segment, *resume, *self.train_args)

    def stopping_met(self) -> bool:
        """Whether the recipe's ``[stopping]`` rule says the base run is done (see
        ``scripts/plot_release_curve.py``)."""
        log = self.base / "log.jsonl"
        if not self.recipe.stopping or not log.is_file():
            return False
        sys.path.insert(0, str(ROOT / "scripts"))
        try:
            import plot_release_curve as curve
        finally:
            sys.path.pop(0)
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        live, _ = curve.split_lineage(records)
        if not live:
            return False
        met, text = curve.stop_verdict(live, curve.training_hours(records),
                                       float(self.recipe.stopping.get("window_hours", 5.0)),
                                       float(self.recipe.stopping.get("min_rise_db", 0.2)))  # fmt: skip
        self.say(text)
        return met

    def train(self) -> int:
        resume = self.resume_args()  # decided once per start (later segments: the checkpoint wins)
        if not self.dry_run:
            self.base.mkdir(parents=True, exist_ok=True)
        while True:
            seed = None
            if self.recipe.bank:
                seed = self.next_seed()
                if not self.dry_run:
                    atomic_write_bytes(self.base / "bank_seed", f"{seed}\n".encode())
                rc = self.render(seed)
                if rc:
                    return rc
            rc = self.run(self.train_command(seed, resume))
            if self.dry_run:
                return rc
            self.say(f"trainer exited with {rc}")
            # 75: the segment's time limit -> next bank; anything else (done, stopped: 130,
            # an error, or a --time-limit of the options after --) ends the run
            if rc != 75 or not self.refresh:
                return rc
            if self.stopping_rule and self.stopping_met():
                self.say("the stopping rule is met: the base run ends (next: stages)")
                return 0

    def stages(self) -> int:
        later = [s for s in STAGES[1:] if s in self.recipe.stages]
        seed = self.current_seed() if self.recipe.bank else None
        rendered = False
        for stage in later:
            if (Path(self.out) / stage / "model" / "config.json").is_file():
                self.say(f"{stage}: finished ({self.out}/{stage}/model), skipped")
                continue
            if not rendered:
                rc = self.render(seed)
                if rc:
                    return rc
                rendered = True
            rc = self.run(self.blurvid(*self.stage_args(stage, seed), "--resume", "auto",
                                       *self.train_args))  # fmt: skip
            if not self.dry_run:
                self.say(f"{stage}: trainer exited with {rc}")
            if rc:
                return rc
        return 0

    def export(self) -> int:
        fp16 = ["--fp16"] if self.recipe.release.get("latest_fp16") else []
        return self.run(self.blurvid("export", str(self.base), str(self.base / "latest"), *fp16))

    def evaluate(self) -> int:
        ev = self.recipe.evaluate
        if not ev.get("models"):
            self.say("no [evaluate] models in the recipe")
            return 0
        models = []
        for label, folder in ev["models"]:
            folder = self.fill(folder)
            if folder != "default" and not Path(folder).is_dir():
                self.say(f"skipping {label!r}: {folder} is not here (training/README.md)")
                continue
            models += ["--model", f"{label}={folder}"]
        val = self.recipe.validation_folder(self.data_root)
        common = ["eval", "--data", f"val:{val}"]
        if self.recipe.data.get("split"):
            common += ["--split", self.recipe.data["split"]]
        prefix = self.fill(ev.get("json", f"docs/results/{self.recipe.name}"))
        if not self.dry_run:
            Path(prefix).parent.mkdir(parents=True, exist_ok=True)
        jobs = [["--protocol", p, "-q", "--json", f"{prefix}-{p}.json"]
                for p in ev.get("protocols", ["paper"])]  # fmt: skip
        jobs += [["--subset", s, "-q", "--no-epe", "--json", f"{prefix}-paper-{s}.json"]
                 for s in ev.get("subsets", [])]  # fmt: skip
        for job in jobs:
            rc = self.run(self.blurvid(*common, *models, *job))
            if rc:
                return rc
        tables = [str(Path(prefix).parent), str(ev.get("tables", self.recipe.name))]
        return self.run([self.python, "scripts/release_tables.py", *tables])

    def bundle_meta(self) -> dict[str, str]:
        """``[bundle] meta``, with a fine-tuned stage's ``base_steps`` (the steps of the B its
        stages started from, ``[stages.gram] init``) and ``<stage>_steps`` filled in."""
        meta = {str(k): str(v) for k, v in self.recipe.bundle.get("meta", {}).items()}
        for stage in STAGES[1:]:
            if stage in self.recipe.stages:
                cfg = self.recipe.stage_config(stage, data_root=self.data_root, out=self.out,
                                               cpu_bf16=False)  # fmt: skip
                meta.setdefault(f"{stage}_steps", str(cfg.steps))
                if stage == "gram" and "base_steps" not in meta and cfg.init and not self.dry_run:
                    import blurvid

                    meta["base_steps"] = blurvid.load_model(cfg.init).metadata.get("steps", "")
        return meta

    def bundle(self) -> int:
        b = self.recipe.bundle
        if not b.get("source"):
            self.say("no [bundle] source in the recipe")
            return 0
        cmd = [self.python, "scripts/bundle_default.py", self.fill(b["source"]),
               "--release", str(b.get("release", self.recipe.name)),
               "--description", str(b.get("description", self.recipe.description))]  # fmt: skip
        for key, value in self.bundle_meta().items():
            cmd += ["--meta", f"{key}={value}"]
        return self.run(cmd)

    def status(self) -> int:
        stop = self.recipe.stopping
        return self.run([self.python, "scripts/plot_release_curve.py",
                         str(self.base / "log.jsonl"), "--out", f"runs/{self.recipe.name}/curve.png",
                         "--title", f"{self.recipe.name}, stage 1 (base): validation",
                         "--window-hours", str(stop.get("window_hours", 5.0)),
                         "--min-rise", str(stop.get("min_rise_db", 0.2)), "--mark"])  # fmt: skip

    def all(self) -> int:
        for step in (self.train, self.export, self.stages, self.evaluate, self.bundle):
            rc = step()
            if rc:
                return rc
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    train_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("recipe", help="recipes/<release>.toml")
    ap.add_argument("action", nargs="?", default="train", choices=ACTIONS)
    ap.add_argument("--dry-run", action="store_true", help="print the commands, change nothing")
    ap.add_argument("--out", help="the run folder (default: the recipe's [release] out)")
    ap.add_argument("--data-root", help="the data folder {data} names (default: the recipe's)")
    ap.add_argument("--refresh-minutes", type=float,
                    help="a new bank every M minutes of training (0: one per start; default: "
                         "the recipe's [bank] refresh_minutes)")  # fmt: skip
    ap.add_argument("--no-stopping-rule", action="store_true",
                    help="train on when the recipe's [stopping] rule is met")  # fmt: skip
    ap.add_argument("--python", default=os.environ.get("PYTHON", sys.executable),
                    help="the Python that runs blurvid (default: $PYTHON, else this one)")  # fmt: skip
    args = ap.parse_args(argv)
    path = Path(args.recipe).resolve()
    os.chdir(ROOT)  # the recipes' paths are relative to the repository root
    try:
        recipe = load_recipe(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        release = Release(recipe, out=args.out, data_root=args.data_root, python=args.python,
                          train_args=train_args, dry_run=args.dry_run,
                          refresh_minutes=args.refresh_minutes,
                          stopping_rule=not args.no_stopping_rule)  # fmt: skip
        return int(getattr(release, args.action)())
    except ConfigError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
