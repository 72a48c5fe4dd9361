"""Benchmark reports: any scorer's predictions against any manifest split.

``evaluate`` lines predictions up with a manifest split and computes every metric from
``artjudge.eval.metrics`` (SRCC, PLCC raw and logistic, KRCC, MSE, MAE, ACC, bootstrap CIs),
per category when the manifest has categories, per attribute when attribute predictions
are given, and distribution metrics (KL, JS, EMD) when the dataset has rating
distributions and the scorer gives 101-bin distributions. ``EvalReport.save`` writes the
JSON, a scatter plot with the fitted logistic curve and a per-category bar chart.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.data.manifest import ATTR_PREFIX, Manifest
from artjudge.errors import InputError
from artjudge.eval import metrics
from artjudge.io.files import atomic_path, dumps_strict
from artjudge.io.files import atomic_write_text as _atomic_text
from artjudge.record import Assessment, Failure

REPORT_VERSION = "1"


@dataclass
class EvalReport:
    """Everything one evaluation measured; ``to_dict`` is the JSON written to report.json."""

    dataset: str
    split: str
    n: int
    n_unscored: int
    overall: metrics.MetricReport
    scale: tuple[float, float]
    model: dict[str, str] = field(default_factory=dict)
    per_category: dict[str, metrics.MetricReport] = field(default_factory=dict)
    per_attribute: dict[str, metrics.MetricReport] = field(default_factory=dict)
    distribution: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)
    pred: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    target: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    image_ids: list[str] = field(default_factory=list, repr=False)
    categories: list[str | None] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "report_version": REPORT_VERSION,
                "dataset": self.dataset,
                "split": self.split,
                "model": self.model,
                "n": self.n,
                "n_unscored": self.n_unscored,
                "dataset_scale": list(self.scale),
                "overall": self.overall.to_dict(),
                "per_category": {k: v.to_dict() for k, v in self.per_category.items()},
                "per_attribute": {k: v.to_dict() for k, v in self.per_attribute.items()},
                "distribution": self.distribution,
                "notes": self.notes,
            }
        )

    def format_table(self) -> str:
        title = f"{self.dataset} / {self.split}" + (f" / {self.model.get('id', '')}" if self.model else "")
        lines = [self.overall.format_table(title)]
        if self.n_unscored:
            lines.append(f"({self.n_unscored} rows of the split were not scored: missing image or failure)")
        if self.distribution:
            lines.append("distribution: " + ", ".join(f"{k}={v:.4f}" for k, v in self.distribution.items()))
        if self.per_category:
            lines.append("")
            lines.append(f"{'category':<44}{'n':>6}{'SRCC':>9}{'PLCC':>9}")
            for cat, r in self.per_category.items():
                lines.append(f"{cat[:43]:<44}{r.n:>6}{r.srcc.value:>9.4f}{r.plcc.value:>9.4f}")
        if self.per_attribute:
            lines.append("")
            lines.append(f"{'attribute':<28}{'n':>6}{'SRCC':>9}  {'95% CI':<18}{'PLCC':>9}")
            for key, r in self.per_attribute.items():
                ci = "" if math.isnan(r.srcc.lo) else f"[{r.srcc.lo:.3f}, {r.srcc.hi:.3f}]"
                lines.append(f"{key:<28}{r.n:>6}{r.srcc.value:>9.4f}  {ci:<18}{r.plcc.value:>9.4f}")
        return "\n".join(lines)

    def save(self, out_dir: str | os.PathLike[str], *, plots: bool = True) -> dict[str, Path]:
        """Write report.json, predictions.csv, scatter.png and (with categories) categories.png."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        written["json"] = _atomic_text(out / "report.json", dumps_strict(self.to_dict(), indent=2))
        table = pd.DataFrame({"image_id": self.image_ids, "human": self.target, "predicted": self.pred})
        if any(c is not None for c in self.categories):
            table["category"] = self.categories
        written["predictions"] = _atomic_text(out / "predictions.csv", table.to_csv(index=False))
        if plots:
            written["scatter"] = scatter_plot(
                self.pred,
                self.target,
                out / "scatter.png",
                title=f"{self.dataset} {self.split}: n={self.n}, "
                f"SRCC {self.overall.srcc.value:.3f}, "
                f"PLCC {self.overall.plcc.value:.3f}",
            )
            if self.per_category:
                written["categories"] = category_plot(
                    self.per_category,
                    out / "categories.png",
                    title=f"{self.dataset} {self.split}: SRCC per category",
                )
        return written


