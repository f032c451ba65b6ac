"""The project's data, published like its weights: a dataset repository on the Hugging Face Hub
at a pinned revision, every file checked against a sha256 manifest (``blurvid data download``).

The repository holds the layout of the project's data folder (``photos/``, ``video/``,
``frames/``, ``blurry/``, ``README.md``, ``ATTRIBUTION.csv``, the licence texts in
``LICENSES/``) and ``MANIFEST.sha256``
(``sha256sum`` format: ``<hex>  <path>``, one data file a line). This blurvid version pins the
manifest by its own sha256 (:data:`DATA_MANIFEST_SHA256`), and the manifest pins every file:
what lands in the folder is exactly the data the releases were trained and scored on, whatever
the revision resolves to. Files already present and verified are not fetched again, and
``huggingface_hub`` resumes an interrupted file, so running the command again finishes a
download. The ``blurvid train --config`` recipes read the folder as ``--data-root``.
``scripts/publish_data.py`` uploads a verified folder (the maintainers' step, once).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from pathlib import Path, PurePosixPath
from typing import Union

from ..errors import ConfigError, DataError
from ..hub_fetch import fetch

__all__ = [
    "DATA_MANIFEST_SHA256",
    "DATA_REPO_ID",
    "DATA_REVISION",
    "EXTRA_FILES",
    "LICENSE_FILES",
    "default_data_dir",
    "download_data",
    "missing_files",
    "read_manifest",
    "verify_folder",
]

#: The dataset repository on the Hub. **To be published**: it does not exist yet, so
#: ``blurvid data download`` cannot succeed against huggingface.co until it is.
DATA_REPO_ID = "blurvid/blurvid-data"
#: The revision downloaded ("main" until the repository is published; then its commit).
DATA_REVISION = "main"
#: The sha256 of ``MANIFEST.sha256`` this version expects (the project's data folder's).
DATA_MANIFEST_SHA256 = "e024012f048f0383e5b804df2d5c85bef20185d3a7b1e6aa1712f430124e77aa"
MANIFEST_NAME = "MANIFEST.sha256"
#: The licence texts the data's files are redistributed under (``ATTRIBUTION.csv`` names, per
#: file, which one applies): they travel with the data.
LICENSE_FILES = (
    "LICENSES/Apache-2.0_sam2.txt",
    "LICENSES/BSD-3-Clause_RAFT.txt",
    "LICENSES/BSD-3-Clause_scikit-image.txt",
    "LICENSES/BSD-3-Clause_scikit-video.txt",
    "LICENSES/BSD-3-Clause_sporco.txt",
    "LICENSES/CC-BY-3.0.txt",
    "LICENSES/CC-BY-4.0.txt",
    "LICENSES/CC-BY-SA-3.0.txt",
    "LICENSES/CC-BY-SA-4.0.txt",
    "LICENSES/CC0-1.0.txt",
    "LICENSES/GPL-2.0.txt",
    "LICENSES/MIT_NAFNet.txt",
    "LICENSES/MIT_SRN-Deblur.txt",
    "LICENSES/MIT_SelfDeblur.txt",
    "LICENSES/lomiri-wallpapers.copyright",
    "LICENSES/mate-backgrounds.copyright",
    "LICENSES/sporco-data-README.rst",
)
#: Files fetched beside the manifest's (the data's description, per-file licences and the
#: licence texts).
EXTRA_FILES = ("README.md", "ATTRIBUTION.csv", *LICENSE_FILES)

PathLike = Union[str, os.PathLike]
_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")
_OFFLINE_HELP = (
    "copy a complete data folder (one this command filled, or ../shared/data beside a blurvid "
    "checkout) and pass it as DIR"
)


def default_data_dir(checkout: PathLike) -> Path:
    """The data folder the scripts of a blurvid checkout default to (``--data-root``,
    ``--data``): ``CHECKOUT/data``, what ``blurvid data download data/`` fills, when it is
    there; else the copy that CI keeps beside the checkout (``../shared/data``) when that is
    there; else ``CHECKOUT/data`` again, so that a missing folder is reported by that name.
    """
    root = Path(checkout)
    own, ci = root / "data", root.parent / "shared" / "data"
    return ci if not own.is_dir() and ci.is_dir() else own


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(path: PathLike) -> dict[str, str]:
    """``{relative path: sha256}`` from a ``sha256sum``-format manifest; a path that is
    absolute or leaves the folder (``..``) is refused."""
    entries: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the data manifest {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = _LINE.fullmatch(line.strip())
        rel = PurePosixPath(m.group(2)) if m else None
        if m is None or rel is None or rel.is_absolute() or ".." in rel.parts:
            raise DataError(
                f"{path}, line {number}: not '<sha256>  <relative path>' ({line[:80]!r}): the "
                f"manifest is damaged; download it again"
            )
        entries[str(rel)] = m.group(1)
    if not entries:
        raise DataError(f"{path} lists no files: the manifest is damaged; download it again")
    return entries


def verify_folder(folder: PathLike, manifest: dict[str, str]) -> list[str]:
    """The manifest's files that are missing from ``folder`` or differ from their sha256."""
    root = Path(folder)
    return [
        rel
        for rel, digest in manifest.items()
        if not (root / rel).is_file() or sha256_file(root / rel) != digest
    ]


