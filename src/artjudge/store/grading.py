"""Tables of the grading page (``/grade``): a teacher's rubrics, works, grades and model state.

Kept apart from ``store/models.py`` (the campaigns' tables) but on the same declarative
``Base``, so the one Alembic history (migration ``0003_grading``) creates them. A grade is one
row per work, rewritten in place when the teacher corrects it; every write commits before the
service answers, so an acknowledged grade survives a crash. The learner's state (skill,
calibration, predictions, the order to grade in) is one JSON row per rubric: it is derived
from the grades and features, so losing it costs a retraining, never a grade.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from artjudge.store.models import Base, utcnow


class GradeRubric(Base):
    """A teacher's rubric: attributes graded on one integer scale, optional words per level."""

    __tablename__ = "grade_rubrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organisers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[list[str]] = mapped_column(JSON)
    scale_min: Mapped[int] = mapped_column(Integer, default=1)
    scale_max: Mapped[int] = mapped_column(Integer, default=5)
    descriptors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {attr: {level: text}}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GradeWork(Base):
    """A work to grade; uploaded bytes live in ``data``, folder works keep only their path."""

    __tablename__ = "grade_works"
    __table_args__ = (UniqueConstraint("rubric_id", "key", name="uq_grade_work_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("grade_rubrics.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(40))
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # last generated critique
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Grade(Base):
    """The teacher's grade of one work: one integer per attribute, a note, and where it came from.

    ``source`` is "teacher" (graded without a proposal), "accepted" (the model's proposal
    taken as is) or "corrected" (a proposal changed); ``proposal`` keeps what was proposed.
    """

    __tablename__ = "grades"
    __table_args__ = (UniqueConstraint("work_id", name="uq_grade_work"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("grade_rubrics.id", ondelete="CASCADE"), index=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("grade_works.id", ondelete="CASCADE"))
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(12), default="teacher")
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GradeModelState(Base):
    """The learner's latest state for one rubric (JSON): skill, calibration, predictions, order."""

    __tablename__ = "grade_models"
    __table_args__ = (UniqueConstraint("rubric_id", name="uq_grade_model_rubric"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("grade_rubrics.id", ondelete="CASCADE"))
    n_graded: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="collecting")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
