"""Rubric-led critique: advice grounded in the user's own graded works.

A model trained on a user's rubric (``artjudge train ... --attr-cols``) may carry a
``rubric.json`` in its folder, written at training time: per attribute, how well the model
agreed with the user's grades in cross-validation and which measured evidence best explains
that attribute *in this user's grades* (Spearman over the graded works); plus the graded
works themselves ("exemplars", human scores on 0-100) and their standardised frozen features
(``exemplars.npy``, same row order). Nothing here is hand-written advice: every statement is
a number from the image, from the model, or from the user's grades.

For one scored image the critique says, per attribute: its score, uncertainty and standing
among the graded works; the explaining evidence with this image's value and percentile; and
for the 1-3 weakest attributes, the most similar works that were graded high on it (cosine
similarity of frozen features) and how their explaining evidence differs - the way a teacher
points at exemplars. The evidence critique supplies the limitations and the
perception / cognition / emotion description beneath it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from artjudge.critique.base import Critique, Sentence
from artjudge.critique.compose import compose
from artjudge.critique.phrasebook import Phrasebook, load_phrasebook
from artjudge.errors import ArtjudgeError
from artjudge.features.evidence import Evidence

if TYPE_CHECKING:
    from PIL import Image

    from artjudge.record import Assessment

RUBRIC_FILE = "rubric.json"
RUBRIC_VERSIONS = (1,)
HEADS = ("ridge", "kernel", "mlp")
MAX_WEAK = 3  # attributes that get exemplars
MAX_EXEMPLARS = 3  # exemplars shown per weak attribute
MAX_EXPLAINERS = 2  # explaining measures quoted per attribute
HIGH_PERCENTILE = 75.0  # "graded high": at or above this percentile of the graded works
UNRELIABLE_SRCC = 0.3  # below this cross-validated SRCC the score is flagged as unreliable
SELF_MATCH = 0.9999  # cosine similarity above this is the same image: never its own exemplar


@dataclass(frozen=True)
class Explainer:
    """A measure that tracked an attribute in the user's grades (Spearman over ``n`` works)."""

    evidence: str
    spearman: float
    n: int


@dataclass(frozen=True)
class RubricAttribute:
    """One rubric attribute as trained: its scale, reliability and explaining evidence."""

    name: str
    scale: tuple[float, float]
    n_labelled: int
    cv_srcc: float
    cv_srcc_ci: tuple[float, float]
    head: str
    explainers: tuple[Explainer, ...]


@dataclass(frozen=True)
class Exemplar:
    """A graded training work: human scores on 0-100, and its evidence values when stored."""

    id: str
    path: str
    scores: dict[str, float]
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass
class Rubric:
    """``rubric.json`` (+ ``exemplars.npy``) of a model folder, validated."""

    folder: Path
    attributes: dict[str, RubricAttribute]
    exemplars: list[Exemplar]
    features: np.ndarray | None = None
    version: int = 1

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
        return cls.from_dict(data, folder)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], folder: Path) -> Rubric:
        path = folder / RUBRIC_FILE
        if not isinstance(data, Mapping):
            raise ArtjudgeError(f"{path}: expected a JSON object")
        if data.get("version") not in RUBRIC_VERSIONS:
            raise ArtjudgeError(
                f"{path}: version {data.get('version')!r} is not one this artjudge reads "
                f"({', '.join(map(str, RUBRIC_VERSIONS))})"
            )
        try:
            attributes = {name: _attribute(name, a) for name, a in (data.get("attributes") or {}).items()}
            exemplars = [_exemplar(e) for e in data.get("exemplars") or []]
        except (KeyError, TypeError, ValueError) as err:
            raise ArtjudgeError(f"{path}: malformed entry ({type(err).__name__}: {err})") from None
        if not attributes:
            raise ArtjudgeError(f"{path}: no attributes")
        features = None
        feat_name = data.get("exemplar_features")
        if feat_name:
            fpath = folder / str(feat_name)
            try:
                features = np.load(fpath, allow_pickle=False).astype(np.float32)
            except (OSError, ValueError) as err:
                raise ArtjudgeError(f"{fpath}: exemplar features not readable ({err})") from None
            if features.ndim != 2 or features.shape[0] != len(exemplars):
                raise ArtjudgeError(
                    f"{fpath}: shape {features.shape} does not match {len(exemplars)} exemplars"
                )
        return cls(
            folder=folder,
            attributes=attributes,
            exemplars=exemplars,
            features=features,
            version=int(data["version"]),
        )

    def exemplar_file(self, ex: Exemplar) -> Path:
        """The exemplar's image: its path as stored, relative to the model folder when not absolute."""
        p = Path(ex.path).expanduser()
        return p if p.is_absolute() else self.folder / p

    def scores_of(self, attribute: str) -> np.ndarray:
        return np.array([e.scores[attribute] for e in self.exemplars if attribute in e.scores], dtype=float)


