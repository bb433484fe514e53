"""Everything the batches ask of the database, on SQLite or PostgreSQL alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker

from utils.db.enum import JobStatus, JobType
from utils.db.schema import FEATURE_COLUMNS, Base, Job, JobTransition, Prediction, SourceSample, utc_now
from utils.job_specs import ID_COLUMN, LABEL_COLUMN

SOURCE_COLUMNS: tuple[str, ...] = (ID_COLUMN, *FEATURE_COLUMNS, LABEL_COLUMN)


class DatabaseError(Exception):
    """A database state the person running a batch has to act on."""


@dataclass(frozen=True)
class PredictionRow:
    sample_id: int
    prediction: int
    probability: float | None


def _is_under(location: str, folder: str) -> bool:
    return location == folder or location.startswith(folder.rstrip("/") + "/")


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


def create_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url, pool_pre_ping=True)


class DbAdapter:
    def __init__(self, url: str) -> None:
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # Schema and source data

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    def require_schema(self) -> None:
        with self.engine.connect() as connection:
            missing = [t for t in Base.metadata.tables if not self.engine.dialect.has_table(connection, t)]
        if missing:
            raise DatabaseError(
                f"the database has no table {', '.join(missing)}; "
                "create the schema with `poetry run python -m utils.db init --env <env>`"
            )

    def count_source_samples(self) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(SourceSample)) or 0

    def seed_source_samples(self, load_rows: Callable[[], Sequence[dict[str, Any]]]) -> int:
        """Insert the loaded rows only when the table is empty: seeding twice never duplicates data, and a
        seeded table never even loads them."""
        if self.count_source_samples():
            return 0
        rows = load_rows()
        with self.session() as session:
            session.execute(insert(SourceSample), list(rows))
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

    def find_upstream(self, job_type: JobType, run_id: str | None = None, within: str | None = None) -> Job:
        """The given run of `job_type` (it must have completed), or else its latest completed run: the latest
        whose outputs all lie under the folder `within` when there is one, else the latest of all."""
        with self.session() as session:
            if run_id is not None:
                job = session.scalars(select(Job).where(Job.run_id == run_id)).one_or_none()
                if job is None or job.job_type != job_type:
                    raise DatabaseError(f"no {job_type} run with run id {run_id!r}")
                if job.status != JobStatus.COMPLETED:
                    raise DatabaseError(f"{job_type} run {run_id} is {job.status}, not Completed")
                return job
            completed = (
                select(Job)
                .where(Job.job_type == job_type, Job.status == JobStatus.COMPLETED)
                .order_by(Job.finished_at.desc(), Job.id.desc())
            )
            if within is not None:
                for candidate in session.scalars(completed):
                    if candidate.output_uris and all(
                        _is_under(uri, within) for uri in candidate.output_uris.values()
                    ):
                        return candidate
            job = session.scalars(completed.limit(1)).one_or_none()
            if job is None:
                raise DatabaseError(
                    f"no completed {job_type} run yet; run `python -m batches.{job_type}` first"
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
