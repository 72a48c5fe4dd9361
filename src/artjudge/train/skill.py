"""What a trained head can be trusted for: its measured skill and its error interval.

Both come from the pooled out-of-fold predictions of cross-validation (data each fold's
model did not fit), and both go into the card (formats: docs/rubric.md):

* **skill**: the head's CV SRCC with a 95% bootstrap CI over works, and a verdict by one
  rule, :data:`SKILL_RULE`. A head whose skill is not established is never shown as a bare
  grade (``artjudge.models.head_config.unskilled_targets``), and the critique never advises
  on it. The rule was chosen by measurement on AGIQA-3K's two human scores as two rubrics
  plus a pure-noise column (``benchmarks/rubric_skill.py``; docs/rubric.md has the table).
* **calibration**: split-conformal on |y - oof| / oof_std (``artjudge.scoring.intervals``),
  where oof_std is the closed-form head's cross-validated residual std widened exactly as
  inference widens it (``artjudge.train.cv.fold_widening``). Coverage and width are
  measured fold by fold with q taken from the other folds, so they are held-out figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from artjudge.scoring.intervals import DEFAULT_LEVEL, conformal_quantile, coverage
from artjudge.train.cv import Selection

__all__ = [
    "SKILL_CI_FLOOR",
    "SKILL_RULE",
    "HeadSkill",
    "calibration_block",
    "constant_calibration",
    "head_skill",
    "skill_block",
    "val_skill_block",
]

#: A head is skilled when the lower end of its CV SRCC's 95% CI lies above this. Not 0: on
#: AGIQA-3K a pure-noise column's CI excluded 0 in 3 of 30 draws (n = 50-200), because similar
#: works (same prompt: near-duplicates) fall on both sides of a fold and the bootstrap over
#: works then counts them as independent; with 0.1, 0 of 30, while 57 of 60 draws of the two
#: real rubrics stayed skilled (benchmarks/rubric_skill.py; docs/rubric.md).
SKILL_CI_FLOOR = 0.1
SKILL_RULE = (
    "skilled when the lower bound of the 95% bootstrap CI (over works) of the cross-validated "
    f"SRCC (out-of-fold predictions pooled over the folds) is above {SKILL_CI_FLOOR:g}"
)
CALIBRATION_METHOD = (
    "split conformal on |y - out-of-fold prediction| / out-of-fold std (the head's CV residual std "
    "widened by nearest-neighbour distance to its fold's training rows), pooled over the CV folds of "
    "the train+val works; coverage and mean_width measured fold by fold with q from the other folds"
)


@dataclass(frozen=True)
class HeadSkill:
    """One head's measured skill as the card stores it."""

    cv_srcc: float
    ci: tuple[float, float]
    n: int

    @property
    def skilled(self) -> bool:
        return math.isfinite(self.ci[0]) and self.ci[0] > SKILL_CI_FLOOR

    def to_dict(self) -> dict[str, Any]:
        return {
            "cv_srcc": round(self.cv_srcc, 4),
            "ci": [round(self.ci[0], 4), round(self.ci[1], 4)],
            "skilled": self.skilled,
            "n": self.n,
        }

    def line(self, target: str) -> str:
        """The visible line ``train`` prints for a head whose skill is not established."""
        return (
            f"NOT SKILLED: {target} (CV SRCC {self.cv_srcc:.3f}, 95% CI [{self.ci[0]:.3f}, {self.ci[1]:.3f}] "
            f"does not lie above {SKILL_CI_FLOOR:g}): kept in the model but not shown as a grade, and never "
            "advised on"
        )


def head_skill(selection: Selection, target: str) -> HeadSkill:
    """The chosen family's pooled out-of-fold SRCC and its 95% bootstrap CI over works."""
    best = selection.best(target)
    return HeadSkill(float(best.srcc), (float(best.srcc_ci[0]), float(best.srcc_ci[1])), int(best.n))


def skill_block(selection: Selection) -> dict[str, Any]:
    """The card's ``skill`` block for every target the selection covers."""
    return {"rule": SKILL_RULE, "heads": {t: head_skill(selection, t).to_dict() for t in selection.chosen}}


def _oof_std(selection: Selection, target: str, std_floor: float) -> np.ndarray:
    widen = selection.oof_widen if selection.oof_widen is not None else 1.0
    return np.maximum(selection.best(target).residual_std, std_floor) * np.asarray(widen, dtype=np.float64)


