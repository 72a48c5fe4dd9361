"""Fit the offline consistency weights on AGIQA-3K (train split only; choices by grouped CV).

    nice -n 10 python benchmarks/consistency_features.py      # cache the frozen inputs once
    python -m artjudge.train.consistency                      # writes weights/consistency/

What is fitted, and on what:
- ``object_threshold``: the cosine a word needs with an ImageNet concept name to count as
  checkable; the value (from a grid) whose per-image object confidence correlates best
  with ``mos_align`` on train, among those that check at least half of the objects.
- the calibration ridge (inputs: ``models.consistency.FEATURE_NAMES``): which groups enter
  (grounding, contrast, colour; the quality score always does) is chosen by 5-fold CV
  grouped by prompt over train+val; the chosen ridge is then fitted on train only. Its std
  is the out-of-fold residual std on the 0-100 scale.
- the style classifier: multinomial logistic regression on the standardised classifier
  features, AGIQA ``style`` (none, anime, baroque, abstract, realistic, sci-fi), train only.
- reference calibration: for 4,000 same-prompt and 4,000 different-prompt train pairs, the
  percentiles (101) of each similarity over the different-prompt pairs; the overall score
  weighs the three percentiles by how well each separates same- from different-prompt
  pairs (its AUC - 0.5, normalised), so it rises with every similarity.
Nothing here reads the test split.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artjudge.features.colour import colour_fractions
from artjudge.features.prompt_elements import parse_prompt
from artjudge.models.consistency import (
    FEATURE_NAMES,
    WEIGHTS_PATH,
    ImageSignals,
    colour_features,
    contrast_features,
    grounding_features,
    reference_similarities,
    softmax,
)
from artjudge.models.weights import save_weights_file

GROUPS: dict[str, list[str]] = {
    "quality+grounding": ["quality"] + [n for n in FEATURE_NAMES if n.startswith("grounding")],
    "quality+grounding+contrast": ["quality"]
    + [n for n in FEATURE_NAMES if n.startswith(("grounding", "contrast"))],
    "quality+grounding+contrast+colour": list(FEATURE_NAMES),
}
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

    @classmethod
    def load(cls, path: Path) -> Inputs:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no cached inputs; run benchmarks/consistency_features.py first")
        d = np.load(path)
        return cls(
            **{k: d[k] for k in ("quality", "pooled", "thumbs", "prompt", "split", "style", "mos_align")}
        )


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


def ridge_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import RidgeCV

    m = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x, y)
    return np.asarray(m.coef_, dtype=np.float64), float(m.intercept_)


def grouped_oof(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5) -> np.ndarray:
    """Out-of-fold ridge predictions, folds grouped by prompt (no prompt on both sides)."""
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(y))
    for a, b in GroupKFold(folds).split(x, y, groups):
        coef, icpt = ridge_fit(x[a], y[a])
        oof[b] = x[b] @ coef + icpt
    return oof


def object_confidence(probs: np.ndarray, rel: np.ndarray, threshold: float) -> float | None:
    """Probability mass on the concepts matching one object (as ``check_elements``), or None if unknown."""
    best = rel.max()
    if best < threshold:
        return None
    return float(probs[rel >= max(threshold, best - 0.1)].sum())


def fit(inputs_path: Path, out: Path = WEIGHTS_PATH, seed: int = 0) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from artjudge.models.process.grounding import concept_names
    from artjudge.models.process.text import embed_texts

    t0 = time.time()
    inp = Inputs.load(inputs_path)
    train, trainval = inp.split == "train", inp.split != "test"
    probs = class_probs(inp.pooled)
    sig = signals_of(inp, probs)
    names = concept_names()
    concepts = np.asarray(embed_texts(names), dtype=np.float64)
    prompts = sorted(set(inp.prompt.tolist()))
    pemb = dict(zip(prompts, np.asarray(embed_texts(prompts), dtype=np.float64), strict=True))
    train_prompts = sorted(set(inp.prompt[train].tolist()))
    bank = np.stack([pemb[p] for p in train_prompts]) @ concepts.T
    elements = {p: parse_prompt(p) for p in prompts}
    salient = np.stack([colour_fractions(t)[0] for t in inp.thumbs])
    colour_prior = salient[train].mean(axis=0)

    # object threshold, train only
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
    object_threshold = max(eligible, key=lambda t: thr_scores[t]["srcc"])

    # calibration features
    feats = np.stack(
        [
            np.concatenate(
                [
                    [s.quality],
                    grounding_features(s.probs, concepts @ pemb[p]),
                    contrast_features(s.probs, concepts @ pemb[p], bank),
                    colour_features(elements[p], salient[i], colour_prior),
                ]
            )
            for i, (s, p) in enumerate(zip(sig, inp.prompt, strict=True))
        ]
    )
    mean, std = feats[train].mean(axis=0), feats[train].std(axis=0) + 1e-9
    z = (feats - mean) / std
    y = inp.mos_align.astype(np.float64)
    groups = np.unique(inp.prompt, return_inverse=True)[1]
    cv: dict[str, float] = {"quality only (baseline)": srcc(inp.quality[trainval], y[trainval])}
    oofs: dict[str, np.ndarray] = {}
    for name, cols in GROUPS.items():
        idx = [FEATURE_NAMES.index(c) for c in cols]
        oofs[name] = grouped_oof(z[trainval][:, idx], y[trainval], groups[trainval])
        cv[name] = srcc(oofs[name], y[trainval])
    chosen = max(GROUPS, key=lambda k: cv[k])
    idx = [FEATURE_NAMES.index(c) for c in GROUPS[chosen]]
    coef_sub, intercept = ridge_fit(z[train][:, idx], y[train])
    coef = np.zeros(len(FEATURE_NAMES))
    coef[idx] = coef_sub
    residual_std = float(np.std(np.clip(oofs[chosen] * 20, 0, 100) - y[trainval] * 20))

    # style classifier, train only
    style = np.array([s.replace(" style", "") if s else "none" for s in inp.style])
    head = inp.pooled[:, -2560:-1280].astype(np.float64)
    s_mean, s_std = head[train].mean(axis=0), head[train].std(axis=0) + 1e-6
    clf = LogisticRegression(C=0.05, max_iter=500).fit((head[train] - s_mean) / s_std, style[train])

    # reference calibration, train pairs
    rng = np.random.default_rng(seed)
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
    content_mean = head[train].mean(axis=0)
    sims = np.array(
        [[v for v in reference_similarities(sig[a], sig[b], content_mean).values()] for a, b in same + diff]
    )
    lab = np.r_[np.ones(len(same)), np.zeros(len(diff))]
    quantiles = {
        k: np.quantile(sims[len(same) :, j], np.linspace(0, 1, 101))
        for j, k in enumerate(("content", "layout", "palette"))
    }
    ref_auc = {k: _auc(sims[:, j], lab) for j, k in enumerate(("content", "layout", "palette"))}
    ref_weights = np.array([max(ref_auc[k] - 0.5, 0.0) for k in ("content", "layout", "palette")])
    ref_weights = ref_weights / max(float(ref_weights.sum()), 1e-9)
    pct = np.stack(
        [
            np.searchsorted(quantiles[k], sims[:, j]) / 101.0
            for j, k in enumerate(("content", "layout", "palette"))
        ],
        1,
    )
    ref_auc["combined"] = _auc(pct @ ref_weights, lab)

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(a, dtype=np.float32))

    version = time.strftime("%Y-%m-%d")
    blob = {
        "version": version,
        "concepts": t(concepts).half(),
        "concept_names": names,
        "prompt_bank": t(np.stack([pemb[p] for p in train_prompts])).half(),
        "object_threshold": float(object_threshold),
        "colour_prior": t(colour_prior),
        "feat_mean": t(mean),
        "feat_std": t(std),
        "coef": t(coef),
        "intercept": float(intercept),
        "residual_std": residual_std,
        "feature_names": list(FEATURE_NAMES),
        "chosen": chosen,
        "style_classes": [str(c) for c in clf.classes_],
        "style_coef": t(clf.coef_),
        "style_intercept": t(clf.intercept_),
        "style_mean": t(s_mean),
        "style_std": t(s_std),
        "content_mean": t(content_mean),
        "ref_weights": t(ref_weights),
        **{f"ref_q_{k}": t(v) for k, v in quantiles.items()},
    }
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
        "cv_srcc_trainval": cv,
        "chosen": chosen,
        "coefficients": {n: round(float(c), 5) for n, c in zip(FEATURE_NAMES, coef, strict=True)},
        "intercept": intercept,
        "residual_std": residual_std,
        "style_classes": [str(c) for c in clf.classes_],
        "reference": {
            "pairs": {"same_prompt": len(same), "different_prompt": len(diff)},
            "auc": ref_auc,
            "weights": dict(zip(("content", "layout", "palette"), map(float, ref_weights), strict=True)),
        },
        "seconds": round(time.time() - t0, 1),
    }
    (out.parent / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(label, score))


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[3]
    print(
        json.dumps(
            fit(Path(sys.argv[1]) if len(sys.argv) > 1 else root / ".cache/consistency/agiqa_inputs.npz"),
            indent=2,
        )
    )
