"""Each batch with `--env dev` against a moto server: the SageMaker job it creates and where data lands."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from sagemaker.train.model_trainer import ModelTrainer
from sqlalchemy import select
from support.aws import aws_client, root_uri
from support.batches import BATCH_APPS, CHAIN, BatchRunner, latest, run_chain, run_ok
from support.fakes import FakeContainer
from typer.testing import CliRunner

from batches.jobs import Interrupted
from utils.aws.local_containers import ContainerEnd, DockerUnavailableError
from utils.config_reader import PIPELINE_DIR, Config, load_config
from utils.db.__main__ import app as db_app
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobStatus, JobType
from utils.db.schema import Job

pytestmark = pytest.mark.usefixtures("fake_container")


def test_collection_writes_the_source_table_as_csv_under_the_prefix(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    run_ok(run_batch, "collection")

    job = latest(dev_db, JobType.COLLECTION)
    assert job.status is JobStatus.COMPLETED
    assert job.metrics == {"rows": 569}
    csv_uri = f"{job.output_uris['raw']}/data.csv"
    assert csv_uri == f"{root_uri(dev_config)}/collection/{job.run_id}/raw/data.csv"
    bucket, _, key = csv_uri.removeprefix("s3://").partition("/")
    body = aws_client(dev_config, "s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    lines = body.splitlines()
    assert lines[0].startswith("id,mean_radius,") and lines[0].endswith(",label")
    assert len(lines) == 570


def test_rerunning_a_batch_creates_a_new_run_and_keeps_the_previous_outputs(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    run_chain(run_batch, "preprocess")
    run_ok(run_batch, "training")
    run_ok(run_batch, "training")

    first, second = reversed(dev_db.list_jobs(JobType.TRAINING))
    assert first.run_id != second.run_id
    assert first.job_name != second.job_name
    s3 = aws_client(dev_config, "s3")
    for job in (first, second):
        bucket, _, key = job.output_uris["model"].removeprefix("s3://").partition("/")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert first.output_uris["model"] != second.output_uris["model"]


def test_an_explicit_upstream_run_id_is_used_instead_of_the_latest(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    run_ok(run_batch, "collection")
    first_collection = latest(dev_db, JobType.COLLECTION)
    run_ok(run_batch, "collection")

    run_ok(run_batch, "preprocess", "--collection-run-id", first_collection.run_id)

    assert latest(dev_db, JobType.PREPROCESS).upstream_run_ids == {"collection": first_collection.run_id}


def test_a_batch_without_a_completed_upstream_run_says_which_batch_to_run_first(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    result = run_batch("training", "--env", "dev")

    assert result.exit_code == 1
    assert "no completed preprocess run of model " in result.output
    assert "Traceback" not in result.output
    assert dev_db.list_jobs() == []


def test_a_job_that_sagemaker_reports_failed_is_recorded_failed_with_its_reason(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ok(run_batch, "collection")
    failed = {
        "ProcessingJobStatus": "Failed",
        "FailureReason": "AlgorithmError: raw data has no target column",
    }
    monkeypatch.setattr("utils.aws.sagemaker_client.SageMakerExecutor._wait", lambda self, *a: failed)

    result = run_batch("preprocess", "--env", "dev")

    assert result.exit_code == 1
    assert "AlgorithmError: raw data has no target column" in result.output
    job = latest(dev_db, JobType.PREPROCESS)
    assert job.status is JobStatus.FAILED
    assert job.failure_reason == "AlgorithmError: raw data has no target column"
    assert job.transitions[-1].status is JobStatus.FAILED
    assert "no completed preprocess run of model " in run_batch("training", "--env", "dev").output


def test_a_job_that_completes_without_its_report_is_recorded_failed(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, fake_container: FakeContainer
) -> None:
    run_chain(run_batch, "training")
    fake_container.skip_outputs.add("report")

    result = run_batch("evaluation", "--env", "dev")

    assert result.exit_code == 1
    job = latest(dev_db, JobType.EVALUATION)
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is not None
    assert "output is unusable" in job.failure_reason


def test_the_lifecycle_stops_at_the_first_stage_that_fails_with_its_exit_code(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, fake_container: FakeContainer
) -> None:
    fake_container.skip_outputs.add("report")

    result = run_batch("lifecycle", "--env", "dev")

    assert result.exit_code == 1
    assert "[3/5] training done in" in result.output
    assert "[4/5] evaluation FAILED after" in result.output
    assert "[5/5]" not in result.output
    assert latest(dev_db, JobType.TRAINING).status is JobStatus.COMPLETED
    assert latest(dev_db, JobType.EVALUATION).status is JobStatus.FAILED
    assert dev_db.list_jobs(JobType.INFERENCE, limit=1) == []


def test_a_submission_error_is_recorded_failed_in_one_line(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_chain(run_batch, "preprocess")

    def refuse(*_: Any, **__: Any) -> None:
        error: Any = {
            "Error": {"Code": "ResourceLimitExceeded", "Message": "The account-level service limit\nis 0"}
        }
        raise ClientError(error, "CreateTrainingJob")

    monkeypatch.setattr(ModelTrainer, "train", refuse)

    result = run_batch("training", "--env", "dev")

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "ResourceLimitExceeded" in result.output
    job = latest(dev_db, JobType.TRAINING)
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is not None
    assert "\n" not in job.failure_reason


@pytest.mark.parametrize("name", BATCH_APPS)
def test_every_batch_has_help(run_batch: BatchRunner, name: str) -> None:
    result = run_batch(name, "--help")

    assert result.exit_code == 0
    assert "--env" in result.output


def test_a_batchs_help_loads_neither_the_sdk_nor_the_database_nor_aws_libraries() -> None:
    """`--help` never waits for the SageMaker SDK (seconds), SQLAlchemy, Alembic or boto3 to import: a batch
    loads them once its arguments and config are read."""
    heavy = ("sagemaker", "sqlalchemy", "alembic", "boto3")
    # One interpreter runs every batch's help in turn: what one of them imported would still be loaded after
    # the next, so the check after each batch covers all the batches before it.
    code = (
        "import runpy, sys\n"
        f"heavy = set({heavy!r})\n"
        f"for name in {list(BATCH_APPS)!r}:\n"
        "    sys.argv = [f'batches.{name}', '--help']\n"
        "    try:\n"
        "        runpy.run_module(f'batches.{name}', run_name='__main__')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    print('loaded after', name, sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PIPELINE_DIR, capture_output=True, text=True, check=True
    )

    assert result.stdout.count("Usage:") == len(BATCH_APPS)
    loaded = [line for line in result.stdout.splitlines() if line.startswith("loaded after")]
    assert loaded == [f"loaded after {name} []" for name in BATCH_APPS]


@pytest.mark.parametrize("batch", ["preprocess", "training", "evaluation", "inference"])
def test_an_image_missing_from_ecr_stops_the_batch_before_any_job_with_the_push_command(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch, batch: str
) -> None:
    run_chain(run_batch, CHAIN[CHAIN.index(batch) - 1])
    jobs_before = len(dev_db.list_jobs(limit=100))
    sagemaker = aws_client(dev_config, "sagemaker")
    created_before = len(sagemaker.list_processing_jobs()["ProcessingJobSummaries"]) + len(
        sagemaker.list_training_jobs()["TrainingJobSummaries"]
    )
    monkeypatch.setenv("IMAGE_TAG", "never-pushed")

    result = run_batch(batch, "--env", "dev")

    assert result.exit_code == 1
    image = f"{dev_config.images.registry}/{dev_config.images.repository_prefix}/{dev_config.model_name}"
    assert result.output.strip() == (
        f"error: image {image}:never-pushed is not in ECR, so no job was created; push it first: "
        f"scripts/docker/container/push.sh --env dev --tag never-pushed {dev_config.model_name}"
    )
    assert len(dev_db.list_jobs(limit=100)) == jobs_before
    created_after = len(sagemaker.list_processing_jobs()["ProcessingJobSummaries"]) + len(
        sagemaker.list_training_jobs()["TrainingJobSummaries"]
    )
    assert created_after == created_before


@pytest.mark.scripts  # the tag is the digest of scripts/docker/container and the model's code
def test_an_unpushed_tree_is_refused_with_the_build_and_push_commands_of_its_own_tag(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without IMAGE_TAG the batch asks ECR for the tag of this tree's build inputs, as push.sh pushes it."""
    run_chain(run_batch, "collection")
    monkeypatch.delenv("IMAGE_TAG")
    expected = load_config("dev", model=dev_config.model_name).image_uri()

    result = run_batch("preprocess", "--env", "dev")

    assert result.exit_code == 1
    model = dev_config.model_name
    assert result.output.strip() == (
        f"error: image {expected} is not in ECR, so no job was created; push it first: "
        f"scripts/docker/container/build.sh --env dev {model} && "
        f"scripts/docker/container/push.sh --env dev {model}"
    )


