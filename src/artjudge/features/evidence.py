"""Interpretable measurements ("evidence") that the critique's sentences rest on.

Every number here has a unit, a one-line description, and, where the shipped reference
file has it, a position among the AGIQA-3K training images (percentile and a qualifier
such as "low" or "high"). The critique may only say what these numbers support, so each
measure is chosen to be explainable in a sentence and checked by a test on a synthetic
image whose answer is known.

The measures run on a downscaled copy (longest side 256 px; 512 px for sharpness and
noise, which downscaling would otherwise erase) so that ``measure()`` costs a few tens of
milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from artjudge.features.colourspace import luminance, rgb_to_hsv
from artjudge.features.evidence_reference import (
    DESCRIPTIONS,
    VALUE_RANGES,
    percentile_of,
    qualifier_for,
    qualifier_for_key,
    reference_ranges,
)
from artjudge.features.measures import (
    ACHROMATIC_SATURATION,
    affect,
    colourfulness,
    contrast_michelson,
    contrast_rms,
    edge_density,
    gradient_magnitude,
    hue_harmony,
    mirror_symmetry,
    negative_space,
    noise_sigma,
    palette,
    sharpness,
    texture,
    warmth,
)
from artjudge.features.saliency import balance, placement_scores, saliency_map, subject_focus

ANALYSIS_SIDE = 256
DETAIL_SIDE = 512
TINY_SIDE = 32  # below this longest side, layout and detail measures mean nothing
THIN_SIDE = 8  # nor below this shortest side (a 1 x 500 strip has no layout to judge)
UNIFORM_STD = 2.0 / 255.0  # luminance std below this: a blank or uniform image

# Keys whose values need visible structure (not a blank field) to mean anything.
LAYOUT_KEYS = (
    "saliency_thirds",
    "saliency_centre",
    "subject_focus",
    "balance",
    "symmetry",
    "negative_space",
)
DETAIL_KEYS = ("sharpness", "noise", "edge_density", "texture")
HUE_KEYS = ("hue_harmony", "warmth")


@dataclass
class Measurement:
    """One measured property: the value, its unit, and where it sits among reference images.

    ``reference`` holds percentiles (p1 ... p99) of the value over AGIQA-3K training images;
    ``percentile`` is this value's interpolated rank among them and ``qualifier`` a word for
    that rank ("very low" ... "very high"). ``detail`` carries structured extras (the palette
    colours, the best harmonic template) that a sentence may quote.
    """

    key: str
    value: float
    unit: str
    description: str
    reference: dict[str, float] = field(default_factory=dict)
    percentile: float | None = None
    qualifier: str = "unrated"
    detail: dict[str, Any] = field(default_factory=dict)
    valid: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence(Mapping[str, Measurement]):
    """The measurements of one image, keyed by name, plus what could not be judged.

    ``limitations`` names conditions ("uniform", "tiny", "transparency", "achromatic") under
    which some measurements are marked ``valid=False``; the critique turns them into
    sentences that say what cannot be judged instead of inventing.
    """

    measurements: dict[str, Measurement]
    limitations: list[str] = field(default_factory=list)
    digest: str = ""

    def __getitem__(self, key: str) -> Measurement:
        return self.measurements[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.measurements)

    def __len__(self) -> int:
        return len(self.measurements)

    def valid(self, key: str) -> bool:
        m = self.measurements.get(key)
        return m is not None and m.valid

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts for ``Assessment.evidence``: one entry per key, plus ``_limitations``."""
        out: dict[str, Any] = {k: m.to_dict() for k, m in self.measurements.items()}
        out["_limitations"] = list(self.limitations)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        meas = {k: Measurement(**v) for k, v in d.items() if not k.startswith("_")}
        return cls(measurements=meas, limitations=list(d.get("_limitations", [])))


# --------------------------------------------------------------------------- pixels


