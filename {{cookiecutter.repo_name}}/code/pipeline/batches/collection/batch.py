"""Extract the source table to the raw-data location of a new collection run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from batches.common import EnvOption, ModelOption, fail, open_context, record_job, run_recorded
from utils.db.enum import JobStatus, JobType

if TYPE_CHECKING:
    from utils.db.schema import Job

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(env: EnvOption, model: ModelOption = None) -> None:
    """Write every source row as CSV to {root}/collection/{run_id}/raw/data.csv."""
    with open_context(env, model, needs_image=False) as ctx:
        run, name = ctx.new_run(JobType.COLLECTION)
        recorder = record_job(ctx, JobType.COLLECTION, run, name, output_uris={"raw": run.raw_dir})

        def collect() -> Job:
            recorder.status(JobStatus.IN_PROGRESS, "extracting the source table")
            text, rows = ctx.db.source_samples_csv()
            if rows == 0:
                reason = (
                    "the source table is empty; seed it with `poetry run python -m utils.db init --env <env>`"
                )
                recorder.finish(JobStatus.FAILED, failure_reason=reason)
                fail(reason)
            ctx.s3.put_text(run.raw_data, text)
            return recorder.finish(JobStatus.COMPLETED, metrics={"rows": rows})

        run_recorded(recorder, collect)
