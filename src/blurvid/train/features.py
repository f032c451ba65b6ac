"""VGG19 feature network for the perceptual (Eq. 1) and Gram (Eq. 6-7) losses.

The network is torchvision's ``vgg19().features`` rebuilt here (configuration "E" of
Simonyan & Zisserman, paper ref. [48]) with **the same module indices**, so a state dict has
exactly torchvision's keys ``features.0.weight`` ... ``features.34.bias``. blurvid does not
depend on torchvision and ships no VGG weights. Three ways to get weights:

1. ``vgg19_features(weights="vgg19.safetensors")``: a local safetensors file with the keys
   ``features.N.weight`` / ``features.N.bias`` (a ``vgg.`` or ``module.`` prefix is stripped).
   Loading is strict: a missing, unexpected or wrongly shaped key raises
   :class:`~blurvid.errors.WeightsError` naming it.
2. The environment variable ``BLURVID_VGG19_WEIGHTS=/path/to/vgg19.safetensors``, used when
   ``weights`` is not given.
3. Have torchvision's ImageNet checkpoint ``vgg19-dcbb9e9d.pth``? Convert it once with
   :func:`convert_torchvision_vgg19` (the only place in blurvid that reads a pickle file, with
   ``torch.load(..., weights_only=True)``).

With none of these, a **documented fallback** is used: random VGG19 weights drawn from a fixed
seed (Kaiming-normal, fan-out, as torchvision initialises VGG; zero biases). Random features
still give a usable, deterministic perceptual/Gram signal (random conv features capture
texture statistics) but not the one the paper used. A
:class:`~blurvid.errors.PlaceholderWeightsWarning` (a ``UserWarning``) is emitted once per
process; it is never silent.

Layer names: ``"features.N"`` is the *output of module N* of the Sequential. So
``"features.34"`` is conv5_4 **before** its ReLU (the paper's "last convolution layer", our
Eq. 1 default) and ``"features.35"`` is relu5_4. Aliases ``conv1_1 ... conv5_4``,
``relu1_1 ... relu5_4`` and ``pool1 ... pool5`` are accepted (see :data:`VGG19_LAYERS`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Union

import torch
from torch import nn

from .._fs import atomic_path
from ..errors import (
    ConfigError,
    InvalidImageError,
    OutputExistsError,
    PlaceholderWeightsWarning,
    WeightsError,
    WeightsNotFoundError,
)

__all__ = [
    "ENV_VAR",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VGG19Features",
    "VGG19_CONV_INDICES",
    "VGG19_LAYERS",
    "convert_torchvision_vgg19",
    "vgg19_features",
    "vgg19_state_dict_shapes",
]

ENV_VAR = "BLURVID_VGG19_WEIGHTS"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's cfgs["E"]: numbers are conv output channels, "M" a 2x2 max-pool.
_CFG_E: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip


def _layout() -> tuple[list[tuple[str, int, int]], dict[str, int]]:
    """Module list ``(kind, in_ch, out_ch)`` of ``features`` and the alias -> index map."""
    mods: list[tuple[str, int, int]] = []
    names: dict[str, int] = {}
    block, sub, c = 1, 1, 3
    for v in _CFG_E:
        if v == "M":
            names[f"pool{block}"] = len(mods)
            mods.append(("pool", c, c))
            block, sub = block + 1, 1
        else:
            names[f"conv{block}_{sub}"] = len(mods)
            mods.append(("conv", c, int(v)))
            names[f"relu{block}_{sub}"] = len(mods)
            mods.append(("relu", int(v), int(v)))
            c, sub = int(v), sub + 1
    return mods, names


_MODULES, VGG19_LAYERS = _layout()
#: Indices of the 16 conv layers in ``features`` (torchvision numbering).
VGG19_CONV_INDICES: tuple[int, ...] = tuple(i for i, m in enumerate(_MODULES) if m[0] == "conv")


def vgg19_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """The expected state-dict keys and shapes of VGG19 ``features`` (torchvision naming).

    >>> shapes = vgg19_state_dict_shapes()
    >>> len(shapes), shapes["features.34.weight"]
    (32, (512, 512, 3, 3))
    """
    out: dict[str, tuple[int, ...]] = {}
    for i, (kind, cin, cout) in enumerate(_MODULES):
        if kind == "conv":
            out[f"features.{i}.weight"] = (cout, cin, 3, 3)
            out[f"features.{i}.bias"] = (cout,)
    return out


def _build_sequential() -> nn.Sequential:
    layers: list[nn.Module] = []
    for kind, cin, cout in _MODULES:
        if kind == "conv":
            layers.append(nn.Conv2d(cin, cout, kernel_size=3, padding=1))
        elif kind == "relu":
            # not in-place: an in-place ReLU would overwrite a captured pre-ReLU conv output
            layers.append(nn.ReLU(inplace=False))
        else:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def _resolve_layer(name: str) -> int:
    if not isinstance(name, str):
        raise ConfigError(f"VGG19 layer names must be strings, got {type(name).__name__}")
    if name in VGG19_LAYERS:
        return VGG19_LAYERS[name]
    if name.startswith("features."):
        idx = name[len("features.") :]
        if idx.isdigit() and int(idx) < len(_MODULES):
            return int(idx)
    raise ConfigError(
        f"unknown VGG19 layer {name!r}: use 'features.N' with N in 0..{len(_MODULES) - 1} "
        f"or an alias such as 'conv5_4', 'relu3_1', 'pool4'"
    )


class VGG19Features(nn.Module):
    """Frozen VGG19 ``features`` returning the activations of the requested layers.

    Input ``(N, 3, H, W)`` RGB in [0, 1]; ImageNet mean/std normalisation is applied inside.
    Parameters are frozen (``requires_grad=False``) and the module stays in eval mode, but
    gradients flow to the *input*, as a perceptual loss needs. Only the modules up to the
    deepest requested layer are run. The state dict holds exactly torchvision's
    ``features.*`` keys (the normalisation constants are non-persistent buffers).

    Args:
        layers: layer names (see module docstring). One name (a string or a 1-element
            sequence) makes ``forward`` return a tensor; several make it return a dict
            ``{name: tensor}`` in the given order.

    Shape:
        - Input: ``(N, 3, H, W)``, float in [0, 1].
        - Output: ``(N, C_l, H / 2^p, W / 2^p)`` for a layer after ``p`` poolings, e.g.
          ``(N, 512, H/16, W/16)`` for ``features.34``; or a dict of such tensors.
    """

    mean: torch.Tensor  # buffers (typed for mypy: Module.__getattr__ says Tensor | Module)
    std: torch.Tensor

    def __init__(self, layers: str | Sequence[str] = ("features.34",)) -> None:
        super().__init__()
        if isinstance(layers, str):
            layers = (layers,)
        layers = tuple(layers)
        if not layers:
            raise ConfigError("VGG19Features needs at least one layer name")
        self.layer_names: tuple[str, ...] = layers
        self.layer_indices: tuple[int, ...] = tuple(_resolve_layer(n) for n in layers)
        self.features = _build_sequential()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.weights_source = "uninitialised"
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:  # noqa: D102 - always eval
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidImageError(f"VGG19 features expect (N, 3, H, W) RGB in [0, 1], got {got}")
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        wanted = set(self.layer_indices)
        out: dict[int, torch.Tensor] = {}
        last = max(self.layer_indices)
        for i, module in enumerate(self.features):
            h = module(h)
            if i in wanted:
                out[i] = h
            if i == last:
                break
        if len(self.layer_names) == 1:
            return out[self.layer_indices[0]]
        return {n: out[i] for n, i in zip(self.layer_names, self.layer_indices)}

    def extra_repr(self) -> str:
        return f"layers={self.layer_names}, weights={self.weights_source}"


# --------------------------------------------------------------------------- weights


def _strip_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in ("module.", "vgg."):
            if key.startswith(p):
                key, changed = key[len(p) :], True
    return key


def _check_state_dict(sd: Mapping[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Normalise keys and check them strictly against VGG19 ``features``."""
    expected = vgg19_state_dict_shapes()
    clean: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        nk = _strip_prefixes(str(k))
        if nk in clean:
            raise WeightsError(f"{source}: key {k!r} duplicates {nk!r} after stripping prefixes")
        clean[nk] = v
    missing = sorted(set(expected) - set(clean), key=_key_order)
    unexpected = sorted(set(clean) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"{source} does not match VGG19 `features` (torchvision naming): "
            f"missing keys {_short(missing)}, unexpected keys {_short(unexpected)}. Expected "
            f"exactly features.N.weight/bias for N in {list(VGG19_CONV_INDICES)}; convert a "
            f"torchvision vgg19-*.pth with blurvid.train.features.convert_torchvision_vgg19."
        )
    bad = []
    for k, shape in expected.items():
        v = clean[k]
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            got = f"tensor of {v.dtype}" if isinstance(v, torch.Tensor) else type(v).__name__
            raise WeightsError(f"{source}: {k} must be a floating-point tensor, got {got}")
        if tuple(v.shape) != shape:
            bad.append(f"{k}: expected {shape}, got {tuple(v.shape)}")
    if bad:
        raise WeightsError(f"{source}: wrong shapes for VGG19 `features`: " + "; ".join(bad))
    return {k: clean[k].to(torch.float32) for k in expected}


