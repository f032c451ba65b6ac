"""Recipe files: everything a training run (a release) is trained with, in one reviewed TOML
file (``recipes/release-v0.2.toml``), validated into :class:`TrainConfig` per stage.

A recipe holds:

* ``name``, ``description``, ``data_root`` (the data folder ``{data}`` stands for; ``blurvid
  train --data-root`` overrides it, e.g. with the folder ``blurvid data download`` filled);
* ``[data]``: ``specs`` (``--data`` strings with their shares, ``KIND:PATH@SHARE``) and
  ``split`` (the held-out manifest);
* ``[bank]`` (optional): the specs are pre-rendered into a sample bank of ``size`` samples of
  ``crop`` pixels in ``dir`` and each stage trains on ``bank:FILE``; ``refresh_minutes``
  records how often the release rendered a new one (the next ``seed``);
* ``[validation]``: ``data`` (the folder of the fixed validation set, ``--val``);
* ``[stopping]``: the rule that ended the run (``metric``, ``window_hours``, ``min_rise_db``;
  ``scripts/plot_release_curve.py`` prints its verdict from a run's log);
* ``[train]``: :class:`TrainConfig` fields shared by every stage (``[train.generator]``:
  :class:`~blurvid.model.GeneratorConfig` fields), and ``[stages.<stage>]``: each stage's own;
* ``[release]``, ``[evaluate]``, ``[bundle]`` (optional): what the release driver
  (``scripts/release.py``) needs beyond the configs: the run folder (``out``), the export
  the first start continues from (``continue_from``), ``latest/`` in fp16 (``latest_fp16``);
  the models to score (``models``: ``[label, folder]`` pairs), ``protocols``, ``subsets``,
  the JSON prefix (``json``) and the tables' release (``tables``); the stage to bundle as the
  default (``source``) with its ``release``, ``description`` and ``meta``.

Keys are checked against the dataclass fields (no list of them here: a field added to
:class:`TrainConfig` is a recipe key at once); an unknown or mistyped key is a
:class:`~blurvid.errors.ConfigError` naming the key and the file. A field left out takes its
:class:`TrainConfig` default (TOML has no null: leave ``init``, ``device``, ``vgg19_weights``
out for None). In string values ``{data}`` is the data folder and ``{out}`` the run folder.
``cpu_amp = "auto"`` turns bf16 autocast on where the CPU has native bf16 (as the v0.2 script
did).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..model import GeneratorConfig
from .config import STAGES, TrainConfig

__all__ = ["Recipe", "load_recipe"]

#: The tables of a recipe and the keys each may hold (``train`` / ``stages``: the dataclass
#: fields, checked separately).
_SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("specs", "split"),
    "bank": ("size", "crop", "seed", "dir", "refresh_minutes"),
    "validation": ("data",),
    "stopping": ("metric", "window_hours", "min_rise_db"),
    "release": ("out", "continue_from", "latest_fp16"),
    "evaluate": ("models", "protocols", "subsets", "json", "tables"),
    "bundle": ("source", "release", "description", "meta"),
}
_TOP = ("name", "description", "data_root", "train", "stages", *_SECTIONS)


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9/3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise ConfigError(
                "reading a recipe file on Python < 3.11 needs tomli: pip install 'blurvid[train]'"
            ) from exc
    return tomllib.loads(text)


def _unknown(key: str, known: list[str], where: str, path: Path) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(
        f"{path}: unknown key {key!r} in {where}{hint}. Known keys: {', '.join(sorted(known))}"
    )


def _check_table(table: Any, known: list[str], where: str, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} must be a table, got {table!r}")
    for key in table:
        if key not in known:
            raise _unknown(key, known, where, path)
    return table


#: What a TOML value of a field with this annotation must be (other annotations: not checked
#: here; TrainConfig checks its values itself).
_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "str | None": (str,),
}


def _check_types(table: dict[str, Any], fields: dict[str, str], where: str, path: Path) -> None:
    """Each value has its field's type (``amp = "false"`` would otherwise be a true string)."""
    for key, value in table.items():
        expected = _TYPES.get(fields.get(key, ""))
        if key == "cpu_amp" and value == "auto":
            continue
        wrong_bool = isinstance(value, bool) and bool not in (expected or (bool,))
        if expected is not None and (not isinstance(value, expected) or wrong_bool):
            raise ConfigError(
                f"{path}: {where} {key} = {value!r} must be of type {fields[key]}"
                + (' (or "auto")' if key == "cpu_amp" else "")
            )


