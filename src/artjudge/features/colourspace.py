"""Colour spaces and luminance: the one place artjudge converts between them.

sRGB (floats in [0, 1]) to HSV, to CIE L*a*b* (D65) and back, and luma. Two luma weightings
exist on purpose and are named apart: Rec. 601 (the evidence measures, the process signals)
and Rec. 709 (the scoring head's hand-crafted inputs); the shipped weights and the evidence
reference were fitted with these exact formulas, so each keeps its constants.
"""

from __future__ import annotations

import numpy as np

#: Rec. 709 luma weights (the scoring head's hand-crafted measures were fitted with these).
REC709 = np.array([0.2126, 0.7152, 0.0722])


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma in [0, 1]."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def luma709(rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of (..., 3) RGB as one matrix product (the hand-crafted measures' luminance)."""
    return np.asarray(rgb @ REC709)


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """HSV with hue in degrees [0, 360), saturation and value in [0, 1].

    The channels are taken as contiguous planes and the max/min as elementwise maxima: the
    same numbers as strided views and a reduction over the last axis, at about half the cost
    (the evidence measures convert every image they look at).
    """
    r, g, b = (np.asarray(rgb[..., i], order="C") for i in range(3))
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    delta = mx - mn
    safe = np.where(delta > 0, delta, 1.0)
    h = np.where(
        mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    h = np.where(delta > 0, h * 60.0, 0.0) % 360.0
    s = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
    return np.stack([h, s, mx], axis=-1)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] to CIE L*a*b* (D65), the space in which distances match perception."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    eps = 216 / 24389
    f = np.where(xyz > eps, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200
    f = np.stack([fx, fy, fz], axis=-1)
    eps = 6 / 29
    xyz = np.where(f > eps, f**3, 3 * eps**2 * (f - 4 / 29)) * np.array([0.95047, 1.0, 1.08883])
    m_inv = np.array(
        [
            [3.2404542, -1.5371385, -0.4985314],
            [-0.9692660, 1.8760108, 0.0415560],
            [0.0556434, -0.2040259, 1.0572252],
        ]
    )
    lin = np.clip(xyz @ m_inv.T, 0, 1)
    return np.clip(np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055), 0, 1)


def rgb8_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 -> CIE Lab (D65) in float32 with 4-digit constants: prompt and reference consistency's Lab.

    The same conversion as :func:`rgb_to_lab` to within 0.02 Lab units, kept apart because the
    consistency models were fitted on it: with :func:`rgb_to_lab`'s constants white pixels land
    just above L = 100 and leave the palette histogram's range, moving a bin by up to 0.55 on
    AGIQA-3K thumbnails (measured when the two were merged into this module).
    """
    x = rgb.astype(np.float32) / 255.0
    x = np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]], np.float32)
    xyz = x @ m.T / np.array([0.9505, 1.0, 1.089], np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.stack(
        [116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1
    )
    return lab.astype(np.float32)
