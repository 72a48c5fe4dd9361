"""rubric.json and exemplars.npy: what the rubric critique may say about a trained rubric model.

The critique advises only from relations that are robust in the user's own grades, so the
tests happen here, at training time, where the folds are: every evidence x attribute pair
is tested (Spearman over the graded works), the p-values are controlled together
(Benjamini-Hochberg, so looking at 24 measures x 9 attributes does not turn chance into
advice), and a relation is kept only when it also holds on the held-out works of most
cross-validation folds. Properties of the file (pixel size, transparency) are never tested.
The graded works are stored with their out-of-fold predicted scores (what a new work's
standing is ranked against), paths relative to the grades file, and the similarity floor an
exemplar must reach, calibrated on the graded works themselves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.io import LoadedImage, load_image
from artjudge.io.files import atomic_write_bytes, atomic_write_json

EXPLAINERS = 5
RUBRIC_VERSION = 2  # 2: robust explainers, predicted standings, relative paths, similarity floor


def evidence_values(
    paths: Sequence[str | LoadedImage], cache_dir: Path | None = None
) -> list[dict[str, float]]:
    """Measured evidence (``artjudge.features.evidence.measure``) per image, valid values only.

    Measuring takes a few tens of milliseconds an image, so values are cached by content hash beside the features.
    An item may be an image training already decoded (``artjudge.train.encode``): the
    evidence is then measured on that same copy, the one scoring would see, with no second decode.
    """
    from artjudge.features.cache import FeatureCache
    from artjudge.features.evidence import DESCRIPTIONS, valid_values

    keys = sorted(DESCRIPTIONS)
    cache = FeatureCache(cache_dir, encoder_key="evidence-v1")
    out: list[dict[str, float]] = []
    for path in paths:
        loaded = path if isinstance(path, LoadedImage) else load_image(path)
        hit = cache.get(loaded.sha256)
        if hit is None or list(hit["keys"]) != keys:
            ev = valid_values(loaded.image)
            vals = np.array([ev.get(k, np.nan) for k in keys], dtype=np.float64)
            cache.put(loaded.sha256, {"keys": np.array(keys), "values": vals})
        else:
            vals = hit["values"]
        out.append({k: float(v) for k, v in zip(keys, vals, strict=True) if np.isfinite(v)})
    return out


# Evidence that describes the file, not the work: which phone photographed a class or how an
# image was saved must never be cited as a reason for a grade.
NOT_THE_WORK = frozenset({"image_size", "transparency"})
FDR = 0.05  # Benjamini-Hochberg false discovery rate over every evidence x attribute pair
MIN_FOLD_RHO = 0.1  # a fold "holds" a relation when its held-out Spearman has the sign and at least this size
MIN_FOLDS_HELD = 0.8  # ... in at least this share of the folds (4 of 5)
MIN_FOLD_ROWS = 5  # a fold with fewer labelled held-out works cannot hold or break a relation
SIMILARITY_QUANTILE = 0.95  # exemplar floor: the similarity a random graded pair exceeds 5% of the time
EXPLAINER_RULE = (
    f"cited only when the Spearman correlation over all graded works survives Benjamini-Hochberg "
    f"control at q <= {FDR} over every evidence x attribute pair, and has the same sign with "
    f"|rho| >= {MIN_FOLD_RHO} on the held-out works of at least {MIN_FOLDS_HELD:.0%} of the "
    f"cross-validation folds; file properties ({', '.join(sorted(NOT_THE_WORK))}) are never tested"
)


@dataclass(frozen=True)
class Relation:
    """One evidence x attribute relation in the graded works, with the tests it faced."""

    evidence: str
    target: str
    spearman: float
    p: float
    n: int
    folds_held: int
    folds: int
    q: float = 1.0

    @property
    def robust(self) -> bool:
        """Survives the multiple-comparison control and holds in enough held-out folds."""
        return (
            self.q <= FDR
            and self.folds >= 2
            and self.folds_held >= math.ceil(MIN_FOLDS_HELD * self.folds - 1e-9)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "evidence": self.evidence,
            "spearman": round(self.spearman, 4),
            "n": self.n,
            "q": float(f"{self.q:.3g}"),
            "folds_held": self.folds_held,
            "folds": self.folds,
        }


def _fold_agreement(
    v: np.ndarray, y: np.ndarray, sign: float, folds: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[int, int]:
    """(folds whose held-out works show the relation, folds with enough works to tell)."""
    from scipy.stats import spearmanr

    held = counted = 0
    for _, te in folds:
        m = np.isfinite(v[te]) & np.isfinite(y[te])
        if m.sum() < MIN_FOLD_ROWS or np.ptp(v[te][m]) == 0 or np.ptp(y[te][m]) == 0:
            continue
        counted += 1
        r = float(spearmanr(v[te][m], y[te][m]).statistic)
        held += int(math.isfinite(r) and r * sign > 0 and abs(r) >= MIN_FOLD_RHO)
    return held, counted


def relations(
    evidence: list[dict[str, float]],
    scores: Mapping[str, np.ndarray],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
) -> list[Relation]:
    """Every evidence x attribute relation of the graded works, with its BH-adjusted q and fold count.

    All pairs enter the Benjamini-Hochberg control, including those that cannot be tested
    (a constant measure counts as p = 1): the more pairs are looked at, the stronger a
    relation must be to be cited. ``folds`` are the training's cross-validation folds over
    the same rows.
    """
    from scipy.stats import false_discovery_control, spearmanr

    keys = sorted({k for e in evidence for k in e} - NOT_THE_WORK)
    found: list[Relation] = []
    for t, y in scores.items():
        y = np.asarray(y, dtype=np.float64)
        for k in keys:
            v = np.array([e.get(k, np.nan) for e in evidence], dtype=np.float64)
            m = np.isfinite(v) & np.isfinite(y)
            r, p = math.nan, 1.0
            if m.sum() >= 8 and np.ptp(v[m]) > 0 and np.ptp(y[m]) > 0:
                res = spearmanr(v[m], y[m])
                r, p = float(res.statistic), float(res.pvalue)
            if not math.isfinite(r) or not math.isfinite(p):
                found.append(Relation(k, t, 0.0, 1.0, int(m.sum()), 0, 0))
                continue
            held, counted = _fold_agreement(v, y, math.copysign(1.0, r), folds)
            found.append(Relation(k, t, r, p, int(m.sum()), held, counted))
    if found:
        qs = false_discovery_control([r.p for r in found], method="bh")
        found = [replace(r, q=float(q)) for r, q in zip(found, qs, strict=True)]
    return found


def robust_explainers(
    evidence: list[dict[str, float]],
    scores: Mapping[str, np.ndarray],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    top: int = EXPLAINERS,
) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """Per target, the robust relations (strongest first, at most ``top``), and how many pairs were tested."""
    found = relations(evidence, scores, folds)
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in scores}
    for r in sorted((r for r in found if r.robust), key=lambda r: -abs(r.spearman)):
        if len(out[r.target]) < top:
            out[r.target].append(r.to_dict())
    return out, len(found)


def similarity_floor(features: np.ndarray, quantile: float = SIMILARITY_QUANTILE, seed: int = 0) -> float:
    """The cosine similarity that a random pair of distinct graded works exceeds ``1 - quantile`` of the time.

    An exemplar below it is no more alike than two works picked at random, so pointing at it
    teaches nothing; calibrated on the graded works because similarities depend on the features
    and on how varied the works are.
    """
    x = np.asarray(features, dtype=np.float64)
    if len(x) < 3:
        return 1.0
    if len(x) > 1500:  # ~10^6 pairs are plenty for one quantile
        x = x[np.random.default_rng(seed).choice(len(x), 1500, replace=False)]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sims = (x @ x.T)[np.triu_indices(len(x), 1)]
    return float(np.quantile(sims, quantile))


def _absolute(p: str | Path) -> Path:
    """An absolute, normalised path without resolving symlinks (os.path.abspath)."""
    return Path(os.path.abspath(Path(p).expanduser()))


def exemplar_paths(paths: Sequence[str | Path], grades_root: Path | None) -> list[str]:
    """Each graded work's path relative to ``grades_root`` (posix), absolute where it lies outside."""
    out = []
    for p in paths:
        absolute = _absolute(p)  # symlinks kept: a linked images folder stays "imgs/..."
        rel = None
        if grades_root is not None:
            try:
                rel = Path(os.path.relpath(absolute, _absolute(grades_root)))
            except ValueError:  # another drive on Windows
                rel = None
        out.append(rel.as_posix() if rel is not None else absolute.as_posix())
    return out


