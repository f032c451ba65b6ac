"""Fetching files from the Hugging Face Hub: ``hf_hub_download`` with a fast failure and typed
errors that say what to do.

Shared by the weights (:mod:`blurvid.weights_io`) and the data (:mod:`blurvid.data.download`).
``huggingface_hub`` owns the cache, ``revision``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and
resuming interrupted downloads; this module adds one probe (so that an unreachable Hub fails in
seconds instead of after ~25 s of retries) and turns its exceptions into :class:`HubError`.
Knows nothing of models or data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import HubError

__all__ = ["fetch", "is_offline"]

#: HTTP statuses that huggingface_hub retries with backoff (for ~25 s) before giving up.
_RETRIED_STATUS = (408, 429, 500, 502, 503, 504)


def is_offline() -> bool:
    """``HF_HUB_OFFLINE=1`` (read by huggingface_hub at import time)."""
    import huggingface_hub

    return bool(huggingface_hub.constants.HF_HUB_OFFLINE)


def _is_network_error(exc: BaseException) -> bool:
    """A transport-level failure (refused, reset, timeout, DNS) of any HTTP client the
    installed huggingface_hub uses (httpx in new versions, requests in old ones)."""
    root = type(exc).__module__.split(".")[0]
    return isinstance(exc, (ConnectionError, TimeoutError)) or root in (
        "httpx",
        "httpx2",
        "requests",
        "urllib3",
    )


def _http_status(exc: BaseException | None) -> int | None:
    """The HTTP status behind ``exc`` or one of its causes, if the server answered at all."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        exc = exc.__cause__ or exc.__context__
    return None


def _probe_hub(
    repo_id: str, filename: str, revision: str | None, token: str | bool | None, repo_type: str
) -> str | None:
    """One HEAD request for ``filename``, without retries.

    Returns why the Hub could not be reached (refused, timeout, a 5xx/429 answer), or None
    when it answered -- with the file or with an error that ``hf_hub_download`` reports
    precisely (unknown repo, revision or file).
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    try:
        url = hf_hub_url(repo_id, filename, revision=revision, repo_type=repo_type)
        get_hf_file_metadata(
            url,
            token=token,
            timeout=constants.HF_HUB_ETAG_TIMEOUT,
            library_name="blurvid",
            library_version=__version__,
        )
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return f"HTTP {status}" if status in _RETRIED_STATUS else None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}" if _is_network_error(exc) else None
    return None


def fetch(
    repo_id: str,
    filenames: Sequence[str],
    *,
    repo_type: str = "model",
    check: Callable[[str, Path], object] | None = None,
    alternative: str = "pass a local folder",
    missing_hint: str = "",
    **kwargs: Any,
) -> dict[str, Path]:
    """Download ``filenames`` of a Hub repo (in order) with ``hf_hub_download``; returns
    ``{filename: local path}``.

    Args:
        repo_type: ``"model"`` or ``"dataset"``.
        check: called as ``check(filename, path)`` after each file, before the next is
            fetched (e.g. to refuse an untrusted config before its weights are downloaded).
        alternative: what the error messages offer instead of the Hub (offline, unreachable).
        missing_hint: added to the error when the repo lacks a file.
        kwargs: passed to ``hf_hub_download`` (``revision``, ``cache_dir``, ``local_dir``,
            ``local_files_only``, ``token``, ``force_download``).

    Raises:
        HubError: offline and not cached, Hub unreachable, unknown repo, revision or file.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = bool(kwargs.get("local_files_only")) or is_offline()
    unreachable = (
        None
        if offline or not filenames
        else _probe_hub(
            repo_id, filenames[0], kwargs.get("revision"), kwargs.get("token"), repo_type
        )
    )
    if unreachable is not None:
        # hf_hub_download would retry for ~25 s before falling back on its cache: go to the
        # cache at once (same result when the files are cached, a fast error when not)
        if kwargs.get("force_download"):
            raise HubError(
                f"could not reach the Hugging Face Hub for {repo_id!r} ({unreachable}), so "
                f"force_download is impossible. Check the network or HF_ENDPOINT"
            )
        kwargs = {**kwargs, "local_files_only": True}
    files = {}
    for filename in filenames:
        try:
            files[filename] = Path(
                hf_hub_download(
                    repo_id,
                    filename,
                    repo_type=repo_type,
                    library_name="blurvid",
                    library_version=__version__,
                    **kwargs,
                )
            )
        except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
            if offline:
                raise HubError(
                    f"{repo_id!r} ({filename}) is not in the local cache and blurvid is offline "
                    f"(HF_HUB_OFFLINE=1 or local_files_only=True): {alternative}, or go online once to "
                    f"fill the cache"
                ) from exc
            status = _http_status(exc)
            if unreachable is None and status is not None:  # it answered, with an error
                raise HubError(
                    f"the Hugging Face Hub answered HTTP {status} for {filename} of {repo_id!r} "
                    f"and it is not cached. Check the repo id, the token or HF_ENDPOINT, or "
                    f"{alternative}"
                ) from exc
            raise HubError(
                f"could not reach the Hugging Face Hub for {repo_id!r} and it is not cached "
                f"({unreachable or exc.__class__.__name__}). Check the network or HF_ENDPOINT, "
                f"or {alternative}"
            ) from exc
        except RepositoryNotFoundError as exc:
            raise HubError(
                f"Hub repo {repo_id!r} does not exist or is private (pass token= for private repos)"
            ) from exc
        except RevisionNotFoundError as exc:
            raise HubError(
                f"revision {kwargs.get('revision')!r} not found in Hub repo {repo_id!r}"
            ) from exc
        except EntryNotFoundError as exc:
            raise HubError(f"Hub repo {repo_id!r} has no {filename}{missing_hint}") from exc
        except HfHubHTTPError as exc:
            raise HubError(f"the Hub answered with an error for {repo_id!r}: {exc}") from exc
        except (OSError, ValueError) as exc:  # connection errors, bad repo names
            raise HubError(f"could not download {filename} of {repo_id!r}: {exc}") from exc
        except Exception as exc:
            if _is_network_error(exc):  # e.g. the connection broke during the download
                raise HubError(f"could not download {filename} of {repo_id!r}: {exc}") from exc
            raise
        if check is not None:
            check(filename, files[filename])
    return files
