"""Calibrate the shipped default's error interval on data it did not fit, and write it into its card.

    nice -n 10 python scripts/calibrate_default.py     # what the shipped cards hold

The default was trained on AGIQA-3K's train split with val for early stopping, so its own
residuals are honest only on val (239 images, ~30 prompts: too few prompts for a stable
quantile). This script adds cross-validated residuals on train: the shipped recipe (the
card's config) is retrained K times (folds grouped by prompt over train, val kept for early
stopping as in the shipped run) and each fold's model scores the train rows it did not see.
The shipped card uses the first 2 of 5 folds (``--max-folds``, default 2: one retraining took
8-12 min on 2 busy cores; each fold's predictions are cached in ``.cache/calibration``, so a
rerun takes about a minute with the features cached).
The calibration rows are val (shipped model) plus train (out-of-fold); the test split is
never used to fit anything.

Two error scales are compared on the calibration rows by repeated random halves over
prompts (calibrate on one half, measure on the other): ``constant`` and ``opinion_std`` (the
predicted distribution's std, which is wider where the ensemble's members disagree). The
per-input scale is kept only if it narrows the mean interval by at least ``--min-gain`` at
the same coverage. Coverage and mean width are then measured on the test split (held out:
neither fitted nor calibrated on) and written with the calibration into the card's
``calibration`` block (docs/embedded-model.md); the folder is re-sealed. Scores do not move.

The prompt-consistency score (``models.consistency``, fitted on train ``mos_align``) is
calibrated the same way with a constant scale on val, the only rows whose inputs are honest
at inference (its quality input, the shipped score, has seen the train images); its coverage
is measured on test and the block goes into ``weights/consistency/card.json`` (``--part``).
Reference consistency has no human target to calibrate against: it gets no interval.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = REPO / "src" / "artjudge" / "weights" / "default"
CONSISTENCY_FOLDER = REPO / "src" / "artjudge" / "weights" / "consistency"
#: Each fold's out-of-fold predictions, kept so that a rerun (another level, --dry-run first) skips the retraining.
OOF_CACHE = REPO / ".cache" / "calibration"
SCALES = ("constant", "opinion_std")


@dataclass
class Predictions:
    """One model's overall score and predicted std per row, with the rows' true scores and prompts."""

    score: np.ndarray
    std: np.ndarray
    y: np.ndarray
    prompt: np.ndarray

    def take(self, idx: np.ndarray) -> Predictions:
        return Predictions(self.score[idx], self.std[idx], self.y[idx], self.prompt[idx])

    @staticmethod
    def concat(parts: list[Predictions]) -> Predictions:
        return Predictions(
            *(np.concatenate([getattr(p, k) for p in parts]) for k in ("score", "std", "y", "prompt"))
        )

    def scale(self, kind: str) -> np.ndarray:
        return np.ones_like(self.score) if kind == "constant" else np.maximum(self.std, 1e-6)


def score_rows(model: str, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Overall score and std of each path through the public API (features from the cache)."""
    import artjudge
    from artjudge.record import Assessment

    scorer = artjudge.load(model, cache=True)
    recs = scorer.assess_many(paths, batch_size=32, progress=True)
    by = {r.input: r.overall for r in recs if isinstance(r, Assessment)}
    return np.array([by[p].score for p in paths]), np.array([by[p].std for p in paths])


