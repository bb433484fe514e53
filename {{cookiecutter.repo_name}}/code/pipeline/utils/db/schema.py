"""Tables: the example's source data, every job with its status history, the predictions written back, and
the model versions the local pipeline registered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from utils.db.enum import JobStatus, JobType

# The 30 measurements of sklearn's breast cancer dataset, named as the job image's raw data contract names
# them (code/container/<model>/utils/schema.py).
FEATURE_COLUMNS: tuple[str, ...] = tuple(
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


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Every constraint and index has a predictable name, so a migration can drop or alter it by name on
    # PostgreSQL and on SQLite (whose batch mode rebuilds the table) alike.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class SourceSample(Base):
    """The data collection extracts; one row per sample, features in FEATURE_COLUMNS order."""

    __tablename__ = "source_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


# Feature columns are added from the tuple so the ORM, the CSV header and the seed stay in one order.
for _column in FEATURE_COLUMNS:
    setattr(SourceSample, _column, mapped_column(_column, Float, nullable=False))


def _enum(enum_class: type[JobType] | type[JobStatus], name: str) -> Enum:
    # Stored as plain strings (no database enum type) so adding a status needs no migration.
    return Enum(
        enum_class, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class Job(Base):
    """One batch run: the SageMaker job it submitted (if any), its inputs, outputs and outcome."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    job_type: Mapped[JobType] = mapped_column(_enum(JobType, "job_type"), index=True)
    job_name: Mapped[str] = mapped_column(String(63), unique=True)
    # The model (folder of code/container/) the job ran for; upstream lookups stay within one model.
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), index=True)
    image_uri: Mapped[str | None] = mapped_column(String(512))
    instance_type: Mapped[str | None] = mapped_column(String(64))
    upstream_run_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    input_uris: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output_uris: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, onupdate=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    transitions: Mapped[list[JobTransition]] = relationship(
        back_populates="job", order_by="JobTransition.id", cascade="all, delete-orphan"
    )


class JobTransition(Base):
    """Every status a job went through, with when."""

    __tablename__ = "job_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    message: Mapped[str | None] = mapped_column(Text)

    job: Mapped[Job] = relationship(back_populates="transitions")


class Prediction(Base):
    """What an inference run predicted for a source sample."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("jobs.run_id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[int] = mapped_column(Integer, index=True)
    prediction: Mapped[int] = mapped_column(Integer)
    probability: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ModelVersion(Base):
    """A model the local SageMaker pipeline registered after its quality gate passed: the local stand-in for
    a version of the model package group, with a person's decision on it (SageMaker's approval statuses)."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    # Counts up from 1 for each model, as a model package group numbers its versions.
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    # The model archive and the evaluation report, in the run folder the execution's outputs were copied to.
    model_data: Mapped[str] = mapped_column(String(1024))
    report: Mapped[str | None] = mapped_column(String(1024))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pipeline_execution: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, onupdate=utc_now)
