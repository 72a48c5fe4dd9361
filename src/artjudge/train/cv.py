"""Model selection for the small-data path: which targets, which folds, which head family.

With under ~500 labelled works a 10% validation split holds a few dozen images, and its
SRCC is noise (on a teacher-graded set: val 0.24 against test 0.67). So every choice is made
by k-fold cross-validation on train+val (grouped by the user's group column, e.g. class or
student, so that one student's works never sit on both sides of a fold), and the pooled
out-of-fold predictions are what the card's skill and interval calibration are measured on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from artjudge.eval import metrics
from artjudge.features.extract import FeatureBatch
from artjudge.train.fit import HeadTrainConfig, fit_mlp, predict_mlp
from artjudge.train.solvers import fit_by_mask, sqdist

FAMILIES: tuple[str, ...] = ("ridge", "kernel", "mlp")
MIN_LABELS = 20
MIN_FRACTION = 0.3


# ---------------------------------------------------------------------------- targets


@dataclass
class TargetChoice:
    """Which targets get a head, and one line per target that was left out (and why)."""

    kept: list[str]
    skipped: list[str] = field(default_factory=list)


def choose_targets(
    scores: dict[str, np.ndarray], *, min_labels: int = MIN_LABELS, min_fraction: float = MIN_FRACTION
) -> TargetChoice:
    """Keep every target with enough labels among the training rows (train+val).

    A column graded for a handful of works would train a head that only echoes noise, and
    a silent failure is worse than a visible skip: each skip is reported in one line.
    """
    kept, skipped = [], []
    for t, y in scores.items():
        n_lab, n = int(np.isfinite(y).sum()), len(y)
        if n_lab < min_labels or n_lab < min_fraction * n:
            skipped.append(
                f"skipped {t!r}: {n_lab} of {n} training works labelled "
                f"(needs >= {min_labels} and >= {min_fraction:.0%})"
            )
        else:
            kept.append(t)
    return TargetChoice(kept, skipped)


# ---------------------------------------------------------------------------- folds


def cv_folds(
    n: int, groups: Sequence[Any] | None, k: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds over ``n`` rows; grouped (no group on both sides) when ``groups`` is given.

    Ungrouped folds are scikit-learn's ``KFold(shuffle=True, random_state=seed)`` rebuilt in
    NumPy (the same folds, index for index: tests/test_cv_folds.py), so that training a small
    rubric does not pay about a second to import scikit-learn; grouped folds still use it.
    """
    idx = np.arange(n)
    if groups is not None:
        from sklearn.model_selection import GroupKFold

        g = np.asarray([str(x) for x in groups])
        n_groups = len(set(g.tolist()))
        if n_groups < 2:
            raise ValueError(
                f"group column: {n_groups} group(s) among {n} works; grouped CV needs at least 2"
            )
        # shuffle the group labels (seeded) so that fold membership does not follow file order
        uniq = np.unique(g)
        perm = dict(zip(uniq, np.random.default_rng(seed).permutation(len(uniq)), strict=True))
        coded = np.array([perm[x] for x in g])
        return list(GroupKFold(n_splits=min(k, n_groups)).split(idx, groups=coded))
    return shuffled_kfold(n, min(k, n), seed)


def shuffled_kfold(n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``KFold(n_splits=k, shuffle=True, random_state=seed).split(range(n))``: (train, test) pairs.

    scikit-learn shuffles the indices with ``RandomState(seed)``, cuts them into ``k`` runs
    (the first ``n % k`` one longer) and returns each run and the rest as sorted index arrays.
    """
    if k < 2 or k > n:
        raise ValueError(f"cross-validation needs 2 <= folds <= rows; got {k} folds over {n} rows")
    idx = np.arange(n)
    order = idx.copy()
    np.random.RandomState(seed).shuffle(order)
    sizes = np.full(k, n // k, dtype=int)
    sizes[: n % k] += 1
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    start = 0
    for size in sizes:
        test = np.zeros(n, dtype=bool)
        test[order[start : start + size]] = True
        start += size
        folds.append((idx[~test], idx[test]))
    return folds


# ---------------------------------------------------------------------------- selection


@dataclass
class FamilyResult:
    """One head family's cross-validated record on one target (pooled out-of-fold predictions)."""

    family: str
    srcc: float
    srcc_ci: tuple[float, float]
    residual_std: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "cv_srcc": round(self.srcc, 4),
            "cv_srcc_ci": [round(self.srcc_ci[0], 4), round(self.srcc_ci[1], 4)],
            "residual_std": round(self.residual_std, 3),
            "n": self.n,
        }


