"""Recipe files (issue 32): ``recipes/*.toml`` load and resolve; v0.1's and v0.2's resolve to
the configs their runs recorded; unknown keys and bad values are typed errors naming the key
and the file; ``blurvid train --config FILE.toml`` trains from one, flags override single
fields, and the resolved recipe is written beside the run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from safetensors import safe_open

from blurvid import ConfigError, cli
from blurvid.train import STAGES, TrainConfig
from blurvid.train.recipe import load_recipe

pytestmark = [
    pytest.mark.usefixtures("fast_cpu"),
    pytest.mark.filterwarnings("ignore:No VGG19 weights given"),
]

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))
TRAINING = ROOT / "training"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_file_loads_and_resolves_every_stage(path):
    recipe = load_recipe(path)
    assert recipe.stages, "a release recipe names its stages"
    for stage in recipe.stages:
        cfg = recipe.stage_config(stage, out="OUT", cpu_bf16=False)
        assert cfg.stage == stage and cfg.data
        text = json.dumps(cfg.to_dict())
        assert "{data}" not in text and "{out}" not in text  # every placeholder filled in
    assert recipe.description and recipe.data.get("specs")


def test_there_are_recipes_for_the_releases():
    assert {"release-v0.1.toml", "release-v0.2.toml", "release-v0.3.toml"} <= {
        p.name for p in RECIPES
    }


# Fields that are paths of the machine the release ran on, not settings: v0.2's stage gram
# started from a temporary copy of base/best/ (``/tmp/b87k``; the recipe names base/best).
MACHINE_PATHS = {("gram", "init")}


@pytest.mark.parametrize("stage", ["base", "gram", "hepta"])
def test_v02_resolves_to_its_recorded_train_config(stage):
    """Rebuilding v0.2 from its file gives the train_config.json its run wrote: the base run in
    training/release-v0.2/ (last bank seed 22, on a CPU with native bf16: cpu_amp = "auto"),
    the shipped stages run with --out training/release-v0.2-stages-b87000."""
    recipe = load_recipe(ROOT / "recipes" / "release-v0.2.toml")
    out = "training/release-v0.2" if stage == "base" else "training/release-v0.2-stages-b87000"
    got = recipe.stage_config(stage, out=out, bank_seed=22, cpu_bf16=True).to_dict()
    # fields added after the run (camera, ...) read as their defaults, the behaviour it had
    recorded = TrainConfig.from_dict(
        json.loads((TRAINING / "release-v0.2" / stage / "train_config.json").read_text())
    ).to_dict()
    differ = {k for k in set(got) | set(recorded) if got.get(k) != recorded.get(k)}
    assert differ == {k for s, k in MACHINE_PATHS if s == stage}, differ
    assert got["data"] == ["bank:runs/release-v0.2/banks/bank_6000_128_22.safetensors"]


def test_v01_base_resolves_to_the_config_in_its_checkpoint():
    """v0.1 kept no train_config.json; its base checkpoint records the config. Fields added
    since (EMA, CPU AMP ...) take the defaults that reproduce the old behaviour."""
    with safe_open(str(TRAINING / "release-v0.1/base/checkpoint.safetensors"), "pt") as f:
        recorded = json.loads(f.metadata()["trainer"])["config"]
    recipe = load_recipe(ROOT / "recipes" / "release-v0.1.toml")
    got = recipe.stage_config("base", out="runs/release-v0.1").to_dict()
    assert got == TrainConfig.from_dict(recorded).to_dict()


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, key, where",
    [
        ("[train]\nstpes = 3\n", "stpes", r"\[train\].*did you mean 'steps'"),
        ("[stages.base]\nlearning_rate = 1.0\n", "learning_rate", r"\[stages.base\]"),
        ("[train.generator]\nwidht = 8\n", "widht", r"\[train.generator\].*'width'"),
        ("[stages.gramm]\nsteps = 3\n", "gramm", r"\[stages\].*'gram'"),
        ("[bank]\nsize = 10\nsede = 2\n", "sede", r"\[bank\].*'seed'"),
        ("nmae = 'x'\n", "nmae", r"the top level.*'name'"),
        ("[train]\nstage = 'gram'\n", "stage", r"\[train\]"),  # set per stage, not a key
        ("[release]\nouts = 'x'\n", "outs", r"\[release\].*'out'"),
        ("[evaluate]\nmodel = []\n", "model", r"\[evaluate\].*'models'"),
    ],
)
def test_unknown_keys_are_an_error_naming_the_key_and_the_file(tmp_path, text, key, where):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"{path}.*unknown key '{key}' in {where}"):
        load_recipe(path)


def test_every_trainconfig_field_is_a_recipe_key(tmp_path):
    """Keys come from the dataclass: a field added to TrainConfig is a recipe key at once."""
    lines = []
    for f in dataclasses.fields(TrainConfig):
        value = getattr(TrainConfig(), f.name)
        if f.name in ("stage", "generator") or value is None:
            continue
        lines.append(f"{f.name} = {json.dumps(list(value) if isinstance(value, tuple) else value)}")
    recipe = load_recipe(write(tmp_path, "[train]\n" + "\n".join(lines) + "\n"))
    assert recipe.stage_config("base") == TrainConfig()


@pytest.mark.parametrize(
    "text, match",
    [
        ("[stages.base]\nsteps = 0\n", r"r.toml, stage base: steps"),
        ("[stages.gram]\ncrop = 30\n", r"r.toml, stage gram: crop must be a multiple"),
        ("[train.generator]\nwidth = 3\n", r"r.toml, stage base: width"),
        ("[train]\nsteps = 3\n[[stages]]\n", r"\[stages\] must be a table"),
        ("[train\n", r"not valid TOML"),
        ("[bank]\ncrop = 64\n", r"\[bank\] needs size"),
        ('[train]\namp = "false"\n', r"r.toml: \[train\] amp = 'false' must be of type bool"),
        ("[stages.base]\nsteps = 2.5\n", r"\[stages.base\] steps = 2.5 must be of type int"),
        ("[stages.base]\nsteps = true\n", r"steps = True must be of type int"),
        ("[train]\nlr = '1e-3'\n", r"lr = '1e-3' must be of type float"),
        ('[train]\ncpu_amp = "on"\n', r'cpu_amp .* type bool \(or "auto"\)'),
        ("[train.generator]\nreblur = 1\n", r"\[train.generator\] reblur = 1 must be of type str"),
        ('[evaluate]\nmodels = ["B"]\n', r"\[evaluate\] models must be \[label, folder\] pairs"),
    ],
)
def test_bad_values_are_an_error_naming_the_file_and_the_stage(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_recipe(write(tmp_path, text))


def test_a_missing_recipe_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read recipe"):
        load_recipe(tmp_path / "nope.toml")


def test_placeholders_and_the_bank(tmp_path):
    recipe = load_recipe(
        write(
            tmp_path,
            'data_root = "D"\n[data]\nspecs = ["photos:{data}/p@3"]\n'
            "[bank]\nsize = 10\ncrop = 32\n[stages.base]\nsteps = 5\ncrop = 32\n"
            '[stages.gram]\ninit = "{out}/base/best"\ncrop = 32\n',
        )
    )
    assert recipe.specs() == ["photos:D/p@3"]
    assert recipe.specs("E") == ["photos:E/p@3"]
    base = recipe.stage_config("base", out="O", bank_seed=4)
    assert base.data == ("bank:O/banks/bank_10_32_4.safetensors",)
    assert recipe.stage_config("gram", out="O").init == "O/base/best"


# --------------------------------------------------------------------------- the CLI
@pytest.mark.slow
def test_train_from_a_recipe_file_with_a_bank_and_flag_overrides(tmp_path, tiny_photos):
    """``blurvid train --config FILE.toml``: the bank rendered from the recipe's specs, the
    stage's settings, a flag overriding one field, ``recipe.json`` and ``train_config.json``
    written beside the run."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "photos").symlink_to(tiny_photos, target_is_directory=True)
    recipe = write(
        tmp_path,
        'name = "tiny"\ndata_root = "unused"\n'
        '[data]\nspecs = ["photos:{data}/photos@2"]\n'
        "[bank]\nsize = 6\ncrop = 32\nseed = 3\n"
        "[train]\nbatch_size = 2\nsample_every = 0\nval_every = 0\nlog_every = 1\n"
        "adv_weight = 0.0\nflow_weight = 0.0\nperceptual_weight = 0.0\n"
        "[train.generator]\nwidth = 8\nenc_blocks = [1]\ndec_blocks = [1]\n"
        "[stages.base]\nsteps = 50\ncrop = 32\nlr = 0.002\n",
    )
    out = tmp_path / "run"
    argv = ["train", "--config", recipe, "--data-root", tmp_path / "data", "--out", out,
            "--steps", "2", "--no-val", "-q"]  # fmt: skip
    assert cli.main([str(a) for a in argv]) == 0
    written = json.loads((out / "base" / "train_config.json").read_text())
    assert written["steps"] == 2  # the flag
    assert written["lr"] == 0.002 and written["generator"]["width"] == 8  # the file
    assert written["data"] == [f"bank:{out}/banks/bank_6_32_3.safetensors"]
    assert (out / "banks" / "bank_6_32_3.safetensors").is_file()
    resolved = json.loads((out / "recipe.json").read_text())
    assert resolved["recipe"] == str(recipe) and len(resolved["sha256"]) == 64
    assert resolved["stages"]["base"] == written
    assert resolved["data"]["specs"] == [f"photos:{tmp_path / 'data'}/photos@2"]


