"""The embedded critic: paragraphs composed from measured evidence, never beyond it.

The statements (:mod:`artjudge.critique.statements`) each name the evidence keys they need;
a statement whose evidence is missing or invalid (a blank image has no composition) is
replaced here by a sentence that says what cannot be judged. Strength follows the score: a
high score is explained by the measurements most in its favour, a low one by those most
against it; attribute scores are quoted only when the model produced them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from artjudge.critique.base import Critique, Sentence
from artjudge.critique.phrasebook import load_phrasebook
from artjudge.critique.statements import (
    ABSTRACT_THRESHOLD,
    ATTRIBUTE_KEYS,
    COOL_THRESHOLD,
    LIMITATION_KEY,
    QUALITY_DIRECTION,
    REALISTIC_THRESHOLD,
    WARM_THRESHOLD,
    Statement,
    Writer,
    score_band,
    style_category,
    warmth_category,
)
from artjudge.features.evidence import Evidence
from artjudge.taxonomy import ARTIMUSE, LEVELS

if TYPE_CHECKING:
    from PIL import Image

    from artjudge.record import Assessment


@dataclass
class _Scores:
    overall: float | None
    std: float | None  # the raters' opinion spread, never the score's error
    attributes: dict[str, float]
    seed: str
    interval: tuple[float, float] | None = None  # the model's calibrated error interval


def _scores(assessment_like: Any, evidence: Evidence) -> _Scores:
    """Read scores from an Assessment, its dict, a bare number, or None (unscored)."""
    if assessment_like is None:
        return _Scores(None, None, {}, evidence.digest)
    if isinstance(assessment_like, (int, float)):
        return _Scores(float(assessment_like), None, {}, evidence.digest)
    d: Mapping[str, Any] = (
        assessment_like if isinstance(assessment_like, Mapping) else assessment_like.to_dict()
    )
    overall = d.get("overall") or {}
    attrs = {
        k: float(v["score"])
        for k, v in (d.get("attributes") or {}).items()
        if isinstance(v, Mapping) and v.get("score") is not None
    }
    seed = str(d.get("sha256") or evidence.digest)
    score = overall.get("score")
    std = overall.get("std")
    iv = overall.get("interval")
    interval = (float(iv[0]), float(iv[1])) if isinstance(iv, (list, tuple)) and len(iv) == 2 else None
    return _Scores(
        None if score is None else float(score), None if std is None else float(std), attrs, seed, interval
    )


def _attribute_statements(w: Writer) -> dict[str, list[Statement]]:
    return {
        "composition": [w.placement, w.balance, w.symmetry, w.space],
        "visual_elements": [w.colour_vivid, w.colour_palette, w.colour_harmony, w.colour_warmth, w.light],
        "technical_execution": [w.technique, w.surface],
        "originality": [w.originality],
        "theme": [w.focus, w.style],
        "emotion": [w.mood, w.mood_warmth, w.dominance],
        "gestalt": [w.gestalt],
        "comprehensive": [],
    }


def _level_statements(w: Writer) -> dict[str, list[Statement]]:
    return {
        "perception": [w.colour_vivid, w.colour_palette, w.colour_harmony, w.light, w.placement, w.space],
        "cognition": [w.style, w.surface, w.focus, w.technique],
        "emotion": [w.mood, w.mood_warmth, w.dominance],
    }


def _as_evidence(evidence: Evidence | Mapping[str, Any]) -> Evidence:
    if isinstance(evidence, Evidence):
        return evidence
    ev = Evidence.from_dict(evidence)
    if not ev.digest:
        ev.digest = hashlib.sha256(json.dumps(evidence, sort_keys=True, default=str).encode()).hexdigest()
    return ev


def _limitations(w: Writer, ev: Evidence) -> list[Sentence]:
    """One sentence per limitation; a blank field subsumes every other one."""
    out = []
    for lim in ["uniform"] if "uniform" in ev.limitations else ev.limitations:
        key = LIMITATION_KEY[lim]
        if key not in ev:
            continue
        m = ev[key]
        size = ev["image_size"].detail if "image_size" in ev else {}
        out.append(
            w.say(
                f"limit.{lim}",
                [key],
                "limitations",
                "",
                "limits",
                value=m.value,
                px=int(m.value),
                pct=round(100 * m.value),
                width=size.get("width", "?"),
                height=size.get("height", "?"),
            )
        )
    return out


def _overall(w: Writer, sc: _Scores, band: str, band_word: str) -> list[Sentence]:
    """The score with the measurements for and against it, or the measured profile when unscored."""
    if sc.overall is None:
        _, basis_keys = w.basis()
        return [
            w.say("overall.unscored", basis_keys or [LIMITATION_KEY["uniform"]], "overall", "", "overall")
        ]
    support = w.support(band, tuple(QUALITY_DIRECTION), "overall", "", "overall")
    keys = support.evidence_keys if support else [LIMITATION_KEY["uniform"]]
    lead = w.say(
        "overall.score" if sc.std is not None else "overall.score_only",
        keys,
        "overall",
        "",
        "overall",
        score=sc.overall,
        std=sc.std or 0.0,
        band=band_word,
        likely=w.book.table["likely"].format(lo=sc.interval[0], hi=sc.interval[1]) if sc.interval else "",
    )
    return [lead, support] if support else [lead]


def _summary(w: Writer, sc: _Scores, attr: str, level: str, band_word: str) -> Sentence | None:
    """The comprehensive paragraph's closing sentence: what defines the measured profile."""
    basis_txt, basis_keys = w.basis()
    if not basis_keys:
        return None
    if sc.overall is not None:
        return w.say(
            "comp.summary", basis_keys, attr, level, attr, band=band_word, score=sc.overall, basis=basis_txt
        )
    return w.say("comp.summary_unscored", basis_keys, attr, level, attr, basis=basis_txt)