def _key_order(k: str) -> tuple[int, str]:
    parts = k.split(".")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 10**6, k)


def _short(keys: list[str], n: int = 8) -> str:
    if not keys:
        return "[]"
    s = ", ".join(keys[:n])
    return f"[{s}{', ...' if len(keys) > n else ''}] ({len(keys)})"


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise WeightsNotFoundError(
            f"VGG19 weights file {str(path)!r} does not exist: pass weights=PATH to a local "
            f"safetensors file or set {ENV_VAR}"
        )
    if path.suffix.lower() in (".pth", ".pt", ".pkl", ".bin", ".ckpt"):
        raise WeightsError(
            f"{str(path)!r} looks like a pickle checkpoint, which blurvid refuses to load: "
            f"convert it once with blurvid.train.features.convert_torchvision_vgg19(src, dst) "
            f"and pass the .safetensors file"
        )
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError
        raise WeightsError(f"cannot read {str(path)!r} as safetensors: {exc}") from exc


_FALLBACK_WARNED = False


def _fallback_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """Seeded Kaiming-normal (fan-out, ReLU gain) weights and zero biases, like torchvision's
    VGG init, drawn in layer order from one ``torch.Generator``: identical on every CPU."""
    g = torch.Generator().manual_seed(int(seed))
    sd: dict[str, torch.Tensor] = {}
    for k, shape in vgg19_state_dict_shapes().items():
        if k.endswith(".weight"):
            fan_out = shape[0] * shape[2] * shape[3]
            sd[k] = torch.randn(shape, generator=g) * (2.0 / fan_out) ** 0.5
        else:
            sd[k] = torch.zeros(shape)
    return sd