# ------------------------------------------------------------------ predictions


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(w) for w in v]
    if isinstance(v, np.generic):
        return _clean(v.item())
    return v


@dataclass
class Predictions:
    """Predictions lined up with a split's rows (NaN where a row was not scored)."""

    score: np.ndarray
    distribution: np.ndarray | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)


def align_predictions(predictions: Any, frame: pd.DataFrame) -> Predictions:
    """Line predictions up with ``frame``'s rows.

    Accepts: an array / list of numbers in row order; a mapping (or pandas Series) from
    image id, label-file path or resolved path to a score; or Assessment / Failure
    records, in row order or identified by their ``input`` (the path that was scored).
    """
    n = len(frame)
    keys_to_row: dict[str, int] = {}
    for col in ("path", "rel_path", "image_id"):
        for i, k in enumerate(frame[col].astype(str)):
            keys_to_row.setdefault(k, i)
    if isinstance(predictions, pd.Series):
        predictions = predictions.to_dict()
    if isinstance(predictions, Mapping):
        score = np.full(n, np.nan)
        unknown = [k for k in predictions if str(k) not in keys_to_row]
        if len(unknown) == len(predictions):
            raise InputError(
                "predictions",
                f"none of the {len(predictions)} keys match an image of the split "
                f"(e.g. {next(iter(predictions), '')!r})",
            )
        for k, v in predictions.items():
            row = keys_to_row.get(str(k))
            if row is not None:
                score[row] = float(v)
        return Predictions(score)
    items = list(predictions)
    if items and all(isinstance(x, (Assessment, Failure)) for x in items):
        return _from_records(items, frame, keys_to_row)
    arr = np.asarray(items, dtype=np.float64).ravel()
    if arr.size != n:
        raise InputError("predictions", f"{arr.size} predictions for {n} rows of the split")
    return Predictions(arr)


def _from_records(
    items: Sequence[Assessment | Failure], frame: pd.DataFrame, keys_to_row: dict[str, int]
) -> Predictions:
    n = len(frame)
    by_input = all(str(x.input) in keys_to_row for x in items)
    if not by_input and len(items) != n:
        raise InputError(
            "predictions", f"{len(items)} records for {n} rows, and their inputs do not name rows"
        )
    score = np.full(n, np.nan)
    dists: list[np.ndarray | None] = [None] * n
    attrs: dict[str, np.ndarray] = {}
    for pos, rec in enumerate(items):
        i = keys_to_row[str(rec.input)] if by_input else pos
        if isinstance(rec, Failure):
            continue
        score[i] = rec.overall.score
        if rec.overall.distribution and len(rec.overall.distribution) == 101:
            dists[i] = np.asarray(rec.overall.distribution, dtype=np.float64)
        for key, sd in rec.attributes.items():
            attrs.setdefault(key, np.full(n, np.nan))[i] = sd.score
    dist = None
    if any(d is not None for d in dists):
        dist = np.full((n, 101), np.nan)
        for i, d in enumerate(dists):
            if d is not None:
                dist[i] = d / d.sum()
    return Predictions(score, dist, attrs)


# ------------------------------------------------------------------ evaluate


def _per_category(
    frame: pd.DataFrame,
    pred: np.ndarray,
    target: np.ndarray,
    ok: np.ndarray,
    scale: tuple[float, float],
    min_category: int,
    boot: tuple[int, int],
    notes: list[str],
) -> tuple[list[str | None], dict[str, metrics.MetricReport]]:
    """Each row's category and the metrics of every category with ``min_category`` scored rows."""
    cats: list[str | None] = [None] * len(frame)
    per_cat: dict[str, metrics.MetricReport] = {}
    if "category" not in frame.columns or not frame["category"].notna().any():
        return cats, per_cat
    cats = [
        None if (c is None or (isinstance(c, float) and math.isnan(c))) else str(c) for c in frame["category"]
    ]
    cat_arr = np.asarray([c if c is not None else "(none)" for c in cats], dtype=object)
    for cat in sorted(set(cat_arr[ok])):
        m = ok & (cat_arr == cat)
        if m.sum() < min_category:
            notes.append(f"category {cat!r}: {int(m.sum())} scored rows (< {min_category}), not reported")
            continue
        try:
            per_cat[cat] = metrics.report(pred[m], target[m], bootstrap=boot[0], seed=boot[1], scale=scale)
        except metrics.MetricInputError as err:
            notes.append(f"category {cat!r}: {err}")
    return cats, per_cat


