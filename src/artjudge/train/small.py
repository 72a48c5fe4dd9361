"""Small-data training: a rubric taught from a few hundred graded works.

With under ~500 labelled works a 10% validation split holds a few dozen images, and its
SRCC is noise (on a teacher-graded set: val 0.24 against test 0.67). So here every choice
is made by k-fold cross-validation on train+val (grouped by the user's group column, e.g.
class or student, so that one student's works never sit on both sides of a fold), and the
head family is chosen per target by measurement, not by habit:

* ``ridge``: closed-form ridge regression on the standardised frozen features (alpha by
  efficient leave-one-out, sklearn's RidgeCV); the most stable at very small n.
* ``kernel``: RBF kernel ridge on the same features (width and alpha by exact
  leave-one-out on the eigendecomposition of the Gram matrix); bends where ridge cannot.
* ``mlp``: the embedded scorer's usual MLP ensemble (``artjudge.train.head.fit_head``).

The closed-form heads are stored as buffers of :class:`artjudge.models.head.ScoringHead`
(``HeadConfig.families``), so the model loads through ``artjudge.load`` like any other;
their score distribution is a soft label at the predicted mean with the target's
cross-validated residual std (widened for works far from anything graded).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artjudge.eval import metrics
from artjudge.features.extract import FeatureBatch
from artjudge.io.files import atomic_write_bytes, atomic_write_json
from artjudge.models.head import HeadConfig, ScoringHead

FAMILIES: tuple[str, ...] = ("ridge", "kernel", "mlp")
MIN_LABELS = 20
MIN_FRACTION = 0.3
KERNEL_WIDTHS: tuple[float, ...] = (0.25, 1.0, 4.0)  # gamma = width / median squared distance
KERNEL_ALPHAS = np.logspace(-3, 1.5, 10)
RIDGE_ALPHA_FACTORS = np.logspace(-2, 2.5, 10)  # times the feature count (standardised inputs)
MLP_MIN_STEPS = 100  # few rows need more epochs than the default's 4 for a useful schedule
MLP_MIN_ROWS = 400  # from here the MLP ensemble is cross-validated too: it ties kernel ridge at 200 works
# on AGIQA-3K (benchmarks/rubric_learning.py), leads slightly at 400, and costs ~10x a closed-form fit
EXPLAINERS = 5
RUBRIC_VERSION = 1


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
    """k folds over ``n`` rows; grouped (no group on both sides) when ``groups`` is given."""
    from sklearn.model_selection import GroupKFold, KFold

    idx = np.arange(n)
    if groups is not None:
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
    return list(KFold(n_splits=min(k, n), shuffle=True, random_state=seed).split(idx))


# ---------------------------------------------------------------------------- closed-form fits


@dataclass
class ClosedFit:
    """One closed-form head: mean(x) = x.w + b + sum_i dual_i exp(-gamma |x - anchor_i|^2)."""

    family: str
    bias: float
    linear: np.ndarray | None = None
    dual: np.ndarray | None = None
    gamma: float = 0.0
    anchors: np.ndarray | None = None
    alpha: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = np.full(len(x), self.bias, dtype=np.float64)
        if self.linear is not None:
            out += x @ self.linear
        if self.dual is not None and self.anchors is not None:
            out += np.exp(-self.gamma * _sqdist(x, self.anchors)) @ self.dual
        return out


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = (a64 * a64).sum(1)[:, None] + (b64 * b64).sum(1)[None, :] - 2.0 * a64 @ b64.T
    return np.maximum(d, 0.0)


def _loo_pick(
    s: np.ndarray, u: np.ndarray, yc: np.ndarray, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out MSE per (alpha, column) for the hat matrices U diag(s/(s+a)) U'.

    With K = U diag(s) U', the leave-one-out residual of row i is (y - Hy)_i / (1 - H_ii), so
    every alpha costs one matrix product after one eigendecomposition.
    """
    uty = u.T @ yc
    u2 = u * u
    errs = np.empty((len(alphas), yc.shape[1]))
    for a, alpha in enumerate(alphas):
        shrink = s / (s + alpha)
        fitted = u @ (shrink[:, None] * uty)
        hdiag = u2 @ shrink
        loo = (yc - fitted) / np.maximum(1.0 - hdiag, 1e-9)[:, None]
        errs[a] = np.mean(loo**2, axis=0)
    return errs, uty


