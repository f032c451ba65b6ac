"""The generator G of Zhang et al. (ACM MM 2020), Sec. 3: one blurry image -> 7 sharp frames.

G is a fully convolutional encoder-decoder (a U-Net) that maps a blurry RGB image
``(B, 3, H, W)`` in [0, 1] to seven temporally ordered frames ``(B, 7, 3, H, W)`` in one
forward pass. The paper fixes only "an encoder-decoder with 30 convolutional layers and seven
consecutive frames output"; blurvid's choices, made for speed on a laptop CPU:

* **Pixel-unshuffle stem.** The image is rearranged to half resolution with 4x the channels
  before the first convolution, and the head pixel-shuffles back: no wide convolution runs at
  full resolution.
* **Gated depthwise blocks** (after NAFNet, Chen et al. ECCV 2022): LayerNorm, 1x1 expand,
  3x3 depthwise, SimpleGate, simplified channel attention, 1x1 project, and a residual scale
  initialised at zero. They learn much faster per step than plain conv+ReLU blocks.
* **Residual frames.** Each frame is the input plus a predicted residual. With
  ``reblur="srgb"`` (default) the seven residuals are made zero-mean across time, so the
  mean of the frames reproduces the input exactly (the blur model ``F`` = average of Sec. 3.3,
  built into the architecture); ``"linear"`` does the same in linear light (exact only while
  the linear frames stay inside [0, 1]: values outside are clipped by the sRGB conversion,
  which breaks the identity there and stops their gradient), ``"none"`` not at all.
* Weights start from N(0, 0.01) (Sec. 4.2); the residual scales start at zero, the output
  head does not (a zero head would make every frame equal and the pair/difference losses
  would have no gradient).

The default configuration has 36 ``Conv2d`` layers (stem 1; 7 gated blocks x 4: expand,
depthwise, channel attention, project; 3 downsamplers; 3 upsamplers; head 1 -- counted in
``tests/test_model.py``) and 0.83 M parameters; ``docs/performance.md`` gives GFLOPs and
timings at 720p.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from huggingface_hub import ModelHubMixin
from torch import nn

from . import weights_io
from ._fs import atomic_write_bytes
from .colour import linear_to_srgb, srgb_to_linear
from .errors import ConfigError

# srgb_to_linear / linear_to_srgb live in blurvid.colour; still importable from here
__all__ = ["Generator", "GeneratorConfig", "linear_to_srgb", "srgb_to_linear"]

NUM_FRAMES = 7

# Bounds of every size field: a config.json can come from a stranger (the Hub), and G is
# built from it before any weight is read, so nothing in it may ask for unbounded memory/time.
#: Largest ``width`` (channels of the first level).
MAX_WIDTH = 1024
#: Most encoder/decoder levels (each halves the resolution; 6 -> inputs padded to 128).
MAX_LEVELS = 6
#: Most gated blocks in one level (and at the bottleneck).
MAX_BLOCKS = 64
#: Most frames per image.
MAX_FRAMES = 64
#: Largest ``config.json`` read (blurvid writes ~200 bytes).
MAX_CONFIG_BYTES = 65_536
#: Most parameters of G (400 MB in float32; the default G has 0.83 M).
MAX_PARAMETERS = 100_000_000


# ----------------------------------------------------------------------------- config
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class GeneratorConfig:
    """The one source of truth for G's architecture; round-trips through ``config.json``.

    Attributes:
        width: channels at the first (half-resolution) level.
        enc_blocks: gated blocks per encoder level; each level after the first halves the
            resolution and doubles the width.
        middle_blocks: blocks at the bottleneck.
        dec_blocks: blocks per decoder level (same count of levels as ``enc_blocks``).
        num_frames: frames predicted per image (the paper: 7).
        reblur: ``"srgb"``, ``"linear"`` or ``"none"``: in which space the mean of the
            predicted frames is tied exactly to the input (see module docstring).
        init_std: standard deviation of the N(0, std) initialisation (paper: 0.01).
        init: ``"paper"``: every convolution starts from N(0, ``init_std``) (Sec. 4.2);
            ``"kaiming"``: PyTorch's default (Kaiming-uniform) for the body, as NAFNet, and
            N(0, ``init_std``) for the output head only. Only training from scratch reads it.
            With ``"paper"`` the gated blocks start as products of four tiny factors
            (expand x depthwise x gate x project, all N(0, 0.01)) behind a zero residual
            scale, and on the CPU budgets measured they never came alive: G stayed a linear
            filter (docs/training.md, "Learning speed").
    """

    width: int = 32
    enc_blocks: tuple[int, ...] = (1, 1, 1)
    middle_blocks: int = 1
    dec_blocks: tuple[int, ...] = (1, 1, 1)
    num_frames: int = NUM_FRAMES
    reblur: str = "srgb"
    init_std: float = 0.01
    init: str = "paper"

    def __post_init__(self) -> None:
        for name in ("enc_blocks", "dec_blocks"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or not all(_is_int(b) for b in value):
                raise ConfigError(f"{name} must be a list of integers, got {value!r}")
            object.__setattr__(self, name, tuple(int(b) for b in value))
        for name in ("middle_blocks", "num_frames"):
            if not _is_int(getattr(self, name)):
                raise ConfigError(f"{name} must be an integer, got {getattr(self, name)!r}")
        if isinstance(self.init_std, bool) or not isinstance(self.init_std, (int, float)):
            raise ConfigError(f"init_std must be a number, got {self.init_std!r}")
        if not _is_int(self.width) or self.width < 4 or self.width % 2:
            raise ConfigError(f"width must be an even integer >= 4, got {self.width!r}")
        if len(self.enc_blocks) != len(self.dec_blocks) or not self.enc_blocks:
            raise ConfigError(
                f"enc_blocks and dec_blocks need the same, non-zero number of levels, got "
                f"{self.enc_blocks} and {self.dec_blocks}"
            )
        if min(self.enc_blocks + self.dec_blocks + (self.middle_blocks,)) < 0:
            raise ConfigError("block counts must be >= 0")
        if self.num_frames < 2:
            raise ConfigError(f"num_frames must be >= 2, got {self.num_frames}")
        if self.reblur not in ("srgb", "linear", "none"):
            raise ConfigError(f"reblur must be 'srgb', 'linear' or 'none', got {self.reblur!r}")
        if self.init not in ("paper", "kaiming"):
            raise ConfigError(f"init must be 'paper' or 'kaiming', got {self.init!r}")
        if not 0 < self.init_std < float("inf"):
            raise ConfigError(f"init_std must be a finite number > 0, got {self.init_std}")
        self._check_bounds()

    def _check_bounds(self) -> None:
        bounds = [
            ("width", self.width, MAX_WIDTH),
            ("the number of levels (len(enc_blocks))", len(self.enc_blocks), MAX_LEVELS),
            ("blocks per level (enc_blocks, dec_blocks)", max(self.enc_blocks + self.dec_blocks), MAX_BLOCKS),
            ("middle_blocks", self.middle_blocks, MAX_BLOCKS),
            ("num_frames", self.num_frames, MAX_FRAMES),
        ]  # fmt: skip
        for name, value, limit in bounds:
            if value > limit:
                raise ConfigError(
                    f"{name} is {value}, over blurvid's limit of {limit}: the config is damaged "
                    f"or not a blurvid G config"
                )
        n = self.num_parameters()
        if n > MAX_PARAMETERS:
            raise ConfigError(
                f"this config implies a G of {n:,} parameters, over blurvid's limit of "
                f"{MAX_PARAMETERS:,}: the config is damaged or not a blurvid G config"
            )

    def num_parameters(self) -> int:
        """Parameters of the G this config builds, computed without building it (so that an
        untrusted ``config.json`` can be checked against its weights file first)."""

        def block(c: int) -> int:  # LayerNorm 2c, expand, depthwise, attention, project, beta
            return 2 * c + (2 * c * c + 2 * c) + (18 * c + 2 * c) + 2 * (c * c + c) + c

        w, n = self.width, self.num_frames
        widths = [w * 2**i for i in range(len(self.enc_blocks))]
        total = 12 * w * 9 + w  # stem
        for c, k_enc, k_dec in zip(widths, self.enc_blocks, reversed(self.dec_blocks)):
            total += (k_enc + k_dec) * block(c)  # decoders run from the deepest level up
            total += 8 * c * c + 2 * c  # 2x2 stride-2 downsampler
            total += 8 * c * c  # 1x1 upsampler (no bias)
        total += self.middle_blocks * block(2 * widths[-1])
        return total + w * n * 12 * 9 + n * 12  # head

    @property
    def size_multiple(self) -> int:
        """Inputs are padded internally to a multiple of this (stem x downsamplers)."""
        return 2 * 2 ** len(self.enc_blocks)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["enc_blocks"] = list(self.enc_blocks)
        d["dec_blocks"] = list(self.dec_blocks)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Build from a ``config.json`` dict; unknown keys are an error (no silent drift)."""
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
        data = {k: v for k, v in data.items() if not k.startswith("_")}  # _blurvid metadata
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"config.json has unknown keys {unknown}: it was written by another blurvid "
                f"version or another library. Known keys: {sorted(known)}"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"invalid config.json values: {exc}") from exc

    def to_json(self, path: str | Path) -> None:
        """Write ``config.json`` atomically (blurvid's one writer of that file: save_pretrained
        and :func:`blurvid.hub.save_folder` pass it to :func:`blurvid.weights_io.write_folder`)."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(path, text.encode())

    @classmethod
    def from_json(cls, path: str | Path) -> GeneratorConfig:
        """Read a ``config.json`` (bounded in size and in every field: it may come from a
        stranger), the one reader of that file."""
        try:
            size = Path(path).stat().st_size
            if size > MAX_CONFIG_BYTES:  # a few hundred bytes when written by blurvid
                raise ConfigError(
                    f"{path} is {size:,} bytes, over the {MAX_CONFIG_BYTES:,} a G config can "
                    f"take: it is not a blurvid config.json"
                )
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        return cls.from_dict(data)


# ----------------------------------------------------------------------------- blocks
class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a ``(B, C, H, W)`` tensor."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        x = (x - mu) * torch.rsqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class GatedBlock(nn.Module):
    """NAFNet-style block: ``x + beta * proj(SCA(gate(dw3x3(expand(LN(x))))))``, 4 convs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        self.norm = LayerNorm2d(c)
        self.expand = nn.Conv2d(c, 2 * c, 1)
        self.depthwise = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.project = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(self.expand(self.norm(x)))
        a, b = y.chunk(2, dim=1)
        y = a * b  # SimpleGate
        y = y * self.attention(y)
        return x + self.beta * self.project(y)


