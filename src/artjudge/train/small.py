"""Small-data training: a rubric taught from a few hundred graded works.

Every choice is made by k-fold cross-validation on train+val (:mod:`artjudge.train.cv`),
and the head family is chosen per target by measurement, not by habit: closed-form ridge
or RBF kernel ridge (:mod:`artjudge.train.solvers`), or from ``MLP_MIN_ROWS`` works the
embedded scorer's usual MLP ensemble (:mod:`artjudge.train.fit`). The same out-of-fold
predictions give each head's measured skill and its interval calibration
(:mod:`artjudge.train.skill`), which the card states.

The closed-form heads are stored as buffers of :class:`artjudge.models.head.ScoringHead`
(``HeadConfig.families``), so the model loads through ``artjudge.load`` like any other;
their score distribution is a soft label at the predicted mean with the target's
cross-validated residual std (widened for works far from anything graded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artjudge.eval import metrics
from artjudge.features.extract import FeatureBatch
from artjudge.io.files import atomic_write_json
from artjudge.models.head import HeadConfig, ScoringHead
from artjudge.models.weights import save_checkpoint
from artjudge.train.cv import (
    FAMILIES,
    MIN_FRACTION,
    MIN_LABELS,
    FamilyResult,
    Selection,
    TargetChoice,
    choose_targets,
    cross_validate,
    cv_folds,
    standardise,
)
from artjudge.train.encode import encode_works, line_progress
from artjudge.train.fit import HeadTrainConfig, fit_mlp, mlp_train_config, predict_mlp, predict_scores
from artjudge.train.output import card_data, split_description
from artjudge.train.rubric_data import (
    ExemplarData,
    RubricTarget,
    grades_root,
    robust_explainers,
    write_rubric,
)
from artjudge.train.skill import calibration_block, head_skill, skill_block
from artjudge.train.solvers import ClosedFit, fit_by_mask, fit_closed, fit_closed_many, sqdist

__all__ = [
    "FAMILIES",
    "MIN_FRACTION",
    "MIN_LABELS",
    "MLP_MIN_ROWS",
    "FamilyResult",
    "Selection",
    "TargetChoice",
    "build_head",
    "choose_targets",
    "cross_validate",
    "cv_folds",
    "fit_closed",
    "fit_closed_many",
    "fit_mlp",
    "mlp_train_config",
    "predict_mlp",
    "standardise",
    "train_small_head",
]

MLP_MIN_ROWS = 400  # from here the MLP ensemble is cross-validated too: it ties kernel ridge at 200 works
# on AGIQA-3K (benchmarks/rubric_learning.py), leads slightly at 400, and costs ~10x a closed-form fit
STD_FLOOR = 1.0  # floor under a closed-form head's residual std (0-100 points)


# ---------------------------------------------------------------------------- the final head


def _pack_closed(
    head: ScoringHead,
    x: np.ndarray,
    scores: dict[str, np.ndarray],
    closed: dict[str, str],
    selection: Selection,
) -> None:
    """Refit the closed-form targets on all rows into the head's buffers (anchors: every row)."""
    head.cf_anchors.copy_(torch.from_numpy(x).float())
    d2 = sqdist(x, x)
    np.fill_diagonal(d2, np.inf)
    head.cf_dist_ref.fill_(float(np.median(np.sqrt(d2.min(1)))) if len(x) > 1 else 1.0)
    fitted: dict[str, tuple[np.ndarray, ClosedFit]] = {}
    for fam in set(closed.values()):
        fitted.update(
            fit_by_mask(fam, x, {t: scores[t] for t in closed if closed[t] == fam}, np.arange(len(x)))
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
        head.cf_std[j] = max(selection.best(t).residual_std, STD_FLOOR)


def build_head(
    feats: FeatureBatch,
    scores: dict[str, np.ndarray],
    selection: Selection,
    base_config: HeadTrainConfig,
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
            _pack_closed(head, x, scores, closed, selection)
    head.eval()
    return head


# ---------------------------------------------------------------------------- the whole run


@dataclass
class _Rows:
    """The manifest's rows as the small-data run uses them."""

    fit: np.ndarray  # train+val: cross-validated, refitted on
    test: np.ndarray  # held out, scored once for the card
    paths: list[str]
    splits: np.ndarray


def _encode(
    rows: _Rows, config: HeadTrainConfig, cache_dir: Path | None, log: Callable[[str], None]
) -> tuple[FeatureBatch, list[dict[str, float]]]:
    """Features of every row (the scorer's pipeline) and the evidence of the graded works."""
    graded = np.zeros(len(rows.paths), dtype=bool)
    graded[rows.fit] = True
    log(
        f"encoding {len(rows.paths)} works (and measuring the evidence of {int(graded.sum())} graded ones) ..."
    )
    with line_progress(len(rows.paths), "features") as step:
        enc = encode_works(
            rows.paths, config.head.resolution, evidence=graded.tolist(), cache_dir=cache_dir, progress=step
        )
    return enc.features, enc.evidence or []


def _select(
    x: np.ndarray,
    feats: FeatureBatch,
    scores: dict[str, np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    config: HeadTrainConfig,
    grouped: bool,
    log: Callable[[str], None],
) -> Selection:
    """Cross-validate the families; one line per target, and a visible one per unskilled head."""
    families = [f for f in config.small_families if f in FAMILIES] or list(FAMILIES)
    if len(x) < MLP_MIN_ROWS and len(families) > 1:
        families = [f for f in families if f != "mlp"] or families
    log(
        f"small-data training: {len(x)} works (train+val), {len(folds)}-fold "
        f"{'grouped ' if grouped else ''}cross-validation over {', '.join(families)}"
    )
    selection = cross_validate(
        x, feats, scores, folds, config, families=families, seed=config.seed, progress=log
    )
    selection.grouped = grouped
    for t in scores:
        best = selection.best(t)
        others = ", ".join(f"{f} {r.srcc:.3f}" for f, r in selection.results[t].items())
        log(
            f"  {t}: {selection.chosen[t]} (CV SRCC {best.srcc:.3f} [{best.srcc_ci[0]:.3f}, {best.srcc_ci[1]:.3f}]; "
            f"{others})"
        )
        skill = head_skill(selection, t)
        if not skill.skilled:
            log(skill.line(t))
    return selection


def _test_metrics(
    head: ScoringHead, feats: FeatureBatch, targets: dict[str, np.ndarray], rows: _Rows, selection: Selection
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if len(rows.test) >= 3:
        preds = predict_scores(head, feats.take(rows.test))
        for t, pr in preds.items():
            y = targets[t][rows.test]
            ok = np.isfinite(y)
            if ok.sum() > 2:
                out[f"test_{t}_srcc"] = round(metrics.srcc(pr[ok], y[ok]), 4)
                out[f"test_{t}_plcc"] = round(metrics.plcc(pr[ok], y[ok]), 4)
    for t in selection.chosen:
        out[f"cv_{t}_srcc"] = round(selection.best(t).srcc, 4)
    return out


def train_small_head(
    present: Any,
    config: HeadTrainConfig,
    out: Path,
    *,
    targets: dict[str, np.ndarray],
    skipped: list[str],
    groups: Sequence[Any] | None = None,
    cache_dir: Path | None = None,
    model_id: str | None = None,
    log: Callable[[str], None] = print,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cross-validate, refit, save into ``out``: the small-data branch of ``train_head``.

    ``targets`` holds the 0-100 scores of every kept target for all rows of ``present``
    (NaN where unlabelled). Train and val rows are pooled for k-fold CV; test rows are only
    scored at the end, for the card. ``out`` is the new folder the caller swaps in whole
    (:func:`artjudge.train.output.staged_model_folder`). Returns the model card.
    """
    df = present.frame
    splits = df["split"].to_numpy()
    rows = _Rows(
        np.flatnonzero(splits != "test"),
        np.flatnonzero(splits == "test"),
        df["path"].astype(str).tolist(),
        splits,
    )
    feats_all, evidence = _encode(rows, config, cache_dir, log)
    feats = feats_all.take(rows.fit)
    scores = {t: v[rows.fit] for t, v in targets.items()}
    x, _, _ = standardise(feats, config.head.use_handcrafted)
    fit_groups = [groups[int(i)] for i in rows.fit] if groups is not None else None
    folds = cv_folds(len(rows.fit), fit_groups, k=config.cv_folds, seed=config.seed)
    selection = _select(x, feats, scores, folds, config, fit_groups is not None, log)
    head = build_head(feats, scores, selection, config)
    card = _small_card(present, config, head, selection, scores, folds, skipped, rows, fit_groups is not None)
    card["id"] = model_id or card["id"]
    card["metrics"] = _test_metrics(head, feats_all, targets, rows, selection)
    card["data"] = card_data(present, splits, list(scores), data)
    save_checkpoint(out, head.state_dict(), card)
    atomic_write_json(out / "train_config.json", config.to_dict())
    _write_rubric_files(out, present, rows, scores, selection, folds, evidence, x)
    return card


def _small_card(
    present: Any,
    config: HeadTrainConfig,
    head: ScoringHead,
    selection: Selection,
    scores: dict[str, np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    skipped: list[str],
    rows: _Rows,
    grouped: bool,
) -> dict[str, Any]:
    from datetime import UTC, datetime

    split = split_description(present, "a split column") + (
        f"; train+val ({len(rows.fit)} works) pooled for {len(folds)}-fold cross-validation"
        + (" grouped by the group column" if grouped else "")
        + f"; test ({len(rows.test)} works) held out, scored once"
    )
    return {
        "id": f"artjudge-{present.name}",
        "version": datetime.now(UTC).strftime("%Y.%m.%d"),
        "description": f"EfficientNet-Lite0 multi-scale features + per-target heads chosen by "
        f"{len(folds)}-fold cross-validation (ridge / kernel ridge / MLP ensemble), "
        f"trained on {present.name}",
        "split": split,
        "targets": list(scores),
        "heads": dict(selection.chosen),
        "skipped_targets": list(skipped),
        "selection": selection.to_dict(),
        "skill": skill_block(selection),
        "calibration": calibration_block(selection, scores, folds, std_floor=STD_FLOOR),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": dict(config.to_dict(), head=head.config.to_dict()),
    }


def _write_rubric_files(
    out: Path,
    present: Any,
    rows: _Rows,
    scores: dict[str, np.ndarray],
    selection: Selection,
    folds: list[tuple[np.ndarray, np.ndarray]],
    evidence: list[dict[str, float]],
    x: np.ndarray,
) -> None:
    """rubric.json and exemplars.npy (:mod:`artjudge.train.rubric_data`) from the run's own data.

    The evidence was measured during encoding, on the same decoded copy the features came from.
    """
    df = present.frame
    fit_idx = rows.fit
    paths = rows.paths
    cited, pairs_tested = robust_explainers(evidence, scores, folds)
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
            cited[t],
        )
    ids = df["image_id"].astype(str).to_numpy()[fit_idx].tolist()
    oof = {t: selection.oof[t][selection.chosen[t]] for t in scores}
    extra = ExemplarData(oof, evidence, grades_root(present), pairs_tested)
    write_rubric(out, rubric, ids, [paths[i] for i in fit_idx], scores, x, extra)
