"""Saliency maps and where visual weight sits: the one saliency module.

Two maps serve two readers. :func:`saliency_map` (spectral residual + frequency-tuned colour
contrast) is what the evidence measures of placement, focus and balance rest on;
:func:`centre_prior_saliency` (Lab contrast to the mean colour times a centre prior) is what
prompt and reference consistency weigh colour names and layouts with. Each keeps the formula
its consumer was fitted or calibrated with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from artjudge.features import filters  # SciPy's ndimage filters in NumPy: scoring needs no SciPy
from artjudge.features.colourspace import rgb_to_lab


def spectral_residual_saliency(lum: np.ndarray, side: int = 64) -> np.ndarray:
    """Hou and Zhang (2007) spectral-residual saliency on a side x side copy, values in [0, 1]."""
    img = Image.fromarray((np.clip(lum, 0, 1) * 255).astype(np.uint8)).resize(
        (side, side), Image.Resampling.BILINEAR
    )
    x = np.asarray(img, dtype=np.float64) / 255.0
    f = np.fft.fft2(x)
    log_amp = np.log(np.abs(f) + 1e-8)
    phase = np.angle(f)
    residual = log_amp - filters.uniform_filter(log_amp, 3, mode="nearest")
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase))) ** 2
    sal = filters.gaussian_filter(sal, sigma=side / 24.0)
    lo, hi = sal.min(), sal.max()
    return (sal - lo) / (hi - lo) if hi - lo > 1e-12 else np.zeros_like(sal)


def frequency_tuned_saliency(rgb: np.ndarray, side: int = 64) -> np.ndarray:
    """Achanta et al. (2009): distance in L*a*b* of each (slightly blurred) pixel from the mean."""
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).resize(
        (side, side), Image.Resampling.BILINEAR
    )
    lab = rgb_to_lab(np.asarray(img, dtype=np.float64) / 255.0)
    blurred = filters.gaussian_filter(lab, (1.0, 1.0, 0.0))
    sal = np.linalg.norm(blurred - lab.reshape(-1, 3).mean(axis=0), axis=-1)
    lo, hi = sal.min(), sal.max()
    return (sal - lo) / (hi - lo) if hi - lo > 1e-9 else np.zeros_like(sal)


def saliency_map(rgb: np.ndarray, lum: np.ndarray, side: int = 64) -> np.ndarray:
    """0.3 spectral residual + 0.7 frequency-tuned colour contrast, in [0, 1].

    Spectral residual alone rings around large plain subjects (it marks their edges, not
    their area); the colour-contrast term fills the subject in.
    """
    sal = 0.3 * spectral_residual_saliency(lum, side) + 0.7 * frequency_tuned_saliency(rgb, side)
    hi = sal.max()
    return sal / hi if hi > 1e-12 else sal


def _salient_weights(sal: np.ndarray) -> np.ndarray:
    """Saliency above its mean, so that diffuse background does not dilute the subject."""
    w = np.clip(sal - sal.mean(), 0, None)
    return w if w.sum() > 1e-12 else np.ones_like(sal)


def placement_scores(sal: np.ndarray, sigma: float = 0.17) -> dict[str, Any]:
    """Saliency-weighted closeness to the nearest rule-of-thirds point and to the centre.

    Each pixel contributes exp(-d^2 / 2 sigma^2), d its distance (in image widths/heights)
    to the nearest thirds intersection or to the centre; 1 = all weight on the point.
    """
    h, w = sal.shape
    ys, xs = np.mgrid[0:h, 0:w]
    u = (xs + 0.5) / w
    v = (ys + 0.5) / h
    wts = _salient_weights(sal)
    pts = [(a, b) for a in (1 / 3, 2 / 3) for b in (1 / 3, 2 / 3)]
    d2_thirds = np.min(np.stack([(u - a) ** 2 + (v - b) ** 2 for a, b in pts]), axis=0)
    d2_centre = (u - 0.5) ** 2 + (v - 0.5) ** 2
    thirds = float((wts * np.exp(-d2_thirds / (2 * sigma**2))).sum() / wts.sum())
    centre = float((wts * np.exp(-d2_centre / (2 * sigma**2))).sum() / wts.sum())
    cx = float((wts * u).sum() / wts.sum())
    cy = float((wts * v).sum() / wts.sum())
    return {"thirds": thirds, "centre": centre, "centroid": [round(cx, 3), round(cy, 3)]}


def subject_focus(sal: np.ndarray) -> float:
    """Share of total saliency held by the most salient 10% of the image (0.1 = diffuse)."""
    flat = np.sort(sal.ravel())[::-1]
    total = flat.sum()
    if total <= 1e-12:
        return 0.1
    return float(flat[: max(1, len(flat) // 10)].sum() / total)


def balance(sal: np.ndarray) -> dict[str, float]:
    """Left-right and top-bottom balance of visual weight (saliency): 1 = equal halves."""
    h, w = sal.shape
    total = sal.sum()
    if total <= 1e-12:
        return {"left_right": 1.0, "top_bottom": 1.0}
    cols = sal.sum(axis=0)
    rows = sal.sum(axis=1)
    left = cols[: w // 2].sum() + (cols[w // 2] / 2 if w % 2 else 0.0)
    top = rows[: h // 2].sum() + (rows[h // 2] / 2 if h % 2 else 0.0)
    return {
        "left_right": float(1.0 - abs(2 * left - total) / total),
        "top_bottom": float(1.0 - abs(2 * top - total) / total),
    }


def centre_prior_saliency(lab: np.ndarray) -> np.ndarray:
    """(H, W) saliency in [0, 1] from a Lab image: contrast to the mean colour, times a centre prior.

    Generated images put their subject near the centre, so the prior keeps a bright border
    from passing for the subject (what prompt and reference consistency need).
    """
    contrast = np.linalg.norm(lab - lab.reshape(-1, 3).mean(axis=0), axis=-1)
    h, w = contrast.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    prior = np.exp(-(((yy - (h - 1) / 2) / (0.35 * h)) ** 2 + ((xx - (w - 1) / 2) / (0.35 * w)) ** 2) / 2)
    sal = contrast * prior
    return np.asarray(sal / max(float(sal.max()), 1e-6))