def cv_train_predictions(
    manifest: Any, card: dict[str, Any], folds: int, seed: int, max_folds: int | None = None
) -> Predictions:
    """Out-of-fold predictions on train: the shipped recipe retrained without each fold (grouped by prompt).

    Each fold's predictions are cached under ``.cache/calibration`` keyed by the card's weights
    digest, the fold and the seed, so only a changed model retrains. ``max_folds`` retrains only
    the first few folds (their rows are still held out from their models; on 2 busy CPU cores one
    retraining takes minutes).
    """
    from sklearn.model_selection import GroupKFold

    from artjudge.data.manifest import Manifest
    from artjudge.train.head import HeadTrainConfig, train_head

    df = manifest.frame
    train = np.flatnonzero(df["split"].to_numpy() == "train")
    prompts = df["prompt"].astype(str).to_numpy()
    config = HeadTrainConfig.from_dict(card["config"])
    parts = []
    splitter = GroupKFold(folds, shuffle=True, random_state=seed)
    for k, (_, held) in enumerate(splitter.split(train, groups=prompts[train])):
        if max_folds and k >= max_folds:
            break
        rows = train[held]
        cached = OOF_CACHE / f"{str(card.get('sha256', ''))[:12]}-k{folds}-s{seed}-fold{k}.npz"
        if cached.is_file():
            with np.load(cached) as c:
                if np.array_equal(c["rows"], rows):
                    parts.append(
                        Predictions(
                            c["score"], c["std"], df["score"].to_numpy(dtype=float)[rows], prompts[rows]
                        )
                    )
                    continue
        sub = Manifest(
            frame=df.drop(index=df.index[rows]).reset_index(drop=True),
            name=manifest.name,
            scale=manifest.scale,
            attributes=list(manifest.attributes),
            images_root=manifest.images_root,
            source=manifest.source,
        )
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"fold{k}"
            t0 = time.perf_counter()
            train_head(sub, config, out, log=lambda s: None)
            paths = df["path"].astype(str).to_numpy()[rows].tolist()
            score, std = score_rows(str(out), paths)
            print(f"fold {k + 1}/{folds}: {len(rows)} held-out train rows, {time.perf_counter() - t0:.0f} s")
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, rows=rows, score=score, std=std)
        parts.append(Predictions(score, std, df["score"].to_numpy(dtype=float)[rows], prompts[rows]))
    return Predictions.concat(parts)


def halves_width(cal: Predictions, kind: str, level: float, repeats: int, seed: int) -> tuple[float, float]:
    """Mean coverage and width on one half of the prompts when calibrated on the other half."""
    from artjudge.scoring.intervals import conformal_quantile

    rng = np.random.default_rng(seed)
    groups = np.unique(cal.prompt)
    r, s = np.abs(cal.y - cal.score), cal.scale(kind)
    covs, widths = [], []
    for _ in range(repeats):
        a = np.isin(cal.prompt, rng.permutation(groups)[: len(groups) // 2])
        q = conformal_quantile(r[a] / s[a], level)
        covs.append(float(np.mean(r[~a] <= q * s[~a])))
        widths.append(float(np.mean(2 * q * s[~a])))
    return float(np.mean(covs)), float(np.mean(widths))


def held_out_figures(pred: Predictions, q: float, kind: str) -> tuple[float, float, float]:
    """Coverage, mean width (clipped to 0-100, as records show it) and the oracle width on ``pred``."""
    from artjudge.scoring.intervals import coverage, interval, oracle_width

    ends = np.array(
        [interval(float(sc), q, float(s)) for sc, s in zip(pred.score, pred.scale(kind), strict=True)]
    )
    return (
        coverage(pred.y, ends[:, 0], ends[:, 1]),
        float(np.mean(ends[:, 1] - ends[:, 0])),
        oracle_width(pred.y, pred.score),
    )


def write_block(folder: Path, block: dict[str, Any], dry_run: bool) -> None:
    """Put ``block`` into the folder's card as ``calibration`` and re-seal the folder (last step)."""
    from artjudge.io.files import atomic_write_text
    from artjudge.models.weights import read_card, seal_folder

    print(json.dumps(block, indent=2))
    if dry_run:
        return
    card = read_card(folder)
    card["calibration"] = block
    atomic_write_text(folder / "card.json", json.dumps(card, indent=2) + "\n")
    seal_folder(folder)
    print(f"wrote the calibration into {folder / 'card.json'} and re-sealed the folder")


def calibrate_consistency(manifest: Any, level: float, dry_run: bool) -> None:
    """Prompt consistency: constant-width conformal interval from val residuals, coverage on test."""
    import artjudge
    from artjudge.record import Assessment
    from artjudge.scoring.intervals import IntervalCalibration, conformal_quantile

    df = manifest.frame
    split = df["split"].to_numpy()
    rows = np.flatnonzero(split != "train")
    paths = df["path"].astype(str).to_numpy()[rows].tolist()
    prompts = df["prompt"].astype(str).to_numpy()[rows].tolist()
    recs = artjudge.load("default", cache=True).assess_many(
        paths, prompts=prompts, batch_size=32, progress=True
    )
    by = {r.input: r.consistency.score for r in recs if isinstance(r, Assessment) and r.consistency}
    pred = Predictions(
        np.array([by[p] for p in paths]),
        np.zeros(len(rows)),
        df["attr.alignment"].to_numpy(dtype=float)[rows],
        np.array(prompts),
    )
    val, test = (
        pred.take(np.flatnonzero(split[rows] == "val")),
        pred.take(np.flatnonzero(split[rows] == "test")),
    )
    q = conformal_quantile(np.abs(val.y - val.score), level)
    cov, width, oracle = held_out_figures(test, q, "constant")
    head = IntervalCalibration(
        q=round(q, 6), level=level, coverage=round(cov, 4), mean_width=round(width, 3), n=len(val.y)
    )
    block = {
        "level": level,
        "method": f"split conformal on |mos_align x 20 - score| over AGIQA-3K val ({len(val.y)} images; the "
        "ridge was fitted on train, and at inference its quality input has not seen val); coverage and "
        f"mean_width measured on the test split ({len(test.y)} images; the narrowest constant interval "
        f"covering {level:.0%} there is {oracle:.2f} wide). Reference consistency: no human target, no interval",
        "heads": {"prompt": head.to_dict()},
    }
    print(
        f"consistency test: coverage {cov:.3f}, mean width {width:.2f} = {width / oracle:.2f} x oracle {oracle:.2f}"
    )
    write_block(CONSISTENCY_FOLDER, block, dry_run)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "agiqa-3k")
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="the model folder to calibrate")
    ap.add_argument("--folds", type=int, default=5, help="CV folds over train (0: val only)")
    ap.add_argument("--max-folds", type=int, default=2, help="retrain only the first N of the folds (0: all)")
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument(
        "--min-gain", type=float, default=0.02, help="keep a per-input scale only if this much narrower"
    )
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dry-run", action="store_true", help="print the block, leave the card as it is")
    ap.add_argument("--part", choices=("both", "default", "consistency"), default="both")
    args = ap.parse_args(argv)

    from artjudge.data import read_dataset

    manifest = read_dataset("agiqa-3k", args.data)
    if args.part != "default":
        calibrate_consistency(manifest, args.level, args.dry_run)
    if args.part != "consistency":
        calibrate_default(manifest, args)
    return 0


