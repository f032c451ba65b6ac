"""The CLI imports a command's code only when that command runs (issue 17): measured in a
fresh interpreter, as a user's shell would start it."""

from __future__ import annotations

import json
import subprocess

import pytest

from blurvid import cli

HEAVY = ("blurvid.train.loop", "blurvid.train.losses", "blurvid.evaluate", "blurvid.flow",
         "blurvid.demo", "gradio", "av", "cv2", "onnx")  # fmt: skip


def modules_after(python, env, *args: str) -> set[str]:
    code = (
        "import sys, json\nfrom blurvid import cli\n"
        f"try:\n    cli.main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    res = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return set(json.loads(res.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (("--help",), ()),
        (("extract", "--help"), ()),
        (("train", "--help"), ("blurvid.train.cli", "blurvid.train.config")),
        (("export", "--help"), ("blurvid.train.cli", "blurvid.train.config")),
    ],
)
def test_a_command_loads_only_its_own_code(python, subprocess_env, args, allowed):
    loaded = modules_after(python, subprocess_env, *args)
    assert "blurvid.cli" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in {h.split(".")[0] for h in HEAVY}
                   and any(m == h or m.startswith(h + ".") for h in HEAVY))  # fmt: skip
    assert heavy == [], f"blurvid {' '.join(args)} imported {heavy}"
    train_modules = {m for m in loaded if m.startswith("blurvid.train.")}
    assert train_modules <= set(allowed), train_modules - set(allowed)


def test_help_lists_every_command_without_building_them(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name, (_, _, text) in cli.COMMANDS.items():
        assert name in out and text.split()[0] in out


def test_every_command_builds_its_parser():
    """Each command's module imports and adds a real sub-parser (options beyond --help, or
    actions of its own: ``blurvid data download``)."""
    import argparse

    for name in cli.COMMANDS:
        parser = cli.build_parser(name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        actions = sub.choices[name]._actions
        nested = any(isinstance(a, argparse._SubParsersAction) for a in actions)
        assert len(actions) > 2 or nested, name


def test_a_broken_command_module_is_an_error(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "extract", ("blurvid.no_such_module", "add", "x"))
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser("extract")


def test_the_table_help_is_the_commands_own_help():
    """``blurvid --help`` shows the table's line; the command's parser says the same."""
    import argparse

    for name, (_, _, text) in cli.COMMANDS.items():
        parser = cli.build_parser(name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        (own,) = [a.help for a in sub._choices_actions if a.dest == name]
        assert own == text, name


def test_help_does_not_import_torch(python, subprocess_env):
    """``import blurvid`` is lazy (PEP 562): ``blurvid --help`` starts without torch."""
    loaded = modules_after(python, subprocess_env, "--help")
    assert not {m for m in loaded if m == "torch" or m.startswith("torch.")}
    assert not loaded & {"blurvid.api", "blurvid.model", "blurvid.hub", "numpy"}


def test_the_lazy_package_has_every_public_name(python, subprocess_env):
    import blurvid

    assert set(blurvid.__all__) <= set(dir(blurvid))
    assert all(getattr(blurvid, name) is not None for name in blurvid.__all__)
    assert blurvid.Generator is __import__("blurvid.model").model.Generator
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        blurvid.nope  # noqa: B018
    code = "import sys, blurvid; print('torch' in sys.modules)"
    res = subprocess.run([python, "-c", code], env=subprocess_env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.stdout.strip() == "False", res.stderr
