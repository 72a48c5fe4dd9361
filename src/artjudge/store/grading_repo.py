"""Reads and writes of the grading page, one function each; every writer commits before returning.

A caller that acknowledges a grade to the teacher has therefore already made it durable
(SQLite in WAL mode with ``synchronous=FULL``, see ``store/db.py``). Anything outside the
caller's reach answers :class:`NotFound`, exactly as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from artjudge.errors import InputError
from artjudge.store.grading import Grade, GradeModelState, GradeRubric, GradeWork
from artjudge.store.models import utcnow
from artjudge.store.repo import MAX_DIMENSION_CHARS, MAX_DIMENSIONS, Conflict, NotFound, check_name

MAX_SCALE_LEVELS = 11
MAX_DESCRIPTOR_CHARS = 300
MAX_NOTE_CHARS = 4000
SOURCES = ("teacher", "accepted", "corrected")


def _check_rubric(
    attributes: Sequence[str], scale_min: int, scale_max: int, descriptors: dict[str, dict[str, str]]
) -> tuple[list[str], dict[str, dict[str, str]]]:
    attrs = [check_name(a, "attributes", MAX_DIMENSION_CHARS) for a in attributes]
    if not attrs or len(attrs) > MAX_DIMENSIONS:
        raise InputError("attributes", f"give 1 to {MAX_DIMENSIONS} attributes")
    if len(set(attrs)) != len(attrs):
        raise InputError("attributes", "each attribute may appear once")
    if not 2 <= scale_max - scale_min + 1 <= MAX_SCALE_LEVELS:
        raise InputError("scale", f"{scale_min}-{scale_max}: use 2 to {MAX_SCALE_LEVELS} integer levels")
    clean: dict[str, dict[str, str]] = {}
    for attr, levels in (descriptors or {}).items():
        if attr not in attrs:
            raise InputError("descriptors", f"{attr!r} is not one of the attributes")
        out: dict[str, str] = {}
        for level, text in (levels or {}).items():
            if not str(level).lstrip("-").isdigit() or not scale_min <= int(level) <= scale_max:
                raise InputError("descriptors", f"{attr}: level {level!r} is not on the scale")
            if str(text).strip():
                out[str(int(level))] = check_name(str(text), f"descriptors.{attr}", MAX_DESCRIPTOR_CHARS)
        if out:
            clean[attr] = out
    return attrs, clean


def create_rubric(
    s: Session,
    organiser_id: int,
    name: str,
    attributes: Sequence[str],
    scale_min: int,
    scale_max: int,
    descriptors: dict[str, dict[str, str]] | None = None,
) -> GradeRubric:
    attrs, desc = _check_rubric(attributes, scale_min, scale_max, descriptors or {})
    r = GradeRubric(
        organiser_id=organiser_id,
        name=check_name(name, "name"),
        attributes=attrs,
        scale_min=scale_min,
        scale_max=scale_max,
        descriptors=desc,
    )
    s.add(r)
    s.commit()
    return r


def list_rubrics(s: Session, organiser_id: int) -> list[GradeRubric]:
    return list(
        s.scalars(
            select(GradeRubric).where(GradeRubric.organiser_id == organiser_id).order_by(GradeRubric.id)
        )
    )


def rubric_for_organiser(s: Session, rubric_id: int, organiser_id: int) -> GradeRubric:
    r = s.get(GradeRubric, rubric_id)
    if r is None or r.organiser_id != organiser_id:
        raise NotFound(f"rubric {rubric_id}: not found")
    return r


def add_works(s: Session, rubric_id: int, staged: Sequence[dict[str, Any]]) -> list[GradeWork]:
    """All staged works in one transaction (all or nothing); a key already present is a conflict."""
    works = [
        GradeWork(
            rubric_id=rubric_id,
            key=w["key"],
            sha256=w["sha256"],
            media_type=w["media_type"],
            path=w.get("path"),
            data=w.get("data"),
        )
        for w in staged
    ]
    keys = [w.key for w in works]
    if len(set(keys)) != len(keys):
        raise Conflict("works: two files have the same name")
    s.add_all(works)
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        raise Conflict("works: a work with one of these names is already in the rubric") from None
    return works


def list_works(s: Session, rubric_id: int) -> list[GradeWork]:
    return list(s.scalars(select(GradeWork).where(GradeWork.rubric_id == rubric_id).order_by(GradeWork.id)))


def work_in_rubric(s: Session, rubric_id: int, work_id: int) -> GradeWork:
    w = s.get(GradeWork, work_id)
    if w is None or w.rubric_id != rubric_id:
        raise NotFound(f"work {work_id}: not found")
    return w


def grades_of(s: Session, rubric_id: int) -> dict[int, Grade]:
    """Every grade of a rubric by work id."""
    return {g.work_id: g for g in s.scalars(select(Grade).where(Grade.rubric_id == rubric_id))}


def count_grades(s: Session, rubric_id: int) -> int:
    return int(s.scalar(select(func.count()).select_from(Grade).where(Grade.rubric_id == rubric_id)) or 0)


def put_grade(
    s: Session,
    rubric: GradeRubric,
    work_id: int,
    scores: dict[str, int],
    note: str = "",
    source: str = "teacher",
    proposal: dict[str, Any] | None = None,
) -> tuple[Grade, bool]:
    """Store (or replace) a work's grade; committed before returning. Returns (grade, created)."""
    work_in_rubric(s, rubric.id, work_id)
    missing = [a for a in rubric.attributes if a not in scores]
    extra = [a for a in scores if a not in rubric.attributes]
    if missing or extra:
        raise InputError("scores", f"give exactly the rubric's attributes ({', '.join(rubric.attributes)})")
    for a, v in scores.items():
        if isinstance(v, bool) or not isinstance(v, int) or not rubric.scale_min <= v <= rubric.scale_max:
            raise InputError(
                f"scores.{a}", f"{v!r} is not an integer from {rubric.scale_min} to {rubric.scale_max}"
            )
    if source not in SOURCES:
        raise InputError("source", f"{source!r} is not one of {', '.join(SOURCES)}")
    if len(note) > MAX_NOTE_CHARS:
        raise InputError("note", f"{len(note)} characters is over the limit of {MAX_NOTE_CHARS}")
    g = s.scalars(select(Grade).where(Grade.work_id == work_id)).first()
    created = g is None
    if g is None:
        g = Grade(rubric_id=rubric.id, work_id=work_id, scores={}, note="")
        s.add(g)
    g.scores = dict(scores)
    g.note = note
    g.source = source
    g.proposal = proposal
    g.updated_at = utcnow()
    try:
        s.commit()
    except IntegrityError:  # a concurrent first grade of the same work: the other one is stored
        s.rollback()
        return put_grade(s, rubric, work_id, scores, note, source, proposal)
    return g, created


def model_state(s: Session, rubric_id: int) -> GradeModelState | None:
    return s.scalars(select(GradeModelState).where(GradeModelState.rubric_id == rubric_id)).first()


def save_model_state(
    s: Session, rubric_id: int, n_graded: int, status: str, state: dict[str, Any], error: str = ""
) -> GradeModelState:
    """Replace the learner's state for a rubric (one row per rubric)."""
    row = model_state(s, rubric_id)
    if row is None:
        row = GradeModelState(rubric_id=rubric_id)
        s.add(row)
    row.n_graded = n_graded
    row.status = status
    row.state = state
    row.error = error
    row.updated_at = utcnow()
    s.commit()
    return row


def save_feedback(s: Session, work: GradeWork, feedback: dict[str, Any]) -> None:
    work.feedback = feedback
    s.commit()
