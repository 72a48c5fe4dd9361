"""The signals readout and its blend with the network: the judge the user gets.

:mod:`artjudge.features.process_signals` measures the canvas (paint coverage, colour,
detail, paint removed, layout shift, palette drift). A small readout maps their summary to
each attribute: ``score = base + sum_i w_i * sign_i * feature_i`` with ``w_i >= 0``. Which
features an attribute may read, and with which sign, is fixed here, not learned, so the
guarantees hold by construction whatever the fit:

- depth attributes start at 1 (the bottom of the scale) and only *add* for paint that is
  there (levels), was added (gains, direction of change, trend against time) and was not
  taken away (paint removed, shortfall of the last frame from the fullest one); a blank
  canvas has none of these, so it is never deep, and a process that ends on its sketch
  is not deep either;
- stability attributes read the direction and trend of accumulation positively and paint
  removed, shortfall, layout shift and palette drift negatively; erasing (every step
  removes paint) is never stable.

The weights are fitted (non-negative least squares with a ridge term) on the synthetic
processes the network was trained on, plus realistic-media processes
(:mod:`artjudge.data.process.media`) whole and as photographed stages in other orders
(:mod:`artjudge.train.signals`); the share ``blend[k]`` of the network in attribute
``k`` is chosen on validation processes (never the benchmark's test sets) by
``scripts/fit_process_signals.py``. Consistency (does the painting honour the reference or
prompt?) is not something the canvas signals measure: it stays the network's alone.
The fitted readout lives beside the weights (``ppjudge_tiny.pt.signals.json``, tied to the
weights' SHA-256); without it the judge is the network alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.features.process_signals import FRAME_SIGNALS, summary_names
from artjudge.io.files import atomic_write_json

DEPTH_LEVELS = {
    "detail_depth": ("edge_density", "detail"),
    "color_depth": ("saturation", "colourfulness", "value_range"),
    "composition_depth": ("coverage", "value_range", "edge_density", "value"),
}
STABILITY = ("style_stability", "color_stability", "composition_stability", "process_stability")
ATTRIBUTES = (*STABILITY, *DEPTH_LEVELS)
NEGATIVE = (
    "removed_total",
    "layout_shift_mean",
    "layout_shift_max",
    "palette_drift_mean",
    "palette_drift_max",
)


def allowed_features(attribute: str) -> dict[str, float]:
    """The summary features ``attribute`` may read and the sign each is read with."""
    out: dict[str, float] = {}
    if attribute in DEPTH_LEVELS:
        for sig in DEPTH_LEVELS[attribute]:
            out |= {f"{sig}_last": 1.0, f"{sig}_gain": 1.0, f"{sig}_direction": 1.0, f"{sig}_removed": -1.0}
            out |= {f"{sig}_trend": 1.0, f"{sig}_shortfall": -1.0}
        out |= {"accumulation_order": 1.0, "accumulation_trend": 1.0, "removed_total": -1.0}
    elif attribute in STABILITY:
        for sig in FRAME_SIGNALS:
            out |= {f"{sig}_direction": 1.0, f"{sig}_removed": -1.0}
            out |= {f"{sig}_trend": 1.0, f"{sig}_shortfall": -1.0}
        out |= {"accumulation_order": 1.0, "accumulation_trend": 1.0} | dict.fromkeys(NEGATIVE, -1.0)
    else:
        raise ValueError(f"attribute {attribute!r}: the signals readout has no rule for it")
    return out


@dataclass
class SignalsReadout:
    """Per attribute: intercept, non-negative weights on signed features, the network's share."""

    features: dict[str, list[str]]
    weights: dict[str, list[float]]
    intercept: dict[str, float]
    blend: dict[str, float] = field(default_factory=dict)  # the network's share, 0-1
    weights_sha256: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = summary_names()
        self._index = {
            a: np.array([names.index(f) for f in fs], dtype=np.int64) for a, fs in self.features.items()
        }
        self._w = {
            a: np.asarray(self.weights[a], np.float64) * np.array([allowed_features(a)[f] for f in fs])
            for a, fs in self.features.items()
        }

    def predict(self, summary: np.ndarray) -> dict[str, Any]:
        """Signals-only scores (1-10) from a summary vector (floats) or (N, n) rows (arrays)."""
        out: dict[str, Any] = {}
        for a in self.features:
            v = self.intercept[a] + summary[..., self._index[a]] @ self._w[a]
            out[a] = np.clip(v, 1.0, 10.0)
        return out

    def combine(self, network: dict[str, float], summary: np.ndarray) -> dict[str, float]:
        """The judge's answer: each attribute's network score blended with the readout."""
        sig = self.predict(summary)
        out = dict(network)
        for a, s in sig.items():
            if a in out:
                out[a] = round(float(blend_scores(a, self.blend.get(a, 1.0), network[a], s)), 4)
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        atomic_write_json(path, self.to_dict(), indent=2)

    @classmethod
    def load(cls, path: Path, digest: str | None = None) -> SignalsReadout | None:
        """The readout beside the weights, or None when absent or fitted for other weights."""
        if not path.is_file():
            return None
        d = json.loads(path.read_text())
        if digest is not None and d.get("weights_sha256") != digest:
            return None
        return cls(**d)


