"""Tests of blurvid.hub: folders, strict safetensors-only loading, and the Hugging Face Hub
through a real local HTTP server that speaks the ``/resolve/`` protocol of ``hf_hub_download``.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from pathlib import Path

import pytest
import torch
from fakehub import COMMIT, closed_port_url, point_hub_at, serve_fake_hub
from safetensors.torch import save_file

import blurvid
from blurvid import (
    ConfigError,
    Generator,
    GeneratorConfig,
    HubError,
    PlaceholderWeightsWarning,
    WeightsError,
    WeightsNotFoundError,
    load_model,
)
from blurvid.hub import default_weights_dir, load_folder, save_folder

pytestmark = pytest.mark.usefixtures("fast_cpu")


def outputs(model: Generator, seed: int = 0) -> torch.Tensor:
    x = torch.rand(1, 3, 16, 24, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(x)


@pytest.fixture
def saved(tmp_path, tiny_model, perturbed) -> tuple[Path, Generator]:
    """A perturbed tiny model saved with ``save_pretrained`` into ``tmp_path / "model"``."""
    model = perturbed(tiny_model, std=0.05)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    return folder, model


# --------------------------------------------------------------------------- folders
def test_save_pretrained_from_pretrained_bit_identical(saved):
    folder, model = saved
    assert {"config.json", "model.safetensors"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "config.json").read_text()) == model.config.to_dict()
    loaded = Generator.from_pretrained(folder)
    assert loaded.config == model.config
    assert not loaded.training
    assert torch.equal(outputs(loaded), outputs(model))
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert loaded.metadata["source"] == str(folder)
    assert loaded.metadata["placeholder"] == "false"


def test_load_model_folder_and_file_and_str(saved):
    folder, model = saved
    for arg in (folder, str(folder), folder / "model.safetensors"):
        loaded = blurvid.load_model(arg)
        assert torch.equal(outputs(loaded), outputs(model))


def test_save_folder_fp16_loads_as_fp32(tmp_path, saved):
    _, model = saved
    folder = save_folder(model, tmp_path / "half", dtype=torch.float16, metadata={"stage": "hepta"})
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert f.get_tensor("stem.weight").dtype == torch.float16
        assert f.metadata()["stage"] == "hepta"
    loaded = load_model(folder)
    assert next(loaded.parameters()).dtype == torch.float32
    assert loaded.metadata["stage"] == "hepta"
    # fp16 rounding only
    torch.testing.assert_close(outputs(loaded), outputs(model), atol=5e-3, rtol=5e-3)
    assert (folder / "model.safetensors").stat().st_size < 0.6 * (
        save_folder(model, tmp_path / "full") / "model.safetensors"
    ).stat().st_size


def test_load_to_device_and_eval(saved):
    folder, _ = saved
    model = load_model(folder, device="cpu")
    assert not model.training and next(model.parameters()).device.type == "cpu"


# --------------------------------------------------------------------------- the default
def test_default_model_is_the_trained_release():
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlaceholderWeightsWarning)  # trained: no warning
        model = load_model("default")
    # the bundled config.json describes it; a 7-frame G within the wheel's size budget
    assert model.config == GeneratorConfig.from_json(default_weights_dir() / "config.json")
    assert model.config.num_frames == 7 and model.num_parameters() < 2_000_000
    assert model.metadata["release"].startswith("v0.")
    assert model.metadata["placeholder"] == "false"
    assert model.metadata["source"] == "default"
    assert model.metadata["stage"] in ("base", "gram", "hepta")
    # trained for real: stage 1's steps (a fine-tuned stage's bundle records them as base_steps,
    # its own steps count the fine-tune: scripts/bundle_default.py --meta base_steps=...)
    meta = model.metadata
    assert int(meta["steps"] if meta["stage"] == "base" else meta["base_steps"]) > 1000
    path = default_weights_dir() / "model.safetensors"
    assert path.is_file() and path.stat().st_size < 5e6  # fp16, small enough for the wheel


def test_placeholder_weights_warn(placeholder_folder):
    with pytest.warns(PlaceholderWeightsWarning, match="UNTRAINED PLACEHOLDER"):
        model = load_model(placeholder_folder)
    assert model.metadata["placeholder"] == "true"


def test_trained_weights_do_not_warn(saved):
    folder, _ = saved
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlaceholderWeightsWarning)
        load_model(folder)


def test_placeholder_flag_survives_save(tmp_path, placeholder_folder):
    with pytest.warns(PlaceholderWeightsWarning):
        model = load_model(placeholder_folder)
    save_folder(model, tmp_path / "copy")
    with pytest.warns(PlaceholderWeightsWarning):
        load_model(tmp_path / "copy")


# --------------------------------------------------------------------------- strictness
def _state(model):
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def test_missing_key_is_an_error(saved):
    folder, model = saved
    state = _state(model)
    del state["head.bias"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsError, match="missing keys \\['head.bias'\\]"):
        load_model(folder)


def test_unexpected_key_is_an_error(saved):
    folder, model = saved
    state = _state(model)
    state["extra.weight"] = torch.zeros(3)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsError, match="unexpected keys \\['extra.weight'\\]"):
        load_model(folder)


def test_wrong_shapes_config_of_another_width(saved):
    folder, _ = saved
    GeneratorConfig(width=16).to_json(folder / "config.json")
    with pytest.raises(WeightsError, match="wrong shapes"):
        load_model(folder)


def test_bad_config_is_a_config_error(saved):
    folder, _ = saved
    (folder / "config.json").write_text('{"width": 8, "colour": "blue"}')
    with pytest.raises(ConfigError, match="unknown keys"):
        load_model(folder)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "header"])
def test_corrupt_safetensors_is_a_weights_error(saved, damage):
    folder, _ = saved
    path = folder / "model.safetensors"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01garbage" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a header length far beyond the file
        path.write_bytes((10**12).to_bytes(8, "little") + data[8:])
    with pytest.raises(WeightsError, match="corrupt, truncated or not safetensors"):
        load_model(folder)


def test_missing_files(tmp_path, saved):
    folder, _ = saved
    with pytest.raises(WeightsNotFoundError, match="neither an existing folder nor a Hub repo id"):
        load_model(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsNotFoundError, match="no model.safetensors"):
        load_model(empty)
    (folder / "config.json").unlink()
    with pytest.raises(WeightsNotFoundError, match="no config.json"):
        load_model(folder)
    with pytest.raises(FileNotFoundError):  # the built-in type too
        load_model(empty)


def test_a_non_weights_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(WeightsError, match="is a file"):
        load_model(tmp_path / "notes.txt")


# --------------------------------------------------------------------------- no pickle, ever
@pytest.fixture(autouse=True)
def no_torch_load(monkeypatch):
    """Make any call of torch.load (or pickle.load) fail: active for every test of this module,
    so no load path here -- folders, files, the default, the Hub -- can unpickle."""
    calls = []

    def forbidden(*args, **kwargs):
        calls.append(args)
        raise AssertionError("torch.load / pickle.load must never be called by the loaders")

    monkeypatch.setattr(torch, "load", forbidden)
    import pickle

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    return calls


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth", ".ckpt", ".pkl"])
def test_pickle_files_are_refused(tmp_path, tiny_model, no_torch_load, suffix):
    path = tmp_path / f"pytorch_model{suffix}"
    path.write_bytes(b"\x80\x04pickle-bytes-that-must-never-be-read")
    with pytest.raises(WeightsError, match="pickle"):
        load_model(path)
    # a folder that offers only a pickle is refused with the same message
    with pytest.raises(WeightsError, match="pickle"):
        load_model(tmp_path)
    with pytest.raises(WeightsError, match="pickle"):
        Generator.from_pretrained(tmp_path)
    assert no_torch_load == []


def test_torch_load_is_never_called(saved, tmp_path, no_torch_load):
    folder, model = saved
    # a pickle beside the safetensors is ignored: safetensors wins, pickle is never read
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04never")
    assert torch.equal(outputs(load_model(folder)), outputs(model))
    assert torch.equal(outputs(Generator.from_pretrained(folder)), outputs(model))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderWeightsWarning)
        load_model("default")
        load_folder(default_weights_dir())
    assert no_torch_load == []


# --------------------------------------------------------------------------- a local Hub
@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A running FakeHub, huggingface_hub pointed at it, online, no token, cache in tmp."""
    server = serve_fake_hub(monkeypatch, tmp_path)
    yield server
    server.stop()


