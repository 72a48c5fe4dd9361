"""Named colours, a cheap saliency map and low-resolution maps for consistency checks.

A prompt's colour word ("a *red* car") is checked by measuring how much of the image's
salient region has that colour. No segmentation model installs offline, so the region is
the saliency-weighted image: Lab contrast to the image's mean colour, times a centre
prior (generated images put their subject near the centre). Pixels are named by simple,
documented HSV rules (hue sectors; black, white and grey by value and saturation), the
way colour-naming studies bin the hue circle; that is coarse, but it is measured, and
it does not depend on which prompts trained anything.

The same thumbnails give the layout map (saliency and edges) and the Lab palette that
reference consistency compares.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from artjudge.features.colourspace import rgb8_to_lab, rgb_to_hsv
from artjudge.features.saliency import centre_prior_saliency

# Basic colour terms; hue sectors in degrees (start inclusive, end exclusive).
COLOURS: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
)
SYNONYMS: dict[str, str] = {
    "grey": "gray",
    "golden": "yellow",
    "gold": "yellow",
    "silver": "gray",
    "cyan": "blue",
    "teal": "blue",
    "turquoise": "blue",
    "navy": "blue",
    "violet": "purple",
    "magenta": "pink",
    "crimson": "red",
    "scarlet": "red",
    "beige": "brown",
    "tan": "brown",
    "blond": "yellow",
    "blonde": "yellow",
    "redhair": "red",
    "azure": "blue",
    "lime": "green",
    "maroon": "red",
    "olive": "green",
}
_HUE_SECTORS: tuple[tuple[str, float, float], ...] = (
    ("red", 345.0, 360.0),
    ("red", 0.0, 15.0),
    ("orange", 15.0, 40.0),
    ("yellow", 40.0, 70.0),
    ("green", 70.0, 165.0),
    ("blue", 165.0, 260.0),
    ("purple", 260.0, 300.0),
    ("pink", 300.0, 345.0),
)


def canonical_colour(word: str) -> str | None:
    """The basic colour a word names ("grey" -> "gray", "golden" -> "yellow"), or None."""
    w = word.lower().strip()
    if w in COLOURS:
        return w
    return SYNONYMS.get(w)


def thumbnail(image: Image.Image, size: int = 64) -> np.ndarray:
    """(size, size, 3) uint8 RGB: the whole image squashed to a square, like the encoder sees it."""
    img = image if image.mode == "RGB" else image.convert("RGB")
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (degrees), saturation and value of uint8 RGB, float32, by the one HSV conversion."""
    hsv = rgb_to_hsv(rgb.astype(np.float32) / 255.0)
    return hsv[..., 0], hsv[..., 1], hsv[..., 2]


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (..., len(COLOURS)) one-hot colour names by the HSV rules."""
    hue, sat, val = _hsv(rgb)
    out = np.zeros(hue.shape + (len(COLOURS),), dtype=np.float32)
    idx = {c: i for i, c in enumerate(COLOURS)}
    black = val < 0.2
    achromatic = (~black) & (sat < 0.18)
    white = achromatic & (val > 0.8)
    gray = achromatic & ~white
    chroma = ~(black | achromatic)
    # dark oranges/reds with modest saturation read as brown
    brown = chroma & (hue >= 10.0) & (hue < 45.0) & (val < 0.6)
    out[..., idx["black"]] = black
    out[..., idx["white"]] = white
    out[..., idx["gray"]] = gray
    out[..., idx["brown"]] = brown
    rest = chroma & ~brown
    for name, lo, hi in _HUE_SECTORS:
        out[..., idx[name]] += rest & (hue >= lo) & (hue < hi)
    return out


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 -> CIE Lab (D65), float32: the consistency path's conversion (``colourspace.rgb8_to_lab``)."""
    return rgb8_to_lab(rgb)


def saliency(rgb: np.ndarray) -> np.ndarray:
    """(H, W) saliency in [0, 1] of uint8 RGB: Lab contrast to the mean colour, times a centre prior."""
    return centre_prior_saliency(_lab(rgb))


