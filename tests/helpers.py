"""Small assertions and samples shared by several test files (importable: tests/ is on
sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def one_error_line(stderr: str) -> str:
    """The single ``blurvid: error: ...`` line of a CLI run; fails on tracebacks or several."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    errors = [ln for ln in lines if ln.startswith("blurvid: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def write_frames(folder: Path, n: int, h: int = 48, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrs = []
    for i in range(n):
        a = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"{i:06d}.png")
        arrs.append(a)
    return arrs


def ramp_sample(h: int = 40, w: int = 40) -> dict:
    """blurry = a 2-D ramp, frames[i] = blurry + i * 4/255: geometry can be checked exactly."""
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    b = torch.stack([x / (2 * w), y / (2 * h), (x + y) / (4 * (h + w))]).float()
    b = torch.round(b * 255) / 255
    f = torch.stack([b + i * 4.0 / 255 for i in range(7)])
    return {"blurry": b, "frames": f}


def check_consistent(s: dict, reversed_: bool | None = None) -> bool:
    """frames[i] - blurry is the constant i*4/255 (or (6-i)*4/255 when time-reversed)."""
    d = (s["frames"] - s["blurry"][None]).mean(dim=(1, 2, 3)) * 255 / 4
    fwd = torch.allclose(d, torch.arange(7).float(), atol=1e-3)
    rev = torch.allclose(d, torch.arange(6, -1, -1).float(), atol=1e-3)
    per_pixel = (
        s["frames"] - s["blurry"][None] - d[:, None, None, None] * 4 / 255
    ).abs().max() < 1e-4
    assert per_pixel, "frames and blurry were transformed differently"
    if reversed_ is None:
        return rev
    return rev if reversed_ else fwd


def load_script(path: Path, name: str):
    """Import a script or benchmark file (not a package module) as module ``name``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
