"""grading page: rubrics, works, grades, learner state

Revision ID: 0003_grading
Revises: 0002
Create Date: 2026-12-06 04:30:00

The tables of ``artjudge.store.grading`` (the teacher's loop at ``/grade``). New tables
only: nothing existing changes, so upgrading keeps every campaign and cached assessment.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_grading"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grade_rubrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("scale_min", sa.Integer(), nullable=False),
        sa.Column("scale_max", sa.Integer(), nullable=False),
        sa.Column("descriptors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organiser_id"], ["organisers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("grade_rubrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grade_rubrics_organiser_id"), ["organiser_id"], unique=False)
    op.create_table(
        "grade_works",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rubric_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("feedback", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rubric_id"], ["grade_rubrics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rubric_id", "key", name="uq_grade_work_key"),
    )
    with op.batch_alter_table("grade_works", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grade_works_rubric_id"), ["rubric_id"], unique=False)
    op.create_table(
        "grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rubric_id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rubric_id"], ["grade_rubrics.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["work_id"], ["grade_works.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("work_id", name="uq_grade_work"),
    )
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grades_rubric_id"), ["rubric_id"], unique=False)
    op.create_table(
        "grade_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rubric_id", sa.Integer(), nullable=False),
        sa.Column("n_graded", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rubric_id"], ["grade_rubrics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rubric_id", name="uq_grade_model_rubric"),
    )


def downgrade() -> None:
    op.drop_table("grade_models")
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grades_rubric_id"))
    op.drop_table("grades")
    with op.batch_alter_table("grade_works", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grade_works_rubric_id"))
    op.drop_table("grade_works")
    with op.batch_alter_table("grade_rubrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grade_rubrics_organiser_id"))
    op.drop_table("grade_rubrics")