def calibrate_default(manifest: Any, args: argparse.Namespace) -> None:
    """The default's overall: conformal interval from val + out-of-fold train residuals (module docstring)."""
    from artjudge.models.weights import read_card
    from artjudge.scoring.intervals import IntervalCalibration, conformal_quantile

    df = manifest.frame
    split = df["split"].to_numpy()
    card = read_card(args.folder)
    paths = df["path"].astype(str).tolist()
    score, std = score_rows(str(args.folder), paths)
    shipped = Predictions(score, std, df["score"].to_numpy(dtype=float), df["prompt"].astype(str).to_numpy())
    parts = [shipped.take(np.flatnonzero(split == "val"))]
    if args.folds:
        parts.append(cv_train_predictions(manifest, card, args.folds, args.seed, args.max_folds))
    cal = Predictions.concat(parts)
    test = shipped.take(np.flatnonzero(split == "test"))

    trial = {k: halves_width(cal, k, args.level, args.repeats, args.seed) for k in SCALES}
    for k, (cov, width) in trial.items():
        print(f"scale {k}: coverage {cov:.3f}, mean width {width:.2f} (halves of the calibration prompts)")
    gain = 1.0 - trial["opinion_std"][1] / trial["constant"][1]
    kind = "opinion_std" if gain >= args.min_gain else "constant"
    q = conformal_quantile(np.abs(cal.y - cal.score) / cal.scale(kind), args.level)
    cov, width, oracle = held_out_figures(test, q, kind)
    head = IntervalCalibration(
        q=round(q, 6),
        scale=kind,
        level=args.level,
        coverage=round(cov, 4),
        mean_width=round(width, 3),
        n=len(cal.y),
    )
    used = min(args.folds, args.max_folds) if args.max_folds else args.folds
    n_val = int((split == "val").sum())
    what = f"val ({n_val}, the shipped model)" + (
        f" + out-of-fold train ({used} of {args.folds} folds grouped by prompt, {len(cal.y) - n_val} rows, "
        "the shipped recipe retrained without each)"
        if args.folds
        else ""
    )
    block = {
        "level": args.level,
        "method": f"split conformal on |y - score| / scale over {what}; scale chosen on halves of those "
        f"prompts ({', '.join(f'{k}: width {w:.2f}' for k, (_, w) in trial.items())}); coverage and "
        f"mean_width measured on the test split ({len(test.y)} images, never fitted or calibrated on; "
        f"the narrowest constant interval covering {args.level:.0%} there is {oracle:.2f} wide)",
        "heads": {"overall": head.to_dict()},
    }
    print(
        f"test: coverage {cov:.3f}, mean width {width:.2f} = {width / oracle:.2f} x oracle width {oracle:.2f}"
    )
    write_block(args.folder, block, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