def _warn_fallback(seed: int) -> None:
    global _FALLBACK_WARNED
    if _FALLBACK_WARNED:
        return
    _FALLBACK_WARNED = True
    warnings.warn(
        f"No VGG19 weights given: using seeded RANDOM VGG19 weights (seed={seed}) for the "
        f"perceptual/Gram losses, not ImageNet-trained ones as in the paper. Pass "
        f"weights='vgg19.safetensors', or set {ENV_VAR}=/path/to/vgg19.safetensors; a "
        f"torchvision vgg19-*.pth converts with "
        f"blurvid.train.features.convert_torchvision_vgg19(src, dst). "
        f"(This warning is shown once per process.)",
        PlaceholderWeightsWarning,
        stacklevel=3,
    )


WeightsLike = Union[str, os.PathLike, Mapping[str, torch.Tensor], None]


def vgg19_features(
    weights: WeightsLike = None,
    *,
    layers: str | Sequence[str] = ("features.34",),
    seed: int = 0,
) -> VGG19Features:
    """Build the frozen VGG19 feature extractor used by the perceptual and Gram losses.

    Args:
        weights: a local ``.safetensors`` path, or a state dict, with torchvision's
            ``features.N.weight``/``features.N.bias`` keys (``vgg.``/``module.`` prefixes are
            stripped); loaded strictly. ``None``: the path in ``$BLURVID_VGG19_WEIGHTS`` if
            set, else seeded random weights with a one-per-process
            :class:`~blurvid.errors.PlaceholderWeightsWarning`.
        layers: which activations to return (default ``"features.34"`` = conv5_4 pre-ReLU,
            the "last convolution layer" of Eq. 1). One layer -> tensor, several -> dict.
        seed: seed of the random fallback weights (ignored when weights are loaded).

    Returns:
        A :class:`VGG19Features` module in eval mode with frozen parameters, on the CPU.

    Raises:
        WeightsNotFoundError: the file does not exist.
        WeightsError: a pickle file, an unreadable file, or missing/unexpected/mis-shaped keys.
        ConfigError: an unknown layer name.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     vgg = vgg19_features(layers="relu3_1")
        >>> vgg(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 256, 8, 8])
    """
    model = VGG19Features(layers)
    if weights is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            weights = env
    if weights is None:
        sd = _fallback_state_dict(seed)
        model.weights_source = f"random(seed={seed})"
        _warn_fallback(seed)
    elif isinstance(weights, Mapping):
        sd = _check_state_dict(weights, "the given VGG19 state dict")
        model.weights_source = "state_dict"
    elif isinstance(weights, (str, os.PathLike)):
        path = Path(weights).expanduser()
        sd = _check_state_dict(_load_safetensors(path), f"VGG19 weights {str(path)!r}")
        model.weights_source = str(path)
    else:
        raise ConfigError(
            f"weights must be a path, a state dict or None, got {type(weights).__name__}"
        )
    model.load_state_dict(sd, strict=True)
    return model


