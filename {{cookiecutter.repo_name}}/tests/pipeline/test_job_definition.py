"""A job described once in the config: what the definition holds, and what SageMaker is asked for when the
config scales a job out (several instances, sharded inputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.configs import edited_configs, every_model
from support.fakes import SentRequests

from utils.aws.sagemaker_client import SageMakerExecutor
from utils.config_reader import Config, load_config
from utils.db.enum import JobStatus, JobType
from utils.errors import RefusedError
from utils.job_definition import JobResult, define_job, with_overrides
from utils.layout import Layout, new_run_id


def scaled_out_config(tmp_path: Path, job_type: JobType, instances: int) -> Config:
    """The dev config with one job of its model on `instances` instances and sharded inputs."""
    edit = every_model(job_type.value, {"instance_count": instances, "distribution": "ShardedByS3Key"})
    return load_config("dev", config_dir=edited_configs(tmp_path, edit, "dev"))


def test_a_definition_takes_resources_and_parameters_from_the_config_and_overrides(tmp_path: Path) -> None:
    config = load_config("dev")  # its model: PIPELINE_MODEL, which conftest.py sets
    run = Layout(config).run(JobType.PREPROCESS, "r1")
    settings = config.jobs.preprocess

    job = define_job(
        config,
        JobType.PREPROCESS,
        run,
        "name-r1",
        image_uri="registry/image:tag",
        inputs={"raw": "s3://bucket/raw"},
        outputs={"train": "s3://bucket/train"},
        overrides=["seed=7"],
    )

    assert job.resources.instance_type == settings.instance_type
    assert job.resources.max_runtime_seconds == settings.max_runtime_seconds
    assert job.parameters == {**settings.parameters, "seed": 7}
    assert job.inputs["raw"].container_path == "/opt/ml/processing/input/raw"
    assert job.inputs["raw"].distribution == "FullyReplicated"
    assert job.outputs["train"].container_path == "/opt/ml/processing/output/train"
    assert "--seed" in job.arguments and job.arguments[job.arguments.index("--seed") + 1] == "7"


def test_a_sharded_job_still_gives_every_instance_the_whole_model(tmp_path: Path) -> None:
    config = scaled_out_config(tmp_path, JobType.INFERENCE, 3)
    run = Layout(config).run(JobType.INFERENCE, "r1")

    job = define_job(
        config,
        JobType.INFERENCE,
        run,
        "name-r1",
        image_uri="registry/image:tag",
        inputs={"model": "s3://bucket/model.tar.gz", "data": "s3://bucket/data"},
        outputs={"predictions": "s3://bucket/predictions"},
    )

    assert job.resources.instance_count == 3
    assert job.inputs["data"].distribution == "ShardedByS3Key"
    assert job.inputs["model"].distribution == "FullyReplicated"


@pytest.mark.parametrize("override", ["seed", "=7", ""])
def test_a_malformed_override_is_refused(override: str) -> None:
    with pytest.raises(RefusedError, match="expected NAME=VALUE"):
        with_overrides({"seed": 42}, [override])


def run_scaled_out(
    tmp_path: Path, job_type: JobType, inputs: dict[str, str], outputs: list[str]
) -> tuple[JobResult, str]:
    """Run one job of the config scaled out to two instances against moto; returns its result and the
    model's S3 root the inputs live under (`{root}` in `inputs`)."""
    config = scaled_out_config(tmp_path, job_type, 2)
    layout = Layout(config)
    run = layout.run(job_type, new_run_id())
    root = run.root.rsplit(f"/{job_type.value}/", 1)[0]
    locations = {"model_output": run.model_output, "checkpoints": run.checkpoints}
    job = define_job(
        config,
        job_type,
        run,
        layout.job_name(job_type, run.run_id),
        image_uri=config.image_uri(),
        inputs={name: uri.format(root=root) for name, uri in inputs.items()},
        outputs={name: locations.get(name) or run.output(name) for name in outputs},
    )
    return SageMakerExecutor(config, poll_seconds=0).run(job, lambda *_, **__: None), root


def test_two_instances_and_sharded_channels_reach_the_training_request(
    dev_config: Config, tmp_path: Path, sagemaker_requests: SentRequests
) -> None:
    channels = {"train": "{root}/preprocess/p1/train", "validation": "{root}/preprocess/p1/validation"}

    result, root = run_scaled_out(tmp_path, JobType.TRAINING, channels, ["model_output", "checkpoints"])

    assert result.status is JobStatus.COMPLETED
    [sent] = sagemaker_requests["CreateTrainingJob"]
    assert sent["TrainingJobName"] == result.job_name
    assert sent["ResourceConfig"]["InstanceCount"] == 2
    sources = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in sent["InputDataConfig"]}
    assert set(sources) == {"train", "validation"}
    assert {source["S3DataDistributionType"] for source in sources.values()} == {"ShardedByS3Key"}
    assert sources["train"]["S3Uri"] == f"{root}/preprocess/p1/train"


def test_two_instances_and_sharded_inputs_reach_the_processing_request(
    dev_config: Config, tmp_path: Path, sagemaker_requests: SentRequests
) -> None:
    result, root = run_scaled_out(
        tmp_path, JobType.PREPROCESS, {"raw": "{root}/collection/c1/raw"}, ["train"]
    )

    assert result.status is JobStatus.COMPLETED
    [sent] = sagemaker_requests["CreateProcessingJob"]
    assert sent["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    [data] = sent["ProcessingInputs"]
    assert data["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert data["S3Input"]["S3Uri"] == f"{root}/collection/c1/raw"
