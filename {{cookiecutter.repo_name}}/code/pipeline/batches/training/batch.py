"""Train the model on the splits of a preprocess run with a training job."""

from __future__ import annotations

from typing import Annotated

import typer

from batches.cli import (
    DetachOption,
    EnvOption,
    InputOption,
    ModelOption,
    ParamOption,
    errors_as_exit,
    open_context,
)
from batches.jobs import run_job
from utils.config_reader import load_config
from utils.db.enum import JobType
from utils.job_definition import channel_sources, define_job, training_inputs

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    env: EnvOption,
    model: ModelOption = None,
    param: ParamOption = None,
    detach: DetachOption = False,
    preprocess_run_id: Annotated[
        str | None,
        typer.Option(help="Preprocess run whose splits to train on (default: the latest completed one)."),
    ] = None,
    source: InputOption = None,
) -> None:
    """Submit a training job with the train and validation channels of a preprocess run."""
    with errors_as_exit():  # a channel that cannot work stops the batch before any AWS call
        sources = channel_sources(load_config(env, model=model), source)
    with open_context(env, model, detach=detach) as ctx:
        preprocess = ctx.upstream(JobType.PREPROCESS, preprocess_run_id)
        run, name = ctx.new_run(JobType.TRAINING)
        outputs = {"model_output": run.model_output}
        if not ctx.config.is_local:  # SageMaker syncs /opt/ml/checkpoints to S3; local mode does not
            outputs["checkpoints"] = run.checkpoints
        job = define_job(
            ctx.config,
            JobType.TRAINING,
            run,
            name,
            image_uri=ctx.image_uri,
            inputs=training_inputs(sources, preprocess.output_uris),
            outputs=outputs,
            overrides=param,
        )
        run_job(ctx, job, upstream=[preprocess])