def _attribute(name: str, a: Mapping[str, Any]) -> RubricAttribute:
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
            Explainer(str(x["evidence"]), float(x["spearman"]), int(x.get("n", 0)))
            for x in a.get("explainers") or []
        ),
    )


def _exemplar(e: Mapping[str, Any]) -> Exemplar:
    return Exemplar(
        id=str(e["id"]),
        path=str(e.get("path", "")),
        scores={str(k): float(v) for k, v in (e.get("scores") or {}).items()},
        evidence={str(k): float(v) for k, v in (e.get("evidence") or {}).items()},
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


ExemplarValues = Callable[[Exemplar], Mapping[str, float] | None]


# ----------------------------------------------------------------------------- composing


@dataclass
class _AttrView:
    """What the critique knows about one attribute of this image."""

    spec: RubricAttribute
    score: float
    std: float
    pct: float | None  # standing among the graded works


class _RubricWriter:
    def __init__(
        self,
        book: Phrasebook,
        ev: Evidence,
        rubric: Rubric,
        seed: str,
        exemplar_values: ExemplarValues | None,
    ) -> None:
        self.book, self.ev, self.rubric, self.seed = book, ev, rubric, seed
        self.exemplar_values = exemplar_values
        self.names = book.section("names")

    def say(self, statement: str, keys: list[str], attribute: str, **params: Any) -> Sentence:
        template = self.book.pick(statement, f"{self.seed}|rubric|{attribute}")
        text = template.format(**params)
        return Sentence(
            text=text[0].upper() + text[1:],
            evidence_keys=list(dict.fromkeys(keys)),
            attribute=attribute,
            level="",
        )

    def ordinal(self, p: float | None) -> str:
        return "unranked" if p is None else self.book.ordinal(int(round(min(max(p, 0.0), 100.0))))

    def label(self, name: str) -> str:
        return name.replace("_", " ")

    def explainers(self, spec: RubricAttribute) -> list[Explainer]:
        """The attribute's stored explainers whose evidence is measured and valid here, strongest first."""
        ok = [x for x in spec.explainers if self.ev.valid(x.evidence)]
        return sorted(ok, key=lambda x: -abs(x.spearman))

    def keys(self, spec: RubricAttribute) -> list[str]:
        return [x.evidence for x in self.explainers(spec)][:MAX_EXPLAINERS]

    def value_pct(self, key: str) -> tuple[float | None, str]:
        """This image's percentile on ``key`` among the graded works if their values are stored,
        else among the reference images."""
        own = [e.evidence[key] for e in self.rubric.exemplars if key in e.evidence]
        if own and len(own) == len(self.rubric.exemplars):
            return standing(self.ev[key].value, own), self.book.table["rubric"]["among_graded"]
        return self.ev[key].percentile, self.book.table["rubric"]["among_reference"]

    # ---- sentences
    def lead(self, v: _AttrView, n_graded: int) -> Sentence:
        lo, hi = v.spec.scale
        native = lo + (hi - lo) * v.score / 100.0
        s = self.say(
            "rubric.lead",
            self.keys(v.spec),
            v.spec.name,
            attr=self.label(v.spec.name),
            score=v.score,
            std=v.std,
            native=native,
            lo=lo,
            hi=hi,
            pct=self.ordinal(v.pct),
            n=n_graded,
        )
        return s

    def reliability(self, spec: RubricAttribute) -> Sentence | None:
        if not math.isfinite(spec.cv_srcc):
            return None
        statement = "rubric.unreliable" if spec.cv_srcc < UNRELIABLE_SRCC else "rubric.reliability"
        lo, hi = spec.cv_srcc_ci
        ci = f" [{lo:.2f}, {hi:.2f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
        return self.say(
            statement,
            self.keys(spec),
            spec.name,
            attr=self.label(spec.name),
            r=spec.cv_srcc,
            ci=ci,
            n=spec.n_labelled,
        )

    def explain(self, spec: RubricAttribute) -> list[Sentence]:
        out = []
        for x in self.explainers(spec)[:MAX_EXPLAINERS]:
            pct, among = self.value_pct(x.evidence)
            out.append(
                self.say(
                    "rubric.explainer_up" if x.spearman >= 0 else "rubric.explainer_down",
                    [x.evidence],
                    spec.name,
                    attr=self.label(spec.name),
                    measure=self.names.get(x.evidence, x.evidence),
                    r=x.spearman,
                    n=x.n,
                    value=_fmt(self.ev[x.evidence].value),
                    pct=self.ordinal(pct),
                    among=among,
                )
            )
        if not out and not spec.explainers:
            out.append(self.say("rubric.no_explainer", [], spec.name, attr=self.label(spec.name)))
        return out

    def exemplars(self, v: _AttrView, features: np.ndarray | None) -> list[Sentence]:
        spec = v.spec
        keys = self.keys(spec)
        if features is None or self.rubric.features is None:
            return []
        graded = [(i, e) for i, e in enumerate(self.rubric.exemplars) if spec.name in e.scores]
        scores = np.array([e.scores[spec.name] for _, e in graded])
        if len(graded) == 0:
            return []
        cut = float(np.percentile(scores, HIGH_PERCENTILE))
        sims = cosine_similarity(features, self.rubric.features)
        high = [
            (float(sims[i]), e)
            for i, e in graded
            if e.scores[spec.name] >= cut and e.scores[spec.name] > v.score and sims[i] < SELF_MATCH
        ]
        if not high:
            return [self.say("rubric.no_exemplars", keys, spec.name, attr=self.label(spec.name))]
        chosen = sorted(high, key=lambda t: -t[0])[:MAX_EXEMPLARS]
        items = [
            self.book.table["rubric"]["exemplar_item"].format(
                id=e.id, path=e.path, score=e.scores[spec.name], sim=sim
            )
            for sim, e in chosen
        ]
        out = [
            self.say(
                "rubric.exemplars",
                keys,
                spec.name,
                attr=self.label(spec.name),
                items=self.book.join(items),
                n=len(chosen),
            )
        ]
        diff = self.differences(spec, [e for _, e in chosen])
        if diff is not None:
            out.append(diff)
        return out

    def differences(self, spec: RubricAttribute, chosen: list[Exemplar]) -> Sentence | None:
        """This image's explaining measures against the chosen exemplars' mean."""
        parts: list[str] = []
        keys: list[str] = []
        for x in self.explainers(spec)[:MAX_EXPLAINERS]:
            vals = []
            for e in chosen:
                got = (
                    e.evidence
                    if x.evidence in e.evidence
                    else (self.exemplar_values(e) if self.exemplar_values is not None else None)
                )
                if got and x.evidence in got and math.isfinite(float(got[x.evidence])):
                    vals.append(float(got[x.evidence]))
            if not vals:
                continue
            mine, theirs = self.ev[x.evidence].value, float(np.mean(vals))
            higher_is_better = x.spearman >= 0
            direction = "raise" if (theirs > mine) == higher_is_better else "keep"
            if math.isclose(mine, theirs, rel_tol=0.05, abs_tol=1e-3):
                direction = "same"
            parts.append(
                self.book.table["rubric"][f"diff_{direction}"].format(
                    measure=self.names.get(x.evidence, x.evidence),
                    mine=_fmt(mine),
                    theirs=_fmt(theirs),
                    r=x.spearman,
                    more="higher" if higher_is_better else "lower",
                )
            )
            keys.append(x.evidence)
        if not parts:
            return None
        return self.say("rubric.differs", keys, spec.name, attr=self.label(spec.name), diffs="; ".join(parts))


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 10 else f"{x:.2f}"


def compose_rubric(
    record: Assessment | Mapping[str, Any],
    evidence: Evidence | Mapping[str, Any],
    rubric: Rubric,
    features: np.ndarray | None = None,
    *,
    language: str = "en",
    exemplar_values: ExemplarValues | None = None,
) -> Critique:
    """The rubric-led critique of one scored image.

    ``record`` must carry the rubric's attribute scores (an Assessment from the model in
    ``rubric.folder``, or its dict); ``features`` is that model's ``embed()`` row for the
    image (exemplars are skipped without it); ``exemplar_values(exemplar)`` returns an
    exemplar's evidence values when ``rubric.json`` does not store them (e.g. by measuring
    its image), or None.
    """
    base = compose(record, evidence, language=language)
    ev = evidence if isinstance(evidence, Evidence) else Evidence.from_dict(evidence)
    d: Mapping[str, Any] = record if isinstance(record, Mapping) else record.to_dict()
    attrs = d.get("attributes") or {}
    missing = [a for a in rubric.attributes if a not in attrs]
    if len(missing) == len(rubric.attributes):
        raise ArtjudgeError(
            f"{rubric.folder / RUBRIC_FILE}: the record has none of the rubric's attributes "
            f"({', '.join(rubric.attributes)}); score it with the model in {rubric.folder}"
        )
    book = load_phrasebook(language)
    w = _RubricWriter(book, ev, rubric, str(d.get("sha256") or ev.digest), exemplar_values)
    crit = Critique(
        language=language,
        critic="rubric",
        scored_attributes=True,
        limitations=list(base.limitations),
        levels=dict(base.levels),
    )
    crit.overall = list(base.overall[:1])
    views = {
        name: _AttrView(
            spec,
            float(attrs[name]["score"]),
            float(attrs[name].get("std") or 0.0),
            standing(float(attrs[name]["score"]), rubric.scores_of(name)),
        )
        for name, spec in rubric.attributes.items()
        if name in attrs
    }
    n_graded = len(rubric.exemplars)
    ranked = sorted(views.values(), key=lambda v: (v.pct if v.pct is not None else 50.0, v.score))
    if len(ranked) >= 2:
        best, worst = ranked[-1], ranked[0]
        crit.overall.append(
            w.say(
                "rubric.summary",
                w.keys(best.spec) + w.keys(worst.spec),
                "overall",
                n=n_graded,
                best=w.label(best.spec.name),
                best_pct=w.ordinal(best.pct),
                worst=w.label(worst.spec.name),
                worst_pct=w.ordinal(worst.pct),
            )
        )
    weak = [v for v in ranked if v.pct is not None and v.pct < 50.0][:MAX_WEAK] or ranked[:1]
    weak_names = {v.spec.name for v in weak}
    for name, v in views.items():
        sents = [w.lead(v, n_graded)]
        rel = w.reliability(v.spec)
        if rel is not None:
            sents.append(rel)
        sents += w.explain(v.spec)
        if name in weak_names:
            sents += w.exemplars(v, features)
        crit.attributes[name] = sents
    crit.notes.append(
        f"Attribute paragraphs follow the rubric of {rubric.folder.name}: standings and exemplars are "
        f"among its {n_graded} graded works, and the explaining measures were learned from those grades."
    )
    if missing:
        crit.notes.append("Not scored by this record: " + ", ".join(missing) + ".")
    crit.notes += [n for n in base.notes if n.startswith("Limitations") or "nothing in it" in n]
    return crit


# ----------------------------------------------------------------------------- the critic


class RubricCritic:
    """The record critic of a rubric model: measures, embeds and composes (``RecordCritic``).

    ``embed`` maps images to the model's standardised frozen features (the scorer's
    ``embed``); exemplar evidence missing from ``rubric.json`` is measured from the
    exemplar's image once and kept.
    """

    name = "rubric"

    def __init__(
        self, rubric: Rubric, embed: Callable[[list[Any]], np.ndarray] | None = None, *, language: str = "en"
    ) -> None:
        self.rubric = rubric
        self.embed = embed
        self.language = language
        self._measured: dict[str, dict[str, float] | None] = {}

    def exemplar_values(self, ex: Exemplar) -> dict[str, float] | None:
        if ex.id not in self._measured:
            from artjudge.features.evidence import measure
            from artjudge.io.images import load_image

            try:
                img = load_image(str(self.rubric.exemplar_file(ex))).image
                self._measured[ex.id] = {k: m.value for k, m in measure(img).items() if m.valid}
            except (ArtjudgeError, OSError):
                self._measured[ex.id] = None  # the exemplar's image is gone: no difference is stated
        return self._measured[ex.id]

    def features_of(self, image: Any) -> np.ndarray | None:
        if self.embed is None:
            return None
        return np.asarray(self.embed([image]), dtype=np.float32)[0]

    def critique(
        self,
        image: Image.Image,
        record: Assessment,
        *,
        evidence: Evidence | None = None,
        features: np.ndarray | None = None,
    ) -> Critique:
        from artjudge.features.evidence import measure

        ev = evidence if evidence is not None else measure(image)
        feats = features if features is not None else self.features_of(image)
        return compose_rubric(
            record, ev, self.rubric, feats, language=self.language, exemplar_values=self.exemplar_values
        )

    def __call__(self, image: Image.Image, record: Assessment) -> Assessment:
        from artjudge.features.evidence import measure

        ev = measure(image)
        record.set_evidence(ev.to_dict())
        record.set_critique(self.critique(image, record, evidence=ev).to_dict())
        return record


def rubric_critic_for(
    folder: str | Path, embed: Callable[[list[Any]], np.ndarray] | None, *, language: str = "en"
) -> RubricCritic | None:
    """A RubricCritic when ``folder`` holds rubric.json (features from ``embed``, the model's
    ``embed``), else None: a model without a rubric keeps the evidence critique."""
    if not has_rubric(folder):
        return None
    return RubricCritic(Rubric.load(folder), embed, language=language)


__all__ = [
    "Exemplar",
    "Explainer",
    "Rubric",
    "RubricAttribute",
    "RubricCritic",
    "compose_rubric",
    "cosine_similarity",
    "has_rubric",
    "rubric_critic_for",
    "standing",
]
