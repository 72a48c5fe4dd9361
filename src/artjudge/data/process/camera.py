"""Photographing a page: what a phone camera does to a painting between its stages.

Real processes arrive as photos of a page taken at each stage, each photo with its own
light, angle and framing. A judge that learned on clean renders would read those photo
differences as painting changes (a brighter photo as paint removed, a tilted one as a
layout shift), so the realistic generator (:mod:`artjudge.data.process.media`) passes its
frames through this camera. Per photo, drawn from the seeded ``rng``:

- exposure and white balance (per-channel gain);
- uneven lighting: a linear light gradient across the page and a vignette;
- slight perspective (the corners move by up to ``perspective`` of the side);
- scale and crop jitter (a crop of up to ``crop`` of each side, resized back);
- sensor noise and JPEG compression (quality 70-95).

``mode="fixed"`` draws the parameters once per process (a time-lapse on a tripod);
``mode="photo"`` draws them anew for every frame (a page photographed at each stage).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

CAMERA_MODES: tuple[str, ...] = ("none", "fixed", "photo")


@dataclass(frozen=True)
class CameraShot:
    """The parameters of one photo (all drawn by :meth:`draw`)."""

    exposure: float
    white_balance: tuple[float, float, float]
    light_gradient: tuple[float, float]  # brightness change across x and y (fraction)
    vignette: float  # darkening at the corners (fraction)
    corners: tuple[float, ...]  # 8 offsets of the perspective corners (fraction of side)
    crop: tuple[float, float, float]  # crop fraction, x offset share, y offset share
    noise: float  # sensor noise std (0-255 units)
    jpeg_quality: int

    @classmethod
    def draw(
        cls, rng: np.random.Generator, perspective: float = 0.03, crop: float = 0.06, strength: float = 1.0
    ) -> CameraShot:
        """A random photo; ``strength`` scales every effect (0: an exact copy but for JPEG)."""
        s = strength
        return cls(
            exposure=float(1 + s * rng.uniform(-0.12, 0.1)),
            white_balance=tuple(float(1 + s * g) for g in rng.uniform(-0.06, 0.06, 3)),  # type: ignore[arg-type]
            light_gradient=tuple(float(s * g) for g in rng.uniform(-0.12, 0.12, 2)),  # type: ignore[arg-type]
            vignette=float(s * rng.uniform(0.0, 0.18)),
            corners=tuple(float(s * c) for c in rng.uniform(-perspective, perspective, 8)),
            crop=(float(s * rng.uniform(0, crop)), float(rng.random()), float(rng.random())),
            noise=float(s * rng.uniform(0.5, 3.0)),
            jpeg_quality=int(rng.integers(70, 96)),
        )


def _light_field(h: int, w: int, shot: CameraShot) -> np.ndarray:
    """(H, W, 1) multiplicative light: gradient across the page times a vignette."""
    xn = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    yn = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    field = 1 + shot.light_gradient[0] * 2 * xn + shot.light_gradient[1] * 2 * yn
    field *= 1 - shot.vignette * (xn**2 + yn**2) * 2
    return field[..., None]


def _perspective(img: Image.Image, corners: Sequence[float], fill: tuple[int, int, int]) -> Image.Image:
    """Warp by moving the four corners slightly (a page not quite parallel to the lens)."""
    w, h = img.size
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(px + corners[2 * i] * w, py + corners[2 * i + 1] * h) for i, (px, py) in enumerate(src)]
    a, b = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):  # solve the map output (x, y) -> input (u, v)
        a += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        b += [u, v]
    coeffs = np.linalg.solve(np.array(a, np.float64), np.array(b, np.float64))
    return img.transform(
        (w, h), Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BILINEAR, fillcolor=fill
    )


def photograph(img: Image.Image, shot: CameraShot, rng: np.random.Generator) -> Image.Image:
    """``img`` as ``shot`` photographs it (same size, RGB, JPEG-compressed)."""
    img = img.convert("RGB")
    w, h = img.size
    arr = np.asarray(img, np.float32)
    border = tuple(
        int(v) for v in arr[::8, ::8].reshape(-1, 3).mean(axis=0) * 0.6
    )  # the table under the page
    if any(abs(c) > 1e-4 for c in shot.corners):
        img = _perspective(img, shot.corners, border)  # type: ignore[arg-type]
    c, ox, oy = shot.crop
    if c > 1e-4:
        cw, ch = w * (1 - c), h * (1 - c)
        x0, y0 = ox * (w - cw), oy * (h - ch)
        img = img.resize((w, h), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    arr = np.asarray(img, np.float32) * shot.exposure * np.asarray(shot.white_balance, np.float32)
    arr = arr * _light_field(h, w, shot)
    arr += shot.noise * rng.standard_normal(arr.shape, dtype=np.float32)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=shot.jpeg_quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def photograph_all(
    frames: Sequence[Image.Image], rng: np.random.Generator, mode: str = "photo", strength: float = 1.0
) -> list[Image.Image]:
    """Every frame through the camera: one shot for all (``fixed``) or one each (``photo``)."""
    if mode not in CAMERA_MODES:
        raise ValueError(f"camera mode {mode!r}: expected one of {', '.join(CAMERA_MODES)}")
    if mode == "none":
        return [f.convert("RGB") for f in frames]
    fixed = CameraShot.draw(rng, strength=strength)
    return [
        photograph(f, fixed if mode == "fixed" else CameraShot.draw(rng, strength=strength), rng)
        for f in frames
    ]
