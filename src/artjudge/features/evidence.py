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

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

from artjudge.features import filters  # SciPy's ndimage filters in NumPy: scoring needs no SciPy
from artjudge.features.kmeans import kmeans

ANALYSIS_SIDE = 256
DETAIL_SIDE = 512
TINY_SIDE = 32  # below this longest side, layout and detail measures mean nothing
THIN_SIDE = 8  # nor below this shortest side (a 1 x 500 strip has no layout to judge)
UNIFORM_STD = 2.0 / 255.0  # luminance std below this: a blank or uniform image
ACHROMATIC_SATURATION = 0.06  # mean saturation below this: hue-based measures mean nothing
REFERENCE_FILE = "evidence_reference.json"
ARC_PENALTY = 0.02  # degrees of deviation per degree of template arc (hue_harmony)

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

QUALIFIER_BANDS: tuple[tuple[float, str], ...] = (
    (10.0, "very low"),
    (30.0, "low"),
    (70.0, "typical"),
    (90.0, "high"),
    (101.0, "very high"),
)


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


# --------------------------------------------------------------------------- colour maths


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
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return rgb, transparent


def _resize(image: Image.Image, side: int) -> Image.Image:
    w, h = image.size
    scale = side / max(w, h)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma in [0, 1]."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """HSV with hue in degrees [0, 360), saturation and value in [0, 1]."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
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


# --------------------------------------------------------------------------- measures


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
    return float(filters.laplace(lum.astype(np.float64) * 255.0).var())


def noise_sigma(lum: np.ndarray) -> float:
    """Immerkaer's (1996) fast noise estimate, in 0-255 grey levels (the head's function, rescaled)."""
    from artjudge.features.handcrafted import noise_sigma as _immerkaer

    return 255.0 * _immerkaer(lum.astype(np.float64))


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


# --------------------------------------------------------------------------- reference ranges


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


# --------------------------------------------------------------------------- measure()

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
    lum_detail = luminance(rgb_detail)
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


def measure(image: Image.Image) -> Evidence:
    """Measure one image; measurements that a limitation makes meaningless get ``valid=False``."""
    values, details, limitations = raw_measures(image)
    refs = reference_ranges()
    model = refs.get("_abstraction_model") or {}
    abstraction = _abstraction(values, model)
    if abstraction is not None:
        values["abstraction"] = abstraction
    bad = _invalid_keys(limitations)
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


def measure_many_values(images: list[Image.Image]) -> list[dict[str, float]]:
    """Raw values only (no reference lookup): what the reference script aggregates."""
    return [raw_measures(im)[0] for im in images]
