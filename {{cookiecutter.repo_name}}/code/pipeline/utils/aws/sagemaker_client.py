"""Run a job definition as a real SageMaker job: create it with the SDK, then wait for its end.

Every location a job can write to (outputs, checkpoints, anything the SDK stages) is passed in explicitly; the
Session's default bucket and prefix point into the run's own folder so that even an SDK default lands there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sagemaker.core.helper.session_helper import Session
from sagemaker.core.training.configs import CheckpointConfig, MetricDefinition, OutputDataConfig
from sagemaker.train.model_trainer import Mode, ModelTrainer

from utils.aws import sdk_requests
from utils.aws.sagemaker_jobs import job_state
from utils.aws.sdk_workarounds import SDK_CONFIG, created_training_job_name, role_validation_disabled
from utils.aws.session import EndpointSession
from utils.config_reader import Config
from utils.db.enum import JobStatus
from utils.job_definition import JobDefinition, JobResult, StatusCallback
from utils.layout import RunLayout


class SageMakerExecutor:
    def __init__(self, config: Config, poll_seconds: float = 15.0) -> None:
        self.config = config
        self.poll_seconds = poll_seconds
        self.boto_session = EndpointSession(config.aws.region, config.aws.endpoint_url)

    def session(self, run: RunLayout) -> Session:
        return run_session(self.boto_session, run)

    def run(self, job: JobDefinition, on_status: StatusCallback) -> JobResult:
        session = self.session(job.run)
        if job.is_training:
            name = self._create_training_job(job, session)
            kind, describe = "TrainingJobStatus", session.sagemaker_client.describe_training_job
            on_status(JobStatus.SUBMITTED, f"training job {name} created", job_name=name)
            description = self._wait(lambda: describe(TrainingJobName=name), kind, on_status)
            artifact = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
            outputs = {"model": artifact or job.run.model_artifact(name, False)}
        else:
            name = job.name
            sdk_requests.processor(job, session, self.config.aws.role_arn).run(
                inputs=sdk_requests.processing_inputs(job, local=False),
                outputs=sdk_requests.processing_outputs(job, local=False),
                arguments=job.arguments or None,
                wait=False,
                logs=False,
                job_name=name,
            )
            kind, describe = "ProcessingJobStatus", session.sagemaker_client.describe_processing_job
            on_status(JobStatus.SUBMITTED, f"processing job {name} created", job_name=name)
            description = self._wait(lambda: describe(ProcessingJobName=name), kind, on_status)
            outputs = {output: data.uri for output, data in job.outputs.items()}
        state = job_state(description, kind)
        return JobResult(name, state.status, state.failure_reason, outputs, state.metrics)

    def _create_training_job(self, job: JobDefinition, session: Session) -> str:
        with role_validation_disabled(self.config.aws.endpoint_url is not None):
            trainer = training_trainer(self.config, job, session)
            trainer.train(
                input_data_config=sdk_requests.training_channels(job, local=False), wait=False, logs=False
            )
        return created_training_job_name(trainer)

    def _wait(
        self, describe: Callable[[], dict[str, Any]], status_key: str, on_status: StatusCallback
    ) -> dict[str, Any]:
        reported: JobStatus | None = None
        while True:
            description = describe()
            status = job_state(description, status_key).status
            if status is not reported:
                reported = status
                if not status.is_terminal:
                    on_status(status, description.get("SecondaryStatus"))
            if status.is_terminal:
                return description
            time.sleep(self.poll_seconds)


def run_session(boto_session: EndpointSession, run: RunLayout) -> Session:
    """The SDK session of one run: whatever the SDK stages goes into the run's own folder."""
    return Session(
        boto_session=boto_session,
        default_bucket=run.bucket,
        default_bucket_prefix=run.sdk_staging_key_prefix,
        sagemaker_config=SDK_CONFIG,
    )


def training_trainer(config: Config, job: JobDefinition, session: Session) -> ModelTrainer:
    """The ModelTrainer of a training job definition: every location from the definition, the job's metric
    regexes on it. Call inside `role_validation_disabled` where the endpoint is not AWS."""
    trainer = ModelTrainer(
        training_mode=Mode.SAGEMAKER_TRAINING_JOB,
        sagemaker_session=session,
        role=config.aws.role_arn,
        output_data_config=OutputDataConfig(s3_output_path=job.outputs["model_output"].uri),
        checkpoint_config=CheckpointConfig(s3_uri=job.outputs["checkpoints"].uri),
        **sdk_requests.trainer_settings(job),
    )
    if job.metric_regexes:
        trainer.with_metric_definitions(
            [MetricDefinition(name=name, regex=regex) for name, regex in job.metric_regexes.items()]
        )
    return trainer