def _cpu_has_bf16() -> bool:
    """Native bf16 (AVX512-BF16 or AMX) on this CPU, as ``/proc/cpuinfo`` says (Linux)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe file (see the module docstring); :meth:`stage_config` resolves it."""

    path: Path
    name: str
    description: str
    data_root: str
    data: dict[str, Any]
    bank: dict[str, Any]
    validation: dict[str, Any]
    stopping: dict[str, Any]
    train: dict[str, Any]
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    release: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    bundle: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def _subst(self, value: Any, data_root: str, out: str) -> Any:
        if isinstance(value, str):
            return value.replace("{data}", data_root).replace("{out}", out)
        if isinstance(value, list):
            return [self._subst(v, data_root, out) for v in value]
        return value

    @property
    def out(self) -> str:
        """The run folder: ``[release] out``, else ``runs/<name>``."""
        return str(self.release.get("out", f"runs/{self.name}"))

    def fill(self, value: Any, data_root: str | None = None, out: str | None = None) -> Any:
        """``value`` (a string, or lists of them) with ``{data}`` and ``{out}`` filled in."""
        return self._subst(value, data_root or self.data_root, self.out if out is None else out)

    def specs(self, data_root: str | None = None, out: str = "") -> list[str]:
        """The data specs with ``{data}`` filled in."""
        return list(self._subst(self.data.get("specs", []), data_root or self.data_root, out))

    def validation_folder(self, data_root: str | None = None) -> str | None:
        """``[validation] data`` with ``{data}`` filled in (None: no validation)."""
        folder = self.validation.get("data")
        if folder is None:
            return None
        return str(self._subst(folder, data_root or self.data_root, ""))

    @property
    def bank_crop(self) -> int:
        return int(self.bank.get("crop", 128))

    def bank_seed(self, seed: int | None = None) -> int:
        """``seed``, else the recipe's ``[bank] seed`` (default 1)."""
        return int(self.bank.get("seed", 1) if seed is None else seed)

    def bank_file(self, out: str = "", seed: int | None = None) -> Path | None:
        """The sample bank a stage trains on, named as
        :func:`~blurvid.train.data.dataset_from_specs` saves it (None: no ``[bank]``)."""
        if not self.bank:
            return None
        from .data import bank_file_name

        folder = self._subst(self.bank.get("dir", "{out}/banks"), "", out)
        size, crop, camera = int(self.bank["size"]), self.bank_crop, self.train.get("camera")
        return Path(folder) / bank_file_name(size, crop, self.bank_seed(seed), camera)

    def stage_config(
        self,
        stage: str,
        *,
        data_root: str | None = None,
        out: str = "",
        bank_seed: int | None = None,
        cpu_bf16: bool | None = None,
    ) -> TrainConfig:
        """The :class:`TrainConfig` of ``stage``: ``[train]``, then ``[stages.<stage>]``, with
        ``{data}`` / ``{out}`` filled in, ``data`` the specs (or the bank file, with a
        ``[bank]``) and ``cpu_amp = "auto"`` resolved (``cpu_bf16``: None = this CPU)."""
        if stage not in STAGES:
            raise ConfigError(f"unknown stage {stage!r}; choose from {STAGES}")
        root = data_root or self.data_root
        values = {**self.train, **self.stages.get(stage, {})}
        values = {k: self._subst(v, root, out) for k, v in values.items()}
        generator = {
            **self.train.get("generator", {}),
            **self.stages.get(stage, {}).get("generator", {}),
        }
        if generator:
            values["generator"] = generator
        if "data" not in values:
            bank = self.bank_file(out, bank_seed)
            values["data"] = [f"bank:{bank}"] if bank is not None else self.specs(root, out)
        if values.get("cpu_amp") == "auto":
            values["cpu_amp"] = _cpu_has_bf16() if cpu_bf16 is None else cpu_bf16
        values["stage"] = stage
        try:
            if isinstance(values.get("generator"), dict):
                values["generator"] = GeneratorConfig.from_dict(values["generator"])
            return TrainConfig(**values)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{self.path}, stage {stage}: {exc}") from exc

    def resolved(self, stages: tuple[str, ...], **kwargs: Any) -> dict[str, Any]:
        """What ``blurvid train`` writes beside the run (``recipe.json``): the file, its
        sha256, and every part of it resolved."""
        return {
            "recipe": str(self.path),
            "sha256": self.sha256,
            "name": self.name,
            "data_root": kwargs.get("data_root") or self.data_root,
            "data": {
                **self.data,
                "specs": self.specs(kwargs.get("data_root"), kwargs.get("out", "")),
            },
            "bank": self.bank,
            "validation": self.validation,
            "stopping": self.stopping,
            "release": self.release,
            "evaluate": self.evaluate,
            "bundle": self.bundle,
            "stages": {s: self.stage_config(s, **kwargs).to_dict() for s in stages},
        }


