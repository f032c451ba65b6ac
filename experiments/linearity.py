"""Is G still a linear filter? Relative nonlinearity of its residual branch and its blocks' scales.

G's frames are the input plus residuals from a U-Net whose only nonlinear parts are the gated
blocks (LayerNorm, SimpleGate, channel attention), each added through a learnt residual scale
``beta`` that starts at 0. While every ``beta`` stays near 0, G is a linear filter, and a
linear filter cannot undo blur of varying direction: the learning curve flattens at about
+0.1 dB. This script reports, per model folder or training checkpoint (its EMA weights when it
has them):

* ``nonlinearity``: ``mean |R(a + b) - R(a) - R(b) + R(0)| / mean |R(a) - R(0)|`` for the
  residual branch ``R`` and two seeded random images (0 for a linear map);
* ``beta``: mean ``|beta|`` of the blocks, per stage (encoder levels, middle, decoder levels).

    python experiments/linearity.py default training/release-v0.2/base/best \\
        benchmarks/.cache/run-centre10-deep-ema/checkpoint.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def load(source: str) -> torch.nn.Module:
    """A model folder / name, or a training checkpoint (its ``G_ema`` weights, else ``G``)."""
    from blurvid import Generator, GeneratorConfig, load_model

    path = Path(source)
    if path.suffix != ".safetensors":
        return load_model(source).eval()
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["trainer"])
        keys = list(f.keys())
        prefix = "G_ema." if any(k.startswith("G_ema.") for k in keys) else "G."
        state = {k[len(prefix) :]: f.get_tensor(k) for k in keys if k.startswith(prefix)}
    g = Generator(GeneratorConfig.from_dict(meta["config"]["generator"]))
    g.load_state_dict(state)
    return g.eval()


def nonlinearity(g: torch.nn.Module, size: int = 128, seed: int = 0) -> float:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(1, 3, size, size, generator=gen) * 0.5
    b = torch.rand(1, 3, size, size, generator=gen) * 0.5
    with torch.inference_mode():
        ra, rb, rab = g._residuals(a), g._residuals(b), g._residuals(a + b)
        r0 = g._residuals(torch.zeros_like(a))
    return float((rab - ra - rb + r0).abs().mean() / (ra - r0).abs().mean())


def block_scales(g: torch.nn.Module) -> dict[str, float]:
    out = {}
    stages = [(f"enc{i}", s) for i, s in enumerate(g.encoders)] + [("middle", g.middle)]
    stages += [(f"dec{i}", s) for i, s in enumerate(g.decoders)]
    for name, stage in stages:
        betas = [blk.beta.detach().abs().mean() for blk in stage]
        if betas:
            out[name] = round(float(torch.stack(betas).mean()), 5)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="model folders/names or training checkpoints")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    print("| model | nonlinearity | mean abs(beta) per stage |")
    print("|---|---|---|")
    for source in args.models:
        g = load(source)
        scales = ", ".join(f"{k} {v:.4f}" for k, v in block_scales(g).items())
        print(f"| {source} | {nonlinearity(g):.2g} | {scales} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
