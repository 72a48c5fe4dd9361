"""Build the reference ranges shipped with the evidence measures.

Run ``python scripts/build_evidence_reference.py [--data ../shared/data/agiqa-3k]``:
it measures every AGIQA-3K *training* image (split by prompt with
``split_by_group(test_fraction=0.2, val_fraction=0.1, seed=0)``, the split the scorer
uses), stores the percentiles p1..p99 of each measure, and fits the small logistic model
behind the ``abstraction`` measure (training images whose prompt says 'abstract style'
against 'realistic style'). The result is a few KB of JSON next to this module; test
images never enter it, so the grounding benchmark on the test split stays honest.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.io.files import atomic_write_json

PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
ABSTRACTION_FEATURES = (
    "colourfulness",
    "saturation_mean",
    "saturation_std",
    "brightness_mean",
    "brightness_std",
    "contrast_rms",
    "contrast_michelson",
    "palette",
    "hue_harmony",
    "warmth",
    "sharpness",
    "noise",
    "edge_density",
    "texture",
    "saliency_thirds",
    "saliency_centre",
    "subject_focus",
    "balance",
    "symmetry",
    "negative_space",
)


def load_agiqa(data_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of AGIQA-3K's data.csv with their split (by prompt, seed 0)."""
    import pandas as pd

    from artjudge.data.splits import split_by_group

    df = pd.read_csv(data_dir / "data.csv")
    splits = split_by_group(df["prompt"].astype(str).tolist(), test_fraction=0.2, val_fraction=0.1, seed=0)
    rows = df.fillna("").to_dict("records")
    return rows, splits


def measure_rows(data_dir: Path, rows: list[dict[str, Any]], progress: bool = True) -> list[dict[str, float]]:
    from PIL import Image
    from tqdm import tqdm

    from artjudge.features.evidence import raw_measures

    out = []
    for row in tqdm(rows, desc="measuring", disable=not progress):
        with Image.open(data_dir / "images" / row["name"]) as im:
            im.load()
            out.append(raw_measures(im)[0])
    return out


def fit_abstraction(values: list[dict[str, float]], styles: list[str]) -> dict[str, Any]:
    """Standardised logistic regression, abstract (1) vs realistic (0), on training rows only."""
    from sklearn.linear_model import LogisticRegression

    idx = [i for i, s in enumerate(styles) if s in ("abstract style", "realistic style")]
    x = np.array([[values[i][f] for f in ABSTRACTION_FEATURES] for i in idx])
    y = np.array([1 if styles[i] == "abstract style" else 0 for i in idx])
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-9
    clf = LogisticRegression(C=0.5, max_iter=2000).fit((x - mean) / scale, y)
    return {
        "features": list(ABSTRACTION_FEATURES),
        "mean": [float(v) for v in mean],
        "scale": [float(v) for v in scale],
        "coef": [float(v) for v in clf.coef_[0]],
        "intercept": float(clf.intercept_[0]),
        "n_abstract": int(y.sum()),
        "n_realistic": int(len(y) - y.sum()),
        "train_accuracy": float(clf.score((x - mean) / scale, y)),
    }


def build(data_dir: Path, progress: bool = True) -> dict[str, Any]:
    rows, splits = load_agiqa(data_dir)
    train = [r for r, s in zip(rows, splits, strict=True) if s == "train"]
    values = measure_rows(data_dir, train, progress=progress)
    ref: dict[str, Any] = {
        "_source": {
            "dataset": "AGIQA-3K",
            "split": "train (split_by_group over prompts, test 0.2, val 0.1, seed 0)",
            "n_images": len(train),
            "made": datetime.now(UTC).strftime("%Y-%m-%d"),
            "command": "python scripts/build_evidence_reference.py",
        }
    }
    for key in values[0]:
        if key in ("image_size", "transparency"):
            continue
        col = np.array([v[key] for v in values])
        ref[key] = {f"p{p}": round(float(np.percentile(col, p)), 6) for p in PERCENTILES}
    model = fit_abstraction(values, [str(r["style"]) for r in train])
    ref["_abstraction_model"] = model
    # Percentiles of the abstraction probability itself, so it gets a qualifier like the rest.
    from artjudge.features.evidence import _abstraction

    probs = np.array([_abstraction(v, model) for v in values], dtype=float)
    ref["abstraction"] = {f"p{p}": round(float(np.percentile(probs, p)), 6) for p in PERCENTILES}
    return ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/agiqa-3k"))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1]
        / "src"
        / "artjudge"
        / "features"
        / "evidence_reference.json",
    )
    args = parser.parse_args(argv)
    ref = build(args.data)
    atomic_write_json(args.out, ref, indent=1)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {ref['_source']['n_images']} images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
