"""A phone-size photo end to end: ``blurvid extract`` on a 4000x3000 photo with camera shake,
at full size and with ``--max-side auto``, each in its own process.

    python benchmarks/large_photo.py --threads 1   # -> benchmarks/results/large_photo.json

**The photo** (synthetic blur on a real photo, made here; nothing is downloaded):
``lomiri_Dragonfly_by_Bolly.jpg`` from the shared data (1280x960, CC BY-SA 4.0) upscaled to
4000x3000 (bicubic, antialiased), then blurred by a curved camera path whose chord is ``--blur`` px (default 64; a quadratic Bezier
whose control point is a fifth of that off the chord: an arc of 66 px, 2.7x the top of G's
training range 4-24 px) -- the mean of the photo shifted to every whole pixel along the path
-- and saved as JPEG quality 92 (what phones write).

**Each run** is one ``python -m blurvid extract PHOTO -o DIR --format png --device cpu -q``
(with ``--max-side full``, and without it: ``auto``, the default since v0.3.x), in a fresh
process with ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` set to ``--threads``, after a warm-up that loads the model (so the disk cache is warm): its
wall time, and its peak resident memory from ``os.wait4`` (that child's own ``ru_maxrss``). The
7 frames are written as PNGs at 4000x3000 in both runs; full size runs G in the library's
automatic 1024 px tiles (over 2.1 MP), as a user gets it. Then the same two extractions from
Python (``blurvid.extract_frames`` on the decoded photo, frames kept in memory, no files),
each in its own process: the call's own time beside the process's wall time and peak memory. **The estimate** itself
(:func:`blurvid.blur_extent.blur_extent` on the decoded photo, best of ``--repeat``) and the
plan ``"auto"`` follows (:func:`blurvid.api.plan_working_scale`: the estimate corrected by G's
own motion at 1/8 and 1/4 of the size, with OpenCV) are measured in this process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from bench_data import _cpu_model  # benchmarks/ (the script's folder)

from blurvid.data.download import default_data_dir

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
COMMAND = "python benchmarks/large_photo.py"
PHOTO = "lomiri_Dragonfly_by_Bolly.jpg"
SIZE = (3000, 4000)  # height, width


def camera_path(length: float) -> tuple[list[tuple[int, int]], float]:
    """A curved path whose chord is ``length`` px: a quadratic Bezier from (0, 0) to
    (0.6 L, 0.8 L) whose control point is L / 5 off the chord's middle. Returns the whole
    pixels ``(dy, dx)`` it passes (each once, in order) and its arc length (pixels)."""
    end = torch.tensor([0.6 * length, 0.8 * length])
    ctrl = end / 2 + torch.tensor([0.8, -0.6]) * length / 5
    t = torch.linspace(0, 1, 16 * int(length) + 1)[:, None]
    pts = 2 * (1 - t) * t * ctrl + t**2 * end
    arc = float((pts[1:] - pts[:-1]).norm(dim=1).sum())
    seen: list[tuple[int, int]] = []
    for y, x in pts.round().int().tolist():
        if not seen or seen[-1] != (y, x):
            seen.append((y, x))
    return seen, arc


def make_photo(data: Path, out: Path, blur: float) -> dict:
    """The benchmark's photo (module docstring), written to ``out``; its path's arc length."""
    from PIL import Image

    from blurvid.io import read_image

    x = read_image(data / "photos" / PHOTO)[None]
    x = F.interpolate(x, size=SIZE, mode="bicubic", antialias=True, align_corners=False)
    x = x.clamp_(0.0, 1.0)[0]
    path, arc = camera_path(blur)
    pad = int(max(abs(v) for p in path for v in p)) + 1
    padded = F.pad(x[None], (pad, pad, pad, pad), mode="reflect")[0]
    acc = torch.zeros_like(x)
    h, w = SIZE
    for dy, dx in path:
        acc += padded[:, pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    acc /= len(path)
    u8 = acc.mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    Image.fromarray(u8).save(out, quality=92)
    return {"file": PHOTO, "size": f"{SIZE[1]}x{SIZE[0]}", "path_px": round(arc, 1),
            "path_points": len(path), "bytes": out.stat().st_size}  # fmt: skip


def run_child(cmd: list[str], threads: int) -> dict:
    """``cmd`` in a fresh process: wall seconds, peak RSS (MiB) of that process alone, and
    what it printed last on stdout when that is a JSON object."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4 already
        if proc.returncode:
            err.seek(0)
            text = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {text}")
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
    result = {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}
    if lines and lines[-1].startswith("{"):
        result.update(json.loads(lines[-1]))
    return result


def extract_cmd(photo: Path, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "blurvid", "extract", str(photo), "-o", str(out),
            "--format", "png", "--device", "cpu", "-q", *extra]  # fmt: skip