def convert_torchvision_vgg19(
    src_pth: str | os.PathLike,
    dst_safetensors: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> Path:
    """Convert torchvision's ``vgg19-*.pth`` into a safetensors file blurvid can load.

    The **only** place in blurvid that reads a pickle: ``torch.load(src, map_location="cpu",
    weights_only=True)`` (PyTorch's restricted unpickler: tensors and containers only, no
    code execution). Only the 32 ``features.*`` tensors are kept (the classifier is dropped),
    their keys and shapes are checked strictly, and the file is written atomically (a
    temporary file in the destination folder, then ``os.replace``).

    Args:
        src_pth: torchvision checkpoint (a plain state dict, or a dict holding one under
            ``"state_dict"``/``"model"``; ``module.``/``vgg.`` prefixes are stripped).
        dst_safetensors: output path (``.safetensors``).
        overwrite: replace an existing ``dst_safetensors``.

    Returns:
        The destination path.

    Raises:
        WeightsNotFoundError: ``src_pth`` does not exist.
        WeightsError: the file cannot be unpickled safely or is not a VGG19 state dict.
        OutputExistsError: ``dst_safetensors`` exists and ``overwrite`` is False.
    """
    from safetensors.torch import save_file

    src, dst = Path(src_pth).expanduser(), Path(dst_safetensors).expanduser()
    if not src.is_file():
        raise WeightsNotFoundError(f"torchvision VGG19 checkpoint {str(src)!r} does not exist")
    if dst.exists() and not overwrite:
        raise OutputExistsError(
            f"{str(dst)!r} exists already: pass overwrite=True to replace it (CLI: --overwrite)"
        )
    try:
        obj = torch.load(str(src), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"cannot load {str(src)!r} with torch.load(weights_only=True) (a plain tensor "
            f"state dict is required): {exc}"
        ) from exc
    if isinstance(obj, Mapping):
        for k in ("state_dict", "model"):
            if isinstance(obj.get(k), Mapping):
                obj = obj[k]
                break
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{str(src)!r} holds a {type(obj).__name__}, not a state dict")
    feats = {
        k: v
        for k, v in obj.items()
        if isinstance(k, str) and _strip_prefixes(k).startswith("features.")
    }
    sd = _check_state_dict(feats, f"torchvision checkpoint {str(src)!r}")
    sd = {k: v.detach().contiguous().clone() for k, v in sd.items()}
    with atomic_path(dst) as tmp:
        meta = {"format": "pt", "source": src.name, "model": "vgg19.features"}
        save_file(sd, str(tmp), metadata=meta)
    return dst
