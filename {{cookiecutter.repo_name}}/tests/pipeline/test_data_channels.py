"""Training channels chosen in the config or with `--input CHANNEL=URI`: S3 prefixes in any input mode and
FSx for Lustre folders, what SageMaker is asked for (against the moto server), and what is refused before any
AWS call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.batches import BatchRunner, run_chain, run_ok
from support.configs import edited_configs, every_model
from support.fakes import SentRequests, install_fake_container

from utils.aws.sagemaker_client import SageMakerExecutor
from utils.config_reader import Config, ConfigError, load_config
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobStatus, JobType
from utils.errors import RefusedError
from utils.job_definition import channel_sources, define_job
from utils.layout import Layout

FSX = "fsx://fs-0123456789abcdef0/abcdefgh/train"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba987654321f"]
SECURITY_GROUPS = ["sg-0123456789abcdef0"]


def config_with(tmp_path: Path, env: str, training: dict[str, Any]) -> Config:
    """The `env` config with these training settings for every model."""
    return load_config(env, config_dir=edited_configs(tmp_path, every_model("training", training), env))


@pytest.fixture
def preprocessed(dev_config: Config, run_batch: BatchRunner) -> Config:
    with pytest.MonkeyPatch.context() as patch:
        install_fake_container(patch)
        run_chain(run_batch, "preprocess")
    return dev_config


def test_an_fsx_channel_reaches_the_training_request_with_the_vpc_of_the_environment(
    preprocessed: Config,
    run_batch: BatchRunner,
    sagemaker_requests: SentRequests,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAGEMAKER_SUBNETS", ",".join(SUBNETS))
    monkeypatch.setenv("SAGEMAKER_SECURITY_GROUP_IDS", ",".join(SECURITY_GROUPS))

    run_ok(run_batch, "training", "--input", f"train={FSX}")

    [sent] = sagemaker_requests["CreateTrainingJob"]
    channels = {channel["ChannelName"]: channel for channel in sent["InputDataConfig"]}
    assert channels["train"]["DataSource"] == {
        "FileSystemDataSource": {
            "FileSystemId": "fs-0123456789abcdef0",
            "FileSystemType": "FSxLustre",
            "FileSystemAccessMode": "ro",
            "DirectoryPath": "/abcdefgh/train",
        }
    }
    # The other channel still reads the preprocess run's split.
    assert channels["validation"]["DataSource"]["S3DataSource"]["S3Uri"].startswith("s3://")
    assert sent["VpcConfig"] == {"Subnets": SUBNETS, "SecurityGroupIds": SECURITY_GROUPS}


@pytest.mark.parametrize("missing", ["SAGEMAKER_SUBNETS", "SAGEMAKER_SECURITY_GROUP_IDS"])
def test_an_fsx_channel_without_a_vpc_stops_the_batch_in_one_line_before_any_aws_call(
    preprocessed: Config,
    run_batch: BatchRunner,
    sagemaker_requests: SentRequests,
    dev_db: DbAdapter,
    monkeypatch: pytest.MonkeyPatch,
    missing: str,
) -> None:
    monkeypatch.setenv("SAGEMAKER_SUBNETS", ",".join(SUBNETS))
    monkeypatch.setenv("SAGEMAKER_SECURITY_GROUP_IDS", ",".join(SECURITY_GROUPS))
    monkeypatch.delenv(missing)

    result = run_batch("training", "--env", "dev", "--input", f"train={FSX}")

    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert f"FSx for Lustre channel train needs the job in the file system's VPC: set {missing}" in line
    assert sagemaker_requests == {}
    assert dev_db.list_jobs(JobType.TRAINING) == []


def test_a_fast_file_channel_keeps_its_mode_in_the_training_request(
    dev_config: Config, tmp_path: Path, sagemaker_requests: SentRequests
) -> None:
    config = config_with(tmp_path, "dev", {"channels": {"train": {"input_mode": "FastFile"}}})
    layout = Layout(config)
    run = layout.run(JobType.TRAINING, "t1")
    root = layout.root
    job = define_job(
        config,
        JobType.TRAINING,
        run,
        layout.job_name(JobType.TRAINING, run.run_id),
        image_uri=config.image_uri(),
        inputs={name: f"{root}/preprocess/p1/{name}" for name in ("train", "validation")},
        outputs={"model_output": run.model_output, "checkpoints": run.checkpoints},
    )

    result = SageMakerExecutor(config, poll_seconds=0).run(job, lambda *_, **__: None)

    assert result.status is JobStatus.COMPLETED
    [sent] = sagemaker_requests["CreateTrainingJob"]
    modes = {channel["ChannelName"]: channel.get("InputMode") for channel in sent["InputDataConfig"]}
    assert modes == {"train": "FastFile", "validation": "File"}


@pytest.mark.parametrize(
    ("item", "refusal"),
    [
        ("test=s3://bucket/test", "expected CHANNEL=URI with CHANNEL one of train, validation"),
        ("train=/data/train", "the source is s3://BUCKET/PREFIX or fsx://FILE-SYSTEM-ID/MOUNT-NAME/PATH"),
        ("train", "expected CHANNEL=URI"),
    ],
)
def test_a_malformed_input_is_refused_by_name(item: str, refusal: str) -> None:
    with pytest.raises(RefusedError, match=refusal):
        channel_sources(load_config("dev"), [item])


def test_an_input_overrides_the_configured_source_of_its_channel(tmp_path: Path) -> None:
    config = config_with(tmp_path, "dev", {"channels": {"train": {"source": "s3://data-lake/curated/train"}}})

    assert channel_sources(config, None) == {"train": "s3://data-lake/curated/train"}
    assert channel_sources(config, ["train=s3://data-lake/march/train"]) == {
        "train": "s3://data-lake/march/train"
    }


def test_a_configured_channel_the_job_does_not_have_is_refused_by_name(tmp_path: Path) -> None:
    config = config_with(tmp_path, "dev", {"channels": {"holdout": {"input_mode": "Pipe"}}})

    with pytest.raises(
        RefusedError, match=r"training\.channels: no channel holdout \(channels: train, validation\)"
    ):
        channel_sources(config, None)


def test_a_channel_source_that_is_neither_s3_nor_fsx_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.\w+\.training\.channels\.train\.source"):
        config_with(tmp_path, "dev", {"channels": {"train": {"source": "https://example.com/train"}}})


def test_locally_an_fsx_channel_reads_a_folder_of_the_runs_folder(runs_dir: Path) -> None:
    folder = runs_dir / "fsx" / "fs-0123456789abcdef0" / "abcdefgh" / "train"
    config = load_config("local")

    with pytest.raises(RefusedError, match=r"reads \S+ locally, and there is no such folder"):
        channel_sources(config, [f"train={FSX}"])
    folder.mkdir(parents=True)
    assert channel_sources(config, [f"train={FSX}"]) == {"train": folder.as_posix()}
    with pytest.raises(RefusedError, match="--env local reads folders on this machine"):
        channel_sources(config, ["train=s3://data-lake/train"])
