"""Pydantic models at the HTTP edge.

The record responses are not mirrored here: ``Assessment`` and ``ProcessAssessment`` are
the stdlib dataclasses of :mod:`artjudge.record`, which pydantic (and so FastAPI) takes as
response models directly, so the OpenAPI schema, the JSON the routes return and
``docs/*.schema.json`` all come from one definition.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, TypeAdapter

from artjudge.record import Assessment, ProcessAssessment

#: Response models of /v1/assess and /v1/process (the record dataclasses themselves).
AssessmentOut = Assessment
ProcessOut = ProcessAssessment


def record_adapter(kind: str = "assessment") -> TypeAdapter[Assessment] | TypeAdapter[ProcessAssessment]:
    """Pydantic's view of a record: ``.validate_python(d)`` checks a dict, ``.json_schema()`` describes it."""
    return TypeAdapter(Assessment) if kind == "assessment" else TypeAdapter(ProcessAssessment)


class CompareOut(BaseModel):
    a: Assessment
    b: Assessment
    better: Literal["a", "b", "tie"]
    p_a_better: float = Field(description="P(score_a > score_b) under independent normal score errors")


class ModelStatus(BaseModel):
    name: str
    kind: str
    loaded: bool
    model_id: str | None = None
    model_version: str | None = None
    error: str | None = None


class ModelsOut(BaseModel):
    default: str
    models: list[ModelStatus]


class HealthOut(BaseModel):
    status: str
    version: str
    database: str


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    dimensions: list[str] = Field(default_factory=lambda: ["aesthetics"], min_length=1, max_length=20)
    scale_min: int = 1
    scale_max: int = 7
    pair_design: Literal["round_robin", "random", "locally_dense"] = "round_robin"
    pairs_per_annotator: int = Field(default=0, ge=0, le=5000, description="0: every pair (up to 5000)")
    ratings: bool = Field(default=True, description="also ask each annotator to rate every item")
    instructions: str = Field(default="", max_length=5000)


class CampaignOut(BaseModel):
    id: int
    name: str
    dimensions: list[str]
    scale_min: int
    scale_max: int
    pair_design: str
    pairs_per_annotator: int
    with_ratings: bool
    instructions: str
    design_note: str = ""


class ItemOut(BaseModel):
    id: int
    key: str
    sha256: str
    media_type: str


class AnnotatorIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class InviteOut(BaseModel):
    annotator_id: int
    name: str
    token: str = Field(description="shown once; only its SHA-256 is stored")
    link: str
    tasks: int


class ProgressRow(BaseModel):
    annotator_id: int
    name: str
    done: int
    total: int


class TaskOut(BaseModel):
    id: int
    kind: Literal["pair", "rating"]
    dimension: str
    item_a: int
    item_b: int | None = None
    answered: bool
    winner: str | None = None
    score: float | None = None


class MeOut(BaseModel):
    annotator: str
    campaign: str
    instructions: str
    dimensions: list[str]
    scale_min: int
    scale_max: int
    done: int
    total: int
    tasks: list[TaskOut]


class JudgmentIn(BaseModel):
    task_id: int
    winner: Literal["a", "b", "tie"] | None = None
    score: float | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    idempotency_key: str | None = Field(
        default=None,
        max_length=100,
        description="or the Idempotency-Key header; a retry with the same key is stored once",
    )


class JudgmentOut(BaseModel):
    id: int
    task_id: int
    created: bool
    done: int
    total: int
