"""Learning curves for teaching artjudge a rubric from few graded works (issue 15).

AGIQA-3K's two human scores stand in for two different rubrics: ``mos_quality`` (perceptual
quality) and ``mos_align`` (agreement with the prompt). For n = 25, 50, 100, 200, 400 graded
works drawn from the train split (split by prompt, as ``artjudge.data.read_dataset`` gives
it) and 5 seeds, each head family of ``artjudge.train.small`` is fitted on the frozen
features and scored on the whole test split: SRCC with a 95% bootstrap CI over test images
(averaged over seeds), plus the seeds' spread. The graded works are picked either at random
or by ``artjudge.train.plan.plan_labels`` (greedy k-center coverage of the frozen feature
space) from the same candidate pool (a seeded 60% of the train split, so that seeds differ).

The MLP ensemble costs ~100x a closed-form fit on a CPU, so it runs on ``--mlp-seeds``
seeds (default 2) and random picks only; both rubrics share one multi-target MLP per fit.

    nice -n 10 python benchmarks/rubric_learning.py          # ~15 min on 2 shared cores

Prints a table and writes benchmarks/results/rubric_learning.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import SHARED_DATA, print_table, save_results  # noqa: E402

SIZES = (25, 50, 100, 200, 400)
RUBRICS = {"mos_quality": "overall", "mos_align": "alignment"}


def _srcc_ci(pred: np.ndarray, y: np.ndarray, boot: int, seed: int) -> tuple[float, float, float]:
    from artjudge.eval import metrics

    r = metrics.srcc(pred, y)
    lo, hi = metrics.bootstrap_ci(metrics.srcc, pred, y, n=boot, seed=seed) if boot else (r, r)
    return float(r), float(lo), float(hi)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SHARED_DATA / "agiqa-3k"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--mlp-seeds", type=int, default=2, help="seeds on which the MLP ensemble runs (0: none)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--bootstrap", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from artjudge.data import read_dataset
    from artjudge.features.extract import FeatureBatch
    from artjudge.train.head import HeadTrainConfig, extract_manifest_features
    from artjudge.train.plan import coverage_radius, plan_labels
    from artjudge.train.small import fit_closed_many, fit_mlp, predict_mlp, standardise

    t_start = time.perf_counter()
    data = Path(args.data)
    m = read_dataset("agiqa-3k", data, images=data / "images").present()
    df = m.frame
    t0 = time.perf_counter()
    feats = extract_manifest_features(df["path"].astype(str).tolist(), 384, keep_trunk=False, desc="features")
    feat_s = time.perf_counter() - t0
    split = df["split"].to_numpy()
    pool_all = np.flatnonzero(split != "test")  # train + val: where a user's graded works come from
    test = np.flatnonzero(split == "test")
    ys = {
        name: df["score" if col == "overall" else f"attr.{col}"].to_numpy(dtype=np.float64)
        for name, col in RUBRICS.items()
    }
    # standardise on the candidate works only (what a user's training run would see)
    x_pool, mean, std = standardise(feats.take(pool_all))
    raw_test = np.concatenate([feats.pooled[test], feats.handcrafted[test]], axis=1).astype(np.float64)
    x_test = (raw_test - mean) / std
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    timings: dict[str, list[float]] = {"ridge": [], "kernel": [], "mlp": [], "plan": []}
    base = HeadTrainConfig()

    def record(
        rubric: str, family: str, picks: str, n: int, seed: int, pred: np.ndarray, extra: dict[str, Any]
    ) -> None:
        r, lo, hi = _srcc_ci(pred, ys[rubric][test], args.bootstrap, seed)
        results.append(
            {
                "rubric": rubric,
                "family": family,
                "picks": picks,
                "n": n,
                "seed": seed,
                "srcc": round(r, 4),
                "ci": [round(lo, 4), round(hi, 4)],
                **extra,
            }
        )

    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        cand = np.sort(rng.choice(len(pool_all), size=int(0.6 * len(pool_all)), replace=False))
        for n in sizes:
            t0 = time.perf_counter()
            planned = cand[plan_labels(x_pool[cand], n).order]
            timings["plan"].append(time.perf_counter() - t0)
            random = cand[rng.permutation(len(cand))[:n]]
            for picks, idx in (("random", random), ("planned", planned)):
                cover = coverage_radius(x_pool[cand], np.searchsorted(cand, idx))
                y_tr = np.stack([ys[r][pool_all[idx]] for r in RUBRICS], axis=1)
                for family in ("ridge", "kernel"):
                    t0 = time.perf_counter()
                    fits = fit_closed_many(family, x_pool[idx], y_tr)
                    timings[family].append(time.perf_counter() - t0)
                    for rubric, fit in zip(RUBRICS, fits, strict=True):
                        record(
                            rubric, family, picks, n, seed, fit.predict(x_test), {"coverage": round(cover, 3)}
                        )
                if picks == "random" and seed < args.mlp_seeds:
                    t0 = time.perf_counter()
                    sub = feats.take(pool_all[idx])
                    head = fit_mlp(sub, {t: ys[r][pool_all[idx]] for r, t in RUBRICS.items()}, base)
                    preds = predict_mlp(
                        head, FeatureBatch(feats.pooled[test], feats.handcrafted[test], feats.trunk[test])
                    )
                    timings["mlp"].append(time.perf_counter() - t0)
                    for rubric, t in RUBRICS.items():
                        record(rubric, "mlp", picks, n, seed, preds[t], {"coverage": round(cover, 3)})
            print(f"seed {seed} n {n} done ({time.perf_counter() - t_start:.0f} s)", flush=True)

    summary: list[dict[str, Any]] = []
    rows = []
    for rubric in RUBRICS:
        for family in ("ridge", "kernel", "mlp"):
            for picks in ("random", "planned"):
                for n in sizes:
                    runs = [
                        r
                        for r in results
                        if (r["rubric"], r["family"], r["picks"], r["n"]) == (rubric, family, picks, n)
                    ]
                    if not runs:
                        continue
                    s = np.array([r["srcc"] for r in runs])
                    ci = np.mean([r["ci"] for r in runs], axis=0)
                    cov = float(np.mean([r["coverage"] for r in runs]))
                    row = {
                        "rubric": rubric,
                        "family": family,
                        "picks": picks,
                        "n": n,
                        "seeds": len(runs),
                        "srcc_mean": round(float(s.mean()), 4),
                        "srcc_sd": round(float(s.std()), 4),
                        "ci_mean": [round(float(ci[0]), 4), round(float(ci[1]), 4)],
                        "coverage": round(cov, 3),
                    }
                    summary.append(row)
                    rows.append(
                        [
                            rubric,
                            family,
                            picks,
                            n,
                            len(runs),
                            row["srcc_mean"],
                            row["srcc_sd"],
                            f"[{ci[0]:.3f}, {ci[1]:.3f}]",
                            round(cov, 2),
                        ]
                    )
    print_table(
        "rubric learning on AGIQA-3K test (SRCC, mean over seeds; CI: mean 95% bootstrap)",
        ["rubric", "family", "picks", "n", "seeds", "SRCC", "sd", "95% CI", "coverage"],
        rows,
    )
    fit_s = {k: round(float(np.mean(v)), 3) if v else None for k, v in timings.items()}
    print("mean fit seconds:", fit_s)
    path = save_results(
        "rubric_learning",
        {
            "benchmark": "rubric_learning",
            "dataset": "agiqa-3k",
            "split": "prompt-grouped (read_dataset)",
            "rubrics": RUBRICS,
            "sizes": sizes,
            "seeds": args.seeds,
            "mlp_seeds": args.mlp_seeds,
            "bootstrap": args.bootstrap,
            "test_images": int(len(test)),
            "candidate_pool": int(0.6 * len(pool_all)),
            "summary": summary,
            "runs": results,
            "mean_fit_seconds": fit_s,
            "feature_seconds": round(feat_s, 1),
            "total_seconds": round(time.perf_counter() - t_start, 1),
            "command": "nice -n 10 python benchmarks/rubric_learning.py",
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
