"""A real ``python -m blurvid.train`` subprocess, killed and resumed.

* SIGKILL at seeded random moments (one of them while a checkpoint is being written, held
  open by a slow ``fsync``), resumed with ``--resume`` each time until it finishes: it ends
  at step 40 with the same weights as a run that was never interrupted (the sampler is
  step-addressed and the RNG states are in the checkpoint; the steps after the last
  checkpoint are simply recomputed).
* SIGTERM and Ctrl-C (SIGINT), one after the other on the same run: the current step
  finishes, a checkpoint is saved, the process exits with code 130 (the shell convention
  for an interrupt, for both signals); ``--resume`` then finishes with the uninterrupted
  run's weights.

Each process trains a width-8 G on 32 px synthetic-shake crops of three small photos, on
one thread.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from blurvid import load_model
from blurvid.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
PHOTOS = ("mate_Aqua.jpg", "skimage_brick.jpg", "lomiri_Wine_by_Jakkub_Mede.jpg")
STEPS = 40

# ``python -m blurvid.train`` with os.fsync slowed down (a slow disk): a checkpoint write
# then keeps its temporary file open for 0.5 s, long enough to be killed in the middle.
SLOW_DISK = (
    "import os, sys, time; _fsync = os.fsync; "
    "os.fsync = lambda fd: (time.sleep(0.5), _fsync(fd))[1]; "
    "from blurvid.cli import main; sys.exit(main(['train', *sys.argv[1:]]))"
)


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), e.get("PYTHONPATH")]))
    e.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return e


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three small photos: shared training photos downscaled, else synthetic textures."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i, name in enumerate(PHOTOS):
        src = SHARED / "photos" / name
        if src.is_file():
            img = Image.open(src).convert("RGB")
            img.thumbnail((96, 96))
        else:
            small = (rng.random((12, 12, 3)) * 255).astype(np.uint8)
            img = Image.fromarray(small).resize((96, 96), Image.BICUBIC)
        img.save(folder / f"photo{i}.png")
    return folder


def train_args(photos: Path, out: Path, ckpt_every: int) -> list[str]:
    flow = [] if _has_cv2() else ["--flow-weight", "0"]
    return [
        "--stage", "base", "--data", f"photos:{photos}", "--out", str(out), "--steps", str(STEPS),
        "--ckpt-every", str(ckpt_every), "--width", "8", "--crop", "32", "--batch-size", "2",
        "--recipe", "fast", "--perceptual-weight", "0", "--adv-weight", "0.01", "--log-every", "1",
        "--resume", "auto", "-q", *flow,
    ]  # fmt: skip


def _has_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def start(env, args: list[str], slow_disk: bool = False) -> subprocess.Popen:
    head = (
        [sys.executable, "-c", SLOW_DISK] if slow_disk else [sys.executable, "-m", "blurvid.train"]
    )
    return subprocess.Popen(
        head + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def log_lines(out: Path) -> int:
    path = out / "base" / "log.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def checkpoint_tmp_files(out: Path) -> list[Path]:
    return sorted((out / "base").glob(".checkpoint.safetensors.*.tmp"))


def wait_until(condition, proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Poll ``condition`` every 5 ms; False if the process ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    proc.kill()
    raise AssertionError(f"timed out; output: {proc.communicate()[0]}")


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_model(out / "base" / "model").state_dict()


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} of {len(a)} tensors differ from the uninterrupted run"


@pytest.fixture(scope="module")
def reference(env, photos, tmp_path_factory) -> dict[str, torch.Tensor]:
    """The weights of an uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    res = subprocess.run([sys.executable, "-m", "blurvid.train", *train_args(photos, out, 2)],
                         env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return final_weights(out)


@pytest.mark.slow
def test_sigkill_at_random_moments_resumes_from_last_complete_checkpoint(
    env, photos, tmp_path, reference
):
    out = tmp_path / "run"
    args = train_args(photos, out, ckpt_every=2)
    rng = random.Random(2020)
    killed, mid_write, ckpt_steps = 0, False, []
    for round_ in range(4):
        slow_disk = round_ == 1
        before = log_lines(out)
        proc = start(env, args, slow_disk=slow_disk)
        if slow_disk:  # kill while the temporary file of a checkpoint write is open
            started = wait_until(lambda: bool(checkpoint_tmp_files(out)), proc)
        else:  # kill at a random moment once this process is training
            started = wait_until(lambda n=before: log_lines(out) > n, proc)
            time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        output = proc.communicate(timeout=60)[0]
        if proc.returncode == 0:  # finished before the kill landed
            break
        assert started and proc.returncode == -signal.SIGKILL, output
        killed += 1
        if slow_disk:
            mid_write = bool(checkpoint_tmp_files(out))
        ckpt = out / "base" / "checkpoint.safetensors"
        if ckpt.is_file():  # whatever the moment, the checkpoint on disk is complete
            _, meta = load_checkpoint(ckpt)
            assert meta["step"] % 2 == 0 and 0 < meta["step"] <= STEPS
            ckpt_steps.append(meta["step"])
    assert killed >= 3, f"only {killed} kills landed"
    assert mid_write, "no kill landed during a checkpoint write"
    assert ckpt_steps == sorted(ckpt_steps) and ckpt_steps, ckpt_steps

    res = subprocess.run([sys.executable, "-m", "blurvid.train", *args], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    _, meta = load_checkpoint(out / "base" / "checkpoint.safetensors")
    assert meta["step"] == STEPS
    assert checkpoint_tmp_files(out) == []  # the leftovers of the killed write are gone
    log = [json.loads(line) for line in (out / "base" / "log.jsonl").read_text().splitlines()]
    assert {r["step"] for r in log} == set(range(1, STEPS + 1)) and log[-1]["step"] == STEPS
    assert_same_weights(final_weights(out), reference)


@pytest.mark.slow
def test_sigterm_and_ctrl_c_save_a_checkpoint_and_exit_130(env, photos, tmp_path, reference):
    """SIGTERM, then Ctrl-C (SIGINT) to the resumed run, then a resume that finishes: each
    stop saves the step it finished and exits 130, and the end is the uninterrupted run."""
    out = tmp_path / "run"
    args = train_args(photos, out, ckpt_every=1000)  # no periodic checkpoint: only the stop's
    stopped = 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = start(env, args)
        assert wait_until(lambda n=stopped: log_lines(out) >= n + 3, proc), proc.communicate()[0]
        proc.send_signal(sig)
        output = proc.communicate(timeout=120)[0]
        assert proc.returncode == 130, output
        assert "checkpoint saved, continue with --resume" in output and "Traceback" not in output
        _, meta = load_checkpoint(out / "base" / "checkpoint.safetensors")
        log = [json.loads(line) for line in (out / "base" / "log.jsonl").read_text().splitlines()]
        assert stopped + 3 <= meta["step"] < STEPS and meta["step"] == log[-1]["step"], sig
        assert not (out / "base" / "model").exists()
        stopped = meta["step"]

    res = subprocess.run([sys.executable, "-m", "blurvid.train", *args], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert_same_weights(final_weights(out), reference)
