"""The records every entry point writes: ``Assessment`` (one image) and ``ProcessAssessment``.

The CLI, the HTTP service, the batch runner and the store all emit these, so a score
produced anywhere can be read anywhere. They are the only definition of the shape: the
HTTP response models (``serve.schemas``), ``docs/assessment.schema.json`` and
``docs/process.schema.json`` (``json_schema()`` below) are generated from these
dataclasses, so they cannot drift apart. Every score is on 0-100 with its std (a spread:
the raters' opinion spread for image scores) and, where the model was calibrated on held-out
data, its error ``interval``: two different things, named apart. The schema is versioned;
see docs/record.md.

This module needs the standard library only: the base package must not need pydantic.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, Union

SCHEMA_VERSION = "1.1"
#: Versions ``from_dict`` reads (1.0 records are upgraded: see docs/record.md).
READABLE_VERSIONS = ("1.0", "1.1")
CRITIQUE_VERSION = "1.0"


def _doc(text: str, **schema: Any) -> dict[str, Any]:
    """Field metadata the schema generator reads: a description plus extra JSON Schema keys."""
    return {"description": text, "schema": schema}


@dataclass
class ModelInfo:
    """Which model produced the numbers."""

    id: str = field(metadata=_doc("model id, e.g. artjudge-embedded-agiqa"))
    version: str = field(metadata=_doc("the model's version (its training date for shipped models)"))


@dataclass
class ScoreDistribution:
    """A score on 0-100 with its spread and, where the model gives one, its distribution.

    ``distribution`` holds probabilities over ``bins`` (101 bins 0..100 for Token-As-Score
    heads; 5 levels for Level-As-Score); it is empty when a model only gives mean and std.
    ``std``/``distribution`` are the *opinion* spread (what raters would say); ``interval`` is
    the model's *error* interval for the score, calibrated on held-out data
    (:mod:`artjudge.scoring.intervals`).
    """

    score: float = field(metadata=_doc("0-100, higher is better", minimum=0, maximum=100))
    std: float = field(
        metadata=_doc(
            "standard deviation on the same 0-100 scale (docs/record.md says what it measures per model)",
            minimum=0,
        )
    )
    distribution: list[float] = field(
        default_factory=list, metadata=_doc("probabilities over bins; [] when the model gives none")
    )
    bins: str = field(
        default="0..100", metadata=_doc("what the distribution is over: '0..100' (101 bins) or 'levels:5'")
    )
    interval: list[float] | None = field(
        default=None,
        metadata=_doc(
            "[lo, hi] on 0-100: where the true mean opinion probably lies given the model's error "
            "measured on data it did not fit (not the raters' spread, which is std); null when the "
            "model has no calibrated interval"
        ),
    )
    interval_level: float | None = field(
        default=None, metadata=_doc("the interval's nominal coverage, e.g. 0.9; null without an interval")
    )


# ----------------------------------------------------------------------------- critique


@dataclass
class CritiqueSentence:
    """One critique sentence and the evidence it rests on (``critique.base.Sentence`` as data)."""

    text: str
    evidence_keys: list[str] = field(metadata=_doc("keys of Assessment.evidence this sentence cites"))
    attribute: str = field(default="", metadata=_doc("an ArtiMuse key, 'overall' or 'limitations'"))
    level: str = field(default="", metadata=_doc("perception / cognition / emotion, or ''"))


@dataclass
class CritiqueText:
    """The critique's paragraphs as ready text (each the sentences joined)."""

    overall: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)
    limitations: str = ""