def test_hub_download_and_load(hub, saved, tmp_path):
    folder, model = saved
    hub.add_repo("user/repo", folder)
    cache = tmp_path / "cache"
    loaded = load_model("user/repo", cache_dir=cache)
    assert torch.equal(outputs(loaded), outputs(model))
    assert loaded.metadata["revision"] == COMMIT
    assert loaded.metadata["source"] == "hf://user/repo"
    assert loaded.metadata["requested_revision"] == "main"
    # hf_hub_download's cache layout, and the library tag in the user agent
    assert (cache / "models--user--repo" / "snapshots" / COMMIT / "model.safetensors").is_file()
    assert (cache / "models--user--repo" / "refs" / "main").read_text() == COMMIT
    resolve = [r for r in hub.requests if "/resolve/" in r[1]]
    gets = [p.rsplit("/", 1)[1] for method, p, _ in resolve if method == "GET"]
    assert sorted(gets) == ["config.json", "model.safetensors"]
    assert all("blurvid/" in ua for _, _, ua in resolve)


def test_hub_from_pretrained_and_revision(hub, saved, tmp_path):
    folder, model = saved
    hub.add_repo("user/repo", folder)
    loaded = Generator.from_pretrained("user/repo", cache_dir=tmp_path / "c", revision=COMMIT)
    assert torch.equal(outputs(loaded), outputs(model))
    assert loaded.metadata["requested_revision"] == COMMIT
    with pytest.raises(HubError, match="revision 'v9' not found"):
        load_model("user/repo", cache_dir=tmp_path / "c", revision="v9")


