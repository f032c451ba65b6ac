"""Tests of blurvid.io: reading images, converting kinds, writing PNG / GIF / MP4 atomically."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from blurvid import ConfigError, InvalidImageError, OutputExistsError
from blurvid.io import (
    atomic_output,
    frames_to_pil,
    list_images,
    read_image,
    save_gif,
    save_mp4,
    save_pngs,
    to_batch,
)


def distinct_frames(n: int = 7, h: int = 20, w: int = 30) -> torch.Tensor:
    """``(n, 3, h, w)`` frames that differ clearly from each other (a moving bright bar),
    so GIF encoders cannot merge them."""
    frames = torch.full((n, 3, h, w), 0.1)
    for i in range(n):
        x0 = i * (w - 4) // max(n - 1, 1)
        frames[i, :, :, x0 : x0 + 4] = 0.9
        frames[i, 0] += 0.05 * i / n
    return frames


def no_temp_files(folder) -> bool:
    return not [p for p in os.listdir(folder) if ".tmp" in p]


# --------------------------------------------------------------------------- reading
def test_read_png_exact(tmp_path, image_u8):
    Image.fromarray(image_u8).save(tmp_path / "a.png")
    x = read_image(tmp_path / "a.png")
    assert x.shape == (3, 20, 30) and x.dtype == torch.float32 and x.is_contiguous()
    expected = torch.from_numpy(image_u8).permute(2, 0, 1).float() / 255
    assert torch.equal(x, expected)


def test_read_bmp_exact(tmp_path, image_u8):
    Image.fromarray(image_u8).save(tmp_path / "a.bmp")
    x = read_image(str(tmp_path / "a.bmp"))
    assert torch.equal(x, torch.from_numpy(image_u8).permute(2, 0, 1).float() / 255)


def test_read_jpeg_close(tmp_path):
    # a smooth image, so JPEG's loss is small
    yy, xx = np.mgrid[0:40, 0:60]
    img = np.stack([xx / 59, yy / 39, (xx + yy) / 98], -1)
    arr = (img * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.jpg", quality=95)
    x = read_image(tmp_path / "a.jpg")
    assert x.shape == (3, 40, 60)
    err = (x - torch.from_numpy(arr).permute(2, 0, 1).float() / 255).abs()
    assert err.mean() < 0.01 and err.max() < 0.1


def test_read_16bit_png_keeps_precision(tmp_path):
    arr = np.linspace(0, 65535, 20 * 30).reshape(20, 30).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    x = read_image(tmp_path / "g16.png")
    assert x.shape == (3, 20, 30)
    torch.testing.assert_close(
        x[0], torch.from_numpy(arr.astype(np.float32) / 65535), atol=1e-6, rtol=0
    )
    # finer than 8 bits: more distinct levels than 256
    assert torch.unique(x[0]).numel() > 256


def test_read_image_warns_on_animated_gif(tmp_path):
    frames = [Image.new("RGB", (16, 16), (40 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match="3 frames"):
        x = read_image(tmp_path / "anim.gif")
    assert x.shape == (3, 16, 16) and x.max() == 0  # the first (black) frame


def test_list_images(tmp_path):
    for name in ["b.png", "a.JPG", "c.txt", "d.webp"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png", "d.webp"]


# --------------------------------------------------------------------------- kinds
def test_to_batch_kinds(image_u8):
    x, restore = to_batch(image_u8)
    assert x.shape == (1, 3, 20, 30) and x.dtype == torch.float32
    frames = x.unsqueeze(1).expand(1, 7, 3, 20, 30)
    back = restore(frames)
    assert back.shape == (7, 20, 30, 3) and back.dtype == np.uint8
    assert np.array_equal(back[0], image_u8)  # exact round trip for 8-bit data

    x, restore = to_batch(Image.fromarray(image_u8))
    pil = restore(x.unsqueeze(1).expand(1, 7, 3, 20, 30))
    assert np.array_equal(np.asarray(pil[6]), image_u8)

    t = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    x, restore = to_batch(t)
    assert x.dtype == torch.float32
    out = restore(x.unsqueeze(1).expand(2, 7, 3, 16, 16))
    assert out.dtype == torch.float64 and out.shape == (2, 7, 3, 16, 16)


def test_uint16_round_trip():
    arr = np.linspace(0, 65535, 16 * 16 * 3).reshape(16, 16, 3).astype(np.uint16)
    x, restore = to_batch(arr)
    back = restore(x.unsqueeze(1))
    assert back.dtype == np.uint16 and np.array_equal(back[0], arr)


def test_greyscale_inputs_come_back_greyscale(tmp_path):
    """(H, W) -> (N, H, W); (H, W, 1) -> (N, H, W, 1); PIL "L" and an "L" file -> "L"
    images; exact round trips for grey frames (R = G = B)."""
    grey = np.arange(16 * 24, dtype=np.uint8).reshape(16, 24)
    for arr, shape in ((grey, (7, 16, 24)), (grey[..., None], (7, 16, 24, 1))):
        x, restore = to_batch(arr)
        back = restore(x.unsqueeze(1).expand(1, 7, 3, 16, 24))
        assert back.shape == shape and back.dtype == np.uint8
        assert np.array_equal(back[3].reshape(16, 24), grey)
    Image.fromarray(grey).save(tmp_path / "g.png")
    for image in (Image.fromarray(grey), tmp_path / "g.png", Image.fromarray(grey).convert("LA")):
        x, restore = to_batch(image)
        pil = restore(x.unsqueeze(1).expand(1, 7, 3, 16, 24))
        assert [im.mode for im in pil] == ["L"] * 7 and np.array_equal(np.asarray(pil[0]), grey)
    # colour frames for a grey input: the luma, as Pillow's convert("L") (to 1 level)
    rgb = torch.rand(1, 7, 3, 16, 24, generator=torch.Generator().manual_seed(0))
    grey_frames = restore(rgb)
    for g, c in zip(grey_frames, frames_to_pil(rgb[0])):
        diff = np.asarray(g, np.int16) - np.asarray(c.convert("L"), np.int16)
        assert np.abs(diff).max() <= 1
    assert to_batch(Image.fromarray(grey).convert("RGB"))[1].grey is False


def test_grayscale_and_rgba_numpy():
    gray = np.full((16, 16), 128, np.uint8)
    x, _ = to_batch(gray)
    assert x.shape == (1, 3, 16, 16) and torch.allclose(x, torch.full_like(x, 128 / 255))
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 3] = 255
    x, _ = to_batch(rgba)
    assert x.shape == (1, 3, 16, 16) and x.max() == 0


def test_frames_to_pil():
    frames = distinct_frames()
    imgs = frames_to_pil(frames)
    assert len(imgs) == 7 and imgs[0].size == (30, 20) and imgs[0].mode == "RGB"
    back = torch.from_numpy(np.stack([np.asarray(i) for i in imgs])).permute(0, 3, 1, 2) / 255
    assert (back - frames).abs().max() <= 0.5 / 255 + 1e-6
    # out-of-range values are clamped, not wrapped around
    assert np.asarray(frames_to_pil(torch.full((1, 3, 8, 8), 1.7))[0]).min() == 255
    assert np.asarray(frames_to_pil(torch.full((1, 3, 8, 8), -0.5))[0]).max() == 0


# --------------------------------------------------------------------------- writing
def test_save_pngs_round_trip(tmp_path):
    frames = distinct_frames()
    paths = save_pngs(frames, tmp_path / "out")
    assert [p.name for p in paths] == [f"frame_{i:03d}.png" for i in range(7)]
    for i, p in enumerate(paths):
        x = read_image(p)
        assert (x - frames[i]).abs().max() <= 0.5 / 255 + 1e-6
    assert no_temp_files(tmp_path / "out")


def test_save_pngs_many_frames_get_wider_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # about names: 1001 fsyncs cost seconds
    imgs = [Image.new("RGB", (8, 8))] * 1001
    paths = save_pngs(imgs, tmp_path, prefix="f")
    assert paths[0].name == "f_0000.png" and paths[-1].name == "f_1000.png"


def test_save_pngs_refuses_to_overwrite(tmp_path):
    frames = distinct_frames(3)
    save_pngs(frames, tmp_path)
    before = (tmp_path / "frame_000.png").read_bytes()
    with pytest.raises(OutputExistsError, match="overwrite"):
        save_pngs(distinct_frames(3) * 0.5, tmp_path)
    assert (tmp_path / "frame_000.png").read_bytes() == before
    save_pngs(distinct_frames(3) * 0.5, tmp_path, overwrite=True)
    assert (tmp_path / "frame_000.png").read_bytes() != before


def test_save_gif(tmp_path):
    frames = distinct_frames()
    path = save_gif(frames, tmp_path / "a.gif", fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 7 and gif.size == (30, 20)
        assert gif.info.get("loop") == 0  # loops forever
        assert gif.info.get("duration") == 100
    assert no_temp_files(tmp_path)


def test_save_gif_boomerang(tmp_path):
    frames = distinct_frames()
    path = save_gif(frames, tmp_path / "b.gif", boomerang=True)
    with Image.open(path) as gif:
        assert gif.n_frames == 2 * 7 - 2
        # forward then back: 0 1 2 3 4 5 6 5 4 3 2 1, so position 7 shows frame 5 again
        gif.seek(5)
        f5 = np.asarray(gif.convert("RGB"), dtype=int)
        gif.seek(7)
        f7 = np.asarray(gif.convert("RGB"), dtype=int)
    assert np.abs(f5 - f7).max() <= 8  # frames 5 and 7 are both frame 5 of the input


def test_save_gif_from_pil_list(tmp_path):
    imgs = frames_to_pil(distinct_frames(4))
    save_gif(imgs, tmp_path / "c.gif")
    with Image.open(tmp_path / "c.gif") as gif:
        assert gif.n_frames == 4


def test_save_mp4(tmp_path):
    av = pytest.importorskip("av")
    path = save_mp4(distinct_frames(7, 32, 48), tmp_path / "a.mp4", fps=8)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (48, 32)
    assert len(frames) == 7
    assert no_temp_files(tmp_path)
    # the content survives the encoding (bright bar at the left in frame 0)
    first = frames[0].to_ndarray(format="rgb24").astype(float)
    assert first[:, :4].mean() > 150 and first[:, -8:].mean() < 80


def test_save_mp4_odd_size_is_padded_to_even(tmp_path):
    av = pytest.importorskip("av")
    path = save_mp4(distinct_frames(7, 21, 31), tmp_path / "odd.mp4", boomerang=True)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (32, 22)
    assert n == 12


def test_save_mp4_refuses_to_overwrite(tmp_path):
    pytest.importorskip("av")
    (tmp_path / "x.mp4").write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        save_mp4(distinct_frames(), tmp_path / "x.mp4")
    assert (tmp_path / "x.mp4").read_bytes() == b"old"


def test_save_rejects_bad_frame_tensors(tmp_path):
    with pytest.raises(InvalidImageError, match="N, 3, H, W"):
        save_gif(torch.rand(3, 8, 8), tmp_path / "x.gif")
    for empty in (torch.rand(0, 3, 8, 8), []):
        with pytest.raises(InvalidImageError, match="no frames"):
            save_gif(empty, tmp_path / "x.gif")
        with pytest.raises(InvalidImageError, match="no frames"):
            save_pngs(empty, tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fps", [0, -3, float("nan"), float("inf"), "fast"])
def test_save_rejects_bad_fps(tmp_path, fps):
    with pytest.raises(ConfigError, match="fps must be a positive number"):
        save_gif(distinct_frames(), tmp_path / "x.gif", fps=fps)
    with pytest.raises(ConfigError, match="fps must be a positive number"):
        save_mp4(distinct_frames(), tmp_path / "x.mp4", fps=fps)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- atomicity
def test_atomic_output_success(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"data")
        assert not target.exists()  # nothing under the final name until done
    assert target.read_bytes() == b"data"
    assert no_temp_files(target.parent)


def test_atomic_output_leaves_nothing_on_exception(tmp_path):
    target = tmp_path / "file.png"
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_atomic_output_keeps_the_old_file_on_exception(tmp_path):
    target = tmp_path / "file.png"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target, overwrite=True) as tmp:
            tmp.write_bytes(b"new")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.png"]


def test_atomic_output_refuses_existing_without_overwrite(tmp_path):
    target = tmp_path / "file.png"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="exists already"):
        with atomic_output(target):
            pass  # pragma: no cover
    with pytest.raises(FileExistsError):  # also the built-in type
        with atomic_output(target):
            pass  # pragma: no cover
    with atomic_output(target, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["file.png"]


def test_written_files_get_normal_permissions_not_private_tempfile_ones(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the final file must get 0666 & ~umask
    like any file a user writes, so outputs and saved models can be shared."""
    umask = os.umask(0)
    os.umask(umask)
    gif = save_gif(torch.rand(3, 3, 16, 16), tmp_path / "a.gif")
    assert gif.stat().st_mode & 0o777 == 0o666 & ~umask


