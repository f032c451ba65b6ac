"""Procedural scenes without limit: "dead leaves" of textured shapes, some moving on their own.

Photos run out (the project has 33 training photos, and G memorised them); a generator does not.
Restoration networks trained on dead-leaves images -- opaque random shapes with power-law sizes
stacked on one another -- come close to networks trained on natural photos (Achddou et al.,
"Synthetic images as a regularity prior for image restoration neural networks", 2021;
"VibrantLeaves", 2025), because the power law gives them the scale invariance and occlusion
statistics of natural scenes. For motion blur a generator has one more advantage: every shape
can move on its own, so moving objects and their occlusions are exact.

:func:`render_leaves` draws one sample:

1. **The scene** (:func:`leaves_image`): a canvas a little larger than the output, covered by
   one shape larger than it and then ``LeavesConfig.shapes`` shapes per 100x100 pixels, back
   to front (their patches are rasterised in batches by size, then composited). Each shape is a
   disc (an ellipse) or a convex polygon (3-8 sides; rectangles are the 4-sided case) with a
   random aspect ratio and angle; its radius ``r`` follows the dead-leaves power law
   ``p(r) ~ r^-alpha`` on ``LeavesConfig.radius``; its edge is anti-aliased, sharp or a little
   defocused (``edge``, in pixels). Its fill is a texture (``textures``): flat, a linear
   gradient, a periodic grating (soft or hard stripes), 1/f noise, or a patch cut from one of
   the given photos; the colours are pixels of those photos when there are any (natural colour
   statistics), else random.
2. **Camera motion** of the whole scene over the exposure: the scene is the "photo" of
   :func:`~blurvid.data.shake.render_shake` (its Bezier path, rotation and zoom,
   ``LeavesConfig.shake``), so the camera of both sources is one implementation.
3. **Moving shapes** (``movers``): shapes with their own motion (translation along a Bezier
   path, rotation, scale) drawn **analytically at every sub-frame's own time** in linear light
   on top of the scene -- no resampling of a rendered sprite.
4. **The exposure and the camera** (:func:`~blurvid.data.camera.expose`): the average in linear
   light, clipping, noise, tone curve and JPEG as ``LeavesConfig.shake.camera`` says.

Every random draw comes from one CPU ``torch.Generator`` (:func:`~blurvid.data.base.item_generator`
of ``(seed, index)`` in :class:`LeavesDataset`), so a sample is reproducible from its seed; the
tensors live on ``device``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F

from ..colour import srgb_to_linear
from ..errors import ConfigError, DataError
from .base import PathLike, Sample, _randint, _SeededDataset, item_generator
from .shake import ShakeConfig, _bezier_path, _photo_list, _shake_scene, load_photos

__all__ = ["TEXTURES", "LeavesConfig", "LeavesDataset", "leaves_image", "render_leaves"]

#: Texture kinds of a shape's fill (weights in ``LeavesConfig.textures``, in this order).
TEXTURES = ("flat", "gradient", "periodic", "noise", "photo")

_NOISE_SIZE = 64  # side of the per-sample 1/f noise texture


@dataclass(frozen=True)
class LeavesConfig:
    """Parameters of :func:`render_leaves` (lengths in output pixels).

    Attributes:
        shapes: (min, max) number of shapes per 100x100 pixels of scene (dead leaves fill
            the plane: the count grows with the area).
        radius: (min, max) shape radius; radii follow ``p(r) ~ r^-alpha`` between them.
        alpha: Power-law exponent (3: the scale-invariant dead-leaves model).
        aspect: (min, max) ratio of a shape's short to its long axis.
        polygon_prob: Probability that a shape is a polygon (else an ellipse).
        edge: (min, max) width of a shape's edge (log-uniform); 1 is a pixel-sharp edge,
            larger values a defocused one.
        textures: Weights of the fill kinds :data:`TEXTURES` (``photo`` needs photos; without
            them its weight goes to ``noise``).
        movers: (min, max) number of shapes that move on their own over the exposure.
        mover_radius: (min, max) radius of a moving shape.
        mover_path_length: (min, max) arc length of a moving shape's path.
        mover_rotation_deg: A moving shape turns by up to this many degrees.
        mover_scale: A moving shape's size changes by up to this fraction (approach/recede).
        shake: The camera's motion, the exposure, the sub-frames, the targets, the noise and
            the camera realism (:class:`~blurvid.data.shake.ShakeConfig`; its ``size`` is the
            output size; its sprite and photo-scale fields are not used: the moving shapes
            replace the sprites and the scene is drawn at the output's scale).
    """

    shapes: tuple[int, int] = (70, 200)
    radius: tuple[float, float] = (3.0, 100.0)
    alpha: float = 3.0
    aspect: tuple[float, float] = (0.3, 1.0)
    polygon_prob: float = 0.5
    edge: tuple[float, float] = (0.7, 3.0)
    textures: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2)
    movers: tuple[int, int] = (0, 3)
    mover_radius: tuple[float, float] = (6.0, 40.0)
    mover_path_length: tuple[float, float] = (4.0, 32.0)
    mover_rotation_deg: float = 20.0
    mover_scale: float = 0.1
    shake: ShakeConfig = field(default_factory=ShakeConfig)

    def __post_init__(self) -> None:
        for name in ("shapes", "radius", "aspect", "edge", "movers", "mover_radius"):
            lo, hi = getattr(self, name)
            if lo > hi or lo < 0:
                raise ConfigError(
                    f"LeavesConfig.{name} must be (min, max) with 0 <= min <= max, got {(lo, hi)}"
                )
        lo, hi = self.mover_path_length
        if lo > hi or lo < 0:
            raise ConfigError(f"LeavesConfig.mover_path_length must be (min, max), got {(lo, hi)}")
        if self.radius[0] <= 0 or self.aspect[0] <= 0 or self.edge[0] <= 0:
            raise ConfigError("LeavesConfig.radius, aspect and edge must be > 0")
        if self.aspect[1] > 1:
            raise ConfigError("LeavesConfig.aspect is a short/long ratio: at most 1")
        if len(self.textures) != len(TEXTURES) or min(self.textures) < 0 or sum(self.textures) <= 0:
            raise ConfigError(
                f"LeavesConfig.textures needs {len(TEXTURES)} weights >= 0 ({', '.join(TEXTURES)})"
                f", not all zero; got {self.textures}"
            )
        if not 0 <= self.polygon_prob <= 1:
            raise ConfigError("LeavesConfig.polygon_prob must be in [0, 1]")
        if self.alpha <= 0 or self.alpha == 1:
            raise ConfigError("LeavesConfig.alpha must be > 0 and != 1")
        if self.mover_scale < 0 or self.mover_scale >= 1 or self.mover_rotation_deg < 0:
            raise ConfigError("LeavesConfig.mover_scale must be in [0, 1), mover_rotation_deg >= 0")

    def replace(self, **changes: Any) -> LeavesConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)

    @property
    def size(self) -> int:
        """Output size (``shake.size``)."""
        return self.shake.size


# ----------------------------------------------------------------------------- shapes
@dataclass
class _Shapes:
    """``K`` shapes as tensors of their parameters (first dimension ``K``): geometry in each
    shape's own frame (pixels), edge width and fill. All draws come from
    :func:`_draw_shapes`, in bulk, so a scene of a thousand shapes costs a few generator
    calls."""

    radius: torch.Tensor  # (K,)
    aspect: torch.Tensor  # (K,) short / long axis
    polygon: torch.Tensor  # (K,) bool: a polygon (else an ellipse)
    normals: torch.Tensor  # (K, 8, 2) outward unit normals (unused slots repeat the first)
    offset: torch.Tensor  # (K,) polygon: distance of the edges from the centre
    edge: torch.Tensor  # (K,) edge width in pixels
    texture: torch.Tensor  # (K,) index into TEXTURES
    c0: torch.Tensor  # (K, 3) sRGB
    c1: torch.Tensor  # (K, 3) sRGB
    direction: torch.Tensor  # (K,) radians: of the gradient / grating
    period: torch.Tensor  # (K,) grating period in pixels
    phase: torch.Tensor  # (K,)
    hardness: torch.Tensor  # (K,) 1: soft grating, 8: stripes
    tex_scale: torch.Tensor  # (K,) noise / photo texture: texture pixels per shape pixel
    tex_offset: torch.Tensor  # (K, 2) where in the texture the shape's centre falls ([-1, 1])

    def __len__(self) -> int:
        return int(self.radius.shape[0])

    def select(self, idx: slice | torch.Tensor) -> _Shapes:
        return _Shapes(**{k: v[idx] for k, v in vars(self).items()})

    def to(self, device: torch.device) -> _Shapes:
        return _Shapes(**{k: v.to(device) for k, v in vars(self).items()})


def _power_law(u: torch.Tensor, lo: float, hi: float, alpha: float) -> torch.Tensor:
    """Radii from ``p(r) ~ r^-alpha`` on ``[lo, hi]`` by the inverse CDF of uniforms ``u``."""
    if hi <= lo:
        return torch.full_like(u, lo)
    e = 1.0 - alpha
    return (lo**e + u * (hi**e - lo**e)) ** (1.0 / e)


def _log_uniform(u: torch.Tensor, lo: float, hi: float | torch.Tensor) -> torch.Tensor:
    hi_t = torch.as_tensor(hi, dtype=u.dtype)
    return torch.exp(math.log(lo) + u * (torch.log(hi_t) - math.log(lo)))


def _random_colours(u: torch.Tensor) -> torch.Tensor:
    """``(K, 3)`` sRGB colours from ``(K, 3)`` uniforms: a hue, a saturation skewed to grey
    and a value skewed to bright (HSV)."""
    h, s, v = u[:, 0], u[:, 1] ** 1.5, (0.03 + 0.97 * u[:, 2]) ** 0.8
    k = (torch.tensor([5.0, 3.0, 1.0], dtype=u.dtype)[None] + 6.0 * h[:, None]) % 6.0
    return v[:, None] - (v * s)[:, None] * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


class _Palette:
    """Colours and the photo texture of one scene: one photo's pixels and a patch of it
    (natural colour statistics), else random colours and no photo texture."""

    ATLAS = 96  # side of the photo texture

    def __init__(
        self, photos: Sequence[Sequence[torch.Tensor]] | None, gen: torch.Generator
    ) -> None:
        self.pixels: torch.Tensor | None = None
        self.atlas: torch.Tensor | None = None
        if not photos:
            return
        pyr = photos[_randint(gen, 0, len(photos) - 1)]
        small = pyr[-1]
        self.pixels = small.reshape(3, -1).T  # (P, 3)
        levels = [lv for lv in pyr if min(lv.shape[-2:]) >= self.ATLAS]
        if levels:
            img = levels[_randint(gen, 0, len(levels) - 1)]
            y = _randint(gen, 0, img.shape[-2] - self.ATLAS)
            x = _randint(gen, 0, img.shape[-1] - self.ATLAS)
            self.atlas = img[:, y : y + self.ATLAS, x : x + self.ATLAS]

    def colours(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``(n, 3)`` sRGB float32 colours."""
        if self.pixels is None:
            return _random_colours(torch.rand(n, 3, generator=gen, dtype=torch.float64)).float()
        idx = torch.randint(0, self.pixels.shape[0], (n,), generator=gen)
        c = self.pixels[idx].float()
        return c / 255.0 if self.pixels.dtype == torch.uint8 else c

    def texture(self, device: torch.device) -> torch.Tensor | None:
        """``(1, 3, A, A)`` float sRGB photo texture on ``device`` (``None`` without photos)."""
        if self.atlas is None:
            return None
        a = self.atlas.to(device).float()
        return (a / 255.0 if self.atlas.dtype == torch.uint8 else a)[None]


def _draw_shapes(
    cfg: LeavesConfig, gen: torch.Generator, palette: _Palette, radius: torch.Tensor
) -> _Shapes:
    """Random geometry and fills of ``len(radius)`` shapes (their own frames)."""
    K = int(radius.shape[0])
    u = torch.rand(K, 14, generator=gen, dtype=torch.float64)
    jitter = torch.rand(K, 8, generator=gen, dtype=torch.float64) - 0.5
    aspect = cfg.aspect[0] + u[:, 0] * (cfg.aspect[1] - cfg.aspect[0])
    polygon = u[:, 1] < cfg.polygon_prob
    sides = (3 + (u[:, 2] * 6).floor()).clamp(3, 8)  # 3..8
    j = torch.arange(8, dtype=torch.float64)[None]
    ang = 2 * math.pi * u[:, 3:4] + (j + 0.5 + 0.5 * jitter) * (2 * math.pi / sides[:, None])
    ang = torch.where(j < sides[:, None], ang, ang[:, :1])  # unused slots repeat the first
    normals = torch.stack([torch.cos(ang), torch.sin(ang)], -1)
    offset = torch.where(polygon, radius * torch.cos(math.pi / sides), radius)
    edge = _log_uniform(u[:, 4], *cfg.edge)
    w = torch.tensor(cfg.textures, dtype=torch.float64)
    if palette.atlas is None:  # no photo texture: its share goes to noise
        w[TEXTURES.index("noise")] += w[TEXTURES.index("photo")]
        w[TEXTURES.index("photo")] = 0.0
    texture = (
        torch.multinomial(w, K, replacement=True, generator=gen)
        if K
        else torch.zeros(0, dtype=torch.long)
    )
    colours = palette.colours(2 * K, gen)
    return _Shapes(
        radius=radius.float(),
        aspect=aspect.float(),
        polygon=polygon,
        normals=normals.float(),
        offset=offset.float(),
        edge=edge.float(),
        texture=texture,
        c0=colours[:K],
        c1=colours[K:],
        direction=(2 * math.pi * u[:, 5]).float(),
        period=_log_uniform(u[:, 6], 3.0, radius.clamp_min(4.0)).float(),
        phase=(2 * math.pi * u[:, 7]).float(),
        hardness=torch.where(u[:, 8] < 0.5, 1.0, 8.0).float(),
        tex_scale=_log_uniform(u[:, 9], 0.25, 2.0).float(),
        tex_offset=(u[:, 10:12] * 2 - 1).float(),
    )


def _rasterise(
    s: _Shapes,
    lx: torch.Tensor,
    ly: torch.Tensor,
    noise: torch.Tensor,
    photo: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coverage ``(K, h, w)`` and sRGB fill ``(K, 3, h, w)`` of ``K`` shapes at the points
    ``(lx, ly)`` ``(K, h, w)`` of their own frames, in pixels (a shape of ``s`` may also be
    broadcast over ``K`` poses: then ``len(s) == 1``). The edge is anti-aliased over
    ``s.edge`` pixels of the signed distance (1: a pixel-sharp edge)."""
    dev = lx.device

    def col(x: torch.Tensor) -> torch.Tensor:  # (K,) -> (K, 1, 1)
        return x.to(dev)[:, None, None]

    aspect, radius = col(s.aspect), col(s.radius)
    qx, qy = lx, ly / aspect
    poly = s.polygon.to(dev)
    # distances in pixels: divide by |grad d| (the axes differ by the aspect)
    d = g = torch.zeros_like(lx)
    if not bool(poly.all()):
        r = torch.sqrt(qx * qx + qy * qy).clamp_min(1e-6)
        d, g = r - radius, torch.sqrt(qx * qx + (qy / aspect) ** 2) / r
    if bool(poly.any()):
        normals = s.normals
        if len(s) == 1:  # one shape: only its own sides (the unused slots repeat the first)
            normals = normals[:, : int((normals != normals[:, :1]).any(-1).sum()) + 1]
        nx, ny = normals[..., 0].to(dev), normals[..., 1].to(dev)  # (K, n)
        dots = qx[..., None] * nx[:, None, None] + qy[..., None] * ny[:, None, None]
        d_poly, k = dots.max(-1)
        gn = torch.sqrt(nx * nx + (ny / s.aspect.to(dev)[:, None]) ** 2)  # (K, n)
        g_poly = torch.gather(gn[:, None, None].expand(*k.shape, -1), -1, k[..., None])[..., 0]
        d = torch.where(col(poly), d_poly - col(s.offset), d)
        g = torch.where(col(poly), g_poly, g)
    alpha = (0.5 - d / (g.clamp_min(1e-6) * col(s.edge))).clamp(0.0, 1.0)

    tex = s.texture.to(dev)
    m = torch.zeros_like(lx)
    if bool(((tex == 1) | (tex == 2)).any()):
        u = lx * col(torch.cos(s.direction)) + ly * col(torch.sin(s.direction))
        m = torch.where(col(tex == 1), (0.5 + u / (2 * radius)).clamp(0.0, 1.0), m)
        wave = torch.sin(u * col(2 * math.pi / s.period) + col(s.phase))
        m = torch.where(col(tex == 2), (0.5 + 0.5 * col(s.hardness) * wave).clamp(0.0, 1.0), m)
    K = lx.shape[0]
    n_shapes = len(s)

    def sample(texture: torch.Tensor, size: int) -> torch.Tensor:  # (1, C, A, A) -> (K, C, h, w)
        half = size / 2 / col(s.tex_scale)
        off = s.tex_offset.to(dev)
        grid = torch.stack(
            [lx / half + off[:, None, None, 0], ly / half + off[:, None, None, 1]], -1
        )
        if n_shapes == 1 and K > 1:
            grid = grid.reshape(1, K * lx.shape[1], lx.shape[2], 2)
            out = F.grid_sample(texture, grid, "bilinear", "reflection", align_corners=False)
            return out.reshape(texture.shape[1], K, *lx.shape[1:]).transpose(0, 1)
        return F.grid_sample(
            texture.expand(K, -1, -1, -1), grid, "bilinear", "reflection", align_corners=False
        )

    if bool((tex == 3).any()):
        m = torch.where(col(tex == 3), sample(noise.to(dev), _NOISE_SIZE)[:, 0], m)
    c0, c1 = s.c0.to(dev)[:, :, None, None], s.c1.to(dev)[:, :, None, None]
    rgb = c0 + (c1 - c0) * m[:, None]
    if photo is not None and bool((tex == 4).any()):
        rgb = torch.where(col(tex == 4)[:, None], sample(photo, photo.shape[-1]), rgb)
    return alpha, rgb


def _noise_texture(gen: torch.Generator) -> torch.Tensor:
    """``(1, 1, 64, 64)`` 1/f noise in [0, 1]: octaves of random values, bilinearly enlarged,
    each octave's amplitude halved with its period."""
    acc = torch.zeros(1, 1, _NOISE_SIZE, _NOISE_SIZE)
    n, amp = 4, 1.0
    while n <= _NOISE_SIZE:
        o = torch.rand(1, 1, n, n, generator=gen)
        acc += amp * F.interpolate(o, size=(_NOISE_SIZE,) * 2, mode="bilinear", align_corners=False)
        n, amp = n * 2, amp / 2
    lo, hi = acc.amin(), acc.amax()
    return (acc - lo) / (hi - lo).clamp_min(1e-6)


#: Shapes are rasterised in batches of patches up to these sides (then the rest at once).
_SIZE_CLASSES = (13, 25, 49, 97)


def leaves_image(
    size: int | tuple[int, int],
    cfg: LeavesConfig | None = None,
    generator: torch.Generator | None = None,
    photos: Sequence[Sequence[torch.Tensor]] | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """A still dead-leaves scene (step 1 of the module docstring).

    Args:
        size: Height and width (an int for a square).
        cfg: Scene parameters (its ``shake`` field is not used here).
        generator: CPU generator of every draw (a fresh unseeded one if ``None``).
        photos: Pyramids from :func:`~blurvid.data.shake.load_photos` for colours and the
            ``photo`` texture (``None``: random colours, no photo texture).
        device: Where to draw (default CPU).

    Returns:
        ``(3, H, W)`` float32 sRGB in [0, 1].
    """
    cfg = cfg if cfg is not None else LeavesConfig()
    gen = generator if generator is not None else torch.Generator()
    H, W = (size, size) if isinstance(size, int) else size
    dev = torch.device(device) if device is not None else torch.device("cpu")
    palette = _Palette(photos, gen)
    noise, photo = _noise_texture(gen).to(dev), palette.texture(dev)
    # the bottom layer: one shape larger than the canvas (every pixel covered)
    n = round(_randint(gen, *cfg.shapes) * H * W / 1e4) + 1
    u = torch.rand(n, 3, generator=gen, dtype=torch.float64)
    radius = _power_law(u[:, 0], cfg.radius[0], cfg.radius[1], cfg.alpha)
    radius[0] = 2.0 * max(H, W)
    shapes = _draw_shapes(cfg, gen, palette, radius)
    shapes.polygon[0] = False
    shapes.aspect[0] = 1.0
    cx = (u[:, 1] * (W + radius) - radius / 2).float()
    cy = (u[:, 2] * (H + radius) - radius / 2).float()
    cx[0], cy[0] = W / 2, H / 2
    ext = (shapes.radius + 2 * shapes.edge + 1).ceil()
    side = (2 * ext + 1).long().tolist()
    # rasterise by size class (independent of the order), then composite back to front
    ang = 2 * math.pi * torch.rand(n, generator=gen, dtype=torch.float64).float()
    cos, sin = torch.cos(ang), torch.sin(ang)
    patches: list[tuple[int, int, torch.Tensor, torch.Tensor] | None] = [None] * n  # x0, y0
    sides = torch.tensor(side)
    classes = [torch.nonzero((sides > lo) & (sides <= hi)).flatten()
               for lo, hi in zip((0, *_SIZE_CLASSES), _SIZE_CLASSES)]  # fmt: skip
    classes += [i[None] for i in torch.nonzero(sides > _SIZE_CLASSES[-1]).flatten()]
    for idx in classes:
        if idx.numel() == 0:
            continue
        P = int(sides[idx].max())
        x0 = (cx[idx] - P // 2).floor().long()
        y0 = (cy[idx] - P // 2).floor().long()
        gx = gy = torch.arange(P)[None] + torch.zeros(len(idx), 1, dtype=torch.long)
        if len(idx) == 1:  # a large shape: only its part inside the canvas
            gx = torch.arange(max(int(x0), 0), min(int(x0) + P, W))[None] - x0[:, None]
            gy = torch.arange(max(int(y0), 0), min(int(y0) + P, H))[None] - y0[:, None]
            if gx.numel() == 0 or gy.numel() == 0:
                continue
            x0, y0 = x0 + gx[:, 0], y0 + gy[:, 0]
            gx, gy = gx - gx[:, :1], gy - gy[:, :1]
        lxu = (x0[:, None] + gx).float() - cx[idx, None]  # (K, w) unrotated
        lyu = (y0[:, None] + gy).float() - cy[idx, None]  # (K, h)
        c, s = cos[idx, None, None], sin[idx, None, None]
        lx = (c * lxu[:, None, :] + s * lyu[:, :, None]).to(dev)
        ly = (-s * lxu[:, None, :] + c * lyu[:, :, None]).to(dev)
        alpha, rgb = _rasterise(shapes.select(idx), lx, ly, noise, photo)
        for k, (i, xa, ya) in enumerate(zip(idx.tolist(), x0.tolist(), y0.tolist())):
            patches[i] = (xa, ya, alpha[k], rgb[k])
    img = torch.zeros(3, H, W, device=dev)
    for patch in patches:
        if patch is None:  # outside the canvas
            continue
        xa, ya, a, rgb = patch
        ph, pw = a.shape
        xs, ys, xe, ye = max(xa, 0), max(ya, 0), min(xa + pw, W), min(ya + ph, H)
        if xe <= xs or ye <= ys:
            continue
        win = img[:, ys:ye, xs:xe]
        a = a[ys - ya : ye - ya, xs - xa : xe - xa]
        win.add_(a * (rgb[:, ys - ya : ye - ya, xs - xa : xe - xa] - win))
    return img.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------- sample
def _canvas_side(cfg: LeavesConfig) -> int:
    """A scene large enough for every camera motion of ``cfg.shake`` at scale 1."""
    sh = cfg.shake
    return math.ceil(1.15 * sh.size * (1 + sh.zoom) + 2 * sh.path_length[1] + 16)


def render_leaves(
    cfg: LeavesConfig | None = None,
    generator: torch.Generator | None = None,
    photos: Sequence[Sequence[torch.Tensor]] | None = None,
    device: str | torch.device | None = None,
    debug: bool = False,
) -> dict[str, Any]:
    """Render one blurry image and its 7 sharp frames of a procedural scene.

    Args:
        cfg: Scene, motion and camera parameters.
        generator: CPU generator of every draw (pass one from
            :func:`~blurvid.data.base.item_generator` for reproducibility).
        photos: Pyramids (:func:`~blurvid.data.shake.load_photos`) for colours and patches.
        device: Where to render (default CPU).
        debug: Also return ``"subframes"`` (sRGB, before noise), ``"trajectory"`` (the
            camera's), ``"movers"`` ``(M, 7k, 2)``: each moving shape's centre in output
            pixels from the image centre (x right, y down) at the sub-frames' times
            ``"mover_times"`` ``(7k,)``, ``"mover_targets"`` ``(M, 7, 2)`` the same at the
            target frames' instants, and ``"camera"`` (the drawn realism parameters).

    Returns:
        ``{"blurry": (3, S, S), "frames": (7, 3, S, S)}`` float32 in [0, 1] (plus the debug
        entries).
    """
    cfg = cfg if cfg is not None else LeavesConfig()
    gen = generator if generator is not None else torch.Generator()
    dev = torch.device(device) if device is not None else torch.device("cpu")
    sh = cfg.shake
    scene_cfg = sh.replace(sprites=(0, 0), photo_scale=(1.0, 1.0))
    canvas = leaves_image(_canvas_side(cfg), cfg, gen, photos, dev)
    scene = _shake_scene(canvas, scene_cfg, gen)
    frames_lin, times = scene.frames_lin, scene.times.to(torch.float64)
    S = sh.size
    centre = (S - 1) / 2
    palette = _Palette(photos, gen)
    noise, photo = _noise_texture(gen).to(dev), palette.texture(dev)
    ys = torch.arange(S, dtype=torch.float64) - centre
    n_movers = _randint(gen, *cfg.movers)
    u = torch.rand(n_movers, 8, generator=gen, dtype=torch.float64)
    radius = cfg.mover_radius[0] + u[:, 0] * (cfg.mover_radius[1] - cfg.mover_radius[0])
    movers = _draw_shapes(cfg, gen, palette, radius)
    paths = []
    for m in range(n_movers):
        start = (u[m, 1:3] * 2 - 1) * (S / 2)
        length = cfg.mover_path_length[0] + float(u[m, 3]) * (
            cfg.mover_path_length[1] - cfg.mover_path_length[0]
        )
        path = start + _bezier_path(length, times, gen, sh.curvature, sh.speed_variation, None)
        turn = math.radians(cfg.mover_rotation_deg) * (2 * float(u[m, 4]) - 1)
        phi = 2 * math.pi * float(u[m, 5]) + turn * (times - 0.5)
        grow = math.log1p(cfg.mover_scale * (2 * float(u[m, 6]) - 1))
        scale = torch.exp(grow * (times - 0.5))
        paths.append(path)
        ext = float(radius[m]) * float(scale.max()) + 2 * float(movers.edge[m]) + 1
        x0 = max(0, math.floor(float(path[:, 0].min()) + centre - ext))
        x1 = min(S, math.ceil(float(path[:, 0].max()) + centre + ext) + 1)
        y0 = max(0, math.floor(float(path[:, 1].min()) + centre - ext))
        y1 = min(S, math.ceil(float(path[:, 1].max()) + centre + ext) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        # each sub-frame's own pose: local = R(-phi_t) (x - c_t) / scale_t
        dx = ys[x0:x1][None, None, :] - path[:, 0, None, None]  # (T, 1, bw)
        dy = ys[y0:y1][None, :, None] - path[:, 1, None, None]  # (T, bh, 1)
        c, sn = torch.cos(phi)[:, None, None], torch.sin(phi)[:, None, None]
        sc = scale[:, None, None]
        lx = ((c * dx + sn * dy) / sc).float().to(dev)
        ly = ((-sn * dx + c * dy) / sc).float().to(dev)
        a, rgb = _rasterise(movers.select(slice(m, m + 1)), lx, ly, noise, photo)
        win = frames_lin[:, :, y0:y1, x0:x1]
        fill = srgb_to_linear(rgb) if sh.linear_light else rgb
        frames_lin[:, :, y0:y1, x0:x1] = win + a[:, None] * (fill - win)
    out = scene.expose(sh, gen, debug)
    if debug:
        nk = scene.nk
        out["movers"] = (
            torch.stack([p[:nk] for p in paths]).float() if paths else torch.zeros(0, nk, 2)
        )
        out["mover_times"] = times[:nk].float()
        out["mover_targets"] = (
            torch.stack([p[scene.tgt_idx] for p in paths]).float()
            if paths
            else torch.zeros(0, sh.num_frames, 2)
        )
    return out


class LeavesDataset(_SeededDataset):
    """Procedural dead-leaves samples (:func:`render_leaves`), item ``i`` from
    ``item_generator(seed, i)`` (``seed`` mixed with the epoch after epoch 0).

    Args:
        cfg: Scene, motion and camera parameters (``cfg.shake.size`` is the sample size).
        photos: Optional photos for colours and photo textures (a folder, paths, tensors, or
            pyramids from :func:`~blurvid.data.shake.load_photos`).
        length: Items per epoch.
        seed: Seed of the sample stream.
        max_side: Downscale larger photos to this long side when loading.

    Raises:
        DataError: A missing/empty photo folder or an unreadable photo.
    """

    def __init__(
        self,
        cfg: LeavesConfig | None = None,
        photos: PathLike | Sequence[Any] | None = None,
        length: int = 10_000,
        seed: int = 0,
        max_side: int | None = 640,
    ) -> None:
        self.cfg = cfg if cfg is not None else LeavesConfig()
        if photos is None:
            self.photos: list = []
        elif not isinstance(photos, (str, bytes)) and _is_pyramids(photos):
            self.photos = [list(p) for p in photos]  # type: ignore[union-attr]
        else:
            self.photos = load_photos(_photo_list(photos), max_side=max_side)
        self.length, self.seed = int(length), int(seed)
        if self.length <= 0:
            raise DataError("LeavesDataset: length must be > 0")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        self._check_index(index)
        seed = self._stream_seed()
        s = render_leaves(self.cfg, item_generator(seed, index), self.photos or None)
        return {"blurry": s["blurry"], "frames": s["frames"]}


def _is_pyramids(photos: Any) -> bool:
    try:
        first = next(iter(photos))
    except (TypeError, StopIteration):
        return False
    return isinstance(first, (list, tuple)) and bool(first) and isinstance(first[0], torch.Tensor)
