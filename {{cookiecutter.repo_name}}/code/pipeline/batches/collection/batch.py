"""Extract the source table to the raw-data location of a new collection run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from batches.cli import EnvOption, ModelOption, open_context
from batches.jobs import JobRecord
from utils.db.enum import JobStatus, JobType

if TYPE_CHECKING:
    from utils.db.schema import Job

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(env: EnvOption, model: ModelOption = None) -> None:
    """Write every source row as CSV to {root}/collection/{run_id}/raw/data.csv."""
    with open_context(env, model, needs_image=False) as ctx:
        run, name = ctx.new_run(JobType.COLLECTION)
        record = JobRecord.create(ctx, JobType.COLLECTION, run, name, output_uris={"raw": run.raw_dir})

        def collect() -> Job:
            record.status(JobStatus.IN_PROGRESS, "extracting the source table")
            text, rows = ctx.db.source_samples_csv()
            if rows == 0:
                reason = (
                    "the source table is empty; seed it with `poetry run python -m utils.db init --env <env>`"
                )
                return record.finish(JobStatus.FAILED, reason=reason)
            ctx.s3.put_text(run.raw_data, text)
            return record.finish(JobStatus.COMPLETED, metrics={"rows": rows})

        record.run(collect)