@dataclass
class CritiqueRecord:
    """The written analysis as stored in a record: what ``critique.base.Critique.to_dict`` writes.

    ``scored_attributes`` is False when the model had no attribute scores: the attribute
    paragraphs then describe measured properties, never an invented attribute score.
    """

    language: str
    critic: str = field(metadata=_doc("'embedded' or the VLM critic that wrote it"))
    overall: list[CritiqueSentence] = field(default_factory=list)
    attributes: dict[str, list[CritiqueSentence]] = field(default_factory=dict)
    levels: dict[str, list[CritiqueSentence]] = field(default_factory=dict)
    limitations: list[CritiqueSentence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scored_attributes: bool = False
    version: str = CRITIQUE_VERSION
    text: CritiqueText = field(default_factory=CritiqueText)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CritiqueRecord:
        def sents(items: Any) -> list[CritiqueSentence]:
            return [CritiqueSentence(**s) for s in items or []]

        t = d.get("text") or {}
        return cls(
            language=d["language"],
            critic=d["critic"],
            overall=sents(d.get("overall")),
            attributes={k: sents(v) for k, v in (d.get("attributes") or {}).items()},
            levels={k: sents(v) for k, v in (d.get("levels") or {}).items()},
            limitations=sents(d.get("limitations")),
            notes=list(d.get("notes") or []),
            scored_attributes=bool(d.get("scored_attributes", False)),
            version=d.get("version", CRITIQUE_VERSION),
            text=CritiqueText(
                overall=t.get("overall", ""),
                attributes=dict(t.get("attributes") or {}),
                levels=dict(t.get("levels") or {}),
                limitations=t.get("limitations", ""),
            ),
        )


# ----------------------------------------------------------------------------- evidence


@dataclass
class EvidenceEntry:
    """One measured property (``features.evidence.Measurement`` as data)."""

    key: str
    value: float
    unit: str
    description: str
    reference: dict[str, float] = field(
        default_factory=dict, metadata=_doc("percentiles (p1 ... p99) over AGIQA-3K training images")
    )
    percentile: float | None = field(
        default=None, metadata=_doc("this value's rank among the reference, 0-100")
    )
    qualifier: str = field(default="unrated", metadata=_doc("'very low' ... 'very high', or 'unrated'"))
    detail: dict[str, Any] = field(
        default_factory=dict, metadata=_doc("structured extras a sentence may quote")
    )
    valid: bool = field(default=True, metadata=_doc("False when a limitation makes the value meaningless"))


def evidence_from_dict(d: Mapping[str, Any] | None) -> tuple[dict[str, EvidenceEntry], list[str]]:
    """Entries and limitations from ``features.evidence.Evidence.to_dict()`` (or a 1.0 record's
    ``evidence``, which kept the limitations under ``_limitations``)."""
    d = d or {}
    entries = {
        k: v if isinstance(v, EvidenceEntry) else EvidenceEntry(**v)
        for k, v in d.items()
        if not k.startswith("_")
    }
    return entries, list(d.get("_limitations") or [])


# ----------------------------------------------------------------------------- consistency


@dataclass
class ConsistencyElement:
    """One element of a prompt (or one reference similarity) and what the image showed of it."""

    element: str = field(metadata=_doc("the element as named: 'car', 'red on car', '2 x dog', 'anime style'"))
    kind: str = field(metadata=_doc("object, colour, count, style, attribute, clip or reference"))
    checked: bool = field(metadata=_doc("False when no offline model can check it (it is then not scored)"))
    confidence: float = field(
        metadata=_doc("0-1: how strongly the image shows it; 0 when unchecked", minimum=0, maximum=1)
    )
    evidence: str = field(metadata=_doc("what was found (or why it was not checked)"))


@dataclass
class Consistency:
    """Agreement of the image with its prompt or a reference image, on 0-100 (docs/consistency.md)."""

    score: float = field(metadata=_doc("0-100, higher is more consistent", minimum=0, maximum=100))
    std: float = field(
        metadata=_doc(
            "spread on the same 0-100 scale: for a prompt, the calibration's out-of-fold residual std; "
            "for a reference, the spread of its three components; 0 for clip (docs/consistency.md)",
            minimum=0,
        )
    )
    source: str = field(metadata=_doc("'prompt', 'reference' or 'clip'"))
    model: str = field(metadata=_doc("what produced it, with its version"))
    prompt: str = field(default="", metadata=_doc("the prompt checked; '' for a reference"))
    reference: str = field(default="", metadata=_doc("the reference image; '' for a prompt"))
    elements: list[ConsistencyElement] = field(default_factory=list, metadata=_doc("each element checked"))
    components: dict[str, float] = field(
        default_factory=dict, metadata=_doc("named parts of the score (quality; content, layout, palette)")
    )
    interval: list[float] | None = field(
        default=None,
        metadata=_doc(
            "[lo, hi] on 0-100: where the raters' mean agreement score probably lies given the model's "
            "error on held-out images; null where no human target calibrates it (reference, clip)"
        ),
    )
    interval_level: float | None = field(
        default=None, metadata=_doc("the interval's nominal coverage, e.g. 0.9; null without an interval")
    )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Consistency:
        return cls(
            **{
                **d,
                "elements": [ConsistencyElement(**e) for e in d.get("elements") or []],
                "components": dict(d.get("components") or {}),
            }
        )


# ----------------------------------------------------------------------------- records


@dataclass
class Assessment:
    """One scored input. ``attributes`` is empty when the model has no attribute heads."""

    input: str = field(metadata=_doc("the input as given: a path, or a label such as <upload>"))
    sha256: str = field(metadata=_doc("SHA-256 of the input's bytes", pattern="^[0-9a-f]{64}$"))
    model: ModelInfo
    overall: ScoreDistribution
    attributes: dict[str, ScoreDistribution] = field(
        default_factory=dict,
        metadata=_doc(
            "one entry per attribute the model was trained on with human labels; {} when it has none"
        ),
    )
    critique: CritiqueRecord | None = field(
        default=None, metadata=_doc("the written analysis, when asked for")
    )
    evidence: dict[str, EvidenceEntry] = field(
        default_factory=dict, metadata=_doc("the measured values the critique cites, keyed by evidence name")
    )
    evidence_limitations: list[str] = field(
        default_factory=list,
        metadata=_doc("conditions (uniform, tiny, transparency, achromatic) that made some evidence invalid"),
    )
    notes: list[str] = field(
        default_factory=list, metadata=_doc("what was done to the input (EXIF rotation, ...)")
    )
    timings: dict[str, float] = field(default_factory=dict, metadata=_doc("seconds per stage"))
    consistency: Consistency | None = field(
        default=None, metadata=_doc("agreement with a prompt or reference, when one was given")
    )
    schema_version: str = field(
        default=SCHEMA_VERSION, metadata=_doc("record schema version", enum=[SCHEMA_VERSION])
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def set_evidence(self, evidence: Mapping[str, Any]) -> None:
        """Store ``features.evidence.Evidence.to_dict()`` as typed entries plus limitations."""
        self.evidence, self.evidence_limitations = evidence_from_dict(evidence)

    def set_critique(self, critique: Mapping[str, Any] | CritiqueRecord | None) -> None:
        """Store ``critique.base.Critique.to_dict()`` (or a ``CritiqueRecord``) as the typed critique."""
        self.critique = (
            critique
            if critique is None or isinstance(critique, CritiqueRecord)
            else CritiqueRecord.from_dict(critique)
        )

    def evidence_dict(self) -> dict[str, Any]:
        """The evidence in the shape ``features.evidence.Evidence.from_dict`` reads (with ``_limitations``)."""
        return {
            **{k: asdict(v) for k, v in self.evidence.items()},
            "_limitations": list(self.evidence_limitations),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Assessment:
        """A record from its dict; 1.0 records are upgraded (``evidence._limitations`` moves out)."""
        _check_version(d, "assessment")
        evidence, limits = evidence_from_dict(d.get("evidence"))
        crit = d.get("critique")
        return cls(
            input=d["input"],
            sha256=d["sha256"],
            model=ModelInfo(**d["model"]),
            overall=ScoreDistribution(**d["overall"]),
            attributes={k: ScoreDistribution(**v) for k, v in (d.get("attributes") or {}).items()},
            critique=None if crit is None else CritiqueRecord.from_dict(crit),
            evidence=evidence,
            evidence_limitations=list(d.get("evidence_limitations") or limits),
            notes=list(d.get("notes") or []),
            timings=dict(d.get("timings") or {}),
            consistency=None if d.get("consistency") is None else Consistency.from_dict(d["consistency"]),
        )


@dataclass
class ProcessAssessment:
    """The verdict on one painting process: the 8 PROCESS attributes on 0-100 and their timeline.

    ``attributes[k].std`` is the judge's measured error on held-out processes (not a
    distribution it predicts); PPJudge's 1-10 reading of a score is ``score / 10``.
    """

    source: str = field(metadata=_doc("the video or folder as given, or '<frames>' / '<N frames>'"))
    model: ModelInfo
    attributes: dict[str, ScoreDistribution] = field(
        metadata=_doc(
            "final score per PROCESS attribute, 0-100; no 'consistency' without a reference or prompt"
        )
    )
    timeline: list[dict[str, float]] = field(
        metadata=_doc("the 8 scores (0-100) after each key frame, in order; the last equals attributes")
    )
    keyframe_indices: list[int] = field(metadata=_doc("frame indices in the source that were judged"))
    sha256: str = field(
        default="", metadata=_doc("SHA-256 of the source file's bytes (a video); '' otherwise")
    )
    frame_sha256: list[str] = field(
        default_factory=list,
        metadata=_doc("SHA-256 of each judged key frame's RGB pixels (mode, size, bytes)"),
    )
    notes: list[str] = field(default_factory=list)
    reference: str | None = field(default=None, metadata=_doc("the reference image, when one was given"))
    prompt: str | None = field(default=None, metadata=_doc("the text prompt, when one was given"))
    timings: dict[str, float] = field(default_factory=dict, metadata=_doc("seconds per stage"))
    signals: dict[str, list[dict[str, float]]] = field(
        default_factory=dict,
        metadata=_doc(
            "measured canvas signals (artjudge.features.process_signals): 'frames' per judged "
            "frame (coverage, saturation, ...), 'steps' between consecutive frames"
        ),
    )
    cant_tell: dict[str, str] = field(
        default_factory=dict,
        metadata=_doc(
            "attributes asked for but not scored because the judge was measured unable to tell "
            "(e.g. consistency where a right prompt does not score above a wrong one): "
            "attribute -> why, with the measured figures; such an attribute is in neither "
            "attributes nor timeline"
        ),
    )
    schema_version: str = field(
        default=SCHEMA_VERSION, metadata=_doc("record schema version", enum=[SCHEMA_VERSION])
    )

    @property
    def scores(self) -> dict[str, float]:
        """Final scores on 0-100 (``{k: attributes[k].score}``)."""
        return {k: v.score for k, v in self.attributes.items()}

    def scores_1_10(self) -> dict[str, float]:
        """PPJudge's 1-10 reading of the final scores (``score / 10``), for display only."""
        return {k: round(v.score / 10.0, 4) for k, v in self.attributes.items()}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProcessAssessment:
        _check_version(d, "process assessment")
        return cls(
            source=d["source"],
            model=ModelInfo(**d["model"]),
            attributes={k: ScoreDistribution(**v) for k, v in d["attributes"].items()},
            timeline=[dict(t) for t in d["timeline"]],
            keyframe_indices=list(d["keyframe_indices"]),
            sha256=d.get("sha256", ""),
            frame_sha256=list(d.get("frame_sha256") or []),
            notes=list(d.get("notes") or []),
            reference=d.get("reference"),
            prompt=d.get("prompt"),
            timings=dict(d.get("timings") or {}),
            signals={k: [dict(r) for r in v] for k, v in (d.get("signals") or {}).items()},
            cant_tell=dict(d.get("cant_tell") or {}),
        )


@dataclass
class Failure:
    """An input that could not be assessed, with the reason, as written by batch runs."""

    input: str
    error: str
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_version(d: Mapping[str, Any], what: str) -> None:
    v = d.get("schema_version", SCHEMA_VERSION)
    if str(v) not in READABLE_VERSIONS:  # str(): pandas' read_json turns "1.1" into the float 1.1
        raise ValueError(
            f"{what} record: schema_version {v!r} is not one this artjudge reads "
            f"({', '.join(READABLE_VERSIONS)})"
        )


# ----------------------------------------------------------------------------- JSON Schema

SCHEMA_FILES = {"assessment": "assessment.schema.json", "process": "process.schema.json"}
_TITLES = {
    "assessment": (Assessment, "artjudge Assessment record"),
    "process": (ProcessAssessment, "artjudge ProcessAssessment record"),
}


def json_schema(kind: str = "assessment") -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a record, generated from the dataclasses above.

    ``kind`` is "assessment" or "process". Objects are closed (``additionalProperties:
    false``) so a field added to a producer but not to the dataclass fails validation.
    ``docs/*.schema.json`` are this function's output (``python scripts/generate_record_schemas.py``).
    """
    if kind not in _TITLES:
        raise ValueError(f"schema kind {kind!r}: expected one of {', '.join(_TITLES)}")
    root, title = _TITLES[kind]
    defs: dict[str, Any] = {}
    body = _object_schema(root, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"artjudge/{kind}/{SCHEMA_VERSION}",
        "title": title,
        "description": f"{_first_line(root)} Generated from artjudge.record.{root.__name__}; see docs/record.md.",
        **body,
        "$defs": dict(sorted(defs.items())),
    }


def _first_line(cls: type) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0]


def _object_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in fields(cls):
        s = _type_schema(hints[f.name], defs)
        meta: Mapping[str, Any] = f.metadata or {}
        if meta.get("description"):
            s = {**s, "description": meta["description"]}
        s.update(meta.get("schema") or {})
        props[f.name] = s
        if f.default is MISSING and f.default_factory is MISSING:
            required.append(f.name)
    return {"type": "object", "required": required, "properties": props, "additionalProperties": False}


def _type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return {}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = [_type_schema(a, defs) for a in options]
        if type(None) in args:
            if len(inner) == 1 and "type" in inner[0] and isinstance(inner[0]["type"], str):
                return {**inner[0], "type": [inner[0]["type"], "null"]}
            inner.append({"type": "null"})
        return inner[0] if len(inner) == 1 else {"anyOf": inner}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1], defs)}
    if isinstance(tp, type) and is_dataclass(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # reserve first: recursion-safe
            defs[tp.__name__] = {"description": _first_line(tp), **_object_schema(tp, defs)}
        return {"$ref": f"#/$defs/{tp.__name__}"}
    simple = {str: "string", float: "number", int: "integer", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"record schema: no JSON Schema for field type {tp!r}")


def schema_text(kind: str) -> str:
    """The committed file's exact text for ``kind`` (stable key order, trailing newline)."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"
