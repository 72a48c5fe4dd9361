"""Fit the offline consistency weights on AGIQA-3K (train split only; choices by grouped CV).

    nice -n 10 python benchmarks/consistency_features.py      # cache the frozen inputs once
    python -m artjudge.train.consistency                      # writes weights/consistency/

What is fitted, and on what:
- ``object_threshold``: the cosine a word needs with an ImageNet concept name to count as
  checkable; the value (from a grid) whose per-image object confidence correlates best
  with ``mos_align`` on train, among those that check at least half of the objects.
- the calibration ridge (inputs: ``models.consistency.FEATURE_NAMES``): which inputs enter
  (grounding, contrast, colour, prompt length; the quality score always does) and whether the
  coefficients are sign-constrained (``SIGNS``) is chosen by 5-fold CV grouped by prompt over
  train+val; the chosen ridge is then fitted on train only. Its std is the out-of-fold
  residual std on the 0-100 scale.
- honest quality: the shipped quality score was trained on the train images, where it is
  near-perfect (SRCC 0.96 with ``mos_quality`` against 0.85 on test), so a calibration fitted
  there leans on it. Every fit and every CV score here uses instead out-of-fold quality: a
  ridge from the cached pooled features to ``mos_quality``, 5 folds grouped by prompt over the
  train split (val rows: the ridge fitted on all of train), mapped to the quality score's
  scale by the train relation. At inference the shipped quality score is used as it is.
- the style classifier: multinomial logistic regression on the standardised classifier
  features, AGIQA ``style`` (none, anime, baroque, abstract, realistic, sci-fi), train only.
- reference calibration: for 4,000 same-prompt and 4,000 different-prompt train pairs, the
  percentiles (101) of each similarity over the different-prompt pairs; the overall score
  weighs the three percentiles by how well each separates same- from different-prompt
  pairs (its AUC - 0.5, normalised), so it rises with every similarity.
Nothing here reads the test split.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artjudge.features.colour import soft_colour_fractions
from artjudge.features.prompt_elements import parse_prompt
from artjudge.io.files import atomic_write_json, dumps_strict
from artjudge.models.consistency import (
    FEATURE_NAMES,
    SIGNS,
    WEIGHTS_PATH,
    ImageSignals,
    colour_features,
    contrast_features,
    grounding_features,
    prompt_features,
    reference_similarities,
    softmax,
)
from artjudge.models.weights import save_weights_file, seal_folder

_GROUNDING = [n for n in FEATURE_NAMES if n.startswith("grounding")]
_TOP = [
    "grounding_top5max",
    "grounding_top5mean",
    "grounding_top20mean",
    "contrast_top5_z",
    "contrast_top5_rank",
]
# name -> (inputs, sign-constrained); the quality score is always in
GROUPS: dict[str, tuple[list[str], bool]] = {
    "quality+grounding": (["quality"] + _GROUNDING, False),
    "quality+grounding+contrast": (
        ["quality"] + [n for n in FEATURE_NAMES if n.startswith(("grounding", "contrast"))],
        False,
    ),
    "all inputs": (list(FEATURE_NAMES), False),
    "signed: all inputs": (list(FEATURE_NAMES), True),
    "signed: quality+top grounding": (["quality"] + _TOP, True),
    "signed: quality+top grounding+colour": (["quality"] + _TOP + ["colour_match"], True),
    "signed: quality+top grounding+colour+prompt": (
        ["quality"] + _TOP + ["colour_match", "prompt_words", "prompt_attributes"],
        True,
    ),
}
SIGNED_ALPHA = 10.0  # sklearn's Ridge(positive=True) has no built-in alpha search; 1-30 gave the same CV
THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


@dataclass
class Inputs:
    """The cached frozen inputs (benchmarks/consistency_features.py), row per AGIQA-3K image."""

    quality: np.ndarray
    pooled: np.ndarray
    thumbs: np.ndarray
    prompt: np.ndarray
    split: np.ndarray
    style: np.ndarray
    mos_align: np.ndarray
    mos_quality: np.ndarray

    @classmethod
    def load(cls, path: Path) -> Inputs:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no cached inputs; run benchmarks/consistency_features.py first")
        d = np.load(path)
        keys = ("quality", "pooled", "thumbs", "prompt", "split", "style", "mos_align", "mos_quality")
        return cls(**{k: d[k] for k in keys})


def honest_quality(inp: Inputs, folds: int = 5) -> np.ndarray:
    """Quality scores the calibration can trust: out-of-fold on train, train-fitted on val/test rows.

    A ridge from the standardised pooled features to ``mos_quality`` (5 folds grouped by
    prompt over the train split), mapped onto the shipped score's 0-100 scale by matching its
    mean and spread on val, where neither has seen the images (a ridge's predictions are
    shrunk: without this the calibration would under-weight the sharper shipped score at
    inference). It tracks the shipped score closely there (SRCC 0.96 on val) and is about as
    good on train as the shipped score is on unseen images (SRCC 0.79 with ``mos_quality``).
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold

    train = inp.split == "train"
    x = inp.pooled.astype(np.float64)
    mu, sd = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
    z = (x - mu) / sd
    target = inp.mos_quality.astype(np.float64)
    groups = np.unique(inp.prompt, return_inverse=True)[1]
    alphas = np.logspace(1, 5, 9)
    pred = RidgeCV(alphas=alphas).fit(z[train], target[train]).predict(z)
    rows = np.flatnonzero(train)
    for a, b in GroupKFold(folds).split(rows, groups=groups[rows]):
        model = RidgeCV(alphas=alphas).fit(z[rows[a]], target[rows[a]])
        pred[rows[b]] = model.predict(z[rows[b]])
    val = inp.split == "val"
    shipped = inp.quality.astype(np.float64)
    scaled = (pred - pred[val].mean()) / pred[val].std() * shipped[val].std() + shipped[val].mean()
    return np.asarray(scaled, dtype=np.float64)


