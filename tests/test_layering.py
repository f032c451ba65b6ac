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