@dataclass
class RubricTarget:
    """One trained target as the critique reads it from rubric.json."""

    scale: tuple[float, float]
    n_labelled: int
    cv_srcc: float
    cv_srcc_ci: tuple[float, float]
    head: str
    explainers: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": [self.scale[0], self.scale[1]],
            "n_labelled": self.n_labelled,
            "cv_srcc": round(self.cv_srcc, 4),
            "cv_srcc_ci": [round(self.cv_srcc_ci[0], 4), round(self.cv_srcc_ci[1], 4)],
            "head": self.head,
            "explainers": self.explainers,
        }


def grades_root(present: Any) -> Path | None:
    """The folder exemplar paths are stored relative to: the grades file's, else the images root."""
    source = Path(str(getattr(present, "source", "") or ""))
    if str(source) not in ("", ".") and source.is_file():
        return _absolute(source).parent
    root = getattr(present, "images_root", None)
    return _absolute(root) if root is not None else None


@dataclass
class ExemplarData:
    """What the critique keeps about the graded works beyond their human scores.

    ``predicted`` holds each work's out-of-fold predicted score per target (a new work's
    standing is read against these: predictions, like the new work's score, and without the
    ties of integer grades); ``evidence`` the measured values of the cited explainers, so the
    differences to an exemplar need not re-measure its image; ``grades_root`` is the folder
    the paths are stored relative to (the grades file's folder).
    """

    predicted: dict[str, np.ndarray] = field(default_factory=dict)
    evidence: list[dict[str, float]] = field(default_factory=list)
    grades_root: Path | None = None
    pairs_tested: int = 0


