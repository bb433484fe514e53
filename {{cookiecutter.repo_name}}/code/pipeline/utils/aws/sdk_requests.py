"""A job definition as the SageMaker SDK's objects: the Processor and its inputs and outputs, and the settings
of a ModelTrainer. Shared by the SageMaker and the local-mode executors and by the pipeline's steps, so all
three run the same job.

A pipeline step knows some values only when it runs (an earlier step's output, a pipeline parameter): it
passes them as `Where`, the value to put in place of each location (by input or output name) and of the
instance type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker.core.helper.session_helper import Session
from sagemaker.core.network import NetworkConfig
from sagemaker.core.shapes import (
    Channel,
    DataSource,
    FileSystemDataSource,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.training.configs import Compute, InputData, Networking, S3DataSource, StoppingCondition

from utils.aws.sdk_workarounds import LocalInputsProcessor
from utils.job_definition import JobDefinition


@dataclass(frozen=True)
class Where:
    """Values known at run time, in place of the definition's: locations by input and output name (a
    pipeline variable or text) and the instance type."""

    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    instance_type: Any = None


AS_DEFINED = Where()


def file_uri(path: str) -> str:
    return Path(path).resolve().as_uri()


def processor(
    job: JobDefinition, session: Session, role: str | None, where: Where = AS_DEFINED
) -> LocalInputsProcessor:
    return LocalInputsProcessor(
        role=role,
        image_uri=job.image_uri,
        instance_count=job.resources.instance_count,
        instance_type=where.instance_type or job.resources.instance_type,
        entrypoint=list(job.entrypoint),
        volume_size_in_gb=job.resources.volume_size_gb,
        max_runtime_in_seconds=job.resources.max_runtime_seconds,
        base_job_name=job.name,
        sagemaker_session=session,
        env=job.environment or None,
        network_config=(
            NetworkConfig(
                subnets=list(job.network.subnets), security_group_ids=list(job.network.security_group_ids)
            )
            if job.network
            else None
        ),
    )


def processing_inputs(job: JobDefinition, local: bool, where: Where = AS_DEFINED) -> list[ProcessingInput]:
    """Local mode reads local folders as `file://` locations."""
    return [
        ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=file_uri(data.uri) if local else where.inputs.get(name, data.uri),
                local_path=data.container_path,
                s3_data_type="S3Prefix",
                s3_input_mode="File",
                s3_data_distribution_type=data.distribution,
            ),
        )
        for name, data in job.inputs.items()
    ]


def processing_outputs(job: JobDefinition, local: bool, where: Where = AS_DEFINED) -> list[ProcessingOutput]:
    return [
        ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=file_uri(data.uri) if local else where.outputs.get(name, data.uri),
                local_path=data.container_path,
                s3_upload_mode="EndOfJob",
            ),
        )
        for name, data in job.outputs.items()
    ]


def trainer_settings(job: JobDefinition, where: Where = AS_DEFINED) -> dict[str, Any]:
    """What a ModelTrainer takes from the definition in both modes."""
    return {
        "training_image": job.image_uri,
        "base_job_name": job.name,
        "hyperparameters": dict(job.parameters),
        "environment": dict(job.environment),
        "stopping_condition": StoppingCondition(max_runtime_in_seconds=job.resources.max_runtime_seconds),
        "compute": Compute(
            instance_type=where.instance_type or job.resources.instance_type,
            instance_count=job.resources.instance_count,
            volume_size_in_gb=job.resources.volume_size_gb,
        ),
        "networking": (
            Networking(
                subnets=list(job.network.subnets), security_group_ids=list(job.network.security_group_ids)
            )
            if job.network
            else None
        ),
    }


def training_channels(
    job: JobDefinition, local: bool, where: Where = AS_DEFINED
) -> list[InputData] | list[Channel]:
    """Local mode mounts local folders (given as paths). SageMaker reads each channel in its input mode, as a
    Channel of its own: an S3 prefix with the definition's distribution, or an FSx for Lustre folder, mounted
    read-only. (An S3 source given as a plain location would come back with the File mode, whatever the
    channel asked for.)"""
    if local:
        return [
            InputData(channel_name=name, data_source=str(Path(data.uri).resolve()))
            for name, data in job.inputs.items()
        ]
    channels: list[Channel] = []
    for name, data in job.inputs.items():
        fsx = data.fsx
        if fsx is not None:
            source = DataSource(
                file_system_data_source=FileSystemDataSource(
                    file_system_id=fsx.file_system_id,
                    file_system_type="FSxLustre",
                    file_system_access_mode="ro",
                    directory_path=fsx.directory_path,
                )
            )
            channels.append(Channel(channel_name=name, data_source=source, input_mode="File"))
            continue
        source = DataSource(
            s3_data_source=S3DataSource(
                s3_data_type="S3Prefix",
                s3_uri=where.inputs.get(name, data.uri),
                s3_data_distribution_type=data.distribution,
            )
        )
        channels.append(Channel(channel_name=name, data_source=source, input_mode=data.input_mode))
    return channels
