"""Where a measured value sits among AGIQA-3K training images, and what each measure means.

``evidence_reference.json`` (written by ``python scripts/build_evidence_reference.py``) holds
percentiles of every measure over the AGIQA-3K training images; a value's interpolated rank
among them and a qualifier word ("very low" ... "very high") are what the critique's
strength words follow. ``DESCRIPTIONS`` gives each measure's unit and one-line meaning,
``VALUE_RANGES`` the range its unit allows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

REFERENCE_FILE = "evidence_reference.json"

QUALIFIER_BANDS: tuple[tuple[float, str], ...] = (
    (10.0, "very low"),
    (30.0, "low"),
    (70.0, "typical"),
    (90.0, "high"),
    (101.0, "very high"),
)


@lru_cache(maxsize=1)
def reference_ranges() -> dict[str, Any]:
    """Percentiles of each measure over AGIQA-3K training images (empty if the file is absent).

    Written by ``python scripts/build_evidence_reference.py``.
    """
    try:
        text = resources.files("artjudge.features").joinpath(REFERENCE_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {}
    data: dict[str, Any] = json.loads(text)
    return data


def percentile_of(value: float, ref: Mapping[str, float]) -> float | None:
    """Interpolated percentile rank of ``value`` among the stored percentiles (p1..p99)."""
    pts = sorted((float(k[1:]), float(v)) for k, v in ref.items() if k.startswith("p") and k[1:].isdigit())
    if len(pts) < 2:
        return None
    ps = np.array([p for p, _ in pts])
    vs = np.array([v for _, v in pts])
    vs = np.maximum.accumulate(vs)  # guard against ties and float noise
    # Beyond the outermost stored percentiles the rank is only known to be at or past them.
    return float(np.interp(value, vs, ps, left=ps[0], right=ps[-1]))


def qualifier_for(percentile: float | None) -> str:
    if percentile is None:
        return "unrated"
    return next(word for limit, word in QUALIFIER_BANDS if percentile < limit)


DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "image_size": ("px", "longest side of the image as given"),
    "transparency": ("fraction", "share of pixels that are partly or fully transparent"),
    "colourfulness": (
        "Hasler-Süsstrunk M, ≥ 0 (> 59: extremely colourful)",
        "Hasler-Süsstrunk colourfulness: spread and strength of opponent colour",
    ),
    "saturation_mean": ("HSV S, 0-1", "mean colour saturation"),
    "saturation_std": ("HSV S, 0-1", "spread of colour saturation across the image"),
    "brightness_mean": ("HSV V, 0-1", "mean brightness"),
    "brightness_std": ("HSV V, 0-1", "spread of brightness across the image"),
    "contrast_rms": ("luminance std, 0-1", "RMS contrast of luminance"),
    "contrast_michelson": ("0-1", "Michelson contrast between the 1st and 99th luminance percentiles"),
    "palette": ("ΔE*ab", "spread of the five dominant colours (k-means in L*a*b*), share-weighted"),
    "hue_harmony": (
        "degrees off the template (lower = more harmonious)",
        "mean hue deviation from the best-fitting Matsuda harmonic template (0 = perfect fit); "
        "its qualifier rates harmony, so a small deviation reads 'high'",
    ),
    "warmth": ("index, -1 cool .. +1 warm", "saturation-weighted warm/cool balance of hues"),
    "sharpness": ("Var(∇²L), grey levels², ≥ 0", "variance of the Laplacian of luminance at 512 px"),
    "noise": ("σ in grey levels (of 255)", "Immerkaer noise estimate at 512 px"),
    "edge_density": ("fraction", "share of pixels on a luminance edge (Sobel)"),
    "texture": ("local std x100", "mean local (5x5) luminance variation: fine surface texture"),
    "saliency_thirds": ("0-1", "closeness of the salient regions to the rule-of-thirds points"),
    "saliency_centre": ("0-1", "closeness of the salient regions to the image centre"),
    "subject_focus": (
        "share, 0.1-1",
        "share of saliency held by the top 10% of the image (focus on a subject)",
    ),
    "balance": ("0-1", "left-right balance of visual weight (saliency); 1 = equal halves"),
    "symmetry": ("0-1", "left-right mirror symmetry of luminance; 1 = mirror image"),
    "negative_space": ("fraction", "share of the image that is flat and not salient (empty space)"),
    "affect_pleasure": ("V-M units, 0 to +0.91", "Valdez-Mehrabian pleasure from brightness and saturation"),
    "affect_arousal": (
        "V-M units, -0.31 to +0.60",
        "Valdez-Mehrabian arousal from brightness and saturation",
    ),
    "affect_dominance": (
        "V-M units, -0.76 to +0.32",
        "Valdez-Mehrabian dominance from brightness and saturation",
    ),
    "abstraction": (
        "probability",
        "logistic model on these measures fitted to AGIQA-3K train 'abstract' vs "
        "'realistic' prompts: resemblance to the abstract ones",
    ),
}


# The range each bounded measure can take, as its unit states it (a test checks values stay
# inside). The Valdez-Mehrabian affect values are linear in HSV means in [0, 1], so their
# ranges follow from the coefficients: P = .69Y + .22S in [0, .91], A = -.31Y + .60S in
# [-.31, .60], D = -.76Y + .32S in [-.76, .32] (not "0-1").
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "transparency": (0.0, 1.0),
    "saturation_mean": (0.0, 1.0),
    "saturation_std": (0.0, 0.5),
    "brightness_mean": (0.0, 1.0),
    "brightness_std": (0.0, 0.5),
    "contrast_rms": (0.0, 0.5),
    "contrast_michelson": (0.0, 1.0),
    "hue_harmony": (0.0, 180.0),
    "warmth": (-1.0, 1.0),
    "edge_density": (0.0, 1.0),
    "saliency_thirds": (0.0, 1.0),
    "saliency_centre": (0.0, 1.0),
    "subject_focus": (0.1, 1.0),
    "balance": (0.0, 1.0),
    "symmetry": (0.0, 1.0),
    "negative_space": (0.0, 1.0),
    "affect_pleasure": (0.0, 0.91),
    "affect_arousal": (-0.31, 0.60),
    "affect_dominance": (-0.76, 0.32),
    "abstraction": (0.0, 1.0),
}

# Measures whose value falls as the property the key names rises: hue_harmony is a deviation
# in degrees, so its qualifier is taken from the inverted rank ("high" harmony = small
# deviation). The percentile stays the value's own rank among the reference images.
INVERTED_QUALIFIER = frozenset({"hue_harmony"})


def qualifier_for_key(key: str, percentile: float | None) -> str:
    """The qualifier of ``key`` at ``percentile``: rates the property the key names."""
    if percentile is not None and key in INVERTED_QUALIFIER:
        return qualifier_for(100.0 - percentile)
    return qualifier_for(percentile)
