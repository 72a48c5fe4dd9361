"""Wall time of ``fuse`` on PPaint-sized data: 150 items, 45,900 judgments (synthetic), on this machine.

Per method (BT, Thurstone, Elo with 20 shuffles + 50 bootstrap replicates, joint BT fusion
with 1,500 ratings), the reliability report, and the whole ``artjudge fuse --method all``
command end to end; baseline in the same run: choix's ``ilsr_pairwise`` and
``opt_pairwise`` (BT without ties: the tie judgments dropped) on the same data.

    python benchmarks/fuse_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import choix
import numpy as np
import pandas as pd

from artjudge.cli import main as cli_main
from artjudge.preference.design import PairDesigner
from artjudge.preference.formats import read_judgments, read_ratings
from artjudge.preference.fusion import RatingFusion
from artjudge.preference.graph import encode
from artjudge.preference.models import BradleyTerry, Elo, Thurstone
from artjudge.preference.reliability import reliability_report
from artjudge.preference.simulate import Panel, simulate_judgments, simulate_ratings

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--judgments", type=int, default=45_900)
    ap.add_argument("--annotators", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuse_speed.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    items = [f"painting_{k:03d}" for k in range(args.items)]
    mean = pd.Series(rng.uniform(20, 90, args.items), index=items)
    std = pd.Series(rng.uniform(8, 15, args.items), index=items)
    panel = Panel.make(args.annotators, bias_sd=5.0)
    plan = PairDesigner("round-robin", args.judgments, panel.annotators).plan(items)
    judgments = simulate_judgments(plan, mean, std, panel, tie_margin=1.0)
    ratings = simulate_ratings(items, mean, std, panel, 10, (0, 100), step=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        jp, rp = Path(tmp) / "judgments.csv", Path(tmp) / "ratings.csv"
        judgments.to_csv(jp, index=False)
        ratings.to_csv(rp, index=False)
        j = read_judgments(jp)
        r = read_ratings(rp, (0, 100))
        comp = encode(j)
        decided = [
            (int(a), int(b)) if o == 1.0 else (int(b), int(a))
            for a, b, o in zip(comp.a, comp.b, comp.outcome, strict=True)
            if o != 0.5
        ]
        n = comp.n_items
        rows = [
            (
                "baseline: choix.ilsr_pairwise (BT, no ties)",
                timed(lambda: choix.ilsr_pairwise(n, decided, alpha=0.01), args.repeats),
            ),
            (
                "baseline: choix.opt_pairwise (BT, no ties)",
                timed(lambda: choix.opt_pairwise(n, decided, alpha=0.01), args.repeats),
            ),
            ("read + validate judgments.csv", timed(lambda: read_judgments(jp), args.repeats)),
            ("BT (Davidson ties) + Hessian SEs", timed(lambda: BradleyTerry().fit(j), args.repeats)),
            ("Thurstone (threshold ties) + SEs", timed(lambda: Thurstone().fit(j), args.repeats)),
            ("Elo (20 shuffles + 50 bootstrap)", timed(lambda: Elo().fit(j), args.repeats)),
            (
                "joint BT fusion with 1,500 ratings",
                timed(lambda: RatingFusion("bt", (0, 100)).fit(j, r), args.repeats),
            ),
            ("reliability report", timed(lambda: reliability_report(j, r), 1)),
        ]

        def whole() -> None:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = cli_main(
                    [
                        "fuse",
                        str(jp),
                        "--ratings",
                        str(rp),
                        "--method",
                        "all",
                        "--out",
                        str(Path(tmp) / "fused.csv"),
                    ]
                )
            assert code == 0

        rows.append(("artjudge fuse --method all --ratings (end to end)", timed(whole, 1)))
    table = pd.DataFrame(rows, columns=["step", "seconds"])
    print(
        f"\nfuse on {args.items} items, {len(judgments):,} judgments ({(judgments.winner == 'tie').mean():.0%} ties), "
        f"{args.annotators} annotators, {len(ratings):,} ratings; best of {args.repeats} "
        f"({os.cpu_count()} CPUs, shared)"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    result = {
        "benchmark": "fuse_speed",
        "command": "python benchmarks/fuse_speed.py " + " ".join(sys.argv[1:]),
        "items": args.items,
        "judgments": len(judgments),
        "ratings": len(ratings),
        "annotators": args.annotators,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "rows": json.loads(table.to_json(orient="records")),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmpf = out.with_suffix(".tmp")
    tmpf.write_text(json.dumps(result, indent=2))
    os.replace(tmpf, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
