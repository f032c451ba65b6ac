"""Load a model from the Hugging Face Hub (or a mirror) and extract frames with it.

    python examples/load_from_hub.py user/repo                    # latest commit on main
    python examples/load_from_hub.py user/repo --revision v1.0    # a tag, branch or commit
    python examples/load_from_hub.py --smoke -o /tmp/smoke        # a local stand-in Hub, offline

A blurvid model on the Hub is a repo with the two files that ``save_pretrained`` writes:
``config.json`` and ``model.safetensors`` (publish one with ``model.push_to_hub("user/repo")``
or by uploading that folder). Only safetensors are read; pickle files are refused.
``blurvid.load_model("user/repo", revision=...)`` downloads them with ``huggingface_hub``:

* **cache**: files land in ``~/.cache/huggingface/hub`` (``HF_HOME`` or ``HF_HUB_CACHE``
  move it; ``cache_dir=`` / ``--cache-dir`` overrides it per call) and are not downloaded
  again. ``model.metadata["revision"]`` is the exact commit that was loaded: pin it with
  ``revision=`` for reproducible results.
* **offline**: with ``HF_HUB_OFFLINE=1`` (or ``local_files_only=True``) nothing is
  requested and the cache is used; a repo that is not cached is a clear ``HubError``. If the
  Hub cannot be reached, blurvid falls back on the cache at once instead of retrying.
* **mirrors**: ``HF_ENDPOINT=https://my-mirror.example`` sends every request to a mirror or
  a self-hosted Hub. Set it in the environment *before* Python starts (huggingface_hub reads
  it at import time).
* **private repos**: ``token=`` (``--token``), ``HF_TOKEN`` or ``huggingface-cli login``.

``--smoke`` needs no network: it publishes a copy of the bundled weights on a tiny HTTP
server on 127.0.0.1 that answers like the Hub's ``/resolve/`` endpoint, points
huggingface_hub at it in-process, and loads from there (then once more from the cache).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import re
import tempfile
import threading
from pathlib import Path

from PIL import Image

import blurvid
from blurvid.io import save_pngs

DEFAULT_IMAGE = Path(__file__).resolve().parent / "images" / "clock_motion.png"
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"
SMOKE_REPO = "blurvid-examples/smoke"


# ----------------------------------------------------------------------------- --smoke only
class LocalHub:
    """A stand-in for huggingface.co on 127.0.0.1: ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``
    for the files of one folder, with the headers ``hf_hub_download`` expects (commit hash,
    ETag, size); anything else is a 404 with the Hub's error code."""

    def __init__(self, repo_id: str, folder: Path) -> None:
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the output quiet
                pass

            def _answer(self, send_body: bool) -> None:
                m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
                if (
                    m
                    and m.group(1) == repo_id
                    and m.group(2) in ("main", FAKE_COMMIT)
                    and m.group(3) in files
                ):
                    body = files[m.group(3)]
                    etag = f'"{hashlib.sha256(body).hexdigest()}"'
                    headers = {
                        "X-Repo-Commit": FAKE_COMMIT,
                        "ETag": etag,
                        "X-Linked-Etag": etag,
                        "X-Linked-Size": str(len(body)),
                        "Content-Type": "application/octet-stream",
                    }
                    self.send_response(200)
                else:
                    body = b'{"error": "not found"}'
                    code = "RepoNotFound" if not m or m.group(1) != repo_id else "EntryNotFound"
                    headers = {"X-Error-Code": code, "Content-Type": "application/json"}
                    self.send_response(404)
                headers["Content-Length"] = str(len(body))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def do_HEAD(self):
                self._answer(send_body=False)

            def do_GET(self):
                self._answer(send_body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def point_huggingface_hub_at(endpoint: str) -> None:
    """What ``HF_ENDPOINT=endpoint`` does when set before Python starts, done in-process:
    huggingface_hub has read the variable at import, so patch the constants built from it.
    Also: online (whatever ``HF_HUB_OFFLINE`` says), and never send a stored token."""
    from huggingface_hub import constants

    constants.ENDPOINT = endpoint
    constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    constants.HF_HUB_OFFLINE = False
    constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True


# ----------------------------------------------------------------------------- the example
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", nargs="?", help="Hub repo id 'user/name' (not needed with --smoke)")
    parser.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    parser.add_argument(
        "--image", type=Path, default=DEFAULT_IMAGE, help="the blurry photo to process"
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("out"), help="output folder (default: out/)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="download cache (default: huggingface_hub's)"
    )
    parser.add_argument("--token", default=None, help="access token for private repos")
    parser.add_argument("--overwrite", action="store_true", help="replace existing frames")
    parser.add_argument(
        "--smoke", action="store_true", help="serve a model from a local stand-in Hub, no internet"
    )
    args = parser.parse_args(argv)
    if not args.repo and not args.smoke:
        parser.error("give a Hub repo id (user/name), or --smoke")

    with tempfile.TemporaryDirectory() as tmp:
        hub = None
        if args.smoke:
            # "publish" the bundled weights
            published = Path(tmp) / "published"
            blurvid.load_model("default").save_pretrained(published)
            hub = LocalHub(SMOKE_REPO, published)
            point_huggingface_hub_at(hub.url)
            args.repo, args.cache_dir = SMOKE_REPO, Path(tmp) / "hf-cache"
            print(f"local stand-in Hub at {hub.url}")
        try:
            # the one call that matters: download (or reuse the cache) and load, strictly
            model = blurvid.load_model(
                args.repo, revision=args.revision, cache_dir=args.cache_dir, token=args.token
            )
            meta = model.metadata
            print(
                f"loaded {meta['source']} at commit {meta['revision']} "
                f"(asked for {meta['requested_revision']})"
            )
            if hub is not None:
                hub.stop()  # the server is gone: the cache alone serves the same commit
                cached = blurvid.load_model(
                    args.repo, cache_dir=args.cache_dir, local_files_only=True
                )
                print(f"loaded again from the cache, offline: commit {cached.metadata['revision']}")
        finally:
            if hub is not None:
                hub.stop()

    image = args.image  # a path; PIL images, numpy arrays and tensors work too
    if args.smoke:  # keep the smoke run tiny
        image = Image.open(args.image).convert("RGB")
        image.thumbnail((64, 64))
    frames = blurvid.extract_frames(image, model=model)
    paths = save_pngs(frames, args.output / args.image.stem, overwrite=args.overwrite)
    print(f"{len(paths)} frames -> {paths[0].parent}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
