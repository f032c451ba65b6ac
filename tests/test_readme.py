"""The README's Python example runs as written (on the bundled example image, small sizes)."""

import re
import warnings
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "images" / "clock_motion.png"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    code = code.replace("blurry.jpg", str(EXAMPLE)).replace("720, 1280", "72, 128")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bundled weights are trained: nothing to warn about
        exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["frames"]) == 7 and len(scope["slowmo"]) == 42
    assert tuple(scope["y"].shape) == (2, 7, 3, 72, 128)
    assert scope["arr"].shape == (7, 300, 400, 3) and str(scope["arr"].dtype) == "uint8"
    assert (tmp_path / "my-model" / "model.safetensors").is_file()