def test_data_root_without_a_recipe_file_is_refused(tmp_path, capsys):
    rc = cli.main(["train", "--data-root", str(tmp_path), "--out", str(tmp_path / "o"),
                   "--data", f"photos:{tmp_path}"])  # fmt: skip
    assert rc != 0 and "apply to a recipe file" in capsys.readouterr().err


def test_a_bad_recipe_fails_before_any_work(tmp_path, capsys):
    path = write(tmp_path, "[stages.base]\nstesp = 3\n")
    rc = cli.main(["train", "--config", str(path), "--out", str(tmp_path / "o")])
    assert rc != 0 and f"{path}: unknown key 'stesp'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_all_stages_from_a_recipe_each_with_its_own_settings(tmp_path, tiny_photos):
    """``--stage all``: each stage trains with its own table (steps, crop), and a stage whose
    table names an ``init`` (v0.2's stages start from ``base/best``) starts from that."""
    from blurvid import Generator, GeneratorConfig

    b = tmp_path / "b"  # a B of its own, as v0.2's stages started from base/best
    Generator(GeneratorConfig(width=8, enc_blocks=(1,), dec_blocks=(1,))).save_pretrained(b)
    recipe = write(  # as v0.1: the base stage renders a bank, the later stages train on it
        tmp_path,
        f'data_root = "{tiny_photos}"\n[data]\nspecs = ["photos:{{data}}"]\n'
        "[train]\nbatch_size = 2\nsample_every = 0\nval_every = 0\nlog_every = 1\n"
        "perceptual_weight = 0.0\nflow = 'dis-ultrafast'\n"
        "[train.generator]\nwidth = 8\nenc_blocks = [1]\ndec_blocks = [1]\n"
        "[stages.base]\nsteps = 2\ncrop = 48\nbank_size = 4\n"
        f'[stages.gram]\nsteps = 1\ncrop = 48\ninit = "{b}"\n'
        'data = ["bank:{out}/base/bank_4_48_0.safetensors"]\n'
        '[stages.hepta]\nsteps = 1\ncrop = 32\ndata = ["bank:{out}/base/bank_4_48_0.safetensors"]\n',
    )
    out = tmp_path / "run"
    rc = cli.main(["train", "--config", str(recipe), "--stage", "all", "--out", str(out), "-q"])
    assert rc == 0
    configs = {s: json.loads((out / s / "train_config.json").read_text()) for s in STAGES}
    assert [configs[s]["steps"] for s in STAGES] == [2, 1, 1]
    assert [configs[s]["crop"] for s in STAGES] == [48, 48, 32]
    assert configs["hepta"]["data"] == [f"bank:{out}/base/bank_4_48_0.safetensors"]
    assert configs["gram"]["init"] == str(b)
    assert configs["hepta"]["init"] == str(out / "gram" / "model")  # chained as before
    assert (out / "hepta" / "model" / "model.safetensors").is_file()
