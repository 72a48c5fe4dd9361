"""Accuracy of the shipped default on AGIQA-3K's test split, against two baselines.

    python benchmarks/accuracy_agiqa.py

All three are measured in one run on the same split (by prompt: test 0.2, val 0.1,
seed 0), with 95% bootstrap intervals:

* shipped: ``artjudge.load().assess_many`` on the test images (the same call the CLI makes;
  a subset is also scored through ``artjudge assess`` to show the CLI gives the same numbers);
* baseline (a): ridge regression on the frozen, pooled final EfficientNet-Lite0 feature map
  at 224 px (alpha by generalised cross-validation on train);
* baseline (b): an SVR on frozen multi-scale features (mean and std of five intermediate
  stages plus the final map) at 384 px (C chosen on the val split).

Prints a table and writes benchmarks/results/accuracy_agiqa.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, print_table, save_results  # noqa: E402

FINAL_SLICE = slice(2 * (24 + 40 + 80 + 112 + 192), 2 * (24 + 40 + 80 + 112 + 192) + 1280)  # head-conv means


def frozen_features(paths: list[str], resolution: int) -> np.ndarray:
    from artjudge.train.head import extract_manifest_features

    feats = extract_manifest_features(paths, resolution, keep_trunk=False, desc=f"features {resolution}px")
    return np.hstack([feats.pooled, feats.handcrafted])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "agiqa-3k")
    ap.add_argument("--model", default="default")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--cli-subset", type=int, default=24, help="test images also scored via the CLI")
    args = ap.parse_args()

    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    import artjudge
    from artjudge.data import read_dataset
    from artjudge.eval import metrics
    from artjudge.record import Assessment

    manifest = read_dataset("agiqa-3k", args.data)
    df = manifest.frame
    split = df["split"].to_numpy()
    y = df["score"].to_numpy(dtype=float)
    paths = df["path"].astype(str).tolist()
    tr, va, te = split == "train", split == "val", split == "test"
    test_paths = [p for p, t in zip(paths, te, strict=True) if t]

    # --- shipped model, through the public API
    t0 = time.perf_counter()
    scorer = artjudge.load(args.model, cache=True)
    recs = scorer.assess_many(test_paths, batch_size=16, progress=True)
    shipped = np.array([r.overall.score for r in recs if isinstance(r, Assessment)])
    api_s = time.perf_counter() - t0

    # --- the CLI on a subset: same numbers as the API
    sub = test_paths[: args.cli_subset]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cli.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "artjudge",
                "assess",
                *sub,
                "--model",
                args.model,
                "--output",
                str(out),
                "--quiet",
            ],
            check=True,
        )
        cli_scores = {
            json.loads(line)["input"]: json.loads(line)["overall"]["score"]
            for line in out.read_text().splitlines()
        }
    cli_diff = max(abs(cli_scores[p] - s) for p, s in zip(sub, shipped, strict=False))

    # --- baselines on frozen features
    f224 = frozen_features(paths, 224)[:, FINAL_SLICE]
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 5, 30))).fit(f224[tr], y[tr])
    base_a = ridge.predict(f224[te])
    f384 = frozen_features(paths, 384)[:, : 2 * (24 + 40 + 80 + 112 + 192 + 1280)]
    best_c, best_val = 1.0, -np.inf
    for c in (1.0, 3.0, 10.0, 30.0, 100.0):
        svr = make_pipeline(StandardScaler(), SVR(C=c)).fit(f384[tr], y[tr])
        v = metrics.srcc(svr.predict(f384[va]), y[va])
        if v > best_val:
            best_c, best_val = c, v
    svr = make_pipeline(StandardScaler(), SVR(C=best_c)).fit(f384[tr], y[tr])
    base_b = svr.predict(f384[te])

    yt = y[te]
    reports = {
        "shipped": metrics.report(shipped, yt, bootstrap=args.bootstrap),
        "baseline_a_ridge_final_224": metrics.report(base_a, yt, bootstrap=args.bootstrap),
        "baseline_b_svr_multiscale_384": metrics.report(base_b, yt, bootstrap=args.bootstrap),
    }
    rows = []
    for name, rep in reports.items():
        d = rep.to_dict()
        rows.append(
            [
                name,
                f"{d['srcc']['value']:.4f} [{d['srcc']['lo']:.3f}, {d['srcc']['hi']:.3f}]",
                f"{d['plcc']['value']:.4f} [{d['plcc']['lo']:.3f}, {d['plcc']['hi']:.3f}]",
                f"{d['plcc_logistic']['value']:.4f}",
                f"{d['krcc']['value']:.4f}",
            ]
        )
    print_table(
        f"AGIQA-3K perceptual quality, test split (n={int(te.sum())})",
        ["model", "SRCC [95% CI]", "PLCC [95% CI]", "PLCC (logistic)", "KRCC"],
        rows,
    )
    s, a, b = (reports[k].to_dict() for k in reports)
    gains = {
        "srcc_over_a": s["srcc"]["value"] - a["srcc"]["value"],
        "srcc_over_b": s["srcc"]["value"] - b["srcc"]["value"],
        "plcc_over_a": s["plcc"]["value"] - a["plcc"]["value"],
        "plcc_over_b": s["plcc"]["value"] - b["plcc"]["value"],
    }
    print(f"gains: {json.dumps({k: round(v, 4) for k, v in gains.items()})}")
    print(f"CLI vs API on {len(sub)} images: max |score difference| = {cli_diff:.2e}")
    bar = {
        "srcc>=0.85": s["srcc"]["value"] >= 0.85,
        "plcc>=0.89": s["plcc"]["value"] >= 0.89,
        "beats_a": gains["srcc_over_a"] > 0 and gains["plcc_over_a"] > 0,
        "beats_b": gains["srcc_over_b"] > 0 and gains["plcc_over_b"] > 0,
    }
    print(f"bar: {bar}")
    path = save_results(
        "accuracy_agiqa",
        {
            "split": {"train": int(tr.sum()), "val": int(va.sum()), "test": int(te.sum())},
            "model": {"id": scorer.model_id, "version": scorer.model_version},
            "reports": {k: v.to_dict() for k, v in reports.items()},
            "gains": gains,
            "bar": bar,
            "svr_C": best_c,
            "ridge_alpha": float(ridge[-1].alpha_),
            "cli_vs_api_max_abs_diff": cli_diff,
            "api_seconds": api_s,
            "shipped_predictions": {p: float(v) for p, v in zip(test_paths, shipped, strict=True)},
        },
    )
    print(f"wrote {path}")
    return 0 if all(bar.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
