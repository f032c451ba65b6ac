"""Evaluation and inference do not depend on training code (issue 17), measured in a fresh
interpreter."""

from __future__ import annotations

import json
import subprocess

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("module", ["blurvid", "blurvid.data", "blurvid.evaluate"])
def test_importing_loads_no_training_code(python, subprocess_env, module):
    code = f"import sys, json, {module}\nprint(json.dumps(sorted(sys.modules)))"
    res = subprocess.run([python, "-c", code], env=subprocess_env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    loaded = set(json.loads(res.stdout.strip().splitlines()[-1]))
    assert module in loaded
    assert sorted(m for m in loaded if m == "blurvid.train" or m.startswith("blurvid.train.")) == []
    assert "av" not in loaded  # PyAV is imported only when a video is read
    if module == "blurvid":
        assert not any(m.startswith("blurvid.data") for m in loaded)


@pytest.mark.slow
def test_saving_and_loading_g_runs_no_code_above_the_model(python, subprocess_env, tmp_path):
    """Issue 32: ``save_pretrained`` / ``from_pretrained`` run blurvid.weights_io, below the
    model; neither loads blurvid.hub (the loaders' public face) nor the API."""
    code = (
        "import sys, json\n"
        "from blurvid.model import Generator, GeneratorConfig\n"
        "g = Generator(GeneratorConfig(width=4, enc_blocks=(1,), dec_blocks=(1,)))\n"
        f"g.save_pretrained({str(tmp_path)!r})\n"
        f"back = Generator.from_pretrained({str(tmp_path)!r})\n"
        "assert back.config == g.config\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    res = subprocess.run([python, "-c", code], env=subprocess_env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    loaded = set(json.loads(res.stdout.strip().splitlines()[-1]))
    assert "blurvid.weights_io" in loaded
    assert not loaded & {"blurvid.hub", "blurvid.api", "blurvid.io"}
