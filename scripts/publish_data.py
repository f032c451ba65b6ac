"""Publish the project's data as the Hub dataset repository that ``blurvid data download``
reads (issue 32): the maintainers' step, run once per data version with a write token.

    python scripts/publish_data.py DATA_DIR --dry-run     # check and list, upload nothing
    HF_TOKEN=... python scripts/publish_data.py DATA_DIR  # create the repo and upload

What it does: reads ``DATA_DIR/MANIFEST.sha256`` and refuses the folder unless the manifest is
the one this blurvid version pins (``blurvid.data.download.DATA_MANIFEST_SHA256``) and every
file of it, the README, ``ATTRIBUTION.csv`` and the licence texts are there and verify; then
creates ``--repo`` (a dataset repository, default ``blurvid/blurvid-data``) if needed, uploads
exactly those files in one commit and prints the commit to pin as
``blurvid.data.download.DATA_REVISION``. Nothing else in the folder (e.g. ``build_data.py``)
is uploaded. Not part of the library; needs network access to the Hub.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from blurvid.data.download import (
    DATA_MANIFEST_SHA256,
    DATA_REPO_ID,
    EXTRA_FILES,
    MANIFEST_NAME,
    default_data_dir,
    missing_files,
    read_manifest,
    sha256_file,
)
from blurvid.errors import DataError

REPO = Path(__file__).resolve().parent.parent


def files_to_publish(folder: Path, manifest_sha256: str | None = DATA_MANIFEST_SHA256) -> list[str]:
    """The files the dataset repository holds, relative to ``folder``, after checking them.

    Raises:
        DataError: no manifest, another manifest than the pinned one, or files missing or
            differing from their sha256.
    """
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"{path} not found: pass the project's data folder")
    if manifest_sha256 is not None and sha256_file(path) != manifest_sha256:
        raise DataError(
            f"{path} is not the manifest this blurvid version pins; publish the data of this "
            f"version, or update DATA_MANIFEST_SHA256 in blurvid/data/download.py first"
        )
    manifest = read_manifest(path)
    bad = missing_files(folder, manifest)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise DataError(f"{folder}: missing or not matching the manifest: {shown}")
    return [MANIFEST_NAME, *EXTRA_FILES, *manifest]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path, nargs="?", default=default_data_dir(REPO))
    ap.add_argument("--repo", default=DATA_REPO_ID, help="the dataset repository to create")
    ap.add_argument("--dry-run", action="store_true", help="check and list, upload nothing")
    args = ap.parse_args(argv)
    try:
        files = files_to_publish(args.folder)
    except DataError as exc:
        print(f"publish_data: {exc}", file=sys.stderr)
        return 2
    size = sum((args.folder / f).stat().st_size for f in files)
    print(f"{args.folder}: {len(files)} files, {size / 2**20:.1f} MiB, verified")
    if args.dry_run:
        print("\n".join(files))
        return 0
    from huggingface_hub import HfApi

    api = HfApi(token=os.environ.get("HF_TOKEN"))
    api.create_repo(args.repo, repo_type="dataset", exist_ok=True)
    info = api.upload_folder(
        folder_path=str(args.folder),
        repo_id=args.repo,
        repo_type="dataset",
        allow_patterns=files,
        commit_message="blurvid data (MANIFEST.sha256 pinned by blurvid)",
    )
    print(f"published {args.repo} at commit {info.oid}: set DATA_REVISION = {info.oid!r} in "
          f"src/blurvid/data/download.py")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
