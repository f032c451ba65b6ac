"""Multi-process training (DDP, gloo backend, CPU) launched with ``torchrun``.

* Two ranks with batch 2 take the same first step as one process with batch 4 (gradients
  averaged over the ranks' disjoint shards of the step's samples), end with bit-identical
  weights, and only rank 0 writes the checkpoint, log and model.
* SIGTERM to ``torchrun`` (what a cluster scheduler sends): every rank finishes the same
  step, rank 0 saves, and ``--resume`` under ``torchrun`` completes the run.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from blurvid import load_model
from blurvid.train.checkpoint import load_checkpoint

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, gloo on localhost"),
    pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing"),
]

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"

# Trains a width-8 G for 4 steps on toy samples (D and flow on), with or without torchrun;
# saves the first step's gradients and the final G and D weights of its rank. Augmentation
# is switched off so one process with batch 4 sees exactly what two ranks with batch 2 see.
SCRIPT = """
import os, sys
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from blurvid import GeneratorConfig
from blurvid.train import Trainer, TrainConfig
import blurvid.train.loop as loop

torch.set_num_threads(1)
loop.augment_batch = lambda blurry, frames, seed, step: (blurry, frames)


class Toy(torch.utils.data.Dataset):
    def __init__(self, n=8):
        g = torch.Generator().manual_seed(0)
        self.items = []
        for _ in range(n):
            tex = F.avg_pool2d(torch.rand(1, 3, 32, 40, generator=g), 3, 1, 1)[0]
            frames = torch.stack([tex[:, :, k:k + 32] for k in range(7)])
            self.items.append({"blurry": frames.mean(0), "frames": frames})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


out, batch, flow_weight = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cfg = TrainConfig.fast(steps=4, batch_size=batch, crop=32, perceptual_weight=0.0, adv_weight=0.01,
                       flow_weight=flow_weight, ramp_start=0.0, ramp_end=0.0, warmup_steps=0,
                       ckpt_every=2, log_every=1, val_every=0, sample_every=0,
                       generator=GeneratorConfig(width=8))
trainer = Trainer(cfg, out, dataset=Toy(), progress=False)
grads = {}
train_step = trainer.train_step


def first_step(*args):
    parts = train_step(*args)
    if not grads:
        grads.update({f"grad.{n}": p.grad.detach().clone() for n, p in trainer.G.named_parameters()})
    return parts


trainer.train_step = first_step
g = trainer.fit()
d = trainer._unwrap(trainer.D)
tensors = {**grads, **{f"G.{k}": v.contiguous() for k, v in g.state_dict().items()},
           **{f"D.{k}": v.contiguous() for k, v in d.state_dict().items()}}
save_file(tensors, os.path.join(out, f"rank{trainer.rank}_of{trainer.world}.safetensors"))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), e.get("PYTHONPATH")]))
    e.update(
        HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1"
    )
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"):
        e.pop(key, None)
    return e


def torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--master-addr", "127.0.0.1", "--master-port", str(free_port()), *args]  # fmt: skip


def _has_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_two_ranks_average_gradients_and_stay_identical(tmp_path, env, monkeypatch):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    flow = "0.01" if _has_cv2() else "0"
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    res = subprocess.run(torchrun(str(script), str(ddp), "2", flow), env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    # the one-process reference runs in this process (one interpreter start fewer); the
    # script's patch of loop.augment_batch is undone by monkeypatch
    import blurvid.train.loop as loop

    monkeypatch.setattr(loop, "augment_batch", loop.augment_batch)
    monkeypatch.setattr(sys, "argv", [str(script), str(single), "4", flow])
    runpy.run_path(str(script), run_name="__main__")

    r0, r1 = load_file(ddp / "rank0_of2.safetensors"), load_file(ddp / "rank1_of2.safetensors")
    one = load_file(single / "rank0_of1.safetensors")
    assert r0.keys() == r1.keys() == one.keys()
    # the ranks never drift apart: same averaged gradients, same updates, for G and D
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    # the averaged gradient of two shards of 2 == the gradient of the 4 samples together
    grads = [k for k in r0 if k.startswith("grad.")]
    assert len(grads) > 50
    for k in grads:
        torch.testing.assert_close(r0[k], one[k], rtol=1e-4, atol=1e-6, msg=k)
    assert max(float(one[k].abs().max()) for k in grads) > 1e-3  # not vacuous
    for k in r0:
        if k.startswith("G."):
            torch.testing.assert_close(r0[k], one[k], rtol=1e-4, atol=1e-5, msg=k)

    # rank 0 alone wrote the run folder
    _, meta = load_checkpoint(ddp / "checkpoint.safetensors")
    assert meta["step"] == 4
    log = [json.loads(line) for line in (ddp / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    model = load_model(ddp / "model")
    assert all(torch.equal(v, r0[f"G.{k}"]) for k, v in model.state_dict().items())
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, name in enumerate(("mate_Aqua.jpg", "skimage_brick.jpg")):
        src = SHARED / "photos" / name
        if src.is_file():
            img = Image.open(src).convert("RGB")
            img.thumbnail((96, 96))
        else:
            img = Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)).resize((96, 96))
        img.save(folder / f"photo{i}.png")
    return folder


@pytest.mark.slow
def test_sigterm_to_torchrun_saves_on_rank0_and_resumes(tmp_path, env, photos):
    """Before the ranks agreed on stopping, only rank 0 handled SIGTERM: rank 1 died at
    once, rank 0 failed in the next gradient all-reduce, and no checkpoint was written."""
    out = tmp_path / "run"
    args = ["-m", "blurvid.train", "--stage", "base", "--data", f"photos:{photos}", "--out", str(out),
            "--steps", "20", "--ckpt-every", "1000", "--width", "8", "--crop", "32", "--batch-size", "2",
            "--recipe", "fast", "--perceptual-weight", "0", "--flow-weight", "0", "--adv-weight", "0.01",
            "--log-every", "1", "--resume", "auto", "-q"]  # fmt: skip
    log_file = out / "base" / "log.jsonl"
    proc = subprocess.Popen(
        torchrun(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 180
    while not (log_file.is_file() and len(log_file.read_text().splitlines()) >= 3):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"training did not start: {proc.communicate()[0]}")
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    # torchrun itself exits non-zero after a signal (its SignalException); the workers 130
    assert proc.returncode != 0
    assert "checkpoint saved, continue with --resume" in output, output
    assert "Connection closed by peer" not in output
    _, meta = load_checkpoint(out / "base" / "checkpoint.safetensors")
    log = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert 3 <= meta["step"] < 20 and meta["step"] == log[-1]["step"]

    res = subprocess.run(torchrun(*args), env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    _, meta = load_checkpoint(out / "base" / "checkpoint.safetensors")
    assert meta["step"] == 20
    model = load_model(out / "base" / "model")
    assert model.metadata["steps"] == "20"
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
