"""The evidence measures: one function per interpretable property of an image.

Each takes arrays prepared by :func:`artjudge.features.evidence.raw_measures` (RGB floats,
luminance, HSV, a saliency map) and returns a number (plus, for some, details a sentence may
quote). Colour conversions live in :mod:`artjudge.features.colourspace`, saliency and the
placement of visual weight in :mod:`artjudge.features.saliency`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from artjudge.features import filters  # SciPy's ndimage filters in NumPy: scoring needs no SciPy
from artjudge.features.colour import colour_name
from artjudge.features.colourspace import lab_to_rgb, rgb_to_lab
from artjudge.features.kmeans import kmeans

ACHROMATIC_SATURATION = 0.06  # mean saturation below this: hue-based measures mean nothing
ARC_PENALTY = 0.02  # degrees of deviation per degree of template arc (hue_harmony)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Süsstrunk (2003) M on 0-255 RGB: ~0 grey, >59 'extremely colourful'.

    Shares the scoring head's implementation so the critique and the score see one number.
    """
    from artjudge.features.handcrafted import colourfulness as _hs

    return _hs(rgb.astype(np.float64))


def contrast_rms(lum: np.ndarray) -> float:
    """RMS contrast: the standard deviation of luminance in [0, 1]."""
    return float(lum.std())


def contrast_michelson(lum: np.ndarray) -> float:
    """Michelson contrast on the 1st and 99th luminance percentiles (robust to stray pixels)."""
    lo, hi = np.percentile(lum, [1, 99])
    return float((hi - lo) / (hi + lo)) if hi + lo > 1e-6 else 0.0


def palette(rgb: np.ndarray, k: int = 5, seed: int = 0) -> tuple[float, list[dict[str, Any]]]:
    """Dominant colours by k-means in L*a*b* and their spread (share-weighted mean pairwise ΔE76)."""
    flat = rgb.reshape(-1, 3)
    rng = np.random.default_rng(seed)
    if len(flat) > 2048:
        flat = flat[rng.choice(len(flat), 2048, replace=False)]
    lab = rgb_to_lab(flat.astype(np.float64))
    distinct = len(np.unique(np.round(lab, 1), axis=0))
    n = max(1, min(k, distinct))
    km = kmeans(lab, n, seed=seed)  # scikit-learn's KMeans(n_init=1) step by step, in NumPy
    shares = np.bincount(km.labels, minlength=n) / len(lab)
    order = np.argsort(-shares)
    centres = km.centers[order]
    shares = shares[order]
    colours = []
    for c, sh in zip(centres, shares, strict=True):
        srgb = lab_to_rgb(c)
        hexv = "#" + "".join(f"{round(float(v) * 255):02x}" for v in srgb)
        colours.append(
            {
                "hex": hexv,
                "share": round(float(sh), 4),
                "name": colour_name(tuple(srgb)),
                "lab": [round(float(v), 2) for v in c],
            }
        )
    if n == 1:
        return 0.0, colours
    d = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=-1)
    w = shares[:, None] * shares[None, :]
    np.fill_diagonal(w, 0.0)
    return float((d * w).sum() / w.sum()), colours


# Matsuda's harmonic templates as used by Cohen-Or et al. (2006): (centre offset, width) sectors.
HARMONIC_TEMPLATES: dict[str, tuple[tuple[float, float], ...]] = {
    "i": ((0.0, 18.0),),
    "V": ((0.0, 93.6),),
    "L": ((0.0, 18.0), (90.0, 79.2)),
    "I": ((0.0, 18.0), (180.0, 18.0)),
    "T": ((0.0, 180.0),),
    "Y": ((0.0, 93.6), (180.0, 18.0)),
    "X": ((0.0, 93.6), (180.0, 93.6)),
}