def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe file; every stage it names is resolved once, so that a bad
    value fails here (with the file and the stage in the message), before any work."""
    path = Path(path)
    try:
        raw = _toml_loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read recipe {path}: {exc}") from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    _check_table(raw, list(_TOP), "the top level", path)
    sections = {
        name: _check_table(raw.get(name, {}), list(keys), f"[{name}]", path)
        for name, keys in _SECTIONS.items()
    }
    fields = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig) if f.name != "stage"}
    gen_fields = {f.name: str(f.type) for f in dataclasses.fields(GeneratorConfig)}

    def check_train(table: Any, where: str) -> dict[str, Any]:
        table = _check_table(table, list(fields), where, path)
        _check_types(table, fields, where, path)
        if "generator" in table:
            gen_where = f"{where[:-1]}.generator]"
            _check_types(_check_table(table["generator"], list(gen_fields), gen_where, path),
                         gen_fields, gen_where, path)  # fmt: skip
        return table

    train = check_train(raw.get("train", {}), "[train]")
    stages_raw = _check_table(raw.get("stages", {}), list(STAGES), "[stages]", path)
    stages = {s: check_train(t, f"[stages.{s}]") for s, t in stages_raw.items()}
    if sections["bank"] and "size" not in sections["bank"]:
        raise ConfigError(f"{path}: [bank] needs size (the samples of the bank)")
    recipe = Recipe(
        path=path,
        name=str(raw.get("name", path.stem)),
        description=str(raw.get("description", "")),
        data_root=str(raw.get("data_root", "data")),
        data=sections["data"],
        bank=sections["bank"],
        validation=sections["validation"],
        stopping=sections["stopping"],
        train=train,
        stages=stages,
        release=sections["release"],
        evaluate=sections["evaluate"],
        bundle=sections["bundle"],
    )
    models = recipe.evaluate.get("models", [])
    if not isinstance(models, list) or not all(
        isinstance(m, list) and len(m) == 2 and all(isinstance(v, str) for v in m) for m in models
    ):
        raise ConfigError(f"{path}: [evaluate] models must be [label, folder] pairs of strings")
    for stage in stages or ("base",):
        recipe.stage_config(stage, cpu_bf16=False)
    return recipe


def write_resolved(resolved: Mapping[str, Any], out: str | Path) -> Path:
    """Write ``out/recipe.json`` (atomically)."""
    from .._fs import atomic_write_bytes

    target = Path(out) / "recipe.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, (json.dumps(resolved, indent=2, sort_keys=True) + "\n").encode())
    return target