def fit_ridge(x: np.ndarray, y: np.ndarray) -> list[ClosedFit]:
    """Ridge per column of ``y`` (n, T); alpha by exact leave-one-out in the dual (n << d)."""
    y2 = y.reshape(len(y), -1)
    xm = x.mean(0)
    xc = x - xm
    s, u = np.linalg.eigh(xc @ xc.T)
    s = np.clip(s, 0.0, None)
    mu = y2.mean(0)
    alphas = RIDGE_ALPHA_FACTORS * x.shape[1]
    errs, uty = _loo_pick(s, u, y2 - mu, alphas)
    fits = []
    for j in range(y2.shape[1]):
        alpha = float(alphas[int(np.argmin(errs[:, j]))])
        dual = u @ (uty[:, j] / (s + alpha))
        w = xc.T @ dual
        fits.append(ClosedFit("ridge", float(mu[j] - xm @ w), linear=w, alpha=alpha))
    return fits


def fit_kernel(x: np.ndarray, y: np.ndarray) -> list[ClosedFit]:
    """RBF kernel ridge per column of ``y``; width and alpha by exact leave-one-out."""
    y2 = y.reshape(len(y), -1)
    d2 = _sqdist(x, x)
    med = float(np.median(d2[np.triu_indices(len(x), 1)])) if len(x) > 1 else 1.0
    mu = y2.mean(0)
    yc = y2 - mu
    best_err = np.full(y2.shape[1], np.inf)
    best: list[tuple[float, float, np.ndarray] | None] = [None] * y2.shape[1]
    for width in KERNEL_WIDTHS:
        gamma = width / max(med, 1e-12)
        s, u = np.linalg.eigh(np.exp(-gamma * d2))
        s = np.clip(s, 0.0, None)
        errs, uty = _loo_pick(s, u, yc, KERNEL_ALPHAS)
        for j in range(y2.shape[1]):
            a = int(np.argmin(errs[:, j]))
            if errs[a, j] < best_err[j]:
                best_err[j] = errs[a, j]
                alpha = float(KERNEL_ALPHAS[a])
                best[j] = (gamma, alpha, u @ (uty[:, j] / (s + alpha)))
    fits = []
    for j, b in enumerate(best):
        assert b is not None
        fits.append(ClosedFit("kernel", float(mu[j]), dual=b[2], gamma=b[0], anchors=x, alpha=b[1]))
    return fits


def fit_closed(family: str, x: np.ndarray, y: np.ndarray) -> ClosedFit:
    """One closed-form head for one target (all rows labelled)."""
    return fit_closed_many(family, x, y[:, None])[0]


def fit_closed_many(family: str, x: np.ndarray, y: np.ndarray) -> list[ClosedFit]:
    """Closed-form heads for the columns of ``y`` (n, T): one decomposition shared by all."""
    if family == "ridge":
        return fit_ridge(x, y)
    if family == "kernel":
        return fit_kernel(x, y)
    raise ValueError(f"head family {family!r} is not closed-form (ridge, kernel)")


