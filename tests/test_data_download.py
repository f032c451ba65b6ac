"""``blurvid data download`` (issue 32) against the local Hub server of the weights' tests
(tests/fakehub.py), with ``../shared/data`` as the mirror it serves: a handful of its files
(~250 KB) under a manifest of those files, not all 32 MiB."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from fakehub import closed_port_url, point_hub_at, serve_fake_hub

from blurvid import DataError, HubError, cli
from blurvid.data import download as dl

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = (
    "photos/skimage_chelsea.jpg",
    "photos/skimage_brick.jpg",
    "blurry/nafnet_blurry.jpg",
    "frames/sam2_bedroom/00051.jpg",
)
REPO = "blurvid/test-data"

pytestmark = pytest.mark.skipif(
    not (MIRROR / "MANIFEST.sha256").is_file(), reason="needs ../shared/data (the mirror)"
)


def mirror_files() -> dict[str, bytes]:
    """The served repo: FILES with their lines of the mirror's manifest, plus the extras."""
    lines = {
        line.split()[1]: line
        for line in (MIRROR / "MANIFEST.sha256").read_text().splitlines()
        if line.strip()
    }
    manifest = "".join(lines[f] + "\n" for f in FILES)
    files = {f: (MIRROR / f).read_bytes() for f in (*FILES, *dl.EXTRA_FILES)}
    return {**files, dl.MANIFEST_NAME: manifest.encode()}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = serve_fake_hub(monkeypatch, tmp_path)
    files = mirror_files()
    server.add_dataset(REPO, files)
    server.files = files  # type: ignore[attr-defined]
    yield server
    server.stop()


def download(folder: Path, files: dict[str, bytes], **kwargs) -> Path:
    pinned = sha(files[dl.MANIFEST_NAME])
    return dl.download_data(folder, repo_id=REPO, manifest_sha256=pinned, progress=False, **kwargs)


def resolves(hub) -> list[tuple[str, str, str]]:
    """The requests for files (huggingface_hub also asks ``/api/...`` for its own use)."""
    return [r for r in hub.requests if "/resolve/" in r[1]]


def gets(hub, since: int = 0) -> list[str]:
    """The files requested with GET (at any revision), from request ``since`` on."""
    return [
        p.split("/resolve/", 1)[1].split("/", 1)[1]
        for m, p, _ in resolves(hub)[since:]
        if m == "GET"
    ]


def test_download_verifies_every_file_and_keeps_the_layout(hub, tmp_path):
    folder = download(tmp_path / "data", hub.files)
    for rel in (*FILES, *dl.EXTRA_FILES):
        assert (folder / rel).read_bytes() == (MIRROR / rel).read_bytes(), rel
    assert dl.verify_folder(folder, dl.read_manifest(folder / dl.MANIFEST_NAME)) == []
    assert sorted(gets(hub)) == sorted([*FILES, *dl.EXTRA_FILES, dl.MANIFEST_NAME])
    assert all("/datasets/blurvid/test-data/" in p for _, p, _ in resolves(hub))
    assert all("blurvid/" in ua for _, _, ua in resolves(hub))  # the library's user agent


def test_a_second_run_fetches_nothing_and_a_damaged_file_is_fetched_again(hub, tmp_path):
    folder = download(tmp_path / "data", hub.files)
    n = len(resolves(hub))
    download(folder, hub.files)
    assert len(resolves(hub)) == n  # complete and verified: no request at all
    (folder / FILES[0]).write_bytes(b"damaged")  # e.g. an edit or a disk error
    (folder / FILES[1]).unlink()  # e.g. an interrupted first run
    download(folder, hub.files)
    assert sorted(gets(hub, n)) == sorted([FILES[0], FILES[1]])  # the manifest: HEAD only
    assert (folder / FILES[0]).read_bytes() == (MIRROR / FILES[0]).read_bytes()


def test_a_file_that_does_not_match_the_manifest_is_refused_and_deleted(hub, tmp_path):
    hub.repos[f"datasets/{REPO}"][FILES[2]] = b"not the photo"
    with pytest.raises(DataError, match=rf"{FILES[2]} .* does not match its sha256.*again"):
        download(tmp_path / "data", hub.files)
    assert not (tmp_path / "data" / FILES[2]).exists()


def test_a_manifest_other_than_the_pinned_one_is_refused(hub, tmp_path):
    with pytest.raises(DataError, match="not the manifest this blurvid version pins"):
        dl.download_data(tmp_path / "data", repo_id=REPO, manifest_sha256="0" * 64, progress=False)
    assert not (tmp_path / "data" / FILES[0]).exists()  # nothing fetched after the manifest


