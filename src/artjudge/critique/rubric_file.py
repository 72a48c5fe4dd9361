"""``rubric.json`` (+ ``exemplars.npy``) of a rubric model folder, read and checked.

Written at training time by ``artjudge.train.rubric_data``: per attribute its scale, how
well the model agreed with the user's grades in cross-validation and the relations between
measured evidence and the grades that survived the citing rule (held-out folds and
Benjamini-Hochberg control over every evidence x attribute pair); the graded works
("exemplars": human scores and out-of-fold predicted scores on 0-100, paths relative to the
grades file) and their standardised frozen features; the similarity floor an exemplar must
reach. The card's ``skill`` block says which heads learned the grades at all.

Version 1 files (written before the citing rule existed) still load: their explainers carry
no fold test, so none is cited, and without a similarity floor no exemplar is shown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.errors import ArtjudgeError, InputError
from artjudge.io.npy import load_npy

RUBRIC_FILE = "rubric.json"
CARD_FILE = "card.json"
RUBRIC_VERSIONS = (1, 2)
HEADS = ("ridge", "kernel", "mlp")


@dataclass(frozen=True)
class Explainer:
    """A measure that tracked an attribute in the user's grades (Spearman over ``n`` works).

    ``folds`` / ``folds_held`` / ``q`` record the citing rule's tests; an explainer without
    them (a version 1 file) was never tested and is not cited.
    """

    evidence: str
    spearman: float
    n: int
    folds_held: int = 0
    folds: int = 0
    q: float = math.nan

    @property
    def tested(self) -> bool:
        return self.folds > 0 and math.isfinite(self.q)


@dataclass(frozen=True)
class RubricAttribute:
    """One rubric attribute as trained: its scale, reliability, skill and explaining evidence.

    ``skilled`` comes from the card's ``skill`` block: True / False as measured, None when the
    card does not say (unknown skill gets no advice).
    """

    name: str
    scale: tuple[float, float]
    n_labelled: int
    cv_srcc: float
    cv_srcc_ci: tuple[float, float]
    head: str
    explainers: tuple[Explainer, ...]
    skilled: bool | None = None

    def native(self, score: float) -> float:
        """A 0-100 score on the teacher's own scale."""
        lo, hi = self.scale
        return lo + (hi - lo) * score / 100.0


@dataclass(frozen=True)
class Exemplar:
    """A graded training work: human scores (and out-of-fold predictions) on 0-100, its evidence."""

    id: str
    path: str
    scores: dict[str, float]
    evidence: dict[str, float] = field(default_factory=dict)
    predicted: dict[str, float] = field(default_factory=dict)