def missing_files(folder: PathLike, manifest: dict[str, str]) -> list[str]:
    """What ``folder`` lacks to be complete: the manifest's files missing or differing from
    their sha256 (:func:`verify_folder`), then the :data:`EXTRA_FILES` missing."""
    root = Path(folder)
    return verify_folder(root, manifest) + [f for f in EXTRA_FILES if not (root / f).is_file()]


def _check_manifest(path: Path, expected: str | None) -> dict[str, str]:
    if expected is not None and sha256_file(path) != expected:
        raise DataError(
            f"{path} is not the manifest this blurvid version pins (sha256 {expected[:12]}...): "
            f"the repository or revision holds other data. Pass the revision of this version's "
            f"data, or upgrade blurvid"
        )
    return read_manifest(path)


def download_data(
    folder: PathLike = "data",
    *,
    repo_id: str = DATA_REPO_ID,
    revision: str | None = DATA_REVISION,
    manifest_sha256: str | None = DATA_MANIFEST_SHA256,
    token: str | bool | None = None,
    progress: bool = True,
) -> Path:
    """Download the project's data into ``folder`` and verify every file.

    Args:
        folder: where the data goes (created); pass it as ``--data-root`` / ``val:DIR``.
        repo_id, revision: the Hub dataset repository and its branch, tag or commit.
        manifest_sha256: the sha256 the manifest must have (None: trust the revision's).
        token: Hub token for a private repository.
        progress: a progress bar over the files.

    Returns:
        ``folder``, every file of the manifest present and verified.

    Raises:
        HubError: offline and the data not complete in ``folder``, the Hub unreachable, an
            unknown repository, revision or file.
        DataError: a manifest other than the pinned one, or a file whose sha256 differs
            after its download (it is deleted: run again).
    """
    from tqdm.auto import tqdm

    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file; pass a folder for the data")
    local_manifest = root / MANIFEST_NAME
    if local_manifest.is_file():  # a folder downloaded before: done when every file verifies
        if not missing_files(root, _check_manifest(local_manifest, manifest_sha256)):
            return root

    def get(name: str) -> Path:
        return fetch(
            repo_id,
            [name],
            repo_type="dataset",
            alternative=_OFFLINE_HELP,
            missing_hint=": the dataset repository is incomplete",
            revision=revision,
            token=token,
            local_dir=root,
        )[name]

    root.mkdir(parents=True, exist_ok=True)
    path = get(MANIFEST_NAME)
    manifest = _check_manifest(path, manifest_sha256)
    todo = missing_files(root, manifest)
    for rel in todo:  # a damaged file is fetched again from scratch
        if rel in manifest:
            (root / rel).unlink(missing_ok=True)
    for rel in tqdm(todo, desc="blurvid data", unit="file", disable=not progress or not todo):
        get(rel)
        if rel in manifest and sha256_file(root / rel) != manifest[rel]:
            (root / rel).unlink()
            raise DataError(
                f"{rel} from {repo_id!r} does not match its sha256 in {MANIFEST_NAME} (deleted): "
                f"the download was damaged or the repository changed. Run the command again"
            )
    return root


# ----------------------------------------------------------------------------- CLI
def _cmd_download(args: argparse.Namespace) -> int:
    folder = download_data(
        args.dir,
        repo_id=args.repo,
        revision=args.revision,
        manifest_sha256=DATA_MANIFEST_SHA256,
        progress=not args.quiet,
    )
    n = len(read_manifest(folder / MANIFEST_NAME))
    print(
        f"{folder}: {n} data files, verified against {MANIFEST_NAME}. Use it as "
        f"`--data-root {folder}` (blurvid train --config recipes/...) or `--data val:{folder}` "
        f"(blurvid eval)"
    )
    return 0


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="get the project's data (photos, videos, frames) from the Hugging Face Hub",
        description="The project's data: photos, videos and frame sequences for training and "
        "the validation set.",
    )
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = actions.add_parser(
        "download",
        help="download the data into DIR and verify it (run again to resume)",
        description="Download the project's data from its Hub dataset repository at a pinned "
        "revision into DIR, every file verified against the sha256 manifest; files already "
        "there and verified are kept, an interrupted download resumes. Offline "
        "(HF_HUB_OFFLINE=1) it only checks a complete DIR.",
    )
    d.add_argument("dir", nargs="?", default="data", help="target folder (default: data)")
    d.add_argument("--repo", default=DATA_REPO_ID, help=f"dataset repo (default: {DATA_REPO_ID})")
    d.add_argument(
        "--revision",
        default=DATA_REVISION,
        help=f"branch, tag or commit (default: {DATA_REVISION})",
    )
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    d.set_defaults(handler=_cmd_download)
