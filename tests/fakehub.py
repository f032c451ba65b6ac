"""A local Hugging Face Hub for the tests: a real HTTP server on 127.0.0.1 that speaks the
``/resolve/`` protocol of ``hf_hub_download`` (weights: tests/test_hub.py; data:
tests/test_data_download.py)."""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import threading
import urllib.parse
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """A minimal Hugging Face Hub on 127.0.0.1: ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``
    (and ``/datasets/{repo}/...`` for dataset repos, files in sub-folders included).

    Answers as huggingface.co does: ``X-Repo-Commit``, a quoted ``ETag`` (the sha256 of the
    content, as for LFS files) and ``Content-Length``; unknown repos get 404 with
    ``X-Error-Code: RepoNotFound``, unknown files ``EntryNotFound``, unknown revisions
    ``RevisionNotFound``.
    """

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, user-agent)
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the test output clean
                pass

            def _answer(self, body: bool) -> None:
                hub.requests.append((self.command, self.path, self.headers.get("User-Agent", "")))
                path = urllib.parse.unquote(self.path.split("?")[0])
                m = re.fullmatch(r"/((?:datasets/)?[^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                headers: dict[str, str] = {}
                if m is None or m.group(1) not in hub.repos:
                    status, headers["X-Error-Code"] = 404, "RepoNotFound"
                elif m.group(2) not in ("main", COMMIT):
                    status, headers["X-Error-Code"] = 404, "RevisionNotFound"
                elif m.group(3) not in hub.repos[m.group(1)]:
                    status, headers["X-Error-Code"] = 404, "EntryNotFound"
                    headers["X-Repo-Commit"] = COMMIT
                else:
                    status = 200
                    data = hub.repos[m.group(1)][m.group(3)]
                    sha = hashlib.sha256(data).hexdigest()
                    headers["X-Repo-Commit"] = COMMIT
                    headers["ETag"] = f'"{sha}"'
                    headers["Content-Length"] = str(len(data))
                    if m.group(3).endswith(".safetensors"):  # an LFS file, as the Hub marks it
                        headers["X-Linked-Etag"] = f'"{sha}"'
                        headers["X-Linked-Size"] = str(len(data))
                    headers["Content-Type"] = "application/octet-stream"
                if status != 200:
                    data = b'{"error": "not found"}'
                    headers["Content-Length"] = str(len(data))
                    headers["Content-Type"] = "application/json"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def add_repo(self, repo_id: str, folder: Path) -> None:
        """A model repo: the files of ``folder`` (not its sub-folders)."""
        self.repos[repo_id] = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    def add_dataset(self, repo_id: str, files: dict[str, bytes]) -> None:
        """A dataset repo (``/datasets/{repo_id}/resolve/...``): ``{path in the repo: bytes}``."""
        self.repos[f"datasets/{repo_id}"] = dict(files)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def point_hub_at(monkeypatch, endpoint: str) -> None:
    """Point huggingface_hub at ``endpoint``. It reads HF_ENDPOINT at import time into
    ``constants.ENDPOINT`` and builds ``constants.HUGGINGFACE_CO_URL_TEMPLATE`` from it,
    which ``hf_hub_url`` formats; patch both (and the env var, for any re-read)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


def serve_fake_hub(monkeypatch, tmp_path: Path) -> FakeHub:
    """A running FakeHub, huggingface_hub pointed at it, online, no token, cache in tmp
    (stop it with ``.stop()``)."""
    from huggingface_hub import constants

    server = FakeHub()
    point_hub_at(monkeypatch, server.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "default-cache"))
    if hasattr(constants, "AGENT_HARNESSES_PATH"):  # huggingface_hub caches a registry there
        monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agents.json"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return server
