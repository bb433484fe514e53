"""A model's lifecycle as one SageMaker pipeline, described without the SDK (`utils.aws.pipelines` turns the
description into the SDK's Pipeline, its JSON definition and the API calls).

    Preprocess (processing) -> Training, or Tuning (pipeline.tuning) -> Evaluation (processing, the report)
      -> QualityGate: report metric against the QualityThreshold parameter
           pass: RegisterModel (PendingManualApproval) -> Inference (processing, on the new model)
           fail: QualityGateFailed, a message naming the metric, its value and the threshold

Each step's job is the `JobDefinition` its batch would submit (`utils.job_definition.define_job`), on the
locations of `utils.layout` with the execution id for a run id; a step reads what an earlier step wrote
through that step's properties, so a cached step hands on its own earlier outputs.

`--env local` plans the same pipeline on the local run's own S3 (`LOCAL_STORAGE`, served on this machine while
the run lasts; see `utils.aws.local_pipeline`). SageMaker's local runner has no registration step, so a local
plan registers on the host once the gate has passed, and its inference step waits for the gate alone. It has
no tuning step either: a local Tuning step is a training step, whose job the local run replaces with the
search.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from utils.config_reader import Config, StorageSettings
from utils.db.enum import JobType
from utils.job_definition import JobDefinition, define_job
from utils.job_specs import EVALUATION_METRICS_KEY, EVALUATION_REPORT, PROCESSING_SPECS
from utils.layout import Layout, sagemaker_name
from utils.tracking import experiment_name, tracking_uri
from utils.tuning import SearchSpace, search_space

# Stands for the pipeline execution's id inside a location; the SDK side writes it as a Join on
# `ExecutionVariables.PIPELINE_EXECUTION_ID`.
EXECUTION_ID = "{PipelineExecutionId}"
NAME_MAX = 63  # SageMaker's limit for a model package group name, and so for the pipeline's

INPUT_DATA = "InputData"
QUALITY_THRESHOLD = "QualityThreshold"
# The training job's output that holds the model archive, as a step property (`ModelArtifacts`).
MODEL_ARTIFACT = "model"
# The bucket of the local run's S3, which exists only while a local execution runs.
LOCAL_STORAGE = StorageSettings(bucket="local-pipeline", prefix="")


@dataclass(frozen=True)
class StepOutput:
    """An output of an earlier step, read through that step's properties."""

    step: str
    output: str


@dataclass(frozen=True)
class ParameterValue:
    """The value of a pipeline parameter, set for each execution."""

    name: str


Source = StepOutput | ParameterValue


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: Literal["string", "float"]
    default: str | float | None
    description: str


@dataclass(frozen=True)
class JobStep:
    """A processing or training step: the job, where each of its inputs comes from, and the parameter that
    sets its instance type."""

    name: str
    job: JobDefinition
    sources: dict[str, Source]
    instance_type: ParameterValue
    depends_on: tuple[str, ...] = ()
    # A training step that is a hyperparameter search over its job: the model is the best trial's.
    search: SearchSpace | None = None


@dataclass(frozen=True)
class ReportFile:
    """A JSON file a processing step writes into one of its outputs."""

    step: str
    output: str
    path: str


@dataclass(frozen=True)
class QualityGate:
    name: str
    report: ReportFile
    metric: str
    direction: Literal["maximize", "minimize"]
    threshold: ParameterValue
    fail_step: str

    @property
    def json_path(self) -> str:
        return f"{EVALUATION_METRICS_KEY}.{self.metric}.value"

    @property
    def shortfall(self) -> str:
        """What a failed gate says between the metric's value and the threshold."""
        return "is below" if self.direction == "maximize" else "is above"


@dataclass(frozen=True)
class Registration:
    """The trained model as a new version of the model package group, waiting for a person's approval."""

    name: str
    model_package_group: str
    image_uri: str
    model: StepOutput
    report: ReportFile
    instance_type: str
    approval_status: str = "PendingManualApproval"


@dataclass(frozen=True)
class PipelinePlan:
    name: str
    parameters: list[Parameter]
    steps: list[JobStep]
    gate: QualityGate
    registration: Registration
    after_registration: list[JobStep] = field(default_factory=list)
    cache_expire_after: str | None = None
    storage: StorageSettings = LOCAL_STORAGE
    # True: planned for the local runner, which registers on the host after the gate.
    local: bool = False
    # A SageMaker managed MLflow tracking server's ARN and experiment: SageMaker then tracks each execution.
    mlflow_arn: str | None = None
    mlflow_experiment: str | None = None

    @property
    def parameter_names(self) -> list[str]:
        return [parameter.name for parameter in self.parameters]

    @property
    def search_step(self) -> JobStep | None:
        """The training step that is a hyperparameter search (pipeline.tuning), if any."""
        return next((step for step in self.steps if step.search is not None), None)