def class_probs(pooled: np.ndarray) -> np.ndarray:
    """ImageNet probabilities from the scorer's pooled features (the classifier's own head)."""
    from artjudge.features.encoder import load_backbone

    net: Any = load_backbone()
    with torch.no_grad():
        logits = net._fc(torch.from_numpy(np.ascontiguousarray(pooled[:, -2560:-1280]))).numpy()
    return softmax(logits.astype(np.float64))


def signals_of(inp: Inputs, probs: np.ndarray) -> list[ImageSignals]:
    return [
        ImageSignals(
            probs[i], inp.pooled[i, -2560:-1280].astype(np.float64), inp.thumbs[i], float(inp.quality[i])
        )
        for i in range(len(inp.quality))
    ]


def srcc(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def ridge_fit(x: np.ndarray, y: np.ndarray, signs: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Ridge on standardised inputs; with ``signs``, each coefficient is held to that sign."""
    from sklearn.linear_model import Ridge, RidgeCV

    if signs is None:
        m = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x, y)
        return np.asarray(m.coef_, dtype=np.float64), float(m.intercept_)
    s = Ridge(alpha=SIGNED_ALPHA, positive=True).fit(x * signs, y)
    return np.asarray(s.coef_, dtype=np.float64) * signs, float(s.intercept_)


def grouped_oof(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5, signs: np.ndarray | None = None
) -> np.ndarray:
    """Out-of-fold ridge predictions, folds grouped by prompt (no prompt on both sides)."""
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(y))
    for a, b in GroupKFold(folds).split(x, y, groups):
        coef, icpt = ridge_fit(x[a], y[a], signs)
        oof[b] = x[b] @ coef + icpt
    return oof


def design_matrix(
    inp: Inputs,
    quality: np.ndarray,
    probs: np.ndarray,
    concepts: np.ndarray,
    pemb: dict[str, np.ndarray],
    bank: np.ndarray,
    colour_prior: np.ndarray,
    shares: np.ndarray,
) -> np.ndarray:
    """(N, len(FEATURE_NAMES)) calibration inputs, as ``OfflineConsistency.features`` computes them."""
    elements = {p: parse_prompt(p) for p in set(inp.prompt.tolist())}
    return np.stack(
        [
            np.concatenate(
                [
                    [quality[i]],
                    grounding_features(probs[i], concepts @ pemb[p]),
                    contrast_features(probs[i], concepts @ pemb[p], bank),
                    colour_features(elements[p], shares[i], colour_prior),
                    prompt_features(p, elements[p]),
                ]
            )
            for i, p in enumerate(inp.prompt.tolist())
        ]
    )


def object_confidence(probs: np.ndarray, rel: np.ndarray, threshold: float) -> float | None:
    """Probability mass on the concepts matching one object (as ``check_elements``), or None if unknown."""
    best = rel.max()
    if best < threshold:
        return None
    return float(probs[rel >= max(threshold, best - 0.1)].sum())


@dataclass
class Calibration:
    """The chosen calibration ridge (on standardised inputs) and the CV that chose it."""

    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    intercept: float
    residual_std: float
    chosen: str
    cv: dict[str, float]


@dataclass
class ReferenceCalibration:
    """Percentiles of each reference similarity over different-prompt pairs, and their weights."""

    quantiles: dict[str, np.ndarray]
    weights: np.ndarray
    auc: dict[str, float]
    content_mean: np.ndarray
    n_same: int
    n_diff: int


REFERENCE_KINDS = ("content", "layout", "palette")


def fit(inputs_path: Path, out: Path = WEIGHTS_PATH, seed: int = 0) -> dict[str, Any]:
    """Fit every part on the cached inputs, write the weights and ``card.json``; return the card."""
    from artjudge.models.process.grounding import concept_names
    from artjudge.models.process.text import embed_texts

    t0 = time.time()
    inp = Inputs.load(inputs_path)
    train = inp.split == "train"
    probs = class_probs(inp.pooled)
    names = concept_names()
    concepts = np.asarray(embed_texts(names), dtype=np.float64)
    prompts = sorted(set(inp.prompt.tolist()))
    pemb = dict(zip(prompts, np.asarray(embed_texts(prompts), dtype=np.float64), strict=True))
    train_prompts = sorted(set(inp.prompt[train].tolist()))
    bank = np.stack([pemb[p] for p in train_prompts]) @ concepts.T
    shares = np.stack([soft_colour_fractions(t) for t in inp.thumbs])
    colour_prior = shares[train].mean(axis=0)
    object_threshold, thr_scores = fit_object_threshold(inp, probs, concepts)
    quality = honest_quality(inp)  # every fit and CV score reads the out-of-fold quality
    feats = design_matrix(inp, quality, probs, concepts, pemb, bank, colour_prior, shares)
    cal = fit_calibration(inp, feats, quality)
    style = fit_style_classifier(inp)
    ref = fit_reference_calibration(inp, signals_of(inp, probs), seed)

    version = time.strftime("%Y-%m-%d")
    bank_emb = np.stack([pemb[p] for p in train_prompts])
    blob = weights_blob(version, names, concepts, bank_emb, object_threshold, colour_prior, cal, style, ref)
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = save_weights_file(out, blob)
    card = {
        "id": "artjudge-consistency-offline",
        "version": version,
        "file": out.name,
        "sha256": digest,
        "data": "AGIQA-3K train split (split_by_group over prompts, test 0.2, val 0.1, seed 0); "
        "choices by 5-fold CV grouped by prompt over train+val; test never read",
        "target": "mos_align (0-5), score = 20 x prediction, clipped to 0-100",
        "object_threshold": object_threshold,
        "threshold_grid": {str(k): v for k, v in thr_scores.items()},
        "calibration_quality": "out-of-fold quality for train rows (ridge on pooled features -> mos_quality, "
        "5 folds grouped by prompt; val rows: fitted on train), scaled to the shipped score on val; "
        "at inference the shipped quality score",
        "cv_srcc_trainval": cal.cv,
        "chosen": cal.chosen,
        "chosen_inputs": GROUPS[cal.chosen][0],
        "sign_constrained": GROUPS[cal.chosen][1],
        "coefficients": {n: round(float(c), 5) for n, c in zip(FEATURE_NAMES, cal.coef, strict=True)},
        "intercept": cal.intercept,
        "residual_std": cal.residual_std,
        "style_classes": [str(c) for c in style.classes_],
        "reference": {
            "pairs": {"same_prompt": ref.n_same, "different_prompt": ref.n_diff},
            "auc": ref.auc,
            "weights": dict(zip(REFERENCE_KINDS, map(float, ref.weights), strict=True)),
        },
        "seconds": round(time.time() - t0, 1),
    }
    atomic_write_json(out.parent / "card.json", card, indent=2)
    seal_folder(out.parent)  # last: the seal covers the new weights and card
    return card


def weights_blob(
    version: str,
    names: list[str],
    concepts: np.ndarray,
    bank_emb: np.ndarray,
    object_threshold: float,
    colour_prior: np.ndarray,
    cal: Calibration,
    style: Any,
    ref: ReferenceCalibration,
) -> dict[str, Any]:
    """Everything ``OfflineConsistency`` reads, as tensors (embeddings in float16)."""

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(a, dtype=np.float32))

    return {
        "version": version,
        "concepts": t(concepts).half(),
        "concept_names": names,
        "prompt_bank": t(bank_emb).half(),
        "object_threshold": float(object_threshold),
        "colour_prior": t(colour_prior),
        "feat_mean": t(cal.mean),
        "feat_std": t(cal.std),
        "coef": t(cal.coef),
        "intercept": float(cal.intercept),
        "residual_std": cal.residual_std,
        "feature_names": list(FEATURE_NAMES),
        "chosen": cal.chosen,
        "style_classes": [str(c) for c in style.classes_],
        "style_coef": t(style.coef_),
        "style_intercept": t(style.intercept_),
        "style_mean": t(style.mean_),
        "style_std": t(style.std_),
        "content_mean": t(ref.content_mean),
        "ref_weights": t(ref.weights),
        **{f"ref_q_{k}": t(v) for k, v in ref.quantiles.items()},
    }


def fit_object_threshold(
    inp: Inputs, probs: np.ndarray, concepts: np.ndarray
) -> tuple[float, dict[float, dict[str, float]]]:
    """The object threshold (train only): best SRCC with ``mos_align`` among those checking half the objects."""
    from artjudge.models.process.text import embed_texts

    train = inp.split == "train"
    elements = {p: parse_prompt(p) for p in sorted(set(inp.prompt.tolist()))}
    objects = sorted({e.value for els in elements.values() for e in els if e.kind == "object"})
    orel = dict(zip(objects, np.asarray(embed_texts(objects), dtype=np.float64) @ concepts.T, strict=True))
    thr_scores: dict[float, dict[str, float]] = {}
    for thr in THRESHOLDS:
        conf, ys, checked, total = [], [], 0, 0
        for i in np.flatnonzero(train):
            vals = [
                object_confidence(probs[i], orel[e.value], thr)
                for e in elements[inp.prompt[i]]
                if e.kind == "object"
            ]
            total += len(vals)
            got = [v for v in vals if v is not None]
            checked += len(got)
            if got:
                conf.append(np.mean(got))
                ys.append(inp.mos_align[i])
        thr_scores[thr] = {
            "srcc": srcc(np.array(conf), np.array(ys)) if len(conf) > 10 else float("nan"),
            "coverage": checked / max(total, 1),
        }
    eligible = [t for t in THRESHOLDS if thr_scores[t]["coverage"] >= 0.5]
    return max(eligible, key=lambda t: thr_scores[t]["srcc"]), thr_scores


def fit_calibration(inp: Inputs, feats: np.ndarray, quality: np.ndarray) -> Calibration:
    """Choose the input group by 5-fold CV grouped by prompt over train+val, then fit it on train."""
    train, trainval = inp.split == "train", inp.split != "test"
    mean, std = feats[train].mean(axis=0), feats[train].std(axis=0) + 1e-9
    z = (feats - mean) / std
    y = inp.mos_align.astype(np.float64)
    groups = np.unique(inp.prompt, return_inverse=True)[1]
    cv: dict[str, float] = {
        "quality only (baseline, out-of-fold quality)": srcc(quality[trainval], y[trainval]),
        "shipped quality on train+val (for reference: it has seen the train images)": srcc(
            inp.quality[trainval], y[trainval]
        ),
    }
    oofs: dict[str, np.ndarray] = {}
    all_signs = np.array([SIGNS[n] for n in FEATURE_NAMES])
    for name, (cols, signed) in GROUPS.items():
        idx = [FEATURE_NAMES.index(c) for c in cols]
        signs = all_signs[idx] if signed else None
        oofs[name] = grouped_oof(z[trainval][:, idx], y[trainval], groups[trainval], signs=signs)
        cv[name] = srcc(oofs[name], y[trainval])
    chosen = max(GROUPS, key=lambda k: cv[k])
    idx = [FEATURE_NAMES.index(c) for c in GROUPS[chosen][0]]
    coef_sub, intercept = ridge_fit(z[train][:, idx], y[train], all_signs[idx] if GROUPS[chosen][1] else None)
    coef = np.zeros(len(FEATURE_NAMES))
    coef[idx] = coef_sub
    residual_std = float(np.std(np.clip(oofs[chosen] * 20, 0, 100) - y[trainval] * 20))
    return Calibration(mean, std, coef, intercept, residual_std, chosen, cv)


def fit_style_classifier(inp: Inputs) -> Any:
    """Multinomial logistic regression on the standardised classifier features, train only;
    the standardisation rides on the model as ``mean_`` / ``std_``."""
    from sklearn.linear_model import LogisticRegression

    train = inp.split == "train"
    style = np.array([s.replace(" style", "") if s else "none" for s in inp.style])
    head = inp.pooled[:, -2560:-1280].astype(np.float64)
    s_mean, s_std = head[train].mean(axis=0), head[train].std(axis=0) + 1e-6
    clf = LogisticRegression(C=0.05, max_iter=500).fit((head[train] - s_mean) / s_std, style[train])
    clf.mean_, clf.std_ = s_mean, s_std
    return clf


def fit_reference_calibration(inp: Inputs, sig: list[ImageSignals], seed: int) -> ReferenceCalibration:
    """Similarity percentiles over 4,000 different-prompt train pairs, weighted by how well each
    similarity separates them from 4,000 same-prompt pairs (AUC - 0.5, normalised)."""
    rng = np.random.default_rng(seed)
    train = inp.split == "train"
    tr_idx = np.flatnonzero(train)
    by_prompt: dict[str, list[int]] = {}
    for i in tr_idx:
        by_prompt.setdefault(str(inp.prompt[i]), []).append(int(i))
    same = [
        tuple(rng.choice(v, 2, replace=False)) for v in by_prompt.values() if len(v) > 1 for _ in range(25)
    ]
    same = same[:4000]
    diff: list[tuple[int, int]] = []
    while len(diff) < len(same):
        a, b = rng.choice(tr_idx, 2, replace=False)
        if inp.prompt[a] != inp.prompt[b]:
            diff.append((int(a), int(b)))
    content_mean = inp.pooled[:, -2560:-1280].astype(np.float64)[train].mean(axis=0)
    sims = np.array(
        [[v for v in reference_similarities(sig[a], sig[b], content_mean).values()] for a, b in same + diff]
    )
    lab = np.r_[np.ones(len(same)), np.zeros(len(diff))]
    quantiles = {
        k: np.quantile(sims[len(same) :, j], np.linspace(0, 1, 101)) for j, k in enumerate(REFERENCE_KINDS)
    }
    auc = {k: _auc(sims[:, j], lab) for j, k in enumerate(REFERENCE_KINDS)}
    weights = np.array([max(auc[k] - 0.5, 0.0) for k in REFERENCE_KINDS])
    weights = weights / max(float(weights.sum()), 1e-9)
    pct = np.stack(
        [np.searchsorted(quantiles[k], sims[:, j]) / 101.0 for j, k in enumerate(REFERENCE_KINDS)], 1
    )
    auc["combined"] = _auc(pct @ weights, lab)
    return ReferenceCalibration(quantiles, weights, auc, content_mean, len(same), len(diff))


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(label, score))


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[3]
    print(
        dumps_strict(
            fit(Path(sys.argv[1]) if len(sys.argv) > 1 else root / ".cache/consistency/agiqa_inputs.npz"),
            indent=2,
        )
    )
