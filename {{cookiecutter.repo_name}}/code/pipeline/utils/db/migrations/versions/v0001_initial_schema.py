"""The schema as it was when migrations began: source samples, jobs, their transitions and predictions.

A migration is a record of the past: it names every column itself rather than reading schema.py, whose
later changes belong to later migrations.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FEATURE_COLUMNS = tuple(
    f"{stat}_{name}"
    for stat in ("mean", "se", "worst")
    for name in (
        "radius",
        "texture",
        "perimeter",
        "area",
        "smoothness",
        "compactness",
        "concavity",
        "concave_points",
        "symmetry",
        "fractal_dimension",
    )
)
JOB_TYPES = ("collection", "preprocess", "training", "evaluation", "inference")
JOB_STATUSES = ("Created", "Submitted", "InProgress", "Completed", "Failed", "Stopped")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    # Plain strings in the database (no enum type), as schema.py stores them.
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _timestamp(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "source_samples",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        *(sa.Column(name, sa.Float(), nullable=False) for name in FEATURE_COLUMNS),
        sa.PrimaryKeyConstraint("id", name="pk_source_samples"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("job_type", _enum(JOB_TYPES, "job_type"), nullable=False),
        sa.Column("job_name", sa.String(length=63), nullable=False),
        sa.Column("model_name", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("status", _enum(JOB_STATUSES, "job_status"), nullable=False),
        sa.Column("image_uri", sa.String(length=512), nullable=True),
        sa.Column("instance_type", sa.String(length=64), nullable=True),
        sa.Column("upstream_run_ids", sa.JSON(), nullable=False),
        sa.Column("input_uris", sa.JSON(), nullable=False),
        sa.Column("output_uris", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("job_name", name="uq_jobs_job_name"),
    )
    op.create_index("ix_jobs_run_id", "jobs", ["run_id"], unique=True)
    op.create_index("ix_jobs_job_type", "jobs", ["job_type"])
    op.create_index("ix_jobs_model_name", "jobs", ["model_name"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "job_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum(JOB_STATUSES, "job_status"), nullable=False),
        _timestamp("at"),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_transitions_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_transitions"),
    )
    op.create_index("ix_job_transitions_job_id", "job_transitions", ["job_id"])
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("prediction", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["jobs.run_id"], name="fk_predictions_run_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
    )
    op.create_index("ix_predictions_run_id", "predictions", ["run_id"])
    op.create_index("ix_predictions_sample_id", "predictions", ["sample_id"])


def downgrade() -> None:
    for table in ("predictions", "job_transitions", "jobs", "source_samples"):
        op.drop_table(table)
