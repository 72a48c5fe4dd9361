"""How well do BT, Thurstone, Elo and the fused score recover a known truth, and how fast?

A simulated expert panel built from AGIQA-3K's real per-image mos_quality and std_quality:
each annotator perceives image i as N(mos_i, std_i) (times their own noise level) plus
their own bias; pairwise calls compare two perceptions (a tie when closer than 0.05), ratings
are the perception rounded to an integer on 0-5 (3 ratings per image, the baseline).
For 2, 5, 10, 20 comparisons per image, with the locally dense design (neighbours in the
ranking of the ratings, 20% random long-range pairs), random pairs, and an active design
(half random, then re-planned from the judgments so far), it reports the SRCC with the true
mos of: ratings alone (the baseline), BT, Thurstone, Elo, and BT fused with the ratings;
and how close two independent constructions (annotators split in halves) land.

    python benchmarks/fusion_recovery.py [--items 400] [--seed 0]
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
from scipy.stats import spearmanr

from artjudge.preference.design import PairDesigner, active_plan
from artjudge.preference.fusion import RatingFusion, split_half_constructions
from artjudge.preference.simulate import Panel, simulate_judgments, simulate_ratings

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ARTJUDGE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "agiqa-3k" / "data.csv"
SCALE = (0.0, 5.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=400)
    ap.add_argument("--annotators", type=int, default=15)
    ap.add_argument("--per-item", type=int, nargs="+", default=[2, 5, 10, 20])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fusion_recovery.json"))
    args = ap.parse_args()
    if not DATA.is_file():
        print(f"AGIQA-3K not found at {DATA}", file=sys.stderr)
        return 1
    t_start = time.perf_counter()
    df = pd.read_csv(DATA).sample(n=args.items, random_state=args.seed)
    items = df["name"].astype(str).tolist()
    mean = pd.Series(df["mos_quality"].to_numpy(float), index=items)
    std = pd.Series(df["std_quality"].to_numpy(float), index=items)
    panel = Panel.make(args.annotators, bias_sd=0.3, noise_sd=0.2, seed=args.seed)
    ratings = simulate_ratings(items, mean, std, panel, per_item=3, scale=SCALE, step=1.0, seed=args.seed)
    rating_mean = ratings.groupby("item")["score"].mean()
    truth = mean.loc[rating_mean.index]
    baseline = float(spearmanr(rating_mean, truth)[0])
    rows = []
    for c in args.per_item:
        budget = c * len(items) // 2
        for design in ("dense", "random", "active"):
            t0 = time.perf_counter()
            if design == "active":
                first = PairDesigner("random", budget // 2, panel.annotators, seed=args.seed).plan(items)
                j1 = simulate_judgments(first, mean, std, panel, tie_margin=0.05, seed=args.seed)
                second = active_plan(items, j1, budget - budget // 2, panel.annotators, seed=args.seed + 1)
                j2 = simulate_judgments(second, mean, std, panel, tie_margin=0.05, seed=args.seed + 1)
                judgments = pd.concat([j1, j2], ignore_index=True)
            else:
                prior = rating_mean.loc[items].to_numpy() if design == "dense" else None
                plan = PairDesigner(design, budget, panel.annotators, long_range=0.2, seed=args.seed).plan(
                    items, prior
                )
                judgments = simulate_judgments(plan, mean, std, panel, tie_margin=0.05, seed=args.seed)
            row: dict[str, object] = {
                "per_item": c,
                "design": design,
                "judgments": len(judgments),
                "ratings_only": baseline,
            }
            for method in ("bt", "thurstone", "elo"):
                kw = {"n_bootstrap": 10, "n_shuffles": 10} if method == "elo" else None
                try:
                    f = (
                        RatingFusion(method, SCALE, components="separate", model_kwargs=kw)
                        .fit(judgments)
                        .result_.frame
                    )
                    s = f.set_index("item")["latent"]
                    row[method] = float(spearmanr(s, mean.loc[s.index])[0])
                except Exception as err:  # a sparse random design may not connect: report, not crash
                    row[method] = float("nan")
                    row[f"{method}_error"] = str(err)[:120]
            fused = (
                RatingFusion("bt", SCALE, components="separate")
                .fit(judgments, ratings)
                .result_.frame.set_index("item")
            )
            row["fused_bt"] = float(spearmanr(fused["fused"], mean.loc[fused.index])[0])
            inside = (fused["lower"] <= mean.loc[fused.index]) & (mean.loc[fused.index] <= fused["upper"])
            row["fused_interval_coverage"] = float(inside.mean())
            row["fused_mae"] = float(np.mean(np.abs(fused["fused"] - mean.loc[fused.index])))
            agree = split_half_constructions(judgments, ratings, "bt", seed=args.seed, scale=SCALE)
            row["halves_srcc"] = agree.srcc
            row["halves_icc"] = agree.icc_2_1
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
            print(f"  {c:>3}/item {design:<7} done in {row['seconds']:.1f}s", file=sys.stderr)
    table = pd.DataFrame(rows)
    cols = [
        "per_item",
        "design",
        "judgments",
        "ratings_only",
        "bt",
        "thurstone",
        "elo",
        "fused_bt",
        "fused_interval_coverage",
        "fused_mae",
        "halves_srcc",
        "halves_icc",
        "seconds",
    ]
    print(
        f"\nSRCC with the true AGIQA-3K mos_quality ({args.items} images, {args.annotators} simulated annotators, "
        f"3 integer ratings per image; ratings-only baseline SRCC {baseline:.3f})"
    )
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    result = {
        "benchmark": "fusion_recovery",
        "command": "python benchmarks/fusion_recovery.py " + " ".join(sys.argv[1:]),
        "data": str(DATA.name),
        "items": args.items,
        "annotators": args.annotators,
        "seed": args.seed,
        "panel": {
            "bias_sd": 0.3,
            "noise_sd_log": 0.2,
            "tie_margin": 0.05,
            "ratings_per_item": 3,
            "rating_step": 1.0,
        },
        "baseline_ratings_only_srcc": baseline,
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
