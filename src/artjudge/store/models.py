"""SQLAlchemy tables of the store: cached assessments and annotation campaigns.

The schema is created and upgraded only through the Alembic migrations in
``store/migrations`` so that SQLite and PostgreSQL databases evolve the same way; these
classes are the single description both the migrations and the repository read.
Secrets never appear here in clear: every token column holds a SHA-256 hex digest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class AssessmentRow(Base):
    """One Assessment record, cached by the image's content hash and the model (id and version) that scored it.

    The version carries a digest of the model's files, so a retrained model never serves its
    predecessor's records.
    """

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("sha256", "model_id", "model_version", "with_critique", name="uq_assessment_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    with_critique: Mapped[bool] = mapped_column(default=False)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class Organiser(Base):
    """The organiser role: campaigns belong to it, not to a token. Its tokens are :class:`OrganiserToken` rows.

    ``token_hash`` is the hash of the first token (kept for the schema's unique constraint);
    authentication reads only ``organiser_tokens``, where tokens can be revoked.
    """

    __tablename__ = "organisers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OrganiserToken(Base):
    """One bearer token of an organiser (its SHA-256 only), revocable; ``source`` says who made it."""

    __tablename__ = "organiser_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organisers.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(20), default="cli")  # "env" | "cli" | "generated" | "legacy"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organisers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    dimensions: Mapped[list[str]] = mapped_column(JSON)
    scale_min: Mapped[int] = mapped_column(Integer, default=1)
    scale_max: Mapped[int] = mapped_column(Integer, default=7)
    pair_design: Mapped[str] = mapped_column(String(40), default="round_robin")
    pairs_per_annotator: Mapped[int] = mapped_column(Integer, default=0)
    with_ratings: Mapped[bool] = mapped_column(default=True)
    design_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Item(Base):
    """An image to judge; uploaded bytes live in ``data``, folder items keep only their path."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("campaign_id", "key", name="uq_item_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(40))
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Annotator(Base):
    __tablename__ = "annotators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Task(Base):
    """One unit of work for one annotator: rate an item, or compare two, on one dimension."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # "pair" | "rating"
    dimension: Mapped[str] = mapped_column(String(100))
    item_a_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    item_b_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True)


class Judgment(Base):
    """An acknowledged answer. One per task; one per (annotator, idempotency key)."""

    __tablename__ = "judgments"
    __table_args__ = (
        UniqueConstraint("task_id", name="uq_judgment_task"),
        UniqueConstraint("annotator_id", "idempotency_key", name="uq_judgment_idem"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    dimension: Mapped[str] = mapped_column(String(100))
    winner: Mapped[str | None] = mapped_column(String(4), nullable=True)  # "a" | "b" | "tie"
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