def _exemplar_rows(
    attributes: dict[str, RubricTarget],
    ids: Sequence[str],
    paths: Sequence[str],
    scores: dict[str, np.ndarray],
    extra: ExemplarData,
) -> list[dict[str, Any]]:
    cited = sorted({x["evidence"] for a in attributes.values() for x in a.explainers})
    rel = exemplar_paths(paths, extra.grades_root)
    rows = []
    for i, id_ in enumerate(ids):
        row: dict[str, Any] = {
            "id": str(id_),
            "path": rel[i],
            "scores": {t: round(float(s[i]), 3) for t, s in scores.items() if np.isfinite(s[i])},
        }
        pred = {t: round(float(p[i]), 3) for t, p in extra.predicted.items() if np.isfinite(p[i])}
        if pred:
            row["predicted"] = pred
        if extra.evidence:
            row["evidence"] = {k: round(extra.evidence[i][k], 6) for k in cited if k in extra.evidence[i]}
        rows.append(row)
    return rows


def write_rubric(
    out: Path,
    attributes: dict[str, RubricTarget],
    ids: Sequence[str],
    paths: Sequence[str],
    scores: dict[str, np.ndarray],
    features: np.ndarray,
    extra: ExemplarData | None = None,
) -> Path:
    """rubric.json + exemplars.npy: the graded works, their scores and features, and the citing rules.

    ``out`` may be a sibling of the final model folder (whole-folder writes): the grades
    folder is stored both absolute and relative to the model folder's parent, which is the
    same for both.
    """
    extra = extra or ExemplarData()
    import io

    buf = io.BytesIO()
    np.save(buf, features.astype(np.float32))
    atomic_write_bytes(out / "exemplars.npy", buf.getvalue())
    root = _absolute(extra.grades_root) if extra.grades_root is not None else None
    data: dict[str, Any] = {
        "version": RUBRIC_VERSION,
        "attributes": {t: a.to_dict() for t, a in attributes.items()},
        "exemplars": _exemplar_rows(attributes, ids, paths, scores, extra),
        "exemplar_features": "exemplars.npy",
        "explainer_rule": EXPLAINER_RULE,
        "pairs_tested": int(extra.pairs_tested),
        "similarity_floor": {
            "value": round(similarity_floor(features), 4),
            "quantile": SIMILARITY_QUANTILE,
            "rule": "cosine similarity of the frozen features that a random pair of distinct graded "
            f"works exceeds {1 - SIMILARITY_QUANTILE:.0%} of the time",
        },
    }
    if root is not None:
        data["grades_root"] = {
            "absolute": root.as_posix(),
            "from_model": Path(os.path.relpath(root, _absolute(out))).as_posix(),
        }
    return atomic_write_json(out / "rubric.json", data)