def _fit_by_mask(
    family: str, x: np.ndarray, scores: dict[str, np.ndarray], rows: np.ndarray
) -> dict[str, tuple[np.ndarray, ClosedFit]]:
    """Fits per target on its labelled ``rows``; targets labelled on the same rows share the work."""
    by_mask: dict[bytes, list[str]] = {}
    for t, y in scores.items():
        lab = rows[np.isfinite(y[rows])]
        if len(lab) >= 3:
            by_mask.setdefault(lab.tobytes(), []).append(t)
    out: dict[str, tuple[np.ndarray, ClosedFit]] = {}
    for key, ts in by_mask.items():
        lab = np.frombuffer(key, dtype=rows.dtype)
        fits = fit_closed_many(family, x[lab], np.stack([scores[t][lab] for t in ts], axis=1))
        for t, fit in zip(ts, fits, strict=True):
            out[t] = (lab, fit)
    return out


# ---------------------------------------------------------------------------- MLP family


def mlp_train_config(base: Any, targets: list[str], n_rows: int) -> Any:
    """The MLP ensemble's config for few rows: same head, enough epochs for its schedule."""
    from artjudge.train.head import HeadTrainConfig

    cfg = HeadTrainConfig.from_dict(base.to_dict())
    cfg.head = HeadConfig(
        **{**base.head.to_dict(), "targets": list(targets), "families": {}, "n_anchors": 0, "tune_top": False}
    )
    steps = max(1, math.ceil(n_rows / cfg.batch_size))
    cfg.epochs = max(cfg.epochs, math.ceil(MLP_MIN_STEPS / steps))
    return cfg


def fit_mlp(feats: FeatureBatch, scores: dict[str, np.ndarray], base_config: Any) -> ScoringHead:
    """The MLP ensemble on all given rows; its own rows stand in for validation (no leakage)."""
    from artjudge.train.head import Targets, fit_head

    targets = Targets(dict(scores), {t: np.full(len(feats), np.nan) for t in scores})
    cfg = mlp_train_config(base_config, list(scores), len(feats))
    return fit_head(feats, targets, feats, targets, cfg).head


def predict_mlp(head: ScoringHead, feats: FeatureBatch) -> dict[str, np.ndarray]:
    from artjudge.train.head import predict_scores

    return predict_scores(head, feats)


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