def blend_scores(
    attribute: str, share: float, network: np.ndarray | float, signals: np.ndarray | float
) -> np.ndarray:
    """One attribute's combined score (1-10): ``share`` of the network, the rest the readout.

    For a depth attribute the network's term is ``min(network, signals)``: the network may
    say a process is shallower than its canvas shows, never deeper (it called a blank
    two-colour canvas 9.65/10 on detail depth); so a blank canvas stays at the bottom.
    """
    net = np.asarray(network, dtype=np.float64)
    sig = np.asarray(signals, dtype=np.float64)
    if attribute in DEPTH_LEVELS:
        net = np.minimum(net, sig)
    return share * net + (1.0 - share) * sig


def readout_path(weights: Path) -> Path:
    return weights.with_name(weights.name + ".signals.json")


def fit_attribute(
    x: np.ndarray, y: np.ndarray, attribute: str, ridge: float = 1.0
) -> tuple[list[str], list[float], float]:
    """Non-negative ridge fit of one attribute on the summary rows ``x`` (N, n): features, weights, intercept.

    Depth attributes have intercept 1 (nothing on the canvas scores the bottom of the
    scale); stability attributes fit theirs.
    """
    from scipy.optimize import nnls

    names = summary_names()
    allowed = allowed_features(attribute)
    feats = list(allowed)
    cols = np.stack([allowed[f] * x[:, names.index(f)] for f in feats], axis=1)
    scale = cols.std(axis=0) + 1e-6
    z = cols / scale
    if attribute in DEPTH_LEVELS:
        a, b, intercept_fixed = z, y - 1.0, True
    else:
        a, b, intercept_fixed = (
            np.concatenate([z, np.ones((len(z), 1)), -np.ones((len(z), 1))], axis=1),
            y,
            False,
        )
    k = a.shape[1]
    reg = np.sqrt(ridge) * np.eye(k)
    if not intercept_fixed:
        reg[-2:, -2:] = 0.0
    w, _ = nnls(np.concatenate([a, reg]), np.concatenate([b, np.zeros(k)]), maxiter=50 * k)
    if intercept_fixed:
        intercept, coef = 1.0, w
    else:
        intercept, coef = float(w[-2] - w[-1]), w[:-2]
    return feats, [float(c) for c in coef / scale], float(intercept)


def fit_readout(x: np.ndarray, labels: dict[str, np.ndarray], ridge: float = 1.0) -> SignalsReadout:
    """The readout of every attribute in ``ATTRIBUTES`` from summary rows and 1-10 labels."""
    feats, weights, icpt = {}, {}, {}
    for a in ATTRIBUTES:
        feats[a], weights[a], icpt[a] = fit_attribute(x, labels[a], a, ridge)
    return SignalsReadout(features=feats, weights=weights, intercept=icpt)
