"""Error intervals at 0.9: coverage and mean width on data the models did not fit (issue 25.1).

    nice -n 10 python benchmarks/calibration.py        # ~5 min with the features cached

1. The shipped default on AGIQA-3K's test split (479 images, never fitted or calibrated on),
   read from the records ``artjudge.load().assess_many`` writes (the intervals a user sees),
   and the prompt-consistency score on the same images with their prompts.
2. Rubric models trained through the public ``artjudge train`` on AGIQA-3K's two human
   scores as two rubric columns (``mos_quality`` as overall, ``mos_align`` as the attribute
   ``alignment``) at n = 50, 100, 200 works drawn at random from train+val (``--draws`` seeds
   each), each measured on all the works it was not trained on (the rest of AGIQA-3K). Their
   calibration comes from the card the trainer writes (out-of-fold CV residuals).

Bar: coverage in [0.85, 0.95] and mean width <= 1.3 x the oracle width (the narrowest
constant-width interval that covers 90% of the same rows, ``scoring.intervals.oracle_width``),
per model and head (rubric rows: the mean over draws). Prints a table and writes
benchmarks/results/calibration.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, print_table, save_results  # noqa: E402

SIZES = (50, 100, 200)
COVERAGE_BAR = (0.85, 0.95)
WIDTH_BAR = 1.3


def figures(y: np.ndarray, score: np.ndarray, ends: list[list[float] | None]) -> dict[str, Any]:
    """Coverage, mean width and the oracle width for rows whose records carry intervals."""
    from artjudge.scoring.intervals import coverage, oracle_width

    if any(e is None for e in ends):
        return {"rows": len(y), "missing_intervals": sum(e is None for e in ends)}
    lo, hi = np.array([e[0] for e in ends]), np.array([e[1] for e in ends])  # type: ignore[index]
    width, oracle = float(np.mean(hi - lo)), oracle_width(y, score)
    cov = coverage(y, lo, hi)
    return {
        "rows": len(y),
        "coverage": cov,
        "mean_width": width,
        "oracle_width": oracle,
        "width_ratio": width / oracle,
        "meets_bar": COVERAGE_BAR[0] <= cov <= COVERAGE_BAR[1] and width / oracle <= WIDTH_BAR,
    }


def default_part(df: Any) -> dict[str, Any]:
    """The shipped default (overall) and its prompt consistency on the test split, from the records."""
    import artjudge
    from artjudge.record import Assessment

    test = df[df["split"] == "test"]
    paths, prompts = test["path"].astype(str).tolist(), test["prompt"].astype(str).tolist()
    recs = [
        r for r in artjudge.load("default", cache=True).assess_many(paths, prompts=prompts, batch_size=32)
    ]
    good = [r for r in recs if isinstance(r, Assessment)]
    assert len(good) == len(paths), "every test image scores"
    out = {
        "overall": figures(
            test["score"].to_numpy(dtype=float),
            np.array([r.overall.score for r in good]),
            [r.overall.interval for r in good],
        )
    }
    cons = [r.consistency for r in good]
    out["prompt_consistency"] = figures(
        test["attr.alignment"].to_numpy(dtype=float),
        np.array([c.score if c else np.nan for c in cons]),
        [c.interval if c else None for c in cons],
    )
    return out


def train_rubric(df: Any, rows: np.ndarray, out: Path, images: Path) -> None:
    """``artjudge train`` on ``rows`` with mos_quality as overall and mos_align as ``alignment`` (0-100)."""
    from artjudge.cli import main as cli

    labels = out.parent / f"{out.name}.csv"
    sub = df.iloc[rows]
    # every graded work trains (part = train): the small-data path cross-validates over all of them
    sub.assign(file=sub["image_id"], quality=sub["score"], alignment=sub["attr.alignment"], part="train")[
        ["file", "quality", "alignment", "part"]
    ].to_csv(labels, index=False)
    argv = [
        "train",
        "--dataset",
        "csv",
        "--labels",
        str(labels),
        "--images",
        str(images),
        "--split-col",
        "part",
    ]
    argv += ["--score-col", "quality", "--scale", "0,100", "--image-col", "file", "--attr-cols", "alignment"]
    if cli([*argv, "--out", str(out)]) != 0:
        raise RuntimeError(f"artjudge train failed for {out}")


def rubric_part(df: Any, images: Path, sizes: tuple[int, ...], draws: int) -> dict[str, Any]:
    """Per size and draw: train on n random train+val works, measure each head's intervals on the rest."""
    import artjudge
    from artjudge.models.weights import read_card
    from artjudge.record import Assessment

    pool = np.flatnonzero(df["split"].to_numpy() != "test")
    truth = {
        "overall": df["score"].to_numpy(dtype=float),
        "alignment": df["attr.alignment"].to_numpy(dtype=float),
    }
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for seed in range(draws):
                rows = np.random.default_rng(seed).choice(pool, n, replace=False)
                rest = np.setdiff1d(np.arange(len(df)), rows)
                out = Path(tmp) / f"rubric-n{n}-s{seed}"
                t0 = time.perf_counter()
                train_rubric(df, rows, out, images)
                card = read_card(out)
                scorer = artjudge.load(str(out), cache=True)
                recs = scorer.assess_many(df["path"].astype(str).to_numpy()[rest].tolist(), batch_size=64)
                good = [r for r in recs if isinstance(r, Assessment)]
                for head in ("overall", "alignment"):
                    dists = [r.overall if head == "overall" else r.attributes.get(head) for r in good]
                    if any(d is None for d in dists):
                        runs.append({"n": n, "seed": seed, "head": head, "shown": False})
                        continue
                    fig = figures(
                        truth[head][rest], np.array([d.score for d in dists]), [d.interval for d in dists]
                    )
                    cal = ((card.get("calibration") or {}).get("heads") or {}).get(head) or {}
                    runs.append(
                        {"n": n, "seed": seed, "head": head, "shown": True, "scale": cal.get("scale"), **fig}
                    )
                print(f"n={n} seed={seed}: trained and measured in {time.perf_counter() - t0:.0f} s")
    return {"runs": runs, "summary": summarise(runs)}


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean coverage / width / ratio over draws per (n, head); the bar read on those means."""
    rows = []
    for n in sorted({r["n"] for r in runs}):
        for head in ("overall", "alignment"):
            got = [r for r in runs if r["n"] == n and r["head"] == head and "coverage" in r]
            if not got:
                rows.append({"n": n, "head": head, "draws": 0})
                continue
            cov = float(np.mean([r["coverage"] for r in got]))
            ratio = float(np.mean([r["width_ratio"] for r in got]))
            rows.append(
                {
                    "n": n,
                    "head": head,
                    "draws": len(got),
                    "coverage": cov,
                    "coverage_range": [min(r["coverage"] for r in got), max(r["coverage"] for r in got)],
                    "mean_width": float(np.mean([r["mean_width"] for r in got])),
                    "oracle_width": float(np.mean([r["oracle_width"] for r in got])),
                    "width_ratio": ratio,
                    "meets_bar": COVERAGE_BAR[0] <= cov <= COVERAGE_BAR[1] and ratio <= WIDTH_BAR,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "agiqa-3k")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--skip-rubric", action="store_true")
    ap.add_argument("--skip-default", action="store_true")
    ap.add_argument("--name", default="calibration", help="results file name (benchmarks/results/NAME.json)")
    args = ap.parse_args(argv)

    from artjudge.data import read_dataset

    t0 = time.perf_counter()
    df = read_dataset("agiqa-3k", args.data).frame
    result: dict[str, Any] = {"level": 0.9, "bar": {"coverage": COVERAGE_BAR, "width_over_oracle": WIDTH_BAR}}
    result["default"] = {} if args.skip_default else default_part(df)
    if not args.skip_rubric:
        sizes = tuple(int(s) for s in args.sizes.split(","))
        result["rubric"] = rubric_part(df, args.data / "images", sizes, args.draws)
    result["seconds"] = time.perf_counter() - t0

    def row(name: str, f: dict[str, Any]) -> list[Any]:
        if "coverage" not in f:
            return [name, f.get("rows", ""), "no interval", "", "", "", "", "NOT MET"]
        return [
            name,
            f.get("rows", f.get("draws", "")),
            f["coverage"],
            f["mean_width"],
            f["oracle_width"],
            f["width_ratio"],
            f"{f['coverage_range'][0]:.3f}-{f['coverage_range'][1]:.3f}" if "coverage_range" in f else "",
            "met" if f["meets_bar"] else "NOT MET",
        ]

    rows = [row(f"default {k} (test)", v) for k, v in result["default"].items()]
    for s in (result.get("rubric") or {}).get("summary", []):
        rows.append(row(f"rubric n={s['n']} {s['head']}", s))
    print_table(
        "Error intervals at 0.9 on held-out AGIQA-3K (bar: coverage 0.85-0.95, width <= 1.3x oracle; "
        "rubric rows: mean over draws, measured on the works not trained on)",
        ["model / head", "rows / draws", "coverage", "width", "oracle", "ratio", "draws' coverage", "bar"],
        rows,
    )
    path = save_results(args.name, result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
