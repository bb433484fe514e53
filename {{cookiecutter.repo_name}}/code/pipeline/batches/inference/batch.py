"""Predict with a trained model on collected data with a processing job, and store the predictions."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batches.cli import DetachOption, EnvOption, ModelOption, ParamOption, open_context
from batches.jobs import run_job
from utils.db.enum import JobType
from utils.job_definition import define_job
from utils.job_specs import PREDICTION_COLUMNS

if TYPE_CHECKING:
    from utils.aws.s3_client import S3Client
    from utils.db.db_adapter import PredictionRow
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
) -> None:
    """Submit the inference processing job and write its predictions to the database."""
    with open_context(env, model, detach=detach) as ctx:
        training = ctx.upstream(JobType.TRAINING, training_run_id)
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
            inputs={"model": training.output_uris["model"], "data": collection.output_uris["raw"]},
            outputs={"predictions": run.output("predictions")},
            overrides=param,
        )
        run_job(ctx, job, upstream=[training, collection], after=store_predictions)
