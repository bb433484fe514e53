"""Running the batches in the test process, as `python -m batches.<name>` would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batches.collection.batch import app as collection_app
from batches.evaluation.batch import app as evaluation_app
from batches.inference.batch import app as inference_app
from batches.lifecycle.batch import app as lifecycle_app
from batches.preprocess.batch import app as preprocess_app
from batches.training.batch import app as training_app
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobType

BATCH_APPS = {
    "collection": collection_app,
    "preprocess": preprocess_app,
    "training": training_app,
    "evaluation": evaluation_app,
    "inference": inference_app,
    "lifecycle": lifecycle_app,  # every stage above, in one process
}
# What the `run_batch` fixture returns: run(name, *args) -> typer's result.
BatchRunner = Callable[..., Any]


CHAIN = ("collection", "preprocess", "training", "evaluation", "inference")


def run_ok(run_batch: BatchRunner, name: str, *args: str) -> Any:
    result = run_batch(name, "--env", "dev", *args)
    assert result.exit_code == 0, result.output
    return result


def run_chain(run_batch: BatchRunner, until: str = "inference") -> None:
    for name in CHAIN[: CHAIN.index(until) + 1]:
        run_ok(run_batch, name)


def latest(db: DbAdapter, job_type: JobType) -> Any:
    return db.list_jobs(job_type, limit=1)[0]