def colour_fractions(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of each named colour in the salient region and in the whole image (each sums to 1)."""
    names = colour_names(rgb)
    sal = saliency(rgb)
    weights = sal / max(float(sal.sum()), 1e-6)
    salient = (names * weights[..., None]).sum(axis=(0, 1))
    whole = names.mean(axis=(0, 1))
    return salient.astype(np.float32), whole.astype(np.float32)


# sRGB prototypes of the basic colour terms (COLOURS order): the soft naming below measures
# how close each pixel is to each prototype in CIELAB, so a near-miss hue still counts partly
# and two colours never tie the way hard HSV bins do (a swapped colour word must score lower).
PROTOTYPES_RGB: tuple[tuple[int, int, int], ...] = (
    (220, 30, 30),
    (240, 140, 20),
    (240, 220, 40),
    (40, 160, 60),
    (40, 80, 220),
    (130, 50, 170),
    (240, 130, 180),
    (120, 75, 40),
    (15, 15, 15),
    (240, 240, 240),
    (128, 128, 128),
)
SOFT_SIGMA = 20.0  # CIELAB units: about half the distance between neighbouring prototypes


def soft_colour_names(rgb: np.ndarray, sigma: float = SOFT_SIGMA) -> np.ndarray:
    """(..., 3) uint8 -> (..., len(COLOURS)) soft colour names: softmax of -dE^2 / (2 sigma^2) to the prototypes."""
    protos = _lab(np.array(PROTOTYPES_RGB, np.uint8)[None])[0]
    lab = _lab(rgb)
    d2 = ((lab[..., None, :] - protos) ** 2).sum(axis=-1)
    logits = -d2 / (2.0 * sigma**2)
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def soft_colour_fractions(rgb: np.ndarray) -> np.ndarray:
    """Saliency-weighted share of each colour name (soft naming), sums to 1; a flat image weighs all pixels."""
    names = soft_colour_names(rgb)
    sal = saliency(rgb)
    total = float(sal.sum())
    weights = sal / total if total > 1e-6 else np.full(sal.shape, 1.0 / sal.size, np.float32)
    return (names * weights[..., None]).sum(axis=(0, 1)).astype(np.float32)


def edge_map(rgb: np.ndarray, size: int = 16) -> np.ndarray:
    """(size, size) gradient magnitude of the lightness, block-averaged: where the structure is."""
    light = _lab(rgb)[..., 0]
    gy, gx = np.gradient(light)
    mag = np.hypot(gx, gy)
    h, w = mag.shape
    return mag[: h - h % size, : w - w % size].reshape(size, h // size, size, w // size).mean(axis=(1, 3))


def layout_map(rgb: np.ndarray, size: int = 16) -> np.ndarray:
    """Saliency and edges at low resolution, stacked (2, size, size): the composition's skeleton."""
    sal = saliency(rgb)
    h, w = sal.shape
    sal_small = (
        sal[: h - h % size, : w - w % size].reshape(size, h // size, size, w // size).mean(axis=(1, 3))
    )
    return np.stack([sal_small, edge_map(rgb, size)])


def lab_histogram(rgb: np.ndarray, bins: int = 6) -> np.ndarray:
    """Joint Lab histogram (bins^3), normalised to sum 1: the palette."""
    lab = _lab(rgb).reshape(-1, 3)
    ranges = [(0.0, 100.0), (-90.0, 90.0), (-90.0, 90.0)]
    hist, _ = np.histogramdd(lab, bins=bins, range=ranges)
    hist = hist.ravel().astype(np.float32)
    return hist / max(float(hist.sum()), 1e-6)


# --------------------------------------------------------------------------- palette colour names

_HUE_NAMES: tuple[tuple[float, str], ...] = (
    (15, "red"),
    (40, "orange"),
    (65, "yellow"),
    (90, "yellow-green"),
    (150, "green"),
    (195, "cyan"),
    (250, "blue"),
    (285, "violet"),
    (330, "magenta"),
    (361, "red"),
)


def colour_name(rgb: tuple[float, float, float]) -> str:
    """A plain English name (an index into the phrasebook's colour table) for an sRGB colour."""
    h, s, v = rgb_to_hsv(np.asarray(rgb, dtype=np.float64)[None, :])[0]
    if v < 0.16:
        return "black"
    if s < 0.15:
        return "white" if v > 0.85 else ("light grey" if v > 0.6 else ("grey" if v > 0.35 else "dark grey"))
    base = next(name for limit, name in _HUE_NAMES if h < limit)
    if base == "orange" and v < 0.6:
        base = "brown"
    if v < 0.4:
        return f"dark {base}"
    if s < 0.35 and v > 0.7:
        return f"pale {base}"
    return base


__all__ = [
    "COLOURS",
    "canonical_colour",
    "colour_fractions",
    "colour_name",
    "colour_names",
    "edge_map",
    "lab_histogram",
    "layout_map",
    "saliency",
    "soft_colour_fractions",
    "soft_colour_names",
    "thumbnail",
]