@dataclass
class Selection:
    """What cross-validation chose per target, and the measurements behind the choice."""

    chosen: dict[str, str]
    results: dict[str, dict[str, FamilyResult]]
    folds: int
    grouped: bool
    oof: dict[str, dict[str, np.ndarray]]
    #: per row, how much a closed-form head's std widens for it out of fold (its distance to the
    #: nearest training row of its fold against that fold's typical spacing): the interval's scale
    oof_widen: np.ndarray | None = None

    def best(self, target: str) -> FamilyResult:
        return self.results[target][self.chosen[target]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "grouped": self.grouped,
            "targets": {
                t: {
                    "family": self.chosen[t],
                    **self.best(t).to_dict(),
                    "by_family": {f: r.to_dict() for f, r in self.results[t].items()},
                }
                for t in self.chosen
            },
        }


def standardise(
    feats: FeatureBatch, use_handcrafted: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frozen input and its (mean, std), exactly as ``ScoringHead.frozen_input`` applies them."""
    p, h, _ = feats.tensors()
    raw = torch.cat([p, h], dim=1).float() if use_handcrafted else p.float()
    mean, std = raw.mean(0), raw.std(0).clamp_min(1e-4)
    return ((raw - mean) / std).numpy().astype(np.float64), mean.numpy(), std.numpy()


def fold_widening(x: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per row, sqrt(max(1, d / d_ref)) as the fold's model would widen its std for it.

    The same rule as ``ScoringHead.closed_form_scores`` (d: distance to the nearest training
    row; d_ref: median nearest-neighbour distance among the training rows), applied to each
    row out of fold, so that calibrating on out-of-fold residuals sees the scale inference uses.
    """
    widen = np.ones(len(x))
    for tr, te in folds:
        near = np.sqrt(sqdist(x[te], x[tr]).min(1))
        d2 = sqdist(x[tr], x[tr])
        np.fill_diagonal(d2, np.inf)
        ref = float(np.median(np.sqrt(d2.min(1)))) if len(tr) > 1 else 1.0
        widen[te] = np.sqrt(np.maximum(near / max(ref, 1e-6), 1.0))
    return widen


def _out_of_fold(
    x: np.ndarray,
    feats: FeatureBatch,
    scores: dict[str, np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    base_config: HeadTrainConfig,
    families: Sequence[str],
    progress: Callable[[str], None] | None,
) -> dict[str, dict[str, np.ndarray]]:
    """Every family's out-of-fold prediction for every target (NaN where never held out)."""
    n = len(x)
    oof: dict[str, dict[str, np.ndarray]] = {t: {f: np.full(n, np.nan) for f in families} for t in scores}
    for i, (tr, te) in enumerate(folds):
        for f in families:
            if f == "mlp":
                continue
            for t, (_, fit) in fit_by_mask(f, x, scores, tr).items():
                oof[t][f][te] = fit.predict(x[te])
        if "mlp" in families:
            head = fit_mlp(feats.take(tr), {t: y[tr] for t, y in scores.items()}, base_config)
            for t, pr in predict_mlp(head, feats.take(te)).items():
                oof[t]["mlp"][te] = pr
        if progress is not None:
            progress(f"cross-validation fold {i + 1}/{len(folds)} done")
    return oof


def _family_results(
    y: np.ndarray, preds: dict[str, np.ndarray], families: Sequence[str], bootstrap: int, seed: int
) -> dict[str, FamilyResult]:
    """SRCC with its 95% bootstrap CI over works, and the residual std, per family."""
    ok = np.isfinite(y)
    out: dict[str, FamilyResult] = {}
    for f in families:
        pr = preds[f]
        m = ok & np.isfinite(pr)
        if m.sum() < 3:
            continue
        r = metrics.srcc(pr[m], y[m])
        ci = metrics.bootstrap_ci(metrics.srcc, pr[m], y[m], n=bootstrap, seed=seed) if bootstrap else (r, r)
        out[f] = FamilyResult(f, float(r), ci, float(np.std(pr[m] - y[m])), int(m.sum()))
    return out


def _choose(results: dict[str, FamilyResult], families: Sequence[str], margin: float) -> str:
    best_f, best_r = None, -math.inf
    for f in families:  # simplest first
        res = results.get(f)
        if res is None or not math.isfinite(res.srcc):
            continue
        if best_f is None or res.srcc > best_r + margin:
            best_f, best_r = f, res.srcc
    return best_f or families[0]


def cross_validate(
    x: np.ndarray,
    feats: FeatureBatch,
    scores: dict[str, np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    base_config: HeadTrainConfig,
    *,
    families: Sequence[str] = FAMILIES,
    bootstrap: int = 1000,
    seed: int = 0,
    margin: float = 0.005,
    progress: Callable[[str], None] | None = None,
) -> Selection:
    """Out-of-fold predictions of every family for every target; pick the best SRCC per target.

    A more flexible family must beat a simpler one by ``margin`` SRCC to be chosen (order:
    ridge, kernel, mlp): at small n a tie is noise, and the simpler head is steadier.
    """
    oof = _out_of_fold(x, feats, scores, folds, base_config, families, progress)
    results = {t: _family_results(y, oof[t], families, bootstrap, seed) for t, y in scores.items()}
    chosen = {t: _choose(results[t], families, margin) for t in scores}
    return Selection(chosen, results, len(folds), False, oof, fold_widening(x, folds))
