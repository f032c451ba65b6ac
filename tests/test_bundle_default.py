"""``scripts/bundle_default.py``: a trained G becomes a bundled-default folder (fp16, metadata)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import load_script

from blurvid import Generator, GeneratorConfig, load_model
from blurvid.hub import save_folder


@pytest.fixture(scope="module")
def bundle():
    path = Path(__file__).resolve().parents[1] / "scripts" / "bundle_default.py"
    return load_script(path, "bundle_default")


def test_bundle_writes_fp16_weights_and_the_release_metadata(tmp_path, bundle):
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(width=8))
    save_folder(g, tmp_path / "best", metadata={"stage": "base", "steps": "1234",
                                                "val_centre_gain_db": "0.7", "other": "x"})  # fmt: skip
    out = tmp_path / "default"
    args = [str(tmp_path / "best"), "--release", "v9", "--description", "a test",
            "--meta", "val_gain_db=0.9", "--out", str(out)]  # fmt: skip
    assert bundle.main(args) == 0
    back = load_model(out)
    assert back.config == g.config
    meta = back.metadata
    assert (meta["release"], meta["description"], meta["placeholder"]) == ("v9", "a test", "false")
    assert (meta["stage"], meta["steps"], meta["val_centre_gain_db"]) == ("base", "1234", "0.7")
    assert meta["val_gain_db"] == "0.9" and "other" not in meta
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    for k, v in g.state_dict().items():  # fp16 rounding only
        torch.testing.assert_close(back.state_dict()[k].float(), v, rtol=1e-3, atol=1e-4)
    with pytest.raises(SystemExit):
        bundle.main([*args[:5], "--meta", "novalue"])


def test_a_fine_tuned_stage_needs_its_base_steps(tmp_path, bundle, capsys):
    save_folder(Generator(GeneratorConfig(width=8)), tmp_path / "hepta",
                metadata={"stage": "hepta", "steps": "300"})  # fmt: skip
    args = [str(tmp_path / "hepta"), "--release", "v9", "--description", "BGH",
            "--out", str(tmp_path / "default")]  # fmt: skip
    with pytest.raises(SystemExit):
        bundle.main(args)
    assert "base_steps" in capsys.readouterr().err and not (tmp_path / "default").exists()
    assert bundle.main([*args, "--meta", "base_steps=57000"]) == 0
    meta = load_model(tmp_path / "default").metadata
    assert (meta["stage"], meta["steps"], meta["base_steps"]) == ("hepta", "300", "57000")