#: The same extraction from Python, frames kept in memory (no PNGs): the call's own time.
IN_PROCESS = """
import json, sys, time, warnings
import torch
import blurvid
from blurvid.io import read_image
x = read_image(sys.argv[1])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    g = blurvid.load_model("default")
t = time.perf_counter()
frames = blurvid.extract_frames(x, model=g, device="cpu", max_side=sys.argv[2] or None)
print(json.dumps({"extract_frames_s": round(time.perf_counter() - t, 2),
                  "frames_shape": list(frames.shape)}))
"""


def estimate(photo: Path, repeat: int) -> dict:
    """The estimate (best of ``repeat``), then the plan ``max_side="auto"`` follows
    (:func:`blurvid.api.plan_working_scale`: the estimate and G's motion at the probe
    sizes) and its time, model loaded beforehand."""
    from blurvid import load_model
    from blurvid.api import plan_working_scale
    from blurvid.blur_extent import blur_extent
    from blurvid.io import read_image

    x = read_image(photo)
    times, be = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        be = blur_extent(x)
        times.append(time.perf_counter() - t)
    assert be is not None
    g = load_model("default")
    t = time.perf_counter()
    plan = plan_working_scale(x, model=g, device="cpu")
    plan_s = time.perf_counter() - t
    return {"seconds": round(min(times), 3), "length_px": round(be.length, 1),
            "level": be.level, "plan_seconds": round(plan_s, 2),
            "plan_px": round(plan.blur_px, 1), "max_side": plan.max_side,
            "weight": plan.weight}  # fmt: skip


def markdown(result: dict) -> str:
    p, e = result["photo"], result["estimate"]
    m = result["machine"]
    lines = [
        f"Command: `{result['command']}` ({m['cpu']}, {m['threads']} thread(s), "
        f"torch {m['torch']})",
        "",
        f"Photo: {p['size']} ({p['file']} upscaled, camera path {p['path_px']} px, "
        f"JPEG {p['bytes'] / 2**20:.1f} MiB). Estimate: {e['length_px']} px in "
        f"{e['seconds']:.2f} s; the plan with G's probes: {e.get('plan_px')} px in "
        f"{e.get('plan_seconds', math.nan):.1f} s -> max_side {e['max_side']}.",
        "",
        "| run (own process) | wall time (s) | of which extract_frames (s) | peak RSS (MiB) |",
        "|---|---:|---:|---:|",
    ]
    for name, r in result["runs"].items():
        call = f"{r['extract_frames_s']:.1f}" if "extract_frames_s" in r else ""
        lines.append(f"| `{name}` | {r['seconds']:.1f} | {call} | {r['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from blur_extent import save_result

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", type=Path, default=default_data_dir(REPO))
    ap.add_argument("--blur", type=float, default=64.0, help="camera path (pixels at 4000x3000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the estimate's timing")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "large_photo.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    result: dict = {
        "command": " ".join([COMMAND, *(sys.argv[1:] if argv is None else argv)]),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "threads": args.threads,
            "platform": platform.platform(),
            "torch": torch.__version__,
        },  # fmt: skip
    }
    with tempfile.TemporaryDirectory(prefix="blurvid-large-") as tmp:
        folder = Path(tmp)
        photo = folder / "phone_4000x3000.jpg"
        result["photo"] = make_photo(args.data_root, photo, args.blur)
        print(f"photo: {result['photo']}", flush=True)
        result["estimate"] = estimate(photo, args.repeat)
        print(f"estimate: {result['estimate']}", flush=True)
        small = folder / "warmup.png"  # loads the model once: the disk cache is warm for both
        from PIL import Image

        Image.new("RGB", (64, 48), (128, 90, 60)).save(small)
        run_child(extract_cmd(small, folder / "warmup", []), args.threads)
        result["runs"] = {}
        for name, extra in (
            ("extract --max-side full", ["--max-side", "full"]),
            ("extract (default: --max-side auto)", []),
        ):
            out = folder / name.replace(" ", "_")
            result["runs"][name] = run_child(extract_cmd(photo, out, extra), args.threads)
            pngs = sorted(out.rglob("*.png"))
            with Image.open(pngs[0]) as frame:
                result["runs"][name].update(frames=len(pngs), frame_size=list(frame.size))
            print(f"{name}: {result['runs'][name]}", flush=True)
        for name, side in (
            ("extract_frames(x, max_side=None)", ""),
            ("extract_frames(x) (default: max_side='auto')", "auto"),
        ):
            cmd = [sys.executable, "-c", IN_PROCESS, str(photo), side]
            result["runs"][name] = run_child(cmd, args.threads)
            print(f"{name}: {result['runs'][name]}", flush=True)
    save_result(result, markdown(result), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
