"""cached assessments keyed on the model's version too

Revision ID: 0004_assessment_version_key
Revises: 0003_grading
Create Date: 2026-12-06 04:45:00

The result cache was unique on (content hash, model id, critique): two models with one id
(every CSV-trained model was ``artjudge-custom``), or one model retrained, answered with
each other's records. The key now includes ``model_version``, which carries a digest of
every file that changes the model's outputs. Rows already stored keep their old version
string, so no new model ever matches them; they age out through the LRU bound.
"""

from __future__ import annotations

from alembic import op

revision = "0004_assessment_version_key"
down_revision = "0003_grading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_assessment_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_assessment_key", ["sha256", "model_id", "model_version", "with_critique"]
        )


def downgrade() -> None:
    # Two versions of one model may both be cached; the old key keeps the most recently used.
    op.execute(
        "DELETE FROM assessments WHERE id NOT IN (SELECT MAX(id) FROM assessments "
        "GROUP BY sha256, model_id, with_critique)"
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_assessment_key", type_="unique")
        batch_op.create_unique_constraint("uq_assessment_key", ["sha256", "model_id", "with_critique"])
