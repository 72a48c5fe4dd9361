"""Which rule says a rubric head has skill? Measured on AGIQA-3K (issue 25, item 2).

A teacher's rubric model reports, per head, its cross-validated SRCC with a 95% bootstrap
CI over the graded works (``artjudge.train.cv.cross_validate``, the very code ``train``
runs). A head counts as *skilled* when one rule over those numbers says so; an unskilled
head is never shown as a grade. This script chooses the rule by measurement:

* rubrics: AGIQA-3K's two human scores (``mos_quality``, ``mos_align``) as two real rubric
  columns, a *weak* column (``mos_quality`` drowned in noise: correlation ~0.3 with it), and
  a *pure-noise* column (the negative control: it can never transfer);
* n = 50, 100, 200 graded works drawn at random (seeded) from the train+val split (split by
  prompt, ``artjudge.data.read_dataset``), ``--seeds`` draws each;
* truth: the head chosen by CV, refitted on the n works, predicts the held-out test split
  (479 works, prompts never seen); it *transfers* when the test SRCC's 95% bootstrap CI lies
  above 0.

Each candidate rule is scored by how often it calls a non-transferring head skilled (the
noise column above all) and how many transferring heads it misses. Features are encoded
once through the scorer's pipeline and cached (``--cache-dir``).

    nice -n 10 python benchmarks/rubric_skill.py        # ~5 min on 2 shared cores, cache warm

Prints a table and writes benchmarks/results/rubric_skill.json.
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

SIZES = (50, 100, 200)
#: name -> (statistic, rule over (srcc, 95% CI lower, 90% CI lower)); "pooled": the out-of-fold
#: predictions pooled over folds as they are (what the card reports); "centred": predictions and
#: grades centred within each fold first
RULES: dict[str, tuple[str, Any]] = {
    "centred: 95% CI lower > 0": ("centred", lambda r, lo95, lo90: lo95 > 0),
    "centred: 90% CI lower > 0": ("centred", lambda r, lo95, lo90: lo90 > 0),
    "centred: SRCC > 0.2": ("centred", lambda r, lo95, lo90: r > 0.2),
    "pooled: 95% CI lower > 0": ("pooled", lambda r, lo95, lo90: lo95 > 0),
    "pooled: 90% CI lower > 0": ("pooled", lambda r, lo95, lo90: lo90 > 0),
    "pooled: 95% CI lower > 0.1 (chosen)": ("pooled", lambda r, lo95, lo90: lo95 > 0.1),
    "pooled: SRCC > 0.2": ("pooled", lambda r, lo95, lo90: r > 0.2),
}


def _columns(df: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    q = df["score"].to_numpy(dtype=np.float64)
    a = df["attr.alignment"].to_numpy(dtype=np.float64)
    z = (q - q.mean()) / q.std()
    weak = z + 3.0 * rng.normal(size=len(q))
    noise = rng.normal(size=len(q))
    to100 = lambda v: np.clip(50 + 15 * (v - v.mean()) / v.std(), 0, 100)  # noqa: E731
    return {"mos_quality": q, "mos_align": a, "weak": to100(weak), "noise": to100(noise)}


def _centred_srcc(
    y: np.ndarray,
    pred: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    boot: int,
    seed: int,
    alpha: float,
) -> tuple[float, float]:
    """SRCC (and its CI's lower end) after centring predictions and grades within each fold.

    The alternative statistic tried: it removes the folds' own intercepts from the pooled
    ranking. It did not help the noise control (5 of 30 draws above 0 against 3 of 30).
    """
    from artjudge.eval import metrics

    yc, pc = y.astype(np.float64).copy(), pred.astype(np.float64).copy()
    for _, te in folds:
        yc[te] -= yc[te].mean()
        pc[te] -= pc[te].mean()
    r = float(metrics.srcc(pc, yc))
    return r, float(metrics.bootstrap_ci(metrics.srcc, pc, yc, n=boot, seed=seed, alpha=alpha)[0])


def _run(
    x_pool: np.ndarray, x_test: np.ndarray, y_pool: dict[str, np.ndarray], y_test: dict[str, np.ndarray],
    feats: Any, n: int, seed: int, boot: int,
) -> list[dict[str, Any]]:  # fmt: skip
    from artjudge.eval import metrics
    from artjudge.train.cv import cross_validate, cv_folds
    from artjudge.train.fit import HeadTrainConfig
    from artjudge.train.solvers import fit_closed

    rng = np.random.default_rng(1000 + seed)
    idx = np.sort(rng.choice(len(x_pool), size=n, replace=False))
    raw = x_pool[idx]
    mean, std = raw.mean(0), np.maximum(raw.std(0, ddof=1), 1e-4)
    x, xt = (raw - mean) / std, (x_test - mean) / std
    scores = {t: v[idx] for t, v in y_pool.items()}
    folds = cv_folds(n, None, k=5, seed=seed)
    sel = cross_validate(
        x, feats.take(idx), scores, folds, HeadTrainConfig(), families=("ridge", "kernel"), bootstrap=boot,
        seed=seed,
    )  # fmt: skip
    out = []
    for t in scores:
        best = sel.best(t)
        oof = sel.oof[t][sel.chosen[t]]
        lo90 = metrics.bootstrap_ci(metrics.srcc, oof, scores[t], n=boot, seed=seed, alpha=0.10)[0]
        c95 = _centred_srcc(scores[t], oof, folds, boot, seed, 0.05)
        c90 = _centred_srcc(scores[t], oof, folds, boot, seed, 0.10)
        pred = fit_closed(sel.chosen[t], x, scores[t]).predict(xt)
        r_test = metrics.srcc(pred, y_test[t])
        lo_test = metrics.bootstrap_ci(metrics.srcc, pred, y_test[t], n=boot, seed=seed)[0]
        out.append(
            {
                "rubric": t, "n": n, "seed": seed, "family": sel.chosen[t],
                "cv_srcc": round(float(best.srcc), 4), "ci95": [round(float(c), 4) for c in best.srcc_ci],
                "ci90_lower": round(float(lo90), 4), "test_srcc": round(float(r_test), 4),
                "centred": [round(c95[0], 4), round(c95[1], 4), round(c90[1], 4)],
                "transfers": bool(lo_test > 0),
            }
        )  # fmt: skip
    return out


def _rule_table(runs: list[dict[str, Any]], sizes: list[int]) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    rows, summary = [], []
    for name, (stat, rule) in RULES.items():
        for n in [*sizes, 0]:
            sub = [r for r in runs if n == 0 or r["n"] == n]
            called = [
                rule(*r["centred"])
                if stat == "centred"
                else rule(r["cv_srcc"], r["ci95"][0], r["ci90_lower"])
                for r in sub
            ]
            tp = sum(c and r["transfers"] for c, r in zip(called, sub, strict=True))
            fp = sum(c and not r["transfers"] for c, r in zip(called, sub, strict=True))
            fn = sum((not c) and r["transfers"] for c, r in zip(called, sub, strict=True))
            noise = [c for c, r in zip(called, sub, strict=True) if r["rubric"] == "noise"]
            real = [
                c for c, r in zip(called, sub, strict=True) if r["rubric"] in ("mos_quality", "mos_align")
            ]
            row = {
                "rule": name, "n": n or "all", "skilled_and_transfers": tp, "skilled_not_transfers": fp,
                "missed_transfers": fn, "noise_called_skilled": f"{sum(noise)}/{len(noise)}",
                "real_rubrics_called_skilled": f"{sum(real)}/{len(real)}",
            }  # fmt: skip
            summary.append(row)
            rows.append(list(row.values()))
    return rows, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SHARED_DATA / "agiqa-3k"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--cache-dir", help="feature cache (default: artjudge's)")
    args = ap.parse_args(argv)
    from artjudge.data import read_dataset
    from artjudge.train.encode import encode_works

    t0 = time.perf_counter()
    data = Path(args.data)
    m = read_dataset("agiqa-3k", data, images=data / "images").present()
    df = m.frame
    feats = encode_works(df["path"].astype(str).tolist(), 384, cache_dir=args.cache_dir).features
    print(f"features of {len(df)} works in {time.perf_counter() - t0:.0f} s", flush=True)
    split = df["split"].to_numpy()
    pool, test = np.flatnonzero(split != "test"), np.flatnonzero(split == "test")
    cols = _columns(df, np.random.default_rng(0))
    raw = np.concatenate([feats.pooled, feats.handcrafted], axis=1).astype(np.float64)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs: list[dict[str, Any]] = []
    for n in sizes:
        for seed in range(args.seeds):
            runs += _run(
                raw[pool], raw[test], {t: v[pool] for t, v in cols.items()}, {t: v[test] for t, v in cols.items()},
                feats.take(pool), n, seed, args.bootstrap,
            )  # fmt: skip
        print(f"n {n} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows, summary = _rule_table(runs, sizes)
    print_table(
        "skill rules on AGIQA-3K (CV on n random train+val works; truth: test SRCC 95% CI > 0)",
        ["rule", "n", "skilled & transfers", "skilled, no transfer", "missed transfers", "noise skilled",
         "real rubrics skilled"],
        rows,
    )  # fmt: skip
    path = save_results(
        "rubric_skill",
        {
            "benchmark": "rubric_skill",
            "dataset": "agiqa-3k",
            "split": "prompt-grouped (read_dataset); test split held out",
            "rubrics": ["mos_quality", "mos_align", "weak (z(mos_quality) + 3 N(0,1))", "noise (N(0,1))"],
            "sizes": sizes,
            "seeds": args.seeds,
            "bootstrap": args.bootstrap,
            "summary": summary,
            "runs": runs,
            "total_seconds": round(time.perf_counter() - t0, 1),
            "command": "nice -n 10 python benchmarks/rubric_skill.py",
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
