"""PSDistill on AGIQA-3K: a student trained only on a judge's pairwise calls, against its ceiling.

Split: split_by_group over prompts (test 0.2, val 0.1, seed 0); train on the train split,
evaluate SRCC / PLCC with mos_quality on the test split. The judge is a noisy oracle built
from the true MOS: each call it perceives both images as N(mos, std_quality) (AGIQA's own
per-image spread) and says which is better, with confidence 2*Phi(|gap| / sqrt(std_a^2 +
std_b^2)) - 1. The reference pool (200 train images) gets its Elo from the same judge
(10 random comparisons per pool image, order-free Elo); every other train image is compared
with ``--anchors`` pool anchors. No human score reaches the student. In the same run:

* before: the untrained (random-init) student, and the pool-only student (trained on the
  200 pool images' Elo alone);
* after: the PSDistill student (pseudo-scores of all train images + the pool);
* ceiling: the same student trained on the true mos_quality of all train images.

Features: ``artjudge.load().embed(paths)`` when the shipped scorer is available, else the
frozen EfficientNet-Lite0 multi-scale pooled + hand-crafted features of
``artjudge.features.extract`` at 224 px, cached under .cache/preference/ (the report says which).

    python benchmarks/distill_agiqa.py [--anchors 4 8 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm, pearsonr, spearmanr

from artjudge.data.splits import split_by_group
from artjudge.preference.design import PairDesigner
from artjudge.preference.distill import ReferencePool
from artjudge.preference.models import Elo
from artjudge.train.student import MLPStudent, PSDistill

ROOT = Path(__file__).resolve().parents[1]
AGIQA = Path(os.environ.get("ARTJUDGE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "agiqa-3k"
CACHE = ROOT / ".cache" / "preference"


def features(paths: list[str]) -> tuple[np.ndarray, str]:
    try:
        import artjudge

        scorer = artjudge.load(cache=True)  # content-hash cache: re-runs skip the encoder
        return scorer.embed(paths), f"artjudge.load().embed ({scorer.model_id} {scorer.model_version})"
    except Exception as err:  # the shipped scorer is not there yet: use the frozen encoder directly
        reason = str(err).split(";")[0]
    from tqdm import tqdm

    from artjudge.features.extract import FeatureExtractor

    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "agiqa_lite0_ms_224.npz"
    names = [Path(p).name for p in paths]
    if cache.is_file():
        blob = np.load(cache, allow_pickle=False)
        if list(blob["names"]) == names:
            return (
                blob["X"],
                f"EfficientNet-Lite0 multi-scale pooled + hand-crafted, 224 px (cached; scorer unavailable: {reason})",
            )
    ext = FeatureExtractor(224, threads=1)
    bar = tqdm(total=len(paths), desc="features", file=sys.stderr)
    batch = ext.encode_paths(paths, batch_size=32, progress=bar.update)
    bar.close()
    X = np.concatenate([batch.pooled, batch.handcrafted], axis=1).astype(np.float32)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(tmp, X=X, names=np.asarray(names))
    os.replace(tmp, cache)
    return X, f"EfficientNet-Lite0 multi-scale pooled + hand-crafted, 224 px (scorer unavailable: {reason})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--anchors", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--pool", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "distill_agiqa.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not (AGIQA / "data.csv").is_file():
        print(f"AGIQA-3K not found at {AGIQA}", file=sys.stderr)
        return 1
    t_start = time.perf_counter()
    df = pd.read_csv(AGIQA / "data.csv")
    df["split"] = split_by_group(
        df["prompt"].astype(str).tolist(), test_fraction=0.2, val_fraction=0.1, seed=0
    )
    X_all, feature_source = features([str(AGIQA / "images" / n) for n in df["name"]])
    names = df["name"].astype(str).tolist()
    mos = pd.Series(df["mos_quality"].to_numpy(float), index=names)
    sd = pd.Series(df["std_quality"].to_numpy(float), index=names)
    row_of = {k: i for i, k in enumerate(names)}
    train = [n for n, s in zip(names, df["split"], strict=True) if s == "train"]
    test = [n for n, s in zip(names, df["split"], strict=True) if s == "test"]
    X_test, y_test = X_all[[row_of[n] for n in test]], mos.loc[test].to_numpy()
    rng = np.random.default_rng(args.seed)
    calls_made = {"n": 0}

    def judge(a: str, b: str) -> tuple[float, float]:
        calls_made["n"] += 1
        gap = (mos[a] + rng.normal() * sd[a]) - (mos[b] + rng.normal() * sd[b])
        conf = 2 * norm.cdf(abs(gap) / np.hypot(sd[a], sd[b])) - 1
        return (1.0 if gap > 0 else 0.0), float(conf)

    def evaluate(pred: np.ndarray) -> dict[str, float]:
        return {"srcc": float(spearmanr(pred, y_test)[0]), "plcc": float(pearsonr(pred, y_test)[0])}

    student_cfg = {"epochs": args.epochs, "seed": args.seed}
    pool_items = list(rng.choice(train, args.pool, replace=False))
    new_items = [n for n in train if n not in set(pool_items)]
    # The pool's Elo, from the judge alone.
    plan = PairDesigner("random", budget=args.pool * 10 // 2, annotators=1, seed=args.seed).plan(pool_items)
    pool_calls = [(a, b, judge(a, b)[0]) for a, b in zip(plan["item_a"], plan["item_b"], strict=True)]
    pool_j = pd.DataFrame(
        [("judge", a, b, "a" if p == 1.0 else "b") for a, b, p in pool_calls],
        columns=["annotator", "item_a", "item_b", "winner"],
    )
    elo = Elo(n_bootstrap=0).fit(pool_j).result_.as_series().loc[pool_items]
    pool = ReferencePool(pool_items, elo.to_numpy())
    X_pool = X_all[[row_of[n] for n in pool_items]]
    X_new = X_all[[row_of[n] for n in new_items]]
    rows = []
    t0 = time.perf_counter()
    untrained = MLPStudent(**student_cfg).init(X_all.shape[1])
    # The untrained student's features are not standardised: give it the same input scaling.
    untrained.x_mean_, untrained.x_std_ = X_all.mean(0), X_all.std(0) + 1e-6
    rows.append(
        {
            "student": "before: untrained (random init)",
            "judge_calls": 0,
            **evaluate(untrained.predict(X_test)),
            "seconds": time.perf_counter() - t0,
        }
    )
    t0 = time.perf_counter()
    pool_only = MLPStudent(**student_cfg).fit(X_pool, pool.elo)
    rows.append(
        {
            "student": f"before: pool only ({args.pool} images, judge Elo)",
            "judge_calls": len(pool_calls),
            **evaluate(pool_only.predict(X_test)),
            "seconds": time.perf_counter() - t0,
        }
    )
    for k in args.anchors:
        t0 = time.perf_counter()
        calls_made["n"] = 0
        ps = PSDistill(n_anchors=k, seed=args.seed, student=student_cfg).fit(
            judge, pool, new_items, X_new, X_pool
        )
        pseudo = ps.pseudo_.set_index("item").loc[new_items, "score"]
        rows.append(
            {
                "student": f"after: PSDistill, {k} anchors/image",
                "judge_calls": calls_made["n"] + len(pool_calls),
                "pseudo_srcc_train": float(spearmanr(pseudo, mos.loc[new_items])[0]),
                **evaluate(ps.predict(X_test)),
                "seconds": time.perf_counter() - t0,
            }
        )
    t0 = time.perf_counter()
    X_train = X_all[[row_of[n] for n in train]]
    ceiling = MLPStudent(**student_cfg).fit(X_train, mos.loc[train].to_numpy())
    rows.append(
        {
            "student": "ceiling: trained on true mos_quality",
            "judge_calls": 0,
            **evaluate(ceiling.predict(X_test)),
            "seconds": time.perf_counter() - t0,
        }
    )
    table = pd.DataFrame(rows)
    print(
        f"\nAGIQA-3K test split ({len(test)} images; train {len(train)}: pool {len(pool_items)} + new {len(new_items)}); "
        f"features: {feature_source}"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    result = {
        "benchmark": "distill_agiqa",
        "command": "python benchmarks/distill_agiqa.py " + " ".join(sys.argv[1:]),
        "split": "split_by_group(prompt, test_fraction=0.2, val_fraction=0.1, seed=0)",
        "n_train": len(train),
        "n_test": len(test),
        "pool": len(pool_items),
        "features": feature_source,
        "judge": "noisy oracle: perceives N(mos_quality, std_quality) per call; confidence 2*Phi(|gap|/sqrt(sa^2+sb^2))-1",
        "student": {"hidden": 128, **student_cfg},
        "rows": json.loads(table.to_json(orient="records")),
        "total_seconds": time.perf_counter() - t_start,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out} ({result['total_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
