"""Do the embedded critique's evidence statements agree with ground truth? (AGIQA-3K test split)

AGIQA-3K's prompts carry labels that some critique statements can be checked against:
the prompt's style ('abstract style' vs 'realistic style'), its colour adjective ('warm
color' vs 'cold color'), warm or cool subject words in the prompt ('sunset', 'fire' vs
'ocean', 'snow'), detail ('hyper detail' vs 'blurred detail') and lighting ('HDR lighting'
vs 'soft lighting'). The labels say what the generator was asked for, not what it drew,
so they are a noisy ground truth; a statement that agrees with them well above the
majority-class baseline is grounded in the image.

Protocol (fixed before looking at test images):
* split: ``split_by_group`` over prompts, test_fraction 0.2, val_fraction 0.1, seed 0; only
  test images are measured here. Reference percentiles and the abstraction model were fitted
  on train images only (``python scripts/build_evidence_reference.py``).
* each statement is exactly what ``artjudge.critique.compose`` writes: style from the
  ``abstraction`` probability (abstract >= 0.7, realistic <= 0.3, "between" otherwise);
  warmth from the ``warmth`` index (warm >= 0.5, cool <= 0.1, neutral otherwise; thresholds
  chosen on train images);
  detail "crisp" when sharpness is at or above the train median (qualifier typical-high)
  and "soft" below; contrast "strong" when RMS contrast is at or above the train median.
* "stated accuracy": the three-way statement against the two-way label, a neutral /
  between statement counting as wrong; "decisive accuracy": among images where the critique
  commits to a side, with its coverage. Baseline: the train split's majority label.
* 95% CIs by bootstrap over test images (1000 resamples, seed 0).
* every statement is reported twice: on all labelled test images, and on the "aligned" ones
  whose human prompt-alignment MOS (``mos_align``) is at or above the train median — images
  that people judged to show what the prompt asked for, where the prompt label is a fair
  ground truth (AttnGAN and GLIDE images often ignore the prompt's adjectives).

Run: ``python benchmarks/critique_grounding.py [--data ../shared/data/agiqa-3k] [--limit N]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

WARM_WORDS = ("sunset", "sunrise", "fire", "flame", "autumn", "desert", "lava", "gold", "golden", "sun")
COOL_WORDS = ("ice", "icy", "ocean", "sea", "night", "snow", "winter", "moon", "underwater", "frozen")


def _words(prompt: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{w}\b", prompt, re.I) for w in words)


def boot_ci(correct: np.ndarray, n_boot: int = 1000, seed: int = 0) -> list[float]:
    if len(correct) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, len(correct), size=(n_boot, len(correct)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def evaluate(
    name: str,
    labels: list[str],
    stated: list[str],
    decisive_pos: str,
    decisive_neg: str,
    train_labels: list[str],
) -> dict[str, Any]:
    y = np.array(labels)
    s = np.array(stated)
    correct = (s == y).astype(float)
    decisive = np.isin(s, [decisive_pos, decisive_neg])
    majority = pd.Series(train_labels).mode().iloc[0] if train_labels else decisive_pos
    base = (y == majority).astype(float)
    return {
        "statement": name,
        "n": int(len(y)),
        "label_counts": {k: int(v) for k, v in pd.Series(labels).value_counts().items()},
        "stated_accuracy": float(correct.mean()) if len(y) else float("nan"),
        "stated_ci95": boot_ci(correct),
        "decisive_accuracy": float(correct[decisive].mean()) if decisive.any() else float("nan"),
        "decisive_ci95": boot_ci(correct[decisive]),
        "coverage": float(decisive.mean()) if len(y) else float("nan"),
        "baseline": f"majority class on train ({majority})",
        "baseline_accuracy": float(base.mean()) if len(y) else float("nan"),
        "baseline_ci95": boot_ci(base),
    }


def _statements(
    test: pd.DataFrame,
    ev_df: pd.DataFrame,
    train: pd.DataFrame,
    sharp_median: float,
    contrast_median: float,
    align_cut: float | None,
) -> list[dict[str, Any]]:
    """Each checkable statement against its label; the baseline comes from (aligned) train rows."""
    from artjudge.critique.compose import style_category, warmth_category

    if align_cut is not None:
        train = train[train["mos_align"] >= align_cut]
    results: list[dict[str, Any]] = []

    def adj_has(frame: pd.DataFrame, label: str) -> pd.Series:
        return (frame["adj1"] == label) | (frame["adj2"] == label)

    # 1. style: abstract vs realistic
    mask = test["style"].isin(["abstract style", "realistic style"])
    labels = ["abstract" if s == "abstract style" else "realistic" for s in test.loc[mask, "style"]]
    stated = [style_category(p) for p in ev_df.loc[mask, "abstraction"]]
    tr = [
        "abstract" if s == "abstract style" else "realistic"
        for s in train["style"]
        if s in ("abstract style", "realistic style")
    ]
    results.append(
        evaluate("style: abstract vs realistic (prompt style)", labels, stated, "abstract", "realistic", tr)
    )

    # 2. warmth vs the prompt's colour adjective
    warm, cold = adj_has(test, "warm color"), adj_has(test, "cold color")
    mask = warm ^ cold
    labels = ["warm" if w else "cool" for w in warm[mask]]
    stated = [warmth_category(v) for v in ev_df.loc[mask, "warmth"]]
    tw, tc = adj_has(train, "warm color"), adj_has(train, "cold color")
    tr = ["warm" if w else "cool" for w in tw[tw ^ tc]]
    results.append(evaluate("warmth vs 'warm color' / 'cold color'", labels, stated, "warm", "cool", tr))

    # 3. warmth vs warm / cool subject words in the prompt
    pw = test["prompt"].map(lambda p: _words(p, WARM_WORDS))
    pc = test["prompt"].map(lambda p: _words(p, COOL_WORDS))
    mask = pw ^ pc
    labels = ["warm" if w else "cool" for w in pw[mask]]
    stated = [warmth_category(v) for v in ev_df.loc[mask, "warmth"]]
    tpw = train["prompt"].map(lambda p: _words(p, WARM_WORDS))
    tpc = train["prompt"].map(lambda p: _words(p, COOL_WORDS))
    tr = ["warm" if w else "cool" for w in tpw[tpw ^ tpc]]
    results.append(evaluate("warmth vs warm/cool prompt words", labels, stated, "warm", "cool", tr))

    # 4. detail: sharpness vs 'hyper detail' / 'blurred detail'
    hyper, blur = adj_has(test, "hyper detail"), adj_has(test, "blurred detail")
    mask = hyper ^ blur
    labels = ["crisp" if h else "soft" for h in hyper[mask]]
    stated = ["crisp" if v >= sharp_median else "soft" for v in ev_df.loc[mask, "sharpness"]]
    th, tb = adj_has(train, "hyper detail"), adj_has(train, "blurred detail")
    tr = ["crisp" if h else "soft" for h in th[th ^ tb]]
    results.append(
        evaluate("detail vs 'hyper detail' / 'blurred detail'", labels, stated, "crisp", "soft", tr)
    )

    # 5. contrast vs 'HDR lighting' / 'soft lighting'
    hdr, soft = adj_has(test, "HDR lighting"), adj_has(test, "soft lighting")
    mask = hdr ^ soft
    labels = ["strong" if h else "soft" for h in hdr[mask]]
    stated = ["strong" if v >= contrast_median else "soft" for v in ev_df.loc[mask, "contrast_rms"]]
    th, ts = adj_has(train, "HDR lighting"), adj_has(train, "soft lighting")
    tr = ["strong" if h else "soft" for h in th[th ^ ts]]
    results.append(
        evaluate("contrast vs 'HDR lighting' / 'soft lighting'", labels, stated, "strong", "soft", tr)
    )

    return results


def main(argv: list[str] | None = None) -> int:
    from PIL import Image
    from tqdm import tqdm

    from artjudge.critique.compose import (
        ABSTRACT_THRESHOLD,
        COOL_THRESHOLD,
        REALISTIC_THRESHOLD,
        WARM_THRESHOLD,
    )
    from artjudge.data.splits import split_by_group
    from artjudge.features.evidence import measure, reference_ranges

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/agiqa-3k"))
    parser.add_argument("--limit", type=int, default=None, help="measure at most N test images (smoke runs)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/critique_grounding.json"))
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="JSON file of measured test values to reuse (written when absent)",
    )
    args = parser.parse_args(argv)

    df = pd.read_csv(args.data / "data.csv").fillna("")
    df["split"] = split_by_group(
        df["prompt"].astype(str).tolist(), test_fraction=0.2, val_fraction=0.1, seed=0
    )
    test = df[df["split"] == "test"].reset_index(drop=True)
    train = df[df["split"] == "train"]
    if args.limit:
        test = test.sample(n=min(args.limit, len(test)), random_state=0).reset_index(drop=True)
    refs = reference_ranges()
    sharp_median = refs["sharpness"]["p50"]
    contrast_median = refs["contrast_rms"]["p50"]

    t0 = time.perf_counter()
    cached: dict[str, dict[str, float]] = {}
    if args.cache and args.cache.is_file():
        cached = json.loads(args.cache.read_text())
    ev_rows = []
    for name in tqdm(test["name"], desc="measuring test images"):
        if name not in cached:
            with Image.open(args.data / "images" / name) as im:
                ev = measure(im)
            cached[name] = {k: m.value for k, m in ev.items()}
        ev_rows.append(cached[name])
    measure_s = time.perf_counter() - t0
    if args.cache:
        args.cache.write_text(json.dumps(cached))
    ev_df = pd.DataFrame(ev_rows)
    align_cut = float(train["mos_align"].median())
    results = []
    for subset in ("all", "aligned"):
        keep = np.ones(len(test), bool) if subset == "all" else (test["mos_align"] >= align_cut).to_numpy()
        for r in _statements(
            test[keep].reset_index(drop=True),
            ev_df[keep].reset_index(drop=True),
            train,
            sharp_median,
            contrast_median,
            align_cut if subset == "aligned" else None,
        ):
            r["subset"] = subset
            results.append(r)

    header = f"{'statement':48s} {'subset':8s} {'n':>4s} {'stated acc [95% CI]':>22s} {'decisive acc (cov)':>20s} {'baseline':>16s}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['statement']:48s} {r['subset']:8s} {r['n']:4d} "
            f"{r['stated_accuracy']:.3f} [{r['stated_ci95'][0]:.3f},{r['stated_ci95'][1]:.3f}] "
            f"{r['decisive_accuracy']:>8.3f} ({r['coverage']:.2f}) "
            f"{r['baseline_accuracy']:>8.3f} [{r['baseline_ci95'][0]:.2f},{r['baseline_ci95'][1]:.2f}]"
        )
    print(
        f"\nmeasured {len(test)} test images in {measure_s:.1f} s ({1000 * measure_s / max(1, len(test)):.0f} ms each)"
    )

    out = {
        "benchmark": "critique_grounding",
        "dataset": "AGIQA-3K test split (split_by_group over prompts, test 0.2, val 0.1, seed 0)",
        "n_test_images": int(len(test)),
        "limit": args.limit,
        "aligned_cut_mos_align": align_cut,
        "thresholds": {
            "warm": WARM_THRESHOLD,
            "cool": COOL_THRESHOLD,
            "abstract": ABSTRACT_THRESHOLD,
            "realistic": REALISTIC_THRESHOLD,
            "sharpness_train_median": sharp_median,
            "contrast_train_median": contrast_median,
        },
        "results": results,
        "measure_ms_per_image": 1000 * measure_s / max(1, len(test)),
        "command": "python benchmarks/critique_grounding.py"
        + (f" --limit {args.limit}" if args.limit else ""),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