@dataclass
class Rubric:
    """``rubric.json`` (+ ``exemplars.npy``, + the card's skill block) of a model folder, validated."""

    folder: Path
    attributes: dict[str, RubricAttribute]
    exemplars: list[Exemplar]
    features: np.ndarray | None = None
    version: int = 1
    similarity_floor: float | None = None
    grades_root: dict[str, str] = field(default_factory=dict)
    explainer_rule: str = ""

    @classmethod
    def load(cls, folder: str | Path) -> Rubric:
        """Read and check a model folder's rubric; one-line ArtjudgeError naming the file and reason."""
        folder = Path(folder)
        path = folder / RUBRIC_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtjudgeError(f"{path}: no rubric file (train the model with rubric attributes)") from None
        except (OSError, json.JSONDecodeError) as err:
            raise ArtjudgeError(f"{path}: not readable JSON ({err})") from None
        return cls.from_dict(data, folder, skill=read_skill(folder))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], folder: Path, skill: Mapping[str, bool] | None = None
    ) -> Rubric:
        path = folder / RUBRIC_FILE
        if not isinstance(data, Mapping):
            raise ArtjudgeError(f"{path}: expected a JSON object")
        if data.get("version") not in RUBRIC_VERSIONS:
            raise ArtjudgeError(
                f"{path}: version {data.get('version')!r} is not one this artjudge reads "
                f"({', '.join(map(str, RUBRIC_VERSIONS))})"
            )
        skill = skill or {}
        try:
            attributes = {
                name: _attribute(name, a, skill.get(name))
                for name, a in (data.get("attributes") or {}).items()
            }
            exemplars = [_exemplar(e) for e in data.get("exemplars") or []]
            floor = (data.get("similarity_floor") or {}).get("value")
            root = {str(k): str(v) for k, v in (data.get("grades_root") or {}).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ArtjudgeError(f"{path}: malformed entry ({type(err).__name__}: {err})") from None
        if not attributes:
            raise ArtjudgeError(f"{path}: no attributes")
        return cls(
            folder=folder,
            attributes=attributes,
            exemplars=exemplars,
            features=_features(data, folder, len(exemplars)),
            version=int(data["version"]),
            similarity_floor=None if floor is None else float(floor),
            grades_root=root,
            explainer_rule=str(data.get("explainer_rule", "")),
        )

    def exemplar_candidates(self, ex: Exemplar) -> list[Path]:
        """Where the exemplar's image may be: stored paths are relative to the grades folder,
        found through the model folder first (it moves with the grades), then as recorded."""
        p = Path(ex.path).expanduser()
        if p.is_absolute():
            return [p]
        out = []
        if "from_model" in self.grades_root:
            out.append(self.folder / self.grades_root["from_model"] / p)
        if "absolute" in self.grades_root:
            out.append(Path(self.grades_root["absolute"]) / p)
        out.append(self.folder / p)
        return out

    def exemplar_file(self, ex: Exemplar) -> Path | None:
        """The exemplar's image, or None when it is at none of its candidate places."""
        return next((c for c in self.exemplar_candidates(ex) if c.is_file()), None)

    def scores_of(self, attribute: str) -> np.ndarray:
        return np.array([e.scores[attribute] for e in self.exemplars if attribute in e.scores], dtype=float)

    def standings_of(self, attribute: str) -> np.ndarray:
        """What a new work's score is ranked against: the graded works' out-of-fold predicted
        scores (a prediction against predictions, without integer grades' ties); the human
        scores for a version 1 file, which has no predictions."""
        pred = [e.predicted[attribute] for e in self.exemplars if attribute in e.predicted]
        if pred and len(pred) == len([e for e in self.exemplars if attribute in e.scores]):
            return np.array(pred, dtype=float)
        return self.scores_of(attribute)


def read_skill(folder: Path) -> dict[str, bool]:
    """``{head: skilled}`` from the card's skill block; empty when the card has none (unknown)."""
    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    heads = (card.get("skill") or {}).get("heads") if isinstance(card, Mapping) else None
    if not isinstance(heads, Mapping):
        return {}
    return {str(k): bool(v["skilled"]) for k, v in heads.items() if isinstance(v, Mapping) and "skilled" in v}


def _features(data: Mapping[str, Any], folder: Path, n: int) -> np.ndarray | None:
    feat_name = data.get("exemplar_features")
    if not feat_name:
        return None
    fpath = folder / str(feat_name)
    try:  # load_npy checks the header against the file before allocating (issue 26.7)
        features = load_npy(fpath).astype(np.float32)
    except InputError as err:
        raise ArtjudgeError(f"exemplar features not readable: {err}") from None
    if features.ndim != 2 or features.shape[0] != n:
        raise ArtjudgeError(f"{fpath}: shape {features.shape} does not match {n} exemplars")
    return features


def _attribute(name: str, a: Mapping[str, Any], skilled: bool | None) -> RubricAttribute:
    lo, hi = (float(x) for x in a["scale"])
    ci = a.get("cv_srcc_ci") or [math.nan, math.nan]
    head = str(a.get("head", ""))
    if head and head not in HEADS:
        raise ValueError(f"attribute {name!r}: head {head!r} is not one of {', '.join(HEADS)}")
    return RubricAttribute(
        name=str(name),
        scale=(lo, hi),
        n_labelled=int(a.get("n_labelled", 0)),
        cv_srcc=float(a.get("cv_srcc", math.nan)),
        cv_srcc_ci=(float(ci[0]), float(ci[1])),
        head=head,
        explainers=tuple(
            Explainer(
                str(x["evidence"]),
                float(x["spearman"]),
                int(x.get("n", 0)),
                int(x.get("folds_held", 0)),
                int(x.get("folds", 0)),
                float(x.get("q", math.nan)),
            )
            for x in a.get("explainers") or []
        ),
        skilled=skilled,
    )


def _exemplar(e: Mapping[str, Any]) -> Exemplar:
    return Exemplar(
        id=str(e["id"]),
        path=str(e.get("path", "")),
        scores={str(k): float(v) for k, v in (e.get("scores") or {}).items()},
        evidence={str(k): float(v) for k, v in (e.get("evidence") or {}).items()},
        predicted={str(k): float(v) for k, v in (e.get("predicted") or {}).items()},
    )


def has_rubric(folder: str | Path) -> bool:
    return (Path(folder) / RUBRIC_FILE).is_file()


def standing(value: float, values: Sequence[float] | np.ndarray) -> float | None:
    """Percentile rank of ``value`` among ``values`` (ties count half), 0-100; None if empty."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return None
    return float(100.0 * ((v < value).sum() + 0.5 * (v == value).sum()) / len(v))


def cosine_similarity(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    r = np.asarray(rows, dtype=np.float64)
    denom = np.linalg.norm(r, axis=1) * max(float(np.linalg.norm(x)), 1e-12)
    return np.asarray(r @ x / np.maximum(denom, 1e-12))


__all__ = [
    "Exemplar",
    "Explainer",
    "Rubric",
    "RubricAttribute",
    "cosine_similarity",
    "has_rubric",
    "read_skill",
    "standing",
]