def _png_header_only(path, width, height):
    """A PNG that claims ``width x height`` pixels but carries no pixel data."""
    import struct
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return path


def test_blurvid_pixel_limit_governs_over_pillows_own(tmp_path, monkeypatch):
    """400 MP is over Pillow's built-in hard limit (2 x 89 MP); raising BLURVID_MAX_PIXELS lets
    such a file through the size guards (this one then fails as truncated), and Pillow's global
    setting is left as it was."""
    from PIL import Image

    big = _png_header_only(tmp_path / "big.png", 20000, 20000)
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(InvalidImageError, match="pixel limit"):
        read_image(big)
    monkeypatch.setenv("BLURVID_MAX_PIXELS", str(500_000_000))
    with pytest.raises(InvalidImageError, match="truncated"):
        read_image(big)
    assert Image.MAX_IMAGE_PIXELS == before


def _rgb16_png(path, arr):
    """Write ``arr`` (H, W, 3) uint16 as a 16-bit RGB PNG (Pillow cannot write one)."""
    import struct
    import zlib

    be = arr.astype(">u2")
    raw = b"".join(b"\x00" + be[i].tobytes() for i in range(be.shape[0]))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", arr.shape[1], arr.shape[0], 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def test_16_bit_rgb_png_keeps_full_precision(tmp_path):
    pytest.importorskip("cv2")
    arr = (np.arange(9 * 10 * 3).reshape(9, 10, 3) * 200 + 7).astype(np.uint16)
    x = read_image(_rgb16_png(tmp_path / "rgb16.png", arr))
    assert torch.equal(
        (x * 65535).round().to(torch.int64), torch.from_numpy(arr.astype(np.int64)).permute(2, 0, 1)
    )


def test_16_bit_rgb_png_without_opencv_warns_and_reads_8_bits(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cv2", None)  # "not installed"
    arr = (np.arange(9 * 10 * 3).reshape(9, 10, 3) * 200 + 7).astype(np.uint16)
    with pytest.warns(UserWarning, match="16-bit colour PNG"):
        x = read_image(_rgb16_png(tmp_path / "rgb16.png", arr))
    assert torch.allclose(x, torch.from_numpy(arr / 65535.0).permute(2, 0, 1).float(), atol=1 / 255)
