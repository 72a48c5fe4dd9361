"""Model error intervals for a score: split-conformal quantiles on held-out residuals.

Two spreads travel with every score and must never be confused. The *opinion* spread
(``ScoreDistribution.std`` / ``distribution``) says how far raters would disagree about the
work; the *error interval* (``ScoreDistribution.interval``) says where the true mean opinion
probably lies given this model's measured error on data it did not fit. This module owns
the second one, in numpy only (layer 1), so training, the models and the benchmarks share
one formula:

    interval = score +- q * scale

``scale`` is a per-input error scale the model already has (``SCALES``): 1 for a
constant-width interval (``constant``); a closed-form head's cross-validated residual std
widened for inputs far from its training rows (``cv_std_widened``); the ensemble's member
spread (``member_spread``); or the predicted opinion distribution's std (``opinion_std``:
not the error itself, but on the shipped default it grows with the error, so dividing by it
narrows the intervals at equal coverage; docs/embedded-model.md). ``q`` is the conformal quantile of
``|y - score| / scale`` over held-out rows, at ``ceil((n + 1) * level) / n``, which gives
coverage of at least ``level`` on exchangeable data (Vovk et al.; MAPIE's split method).

A model folder's ``card.json`` carries the calibration as::

    "calibration": {
        "level": 0.9,
        "method": "split conformal on |residual| / scale, <held-out data used>",
        "heads": {"overall": {"q": 1.64, "scale": "constant" | "cv_std_widened" | "member_spread" | "opinion_std",
                              "coverage": 0.91, "mean_width": 14.2, "n": 239}}
    }

``coverage`` and ``mean_width`` are measured on held-out rows (the calibration rows
themselves only where nothing else exists, and the card's ``method`` then says so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DEFAULT_LEVEL",
    "SCALES",
    "IntervalCalibration",
    "conformal_quantile",
    "coverage",
    "interval",
    "oracle_width",
    "read_calibration",
]

DEFAULT_LEVEL: float = 0.9
"""The interval level every record uses unless a caller asks for another."""

SCALES: tuple[str, ...] = ("constant", "cv_std_widened", "member_spread", "opinion_std")
"""The per-input error scales a card's calibration may name (the module docstring says what each is)."""


def conformal_quantile(abs_normalised_residuals: ArrayLike, level: float = DEFAULT_LEVEL) -> float:
    """The split-conformal quantile: the ``ceil((n + 1) * level)``-th smallest residual.

    Returns ``inf`` when there are too few rows for that rank (n < level / (1 - level)), so
    a model calibrated on a handful of rows says "unknown" instead of a too-narrow interval.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must lie in (0, 1), got {level}")
    r = np.sort(np.abs(np.asarray(abs_normalised_residuals, dtype=np.float64).ravel()))
    r = r[np.isfinite(r)]
    n = r.size
    rank = math.ceil((n + 1) * level)
    if n == 0 or rank > n:
        return math.inf
    return float(r[rank - 1])


def interval(
    score: float, q: float, scale: float = 1.0, lo: float = 0.0, hi: float = 100.0
) -> tuple[float, float]:
    """``score +- q * scale`` clipped to the score range; the whole range when q is infinite."""
    if not math.isfinite(q) or not math.isfinite(scale):
        return (lo, hi)
    half = q * max(scale, 0.0)
    return (max(lo, score - half), min(hi, score + half))


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of rows whose target lies inside its interval (ends included)."""
    yy, lo, up = (np.asarray(a, dtype=np.float64) for a in (y, lower, upper))
    if yy.size == 0:
        return math.nan
    return float(np.mean((yy >= lo) & (yy <= up)))


def oracle_width(y: ArrayLike, score: ArrayLike, level: float = DEFAULT_LEVEL) -> float:
    """Width of the narrowest constant-width interval that covers ``level`` of these rows.

    The yardstick for "no wider than needed": twice the ``level`` quantile of |y - score|
    measured on the very rows being judged (an oracle no model can have in advance).
    """
    r = np.abs(np.asarray(y, dtype=np.float64) - np.asarray(score, dtype=np.float64))
    if r.size == 0:
        return math.nan
    return float(2.0 * np.quantile(r, level, method="higher"))


@dataclass(frozen=True)
class IntervalCalibration:
    """One head's calibration as a card stores it (see the module docstring)."""

    q: float
    scale: str = "constant"
    level: float = DEFAULT_LEVEL
    coverage: float | None = None
    mean_width: float | None = None
    n: int = 0

    def to_dict(self) -> dict[str, float | str | int | None]:
        return {
            "q": self.q if math.isfinite(self.q) else None,
            "scale": self.scale,
            "coverage": self.coverage,
            "mean_width": self.mean_width,
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object], level: float = DEFAULT_LEVEL) -> IntervalCalibration:
        q = d.get("q")
        cov, width, n = d.get("coverage"), d.get("mean_width"), d.get("n")
        return cls(
            q=float(q) if isinstance(q, int | float) else math.inf,
            scale=str(d.get("scale", "constant")),
            level=level,
            coverage=float(cov) if isinstance(cov, int | float) else None,
            mean_width=float(width) if isinstance(width, int | float) else None,
            n=n if isinstance(n, int) else 0,
        )


def read_calibration(card: Mapping[str, Any]) -> dict[str, IntervalCalibration]:
    """Each head's calibration from a model card's ``calibration`` block; {} when it has none.

    A head whose ``q`` is null (too few held-out rows) or whose scale this version does not
    know is left out: its scores then carry no interval rather than a made-up one.
    """
    block = card.get("calibration")
    if not isinstance(block, Mapping) or not isinstance(block.get("heads"), Mapping):
        return {}
    level = block.get("level", DEFAULT_LEVEL)
    level = float(level) if isinstance(level, int | float) and 0.0 < level < 1.0 else DEFAULT_LEVEL
    out = {}
    for name, head in block["heads"].items():
        if not isinstance(head, Mapping):
            continue
        cal = IntervalCalibration.from_dict(dict(head), level=level)
        if math.isfinite(cal.q) and cal.scale in SCALES:
            out[str(name)] = cal
    return out
