"""The README's Python example runs exactly as written, from the root of a clone."""

import re
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    # a clone's root, but writable: its examples/ and nothing else (save_pretrained writes here)
    (tmp_path / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bundled weights are trained: nothing to warn about
        exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["frames"]) == 7 and len(scope["slowmo"]) == 42
    assert {(f.mode, f.size) for f in scope["frames"] + scope["slowmo"]} == {("L", (400, 300))}
    assert tuple(scope["y"].shape) == (2, 7, 3, 256, 256)
    assert scope["arr"].shape == (7, 300, 400, 3) and str(scope["arr"].dtype) == "uint8"
    assert (tmp_path / "my-model" / "model.safetensors").is_file()
