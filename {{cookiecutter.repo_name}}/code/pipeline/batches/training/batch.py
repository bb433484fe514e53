"""Train the model on the splits of a preprocess run with a training job."""

from __future__ import annotations

from typing import Annotated

import typer

from batches.common import EnvOption, ParamOption, job_parameters, open_context, record_job, run_recorded
from batches.jobs import run_training_job
from utils.db.enum import JobType
from utils.job_specs import TRAINING_CHANNELS

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    env: EnvOption,
    param: ParamOption = None,
    preprocess_run_id: Annotated[
        str | None,
        typer.Option(help="Preprocess run whose splits to train on (default: the latest completed one)."),
    ] = None,
) -> None:
    """Submit a training job with the train and validation channels of a preprocess run."""
    with open_context(env) as ctx:
        preprocess = ctx.upstream(JobType.PREPROCESS, preprocess_run_id)
        run, name = ctx.new_run(JobType.TRAINING)
        settings = ctx.config.jobs.training
        parameters = job_parameters(settings.parameters, param)
        channels = {channel: preprocess.output_uris[channel] for channel in TRAINING_CHANNELS}
        recorder = record_job(
            ctx,
            JobType.TRAINING,
            run,
            name,
            upstream={JobType.PREPROCESS.value: preprocess},
            input_uris=channels,
            # Local mode has no checkpoint upload; SageMaker syncs /opt/ml/checkpoints to S3.
            output_uris={"model_output": run.model_output}
            | ({} if ctx.config.is_local else {"checkpoints": run.checkpoints}),
            parameters=parameters,
            image_uri=ctx.image_uri,
            instance_type=settings.instance_type,
        )
        run_recorded(recorder, lambda: run_training_job(ctx, recorder, run, channels, parameters))
