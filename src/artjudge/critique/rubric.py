"""Rubric-led critique: advice grounded in the user's own graded works.

A model trained on a user's rubric (``artjudge train ... --attr-cols``) carries a
``rubric.json`` in its folder (read by :mod:`artjudge.critique.rubric_file`). Nothing here is
hand-written advice: every statement is a number from the image, from the model, or from
the user's grades, and it says which.

For one scored image the critique says, per attribute: the score on the teacher's scale and
where it stands among the graded works as the model scores them (out-of-fold predictions,
so a prediction is ranked against predictions); how well the model learned these grades;
and, only for attributes whose skill the card establishes, advice: the relations between
measured properties of the work and the grades that held on held-out folds and survived
multiple-comparison control ("a pattern in your grades", with its strength), and for the
weakest attributes the most similar works graded high, when they are more alike than a
random pair of graded works. A head whose skill is not established, or unknown, gets no
advice; file properties (pixel size, format) are never cited.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from artjudge.critique.base import Critique, Sentence
from artjudge.critique.compose import compose
from artjudge.critique.phrasebook import Phrasebook, load_phrasebook
from artjudge.critique.rubric_file import (
    RUBRIC_FILE,
    Exemplar,
    Explainer,
    Rubric,
    RubricAttribute,
    cosine_similarity,
    has_rubric,
    standing,
)
from artjudge.errors import ArtjudgeError
from artjudge.features.evidence import Evidence

if TYPE_CHECKING:
    from PIL import Image

    from artjudge.record import Assessment

MAX_WEAK = 3  # attributes that get exemplars
MAX_EXEMPLARS = 3  # exemplars shown per weak attribute
MAX_EXPLAINERS = 2  # explaining measures quoted per attribute
HIGH_PERCENTILE = 75.0  # "graded high": at or above this percentile of the graded works
UNRELIABLE_SRCC = 0.3  # below this cross-validated SRCC the score is flagged as unreliable
SELF_MATCH = 0.9999  # cosine similarity above this is the same image: never its own exemplar
NOT_THE_WORK = frozenset({"image_size", "transparency"})  # never cited, whatever a file says

ExemplarValues = Callable[[Exemplar], Mapping[str, float] | None]


# ----------------------------------------------------------------------------- composing


@dataclass
class _AttrView:
    """What the critique knows about one attribute of this image."""

    spec: RubricAttribute
    score: float
    interval: tuple[float, float] | None
    pct: float | None  # standing among the graded works' predicted scores
    above: int  # graded works the model scores below this one
    n: int  # graded works ranked

    @property
    def advised(self) -> bool:
        """Advice (patterns, exemplars) only where the card establishes skill."""
        return self.spec.skilled is True


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 10 else f"{x:.2f}"


def _grade(spec: RubricAttribute, score: float, digits: int = 1) -> str:
    """A 0-100 score on the teacher's scale: "4 of 5" for a whole grade, else "4.2 of 5"."""
    native = spec.native(score)
    text = f"{native:.0f}" if abs(native - round(native)) < 0.05 else f"{native:.{digits}f}"
    return f"{text} of {spec.scale[1]:g}"


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
        self.table = book.table["rubric"]

    def say(self, statement: str, keys: list[str], attribute: str, **params: Any) -> Sentence:
        template = self.book.pick(statement, f"{self.seed}|rubric|{attribute}")
        text = self.book.articles(template.format(**params))
        return Sentence(
            text=text[0].upper() + text[1:],
            evidence_keys=list(dict.fromkeys(keys)),
            attribute=attribute,
            level="",
        )

    def label(self, name: str) -> str:
        return name.replace("_", " ")

    def standing_text(self, v: _AttrView) -> str:
        """Where the work stands, in counts: never "100th percentile", never a tie-made rank."""
        if v.n == 0:
            return self.table["standing_none"]
        if v.above >= v.n:
            return self.table["standing_top"].format(n=v.n)
        if v.above == 0:
            return self.table["standing_bottom"].format(n=v.n)
        return self.table["standing_count"].format(k=v.above, n=v.n)

    def explainers(self, spec: RubricAttribute) -> list[Explainer]:
        """The attribute's tested explainers on properties of the work, measured here, strongest first."""
        ok = [
            x
            for x in spec.explainers
            if x.tested and x.evidence not in NOT_THE_WORK and self.ev.valid(x.evidence)
        ]
        return sorted(ok, key=lambda x: -abs(x.spearman))[:MAX_EXPLAINERS]

    def keys(self, v: _AttrView) -> list[str]:
        return [x.evidence for x in self.explainers(v.spec)] if v.advised else []

    def value_pct(self, key: str) -> tuple[float | None, str]:
        """This image's percentile on ``key`` among the graded works if their values are stored,
        else among the reference images."""
        own = [e.evidence[key] for e in self.rubric.exemplars if key in e.evidence]
        if own and len(own) >= 0.9 * len(self.rubric.exemplars):  # a few works may lack a valid value
            return standing(self.ev[key].value, own), self.table["among_graded"]
        return self.ev[key].percentile, self.table["among_reference"]

    def ordinal(self, p: float | None) -> str:
        return "unranked" if p is None else self.book.ordinal(int(round(min(max(p, 1.0), 99.0))))

    # ---- sentences
    def lead(self, v: _AttrView) -> Sentence:
        likely = ""
        if v.interval is not None:
            likely = self.table["likely"].format(
                lo=_grade(v.spec, v.interval[0]).split(" of ")[0], hi=_grade(v.spec, v.interval[1])
            )
        return self.say(
            "rubric.lead",
            self.keys(v),
            v.spec.name,
            attr=self.label(v.spec.name),
            grade=_grade(v.spec, v.score),
            score=v.score,
            likely=likely,
            standing=self.standing_text(v),
            n=v.n,
        )

    def reliability(self, v: _AttrView) -> Sentence | None:
        spec = v.spec
        if not math.isfinite(spec.cv_srcc):
            return None
        lo, hi = spec.cv_srcc_ci
        ci = f" [{lo:.2f}, {hi:.2f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
        if spec.skilled is False:
            statement = "rubric.unskilled"
        elif spec.skilled is None:
            statement = "rubric.skill_unknown"
        else:
            statement = "rubric.unreliable" if spec.cv_srcc < UNRELIABLE_SRCC else "rubric.reliability"
        return self.say(
            statement,
            self.keys(v),
            spec.name,
            attr=self.label(spec.name),
            r=spec.cv_srcc,
            ci=ci,
            n=spec.n_labelled,
        )

    def explain(self, v: _AttrView) -> list[Sentence]:
        if not v.advised:
            return []
        out = []
        for x in self.explainers(v.spec):
            pct, among = self.value_pct(x.evidence)
            out.append(
                self.say(
                    "rubric.explainer_up" if x.spearman >= 0 else "rubric.explainer_down",
                    [x.evidence],
                    v.spec.name,
                    attr=self.label(v.spec.name),
                    measure=self.names.get(x.evidence, x.evidence),
                    r=x.spearman,
                    n=x.n,
                    held=x.folds_held,
                    folds=x.folds,
                    value=_fmt(self.ev[x.evidence].value),
                    pct=self.ordinal(pct),
                    among=among,
                )
            )
        if not out:
            out.append(self.say("rubric.no_explainer", [], v.spec.name, attr=self.label(v.spec.name)))
        return out

    def exemplars(self, v: _AttrView, features: np.ndarray | None) -> tuple[list[Sentence], list[str]]:
        """Exemplar sentences for a weak attribute, and the ids of exemplars whose image is missing."""
        spec, keys = v.spec, self.keys(v)
        floor = self.rubric.similarity_floor
        if not v.advised or features is None or self.rubric.features is None or floor is None:
            return [], []
        graded = [(i, e) for i, e in enumerate(self.rubric.exemplars) if spec.name in e.scores]
        if not graded:
            return [], []
        cut = float(np.percentile([e.scores[spec.name] for _, e in graded], HIGH_PERCENTILE))
        sims = cosine_similarity(features, self.rubric.features)
        high = [
            (float(sims[i]), e)
            for i, e in graded
            if e.scores[spec.name] >= cut and e.scores[spec.name] > v.score and sims[i] < SELF_MATCH
        ]
        label = self.label(spec.name)
        if not high:
            return [self.say("rubric.no_exemplars", keys, spec.name, attr=label)], []
        close = [(sim, e) for sim, e in high if sim >= floor]
        if not close:
            return [self.say("rubric.no_similar", keys, spec.name, attr=label, floor=floor)], []
        chosen = sorted(close, key=lambda t: -t[0])[:MAX_EXEMPLARS]
        items, missing = [], []
        for sim, e in chosen:
            found = self.rubric.exemplar_file(e) if e.path else None
            if found is None and e.path:
                missing.append(e.id)
            key = "exemplar_item" if found is not None else ("exemplar_missing" if e.path else "exemplar_id")
            item = self.table[key]  # no path stored (e.g. works kept in the service's store): the id alone
            items.append(
                item.format(
                    id=e.id,
                    path=os.path.normpath(os.path.abspath(found)) if found is not None else e.path,
                    grade=_grade(spec, e.scores[spec.name]),
                    sim=sim,
                )
            )
        out = [
            self.say(
                "rubric.exemplars",
                keys,
                spec.name,
                attr=label,
                items=self.book.join(items),
                n=len(chosen),
                floor=floor,
            )
        ]
        diff = self.differences(v, [e for _, e in chosen])
        if diff is not None:
            out.append(diff)
        return out, missing

    def exemplar_value(self, e: Exemplar, key: str) -> float | None:
        got = e.evidence if key in e.evidence else (self.exemplar_values(e) if self.exemplar_values else None)
        if got and key in got and math.isfinite(float(got[key])):
            return float(got[key])
        return None

    def differences(self, v: _AttrView, chosen: list[Exemplar]) -> Sentence | None:
        """This image's explaining measures against the chosen exemplars' mean."""
        parts: list[str] = []
        keys: list[str] = []
        for x in self.explainers(v.spec):
            vals = [val for e in chosen if (val := self.exemplar_value(e, x.evidence)) is not None]
            if not vals:
                continue
            mine, theirs = self.ev[x.evidence].value, float(np.mean(vals))
            higher_is_better = x.spearman >= 0
            direction = "raise" if (theirs > mine) == higher_is_better else "keep"
            if math.isclose(mine, theirs, rel_tol=0.05, abs_tol=1e-3):
                direction = "same"
            parts.append(
                self.table[f"diff_{direction}"].format(
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
        return self.say(
            "rubric.differs", keys, v.spec.name, attr=self.label(v.spec.name), diffs="; ".join(parts)
        )

    def summary(self, views: list[_AttrView]) -> Sentence | None:
        """Best and worst standing among the advised attributes, said relative to the middle."""
        ranked = sorted((v for v in views if v.advised and v.pct is not None), key=lambda v: (v.pct, v.score))
        if len(ranked) < 2:
            return None
        best, worst = ranked[-1], ranked[0]
        assert best.pct is not None and worst.pct is not None
        if best.pct < 50.0:
            statement = "rubric.summary_low"
        elif worst.pct >= 50.0:
            statement = "rubric.summary_high"
        else:
            statement = "rubric.summary"
        return self.say(
            statement,
            self.keys(best) + self.keys(worst),
            "overall",
            n=best.n,
            best=self.label(best.spec.name),
            best_standing=self.standing_text(best),
            worst=self.label(worst.spec.name),
            worst_standing=self.standing_text(worst),
        )


def _interval(entry: Mapping[str, Any]) -> tuple[float, float] | None:
    iv = entry.get("interval")
    if isinstance(iv, (list, tuple)) and len(iv) == 2 and all(isinstance(x, (int, float)) for x in iv):
        return float(iv[0]), float(iv[1])
    return None


def _views(rubric: Rubric, attrs: Mapping[str, Any]) -> dict[str, _AttrView]:
    views = {}
    for name, spec in rubric.attributes.items():
        if name not in attrs:
            continue
        score = float(attrs[name]["score"])
        ranked = rubric.standings_of(name)
        ranked = ranked[np.isfinite(ranked)]
        views[name] = _AttrView(
            spec,
            score,
            _interval(attrs[name]),
            standing(score, ranked),
            int((ranked < score).sum()),
            len(ranked),
        )
    return views


def _notes(
    rubric: Rubric, d: Mapping[str, Any], views: Mapping[str, _AttrView], missing_files: list[str]
) -> list[str]:
    """What the record does not show and why; which exemplar images could not be found."""
    scored = set(views) | ({"overall"} if (d.get("overall") or {}).get("score") is not None else set())
    absent = [a for a in rubric.attributes if a not in scored]
    unskilled = [a for a in absent if rubric.attributes[a].skilled is False]
    rest = [a for a in absent if a not in unskilled]
    notes = [
        f"Attribute paragraphs follow the rubric of {rubric.folder.name}: standings are among its "
        f"{len(rubric.exemplars)} graded works as the model scores them, and patterns are cited only "
        "when they held on held-out folds of those grades."
    ]
    if unskilled:
        notes.append(
            "Not graded here, because in cross-validation the model did not learn your grades for them: "
            + ", ".join(unskilled)
            + "."
        )
    if rest:
        notes.append("Not scored by this record: " + ", ".join(rest) + ".")
    if missing_files:
        notes.append(
            "Exemplar images not found (named above by id; looked relative to the grades folder "
            f"recorded at training and to {rubric.folder}): " + ", ".join(missing_files) + "."
        )
    return notes


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
    if not any(a in attrs for a in rubric.attributes) and (d.get("overall") or {}).get("score") is None:
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
    views = _views(rubric, attrs)
    summary = w.summary(list(views.values()))
    if summary is not None:
        crit.overall.append(summary)
    ranked = sorted(
        (v for v in views.values() if v.advised and v.pct is not None), key=lambda v: (v.pct, v.score)
    )
    weak = {v.spec.name for v in ([v for v in ranked if (v.pct or 0.0) < 50.0][:MAX_WEAK] or ranked[:1])}
    missing_files: list[str] = []
    for name, v in views.items():
        sents = [w.lead(v)]
        rel = w.reliability(v)
        if rel is not None:
            sents.append(rel)
        sents += w.explain(v)
        if name in weak:
            ex_sents, missing = w.exemplars(v, features)
            sents += ex_sents
            missing_files += missing
        crit.attributes[name] = sents
    crit.notes += _notes(rubric, d, views, missing_files)
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

            found = self.rubric.exemplar_file(ex)
            try:
                if found is None:
                    raise OSError(f"{ex.path}: not found")
                img = load_image(str(found)).image
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
