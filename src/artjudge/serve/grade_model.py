"""The grading page's learner: closed-form rubric heads fitted on a teacher's grades, in seconds.

Everything here is computed from two inputs, the works' frozen features and the teacher's
grades, with the small-data training of ``artjudge.train.small`` (k-fold cross-validation,
ridge / kernel ridge chosen per attribute, refit on all grades). On top of it, per attribute:

* **skill**: the cross-validated SRCC with its bootstrap 95% CI and the skilled verdict, the
  card's "skill" block (``artjudge.train.skill``). An unskilled attribute's predictions are
  never offered as grades.
* **calibration**: the card's "calibration" block (split conformal on the out-of-fold
  residuals over the head's widened std); intervals are ``score +- q * std``.
* **order**: the ungraded works in the order ``plan_labels`` ranks as most useful to grade.
* **disagreements**: graded works whose out-of-fold prediction is furthest from the grade.

Grades travel on the teacher's scale (e.g. 1-5); the heads work on 0-100 like every score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from artjudge.features.extract import FeatureBatch
from artjudge.scoring.intervals import DEFAULT_LEVEL

MIN_GRADED = 20  # the first training waits for this many graded works (train.small's MIN_LABELS)
FAMILIES = ("ridge", "kernel")  # closed-form only: seconds, never an MLP on a request's clock
BOOTSTRAP = 1000
MAX_DISAGREEMENTS = 12


@dataclass
class Scale:
    """The teacher's integer scale and its mapping to and from 0-100."""

    lo: int
    hi: int

    def to100(self, g: np.ndarray) -> np.ndarray:
        return (np.asarray(g, dtype=np.float64) - self.lo) / (self.hi - self.lo) * 100.0

    def from100(self, s: np.ndarray | float) -> np.ndarray:
        return self.lo + np.asarray(s, dtype=np.float64) / 100.0 * (self.hi - self.lo)


@dataclass
class LearnerState:
    """What the page shows after a training: JSON-ready, work ids as string keys."""

    n_graded: int
    n_works: int
    level: float
    skill: dict[str, Any]
    calibration: dict[str, Any]
    families: dict[str, str]
    predictions: dict[str, dict[str, list[float]]]  # work id -> attr -> [grade, lo, hi, score, std]
    oof: dict[str, dict[str, float]]  # graded work id -> attribute -> out-of-fold grade
    order: list[int]  # ungraded work ids, most useful to grade first
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def skilled(state: dict[str, Any], attribute: str) -> bool:
    """Whether a stored state says ``attribute`` has measured skill (unknown: no)."""
    head = ((state.get("skill") or {}).get("heads") or {}).get(attribute) or {}
    return bool(head.get("skilled"))


def coverage_order(feats: FeatureBatch, work_ids: list[int], graded: np.ndarray) -> list[int]:
    """Before any model: the ungraded works in ``plan_labels``' coverage order (no uncertainty yet)."""
    from artjudge.train.plan import plan_labels
    from artjudge.train.small import standardise

    pool = np.flatnonzero(~graded)
    if len(pool) == 0:
        return []
    x, _, _ = standardise(feats)
    plan = plan_labels(x[pool], len(pool), graded=x[graded] if graded.any() else None)
    return [work_ids[int(pool[i])] for i in plan.order]