def _head_calibration(
    y: np.ndarray,
    pred: np.ndarray,
    scale: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    level: float,
) -> dict[str, Any]:
    pred = np.clip(pred, 0.0, 100.0)  # the loaded head clamps its mean to the score range
    ok = np.isfinite(y) & np.isfinite(pred)
    ratio = np.full(len(y), np.nan)
    ratio[ok] = np.abs(y[ok] - pred[ok]) / scale[ok]
    q = conformal_quantile(ratio[ok], level)
    hits, widths = [], []
    for _, te in folds:
        held = te[ok[te]]
        rest = np.setdiff1d(np.flatnonzero(ok), held)
        q_k = conformal_quantile(ratio[rest], level)
        if not held.size or not math.isfinite(q_k):
            continue
        lo = np.clip(pred[held] - q_k * scale[held], 0, 100)
        hi = np.clip(pred[held] + q_k * scale[held], 0, 100)
        hits.append(coverage(y[held], lo, hi) * held.size)
        widths.extend((hi - lo).tolist())
    n_held = sum(int(ok[te].sum()) for _, te in folds) if hits else 0
    return {
        "q": round(q, 4) if math.isfinite(q) else None,
        "scale": "cv_std_widened",
        "coverage": round(float(sum(hits) / n_held), 4) if n_held else None,
        "mean_width": round(float(np.mean(widths)), 3) if widths else None,
        "n": int(ok.sum()),
    }


def calibration_block(
    selection: Selection,
    scores: dict[str, np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    std_floor: float = 1.0,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Any]:
    """The card's ``calibration`` block for the closed-form heads of a small-data model.

    ``std_floor`` is the floor ``build_head`` puts under ``cf_std``, so the scale here is the
    one the loaded head reports. An MLP-ensemble head gets a constant-width interval from its
    out-of-fold residuals instead (scale "constant").
    """
    heads: dict[str, Any] = {}
    for t, y in scores.items():
        pred = selection.oof[t][selection.chosen[t]]
        if selection.chosen[t] == "mlp":
            scale = np.ones(len(y))
            heads[t] = dict(_head_calibration(y, pred, scale, folds, level), scale="constant")
        else:
            heads[t] = _head_calibration(y, pred, _oof_std(selection, t, std_floor), folds, level)
    return {"level": level, "method": CALIBRATION_METHOD, "heads": heads}


def val_skill_block(
    y_by_target: dict[str, np.ndarray], pred_by_target: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The ``skill`` block of an ensemble trained with a val split: SRCC and CI on val rows.

    The ensemble path (>= small_data_max works) has no cross-validation; its held-out
    evidence is the val split, so the same rule is applied to the val SRCC's bootstrap CI.
    """
    from artjudge.eval import metrics

    heads: dict[str, Any] = {}
    for t, pred in pred_by_target.items():
        y = y_by_target[t]
        ok = np.isfinite(y) & np.isfinite(pred)
        if ok.sum() < 3:
            continue
        r = float(metrics.srcc(pred[ok], y[ok]))
        lo, hi = metrics.bootstrap_ci(metrics.srcc, pred[ok], y[ok], n=1000, seed=0)
        heads[t] = HeadSkill(r, (float(lo), float(hi)), int(ok.sum())).to_dict()
    return {"rule": SKILL_RULE.replace("cross-validated", "val-split"), "heads": heads}


def constant_calibration(
    calib: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    held: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Any]:
    """Constant-width split-conformal intervals: q from the val rows, coverage on the test rows.

    Where there is no test split the coverage is left unknown (None) rather than measured on
    the very rows that set q.
    """
    heads: dict[str, Any] = {}
    ys, preds = calib
    for t, pred in preds.items():
        ok = np.isfinite(ys[t]) & np.isfinite(pred)
        q = conformal_quantile(np.abs(ys[t][ok] - pred[ok]), level)
        entry: dict[str, Any] = {"q": round(q, 4) if math.isfinite(q) else None, "scale": "constant",
                                 "coverage": None, "mean_width": None, "n": int(ok.sum())}  # fmt: skip
        if held is not None and math.isfinite(q) and t in held[1]:
            y2, p2 = held[0][t], held[1][t]
            m = np.isfinite(y2) & np.isfinite(p2)
            lo, hi = np.clip(p2[m] - q, 0, 100), np.clip(p2[m] + q, 0, 100)
            entry["coverage"] = round(coverage(y2[m], lo, hi), 4) if m.any() else None
            entry["mean_width"] = round(float(np.mean(hi - lo)), 3) if m.any() else None
        heads[t] = entry
    method = "split conformal on |y - prediction| over the val split (constant width)"
    method += "; coverage and mean_width on the test split" if held is not None else "; no test split"
    return {"level": level, "method": method, "heads": heads}