def _as_if_the_batch_was_killed_while_waiting(db: DbAdapter, run_id: str) -> None:
    """What a SIGKILL (or a closed laptop) leaves: the record stops where the batch last wrote it."""
    with db.session() as session:
        job = session.scalars(select(Job).where(Job.run_id == run_id)).one()
        job.status, job.finished_at, job.metrics = JobStatus.IN_PROGRESS, None, {}


def test_sync_records_how_sagemaker_ended_the_jobs_whose_batch_ended_first(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter
) -> None:
    run_chain(run_batch, "training")
    preprocess, training = latest(dev_db, JobType.PREPROCESS), latest(dev_db, JobType.TRAINING)
    for job in (preprocess, training):
        _as_if_the_batch_was_killed_while_waiting(dev_db, job.run_id)
    aws_client(dev_config, "sagemaker").stop_processing_job(ProcessingJobName=preprocess.job_name)
    ghost = dev_db.create_job(
        run_id="never-submitted",
        job_type=JobType.EVALUATION,
        job_name="evaluation-never-submitted",
        model_name=dev_config.model_name,
        environment="dev",
    )

    result = CliRunner().invoke(db_app, ["sync", "--env", "dev"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"training {training.job_name} (run id {training.run_id}): InProgress -> Completed" in lines
    assert f"preprocess {preprocess.job_name} (run id {preprocess.run_id}): InProgress -> Stopped" in lines
    ghost_line = f"evaluation {ghost.job_name} (run id {ghost.run_id}): "
    assert f"{ghost_line}SageMaker has no such job; left Created" in lines
    assert lines[-1] == "2 record(s) settled, 0 job(s) still running, 1 unknown to SageMaker"
    settled = dev_db.get_job(training.run_id)
    assert settled is not None and settled.status is JobStatus.COMPLETED and settled.finished_at is not None
    assert settled.transitions[-1].message == "SageMaker says Completed (utils.db sync)"
    stopped = dev_db.get_job(preprocess.run_id)
    assert stopped is not None and stopped.status is JobStatus.STOPPED
    assert stopped.failure_reason == "job ended as Stopped"
    again = CliRunner().invoke(db_app, ["sync", "--env", "dev"])
    assert again.output.splitlines()[-1].startswith("0 record(s) settled, 0 job(s) still running, 1 unknown")


def test_sync_changes_no_record_when_sagemaker_cannot_be_asked(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_chain(run_batch, "preprocess")
    preprocess = latest(dev_db, JobType.PREPROCESS)
    _as_if_the_batch_was_killed_while_waiting(dev_db, preprocess.run_id)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there

    result = CliRunner().invoke(db_app, ["sync", "--env", "dev"])

    assert result.exit_code == 1
    assert "error: SageMaker could not be asked" in result.output
    job = dev_db.get_job(preprocess.run_id)
    assert job is not None and job.status is JobStatus.IN_PROGRESS


def _unfinished_local_job(db: DbAdapter, run_id: str) -> Job:
    job = db.create_job(
        run_id=run_id,
        job_type=JobType.TRAINING,
        job_name=f"training-{run_id}",
        model_name=next(iter(load_config("local").models)),
        environment="local",
    )
    _as_if_the_batch_was_killed_while_waiting(db, job.run_id)
    return job


def test_local_sync_stops_the_jobs_whose_batch_was_killed_and_leaves_running_ones(
    dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    killed = _unfinished_local_job(dev_db, "20261203-100000-aaaaaa")
    alive = _unfinished_local_job(dev_db, "20261203-100000-bbbbbb")
    left_behind = ContainerEnd("id-killed", "algo-1-killed", running=False, exit_code=137, oom_killed=False)
    still_running = ContainerEnd("id-alive", "algo-1-alive", running=True, exit_code=0, oom_killed=False)
    lifecycle = tmp_path / "runs" / "20261203-095959-cccccc" / "training"
    monkeypatch.setattr(
        "utils.aws.local_containers.compose_containers",
        lambda: [
            (f"{lifecycle}/container-{killed.run_id}", left_behind),
            (f"{lifecycle}/container-{alive.run_id}", still_running),
        ],
    )
    removed: list[ContainerEnd] = []
    monkeypatch.setattr("utils.db.__main__.remove_containers", removed.extend)

    result = CliRunner().invoke(db_app, ["sync", "--env", "local"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"training {killed.job_name} (run id {killed.run_id}): InProgress -> Stopped" in lines
    assert f"training {alive.job_name} (run id {alive.run_id}): its containers still run in Docker" in lines
    assert lines[-1] == "1 record(s) settled, 1 job(s) still running"
    stopped = dev_db.get_job(killed.run_id)
    assert stopped is not None and stopped.status is JobStatus.STOPPED and stopped.finished_at is not None
    assert stopped.failure_reason is not None and "killed?" in stopped.failure_reason
    running = dev_db.get_job(alive.run_id)
    assert running is not None and running.status is JobStatus.IN_PROGRESS
    assert removed == [left_behind]


def test_local_sync_changes_no_record_when_docker_does_not_answer(
    dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _unfinished_local_job(dev_db, "20261203-100000-dddddd")

    def no_docker() -> list[tuple[str, ContainerEnd]]:
        raise DockerUnavailableError("Cannot connect to the Docker daemon")

    monkeypatch.setattr("utils.aws.local_containers.compose_containers", no_docker)

    result = CliRunner().invoke(db_app, ["sync", "--env", "local"])

    assert result.exit_code == 1
    assert "error: Docker does not answer `docker ps`" in result.output
    unchanged = dev_db.get_job(job.run_id)
    assert unchanged is not None and unchanged.status is JobStatus.IN_PROGRESS


def test_losing_sagemaker_while_waiting_leaves_the_record_for_sync(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_chain(run_batch, "preprocess")

    def lost(self: Any, *args: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://api.sagemaker.example")

    with monkeypatch.context() as patch:
        patch.setattr("utils.aws.sagemaker_client.SageMakerExecutor._wait", lost)
        result = run_batch("training", "--env", "dev")

    assert result.exit_code == 1
    job = latest(dev_db, JobType.TRAINING)
    assert f"lost contact with SageMaker while waiting for {job.job_name}" in result.output
    assert "`python -m utils.db sync --env dev` records how it ends" in result.output
    assert job.status is JobStatus.SUBMITTED and job.failure_reason is None
    names = [
        s["TrainingJobName"]
        for s in aws_client(dev_config, "sagemaker").list_training_jobs()["TrainingJobSummaries"]
    ]
    assert job.job_name in names  # the record names the job as SageMaker does, timestamp and all

    synced = CliRunner().invoke(db_app, ["sync", "--env", "dev"])

    assert (
        f"training {job.job_name} (run id {job.run_id}): Submitted -> Completed" in synced.output.splitlines()
    )


def test_ctrl_c_while_waiting_asks_sagemaker_to_stop_the_job(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ok(run_batch, "collection")

    def interrupted(self: Any, *args: Any) -> None:
        raise Interrupted(signal.SIGINT)  # what the batch's SIGINT handler raises while it polls

    monkeypatch.setattr("utils.aws.sagemaker_client.SageMakerExecutor._wait", interrupted)
    result = run_batch("preprocess", "--env", "dev")

    assert result.exit_code == 130
    job = latest(dev_db, JobType.PREPROCESS)
    assert "SageMaker was asked to stop it; recorded Stopped" in result.output
    assert job.status is JobStatus.STOPPED
    description = aws_client(dev_config, "sagemaker").describe_processing_job(ProcessingJobName=job.job_name)
    assert description["ProcessingJobStatus"] == "Stopped"


def test_ctrl_c_with_detach_leaves_the_job_running_and_sync_records_how_it_ended(
    dev_config: Config, run_batch: BatchRunner, dev_db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ok(run_batch, "collection")

    def interrupted(self: Any, *args: Any) -> None:
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr("utils.aws.sagemaker_client.SageMakerExecutor._wait", interrupted)
    result = run_batch("preprocess", "--env", "dev", "--detach")

    assert result.exit_code == 130
    job = latest(dev_db, JobType.PREPROCESS)
    assert job.status is JobStatus.IN_PROGRESS
    assert job.finished_at is None
    assert f"{job.job_name} left running in SageMaker (SIGINT, --detach)" in result.output
    assert "python -m utils.db sync --env dev" in result.output
    description = aws_client(dev_config, "sagemaker").describe_processing_job(ProcessingJobName=job.job_name)
    assert description["ProcessingJobStatus"] != "Stopped"

    synced = CliRunner().invoke(db_app, ["sync", "--env", "dev"])

    ended = description["ProcessingJobStatus"]
    assert f"preprocess {job.job_name} (run id {job.run_id}): {job.status} -> {ended}" in synced.output
    assert latest(dev_db, JobType.PREPROCESS).status is JobStatus(ended)


@pytest.mark.parametrize("batch", ["preprocess", "training", "evaluation", "inference"])
def test_detach_is_listed_and_refused_in_local_mode_in_one_line(run_batch: BatchRunner, batch: str) -> None:
    assert "--detach" in run_batch(batch, "--help").output

    result = run_batch(batch, "--env", "local", "--detach")

    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --detach is for SageMaker jobs: a local job runs in this process's containers"
    )


@pytest.mark.model_project
@pytest.mark.parametrize(
    ("batch", "override", "message"),
    [
        ("training", ["--hyperparameter", "learning_rate=-0.1"], "learning_rate=-0.1 must be in (0, 1]"),
        ("training", ["--hyperparameter", "learnin_rate=0.1"], "unrecognized arguments: --learnin_rate 0.1"),
        ("preprocess", ["--param", "seed=seven"], "argument --seed: invalid int value: 'seven'"),
    ],
)
def test_parameters_the_job_would_refuse_stop_the_batch_before_any_record_or_job(
    dev_config: Config,
    run_batch: BatchRunner,
    dev_db: DbAdapter,
    batch: str,
    override: list[str],
    message: str,
) -> None:
    run_chain(run_batch, CHAIN[CHAIN.index(batch) - 1])
    records_before = len(dev_db.list_jobs(limit=100))
    sagemaker = aws_client(dev_config, "sagemaker")

    def sagemaker_jobs() -> int:
        processing = sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
        return len(processing) + len(sagemaker.list_training_jobs()["TrainingJobSummaries"])

    created_before = sagemaker_jobs()

    result = run_batch(batch, "--env", "dev", *override)

    assert result.exit_code == 2
    assert f"the {batch} job would refuse its parameters, so nothing was started: " in result.output
    assert message in result.output
    assert len(dev_db.list_jobs(limit=100)) == records_before
    assert sagemaker_jobs() == created_before