def _to_rgb_array(image: Image.Image) -> tuple[np.ndarray, float]:
    """RGB floats in [0, 1] and the transparent fraction (composited onto mid grey).

    Mid grey keeps transparent areas from reading as extra light or dark weight.
    """
    transparent = 0.0
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3:4]
        transparent = float((alpha[..., 0] < 0.99).mean())
        rgb = rgba[..., :3] * alpha + 0.5 * (1.0 - alpha)
    else:
        rgb = np.array(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.float32)
        rgb /= 255.0  # in place: the same float32 quotients as ``/ 255.0``, one array fewer
    return rgb, transparent


def _resize(image: Image.Image, side: int) -> Image.Image:
    w, h = image.size
    scale = side / max(w, h)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


# --------------------------------------------------------------------------- measure()


def raw_measures(image: Image.Image) -> tuple[dict[str, float], dict[str, dict[str, Any]], list[str]]:
    """All measures as plain floats, their details, and the limitations found."""
    if image.width < 1 or image.height < 1:
        raise ValueError("image has no pixels")
    if getattr(image, "is_animated", False):
        image.seek(0)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        image = Image.fromarray((arr / max(arr.max(), 1.0) * 255).astype(np.uint8))
    small = _resize(image, ANALYSIS_SIDE)
    detail_img = _resize(image, DETAIL_SIDE)
    rgb, transparent = _to_rgb_array(small)
    rgb_detail, _ = _to_rgb_array(detail_img)
    lum = luminance(rgb)
    lum_detail = luminance(rgb_detail).astype(np.float64)  # float64 once for sharpness and noise
    hsv = rgb_to_hsv(rgb)

    limitations: list[str] = []
    if max(image.size) < TINY_SIDE or min(image.size) < THIN_SIDE:
        limitations.append("tiny")
    if lum.std() < UNIFORM_STD and np.abs(rgb - rgb.mean(axis=(0, 1))).max() < 4 / 255:
        limitations.append("uniform")
    if transparent > 0.01:
        limitations.append("transparency")
    if float(hsv[..., 1].mean()) < ACHROMATIC_SATURATION:
        limitations.append("achromatic")

    v: dict[str, float] = {}
    det: dict[str, dict[str, Any]] = {}
    v["image_size"] = float(max(image.size))
    det["image_size"] = {"width": image.width, "height": image.height}
    v["transparency"] = transparent
    v["colourfulness"] = colourfulness(rgb)
    v["saturation_mean"] = float(hsv[..., 1].mean())
    v["saturation_std"] = float(hsv[..., 1].std())
    v["brightness_mean"] = float(hsv[..., 2].mean())
    v["brightness_std"] = float(hsv[..., 2].std())
    v["contrast_rms"] = contrast_rms(lum)
    v["contrast_michelson"] = contrast_michelson(lum)
    v["palette"], colours = palette(rgb)
    det["palette"] = {"colours": colours}
    v["hue_harmony"], det["hue_harmony"] = hue_harmony(hsv)
    v["warmth"] = warmth(hsv)
    v["sharpness"] = sharpness(lum_detail)
    v["noise"] = noise_sigma(lum_detail)
    grad = gradient_magnitude(lum)
    v["edge_density"] = edge_density(grad)
    v["texture"] = texture(lum)
    sal = saliency_map(rgb, lum) if "uniform" not in limitations else np.zeros((64, 64))
    place = placement_scores(sal)
    v["saliency_thirds"] = place["thirds"]
    v["saliency_centre"] = place["centre"]
    det["saliency_thirds"] = {"centroid": place["centroid"]}
    det["saliency_centre"] = {"centroid": place["centroid"]}
    v["subject_focus"] = subject_focus(sal)
    bal = balance(sal)
    v["balance"] = bal["left_right"]
    det["balance"] = {"top_bottom": round(bal["top_bottom"], 4), "centroid": place["centroid"]}
    sym = mirror_symmetry(lum)
    v["symmetry"] = sym["left_right"]
    det["symmetry"] = {"top_bottom": round(sym["top_bottom"], 4)}
    v["negative_space"] = negative_space(lum, sal) if "uniform" not in limitations else 1.0
    aff = affect(v["brightness_mean"], v["saturation_mean"])
    v["affect_pleasure"] = aff["pleasure"]
    v["affect_arousal"] = aff["arousal"]
    v["affect_dominance"] = aff["dominance"]
    return v, det, limitations