def _angular(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    d = np.abs(a - b) % 360.0
    return np.minimum(d, 360.0 - d)


@lru_cache(maxsize=4)
def _template_distances(step: float = 2.0) -> dict[str, np.ndarray]:
    """Per template, the (rotation x hue bin) distance outside its sectors; computed once."""
    centres = np.arange(0.0, 360.0, step) + step / 2.0
    rotations = np.arange(0.0, 360.0, step)
    out: dict[str, np.ndarray] = {}
    for name, sectors in HARMONIC_TEMPLATES.items():
        dist = np.full((len(rotations), len(centres)), np.inf)
        for offset, width in sectors:
            c = rotations[:, None] + offset
            dist = np.minimum(dist, np.maximum(_angular(centres[None, :], c) - width / 2.0, 0.0))
        out[name] = dist
    return out


def hue_harmony(hsv: np.ndarray, step: float = 2.0) -> tuple[float, dict[str, Any]]:
    """Fit the hue distribution to each harmonic template at its best rotation.

    The distance is the saturation-weighted mean angle (degrees) by which hues fall outside
    the template's sectors (0 = every hue inside). Broad templates (T, X) cover almost any
    image, so the reported template minimises distance + 0.02 x its total arc (a
    parsimony penalty of 0.4-3.7 degrees): a complementary pair is called I, not T, and the
    value is that template's distance.
    """
    nbins = int(round(360.0 / step))
    hist, _ = np.histogram(hsv[..., 0], bins=nbins, range=(0, 360), weights=hsv[..., 1] * hsv[..., 2])
    total = hist.sum()
    if total <= 1e-9:
        return 0.0, {"template": "none", "rotation": 0.0, "fits": {}}
    fits: dict[str, tuple[float, float]] = {}
    for name, dist in _template_distances(step).items():
        cost = dist @ hist / total
        best = int(np.argmin(cost))
        fits[name] = (float(cost[best]), best * step)
    arcs = {n: sum(w for _, w in s) for n, s in HARMONIC_TEMPLATES.items()}
    name = min(fits, key=lambda n: (fits[n][0] + ARC_PENALTY * arcs[n], arcs[n]))
    return fits[name][0], {
        "template": name,
        "rotation": fits[name][1],
        "fits": {n: round(c, 2) for n, (c, _) in fits.items()},
    }


def warmth(hsv: np.ndarray) -> float:
    """Warm-cool index in [-1, 1]: saturation-weighted mean of cos(hue - 40°).

    40° (orange) is the warm pole and 220° (blue) the cool one; greys weigh nothing, and an
    achromatic image reads 0 (neutral).
    """
    w = hsv[..., 1] * np.sqrt(hsv[..., 2])
    if w.mean() < ACHROMATIC_SATURATION * 0.5:
        return 0.0
    return float((w * np.cos(np.radians(hsv[..., 0] - 40.0))).sum() / w.sum())


def sharpness(lum: np.ndarray) -> float:
    """Variance of the Laplacian of luminance on a 0-255 scale (higher = crisper edges)."""
    return float(filters.laplace(np.multiply(lum, 255.0, dtype=np.float64)).var())  # cast, then scale


def noise_sigma(lum: np.ndarray) -> float:
    """Immerkaer's (1996) fast noise estimate, in 0-255 grey levels (the head's function, rescaled)."""
    from artjudge.features.handcrafted import noise_sigma as _immerkaer

    return 255.0 * _immerkaer(np.asarray(lum, dtype=np.float64))


def gradient_magnitude(lum: np.ndarray) -> np.ndarray:
    gx = filters.sobel(lum, axis=1, mode="reflect") / 8.0
    gy = filters.sobel(lum, axis=0, mode="reflect") / 8.0
    return np.hypot(gx, gy)


def edge_density(grad: np.ndarray, threshold: float = 0.04) -> float:
    """Fraction of pixels whose Sobel gradient (luminance units per pixel) exceeds the threshold."""
    return float((grad > threshold).mean())


def texture(lum: np.ndarray) -> float:
    """Mean local standard deviation of luminance in 5x5 windows (x100): fine-grained variation."""
    x = lum.astype(np.float64)
    m = filters.uniform_filter(x, 5)
    m2 = filters.uniform_filter(x * x, 5)
    return float(np.sqrt(np.clip(m2 - m * m, 0, None)).mean() * 100.0)


def mirror_symmetry(lum: np.ndarray) -> dict[str, float]:
    """1 - mean |L - mirror(L)| / (2 * mean |L - mean L|), clipped to [0, 1]; 1 = mirror image."""
    x = filters.gaussian_filter(lum.astype(np.float64), 1.0)
    spread = 2.0 * np.abs(x - x.mean()).mean()
    if spread < 1e-9:
        return {"left_right": 1.0, "top_bottom": 1.0}
    lr = 1.0 - np.abs(x - x[:, ::-1]).mean() / spread
    tb = 1.0 - np.abs(x - x[::-1, :]).mean() / spread
    return {"left_right": float(np.clip(lr, 0, 1)), "top_bottom": float(np.clip(tb, 0, 1))}


def negative_space(lum: np.ndarray, sal: np.ndarray) -> float:
    """Fraction of the image that is both flat (local std < 2%) and of low saliency (< 0.2)."""
    x = lum.astype(np.float64)
    m = filters.uniform_filter(x, 7)
    local_std = np.sqrt(np.clip(filters.uniform_filter(x * x, 7) - m * m, 0, None))
    h, w = lum.shape
    sal_up = (
        np.asarray(
            Image.fromarray((sal * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR),
            dtype=np.float64,
        )
        / 255.0
    )
    return float(((local_std < 0.02) & (sal_up < 0.2)).mean())


def affect(brightness: float, saturation: float) -> dict[str, float]:
    """Valdez and Mehrabian (1994) emotional response to colour.

    Pleasure = .69 Y + .22 S, Arousal = -.31 Y + .60 S, Dominance = -.76 Y + .32 S, with
    Y = brightness and S = saturation; like Machajdik and Hanbury (2010) we use HSV means in
    [0, 1] for Y and S, so the values are on that scale, not the paper's Munsell units.
    """
    return {
        "pleasure": 0.69 * brightness + 0.22 * saturation,
        "arousal": -0.31 * brightness + 0.60 * saturation,
        "dominance": -0.76 * brightness + 0.32 * saturation,
    }
