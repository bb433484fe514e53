"""Split the raw data of a collection run into train/validation/test with a processing job."""

from __future__ import annotations

from typing import Annotated

import typer

from batches.cli import DetachOption, EnvOption, ModelOption, ParamOption, open_context
from batches.jobs import run_job
from utils.db.enum import JobType
from utils.job_definition import define_job
from utils.job_specs import PROCESSING_SPECS

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    env: EnvOption,
    model: ModelOption = None,
    param: ParamOption = None,
    detach: DetachOption = False,
    collection_run_id: Annotated[
        str | None, typer.Option(help="Collection run to read (default: the latest completed one).")
    ] = None,
) -> None:
    """Submit the preprocess processing job on the raw data of a collection run."""
    spec = PROCESSING_SPECS[JobType.PREPROCESS]
    with open_context(env, model, detach=detach) as ctx:
        collection = ctx.upstream(JobType.COLLECTION, collection_run_id)
        run, name = ctx.new_run(JobType.PREPROCESS)
        job = define_job(
            ctx.config,
            JobType.PREPROCESS,
            run,
            name,
            image_uri=ctx.image_uri,
            inputs={"raw": collection.output_uris["raw"]},
            outputs={split: run.output(split) for split in spec.outputs},
            overrides=param,
        )
        run_job(ctx, job, upstream=[collection])