def test_hub_cache_works_offline_with_the_server_stopped(hub, saved, tmp_path, monkeypatch):
    from huggingface_hub import constants

    folder, model = saved
    hub.add_repo("user/repo", folder)
    cache = tmp_path / "cache"
    load_model("user/repo", cache_dir=cache)  # fills the cache
    hub.stop()
    n_requests = len(hub.requests)

    # local_files_only=True: no request at all
    loaded = load_model("user/repo", cache_dir=cache, local_files_only=True)
    assert torch.equal(outputs(loaded), outputs(model))
    assert loaded.metadata["revision"] == COMMIT

    # HF_HUB_OFFLINE
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    t0 = time.monotonic()
    loaded = load_model("user/repo", cache_dir=cache)
    assert time.monotonic() - t0 < 2
    assert torch.equal(outputs(loaded), outputs(model))
    assert len(hub.requests) == n_requests


def test_hub_cache_is_used_when_the_server_is_down(hub, saved, tmp_path, monkeypatch):
    folder, model = saved
    hub.add_repo("user/repo", folder)
    cache = tmp_path / "cache"
    load_model("user/repo", cache_dir=cache)
    point_hub_at(monkeypatch, closed_port_url())
    t0 = time.monotonic()
    loaded = load_model("user/repo", cache_dir=cache)  # online, but nobody answers
    assert time.monotonic() - t0 < 5
    assert torch.equal(outputs(loaded), outputs(model))


