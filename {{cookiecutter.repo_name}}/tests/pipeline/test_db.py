"""The job database on SQLite, and on PostgreSQL when TEST_DATABASE_URL names a server."""

from __future__ import annotations

import csv
import io
import json

import pytest
from support.databases import drop_schema
from typer.testing import CliRunner

from utils.db.__main__ import app as db_app
from utils.db.db_adapter import DbAdapter, PredictionRow
from utils.db.enum import JobStatus, JobType
from utils.db.schema import FEATURE_COLUMNS
from utils.db.seed import breast_cancer_rows
from utils.errors import DatabaseError


def new_job(
    db: DbAdapter, run_id: str, job_type: JobType = JobType.TRAINING, model_name: str = "model_a"
) -> None:
    db.create_job(
        run_id=run_id, job_type=job_type, job_name=f"job-{run_id}", model_name=model_name, environment="dev"
    )


def test_the_source_table_holds_the_breast_cancer_dataset_once(db: DbAdapter) -> None:
    assert db.count_source_samples() == 569
    assert db.seed_source_samples(breast_cancer_rows) == 0
    assert db.count_source_samples() == 569


def test_a_seeded_source_table_never_loads_the_dataset_again(db: DbAdapter) -> None:
    def must_not_load() -> list[dict[str, object]]:
        raise AssertionError("the source rows were loaded although the table is seeded")

    assert db.seed_source_samples(must_not_load) == 0


def test_the_source_csv_has_id_30_features_and_target_in_order(db: DbAdapter) -> None:
    text, rows = db.source_samples_csv()

    records = list(csv.reader(io.StringIO(text)))
    assert rows == 569
    assert records[0] == ["id", *FEATURE_COLUMNS, "label"]
    assert len(FEATURE_COLUMNS) == 30
    assert [int(r[0]) for r in records[1:4]] == [0, 1, 2]
    assert float(records[1][1]) == pytest.approx(17.99)
    assert {r[-1] for r in records[1:]} == {"0", "1"}


def test_a_job_keeps_every_status_change_with_its_time(db: DbAdapter) -> None:
    new_job(db, "r1")

    db.update_job("r1", JobStatus.SUBMITTED)
    db.update_job("r1", JobStatus.IN_PROGRESS, message="Training")
    db.update_job("r1", JobStatus.IN_PROGRESS, message="Training")
    db.update_job(
        "r1",
        JobStatus.COMPLETED,
        job_name="job-r1-final",
        output_uris={"model": "s3://b/m"},
        metrics={"auc": 0.9},
    )

    job = db.get_job("r1")
    assert job is not None
    assert [t.status for t in job.transitions] == [
        JobStatus.CREATED,
        JobStatus.SUBMITTED,
        JobStatus.IN_PROGRESS,
        JobStatus.COMPLETED,
    ]
    assert job.job_name == "job-r1-final"
    assert job.output_uris == {"model": "s3://b/m"}
    assert job.metrics == {"auc": 0.9}
    assert job.finished_at is not None
    assert [t.at for t in job.transitions] == sorted(t.at for t in job.transitions)


def test_a_failed_job_keeps_its_reason(db: DbAdapter) -> None:
    new_job(db, "r1")

    db.update_job("r1", JobStatus.FAILED, failure_reason="AlgorithmError: out of memory", message="failed")

    job = db.get_job("r1")
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.failure_reason == "AlgorithmError: out of memory"
    assert job.transitions[-1].message == "failed"


def test_the_upstream_is_the_latest_completed_run_unless_one_is_named(db: DbAdapter) -> None:
    for run_id in ("a", "b", "c"):
        new_job(db, run_id, JobType.PREPROCESS)
    db.update_job("a", JobStatus.COMPLETED)
    db.update_job("b", JobStatus.COMPLETED)
    db.update_job("c", JobStatus.FAILED)

    assert db.find_upstream(JobType.PREPROCESS).run_id == "b"
    assert db.find_upstream(JobType.PREPROCESS, "a").run_id == "a"
    with pytest.raises(DatabaseError, match="preprocess run c is Failed, not Completed"):
        db.find_upstream(JobType.PREPROCESS, "c")
    with pytest.raises(DatabaseError, match="no training run with run id 'a'"):
        db.find_upstream(JobType.TRAINING, "a")
    with pytest.raises(DatabaseError, match="no completed training run yet"):
        db.find_upstream(JobType.TRAINING)


def test_a_models_upstream_is_never_another_models_run(db: DbAdapter) -> None:
    new_job(db, "first", JobType.PREPROCESS, model_name="model_a")
    new_job(db, "second", JobType.PREPROCESS, model_name="model_b")
    db.update_job("first", JobStatus.COMPLETED)
    db.update_job("second", JobStatus.COMPLETED)

    assert db.find_upstream(JobType.PREPROCESS, model_name="model_a").run_id == "first"
    assert db.find_upstream(JobType.PREPROCESS, model_name="model_b").run_id == "second"
    with pytest.raises(DatabaseError, match="preprocess run second is of model model_b, not model_a"):
        db.find_upstream(JobType.PREPROCESS, "second", model_name="model_a")
    with pytest.raises(DatabaseError, match="no completed preprocess run of model model_c yet"):
        db.find_upstream(JobType.PREPROCESS, model_name="model_c")


def test_predictions_are_stored_per_inference_run(db: DbAdapter) -> None:
    new_job(db, "inf", JobType.INFERENCE)

    stored = db.save_predictions("inf", [PredictionRow(3, 1, 0.75), PredictionRow(1, 0, None)])

    assert stored == 2
    assert [(p.sample_id, p.prediction, p.probability) for p in db.predictions("inf")] == [
        (1, 0, None),
        (3, 1, 0.75),
    ]


def test_run_ids_are_unique(db: DbAdapter) -> None:
    new_job(db, "same")

    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        db.create_job(
            run_id="same",
            job_type=JobType.TRAINING,
            job_name="other",
            model_name="model_a",
            environment="dev",
        )


def test_the_init_command_creates_the_schema_and_seeds_once(database_url: str) -> None:
    drop_schema(database_url)
    runner = CliRunner()

    first = runner.invoke(db_app, ["init", "--env", "dev"])
    second = runner.invoke(db_app, ["init", "--env", "dev"])
    listing = runner.invoke(db_app, ["jobs", "--env", "dev"])

    assert first.exit_code == 0, first.output
    assert "569 source samples added" in first.output
    assert "source data kept" in second.output
    assert listing.exit_code == 0, listing.output
    adapter = DbAdapter(database_url)
    assert adapter.count_source_samples() == 569
    adapter.close()


def test_the_jobs_command_prints_whole_records_to_a_pipe_and_as_json_lines(db: DbAdapter) -> None:
    reason = "the container wrote no model.joblib under /opt/ml/model; " + "see its log " * 12
    new_job(db, "piped")
    new_job(db, "other")
    db.update_job("piped", JobStatus.IN_PROGRESS)
    db.update_job("piped", JobStatus.FAILED, failure_reason=reason)
    runner = CliRunner()

    table = runner.invoke(db_app, ["jobs", "--env", "dev"])
    lines = runner.invoke(db_app, ["jobs", "--env", "dev", "--run-id", "piped", "--json"])

    assert table.exit_code == 0, table.output
    assert reason.strip() in table.output  # not cut to 80 columns
    assert lines.exit_code == 0, lines.output
    [record] = [json.loads(line) for line in lines.output.splitlines()]
    assert (record["run_id"], record["status"], record["failure_reason"]) == ("piped", "Failed", reason)
    assert [step["status"] for step in record["transitions"]] == ["Created", "InProgress", "Failed"]
