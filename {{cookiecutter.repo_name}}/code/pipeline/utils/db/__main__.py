"""Database commands: `upgrade` applies the schema's migrations; `init` upgrades and seeds the source data;
`revision` writes the next migration after a change to schema.py; `jobs` lists job records (`--json` for
scripts); `folder` summarises one local run folder; `sync` settles the records of jobs whose batch ended
before they did. `upgrade` and `init` are safe to run from several processes at once."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from utils import program
from utils.aws.local_containers import DockerUnavailableError, remove_containers, run_containers
from utils.config_reader import Config, ConfigError, load_config
from utils.db import migrate
from utils.db.db_adapter import UPGRADE_COMMAND, DbAdapter, run_folder_jobs
from utils.db.enum import JobStatus, JobType
from utils.db.migrate import new_revision
from utils.db.schema import Job
from utils.db.seed import breast_cancer_rows
from utils.errors import DatabaseError

# Alembic's command layer and boto3 are imported by the commands that use them (`revision`, `sync`), so
# `--help` and the other commands start without them (about 0.7 s).

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()
EnvOption = Annotated[str, typer.Option("--env", envvar="PIPELINE_ENV", help="local, dev or prod")]


def _adapter(env: str) -> DbAdapter:
    try:
        return DbAdapter(load_config(env).database.url)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _schema_state(before: str | None, after: str) -> str:
    if before == after:
        return f"schema at revision {after}, the latest"
    if before == migrate.UNRECORDED:
        return f"schema.py's tables were there without a migration record: recorded as revision {after}"
    start = f"revision {before}" if before else "an empty database"
    return f"schema upgraded from {start} to revision {after}"


@app.command()
def upgrade(env: EnvOption) -> None:
    """Apply every migration the database lacks (a second process at once waits, then finds nothing to do)."""
    db = _adapter(env)
    try:
        before, after = db.upgrade_schema()
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.close()
    typer.echo(_schema_state(before, after))


@app.command()
def init(env: EnvOption) -> None:
    """`upgrade`, then seed the source table if it is empty; safe to run from several processes at once."""
    db = _adapter(env)
    try:
        before, after = db.upgrade_schema()
        added = db.seed_source_samples(breast_cancer_rows)
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.close()
    seeded = f"{added} source samples added" if added else "source data kept"
    typer.echo(f"{_schema_state(before, after)}; {seeded}")


@app.command()
def revision(
    message: Annotated[str, typer.Argument(help="what the migration changes, e.g. 'add jobs.owner'")],
) -> None:
    """Write the next migration (utils/db/migrations/versions/) from what schema.py has that the latest
    migration lacks. Review it, then run `upgrade`."""
    from alembic.util import CommandError

    try:
        path = new_revision(message)
    except CommandError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if path is None:
        typer.echo("error: schema.py matches the latest migration; there is nothing to migrate", err=True)
        raise typer.Exit(1)
    typer.echo(f"wrote {path}; review it, then `{UPGRADE_COMMAND}`")


@app.command()
def jobs(
    env: EnvOption,
    job_type: Annotated[JobType | None, typer.Option("--type", help="only this job type")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="only the job of this run id")] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line, every field")] = False,
) -> None:
    """List job records, newest first: a table, or JSON lines with --json."""
    db = _adapter(env)
    try:
        db.require_schema()
        if run_id is not None:
            job = db.get_job(run_id)
            records = [job] if job is not None and job_type in (None, job.job_type) else []
        else:
            records = db.list_jobs(job_type, limit)
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.close()
    if as_json:
        for job in records:
            typer.echo(json.dumps(job_record(job)))
        return
    table = Table("run id", "type", "status", "job name", "metrics", "failure reason")
    for job in records:
        table.add_row(
            job.run_id,
            job.job_type,
            job.status,
            job.job_name,
            json.dumps(job.metrics),
            job.failure_reason or "",
        )
    # A terminal gets a table that fits it; a pipe or a file gets every column whole, not 80 columns.
    (console if console.is_terminal else Console(width=100_000)).print(table)


def job_record(job: Job) -> dict[str, Any]:
    """A job record as JSON-ready data: every column, times in ISO 8601, and its status transitions."""
    record: dict[str, Any] = {}
    for column in Job.__table__.columns:
        value = getattr(job, column.key)
        record[column.key] = value.isoformat() if isinstance(value, datetime) else value
    record["transitions"] = [
        {"status": step.status.value, "at": step.at.isoformat(), "message": step.message}
        for step in job.transitions
    ]
    return record


@app.command()
def sync(env: EnvOption) -> None:
    """Settle every job record of ENV that has not ended. dev, prod: ask SageMaker how each job ended (its
    batch was interrupted, detached, or lost its credentials or network while waiting). local: a job whose
    batch was killed (SIGKILL, a closed terminal) and whose containers no longer run is recorded Stopped.
    Jobs still running are left as they are; run it again later."""
    try:
        config = load_config(env)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if config.is_local:
        _sync_local(config)
        return
    from botocore.exceptions import BotoCoreError, ClientError

    from utils.aws.sagemaker_jobs import describe_job
    from utils.aws.session import EndpointSession

    session = EndpointSession(config.aws.region, config.aws.endpoint_url)
    db = DbAdapter(config.database.url)
    settled = running = unknown = 0
    try:
        db.require_schema()
        for job in db.unfinished_jobs(config.environment.value):
            label = f"{job.job_type} {job.job_name} (run id {job.run_id})"
            remote = describe_job(session, job.job_type, job.job_name)
            if remote is None:
                unknown += 1
                typer.echo(f"{label}: SageMaker has no such job; left {job.status}")
            elif not remote.status.is_terminal:
                running += 1
                typer.echo(f"{label}: still {remote.sagemaker_status} in SageMaker")
            else:
                db.update_job(
                    job.run_id,
                    remote.status,
                    message=f"SageMaker says {remote.sagemaker_status} (utils.db sync)",
                    metrics=remote.metrics,
                    failure_reason=remote.failure_reason,
                )
                settled += 1
                typer.echo(f"{label}: {job.status} -> {remote.status}")
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (BotoCoreError, ClientError) as exc:
        typer.echo(f"error: SageMaker could not be asked ({exc}); no record was changed after that", err=True)
        raise typer.Exit(1) from None
    finally:
        db.close()
    typer.echo(f"{settled} record(s) settled, {running} job(s) still running, {unknown} unknown to SageMaker")


def _sync_local(config: Config) -> None:
    """A local job lives as long as its containers: with none running, its batch is gone (a running batch
    records its own end), so the record becomes Stopped and the containers it left behind are removed."""
    db = DbAdapter(config.database.url)
    settled = running = 0
    try:
        db.require_schema()
        for job in db.unfinished_jobs(config.environment.value):
            label = f"{job.job_type} {job.job_name} (run id {job.run_id})"
            containers = run_containers(job.run_id)
            if any(container.running for container in containers):
                running += 1
                typer.echo(f"{label}: its containers still run in Docker")
                continue
            reason = "its batch ended without recording how the job ended (killed?); no container of it runs"
            db.update_job(
                job.run_id,
                JobStatus.STOPPED,
                message=f"{reason} (utils.db sync)",
                failure_reason=reason,
            )
            remove_containers(containers)
            settled += 1
            typer.echo(f"{label}: {job.status} -> {JobStatus.STOPPED}")
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except DockerUnavailableError:
        typer.echo(
            "error: Docker does not answer `docker ps`, so whether local jobs still run is unknown; "
            "no record was changed after that",
            err=True,
        )
        raise typer.Exit(1) from None
    finally:
        db.close()
    typer.echo(f"{settled} record(s) settled, {running} job(s) still running")


def _describe_output(location: str) -> list[str]:
    """A local output: the file itself, or every file of a folder (reports come with their plots)."""
    path = Path(location)
    if path.is_dir():
        return [file.as_posix() for file in sorted(path.rglob("*")) if file.is_file()] or [
            f"{location}/ (empty)"
        ]
    return [location]


@app.command()
def folder(
    name: Annotated[str, typer.Argument(help="the run folder's name under the runs folder")],
    env: EnvOption = "local",
    limit: Annotated[int, typer.Option(help="how many of the newest job records to look through")] = 500,
) -> None:
    """Summarise one local run folder: each stage's job, status, metrics and output files."""
    try:
        config = load_config(env)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    path = (config.runs_dir / name).as_posix()
    db = _adapter(env)
    try:
        db.require_schema()
        records = run_folder_jobs(db.list_jobs(None, limit), path)
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.close()
    if not records:
        typer.echo(f"error: no job wrote to {path}", err=True)
        raise typer.Exit(1)
    database = make_url(config.database.url).render_as_string(hide_password=True)
    typer.echo(f"run folder: {name}\npath:       {path}\ndatabase:   {database}")
    for job in records:
        typer.echo(f"{job.job_type}: {job.status} (job {job.job_name}, run id {job.run_id})")
        if job.metrics:
            typer.echo(
                "  metrics: "
                + ", ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in sorted(job.metrics.items())
                )
            )
        if job.failure_reason:
            typer.echo(f"  failure: {job.failure_reason}")
        for name, location in job.output_uris.items():
            for line in _describe_output(location):
                typer.echo(f"  {name}: {line}")
    if any(job.status != JobStatus.COMPLETED for job in records):
        raise typer.Exit(1)


if __name__ == "__main__":
    program.run(app)