def _abstraction(values: Mapping[str, float], model: Mapping[str, Any]) -> float | None:
    feats = model.get("features") or []
    if not feats or any(f not in values for f in feats):
        return None
    x = np.array([(values[f] - m) / s for f, m, s in zip(feats, model["mean"], model["scale"], strict=True)])
    z = float(np.dot(x, model["coef"]) + model["intercept"])
    return 1.0 / (1.0 + math.exp(-z))


def _invalid_keys(limitations: list[str]) -> set[str]:
    bad: set[str] = set()
    if "uniform" in limitations:
        bad |= set(LAYOUT_KEYS) | set(DETAIL_KEYS) | set(HUE_KEYS) | {"palette", "abstraction"}
    if "tiny" in limitations:
        bad |= set(LAYOUT_KEYS) | set(DETAIL_KEYS) | {"abstraction"}
    if "achromatic" in limitations:
        bad |= set(HUE_KEYS)
    return bad


def _all_values(
    image: Image.Image,
) -> tuple[dict[str, float], dict[str, dict[str, Any]], list[str], set[str]]:
    """:func:`raw_measures` plus the abstraction estimate, and the keys a limitation invalidates."""
    values, details, limitations = raw_measures(image)
    abstraction = _abstraction(values, reference_ranges().get("_abstraction_model") or {})
    if abstraction is not None:
        values["abstraction"] = abstraction
    return values, details, limitations, _invalid_keys(limitations)


def valid_values(image: Image.Image) -> dict[str, float]:
    """The valid measurements' values exactly as :func:`measure` reports them (rounded to 1e-6).

    What training a rubric needs from each work (``train.rubric_data.evidence_values``),
    without the parts of :func:`measure` that only a critique reads (reference percentiles,
    qualifiers, the wording digest).
    """
    values, _, _, bad = _all_values(image)
    return {k: round(float(v), 6) for k, v in values.items() if k not in bad}


def measure(image: Image.Image) -> Evidence:
    """Measure one image; measurements that a limitation makes meaningless get ``valid=False``."""
    values, details, limitations, bad = _all_values(image)
    refs = reference_ranges()
    out: dict[str, Measurement] = {}
    for key, value in values.items():
        unit, desc = DESCRIPTIONS[key]
        ref = refs.get(key) or {}
        pct = percentile_of(value, ref) if ref and key not in ("image_size", "transparency") else None
        out[key] = Measurement(
            key=key,
            value=round(float(value), 6),
            unit=unit,
            description=desc,
            reference={k: round(float(x), 6) for k, x in ref.items()},
            percentile=None if pct is None else round(pct, 1),
            qualifier=qualifier_for_key(key, pct),
            detail=details.get(key, {}),
            valid=key not in bad,
        )
    digest = _digest(image)
    return Evidence(measurements=out, limitations=limitations, digest=digest)


def _digest(image: Image.Image) -> str:
    """A content hash of a tiny thumbnail: stable per image, used to vary the critique's wording."""
    import hashlib

    thumb = image.convert("RGB").resize((16, 16), Image.Resampling.BILINEAR)
    return hashlib.sha256(thumb.tobytes()).hexdigest()


__all__ = [
    "ANALYSIS_SIDE",
    "DESCRIPTIONS",
    "DETAIL_KEYS",
    "DETAIL_SIDE",
    "HUE_KEYS",
    "LAYOUT_KEYS",
    "VALUE_RANGES",
    "Evidence",
    "Measurement",
    "colourfulness",
    "measure",
    "noise_sigma",
    "percentile_of",
    "qualifier_for",
    "qualifier_for_key",
    "raw_measures",
    "reference_ranges",
    "valid_values",
]
