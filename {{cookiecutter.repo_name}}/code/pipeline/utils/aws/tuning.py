"""A search space (`utils.tuning`) as a SageMaker hyperparameter tuning job over the training job definition:
the same trainer, channels and locations as `batches.training`, the objective read by the job's own metric
regex (given to the tuner itself: a regex set only on the trainer does not reach the tuning job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagemaker.core.parameter import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
)
from sagemaker.train.tuner import HyperparameterTuner

from utils.aws import sdk_requests
from utils.aws.sagemaker_client import run_session, training_trainer
from utils.aws.sdk_workarounds import role_validation_disabled
from utils.aws.session import EndpointSession
from utils.config_reader import Config
from utils.job_definition import JobDefinition
from utils.tuning import SearchSpace

# How SageMaker ends a tuning job; anything else is still running.
FINAL_STATUSES = ("Completed", "Failed", "Stopped")


def parameter_ranges(space: SearchSpace) -> dict[str, ParameterRange]:
    ranges: dict[str, ParameterRange] = {}
    for name, item in space.ranges.items():
        if item.type == "categorical":
            ranges[name] = CategoricalParameter(list(item.values or []))
        elif item.type == "integer":
            ranges[name] = IntegerParameter(int(item.min or 0), int(item.max or 0), scaling_type=item.scaling)
        else:
            ranges[name] = ContinuousParameter(
                float(item.min or 0), float(item.max or 0), scaling_type=item.scaling
            )
    return ranges


def search_tuner(trainer: Any, job: JobDefinition, space: SearchSpace) -> HyperparameterTuner:
    """The tuner of a search over a training job's trainer, every metric regex of the job on it (a regex set
    only on the trainer does not reach the tuning job)."""
    return HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name=space.objective,
        hyperparameter_ranges=parameter_ranges(space),
        metric_definitions=[{"Name": name, "Regex": regex} for name, regex in job.metric_regexes.items()],
        strategy=space.strategy,
        objective_type=space.objective_type,
        max_jobs=space.max_jobs,
        max_parallel_jobs=space.max_parallel_jobs,
        early_stopping_type=space.early_stopping,
    )


@dataclass(frozen=True)
class TuningState:
    status: str
    counters: dict[str, int] = field(default_factory=dict)
    failure_reason: str | None = None
    best_job: str | None = None
    best_value: float | None = None
    best_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


class SageMakerTuning:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.boto_session = EndpointSession(config.aws.region, config.aws.endpoint_url)
        self.client = self.boto_session.client("sagemaker")

    def start(self, job: JobDefinition, space: SearchSpace, name: str) -> None:
        """Create the tuning job `name` over the training job `job`; returns once SageMaker has it."""
        session = run_session(self.boto_session, job.run)
        with role_validation_disabled(self.config.aws.endpoint_url is not None):
            tuner = search_tuner(training_trainer(self.config, job, session), job, space)
            tuner.tune(inputs=sdk_requests.training_channels(job, local=False), job_name=name, wait=False)

    def state(self, name: str) -> TuningState:
        described: dict[str, Any] = self.client.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )
        best = described.get("BestTrainingJob") or {}
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        return TuningState(
            status=str(described["HyperParameterTuningJobStatus"]),
            counters={
                key: int(value) for key, value in described.get("TrainingJobStatusCounters", {}).items()
            },
            failure_reason=described.get("FailureReason") or None,
            best_job=best.get("TrainingJobName"),
            best_value=float(objective["Value"]) if "Value" in objective else None,
            best_parameters={key: str(value) for key, value in best.get("TunedHyperParameters", {}).items()},
        )

    def trials(self, name: str) -> list[dict[str, Any]]:
        """Every training job of the tuning job, as SageMaker summarises them."""
        paginator = self.client.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
        return [
            summary
            for page in paginator.paginate(HyperParameterTuningJobName=name)
            for summary in page["TrainingJobSummaries"]
        ]

    def stop(self, name: str) -> None:
        self.client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
