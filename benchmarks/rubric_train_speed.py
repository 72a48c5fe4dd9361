"""Training a rubric costs about what assessing the same works costs (issue 27, item 1).

A teacher's loop: grade works, ``artjudge train`` a rubric on them, then assess new ones.
Training used to encode at ~1.9 images/s (PyTorch eager, full-size decoding) while
``assess`` ran at 15-40 images/s, and the rubric's evidence cost another ~0.5 s a work:
training 300 works cost about ten times assessing them. Here both run as the CLI a user
types, in fresh processes, each with its own fresh (empty) feature cache:

* ``artjudge assess`` of the 300 works (the shipped default, no critique), cold, once before
  and once after the training run (the load of a shared machine drifts; the ratio is taken
  against their mean);
* ``artjudge train`` of a two-column rubric on the same 300 works (AGIQA-3K's
  ``mos_quality`` as the score and ``mos_align`` as an attribute, raw 0-5 scale), cold:
  encoding, the rubric's evidence, cross-validation, the card, rubric.json, everything.

Bar: train seconds / mean assess seconds <= 2. The same machine, back to back.

    nice -n 10 python benchmarks/rubric_train_speed.py

Prints a table and writes benchmarks/results/rubric_train_speed.json.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import SHARED_DATA, print_table, save_results  # noqa: E402

BAR = 2.0


def _pick(data: Path, n: int, seed: int) -> list[dict[str, str]]:
    """``n`` AGIQA-3K rows, seeded, whose image is on disk."""
    with open(data / "data.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if (data / "images" / r["name"]).is_file()]
    idx = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [rows[int(i)] for i in sorted(idx)]


def _run(cmd: list[str], env: dict[str, str], log: Path) -> float:
    """Wall seconds of one CLI run (its output to ``log``); raises when it fails."""
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        rc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed (exit {rc}); see {log}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SHARED_DATA / "agiqa-3k"))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", help="keep the work folder here (default: a temporary folder, removed)")
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not (data / "data.csv").is_file():
        print(f"AGIQA-3K not found at {data}", file=sys.stderr)
        return 2
    rows = _pick(data, args.n, args.seed)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rubric-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    grades = work / "grades.csv"
    with open(grades, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "mos_quality", "mos_align"])
        w.writerows([r["name"], r["mos_quality"], r["mos_align"]] for r in rows)
    exe = [sys.executable, "-m", "artjudge"]
    images = [str(data / "images" / r["name"]) for r in rows]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    timings: dict[str, float] = {}

    def assess(tag: str) -> float:
        cache = work / f"cache-{tag}"
        return _run(
            [*exe, "assess", *images, "--output", str(work / f"{tag}.jsonl"), "--force", "-q",
             "--cache-dir", str(cache)],
            dict(env, ARTJUDGE_CACHE_DIR=str(cache)),
            work / f"{tag}.log",
        )  # fmt: skip

    # assess runs before AND after train (each cold): on a shared machine the load drifts, and the
    # ratio is taken against the mean of the two so that neither side gets the quiet minute
    timings["assess_before"] = assess("assess-before")
    env_t = dict(env, ARTJUDGE_CACHE_DIR=str(work / "cache-train"))
    timings["train"] = _run(
        [*exe, "train", "--dataset", "csv", "--labels", str(grades), "--images", str(data / "images"),
         "--image-col", "file", "--score-col", "mos_quality", "--attr-cols", "mos_align",
         "--scale", "0,5", "--out", str(work / "model"), "--force"],
        env_t,
        work / "train.log",
    )  # fmt: skip
    timings["assess_after"] = assess("assess-after")
    timings["assess"] = (timings["assess_before"] + timings["assess_after"]) / 2
    ratio = timings["train"] / timings["assess"]
    rows_out: list[list[Any]] = [
        ["assess (cold, before train)", args.n, round(timings["assess_before"], 1), round(args.n / timings["assess_before"], 1), round(timings["assess_before"] / timings["assess"], 2)],
        ["assess (cold, after train)", args.n, round(timings["assess_after"], 1), round(args.n / timings["assess_after"], 1), round(timings["assess_after"] / timings["assess"], 2)],
        ["train (cold)", args.n, round(timings["train"], 1), round(args.n / timings["train"], 1), round(ratio, 2)],
    ]  # fmt: skip
    print_table(
        f"rubric training vs assessing {args.n} AGIQA-3K works (fresh caches, one run each)",
        ["run", "works", "seconds", "works/s", "x mean assess"],
        rows_out,
    )
    verdict = "met" if ratio <= BAR else "NOT met"
    print(f"ratio train/assess = {ratio:.2f} (bar <= {BAR}: {verdict})")
    path = save_results(
        "rubric_train_speed",
        {
            "benchmark": "rubric_train_speed",
            "dataset": "agiqa-3k",
            "works": args.n,
            "seed": args.seed,
            "rubric": {"score": "mos_quality", "attributes": ["mos_align"], "scale": [0, 5]},
            "seconds": {k: round(v, 2) for k, v in timings.items()},
            "ratio": round(ratio, 3),
            "bar": BAR,
            "met": ratio <= BAR,
            "command": "nice -n 10 python benchmarks/rubric_train_speed.py",
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
