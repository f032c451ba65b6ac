"""scripts/gpu_session.py (one lent-GPU call, issue 31) end to end on the CPU in its dry-run
mode: the same code as on the GPU (device data path, two segments continued from the committed
export, EMA snapshots, the log's time split, the inference timings), with what comes back flat
enough for the device tool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_train_cli import write_photos

from blurvid import load_model

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXPORT = REPO / "training" / "release-v0.3" / "base" / "latest"


@pytest.mark.skipif(not (EXPORT / "model.safetensors").is_file(), reason="no committed export")
def test_dry_run_trains_snapshots_and_times_inference(tmp_path, subprocess_env):
    data, out = tmp_path / "data", tmp_path / "OUT"
    write_photos(data / "photos", size=80)
    seq = data / "frames" / "sintel_raft"
    seq.mkdir(parents=True)
    rng = np.random.default_rng(0)
    base = rng.random((48, 64, 3))
    for i in range(9):  # a texture panning right, a pixel per frame
        Image.fromarray((np.roll(base, i, axis=1) * 255).astype(np.uint8)).save(
            seq / f"f{i:02d}.png"
        )
    res = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gpu_session.py"), str(data), "--out", str(out),
         "--run", str(tmp_path / "run"), "--continue-from", str(EXPORT), "--dry-run"],
        env=subprocess_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    back = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert back == ["bench.json", "log.jsonl", "s1/config.json", "s1/model.safetensors",
                    "s2/config.json", "s2/model.safetensors", "session.log"]  # fmt: skip
    start = int(load_model(EXPORT).metadata["steps"])
    assert [int(load_model(out / s).metadata["steps"]) for s in ("s1", "s2")] == [
        start + 1,
        start + 2,
    ]
    report = json.loads((out / "bench.json").read_text())
    assert report["dry_run"] and report["data"][0].startswith("photos:")
    assert any(s.startswith("frames:") for s in report["data"])  # a real-footage pool
    assert report["data_bench"]["batch2_samples_s"] > 0
    assert report["train"]["steps"] == 2 and report["train"]["last_step"] == start + 2
    assert report["train"]["data_s"] > 0 and report["train"]["step_s"] > 0
    inf = report["inference"]
    assert inf["fp32_ms"] > 0 and inf["fp32_frames"] == [1, 7, 3, 64, 64]
    assert "bf16_ms" in inf or "bf16_error" in inf
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    assert [r["step"] for r in log] == [start + 1, start + 2]
    assert "segment 2 ends at step" in (out / "session.log").read_text()


def test_the_session_trains_on_the_release_recipes_mix(tmp_path):
    """The data mix comes from recipes/release-v0.3.toml, mapped onto the carried folder:
    stills pre-extracted, video windows only where PyAV imports, missing folders left out."""
    sys.path.insert(0, str(REPO / "scripts"))
    from gpu_session import data_specs

    root = tmp_path / "copy"
    for sub in ("photos", "stills", "video", "frames/sintel_raft"):
        (root / sub).mkdir(parents=True)
    assert data_specs(root, video=True) == [
        f"photos:{root / 'photos'}@3", f"photos:{root / 'stills'}@3",
        f"leaves:{root / 'photos'}@2.5", f"steady:{root / 'photos'}@3.3",
        f"video:{root / 'video'}@1",
        f"frames:{root / 'frames' / 'sintel_raft'}@0.5",
    ]  # fmt: skip
    assert f"video:{root / 'video'}@1" not in data_specs(root, video=False)
    (root / "frames" / "sintel_raft").rmdir()
    assert all("sintel" not in s for s in data_specs(root, video=True))