def _attribute_paragraph(
    w: Writer, sc: _Scores, attr: str, statements: list[Statement], band_word: str
) -> list[Sentence]:
    """An attribute's sentences: its score (when the model gave one), what was measured, why."""
    ev, book = w.ev, w.book
    names = book.section("attribute_names")
    sents: list[Sentence] = []
    level = ARTIMUSE.get(attr).level
    attr_score = sc.attributes.get(attr)
    attr_keys = ATTRIBUTE_KEYS[attr] or tuple(k for k, m in ev.items() if m.percentile is not None)
    if attr_score is not None:
        valid = [k for k in attr_keys if ev.valid(k)] or [LIMITATION_KEY["uniform"]]
        sents.append(
            w.say(
                "attr.lead",
                valid,
                attr,
                level,
                attr,
                attr=names[attr],
                attr_lower=names[attr].lower(),
                score=attr_score,
                band=book.section("bands")[score_band(attr_score)],
            )
        )
    sents += [s for st in statements if (s := st(attr, level, attr)) is not None]
    if attr == "comprehensive" and (summary := _summary(w, sc, attr, level, band_word)) is not None:
        sents.append(summary)
    if attr_score is not None and attr != "comprehensive":
        keys = tuple(k for k in attr_keys if k in QUALITY_DIRECTION) or tuple(QUALITY_DIRECTION)
        s = w.support(score_band(attr_score), keys, attr, level, attr + ".support")
        if s is not None:
            sents.append(s)
    if not [s for s in sents if s.attribute == attr] or (attr_score is not None and len(sents) == 1):
        sents.append(w.cannot(attr, level, attr))
    return sents


def compose(
    assessment_like: Assessment | Mapping[str, Any] | float | None,
    evidence: Evidence | Mapping[str, Any],
    *,
    language: str = "en",
) -> Critique:
    """Write the critique of one image from its scores and measured evidence.

    ``assessment_like`` is an Assessment, its ``to_dict()``, a bare 0-100 score, or None
    (then no verdict is passed). ``evidence`` is ``features.evidence.measure(image)`` or its
    ``to_dict()``.
    """
    ev = _as_evidence(evidence)
    book = load_phrasebook(language)
    sc = _scores(assessment_like, ev)
    w = Writer(ev, book, sc.seed)
    crit = Critique(language=language, critic="embedded", scored_attributes=bool(sc.attributes))
    crit.limitations = _limitations(w, ev)
    band = score_band(sc.overall) if sc.overall is not None else "fair"
    band_word = book.section("bands")[band]
    if "uniform" in ev.limitations:
        # Nothing is visible, so no paragraph may describe or explain anything: no mood, no
        # originality, no "flat tonality" as a reason. Only the score, when there is one.
        if sc.overall is not None:
            crit.overall.append(
                w.say(
                    "overall.blank", [LIMITATION_KEY["uniform"]], "overall", "", "overall", score=sc.overall
                )
            )
        crit.notes.append(
            "The image shows no structure, so nothing in it can be judged: no attribute or "
            "level paragraphs were written."
        )
        return crit
    crit.overall = _overall(w, sc, band, band_word)
    for attr, statements in _attribute_statements(w).items():
        crit.attributes[attr] = _attribute_paragraph(w, sc, attr, statements, band_word)
    for level, statements in _level_statements(w).items():
        sents = [s for st in statements if (s := st("", level, "level." + level)) is not None]
        crit.levels[level] = sents or [w.cannot("", level, "level." + level)]
    if not sc.attributes:
        crit.notes.append(
            "This model gives no attribute scores: the attribute paragraphs describe measured properties, "
            "not scored attributes."
        )
    if ev.limitations:
        crit.notes.append("Limitations: " + ", ".join(ev.limitations) + ".")
    return crit


class EmbeddedCritic:
    """The offline critic: measure the image, then compose (implements ``Critic``)."""

    name = "embedded"

    def __init__(self, language: str = "en") -> None:
        self.language = language

    def critique(self, image: Image.Image, assessment: Assessment | None) -> Critique:
        from artjudge.features.evidence import measure

        return compose(assessment, measure(image), language=self.language)


__all__ = [
    "ABSTRACT_THRESHOLD",
    "COOL_THRESHOLD",
    "LEVELS",
    "REALISTIC_THRESHOLD",
    "WARM_THRESHOLD",
    "EmbeddedCritic",
    "compose",
    "score_band",
    "style_category",
    "warmth_category",
]