def pipeline_name(config: Config) -> str:
    """`<pipeline.name>-<model>` in the letters, digits and hyphens SageMaker allows, at most 63."""
    return sagemaker_name(f"{config.pipeline.name}-{config.model_name}", limit=NAME_MAX)


def step_name(job_type: JobType) -> str:
    return job_type.value.capitalize()


def instance_type_parameter(job_type: JobType) -> str:
    return f"{step_name(job_type)}InstanceType"


def plan_pipeline(config: Config, image_uri: str) -> PipelinePlan:
    """The selected model's pipeline, from its config and the image its jobs run."""
    storage = LOCAL_STORAGE if config.is_local or config.storage is None else config.storage
    layout = Layout(config, storage)
    jobs = config.jobs

    def job(job_type: JobType, inputs: dict[str, Source], depends_on: tuple[str, ...] = ()) -> JobStep:
        run = layout.run(job_type, EXECUTION_ID)
        if job_type is JobType.TRAINING:
            # No checkpoint location: it is part of a training step's cache key, and one that holds the
            # execution id would never let a later execution reuse the step.
            outputs = {"model_output": run.model_output}
        else:
            outputs = {name: run.output(name) for name in PROCESSING_SPECS[job_type].outputs}
        definition = define_job(
            config,
            job_type,
            run,
            layout.pipeline_job_prefix(job_type),
            image_uri=image_uri,
            # Each input's location is set at run time from its source; the definition keeps its name.
            inputs={name: f"<{name}>" for name in inputs},
            outputs=outputs,
        )
        return JobStep(
            step_name(job_type),
            definition,
            inputs,
            ParameterValue(instance_type_parameter(job_type)),
            depends_on,
        )

    preprocess = job(JobType.PREPROCESS, {"raw": ParameterValue(INPUT_DATA)})
    training = job(
        JobType.TRAINING,
        {channel: StepOutput(preprocess.name, channel) for channel in ("train", "validation")},
    )
    if config.pipeline.tuning:
        training = replace(training, name="Tuning", search=search_space(config))
    evaluation = job(
        JobType.EVALUATION,
        {"model": StepOutput(training.name, MODEL_ARTIFACT), "test": StepOutput(preprocess.name, "test")},
    )
    report = ReportFile(evaluation.name, "report", EVALUATION_REPORT)
    gate = jobs.quality_gate
    registration = Registration(
        name="RegisterModel",
        model_package_group=pipeline_name(config),
        image_uri=image_uri,
        model=StepOutput(training.name, MODEL_ARTIFACT),
        report=report,
        instance_type=jobs.inference.instance_type,
    )
    inference = job(
        JobType.INFERENCE,
        {"model": StepOutput(training.name, MODEL_ARTIFACT), "data": ParameterValue(INPUT_DATA)},
        depends_on=() if config.is_local else (registration.name,),
    )
    job_steps = (preprocess, training, evaluation, inference)
    return PipelinePlan(
        name=pipeline_name(config),
        parameters=[
            Parameter(INPUT_DATA, "string", None, "S3 prefix of the raw data (a collection run's raw/)"),
            *(
                Parameter(
                    step.instance_type.name,
                    "string",
                    step.job.resources.instance_type,
                    f"instance type of the {step.name} step",
                )
                for step in job_steps
            ),
            Parameter(
                QUALITY_THRESHOLD,
                "float",
                gate.threshold,
                f"the {gate.metric} the model must reach ({gate.direction}) to be registered",
            ),
        ],
        steps=[preprocess, training, evaluation],
        gate=QualityGate(
            name="QualityGate",
            report=report,
            metric=gate.metric,
            direction=gate.direction,
            threshold=ParameterValue(QUALITY_THRESHOLD),
            fail_step="QualityGateFailed",
        ),
        registration=registration,
        after_registration=[inference],
        cache_expire_after=config.pipeline.cache_expire_after,
        storage=storage,
        local=config.is_local,
        mlflow_arn=tracking_arn
        if (tracking_arn := tracking_uri(config)) and tracking_arn.startswith("arn:")
        else None,
        mlflow_experiment=experiment_name(config),
    )
