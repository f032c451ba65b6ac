"""Regenerate the pictures of the docs from real code paths (no hand-made images).

    python docs/make_figures.py [--data DIR]   # default: data/ (blurvid data download data/)

* ``docs/images/concept.png`` / ``concept.gif`` -- 7 sharp frames rendered by the synthetic camera-shake
  pipeline (``blurvid.data.shake``) and their average, the blurry photo: what blurvid
  inverts.
* ``docs/images/example_clock.png`` / ``.gif`` -- the bundled example through the *current default
  model*; labelled "UNTRAINED PLACEHOLDER" while the default weights are the placeholder.
* ``docs/images/scaling.png`` -- latency vs. megapixels from the newest CPU benchmark JSON.
* ``docs/gallery.md`` + ``docs/images/gallery/*.jpg`` -- every real blurry photo of the
  project's data through the default model, with the motion it recovered (mean |frame 1 - frame 7|).
* ``docs/images/psnr_per_frame.png`` -- PSNR per frame index on the validation set for the
  identity and oracle-static references and the current default model (``blurvid.evaluate``).
* ``docs/images/before_after.jpg`` / ``before_after.gif`` -- the README's before/after: a real
  blurry photo (NAFNet's GoPro demo image) next to the default model's frames 1, 4 and 7, with
  a 2x zoom, and the 7 frames as a GIF; ``docs/images/gallery/*_slowmo.gif`` -- 42 frames
  from ``interpolate_recursive`` for two of the gallery photos.
* ``docs/images/before_after_synthetic.jpg`` -- the same on blur G was trained for: the
  synthetic validation sample (shake on a held-out photo) whose centre-frame gain is the
  median of the 64, its blurry input, G's centre frame and the true centre frame, PSNRs in
  the labels, with a 4x zoom of the most detailed part (not a picked best case).
* ``docs/images/auto_scale_real.jpg`` -- ``max_side="auto"`` beside full size on a real photo,
  picked by a rule: of the real blurry photos of the shared data, the one whose estimated blur
  (``blurvid.blur_extent``) is longest; its input, the default model's centre frame at full
  size and with ``max_side="auto"``, and a 2x zoom of the box with the most gradient energy
  in the input.

``--only NAME [NAME ...]`` makes just those figures (e.g. ``--only before_after_auto``).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import torch
from PIL import Image, ImageDraw

import blurvid
from blurvid.data.download import default_data_dir
from blurvid.io import frames_to_pil, read_image, save_gif

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "images"


def _strip(images: list[Image.Image], labels: list[str], title: str, scale: int = 1) -> Image.Image:
    w, h = images[0].size
    w, h = w * scale, h * scale
    pad, head = 4, 18
    sheet = Image.new("RGB", (len(images) * (w + pad) + pad, h + 2 * head + pad), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 2), title, fill="black")
    for i, (img, label) in enumerate(zip(images, labels)):
        x = pad + i * (w + pad)
        sheet.paste(img.resize((w, h), Image.NEAREST), (x, head))
        draw.text((x, head + h + 2), label, fill="black")
    return sheet


def _default_model() -> blurvid.Generator:
    """The bundled default model (a placeholder's warning silenced: the figures label it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return blurvid.load_model("default")


def concept(data: Path) -> None:
    from blurvid.data import ShakeConfig, item_generator, render_shake

    photo = read_image(data / "photos" / "skimage_coffee.jpg")
    cfg = ShakeConfig(size=160, path_length=(22, 22), sprites=(1, 1), noise_sigma=0.0)
    sample = render_shake(photo, cfg, item_generator(7, 0))
    frames = frames_to_pil(sample["frames"])
    blurry = frames_to_pil(sample["blurry"].unsqueeze(0))[0]
    sheet = _strip(
        [*frames, blurry],
        [f"frame {i + 1}" for i in range(7)] + ["blurry = mean"],
        "7 sharp moments averaged into one blurry photo; blurvid recovers the 7 from the 1",
    )
    sheet.save(OUT / "concept.png")
    save_gif(sample["frames"], OUT / "concept.gif", fps=6, boomerang=True, overwrite=True)


def example() -> None:
    model = _default_model()
    placeholder = model.metadata.get("placeholder") == "true"
    image = read_image(ROOT / "examples" / "images" / "clock_motion.png")
    small = torch.nn.functional.interpolate(image[None], scale_factor=0.5, mode="area")[0]
    frames = blurvid.extract_frames(small, model=model, max_side=None)
    title = "examples/images/clock_motion.png -> 7 frames, default model"
    if placeholder:
        title += " (UNTRAINED PLACEHOLDER: not meaningful)"
    sheet = _strip(
        frames_to_pil(torch.cat([small[None], frames])),
        ["input"] + [f"frame {i + 1}" for i in range(7)],
        title,
    )
    sheet.save(OUT / "example_clock.png")
    save_gif(frames, OUT / "example_clock.gif", fps=6, boomerang=True, overwrite=True)


def scaling() -> None:
    files = sorted((ROOT / "benchmarks" / "results").glob("*-cpu-*.json"))
    if not files:
        return
    rows = [r for r in json.loads(files[-1].read_text())["results"] if r["depth"] == 1]
    pts = sorted(
        (int(r["size"].split("x")[0]) * int(r["size"].split("x")[1]) / 1e6, r["median_s"])
        for r in rows
    )
    import math

    W, H, m = 560, 320, 50
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    lx = [math.log10(x) for x, _ in pts]
    ly = [math.log10(y) for _, y in pts]
    x0, x1, y0, y1 = min(lx) - 0.2, max(lx) + 0.4, min(ly) - 0.2, max(ly) + 0.3

    def to_px(a: float, b: float) -> tuple[float, float]:
        return m + (W - 2 * m) * (a - x0) / (x1 - x0), H - m - (H - 2 * m) * (b - y0) / (y1 - y0)

    d.rectangle([m, m // 2, W - m, H - m], outline="black")
    xy = [to_px(a, b) for a, b in zip(lx, ly)]
    d.line(xy, fill="navy", width=2)
    for (x, y), (px, py) in zip(pts, xy):
        d.ellipse([px - 3, py - 3, px + 3, py + 3], fill="navy")
        d.text((px - 30, py - 16), f"{x:.2g} MP: {y:.2g} s", fill="black")
    d.text(
        (m, 4),
        f"extract_frames latency vs. image size, 2 CPU cores ({files[-1].name})",
        fill="black",
    )
    d.text((W // 2 - 80, H - m + 10), "megapixels (log scale)", fill="black")
    d.text((4, m // 2), "seconds (log)", fill="black")
    img.save(OUT / "scaling.png")


def psnr_per_frame(data: Path) -> None:
    from blurvid.evaluate import evaluate, iter_samples
    from blurvid.metrics import PAPER

    model = _default_model()
    label = "default" + (" (placeholder)" if model.metadata.get("placeholder") == "true" else "")
    rows = evaluate(
        {label: model},
        iter_samples(f"val:{data}"),
        protocol=PAPER,
        compute_epe=False,
        progress=False,
    )
    W, H, m = 560, 320, 50
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    values = [v for r in rows for v in r.per_frame_psnr if v < 60]
    lo, hi = min(values) - 1, max(values) + 1

    def to_px(i: int, v: float) -> tuple[float, float]:
        v = min(v, hi)
        return m + (W - 2 * m) * i / 6, H - m - (H - 2 * m) * (v - lo) / (hi - lo)

    d.rectangle([m, m // 2, W - m, H - m], outline="black")
    colours = ["gray", "darkgreen", "navy", "darkred"]
    for k, (row, colour) in enumerate(zip(rows, colours)):
        pts = [to_px(i, v) for i, v in enumerate(row.per_frame_psnr)]
        d.line(pts, fill=colour, width=2)
        d.text((m + 6, m // 2 + 4 + 12 * k), f"{row.name}: mean {row.psnr:.2f} dB", fill=colour)
    for i in range(7):
        d.text((to_px(i, lo)[0] - 3, H - m + 4), str(i + 1), fill="black")
    for db in range(int(lo) + 1, int(hi) + 1, 2):
        y = to_px(0, db)[1]
        d.line([(m - 4, y), (m, y)], fill="black")
        d.text((m - 30, y - 6), f"{db}", fill="black")
    d.text((4, m // 2 + 2), "dB", fill="black")
    d.text(
        (m, 4),
        f"PSNR per frame index, validation set ({rows[0].n} samples, best order; "
        f"values above {hi:.0f} dB drawn at the top)",
        fill="black",
    )
    d.text((W // 2 - 30, H - m + 18), "frame", fill="black")
    img.save(OUT / "psnr_per_frame.png")


def _shrink(image: torch.Tensor, long_side: int) -> torch.Tensor:
    scale = long_side / max(image.shape[-2:])
    return torch.nn.functional.interpolate(image[None], scale_factor=scale, mode="area")[0]


def _zoom_sheet(
    picks: list[torch.Tensor],
    view: list[torch.Tensor],
    labels: list[str],
    title: str,
    box: tuple[int, int, int],
    scale: int = 1,
    zoom_scale: int = 2,
) -> Image.Image:
    """Two rows: ``view`` (the pictures as shown, ``scale`` x) over a ``zoom_scale`` x zoom of
    the ``(y0, x0, size)`` box of ``picks``, the same labels under both."""
    y0, x0, size = box
    zoom = [p[:, y0 : y0 + size, x0 : x0 + size] for p in picks]
    top = _strip(frames_to_pil(torch.stack(view)), labels, title, scale)
    bottom = _strip(
        frames_to_pil(torch.stack(zoom)),
        labels,
        f"{zoom_scale}x zoom of the {size}x{size} box at ({x0}, {y0})",
        zoom_scale,
    )
    sheet = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height), "white")
    sheet.paste(top, (0, 0))
    sheet.paste(bottom, (0, top.height))
    return sheet


def before_after(data: Path) -> None:
    """Real blurry photo vs frames 1, 4, 7 (full view + a 2x zoom of the most detailed part)."""
    model = _default_model()
    image = _shrink(read_image(data / "blurry" / "nafnet_blurry.jpg"), 640)  # 640x360
    frames = blurvid.extract_frames(image, model=model, max_side=None)
    picks = [image, frames[0], frames[3], frames[6]]
    labels = ["blurry input (real photo)", "frame 1", "frame 4", "frame 7"]
    view = [_shrink(p, 400) for p in picks]
    box = (130, 140, 160)  # the food truck and the two walkers
    sheet = _zoom_sheet(picks, view, labels, "before / after: default model", box)
    sheet.save(OUT / "before_after.jpg", quality=88)
    small = torch.stack([_shrink(f, 400) for f in frames])
    save_gif(small, OUT / "before_after.gif", fps=8, boomerang=True, overwrite=True)


def before_after_synthetic(data: Path) -> None:
    """Median synthetic validation sample: blurry input vs G's centre frame vs the truth."""
    from blurvid.evaluate import iter_samples
    from blurvid.metrics import psnr

    model = _default_model()
    scored = []
    for name, blurry, frames in iter_samples(f"val:{data}", subset="synthetic"):
        centre = blurvid.extract_frames(blurry, model=model, max_side=None)[3]
        truth = frames[3]
        before, after = (
            psnr(blurry[None], truth[None]).item(),
            psnr(centre[None], truth[None]).item(),
        )
        scored.append((after - before, name, blurry, centre, truth, before, after))
    scored.sort(key=lambda t: t[0])
    gain, name, blurry, centre, truth, before, after = scored[len(scored) // 2]
    picks = [blurry, centre, truth]
    labels = [
        f"blurry input: {before:.2f} dB",
        f"G, frame 4: {after:.2f} dB ({gain:+.2f})",
        "true centre frame",
    ]
    # zoom: the size x size box with the most gradient energy in the truth
    size = 64
    g = truth.mean(0)
    energy = (g[1:, :-1] - g[:-1, :-1]).abs() + (g[:-1, 1:] - g[:-1, :-1]).abs()
    box = torch.nn.functional.avg_pool2d(energy[None, None], size, stride=4)[0, 0]
    y0, x0 = divmod(int(box.argmax()), box.shape[1])
    y0, x0 = y0 * 4, x0 * 4
    title = (
        f"synthetic shake on a held-out photo ({name}): the median of the {len(scored)} "
        f"synthetic validation samples, 2x"
    )
    sheet = _zoom_sheet(picks, picks, labels, title, (y0, x0, size), 2, 4)
    sheet.save(OUT / "before_after_synthetic.jpg", quality=90)


def before_after_auto(data: Path) -> None:
    """The real blurry photo with the longest estimated blur: input | full size | auto."""
    from blurvid.api import plan_working_scale, working_size
    from blurvid.blur_extent import estimate_blur_extent
    from blurvid.io import list_images

    model = _default_model()
    lengths = {p: estimate_blur_extent(read_image(p)) for p in list_images(data / "blurry")}
    path = max(lengths, key=lambda p: lengths[p])  # the rule: the longest estimated blur
    image = read_image(path)
    h, w = image.shape[-2:]
    plan = plan_working_scale(image, model=model)  # what "auto" does (G's probe included)
    wh, ww = working_size(h, w, plan.max_side)
    full = blurvid.extract_frames(image, model=model, max_side=None)
    auto = blurvid.extract_frames(image, model=model, max_side="auto")

    def motion(frames: torch.Tensor) -> str:  # the gallery's measure: mean |frame 1 - frame 7|
        return f"motion {float((frames[0] - frames[-1]).abs().mean()):.4f}"

    picks = [image, full[3], auto[3]]
    labels = [
        f"input {w}x{h}, blur read as {plan.blur_px:.1f} px (estimate {lengths[path]:.1f})",
        f"full size: G at {w}x{h}, frame 4 ({motion(full)})",
        f"auto: G at {ww}x{wh}, frame 4 ({motion(auto)})",
    ]
    # zoom: the size x size box with the most gradient energy in the input
    size = 160
    g = image.mean(0)
    energy = (g[1:, :-1] - g[:-1, :-1]).abs() + (g[:-1, 1:] - g[:-1, :-1]).abs()
    box = torch.nn.functional.avg_pool2d(energy[None, None], size, stride=8)[0, 0]
    y0, x0 = divmod(int(box.argmax()), box.shape[1])
    view = [_shrink(p, 420) for p in picks]
    title = (
        f"{path.name}: the longest estimated blur of the {len(lengths)} real blurry photos; "
        "default model, full size vs max_side='auto'"
    )
    sheet = _zoom_sheet(picks, view, labels, title, (8 * y0, 8 * x0, size))
    sheet.save(OUT / "auto_scale_real.jpg", quality=88)

    def edges(x: torch.Tensor) -> float:  # mean |gradient| of the luma-like mean: sharpness
        m = x.mean(0)
        return float((m[1:, :] - m[:-1, :]).abs().mean() + (m[:, 1:] - m[:, :-1]).abs().mean())

    print(f"{path.name}: estimate {lengths[path]:.1f} px, read {plan.blur_px:.1f} px, "
          f"auto {ww}x{wh}; {labels}")  # fmt: skip
    print("mean |gradient| (input, full frame 4, auto frame 4): "
          + ", ".join(f"{edges(p):.4f}" for p in picks))  # fmt: skip


def gallery(data: Path) -> None:
    from blurvid.io import list_images
    from blurvid.metrics import psnr

    folder = OUT / "gallery"
    folder.mkdir(exist_ok=True)
    model = _default_model()
    placeholder = model.metadata.get("placeholder") == "true"
    lines = [
        "# Gallery: real blurry photos",
        "",
        "Every photo of `data/blurry` (`blurvid data download data/`; real motion blur, no ground",
        "truth; licences in that folder's README) through the current default model, downscaled to",
        "320 px on the long side, G at that size (`max_side=None`: what the network does, not",
        "the automatic working scale). Regenerate with `python docs/make_figures.py`.",
        "",
    ]
    if placeholder:
        lines += [
            "> The default weights are still the **untrained placeholder**: these frames are not",
            "> meaningful yet; the page shows the pipeline, not the method.",
            "",
        ]
    lines += [
        "Columns: the motion the model recovered (mean |frame 1 - frame 7|, in [0, 1]; a static",
        "output scores 0), and the re-blur PSNR (the mean of the 7 frames against the input; the",
        "architecture makes them equal up to clipping, so anything above 40 dB is consistent).",
        "Two photos also come as 42-frame slow motion (`interpolate_recursive`, depth 2).",
        "",
        "| photo | motion | re-blur PSNR (dB) | frames |",
        "|---|---|---|---|",
    ]
    slowmo = {"nafnet_blurry", "srn_07"}
    for path in list_images(data / "blurry"):
        small = _shrink(read_image(path), 320)
        frames = blurvid.extract_frames(small, model=model, max_side=None)
        motion = float((frames[0] - frames[-1]).abs().mean())
        reblur = float(psnr(frames.mean(0, keepdim=True), small[None]))
        sheet = _strip(
            frames_to_pil(torch.cat([small[None], frames])),
            ["input"] + [f"frame {i + 1}" for i in range(7)],
            f"{path.name}" + (" (untrained placeholder)" if placeholder else ""),
        )
        sheet.save(folder / f"{path.stem}.jpg", quality=85)
        cell = f"![{path.stem}](images/gallery/{path.stem}.jpg)"
        if path.stem in slowmo:
            slow = blurvid.interpolate_recursive(_shrink(small, 240), model=model)
            save_gif(
                slow, folder / f"{path.stem}_slowmo.gif", fps=12, boomerang=True, overwrite=True
            )
            cell += f" [42-frame slow motion](images/gallery/{path.stem}_slowmo.gif)"
        lines.append(f"| `{path.name}` | {motion:.4f} | {reblur:.1f} | {cell} |")
    (HERE / "gallery.md").write_text("\n".join(lines) + "\n")


#: Every figure, in the order they are made: name -> function of the shared data folder.
FIGURES = {
    "concept": concept,
    "example": lambda data: example(),
    "scaling": lambda data: scaling(),
    "psnr_per_frame": psnr_per_frame,
    "before_after": before_after,
    "before_after_synthetic": before_after_synthetic,
    "before_after_auto": before_after_auto,
    "gallery": gallery,
}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=str(default_data_dir(ROOT)))
    p.add_argument("--only", nargs="+", choices=sorted(FIGURES), help="make only these")
    args = p.parse_args()
    OUT.mkdir(exist_ok=True)
    torch.set_num_threads(1)
    data = Path(args.data)
    for name, make in FIGURES.items():
        if args.only is None or name in args.only:
            make(data)
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))}")


if __name__ == "__main__":
    main()
