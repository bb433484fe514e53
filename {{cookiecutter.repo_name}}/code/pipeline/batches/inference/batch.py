"""Predict with a trained model on collected data with a processing job, and store the predictions."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batches.cli import (
    BatchContext,
    DetachOption,
    EnvOption,
    ModelOption,
    ParamOption,
    console,
    open_context,
)
from batches.jobs import run_job
from utils.db.enum import JobType
from utils.errors import PipelineError, RefusedError
from utils.job_definition import define_job
from utils.job_specs import PREDICTION_COLUMNS

if TYPE_CHECKING:
    from utils.aws.s3_client import S3Client
    from utils.db.db_adapter import PredictionRow
    from utils.db.schema import Job
    from utils.job_definition import JobResult

app = typer.Typer(add_completion=False, help=__doc__)


def parse_predictions(name: str, text: str) -> list[PredictionRow]:
    """Rows of one predictions CSV: `id`, `prediction` and `probability` (which may be empty)."""
    from utils.db.db_adapter import PredictionRow

    sample_id, prediction, probability = PREDICTION_COLUMNS
    reader = csv.DictReader(io.StringIO(text))
    missing = {sample_id, prediction} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(sorted(missing))}")
    return [
        PredictionRow(
            sample_id=int(row[sample_id]),
            prediction=int(float(row[prediction])),
            probability=float(row[probability]) if row.get(probability) else None,
        )
        for row in reader
    ]


def read_predictions(s3: S3Client, folder: str) -> list[PredictionRow]:
    files = [uri for uri in s3.list(folder) if uri.endswith(".csv")]
    rows = [row for uri in files for row in parse_predictions(uri.rsplit("/", 1)[-1], s3.get_text(uri))]
    if not rows:
        raise ValueError(f"no predictions in {folder}")
    return rows


def chosen_model(ctx: BatchContext, approved: bool, training_run_id: str | None) -> tuple[str, list[Job]]:
    """The model archive to predict with and the upstream run it comes from (none for a registry version),
    said on stderr."""
    if not approved:
        training = ctx.upstream(JobType.TRAINING, training_run_id)
        console.print(f"model: training run {training.run_id}", highlight=False)
        return str(training.output_uris["model"]), [training]
    if training_run_id is not None:
        raise RefusedError("--training-run-id names a training run's model; --approved-model a registry's")
    from utils.registry import latest_approved, model_registry

    registry = model_registry(ctx.config)
    version = latest_approved(registry)
    if version is None or version.model_data is None:
        env = ctx.config.environment.value
        raise PipelineError(
            f"{registry.group} has no approved version with a model: approve one with "
            f"`batches.registry --env {env} approve VERSION`, or predict with --latest-training"
        )
    console.print(
        f"model: version {version.version} of {registry.group} (Approved), {version.model_data}",
        highlight=False,
    )
    return version.model_data, []


@app.command()
def main(
    env: EnvOption,
    model: ModelOption = None,
    param: ParamOption = None,
    detach: DetachOption = False,
    training_run_id: Annotated[
        str | None, typer.Option(help="Training run whose model to use (default: the latest completed one).")
    ] = None,
    collection_run_id: Annotated[
        str | None, typer.Option(help="Collection run to predict on (default: the latest completed one).")
    ] = None,
    approved_model: Annotated[
        bool | None,
        typer.Option(
            "--approved-model/--latest-training",
            help="Predict with the latest version approved in the model registry, or with the latest "
            "training run's model (default: models.<model>.inference_model in configs/<env>.yaml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Submit the inference processing job and write its predictions to the database."""
    with open_context(env, model, detach=detach) as ctx:
        if approved_model is None:  # a named training run is a choice of model too
            approved_model = training_run_id is None and ctx.config.jobs.inference_model == "latest_approved"
        model_uri, model_upstream = chosen_model(ctx, approved_model, training_run_id)
        collection = ctx.upstream(JobType.COLLECTION, collection_run_id)
        run, name = ctx.new_run(JobType.INFERENCE)

        def store_predictions(_: JobResult) -> dict[str, Any]:
            rows = read_predictions(ctx.s3, run.predictions_dir)
            return {"predictions": ctx.db.save_predictions(run.run_id, rows)}

        job = define_job(
            ctx.config,
            JobType.INFERENCE,
            run,
            name,
            image_uri=ctx.image_uri,
            inputs={"model": model_uri, "data": collection.output_uris["raw"]},
            outputs={"predictions": run.output("predictions")},
            overrides=param,
        )
        run_job(ctx, job, upstream=[*model_upstream, collection], after=store_predictions)
