"""Tests of ``blurvid eval`` (:mod:`blurvid.evaluate`): the runner end to end on tiny folders
(GOPRO layout, a cases folder, photos, the shared validation set), the reference rows
checked against numbers computed by hand, the CLI (table, JSON, several models, saved
frames, errors) and the protocol seen through a perfect and a time-reversed model."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import one_error_line
from PIL import Image

from blurvid import ConfigError, DataError, PlaceholderWeightsWarning, cli
from blurvid.evaluate import EvalRow, evaluate, format_table, iter_samples
from blurvid.metrics import CENTER, PAPER, STRICT

pytestmark = pytest.mark.usefixtures("fast_cpu")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SIZE = 64
SHIFT = 1  # px per frame


# ----------------------------------------------------------------------------- helpers
def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture, float in [0, 1] (trackable by optical flow)."""
    import cv2

    tex = np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), 1.5)
    return (tex - tex.min()) / (tex.max() - tex.min())


def save_png(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((arr * 255).round().astype(np.uint8)).save(path)


def load_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def psnr_np(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 100.0 if mse == 0 else min(100.0, 10 * math.log10(1.0 / mse))


def strict_json(path: Path) -> dict:
    """Parse as RFC 8259 JSON: NaN / Infinity are refused."""

    def refuse(token):
        raise ValueError(f"invalid JSON constant {token}")

    return json.loads(Path(path).read_text(), parse_constant=refuse)


def table_rows(out: str) -> dict[str, list[str]]:
    """Markdown table rows of ``blurvid eval``'s output:
    {method: [psnr, ssim, epe, reblur_psnr, motion, s]} (see :func:`centre_columns` for the
    centre and outer-6 columns)."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 9 and cells[0] not in ("Method", "---"):
            rows[cells[0]] = [cells[1], *cells[4:]]
    return rows


def centre_columns(out: str) -> dict[str, list[str]]:
    """{method: [centre PSNR, outer-6 PSNR]} of ``blurvid eval``'s table."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 9 and cells[0] not in ("Method", "---"):
            rows[cells[0]] = cells[2:4]
    return rows


@pytest.fixture
def gopro(tmp_path) -> Path:
    """A GOPRO_Large_all-style folder: ``test/SEQ/000000..000013.png``, a 64x64 texture
    moving left by 1 px per frame (two disjoint 7-frame windows)."""
    root = tmp_path / "gopro"
    tex = texture(SIZE, SIZE + 14 * SHIFT)
    for i in range(14):
        save_png(tex[:, i * SHIFT : i * SHIFT + SIZE], root / "test" / "SEQ" / f"{i:06d}.png")
    return root


def make_cases(root: Path, num_frames: int = 7) -> Path:
    """Two cases ``case_a``, ``case_b``: ``num_frames`` frames of 48x40 and ``blurry.png``,
    their mean rounded to 8 bits (as any saved blurry photo is)."""
    for k, name in enumerate(("case_a", "case_b")):
        tex = texture(40, 48 + 2 * num_frames, seed=10 + k)
        frames = [tex[:, 2 * i : 2 * i + 48] for i in range(num_frames)]
        for i, f in enumerate(frames):
            save_png(f, root / name / f"f{i}.png")
        save_png(np.mean(frames, axis=0), root / name / "blurry.png")
    return root


@pytest.fixture
def cases(tmp_path) -> Path:
    """Two 7-frame cases (:func:`make_cases`)."""
    return make_cases(tmp_path / "cases")


class Oracle:
    """A "model" that knows the answer: the true frames of each blurry input (looked up by
    content), optionally time-reversed. Used with a patched ``extract_frames``."""

    def __init__(self, spec: str, reverse: bool = False) -> None:
        self.table = {b.numpy().tobytes(): f for _, b, f in iter_samples(spec)}
        self.reverse = reverse
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        frames = self.table[x[0].numpy().tobytes()]
        return (frames.flip(0) if self.reverse else frames).unsqueeze(0)


@pytest.fixture
def oracle_models(monkeypatch):
    """Make ``evaluate`` call plain callables as models (``model(x) -> (1, 7, 3, H, W)``)."""
    import blurvid.api

    def run(x, model, device=None, max_side="auto"):
        assert max_side is None  # evaluate scores G itself at full size, not "auto"
        return model(x)

    monkeypatch.setattr(blurvid.api, "extract_frames", run)


# ----------------------------------------------------------------------------- GOPRO layout
def test_gopro_identity_and_oracle_rows_match_hand_computation(gopro):
    from skimage.metrics import structural_similarity

    rows = evaluate(
        {}, iter_samples(str(gopro)), protocol=STRICT, compute_epe=False, progress=False
    )
    identity, oracle = rows
    assert [identity.n, oracle.n] == [2, 2]

    # by hand: blurry = sRGB mean of each 7-frame window; score it against every frame
    files = sorted((gopro / "test" / "SEQ").glob("*.png"))
    psnr_id, ssim_id, psnr_or, frame_or = [], [], [], np.zeros(7)
    for w in range(2):
        frames = [load_png(p) for p in files[7 * w : 7 * w + 7]]
        blurry = np.mean(frames, axis=0)
        psnr_id.append(np.mean([psnr_np(blurry, f) for f in frames]))
        ssim_id.append(np.mean([
            structural_similarity(blurry, f, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1.0, channel_axis=-1)
            for f in frames
        ]))  # fmt: skip
        per = np.array([psnr_np(frames[3], f) for f in frames])
        psnr_or.append(per.mean())
        frame_or += per / 2
    assert identity.psnr == pytest.approx(np.mean(psnr_id), abs=1e-3)
    assert identity.ssim == pytest.approx(np.mean(ssim_id), abs=1e-4)
    assert oracle.psnr == pytest.approx(np.mean(psnr_or), abs=1e-3)
    assert oracle.per_frame_psnr == pytest.approx(frame_or.tolist(), abs=1e-3)
    # the oracle's centre frame is exact: the PSNR cap; the others are not
    assert oracle.per_frame_psnr[3] == 100.0
    assert max(oracle.per_frame_psnr[:3] + oracle.per_frame_psnr[4:]) < 40
    # the blur is symmetric in time: frames further from the centre score lower
    assert identity.per_frame_psnr[0] < identity.per_frame_psnr[2] < identity.per_frame_psnr[3]
    assert math.isnan(identity.seconds) and math.isnan(identity.epe)


def test_gopro_epe_of_static_rows_is_the_true_motion(gopro):
    rows = evaluate({}, iter_samples(f"gopro:{gopro}"), protocol=PAPER, progress=False)
    # both references are static (frame 1 == frame 7): EPE = the true 1 -> 7 motion, 6 px
    for r in rows:
        assert 4.5 < r.epe < 7.0, r
    assert rows[0].epe == pytest.approx(rows[1].epe, abs=0.05)


def test_gopro_linear_blur_changes_the_identity_row(gopro):
    srgb = evaluate({}, iter_samples(str(gopro), blur="srgb"), compute_epe=False, progress=False)
    linear = evaluate(
        {}, iter_samples(str(gopro), blur="linear"), compute_epe=False, progress=False
    )
    assert linear[0].psnr != pytest.approx(srgb[0].psnr, abs=1e-3)
    assert linear[1].psnr == pytest.approx(srgb[1].psnr, abs=1e-9)  # same true frames


def test_limit_reads_no_extra_sample():
    """With ``limit=N`` the runner stops after N samples without pulling sample N + 1
    (which would read / render it for nothing, or raise on a broken one)."""
    g = torch.Generator().manual_seed(0)

    def samples():
        for i in range(2):
            frames = torch.rand(7, 3, 16, 16, generator=g)
            yield f"s{i}", frames.mean(0), frames
        raise AssertionError("a third sample was requested")

    rows = evaluate({}, samples(), limit=2, compute_epe=False, progress=False)
    assert rows[0].n == 2
    with pytest.raises(ConfigError):
        evaluate({}, samples(), limit=0, compute_epe=False, progress=False)


# ----------------------------------------------------------------------------- cases folder
def test_cases_folder_identity_matches_hand_computation(cases):
    samples = list(iter_samples(str(cases)))  # auto-detected: a folder of case folders
    assert [s[0] for s in samples] == ["case_a", "case_b"]
    assert samples[0][1].shape == (3, 40, 48) and samples[0][2].shape == (7, 3, 40, 48)
    rows = evaluate({}, iter(samples), protocol=STRICT, compute_epe=False, progress=False)
    hand = []
    for name in ("case_a", "case_b"):
        blurry = load_png(cases / name / "blurry.png")
        hand.append(
            np.mean([psnr_np(blurry, load_png(cases / name / f"f{i}.png")) for i in range(7)])
        )
    assert rows[0].psnr == pytest.approx(np.mean(hand), abs=1e-3)
    assert rows[1].per_frame_psnr[3] == 100.0


def test_cases_folder_errors(cases):
    (cases / "case_b" / "f6.png").unlink()
    with pytest.raises(
        DataError, match=r"expected one blurry.* and 7 frame images \(as in case_a\), found 1 and 6"
    ):
        list(iter_samples(f"cases:{cases}"))
    save_png(texture(20, 20), cases / "case_b" / "f6.png")
    with pytest.raises(DataError, match="of one size"):
        list(iter_samples(f"cases:{cases}"))


# ----------------------------------------------------------------------------- photos
@pytest.fixture
def photos(tmp_path) -> Path:
    for k in range(2):
        save_png(texture(96, 120, seed=20 + k), tmp_path / "photos" / f"p{k}.png")
    return tmp_path / "photos"


def test_photos_limit_and_seed(photos, tmp_path, capsys):
    out_json = tmp_path / "p.json"
    args = [
        "eval",
        "--data",
        f"photos:{photos}",
        "--size",
        "48",
        "--limit",
        "3",
        "--no-epe",
        "-q",
        "--json",
    ]
    assert cli.main([*args, str(out_json), "--model", "default"]) == 0
    first = strict_json(out_json)
    assert [r["n"] for r in first["rows"]] == [3, 3, 3]
    assert first["limit"] == 3
    assert cli.main([*args, str(out_json), "--model", "default"]) == 0
    assert _same_scores(strict_json(out_json), first)  # same seed: same samples, same scores
    assert cli.main([*args, str(out_json), "--model", "default", "--seed", "1"]) == 0
    assert strict_json(out_json)["rows"][0]["psnr"] != pytest.approx(
        first["rows"][0]["psnr"], abs=1e-6
    )


def _same_scores(a: dict, b: dict) -> bool:
    keys = ("psnr", "ssim", "n")
    return all(ra[k] == pytest.approx(rb[k]) for ra, rb in zip(a["rows"], b["rows"]) for k in keys)


def test_photos_are_deterministic(photos):
    a = list(iter_samples(f"photos:{photos}", size=48, count=2, seed=3))
    b = list(iter_samples(f"photos:{photos}", size=48, count=2, seed=3))
    assert len(a) == 2 and a[0][1].shape == (3, 48, 48) and a[0][2].shape == (7, 3, 48, 48)
    assert all(torch.equal(x[1], y[1]) and torch.equal(x[2], y[2]) for x, y in zip(a, b))


# ----------------------------------------------------------------------------- validation set
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}")
@pytest.mark.slow
def test_validation_set_real_subset(tmp_path, capsys):
    from blurvid.data import validation_set

    real = validation_set(SHARED_DATA).subset("real")
    assert len(real) == 16 and real.blurry.shape[-2:] == (128, 128)
    hand = []
    for i in range(2):
        b, f = real.blurry[i].double().numpy(), real.frames[i].double().numpy()
        hand.append(np.mean([psnr_np(b, f[k]) for k in range(7)]))
    out_json = tmp_path / "val.json"
    rc = cli.main(
        [
            "eval",
            "--data",
            f"val:{SHARED_DATA}",
            "--subset",
            "real",
            "--limit",
            "2",
            "--no-epe",
            "--protocol",
            "strict",
            "-q",
            "--model",
            "default",
            "--json",
            str(out_json),
        ]
    )
    assert rc == 0
    payload = strict_json(out_json)
    assert payload["subset"] == "real" and payload["rows"][0]["n"] == 2
    assert (
        payload["data_kind"] == "val" and payload["protocol"]["blur"] is None
    )  # the set's own blur
    assert payload["rows"][0]["psnr"] == pytest.approx(np.mean(hand), abs=1e-3)
    assert payload["rows"][1]["per_frame_psnr"][3] == 100.0
    out = capsys.readouterr().out
    assert "identity (blurry x7)" in table_rows(out)
    # centre column: the middle frame alone ("exact" for the oracle); outer-6: the others
    for row in payload["rows"]:
        per = row["per_frame_psnr"]
        assert row["centre_psnr"] == pytest.approx(per[3], abs=1e-9)
        assert row["outer_psnr"] == pytest.approx(np.mean(per[:3] + per[4:]), abs=1e-9)
    cols = centre_columns(out)
    assert cols["oracle-static (true centre x7)"][0] == "exact"
    ident = payload["rows"][0]
    assert cols["identity (blurry x7)"] == [
        f"{ident['centre_psnr']:.2f}",
        f"{ident['outer_psnr']:.2f}",
    ]
    # the fair reading: the oracle's outer frames score far below its capped 7-frame mean
    oracle = payload["rows"][1]
    assert oracle["outer_psnr"] < oracle["psnr"] - 5


def test_data_kinds_are_detected(gopro, cases, photos, tmp_path):
    from blurvid.evaluate import resolve_data

    assert resolve_data(str(gopro)) == ("gopro", gopro)
    assert resolve_data(str(cases)) == ("cases", cases)
    assert resolve_data(str(photos)) == ("photos", photos)
    assert resolve_data(f"val:{tmp_path}") == ("val", tmp_path)
    odd = tmp_path / "a:b"  # a colon in a path is not a kind
    odd.mkdir()
    assert resolve_data(str(odd)) == ("photos", odd)
    with pytest.raises(DataError, match="does not exist"):
        resolve_data(f"gopro:{tmp_path / 'missing'}")


def test_subset_needs_val_data(gopro):
    with pytest.raises(ConfigError, match="only with val:DIR"):
        next(iter_samples(str(gopro), subset="real"))


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def two_models(tmp_path, make_model, perturbed):
    """Two different tiny models saved with ``save_pretrained``; returns (folders, models)."""
    models = [perturbed(make_model(seed=s), seed=s + 1, std=0.05) for s in (0, 1)]
    folders = []
    for k, m in enumerate(models):
        folders.append(tmp_path / f"stage{k + 1}")
        m.save_pretrained(folders[-1])
    return folders, models


def test_cli_table_json_several_models(gopro, two_models, tmp_path, capsys):
    (f1, f2), (m1, _) = two_models
    out_json = tmp_path / "out" / "eval.json"
    rc = cli.main(
        [
            "eval",
            "--data",
            str(gopro),
            "--model",
            f"B={f1}",
            "--model",
            f"BG={f2}",
            "--json",
            str(out_json),
            "-q",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert (
        "| Method | PSNR (dB) | centre PSNR | outer-6 PSNR | SSIM | EPE (px) | re-blur PSNR (dB) | motion | s/image |"
        in out
    )
    assert "Protocol: all 7 frames, best order, border 0, flow dis; 2 samples." in out
    rows = table_rows(out)
    assert list(rows) == ["identity (blurry x7)", "oracle-static (true centre x7)", "B", "BG"]
    assert rows["identity (blurry x7)"][5] == "-" and float(rows["B"][5]) > 0  # s/image
    # the identity row re-blurs exactly (capped PSNR) and has no motion; G's mean is the input
    assert rows["identity (blurry x7)"][3:5] == ["100.00", "0.00"]
    assert float(rows["B"][3]) > 40 and float(rows["B"][4]) > 0
    assert all(float(v[2]) >= 0 for v in rows.values())  # EPE computed

    payload = strict_json(out_json)
    assert payload["protocol"]["name"] == "all 7 frames, best order, border 0, flow dis"
    assert payload["protocol"]["order"] == "best" and payload["protocol"]["blur"] == "srgb"
    assert payload["flow_estimator"] == "dis"
    names = [r["name"] for r in payload["rows"]]
    assert names == ["identity (blurry x7)", "oracle-static (true centre x7)", "B", "BG"]
    assert payload["rows"][0]["seconds"] is None and payload["rows"][2]["seconds"] > 0
    assert payload["rows"][2]["psnr"] != pytest.approx(payload["rows"][3]["psnr"], abs=1e-3)
    assert payload["models"]["B"]["source"] == str(f1)
    # the CLI row of the saved model = the in-memory model through the Python API
    api = evaluate({"B": m1}, iter_samples(str(gopro)), compute_epe=False, progress=False)
    assert payload["rows"][2]["psnr"] == pytest.approx(api[2].psnr, abs=1e-4)
    assert payload["rows"][2]["ssim"] == pytest.approx(api[2].ssim, abs=1e-5)
    assert f"{payload['rows'][2]['psnr']:.2f}" == rows["B"][0]


def test_cli_protocols_and_no_epe(gopro, tmp_path, capsys, two_models):
    (f1, _), _ = two_models
    out_json = tmp_path / "e.json"
    scores = {}
    for proto in ("paper", "strict", "center"):
        assert (
            cli.main(
                [
                    "eval",
                    "--data",
                    str(gopro),
                    "--model",
                    str(f1),
                    "--protocol",
                    proto,
                    "--no-epe",
                    "--json",
                    str(out_json),
                    "-q",
                ]
            )
            == 0
        )
        payload = strict_json(out_json)
        assert payload["flow_estimator"] is None
        assert all(r["epe"] is None for r in payload["rows"])
        scores[proto] = [r["psnr"] for r in payload["rows"]]
        out = capsys.readouterr().out
        assert all(v[2] == "-" for v in table_rows(out).values())
    assert scores["center"][1] == 100.0  # the oracle's centre frame is exact
    assert scores["paper"][0] == pytest.approx(scores["strict"][0])  # identity is order-free
    assert scores["paper"][2] >= scores["strict"][2] - 1e-9  # best order never scores lower


def test_cli_default_model_label_and_border(gopro, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["eval", "--data", str(gopro), "--no-epe", "--border", "8", "--json", "", "-q"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "default" in table_rows(out)  # no --model: the bundled (trained) one
    assert "border 8" in out
    assert not list(tmp_path.glob("*.json"))  # --json '' writes nothing
    assert cli.main(["eval", "--data", str(gopro), "--no-epe", "-q"]) == 0
    assert strict_json(tmp_path / "blurvid_eval.json")["rows"][2]["name"] == "default"


def test_cli_labels_placeholder_weights(gopro, tmp_path, capsys, placeholder_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)  # its one-line form: test_cli
        rc = cli.main(
            ["eval", "--data", str(gopro), "--no-epe", "--json", "", "-q",
             "--model", f"dev={placeholder_folder}"]
        )  # fmt: skip
    assert rc == 0
    assert "dev (untrained placeholder)" in table_rows(capsys.readouterr().out)


def test_cli_save_frames(gopro, two_models, tmp_path):
    (f1, f2), _ = two_models
    out = tmp_path / "frames"
    rc = cli.main(
        [
            "eval",
            "--data",
            str(gopro),
            "--model",
            f"B={f1}",
            "--model",
            f"stage/2={f2}",
            "--no-epe",
            "--save-frames",
            str(out),
            "--json",
            "",
            "-q",
        ]
    )
    assert rc == 0
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert len(pngs) == 2 * 2 * 8  # 2 models x 2 samples x (blurry + 7 frames)
    assert "B/gopro0000/frame_000.png" in pngs and "stage_2/gopro0001/frame_007.png" in pngs
    first = load_png(out / "B" / "gopro0000" / "frame_000.png")
    files = sorted((gopro / "test" / "SEQ").glob("*.png"))
    blurry = np.mean([load_png(p) for p in files[:7]], axis=0)
    assert np.abs(first - blurry).max() <= 1 / 255 + 1e-9  # frame_000 is the blurry input
    assert Image.open(out / "B" / "gopro0000" / "frame_003.png").size == (SIZE, SIZE)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "/nonexistent/gopro"], "does not exist"),
        (["--data", "gopro:/nonexistent/gopro"], "does not exist"),
        (["--data", "{gopro}", "--limit", "0"], "--limit must be >= 1"),
        (["--data", "{gopro}", "--model", "a={m}", "--model", "a={m}"], "used twice"),
        (["--data", "{gopro}", "--subset", "real"], "only with val:DIR"),
        (["--data", "val:{gopro}", "--split", "/nonexistent/split.json"], "data split"),
        (["--data", "{gopro}", "--model", "/nonexistent/model"], "nonexistent"),
    ],
)
def test_cli_errors_are_one_line(argv, message, gopro, two_models, tmp_path, capsys):
    (f1, _), _ = two_models
    argv = [a.format(gopro=gopro, m=f1) for a in argv]
    rc = cli.main(["eval", *argv, "--json", str(tmp_path / "never.json"), "-q"])
    assert rc == 1
    captured = capsys.readouterr()
    assert message in one_error_line(captured.err)
    assert not (tmp_path / "never.json").exists()
    assert "| Method |" not in captured.out


def test_device_argument(gopro, two_models, tmp_path, capsys):
    (f1, _), _ = two_models
    outs = []
    for extra in ([], ["--device", "cpu"]):
        assert (
            cli.main(
                [
                    "eval",
                    "--data",
                    str(gopro),
                    "--model",
                    str(f1),
                    "--no-epe",
                    "-q",
                    "--json",
                    "",
                    *extra,
                ]
            )
            == 0
        )
        outs.append({k: v[:2] for k, v in table_rows(capsys.readouterr().out).items()})
    assert outs[0] == outs[1]
    if not torch.cuda.is_available():
        assert (
            cli.main(["eval", "--data", str(gopro), "--model", str(f1), "-q", "--device", "cuda"])
            == 1
        )
        assert "CUDA is not available" in one_error_line(capsys.readouterr().err)


def test_model_labelled_like_a_reference_row_keeps_both(gopro, two_models, tmp_path, capsys):
    (f1, _), _ = two_models
    out_json = tmp_path / "e.json"
    rc = cli.main(
        [
            "eval",
            "--data",
            str(gopro),
            "--model",
            f"oracle={f1}",
            "--model",
            f"identity={f1}",
            "--no-epe",
            "--json",
            str(out_json),
            "-q",
        ]
    )
    assert rc == 0
    rows = strict_json(out_json)["rows"]
    assert [r["name"] for r in rows] == [
        "identity (blurry x7)",
        "oracle-static (true centre x7)",
        "oracle",
        "identity",
    ]
    assert rows[1]["per_frame_psnr"][3] == 100.0  # the reference row is not the model's
    assert rows[2]["psnr"] == pytest.approx(rows[3]["psnr"])  # same model twice
    assert rows[2]["per_frame_psnr"][3] < 100.0


# ----------------------------------------------------------------------------- protocol
def test_perfect_model_beats_oracle_and_reversed_is_found(gopro, oracle_models):
    spec = str(gopro)
    models = {"perfect": Oracle(spec), "reversed": Oracle(spec, reverse=True)}
    identity, oracle, perfect, rev = evaluate(
        models, iter_samples(spec), protocol=PAPER, progress=False
    )
    assert perfect.psnr == 100.0 and perfect.ssim == pytest.approx(1.0) and perfect.epe < 1e-3
    assert perfect.psnr > oracle.psnr > identity.psnr
    assert perfect.ssim > oracle.ssim and perfect.epe < oracle.epe
    assert perfect.reversed_fraction == 0.0
    # best order: the reversed perfect sequence is recognised and scored as perfect
    assert rev.psnr == 100.0 and rev.reversed_fraction == 1.0 and rev.epe < 1e-3
    assert models["perfect"].calls == 2 + 1  # one untimed warm-up run, then once per sample

    _, oracle_s, perfect_s, rev_s = evaluate(
        models, iter_samples(spec), protocol=STRICT, compute_epe=False, progress=False
    )
    assert perfect_s.psnr == 100.0 and rev_s.reversed_fraction == 0.0
    # given order: frame k is compared with frame 6 - k (|6 - 2k| px apart): below the oracle
    assert rev_s.psnr < oracle_s.psnr and rev_s.per_frame_psnr[3] == 100.0

    _, oracle_c, _, rev_c = evaluate(
        models, iter_samples(spec), protocol=CENTER, compute_epe=False, progress=False
    )
    assert oracle_c.psnr == 100.0 and rev_c.psnr == 100.0  # the centre frame does not see the order


def test_format_table_shape():
    rows = [
        EvalRow("identity (blurry x7)", 24.5, 0.78, float("nan"), n=3),
        EvalRow(
            "B",
            28.14,
            0.905,
            13.62,
            0.25,
            n=3,
            reblur_psnr=51.234,
            motion_ratio=0.456,
            centre_psnr=29.004,
            outer_psnr=27.996,
        ),
        EvalRow("oracle", 33.0, 0.9, float("nan"), n=3, centre_psnr=100.0, outer_psnr=22.5),
    ]
    text = format_table(rows, PAPER, compute_epe=True)
    lines = text.splitlines()
    assert (
        lines[0]
        == "| Method | PSNR (dB) | centre PSNR | outer-6 PSNR | SSIM | EPE (px) | re-blur PSNR (dB) | motion | s/image |"
    )
    assert lines[1] == "|---|---|---|---|---|---|---|---|---|"
    assert lines[3] == "| B | 28.14 | 29.00 | 28.00 | 0.905 | 13.62 | 51.23 | 0.46 | 0.250 |"
    assert lines[2] == "| identity (blurry x7) | 24.50 | - | - | 0.780 | - | - | - | - |"
    assert lines[4] == "| oracle | 33.00 | exact | 22.50 | 0.900 | - | - | - | - |"
    assert lines[2].endswith("| - |")
    assert lines[-1] == "Protocol: all 7 frames, best order, border 0, flow dis; 3 samples."
    assert "| - |" in format_table(rows, PAPER, compute_epe=False).splitlines()[3]


def test_row_reblur_and_motion_known_answers():
    """Perfect frames: motion ratio exactly 1; re-blur PSNR is that of the true frames' mean
    against the input (here the input IS that mean, so the 100 dB cap); a static prediction
    has motion 0."""
    from blurvid.evaluate import _Acc
    from blurvid.metrics import sequence_metrics

    g = torch.Generator().manual_seed(0)
    true = torch.rand(2, 7, 3, 16, 16, generator=g)
    blurry = true.mean(1)
    acc, static = _Acc("perfect"), _Acc("static")
    acc.add(sequence_metrics(true, true, compute_epe=False), pred=true, true=true, blurry=blurry)
    still = blurry.unsqueeze(1).expand_as(true).contiguous()
    static.add(
        sequence_metrics(still, true, compute_epe=False), pred=still, true=true, blurry=blurry
    )
    row, srow = acc.row(False), static.row(False)
    assert row.motion_ratio == pytest.approx(1.0) and row.reblur_psnr == 100.0
    assert srow.motion_ratio == 0.0 and srow.reblur_psnr == 100.0
    shifted = (blurry + 0.1).clamp(0, 1)  # an input the frames do not average to
    off = _Acc("off")
    off.add(sequence_metrics(true, true, compute_epe=False), pred=true, true=true, blurry=shifted)
    assert 15 < off.row(False).reblur_psnr < 25  # ~0.1 error: about 20 dB


# ----------------------------------------------------------------------------- frame count
@pytest.fixture
def five_frame_model(tmp_path, make_model, perturbed) -> Path:
    folder = tmp_path / "g5"
    perturbed(make_model(num_frames=5), std=0.05).save_pretrained(folder)
    return folder


def test_cli_eval_of_a_five_frame_model_on_five_frame_data(tmp_path, five_frame_model, capsys):
    """The frame count comes from the model and the data, never a hard-coded 7."""
    data = make_cases(tmp_path / "cases5", num_frames=5)
    out_json = tmp_path / "e.json"
    argv = ["eval", "--data", f"cases:{data}", "--model", f"G5={five_frame_model}"]
    assert cli.main([*argv, "--no-epe", "--json", str(out_json), "-q"]) == 0
    out = capsys.readouterr().out
    assert "| centre PSNR | outer-4 PSNR |" in out
    assert "Protocol: all 5 frames, best order, border 0, flow dis; 2 samples." in out
    rows = table_rows(out)
    assert list(rows) == ["identity (blurry x5)", "oracle-static (true centre x5)", "G5"]
    assert float(rows["G5"][3]) > 40  # G's mean of 5 frames re-blurs to the input
    payload = strict_json(out_json)
    assert payload["protocol"]["name"] == "all 5 frames, best order, border 0, flow dis"
    oracle = payload["rows"][1]
    assert len(oracle["per_frame_psnr"]) == 5 and oracle["per_frame_psnr"][2] == 100.0
    assert oracle["centre_psnr"] == 100.0  # the centre of 5 frames is frame 2


def test_a_model_and_data_with_different_frame_counts_is_a_data_error(
    tmp_path, five_frame_model, cases, capsys
):
    rc = cli.main(["eval", "--data", f"cases:{cases}", "--model", str(five_frame_model),
                   "--no-epe", "--json", "", "-q"])  # fmt: skip
    assert rc == 1
    message = one_error_line(capsys.readouterr().err)
    assert "makes 5 frames per image but sample 'case_a' has 7" in message
    from blurvid.model import Generator

    calls = []

    class Spy(Generator):
        def forward(self, x):
            calls.append(x.shape)
            return super().forward(x)

    spy = Spy(Generator.from_pretrained(five_frame_model).config)
    with pytest.raises(DataError, match="evaluate it on data with 5 frames per sample"):
        evaluate({"g": spy.eval()}, iter_samples(str(cases)), compute_epe=False, progress=False)
    assert calls == []  # refused before the model ran


def test_samples_with_different_frame_counts_are_a_data_error():
    def samples():
        for i, n in enumerate((7, 5)):
            frames = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(i))
            yield f"s{i}", frames.mean(0), frames

    with pytest.raises(DataError, match="sample 's1' has 5 frames, the samples before it 7"):
        evaluate({}, samples(), compute_epe=False, progress=False)


def test_cases_folders_of_five_frames(tmp_path):
    data = make_cases(tmp_path / "c", num_frames=5)
    samples = list(iter_samples(str(data)))
    assert [s[2].shape for s in samples] == [(5, 3, 40, 48)] * 2
    (data / "case_b" / "f4.png").unlink()
    with pytest.raises(DataError, match=r"expected one blurry.* and 5 frame images \(as in case_a"):
        list(iter_samples(str(data)))