def _per_attribute(
    frame: pd.DataFrame,
    attributes: Mapping[str, np.ndarray],
    manifest: Manifest,
    boot: tuple[int, int],
    notes: list[str],
) -> dict[str, metrics.MetricReport]:
    """The metrics of each predicted attribute the dataset has human scores for."""
    per_attr: dict[str, metrics.MetricReport] = {}
    for key, vals in attributes.items():
        col = ATTR_PREFIX + key
        if col not in frame.columns:
            notes.append(f"attribute {key!r}: the dataset has no human scores for it")
            continue
        t = frame[col].to_numpy(dtype=np.float64)
        m = np.isfinite(vals) & np.isfinite(t)
        if m.sum() >= 2:
            lo, hi = manifest.attribute_scales.get(key, manifest.scale)
            per_attr[key] = metrics.report(vals[m], t[m], bootstrap=boot[0], seed=boot[1], scale=(lo, hi))
    return per_attr


def _distribution_metrics(
    manifest: Manifest, split: str, distribution: np.ndarray, ok: np.ndarray, notes: list[str]
) -> dict[str, float] | None:
    """KL, JS and EMD between the predicted and the raters' score distributions, where both exist."""
    targets = manifest.select(split).target_distributions()
    if targets is None:
        notes.append("distribution metrics skipped: the dataset has no rating distributions")
        return None
    m = ok & np.all(np.isfinite(distribution), axis=1)
    if m.sum() < 1:
        return None
    p, q = targets[m], distribution[m]
    return {
        "kl": float(metrics.kl_div(p, q)),
        "js": float(metrics.js_div(p, q)),
        "emd": float(metrics.emd(p, q)),
        "n": float(m.sum()),
    }


def evaluate(
    predictions: Any,
    manifest: Manifest,
    split: str = "test",
    *,
    distributions: np.ndarray | None = None,
    attribute_predictions: Mapping[str, Any] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    min_category: int = 5,
    model: Mapping[str, str] | None = None,
) -> EvalReport:
    """Score predictions (0-100) against the human scores of one manifest split.

    Rows without a prediction (image missing, scoring failed) are left out and counted
    in ``n_unscored``. ACC rounds on the dataset's own scale (``manifest.scale``).
    """
    frame = manifest.split_frame(split)
    preds = align_predictions(predictions, frame)
    if distributions is not None:
        d = np.asarray(distributions, dtype=np.float64)
        if d.shape != (len(frame), 101):
            raise InputError("distributions", f"need shape ({len(frame)}, 101), got {d.shape}")
        preds.distribution = d
    for key, vals in (attribute_predictions or {}).items():
        preds.attributes[key] = align_predictions(vals, frame).score
    ok = np.isfinite(preds.score)
    if ok.sum() < 2:
        raise InputError(
            manifest.source or manifest.name,
            f"split {split!r}: {int(ok.sum())} of {len(frame)} rows have a prediction; need at least 2",
        )
    target = frame["score"].to_numpy(dtype=np.float64)
    pred = preds.score
    overall = metrics.report(pred[ok], target[ok], bootstrap=bootstrap, seed=seed, scale=manifest.scale)
    notes: list[str] = []
    boot = (bootstrap, seed)
    cats, per_cat = _per_category(frame, pred, target, ok, manifest.scale, min_category, boot, notes)
    per_attr = _per_attribute(frame, preds.attributes, manifest, boot, notes)
    dist_metrics = None
    if preds.distribution is not None:
        dist_metrics = _distribution_metrics(manifest, split, preds.distribution, ok, notes)
    return EvalReport(
        dataset=manifest.name,
        split=split,
        n=int(ok.sum()),
        n_unscored=int((~ok).sum()),
        overall=overall,
        scale=manifest.scale,
        model=dict(model or {}),
        per_category=per_cat,
        per_attribute=per_attr,
        distribution=dist_metrics,
        notes=notes,
        pred=pred[ok],
        target=target[ok],
        image_ids=frame["image_id"].astype(str)[ok].tolist(),
        categories=[c for c, k in zip(cats, ok, strict=True) if k],
    )


