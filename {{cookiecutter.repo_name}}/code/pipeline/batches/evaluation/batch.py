"""Score a trained model on its test split with a processing job; the report's metrics go to the database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batches.cli import DetachOption, EnvOption, ModelOption, ParamOption, open_context
from batches.jobs import run_job
from utils.db.enum import JobType
from utils.job_definition import define_job
from utils.job_specs import report_metrics

if TYPE_CHECKING:
    from utils.job_definition import JobResult

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    env: EnvOption,
    model: ModelOption = None,
    param: ParamOption = None,
    detach: DetachOption = False,
    training_run_id: Annotated[
        str | None,
        typer.Option(help="Training run whose model to evaluate (default: the latest completed one)."),
    ] = None,
) -> None:
    """Submit the evaluation processing job for a training run's model and its preprocess run's test split."""
    with open_context(env, model, detach=detach) as ctx:
        training = ctx.upstream(JobType.TRAINING, training_run_id)
        preprocess = ctx.upstream(JobType.PREPROCESS, training.upstream_run_ids[JobType.PREPROCESS.value])
        run, name = ctx.new_run(JobType.EVALUATION)

        def read_report(_: JobResult) -> dict[str, Any]:
            if not ctx.s3.exists(run.evaluation_report):
                raise FileNotFoundError(f"the job wrote no {run.evaluation_report}")
            return report_metrics(json.loads(ctx.s3.get_text(run.evaluation_report)))

        job = define_job(
            ctx.config,
            JobType.EVALUATION,
            run,
            name,
            image_uri=ctx.image_uri,
            inputs={"model": training.output_uris["model"], "test": preprocess.output_uris["test"]},
            outputs={"report": run.output("report")},
            overrides=param,
        )
        run_job(ctx, job, upstream=[training, preprocess], after=read_report)