def cross_validate(
    x: np.ndarray,
    feats: FeatureBatch,
    scores: dict[str, np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    base_config: Any,
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
    n = len(x)
    oof: dict[str, dict[str, np.ndarray]] = {t: {f: np.full(n, np.nan) for f in families} for t in scores}
    for i, (tr, te) in enumerate(folds):
        for f in families:
            if f == "mlp":
                continue
            for t, (_, fit) in _fit_by_mask(f, x, scores, tr).items():
                oof[t][f][te] = fit.predict(x[te])
        if "mlp" in families:
            head = fit_mlp(feats.take(tr), {t: y[tr] for t, y in scores.items()}, base_config)
            for t, pr in predict_mlp(head, feats.take(te)).items():
                oof[t]["mlp"][te] = pr
        if progress is not None:
            progress(f"cross-validation fold {i + 1}/{len(folds)} done")
    results: dict[str, dict[str, FamilyResult]] = {}
    chosen: dict[str, str] = {}
    for t, y in scores.items():
        ok = np.isfinite(y)
        results[t] = {}
        for f in families:
            pr = oof[t][f]
            m = ok & np.isfinite(pr)
            if m.sum() < 3:
                continue
            r = metrics.srcc(pr[m], y[m])
            ci = (
                metrics.bootstrap_ci(metrics.srcc, pr[m], y[m], n=bootstrap, seed=seed)
                if bootstrap
                else (r, r)
            )
            resid = float(np.std(pr[m] - y[m]))
            results[t][f] = FamilyResult(f, float(r), ci, resid, int(m.sum()))
        best_f, best_r = None, -math.inf
        for f in families:  # simplest first
            res = results[t].get(f)
            if res is None or not math.isfinite(res.srcc):
                continue
            if best_f is None or res.srcc > best_r + margin:
                best_f, best_r = f, res.srcc
        chosen[t] = best_f or families[0]
    return Selection(chosen, results, len(folds), False, oof)


# ---------------------------------------------------------------------------- the final head


def build_head(
    feats: FeatureBatch,
    scores: dict[str, np.ndarray],
    selection: Selection,
    base_config: Any,
) -> ScoringHead:
    """Refit every target's chosen family on all rows and pack them into one ScoringHead."""
    targets = list(scores)
    closed = {t: selection.chosen[t] for t in targets if selection.chosen[t] != "mlp"}
    mlp_targets = [t for t in targets if t not in closed]
    x, mean, std = standardise(feats, base_config.head.use_handcrafted)
    head_cfg = HeadConfig(
        **{
            **base_config.head.to_dict(),
            "targets": targets,
            "families": closed,
            "n_anchors": len(x) if closed else 0,
            "tune_top": False,
        }
    )
    head = ScoringHead(head_cfg)
    with torch.no_grad():
        head.frozen_mean.copy_(torch.from_numpy(mean))
        head.frozen_std.copy_(torch.from_numpy(std))
        if mlp_targets:
            mlp = fit_mlp(feats, {t: scores[t] for t in mlp_targets}, base_config)
            head.members.load_state_dict(mlp.members.state_dict())
        if closed:
            head.cf_anchors.copy_(torch.from_numpy(x).float())
            d2 = _sqdist(x, x)
            np.fill_diagonal(d2, np.inf)
            head.cf_dist_ref.fill_(float(np.median(np.sqrt(d2.min(1)))) if len(x) > 1 else 1.0)
            fitted: dict[str, tuple[np.ndarray, ClosedFit]] = {}
            for fam in set(closed.values()):
                fitted.update(
                    _fit_by_mask(
                        fam, x, {t: scores[t] for t in closed if closed[t] == fam}, np.arange(len(x))
                    )
                )
            for j, t in enumerate(head.closed_targets):
                lab, fit = fitted[t]
                if fit.linear is not None:
                    head.cf_linear[j] = torch.from_numpy(fit.linear).float()
                if fit.dual is not None:
                    dual = np.zeros(len(x))
                    dual[lab] = fit.dual  # anchors are all rows; unlabelled ones weigh 0
                    head.cf_dual[j] = torch.from_numpy(dual).float()
                    head.cf_gamma[j] = fit.gamma
                head.cf_bias[j] = fit.bias
                head.cf_std[j] = max(selection.best(t).residual_std, 1.0)
    head.eval()
    return head


# ---------------------------------------------------------------------------- rubric.json


def evidence_values(paths: Sequence[str], cache_dir: Path | None = None) -> list[dict[str, float]]:
    """Measured evidence (``artjudge.features.evidence.measure``) per image, valid values only.

    Measuring takes ~0.5 s an image, so values are cached by content hash beside the features.
    """
    from artjudge.features.cache import FeatureCache
    from artjudge.features.evidence import DESCRIPTIONS, measure
    from artjudge.io import load_image

    keys = sorted(DESCRIPTIONS)
    cache = FeatureCache(cache_dir, encoder_key="evidence-v1")
    out: list[dict[str, float]] = []
    for path in paths:
        loaded = load_image(path)
        hit = cache.get(loaded.sha256)
        if hit is None or list(hit["keys"]) != keys:
            ev = measure(loaded.image)
            vals = np.array(
                [ev[k].value if k in ev and ev[k].valid else np.nan for k in keys], dtype=np.float64
            )
            cache.put(loaded.sha256, {"keys": np.array(keys), "values": vals})
        else:
            vals = hit["values"]
        out.append({k: float(v) for k, v in zip(keys, vals, strict=True) if np.isfinite(v)})
    return out


def explainers(
    evidence: list[dict[str, float]], y: np.ndarray, top: int = EXPLAINERS
) -> list[dict[str, Any]]:
    """The evidence keys whose values rank the graded works most like this attribute (|Spearman|)."""
    from scipy.stats import spearmanr

    keys = sorted({k for e in evidence for k in e})
    rows: list[dict[str, Any]] = []
    for k in keys:
        v = np.array([e.get(k, np.nan) for e in evidence], dtype=np.float64)
        m = np.isfinite(v) & np.isfinite(y)
        if m.sum() < 8 or np.ptp(v[m]) == 0 or np.ptp(y[m]) == 0:
            continue
        r = float(spearmanr(v[m], y[m]).statistic)
        if math.isfinite(r):
            rows.append({"evidence": k, "spearman": round(r, 4), "n": int(m.sum())})
    rows.sort(key=lambda d: -abs(d["spearman"]))
    return rows[:top]


@dataclass
class RubricTarget:
    """One trained target as the critique reads it from rubric.json."""

    scale: tuple[float, float]
    n_labelled: int
    cv_srcc: float
    cv_srcc_ci: tuple[float, float]
    head: str
    explainers: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": [self.scale[0], self.scale[1]],
            "n_labelled": self.n_labelled,
            "cv_srcc": round(self.cv_srcc, 4),
            "cv_srcc_ci": [round(self.cv_srcc_ci[0], 4), round(self.cv_srcc_ci[1], 4)],
            "head": self.head,
            "explainers": self.explainers,
        }


def write_rubric(
    out: Path,
    attributes: dict[str, RubricTarget],
    ids: Sequence[str],
    paths: Sequence[str],
    scores: dict[str, np.ndarray],
    features: np.ndarray,
) -> Path:
    """rubric.json + exemplars.npy: the graded works, their human scores and their features."""
    exemplars = []
    for i, (id_, path) in enumerate(zip(ids, paths, strict=True)):
        exemplars.append(
            {
                "id": str(id_),
                "path": str(path),
                "scores": {t: round(float(s[i]), 3) for t, s in scores.items() if np.isfinite(s[i])},
            }
        )
    import io

    buf = io.BytesIO()
    np.save(buf, features.astype(np.float32))
    atomic_write_bytes(out / "exemplars.npy", buf.getvalue())
    return atomic_write_json(
        out / "rubric.json",
        {
            "version": RUBRIC_VERSION,
            "attributes": {t: a.to_dict() for t, a in attributes.items()},
            "exemplars": exemplars,
            "exemplar_features": "exemplars.npy",
        },
    )


def read_rubric(folder: str | Path) -> dict[str, Any]:
    """rubric.json of a model folder (for the critique and tests)."""
    return json.loads((Path(folder) / "rubric.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- the whole run


def train_small_head(
    present: Any,
    config: Any,
    out: Path,
    *,
    targets: dict[str, np.ndarray],
    skipped: list[str],
    groups: Sequence[Any] | None = None,
    cache_dir: Path | None = None,
    model_id: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cross-validate, refit, save: the small-data branch of ``artjudge.train.head.train_head``.

    ``targets`` holds the 0-100 scores of every kept target for all rows of ``present``
    (NaN where unlabelled). Train and val rows are pooled for k-fold CV; test rows are only
    scored at the end, for the card. Returns the model card.
    """
    from datetime import UTC, datetime

    from artjudge.models.weights import save_checkpoint
    from artjudge.train.head import extract_manifest_features, predict_scores

    df = present.frame
    splits = df["split"].to_numpy()
    fit_idx = np.flatnonzero(splits != "test")
    test_idx = np.flatnonzero(splits == "test")
    paths = df["path"].astype(str).tolist()
    feats_all = extract_manifest_features(
        paths, config.head.resolution, keep_trunk=False, cache_dir=cache_dir, desc="features"
    )
    feats = feats_all.take(fit_idx)
    scores = {t: v[fit_idx] for t, v in targets.items()}
    x, _, _ = standardise(feats, config.head.use_handcrafted)
    fit_groups = [groups[int(i)] for i in fit_idx] if groups is not None else None
    folds = cv_folds(len(fit_idx), fit_groups, k=config.cv_folds, seed=config.seed)
    families = [f for f in config.small_families if f in FAMILIES] or list(FAMILIES)
    if len(fit_idx) < MLP_MIN_ROWS and len(families) > 1:
        families = [f for f in families if f != "mlp"] or families
    log(
        f"small-data training: {len(fit_idx)} works (train+val), {len(folds)}-fold "
        f"{'grouped ' if fit_groups is not None else ''}cross-validation over {', '.join(families)}"
    )
    selection = cross_validate(
        x, feats, scores, folds, config, families=families, seed=config.seed, progress=log
    )
    selection.grouped = fit_groups is not None
    for t in scores:
        best = selection.best(t)
        others = ", ".join(f"{f} {r.srcc:.3f}" for f, r in selection.results[t].items())
        log(
            f"  {t}: {selection.chosen[t]} (CV SRCC {best.srcc:.3f} [{best.srcc_ci[0]:.3f}, {best.srcc_ci[1]:.3f}]; "
            f"{others})"
        )
    head = build_head(feats, scores, selection, config)

    split_metrics: dict[str, Any] = {}
    if len(test_idx) >= 3:
        preds = predict_scores(head, feats_all.take(test_idx))
        for t, pr in preds.items():
            y = targets[t][test_idx]
            ok = np.isfinite(y)
            if ok.sum() > 2:
                split_metrics[f"test_{t}_srcc"] = round(metrics.srcc(pr[ok], y[ok]), 4)
                split_metrics[f"test_{t}_plcc"] = round(metrics.plcc(pr[ok], y[ok]), 4)
    for t in scores:
        split_metrics[f"cv_{t}_srcc"] = round(selection.best(t).srcc, 4)

    log("measuring evidence of the graded works (cached per image) for rubric.json ...")
    evidence = evidence_values([paths[i] for i in fit_idx], cache_dir=_evidence_cache(cache_dir))
    rubric: dict[str, RubricTarget] = {}
    for t, y in scores.items():
        scale = present.scale if t == "overall" else present.attribute_scales.get(t, present.scale)
        best = selection.best(t)
        rubric[t] = RubricTarget(
            (float(scale[0]), float(scale[1])),
            int(np.isfinite(y).sum()),
            best.srcc,
            best.srcc_ci,
            selection.chosen[t],
            explainers(evidence, y),
        )
    ids = df["image_id"].astype(str).to_numpy()[fit_idx].tolist()
    card = {
        "id": model_id or f"artjudge-{present.name}",
        "version": datetime.now(UTC).strftime("%Y.%m.%d"),
        "description": f"EfficientNet-Lite0 multi-scale features + per-target heads chosen by "
        f"{len(folds)}-fold cross-validation (ridge / kernel ridge / MLP ensemble), "
        f"trained on {present.name}",
        "data": {
            "dataset": present.name,
            "source": str(getattr(present, "source", "")),
            "rows": {k: int(v) for k, v in zip(*np.unique(splits, return_counts=True), strict=True)},
            "images_used": int(len(df)),
        },
        "split": "train+val pooled for k-fold cross-validation"
        + (" grouped by the group column" if fit_groups is not None else "")
        + "; test held out",
        "targets": list(scores),
        "heads": dict(selection.chosen),
        "skipped_targets": list(skipped),
        "selection": selection.to_dict(),
        "metrics": split_metrics,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": dict(config.to_dict(), head=head.config.to_dict()),
    }
    save_checkpoint(out, head.state_dict(), card)
    atomic_write_json(out / "train_config.json", config.to_dict())
    write_rubric(out, rubric, ids, [paths[i] for i in fit_idx], scores, x)
    return card


def _evidence_cache(feature_cache: Path | None) -> Path | None:
    """Evidence values live in the same cache root as the features (own key)."""
    return feature_cache