def _stage(channels: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[GatedBlock(channels) for _ in range(blocks)])


# ----------------------------------------------------------------------------- generator
class Generator(  # type: ignore[call-arg]  # (mypy reads nn.Module's __init_subclass__)
    nn.Module,
    ModelHubMixin,
    library_name="blurvid",
    tags=["blurvid", "deblurring", "video-extraction", "image-to-video"],
    repo_url="https://github.com/blurvid/blurvid",
    paper_url="https://doi.org/10.1145/3394171.3413929",
    license="mit",
):
    """G: blurry image ``(B, 3, H, W)`` in [0, 1] -> frames ``(B, 7, 3, H, W)`` (unclamped).

    Any ``H, W`` work: the input is reflect-padded to ``config.size_multiple`` and the output
    cropped back. ``forward`` does not clamp (training wants the raw values); the inference
    API (:func:`blurvid.extract_frames`) clamps to [0, 1].

    Save and load with :meth:`save_pretrained` / :meth:`from_pretrained` (``config.json`` +
    ``model.safetensors``, strict, safetensors only) or :func:`blurvid.load_model`.
    """

    _blurvid_metadata: dict[str, str]

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self._blurvid_metadata = {}
        if config is None:
            config = GeneratorConfig()
        if isinstance(config, dict):  # e.g. from the Hub mixin
            config = GeneratorConfig.from_dict(config)
        if not isinstance(config, GeneratorConfig):
            raise ConfigError(f"config must be a GeneratorConfig, got {type(config).__name__}")
        self.config = config
        self._hub_mixin_config = config.to_dict()
        w, n = config.width, config.num_frames
        widths = [w * 2**i for i in range(len(config.enc_blocks))]

        self.stem = nn.Conv2d(3 * 4, w, 3, padding=1)
        self.encoders = nn.ModuleList(_stage(c, k) for c, k in zip(widths, config.enc_blocks))
        self.downs = nn.ModuleList(nn.Conv2d(c, 2 * c, 2, stride=2) for c in widths)
        self.middle = _stage(2 * widths[-1], config.middle_blocks)
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * c, 4 * c, 1, bias=False), nn.PixelShuffle(2))
            for c in reversed(widths)
        )
        self.decoders = nn.ModuleList(
            _stage(c, k) for c, k in zip(reversed(widths), config.dec_blocks)
        )
        self.head = nn.Conv2d(w, n * 3 * 4, 3, padding=1)
        self.reset_parameters()

    # -- init (Sec. 4.2: N(0, 0.01)) -------------------------------------------------
    def reset_parameters(self) -> None:
        """N(0, ``init_std``) weights and zero biases: every convolution (``init="paper"``)
        or the head only (``"kaiming"``: the body keeps PyTorch's default initialisation)."""
        std = self.config.init_std
        convs = [self.head] if self.config.init == "kaiming" else self.modules()
        for m in convs:
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    # -- forward ---------------------------------------------------------------------
    def forward(self, blurry: torch.Tensor) -> torch.Tensor:
        """Args: blurry ``(B, 3, H, W)``. Returns: frames ``(B, num_frames, 3, H, W)``."""
        h, w = blurry.shape[-2:]
        m = self.config.size_multiple
        ph, pw = (-h) % m, (-w) % m
        x = blurry
        if ph or pw:
            mode = "reflect" if (ph < h and pw < w) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        return self._compose(blurry, self._residuals(x)[..., :h, :w])

    def _residuals(self, x: torch.Tensor) -> torch.Tensor:
        """The U-Net on ``x`` ``(B, 3, H, W)`` already padded to ``config.size_multiple``:
        per-frame residuals ``(B, num_frames, 3, H, W)`` before the re-blur constraint."""
        feat = self.stem(F.pixel_unshuffle(x, 2))
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            feat = enc(feat)
            skips.append(feat)
            feat = down(feat)
        feat = self.middle(feat)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            feat = dec(up(feat) + skip)
        res = F.pixel_shuffle(self.head(feat), 2)  # (B, n*3, H, W)
        return rearrange(res, "b (n c) h w -> b n c h w", n=self.config.num_frames)

    def _compose(self, blurry: torch.Tensor, residuals: torch.Tensor) -> torch.Tensor:
        """Frames = input + residuals, with the re-blur constraint of ``config.reblur``."""
        mode = self.config.reblur
        if mode == "none":
            return blurry.unsqueeze(1) + residuals
        residuals = residuals - residuals.mean(dim=1, keepdim=True)
        if mode == "srgb":
            return blurry.unsqueeze(1) + residuals
        # linear: mean over frames of linear-light values equals the linearised input
        lin = srgb_to_linear(blurry).unsqueeze(1) + residuals
        return linear_to_srgb(lin)

    # -- Hub / folder I/O: thin hooks; blurvid.weights_io (below this module) owns the files --
    def _save_pretrained(self, save_directory: Path) -> None:
        """Hook of ``save_pretrained`` / ``push_to_hub``: :meth:`_write_folder`."""
        self._write_folder(save_directory)

    def _write_folder(
        self,
        folder: weights_io.PathLike,
        *,
        dtype: torch.dtype | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Path:
        """``model.safetensors`` (``placeholder`` copied from :attr:`metadata`, then
        ``metadata``) and ``config.json`` (:meth:`GeneratorConfig.to_json`), atomically
        (:func:`blurvid.weights_io.write_folder`; public as :func:`blurvid.hub.save_folder`)."""
        meta = {"placeholder": self.metadata.get("placeholder", "false"), **(metadata or {})}
        return weights_io.write_folder(
            folder, self.state_dict(), self.config.to_json, dtype=dtype, metadata=meta
        )

    @classmethod
    def _load(cls, name_or_path: weights_io.PathLike, **kwargs: Any) -> Generator:
        """:func:`blurvid.weights_io.load` for G: every loader of G runs this."""
        return weights_io.load(
            name_or_path, read_config=GeneratorConfig.from_json, build=cls, **kwargs
        )

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        pretrained_model_name_or_path: weights_io.PathLike,
        *,
        revision: str | None = None,
        cache_dir: weights_io.PathLike | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        force_download: bool = False,
        device: str | torch.device | None = None,
        **kwargs: Any,
    ) -> Generator:
        """Load from a local folder or a Hub repo id (strict, safetensors only).

        Same as :func:`blurvid.load_model`, without the bundled ``"default"`` alias (a folder
        named ``default`` is that folder), plus ``force_download``. Hub files are fetched with
        ``huggingface_hub.hf_hub_download`` (its cache, ``revision``, ``HF_ENDPOINT`` and
        ``HF_HUB_OFFLINE`` apply); the resolved commit is recorded in
        ``model.metadata["revision"]``.
        """
        if kwargs:
            raise ConfigError(
                f"unexpected arguments {sorted(kwargs)}: the architecture comes from config.json"
            )
        return cls._load(
            pretrained_model_name_or_path,
            bundled=None,
            hub=True,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            force_download=force_download,
            device=device,
        )

    # -- introspection ------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def num_conv_layers(self) -> int:
        return sum(isinstance(m, nn.Conv2d) for m in self.modules())

    @property
    def metadata(self) -> dict[str, str]:
        """Where the weights came from (set by the loaders): source, revision, placeholder."""
        return weights_io.metadata_of(self)