def fit_learner(
    feats: FeatureBatch,
    work_ids: list[int],
    grades: dict[str, np.ndarray],
    scale: Scale,
    *,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> LearnerState:
    """Cross-validate, refit and predict every work; ``grades[attr]`` is NaN where ungraded.

    The skill and calibration blocks are ``artjudge.train.skill``'s, so the page shows the
    numbers a card trained on the same grades would carry.
    """
    import torch

    from artjudge.train.cv import cross_validate, cv_folds, standardise
    from artjudge.train.fit import HeadTrainConfig
    from artjudge.train.skill import calibration_block, skill_block
    from artjudge.train.small import STD_FLOOR, build_head

    attrs = list(grades)
    graded = np.all([np.isfinite(grades[a]) for a in attrs], axis=0)
    gi = np.flatnonzero(graded)
    if len(gi) < MIN_GRADED:
        raise ValueError(f"{len(gi)} graded works: training waits for {MIN_GRADED}")
    config = HeadTrainConfig(seed=seed)
    fg = feats.take(gi)
    scores = {a: scale.to100(grades[a][gi]) for a in attrs}
    x, _, _ = standardise(fg, config.head.use_handcrafted)
    folds = cv_folds(len(gi), None, k=config.cv_folds, seed=seed)
    sel = cross_validate(x, fg, scores, folds, config, families=FAMILIES, bootstrap=BOOTSTRAP, seed=seed)
    head = build_head(fg, scores, sel, config)
    skill = skill_block(sel)
    calib = calibration_block(sel, scores, folds, std_floor=STD_FLOOR, level=level)
    pooled, hand, _ = feats.tensors()
    with torch.no_grad():
        x_all = head.frozen_input(pooled, hand).double()
        mean_t, std_t = head.closed_form_scores(x_all)
    mean, std = mean_t.numpy(), std_t.numpy()
    col = {t: j for j, t in enumerate(head.closed_targets)}
    predictions: dict[str, dict[str, list[float]]] = {str(w): {} for w in work_ids}
    oof_grades: dict[str, dict[str, float]] = {str(work_ids[int(i)]): {} for i in gi}
    for a in attrs:
        q = calib["heads"][a]["q"]
        j = col[a]
        lo_all, hi_all = _band(mean[:, j], math.inf if q is None else float(q), std[:, j])
        g, glo, ghi = scale.from100(mean[:, j]), scale.from100(lo_all), scale.from100(hi_all)
        for r, w in enumerate(work_ids):
            predictions[str(w)][a] = [
                *(round(float(v[r]), 3) for v in (g, glo, ghi)),
                round(float(mean[r, j]), 2),
                round(float(std[r, j]), 2),
            ]
        oof = np.clip(sel.oof[a][sel.chosen[a]], 0.0, 100.0)
        for r, i in enumerate(gi):
            oof_grades[str(work_ids[int(i)])][a] = round(float(scale.from100(oof[r])), 3)
    return LearnerState(
        n_graded=len(gi),
        n_works=len(work_ids),
        level=level,
        skill=skill,
        calibration=calib,
        families=dict(sel.chosen),
        predictions=predictions,
        oof=oof_grades,
        order=_plan(x_all.numpy(), graded, std, work_ids),
        disagreements=_disagreements(grades, oof_grades, work_ids, gi, attrs, skill),
    )


def _band(score: np.ndarray, q: float, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``score +- q * scale`` clipped to 0-100 (the whole range when q is unknown)."""
    if not math.isfinite(q):
        return np.zeros_like(score), np.full_like(score, 100.0)
    half = q * np.maximum(scale, 0.0)
    return np.clip(score - half, 0.0, 100.0), np.clip(score + half, 0.0, 100.0)


def _plan(x: np.ndarray, graded: np.ndarray, std: np.ndarray, work_ids: list[int]) -> list[int]:
    from artjudge.train.plan import plan_labels

    pool = np.flatnonzero(~graded)
    if len(pool) == 0:
        return []
    plan = plan_labels(x[pool], len(pool), stds=std[pool].mean(1), graded=x[graded])
    return [work_ids[int(pool[i])] for i in plan.order]


def _disagreements(
    grades: dict[str, np.ndarray],
    oof: dict[str, dict[str, float]],
    work_ids: list[int],
    gi: np.ndarray,
    attrs: list[str],
    skill: dict[str, Any],
) -> list[dict[str, Any]]:
    """Graded works where the out-of-fold prediction is furthest from the grade (skilled attributes)."""
    use = [a for a in attrs if skill["heads"][a]["skilled"]]
    rows: list[dict[str, Any]] = []
    for i in gi:
        w = str(work_ids[int(i)])
        gaps = {a: float(grades[a][i]) - oof[w][a] for a in use}
        if gaps:
            worst = max(gaps, key=lambda a: abs(gaps[a]))
            rows.append(
                {
                    "work_id": int(w),
                    "attribute": worst,
                    "grade": float(grades[worst][i]),
                    "model": oof[w][worst],
                    "gap": round(gaps[worst], 3),
                }
            )
    rows.sort(key=lambda r: -abs(float(r["gap"])))
    return rows[:MAX_DISAGREEMENTS]
