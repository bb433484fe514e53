"""Everything the batches ask of the database, on SQLite or PostgreSQL alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.pool import NullPool

from utils.db import migrate
from utils.db.enum import JobStatus, JobType
from utils.db.schema import (
    FEATURE_COLUMNS,
    Job,
    JobTransition,
    ModelVersion,
    Prediction,
    SourceSample,
    utc_now,
)
from utils.errors import DatabaseError
from utils.job_specs import ID_COLUMN, LABEL_COLUMN

SOURCE_COLUMNS: tuple[str, ...] = (ID_COLUMN, *FEATURE_COLUMNS, LABEL_COLUMN)
UPGRADE_COMMAND = "poetry run python -m utils.db upgrade --env <env>"
# How long an upgrade or seed waits for another process's to finish before giving up.
LOCK_WAIT_SECONDS = 120
# Any fixed number: PostgreSQL advisory locks are per database, and only the upgrade and the seed take it.
_POSTGRES_LOCK_KEY = 20_261_202


@dataclass(frozen=True)
class PredictionRow:
    sample_id: int
    prediction: int
    probability: float | None


def _is_under(location: str, folder: str) -> bool:
    return location == folder or location.startswith(folder.rstrip("/") + "/")


def _newer_schema(current: str, head: str) -> str:
    return (
        f"the job database schema is at revision {current}, newer than this checkout's latest ({head}); "
        "update the checkout"
    )


def run_folder_jobs(jobs: Sequence[Job], folder: str) -> list[Job]:
    """The jobs whose outputs lie in one local run folder, oldest first."""
    return sorted(
        (
            job
            for job in jobs
            if job.output_uris and all(_is_under(u, folder) for u in job.output_uris.values())
        ),
        key=lambda job: job.id,
    )


def create_db_engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url, **{"pool_pre_ping": True, **options})


def _locking_engine(url: str) -> Engine:
    """An engine for one locked transaction: on SQLite every transaction begins with the write lock
    (BEGIN IMMEDIATE); on PostgreSQL `DbAdapter._locked` takes an advisory lock."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_db_engine(url, poolclass=NullPool)
    engine = create_db_engine(url, poolclass=NullPool, connect_args={"timeout": LOCK_WAIT_SECONDS})

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_sqlalchemy(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3 itself would start no transaction before DDL; the BEGIN below then covers migrations too.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_with_the_write_lock(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def describe_error(url: str, error: Exception) -> str:
    """A database error in one line: which database (password hidden) and the driver's own first line."""
    original = getattr(error, "orig", None)
    lines = [line.strip() for line in str(original or error).splitlines() if line.strip()]
    where = make_url(url).render_as_string(hide_password=True)
    return f"job database {where}: {lines[0] if lines else type(error).__name__}"


class DbAdapter:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # Schema and source data

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        """One transaction holding the database's lock, so that of two processes upgrading or seeding at
        once, the second waits for the first to commit and then finds the work done. Any database error
        becomes a one-line `DatabaseError`."""
        from alembic.util import CommandError  # only the schema work under this lock loads Alembic

        engine = _locking_engine(self.url)
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
                    )
                yield connection
        except (SQLAlchemyError, CommandError) as exc:
            raise DatabaseError(describe_error(self.url, exc)) from None
        finally:
            engine.dispose()

    def upgrade_schema(self) -> tuple[str | None, str]:
        """Apply every migration the database lacks; returns its revision before (None: no schema yet;
        `migrate.UNRECORDED`: schema.py's tables without a migration record, now recorded) and after.

        Tables made without migrations (`create_all`) that match schema.py are recorded as the latest
        revision; tables that differ are refused, never altered."""
        head = migrate.head_revision()
        with self._locked() as connection:
            before = migrate.current_revision(connection)
            if before is not None and before not in migrate.known_revisions():
                raise DatabaseError(_newer_schema(before, head))
            if before is None and migrate.has_schema_tables(connection):
                differences = migrate.schema_differences(connection)
                if differences:
                    raise DatabaseError(
                        "the job database has tables but no migration record, and they differ from "
                        f"utils/db/schema.py ({len(differences)} difference(s), first: {differences[0]!r}); "
                        f"nothing was changed: move them aside, or bring them in line and run "
                        f"`{UPGRADE_COMMAND}` again"
                    )
                migrate.stamp(connection, head)
                return migrate.UNRECORDED, head
            migrate.upgrade(connection)
        return before, head

    def require_schema(self) -> None:
        """Refuse a database whose schema is missing or at another migration than this code's latest."""
        try:
            with self.engine.connect() as connection:
                current = migrate.current_revision(connection)
        except SQLAlchemyError as exc:
            raise DatabaseError(describe_error(self.url, exc)) from None
        head = migrate.head_revision()
        if current == head:
            return
        if current is None:
            raise DatabaseError(f"the job database has no schema yet; create it: `{UPGRADE_COMMAND}`")
        if current not in migrate.known_revisions():
            raise DatabaseError(_newer_schema(current, head))
        raise DatabaseError(
            f"the job database schema is at revision {current}, this code needs {head}: `{UPGRADE_COMMAND}`"
        )

    def count_source_samples(self) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(SourceSample)) or 0

    def seed_source_samples(self, load_rows: Callable[[], Sequence[dict[str, Any]]]) -> int:
        """Insert the loaded rows only when the table is empty, checked again under the lock: seeding twice,
        even from two processes at once, never duplicates data, and a seeded table never even loads them."""
        try:
            if self.count_source_samples():
                return 0
        except SQLAlchemyError as exc:
            raise DatabaseError(describe_error(self.url, exc)) from None
        rows = list(load_rows())
        with self._locked() as connection:
            if connection.scalar(select(func.count()).select_from(SourceSample)):
                return 0
            connection.execute(insert(SourceSample), rows)
        return len(rows)

    def source_samples_csv(self) -> tuple[str, int]:
        """All source rows as CSV text (header first, ordered by id) and the row count."""
        table = SourceSample.__table__
        columns = [table.c[name] for name in SOURCE_COLUMNS]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(SOURCE_COLUMNS)
        count = 0
        with self.engine.connect() as connection:
            for row in connection.execute(select(*columns).order_by(table.c[ID_COLUMN])):
                writer.writerow(row)
                count += 1
        return buffer.getvalue(), count

    # Jobs

    def create_job(
        self,
        *,
        run_id: str,
        job_type: JobType,
        job_name: str,
        model_name: str,
        environment: str,
        image_uri: str | None = None,
        instance_type: str | None = None,
        upstream_run_ids: dict[str, str] | None = None,
        input_uris: dict[str, str] | None = None,
        output_uris: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> Job:
        with self.session() as session:
            job = Job(
                run_id=run_id,
                job_type=job_type,
                job_name=job_name,
                model_name=model_name,
                environment=environment,
                status=JobStatus.CREATED,
                image_uri=image_uri,
                instance_type=instance_type,
                upstream_run_ids=upstream_run_ids or {},
                input_uris=input_uris or {},
                output_uris=output_uris or {},
                parameters=parameters or {},
                metrics={},
            )
            job.transitions.append(JobTransition(status=JobStatus.CREATED))
            session.add(job)
        return job

    def update_job(
        self,
        run_id: str,
        status: JobStatus,
        *,
        message: str | None = None,
        job_name: str | None = None,
        output_uris: dict[str, str] | None = None,
        metrics: dict[str, Any] | None = None,
        failure_reason: str | None = None,
    ) -> Job:
        """Record a status (a transition row is added only when the status changes) and any results."""
        with self.session() as session:
            job = session.scalars(
                select(Job).where(Job.run_id == run_id).options(selectinload(Job.transitions))
            ).one()
            if not job.status.can_become(status):
                raise DatabaseError(f"{job.job_type} run {run_id} ended {job.status}: its status is final")
            if job.status != status:
                job.status = status
                job.transitions.append(JobTransition(status=status, message=message))
            if job_name:
                job.job_name = job_name
            if output_uris:
                job.output_uris = {**job.output_uris, **output_uris}
            if metrics:
                job.metrics = {**job.metrics, **metrics}
            if failure_reason:
                job.failure_reason = failure_reason
            if status.is_terminal:
                job.finished_at = utc_now()
        return job

    def get_job(self, run_id: str) -> Job | None:
        with self.session() as session:
            return session.scalars(
                select(Job).where(Job.run_id == run_id).options(selectinload(Job.transitions))
            ).one_or_none()

    def list_jobs(self, job_type: JobType | None = None, limit: int = 50) -> list[Job]:
        query = select(Job).options(selectinload(Job.transitions)).order_by(Job.id.desc()).limit(limit)
        if job_type is not None:
            query = query.where(Job.job_type == job_type)
        with self.session() as session:
            return list(session.scalars(query))

    def unfinished_jobs(self, environment: str) -> list[Job]:
        """The environment's SageMaker job records that have not ended (collection runs on the host), oldest
        first."""
        query = (
            select(Job)
            .where(Job.environment == environment)
            .where(Job.job_type != JobType.COLLECTION)
            .where(Job.status.not_in([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED]))
            .options(selectinload(Job.transitions))
            .order_by(Job.id)
        )
        with self.session() as session:
            return list(session.scalars(query))

    def find_upstream(
        self,
        job_type: JobType,
        run_id: str | None = None,
        within: str | None = None,
        *,
        model_name: str | None = None,
    ) -> Job:
        """The given run of `job_type` (it must have completed), or else its latest completed run: the latest
        whose outputs all lie under the folder `within` when there is one, else the latest of all. With
        `model_name`, only that model's runs count."""
        with self.session() as session:
            if run_id is not None:
                job = session.scalars(select(Job).where(Job.run_id == run_id)).one_or_none()
                if job is None or job.job_type != job_type:
                    raise DatabaseError(f"no {job_type} run with run id {run_id!r}")
                if model_name is not None and job.model_name != model_name:
                    raise DatabaseError(
                        f"{job_type} run {run_id} is of model {job.model_name}, not {model_name}"
                    )
                if job.status != JobStatus.COMPLETED:
                    raise DatabaseError(f"{job_type} run {run_id} is {job.status}, not Completed")
                return job
            completed = (
                select(Job)
                .where(Job.job_type == job_type, Job.status == JobStatus.COMPLETED)
                .order_by(Job.finished_at.desc(), Job.id.desc())
            )
            if model_name is not None:
                completed = completed.where(Job.model_name == model_name)
            if within is not None:
                for candidate in session.scalars(completed):
                    if candidate.output_uris and all(
                        _is_under(uri, within) for uri in candidate.output_uris.values()
                    ):
                        return candidate
            job = session.scalars(completed.limit(1)).one_or_none()
            if job is None:
                raise DatabaseError(
                    f"no completed {job_type} run{f' of model {model_name}' if model_name else ''} yet; run "
                    f"`python -m batches.{job_type}` first"
                )
            return job

    # Predictions

    def save_predictions(self, run_id: str, rows: Sequence[PredictionRow]) -> int:
        with self.session() as session:
            session.add_all(
                Prediction(
                    run_id=run_id, sample_id=r.sample_id, prediction=r.prediction, probability=r.probability
                )
                for r in rows
            )
        return len(rows)

    def predictions(self, run_id: str) -> list[Prediction]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(Prediction).where(Prediction.run_id == run_id).order_by(Prediction.sample_id)
                )
            )

    # Model versions (the local model registry)

    def add_model_version(
        self,
        *,
        model_name: str,
        status: str,
        model_data: str,
        report: str | None,
        metrics: dict[str, Any],
        pipeline_execution: str,
    ) -> ModelVersion:
        """A new version of the model, numbered one past its latest. Two registrations at once cannot share a
        number: the table's unique (model, version) turns the second into a `DatabaseError`."""
        try:
            with self.session() as session:
                latest = session.scalar(
                    select(func.max(ModelVersion.version)).where(ModelVersion.model_name == model_name)
                )
                version = ModelVersion(
                    model_name=model_name,
                    version=(latest or 0) + 1,
                    status=status,
                    model_data=model_data,
                    report=report,
                    metrics=metrics,
                    pipeline_execution=pipeline_execution,
                )
                session.add(version)
        except SQLAlchemyError as exc:
            raise DatabaseError(describe_error(self.url, exc)) from None
        return version

    def model_versions(self, model_name: str) -> list[ModelVersion]:
        """Every version of the model, newest first."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(ModelVersion)
                    .where(ModelVersion.model_name == model_name)
                    .order_by(ModelVersion.version.desc())
                )
            )

    def set_model_version_status(
        self, model_name: str, version: int, status: str, note: str | None
    ) -> ModelVersion | None:
        """Record a decision on one version (None: the model has no such version); a note replaces the
        version's note, no note keeps it."""
        with self.session() as session:
            found = session.scalars(
                select(ModelVersion)
                .where(ModelVersion.model_name == model_name)
                .where(ModelVersion.version == version)
            ).one_or_none()
            if found is None:
                return None
            found.status = status
            if note:
                found.note = note
        return found
