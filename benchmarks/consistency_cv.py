"""Consistency with the prompt, cross-validated: the process judge against image-only
ridges over K folds by prompt of AGIQA-3K's train + val splits (the test split is left alone).

    python benchmarks/consistency_cv.py            # 5 folds, about 35 min on 2 cores

One test split of 479 images cannot tell the judge from an image-only ridge (their SRCC
95% intervals overlap by most of their width), so this script retrains the whole recipe
once per fold, with that fold's prompts held out of the AGIQA-3K fine-tuning, and scores
every held-out image: 1,905 out-of-fold predictions per method instead of 479.

Methods, all fitted on the same fold's training images:
- the process judge's network (image + prompt, the shipped recipe with ``consistency_blend`` 1.0);
- ridge on the image's pooled patch tokens; and on those plus ImageNet logits (image only);
- ridge on the judge's "wide" input: pooled normalised tokens and the grounding features
  (image + prompt, linear);
- blends of the judge and that ridge in logit space, ``w * judge + (1 - w) * ridge``, the
  evidence for ``ProcessTrainConfig.consistency_blend`` (the shipped judge is the 0.5 blend).

Synthetic processes paint AGIQA-3K train-split images (pixels only, no labels), so a
held-out fold's images may appear as painting targets; its ``mos_align`` never does.
Writes benchmarks/results/consistency_cv.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from _common import ROOT, SHARED_DATA, save_results

BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def prompt_folds(prompts: list[str], k: int, seed: int) -> np.ndarray:
    """Fold index per row; every prompt's images share a fold."""
    unique = sorted(set(prompts))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[i]: rank % k for rank, i in enumerate(order)}
    return np.array([fold_of[p] for p in prompts])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.data.process.agiqa_align import load_align_pairs
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.model import logits_to_scores, scores_to_logits
    from artjudge.train.process import (
        ProcessTrainConfig,
        add_alignment,
        agiqa_bundle,
        build_training_data,
        fit_process_net,
        predict,
        ridge_readout,
        wide_inputs,
    )

    root = SHARED_DATA / "agiqa-3k"
    if not (root / "data.csv").is_file():
        print(f"AGIQA-3K not found at {root}", file=sys.stderr)
        return 2
    t0 = time.time()
    cache = Path(args.cache_dir)
    # the network alone (consistency_blend 1.0): the blends below are computed from its
    # out-of-fold predictions and a ridge fitted on the same fold
    cfg = ProcessTrainConfig(
        agiqa_root=root,
        sheep_root=SHARED_DATA / "process" / "sheep-market",
        cache_dir=cache,
        threads=args.threads,
        consistency_blend=1.0,
    )
    encoder = PatchEncoder(resolution=cfg.size, grid=cfg.model.grid)
    data = build_training_data(cfg, encoder)
    agiqa, splits = agiqa_bundle(encoder, root, cache)
    prompts = [p.prompt for p in load_align_pairs(root)]
    pool_rows = np.array([s != "test" for s in splits])
    pool = agiqa.subset(pool_rows)
    folds = prompt_folds(
        [p for p, keep in zip(prompts, pool_rows, strict=True) if keep], args.folds, args.seed
    )
    y = pool.labels[:, 0]

    def ridge(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        coef, intercept, _ = ridge_readout(x_train, y_train)
        return x_test @ coef + intercept

    def to_logit(scores: np.ndarray) -> np.ndarray:
        return scores_to_logits(torch.from_numpy(scores)).numpy()

    def from_logit(z: np.ndarray) -> np.ndarray:
        return logits_to_scores(torch.from_numpy(z)).numpy()

    names = ("judge", "ridge tokens", "ridge tokens+logits", "ridge wide (tokens+grounding)")
    oof = {n: np.full(len(pool), np.nan) for n in names}
    judge_logit, wide_logit = np.full(len(pool), np.nan), np.full(len(pool), np.nan)
    per_fold: list[dict[str, float]] = []
    for k in range(args.folds):
        held, fit_rows = folds == k, folds != k
        train, test = pool.subset(fit_rows), pool.subset(held)
        net, _, _ = fit_process_net(cfg, dataclasses.replace(data, agiqa_train=train), encoder)
        add_alignment([test], encoder, net.grounder, fit=False)
        oof["judge"][held] = predict(net, test)[:, 0]
        pooled_train, pooled_test = train.frames[:, 0].mean(axis=1), test.frames[:, 0].mean(axis=1)
        oof["ridge tokens"][held] = ridge(pooled_train, y[fit_rows], pooled_test)
        logits_train, logits_test = (
            encoder.class_logits(train.frames[:, 0]),
            encoder.class_logits(test.frames[:, 0]),
        )
        oof["ridge tokens+logits"][held] = ridge(
            np.hstack([pooled_train, logits_train]), y[fit_rows], np.hstack([pooled_test, logits_test])
        )
        wide_logit[held] = ridge(wide_inputs(net, train), to_logit(y[fit_rows]), wide_inputs(net, test))
        oof["ridge wide (tokens+grounding)"][held] = from_logit(wide_logit[held])
        judge_logit[held] = to_logit(oof["judge"][held])
        row = {"fold": k, "n": int(held.sum())}
        row.update({n: float(spearmanr(oof[n][held], y[held])[0]) for n in names})
        per_fold.append(row)
        print(f"fold {k}: " + ", ".join(f"{n} {row[n]:.3f}" for n in names), flush=True)

    def summary(pred: np.ndarray) -> dict[str, float]:
        by_fold = [float(spearmanr(pred[folds == k], y[folds == k])[0]) for k in range(args.folds)]
        return {
            "srcc_pooled": float(spearmanr(pred, y)[0]),
            "plcc_pooled": float(pearsonr(pred, y)[0]),
            "srcc_fold_mean": float(np.mean(by_fold)),
            "srcc_fold_std": float(np.std(by_fold)),
        }

    results = {n: summary(oof[n]) for n in names}
    blends = {f"{w:.2f}": summary(from_logit(w * judge_logit + (1 - w) * wide_logit)) for w in BLENDS}
    print(f"\nAGIQA-3K mos_align, {args.folds}-fold CV by prompt over train+val (n={len(pool)})")
    print(f"{'method':<34}{'SRCC pooled':>12}{'PLCC pooled':>12}{'SRCC folds':>16}")
    for n, r in results.items():
        print(
            f"{n:<34}{r['srcc_pooled']:>12.3f}{r['plcc_pooled']:>12.3f}"
            f"{r['srcc_fold_mean']:>10.3f} ± {r['srcc_fold_std']:.3f}"
        )
    for w, r in blends.items():
        print(
            f"{'blend w=' + w + ' (judge share)':<34}{r['srcc_pooled']:>12.3f}{r['plcc_pooled']:>12.3f}"
            f"{r['srcc_fold_mean']:>10.3f} ± {r['srcc_fold_std']:.3f}"
        )
    save_results(
        "consistency_cv",
        {
            "command": "python benchmarks/consistency_cv.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "folds": args.folds,
            "fold_seed": args.seed,
            "n": int(len(pool)),
            "per_fold_srcc": per_fold,
            "results": results,
            "blend_judge_share": blends,
            "seconds": round(time.time() - t0, 1),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