def test_offline_without_the_data_is_a_hub_error_that_says_what_to_do(hub, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match=r"offline .*copy a complete data folder.*go online"):
        download(tmp_path / "data", hub.files)
    assert resolves(hub) == []


def test_offline_with_a_complete_folder_checks_it_only(hub, tmp_path, monkeypatch):
    from huggingface_hub import constants

    folder = download(tmp_path / "data", hub.files)
    n = len(resolves(hub))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert download(folder, hub.files) == folder
    (folder / FILES[3]).unlink()
    with pytest.raises(HubError, match="offline"):
        download(folder, hub.files)
    assert len(resolves(hub)) == n


def test_no_server_fails_fast_with_a_hub_error(monkeypatch, tmp_path):
    from huggingface_hub import constants

    point_hub_at(monkeypatch, closed_port_url())
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    t0 = time.monotonic()
    with pytest.raises(HubError, match="could not reach the Hugging Face Hub"):
        dl.download_data(tmp_path / "data", repo_id=REPO, progress=False)
    assert time.monotonic() - t0 < 5


def test_an_unknown_repository_is_a_hub_error(hub, tmp_path):
    with pytest.raises(HubError, match="does not exist"):
        dl.download_data(tmp_path / "data", repo_id="nobody/nothing", progress=False)


@pytest.mark.parametrize(
    "text", ["abc  photos/x.jpg\n", f"{'a' * 64}  ../escape.jpg\n", f"{'a' * 64}  /etc/x\n", "\n"]
)
def test_a_damaged_manifest_is_a_data_error(tmp_path, text):
    path = tmp_path / "MANIFEST.sha256"
    path.write_text(text)
    with pytest.raises(DataError, match="manifest is damaged"):
        dl.read_manifest(path)


def test_the_pinned_manifest_is_the_mirrors():
    """The pin in the package is the manifest of the project's data folder."""
    assert sha((MIRROR / "MANIFEST.sha256").read_bytes()) == dl.DATA_MANIFEST_SHA256


def test_the_cli(hub, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dl, "DATA_MANIFEST_SHA256", sha(hub.files[dl.MANIFEST_NAME]))
    folder = tmp_path / "d"
    assert cli.main(["data", "download", str(folder), "--repo", REPO, "-q"]) == 0
    out = capsys.readouterr().out
    assert f"{len(FILES)} data files, verified" in out and f"--data-root {folder}" in out
    assert (folder / FILES[0]).is_file()
    monkeypatch.setattr(dl, "DATA_MANIFEST_SHA256", "1" * 64)
    assert cli.main(["data", "download", str(folder), "--repo", REPO, "-q"]) != 0
    assert "pins" in capsys.readouterr().err


def test_the_licence_texts_travel_with_the_data():
    """Every licence text of the mirror is among the files a download fetches (the data's
    files are redistributed under them), and nothing named there is missing."""
    names = sorted(f"LICENSES/{p.name}" for p in (MIRROR / "LICENSES").iterdir())
    assert sorted(dl.LICENSE_FILES) == names
    assert set(dl.LICENSE_FILES) <= set(dl.EXTRA_FILES)


def _publish_script():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "publish_data.py"
    spec = importlib.util.spec_from_file_location("publish_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publish_checks_the_folder_and_lists_exactly_the_pinned_files(tmp_path, capsys):
    """``scripts/publish_data.py --dry-run``: the mirror verifies and the listed files are the
    manifest's, the manifest and the extras; a folder with a changed file or another manifest
    is refused with what is wrong (and nothing is uploaded)."""
    pub = _publish_script()
    assert pub.main([str(MIRROR), "--dry-run"]) == 0
    listed = capsys.readouterr().out.splitlines()[1:]
    manifest = dl.read_manifest(MIRROR / dl.MANIFEST_NAME)
    assert sorted(listed) == sorted([dl.MANIFEST_NAME, *dl.EXTRA_FILES, *manifest])
    assert "build_data.py" not in listed
    # a copy with one file changed: refused, naming the file
    copy = tmp_path / "data"
    for rel in [dl.MANIFEST_NAME, *dl.EXTRA_FILES, *manifest]:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((MIRROR / rel).read_bytes())
    assert pub.files_to_publish(copy) == [dl.MANIFEST_NAME, *dl.EXTRA_FILES, *manifest]
    victim = FILES[0]
    (copy / victim).write_bytes(b"not the photo")
    with pytest.raises(DataError, match=victim):
        pub.files_to_publish(copy)
    assert pub.main([str(copy), "--dry-run"]) == 2
    assert victim in capsys.readouterr().err
    # another manifest than the pinned one
    (copy / dl.MANIFEST_NAME).write_text("0" * 64 + "  photos/x.jpg\n")
    with pytest.raises(DataError, match="not the manifest this blurvid version pins"):
        pub.files_to_publish(copy)