# ------------------------------------------------------------------ plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_plot(pred: np.ndarray, target: np.ndarray, path: Path, *, title: str = "") -> Path:
    """Prediction vs human score, with the fitted 4-parameter logistic curve."""
    plt = _pyplot()
    fit = metrics.plcc_logistic(pred, target)
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    ax.scatter(pred, target, s=9, alpha=0.55, edgecolors="none", label="images")
    xs = np.linspace(float(np.min(pred)), float(np.max(pred)), 200)
    ax.plot(
        xs,
        fit.predict(xs),
        color="crimson",
        lw=2,
        label="logistic fit" if fit.fitted else "linear fit (logistic did not converge)",
    )
    ax.set_xlabel("predicted score (0-100)")
    ax.set_ylabel("human score (0-100)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    _save_fig(fig, path)
    plt.close(fig)
    return path


def category_plot(per_category: Mapping[str, metrics.MetricReport], path: Path, *, title: str = "") -> Path:
    """SRCC per category, with its bootstrap interval as an error bar."""
    plt = _pyplot()
    names = list(per_category)
    vals = np.array([per_category[c].srcc.value for c in names])
    lo = np.array([per_category[c].srcc.lo for c in names])
    hi = np.array([per_category[c].srcc.hi for c in names])
    err = np.vstack([np.nan_to_num(vals - lo), np.nan_to_num(hi - vals)])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(names) + 2), 4.5), dpi=120)
    ax.bar(range(len(names)), vals, yerr=err, capsize=3, color="steelblue")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n[:28] for n in names], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("SRCC")
    ax.set_ylim(min(0.0, float(np.nanmin(vals)) - 0.05) if len(vals) else 0, 1.0)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save_fig(fig, path)
    plt.close(fig)
    return path


def _save_fig(fig: Any, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")


# ------------------------------------------------------------------ cross-dataset table


@dataclass
class Skipped:
    """A dataset left out of a cross-dataset run, and why."""

    dataset: str
    reason: str


def markdown_table(results: Sequence[EvalReport | Skipped], *, model: str = "") -> str:
    """One Markdown table over datasets: SRCC / PLCC with CIs, KRCC, MAE, ACC, n."""
    lines = [
        f"# Cross-dataset evaluation{f' of {model}' if model else ''}",
        "",
        "| dataset | split | n | SRCC [95% CI] | PLCC [95% CI] | PLCC (logistic) | KRCC | MAE | ACC |",
        "|---|---|---:|---|---|---:|---:|---:|---:|",
    ]

    def ci(v: metrics.MetricValue) -> str:
        return f"{v.value:.3f}" + ("" if math.isnan(v.lo) else f" [{v.lo:.3f}, {v.hi:.3f}]")

    for r in results:
        if isinstance(r, Skipped):
            continue
        o = r.overall
        lines.append(
            f"| {r.dataset} | {r.split} | {r.n} | {ci(o.srcc)} | {ci(o.plcc)} | "
            f"{o.plcc_logistic.value:.3f} | {o.krcc.value:.3f} | {o.mae.value:.2f} | {o.acc.value:.3f} |"
        )
    skipped = [r for r in results if isinstance(r, Skipped)]
    if skipped:
        lines += ["", "Skipped:", ""]
        lines += [f"- {s.dataset}: {s.reason}" for s in skipped]
    return "\n".join(lines) + "\n"


def load_predictions_file(path: str | os.PathLike[str]) -> Any:
    """Predictions saved earlier: Assessment JSONL (``artjudge assess --format jsonl``) or
    a CSV with ``image_id`` (or ``input`` / ``path``) and ``score`` columns."""
    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), "predictions file not found")
    if p.suffix.lower() in (".jsonl", ".json"):
        from artjudge.data._io import read_json_records

        recs = read_json_records(p, str(p))
        out: list[Assessment | Failure] = []
        for n, r in enumerate(recs, start=1):
            try:
                out.append(
                    Failure(r["input"], r["error"])
                    if "error" in r and "overall" not in r
                    else Assessment.from_dict(r)
                )
            except (KeyError, TypeError) as err:
                raise InputError(str(p), f"line {n}: not an Assessment record ({err})") from None
        return out
    from artjudge.data._io import read_csv

    df = read_csv(p, str(p))
    key = next((c for c in ("image_id", "input", "path", "image") if c in df.columns), None)
    sc = next((c for c in ("score", "predicted", "prediction") if c in df.columns), None)
    if key is None or sc is None:
        raise InputError(
            str(p), "needs an image column (image_id/input/path) and a score column (score/predicted)"
        )
    return dict(zip(df[key].astype(str), pd.to_numeric(df[sc], errors="coerce"), strict=True))
