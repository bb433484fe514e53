"""One full chain (collection to inference, as `batches.lifecycle` runs it) with `--env dev` against moto,
on every database backend under test: the SageMaker jobs it creates, where every byte lands, and what the
job records say."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.aws import all_s3_uris, assert_everything_under_the_prefix, aws_client, reset_moto, root_uri
from support.batches import BATCH_APPS, CHAIN, latest
from support.databases import drop_schema, prepare_database
from support.fakes import SentRequests, install_fake_container, record_sagemaker_requests
from typer.testing import CliRunner

from utils.config_reader import Config
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobStatus, JobType
from utils.job_specs import PROCESSING_SPECS


@dataclass(frozen=True)
class Chain:
    config: Config
    db: DbAdapter
    requests: SentRequests


@pytest.fixture(scope="module")
def chain(
    database_backend: str,
    moto_endpoint: str,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Chain]:
    """Runs the five batches once per backend; the tests below only read what they left behind."""
    runs_dir = tmp_path_factory.mktemp("chain") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIPELINE_RUNS_DIR", str(runs_dir))
        url = prepare_database(database_backend, runs_dir, sqlite_template)
        patch.setenv("DATABASE_URL", url)
        config = reset_moto(moto_endpoint, patch)
        install_fake_container(patch)
        requests = record_sagemaker_requests(patch)
        result = CliRunner().invoke(BATCH_APPS["lifecycle"], ["--env", "dev"])
        assert result.exit_code == 0, result.output
        assert all(f"{stage} done in" in result.output for stage in CHAIN), result.output
        db = DbAdapter(url)
        yield Chain(config, db, requests)
        db.close()
        if database_backend == "postgresql":
            drop_schema(url)


def test_preprocess_creates_a_processing_job_with_the_configured_image_role_and_locations(
    chain: Chain,
) -> None:
    dev_config, db = chain.config, chain.db

    job = latest(db, JobType.PREPROCESS)
    collection = latest(db, JobType.COLLECTION)
    described = aws_client(dev_config, "sagemaker").describe_processing_job(ProcessingJobName=job.job_name)
    assert described["AppSpecification"]["ImageUri"] == dev_config.image_uri()
    assert described["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "jobs.preprocess"]
    assert described["AppSpecification"]["ContainerArguments"] == [
        "--seed",
        "42",
        "--test-ratio",
        "0.15",
        "--train-ratio",
        "0.7",
        "--validation-ratio",
        "0.15",
    ]
    assert described["RoleArn"] == dev_config.aws.role_arn
    [sent] = [r for r in chain.requests["CreateProcessingJob"] if r["ProcessingJobName"] == job.job_name]
    cluster = sent["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceType"] == dev_config.jobs.preprocess.instance_type
    assert cluster["InstanceCount"] == 1
    assert sent["StoppingCondition"] == {
        "MaxRuntimeInSeconds": dev_config.jobs.preprocess.max_runtime_seconds
    }
    assert all(uri.startswith(root_uri(dev_config) + "/") for uri in all_s3_uris(sent))
    inputs = {i["InputName"]: i["S3Input"] for i in described["ProcessingInputs"]}
    assert inputs["raw"]["S3Uri"] == f"{root_uri(dev_config)}/collection/{collection.run_id}/raw"
    assert inputs["raw"]["LocalPath"] == "/opt/ml/processing/input/raw"
    outputs = {o["OutputName"]: o["S3Output"] for o in described["ProcessingOutputConfig"]["Outputs"]}
    for split in ("train", "validation", "test"):
        assert outputs[split]["S3Uri"] == f"{root_uri(dev_config)}/preprocess/{job.run_id}/{split}"
        assert outputs[split]["LocalPath"] == f"/opt/ml/processing/output/{split}"
    assert all(uri.startswith(root_uri(dev_config) + "/") for uri in all_s3_uris(described))
    assert job.status is JobStatus.COMPLETED
    assert job.upstream_run_ids == {"collection": collection.run_id}


def test_training_creates_a_training_job_with_hyperparameters_channels_output_and_checkpoints(
    chain: Chain,
) -> None:
    dev_config, db = chain.config, chain.db

    job = latest(db, JobType.TRAINING)
    preprocess = latest(db, JobType.PREPROCESS)
    described = aws_client(dev_config, "sagemaker").describe_training_job(TrainingJobName=job.job_name)
    run_root = f"{root_uri(dev_config)}/training/{job.run_id}"
    assert described["AlgorithmSpecification"]["TrainingImage"] == dev_config.image_uri()
    assert described["RoleArn"] == dev_config.aws.role_arn
    assert described["ResourceConfig"]["InstanceType"] == dev_config.jobs.training.instance_type
    assert described["HyperParameters"] == {
        "learning_rate": "0.1",
        "max_depth": "3",
        "n_estimators": "100",
        "random_state": "42",
    }
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in described["InputDataConfig"]
    }
    assert channels == {
        "train": f"{root_uri(dev_config)}/preprocess/{preprocess.run_id}/train",
        "validation": f"{root_uri(dev_config)}/preprocess/{preprocess.run_id}/validation",
    }
    assert described["OutputDataConfig"]["S3OutputPath"] == f"{run_root}/model"
    assert described["CheckpointConfig"]["S3Uri"] == f"{run_root}/checkpoints"
    assert (
        described["StoppingCondition"]["MaxRuntimeInSeconds"] == dev_config.jobs.training.max_runtime_seconds
    )
    assert all(uri.startswith(root_uri(dev_config) + "/") for uri in all_s3_uris(described))
    [sent] = [r for r in chain.requests["CreateTrainingJob"] if r["TrainingJobName"] == job.job_name]
    assert all(uri.startswith(root_uri(dev_config) + "/") for uri in all_s3_uris(sent))
    definitions = {d["Name"]: d["Regex"] for d in sent["AlgorithmSpecification"]["MetricDefinitions"]}
    assert definitions["validation_roc_auc"] == "validation_roc_auc=([0-9.]+);"
    assert job.output_uris["model"] == f"{run_root}/model/{job.job_name}/output/model.tar.gz"
    assert re.fullmatch(rf"[a-z0-9-]+-training-{job.run_id[-6:]}-" + r"\d{14}", job.job_name)
    assert len(job.job_name) <= 63


def test_evaluation_feeds_the_model_and_test_split_and_stores_the_report_metrics(chain: Chain) -> None:
    dev_config, db = chain.config, chain.db

    job = latest(db, JobType.EVALUATION)
    training = latest(db, JobType.TRAINING)
    preprocess = latest(db, JobType.PREPROCESS)
    described = aws_client(dev_config, "sagemaker").describe_processing_job(ProcessingJobName=job.job_name)
    inputs = {i["InputName"]: i["S3Input"] for i in described["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == training.output_uris["model"]
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/input/model"
    assert inputs["test"]["S3Uri"] == preprocess.output_uris["test"]
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"] for o in described["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs == {"report": f"{root_uri(dev_config)}/evaluation/{job.run_id}/report"}
    assert (
        described["AppSpecification"]["ContainerEntrypoint"]
        == PROCESSING_SPECS[JobType.EVALUATION].entrypoint
    )
    assert job.metrics == {"accuracy": 0.95, "roc_auc": 0.99}
    assert job.upstream_run_ids == {"training": training.run_id, "preprocess": preprocess.run_id}


def test_inference_writes_predictions_back_to_the_database(chain: Chain) -> None:
    dev_config, db = chain.config, chain.db

    job = latest(db, JobType.INFERENCE)
    described = aws_client(dev_config, "sagemaker").describe_processing_job(ProcessingJobName=job.job_name)
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in described["ProcessingInputs"]}
    assert inputs == {
        "model": latest(db, JobType.TRAINING).output_uris["model"],
        "data": latest(db, JobType.COLLECTION).output_uris["raw"],
    }
    predictions = db.predictions(job.run_id)
    assert [(p.sample_id, p.prediction, p.probability) for p in predictions] == [
        (0, 0, 0.1),
        (1, 1, 0.9),
        (2, 1, 0.8),
    ]
    assert job.metrics == {"predictions": 3}


def test_a_full_chain_leaves_no_bucket_but_the_configured_one_and_no_key_outside_the_prefix(
    chain: Chain,
) -> None:
    dev_config, db = chain.config, chain.db

    assert_everything_under_the_prefix(dev_config)
    statuses = {job.job_type: job.status for job in db.list_jobs()}
    assert statuses == {job_type: JobStatus.COMPLETED for job_type in JobType}


def test_every_job_record_keeps_its_status_transitions_in_order(chain: Chain) -> None:
    db = chain.db

    job = latest(db, JobType.TRAINING)
    history = [t.status for t in job.transitions]
    assert history[0] is JobStatus.CREATED
    assert history[-1] is JobStatus.COMPLETED
    assert JobStatus.SUBMITTED in history
    times = [t.at for t in job.transitions]
    assert times == sorted(times)
    assert job.finished_at is not None