def test_offline_without_cache_fails_fast(hub, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    t0 = time.monotonic()
    with pytest.raises(HubError, match="not in the local cache and blurvid is offline"):
        load_model("user/repo", cache_dir=tmp_path / "empty-cache")
    assert time.monotonic() - t0 < 2
    assert not [r for r in hub.requests if "/resolve/" in r[1]]
    with pytest.raises(WeightsNotFoundError):  # HubError is a WeightsNotFoundError
        load_model("user/repo", cache_dir=tmp_path / "empty-cache")


def test_local_files_only_without_cache_fails_fast(hub, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(HubError, match="offline"):
        load_model("user/repo", cache_dir=tmp_path / "empty-cache", local_files_only=True)
    assert time.monotonic() - t0 < 2
    assert not [r for r in hub.requests if "/resolve/" in r[1]]


def test_unknown_repo_is_a_hub_error(hub, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(HubError, match="does not exist or is private"):
        load_model("user/no-such-repo", cache_dir=tmp_path / "c")
    assert time.monotonic() - t0 < 5
    resolve = [p for _, p, _ in hub.requests if "/resolve/" in p]
    assert resolve and resolve[0] == "/user/no-such-repo/resolve/main/config.json"


def test_repo_without_weights_is_a_hub_error(hub, tmp_path, saved):
    folder, _ = saved
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04")
    hub.add_repo("user/pickle-only", folder)
    with pytest.raises(HubError, match="has no model.safetensors"):
        load_model("user/pickle-only", cache_dir=tmp_path / "c")
    assert not any("pytorch_model.bin" in p for _, p, _ in hub.requests)


def test_plain_404_is_a_hub_error_naming_the_status(hub, tmp_path, monkeypatch):
    """A server that is no Hub (404 without the Hub's X-Error-Code) is reported as such."""
    handler = hub.server.RequestHandlerClass

    def not_found(self):
        hub.requests.append((self.command, self.path, ""))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    monkeypatch.setattr(handler, "do_HEAD", not_found)
    monkeypatch.setattr(handler, "do_GET", not_found)
    t0 = time.monotonic()
    with pytest.raises(HubError, match="answered HTTP 404 for config.json"):
        load_model("user/repo", cache_dir=tmp_path / "c")
    assert time.monotonic() - t0 < 5


def test_server_down_fails_fast(monkeypatch, tmp_path):
    """No server at all (closed port) and nothing cached: a HubError in seconds, not after
    huggingface_hub's ~23 s of retries."""
    from huggingface_hub import constants

    point_hub_at(monkeypatch, closed_port_url())
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    t0 = time.monotonic()
    with pytest.raises(HubError, match="could not reach the Hugging Face Hub"):
        load_model("user/repo", cache_dir=tmp_path / "c")
    assert time.monotonic() - t0 < 5


def test_server_error_fails_fast(hub, tmp_path, saved, monkeypatch):
    """A Hub answering 503 (down for maintenance) is not retried for ~23 s either."""
    folder, _ = saved
    hub.add_repo("user/repo", folder)
    handler = hub.server.RequestHandlerClass

    def unavailable(self):
        hub.requests.append((self.command, self.path, ""))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    monkeypatch.setattr(handler, "do_HEAD", unavailable)
    monkeypatch.setattr(handler, "do_GET", unavailable)
    t0 = time.monotonic()
    with pytest.raises(HubError, match="could not reach"):
        load_model("user/repo", cache_dir=tmp_path / "c")
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("name", ["no-slash", "a/b/c", "./user/repo", "user/", "~/x"])
def test_names_that_are_not_repo_ids(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError, match="neither an existing folder nor a Hub repo id"):
        load_model(name)


def test_invalid_repo_id_characters_are_a_hub_error(hub, tmp_path):
    with pytest.raises(HubError):
        load_model("user/bad name!", cache_dir=tmp_path / "c")


def test_revision_must_be_a_string(saved):
    folder, _ = saved
    with pytest.raises(ConfigError, match="revision"):
        load_model(folder, revision=3)  # type: ignore[arg-type]


def test_local_folder_wins_over_repo_id(tmp_path, saved, monkeypatch):
    folder, model = saved
    (tmp_path / "user").mkdir()
    shutil.copytree(folder, tmp_path / "user" / "repo")
    monkeypatch.chdir(tmp_path)
    loaded = load_model("user/repo")  # no network: it is a folder here
    assert torch.equal(outputs(loaded), outputs(model))


def test_hub_config_is_checked_before_the_weights_are_downloaded(hub, saved, tmp_path):
    """An untrusted config.json from the Hub (width 65 536) is refused from the config alone:
    the weights file is never requested."""
    folder, _ = saved
    (folder / "config.json").write_text('{"width": 65536}')
    hub.add_repo("user/huge", folder)
    with pytest.raises(ConfigError, match="width is 65536, over blurvid's limit"):
        load_model("user/huge", cache_dir=tmp_path / "c")
    gets = [p for method, p, _ in hub.requests if method == "GET"]
    assert any(p.endswith("/config.json") for p in gets)
    assert not any(p.endswith("/model.safetensors") for p in gets)
