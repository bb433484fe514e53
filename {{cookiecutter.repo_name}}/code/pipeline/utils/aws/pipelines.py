"""A pipeline plan (`utils.workflow`) as the SDK's Pipeline: its JSON definition, creating or updating it in
SageMaker, and its executions.

Every step is built from its job definition with the same request builders as the batches
(`utils.aws.sdk_requests`); what a step learns only when it runs (an earlier step's output, a parameter, the
execution id in a location) goes in as a pipeline variable.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.shapes import MlflowConfig
from sagemaker.core.training.configs import MetricDefinition, OutputDataConfig
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.train.model_trainer import Mode, ModelTrainer

from utils.aws import sdk_requests
from utils.aws.s3_client import S3Location
from utils.aws.sdk_workarounds import (
    SDK_CONFIG,
    environment_region,
    role_validation_disabled,
    sessionless_step_checks,
)
from utils.aws.session import EndpointSession
from utils.aws.tuning import search_tuner
from utils.config_reader import Config
from utils.errors import PipelineError
from utils.job_specs import EVALUATION_REPORT
from utils.workflow import (
    EXECUTION_ID,
    MODEL_ARTIFACT,
    JobStep,
    ParameterValue,
    PipelinePlan,
    Source,
    StepOutput,
)

with environment_region("us-east-1"):  # any region: the client it makes is never used
    from sagemaker.mlops.workflow import steps as sdk_steps
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, Step, TrainingStep, TuningStep
    from sagemaker.serve.model_builder import ModelBuilder
sessionless_step_checks(sdk_steps)

# How SageMaker ends an execution; anything else is still running.
FINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
REPORT_PROPERTY_FILE = "EvaluationReport"


# A local execution's jobs run as nobody: the local runner passes the role on and never assumes it.
LOCAL_ROLE = "arn:aws:iam::000000000000:role/local-pipeline"


def session(plan: PipelinePlan, config: Config) -> PipelineSession:
    """A session that records requests into step arguments instead of sending them. What the SDK itself
    stages goes under the model's prefix (`<prefix>/<model>/pipeline/`)."""
    prefix = "/".join(part for part in (plan.storage.prefix, config.model_name, "pipeline") if part)
    return PipelineSession(
        boto_session=EndpointSession(config.aws.region, config.aws.endpoint_url),
        default_bucket=plan.storage.bucket,
        default_bucket_prefix=prefix,
        sagemaker_config=SDK_CONFIG,
    )


def with_execution_id(uri: str) -> Any:
    """A location of the plan, with its execution id marker as the execution's id at run time."""
    if EXECUTION_ID not in uri:
        return uri
    before, after = uri.split(EXECUTION_ID, 1)
    return Join(on="", values=[before, ExecutionVariables.PIPELINE_EXECUTION_ID, after])


@dataclass
class _Builder:
    plan: PipelinePlan
    config: Config
    session: PipelineSession
    parameters: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.role = self.config.aws.role_arn or LOCAL_ROLE
        for parameter in self.plan.parameters:
            kind = ParameterFloat if parameter.kind == "float" else ParameterString
            self.parameters[parameter.name] = kind(name=parameter.name, default_value=parameter.default)
        expire = self.plan.cache_expire_after
        self.cache = CacheConfig(enable_caching=True, expire_after=expire) if expire else None

    def value(self, source: Source) -> Any:
        if isinstance(source, ParameterValue):
            return self.parameters[source.name]
        step = self.steps[source.step]
        if source.output == MODEL_ARTIFACT and isinstance(step, TuningStep):
            # The best trial's archive: under the training step's output location, `<job>/output/...`.
            output = S3Location.parse(self.plan_step(source.step).job.outputs["model_output"].uri)
            return step.get_top_model_s3_uri(
                top_k=0, s3_bucket=output.bucket, prefix=with_execution_id(output.key)
            )
        if source.output == MODEL_ARTIFACT and isinstance(step, TrainingStep):
            return step.properties.ModelArtifacts.S3ModelArtifacts
        return step.properties.ProcessingOutputConfig.Outputs[source.output].S3Output.S3Uri

    def plan_step(self, name: str) -> JobStep:
        return next(step for step in self.plan.steps if step.name == name)

    def where(self, step: JobStep) -> sdk_requests.Where:
        return sdk_requests.Where(
            inputs={name: self.value(source) for name, source in step.sources.items()},
            outputs={name: with_execution_id(data.uri) for name, data in step.job.outputs.items()},
            instance_type=self.value(step.instance_type),
        )

    def job_step(self, step: JobStep, property_files: list[PropertyFile] | None = None) -> Step:
        job, where = step.job, self.where(step)
        depends_on = [self.steps[name] for name in step.depends_on] or None
        built: Step
        if job.is_training:
            trainer = ModelTrainer(
                training_mode=Mode.SAGEMAKER_TRAINING_JOB,
                sagemaker_session=self.session,
                role=self.role,
                output_data_config=OutputDataConfig(s3_output_path=where.outputs["model_output"]),
                **sdk_requests.trainer_settings(job, where),
            )
            if job.metric_regexes:
                trainer.with_metric_definitions(
                    [MetricDefinition(name=name, regex=regex) for name, regex in job.metric_regexes.items()]
                )
            channels = sdk_requests.training_channels(job, False, where)
            # The local runner has no tuning step: a local plan keeps a training step, whose job the local run
            # replaces with the search (utils.aws.local_pipeline).
            if step.search is not None and not self.plan.local:
                self.steps[step.name] = TuningStep(
                    name=step.name,
                    step_args=search_tuner(trainer, job, step.search).tune(inputs=channels),
                    cache_config=self.cache,
                    depends_on=depends_on,
                )
                return self.steps[step.name]
            built = TrainingStep(
                name=step.name,
                step_args=trainer.train(input_data_config=channels),
                cache_config=self.cache,
                depends_on=depends_on,
            )
        else:
            processor = sdk_requests.processor(job, self.session, self.role, where)
            built = ProcessingStep(
                name=step.name,
                step_args=processor.run(
                    inputs=sdk_requests.processing_inputs(job, False, where),
                    outputs=sdk_requests.processing_outputs(job, False, where),
                    arguments=job.arguments or None,
                ),
                property_files=property_files,
                cache_config=self.cache,
                depends_on=depends_on,
            )
        self.steps[step.name] = built
        return built

    def register(self, report: PropertyFile) -> Step:
        """The model as a new version of the model package group, pending approval, with the report."""
        registration = self.plan.registration
        report_uri = self.value(StepOutput(registration.report.step, registration.report.output))
        register = ModelStep(
            name=registration.name,
            step_args=ModelBuilder(
                image_uri=registration.image_uri,
                s3_model_data_url=self.value(registration.model),
                role_arn=self.role,
                sagemaker_session=self.session,
                # The image holds the code: nothing to upload (the SDK's default would look for a bucket).
                dependencies=None,
            ).register(
                model_package_group_name=registration.model_package_group,
                approval_status=registration.approval_status,
                content_types=["text/csv"],
                response_types=["text/csv"],
                inference_instances=[registration.instance_type],
                transform_instances=[registration.instance_type],
                model_metrics=ModelMetrics(
                    model_statistics=MetricsSource(
                        s3_uri=Join(on="/", values=[report_uri, EVALUATION_REPORT]),
                        content_type="application/json",
                    )
                ),
            ),
        )
        self.steps[registration.name] = register
        return register

    def build(self) -> Pipeline:
        plan, gate = self.plan, self.plan.gate
        report = PropertyFile(
            name=REPORT_PROPERTY_FILE, output_name=gate.report.output, path=gate.report.path
        )
        top = [
            self.job_step(step, [report] if step.name == gate.report.step else None) for step in plan.steps
        ]
        # The local runner cannot register: a local plan registers on the host after the gate.
        passed = [] if plan.local else [self.register(report)]
        after = [self.job_step(step) for step in plan.after_registration]
        metric = JsonGet(step_name=gate.report.step, property_file=report, json_path=gate.json_path)
        threshold = self.value(gate.threshold)
        condition = (
            ConditionGreaterThanOrEqualTo(left=metric, right=threshold)
            if gate.direction == "maximize"
            else ConditionLessThanOrEqualTo(left=metric, right=threshold)
        )
        fail = FailStep(
            name=gate.fail_step,
            error_message=Join(
                on=" ", values=[gate.metric, metric, gate.shortfall, gate.threshold.name, threshold]
            ),
        )
        condition_step = ConditionStep(
            name=gate.name, conditions=[condition], if_steps=[*passed, *after], else_steps=[fail]
        )
        return Pipeline(
            name=plan.name,
            parameters=list(self.parameters.values()),
            steps=[*top, condition_step],
            sagemaker_session=self.session,
            # No SageMaker Experiments trial per execution: the SDK adds one only where Experiments is
            # available, so the same settings would give another definition in another region.
            pipeline_experiment_config=None,
            # Jobs keep the step's `<model>-<stage>` prefix instead of the SDK's generated names.
            pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=True),
            # With a SageMaker managed MLflow server, SageMaker tracks each execution in the experiment.
            mlflow_config=(
                MlflowConfig(
                    mlflow_resource_arn=plan.mlflow_arn, mlflow_experiment_name=plan.mlflow_experiment
                )
                if plan.mlflow_arn
                else None
            ),
        )


class _NoCertifyNotice(logging.Filter):
    """The SDK's ModelStep registers with CertifyForMarketplace (always False here) and warns, on every
    definition it writes, that it leaves the field out: nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "'CertifyForMarketplace'" not in record.getMessage()


logging.getLogger("sagemaker.mlops.workflow.model_step").addFilter(_NoCertifyNotice())


@contextmanager
def _quiet_sdk() -> Iterator[None]:
    """Building a pipeline makes the SDK log each default it applies and warn that a PipelineSession starts
    no job: true, and nothing to act on. Its warnings about the definition still show."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")
        logging.disable(logging.INFO)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def build_pipeline(plan: PipelinePlan, config: Config) -> Pipeline:
    # Building sends nothing: the role is checked by `upsert`.
    with role_validation_disabled(True), environment_region(config.aws.region), _quiet_sdk():
        return _Builder(plan, config, session(plan, config)).build()


def definition(plan: PipelinePlan, config: Config) -> dict[str, Any]:
    """The JSON SageMaker runs, as a dict. Builds offline: no request leaves the process."""
    loaded: dict[str, Any] = json.loads(build_pipeline(plan, config).definition())
    return loaded


def upsert(plan: PipelinePlan, config: Config) -> str:
    """Create the pipeline, or update it to this definition, and the model package group its executions
    register into; the pipeline's ARN."""
    pipeline = build_pipeline(plan, config)
    client = pipeline.sagemaker_session.sagemaker_client
    group = plan.registration.model_package_group
    listed = client.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
    if group not in (summary["ModelPackageGroupName"] for summary in listed):
        client.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=f"{config.model_name} models that passed {plan.gate.name}",
        )
    # A configured endpoint is not AWS: the SDK's IAM simulation of the role has nothing to ask.
    with role_validation_disabled(config.aws.endpoint_url is not None):
        response = pipeline.upsert(role_arn=config.aws.role_arn, description=f"{plan.name}: the lifecycle")
    return str(response["PipelineArn"])


@dataclass(frozen=True)
class StepState:
    name: str
    status: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class ExecutionState:
    arn: str
    status: str
    failure_reason: str | None
    parameters: dict[str, str]
    steps: list[StepState] | None  # None: the service did not list them

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


class Executions:
    """A pipeline's executions through the SageMaker API (no SDK objects: starting and watching one needs
    no definition)."""

    def __init__(self, config: Config, pipeline_name: str) -> None:
        self.name = pipeline_name
        self.client = EndpointSession(config.aws.region, config.aws.endpoint_url).client("sagemaker")

    def start(self, parameters: dict[str, str]) -> str:
        from botocore.exceptions import ClientError

        try:
            response = self.client.start_pipeline_execution(
                PipelineName=self.name,
                PipelineParameters=[{"Name": name, "Value": value} for name, value in parameters.items()],
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ResourceNotFound", "ValidationException"):
                raise PipelineError(
                    f"pipeline {self.name} cannot start ({exc.response['Error'].get('Message')}); "
                    "create or update it first: `batches.pipeline upsert`"
                ) from None
            raise
        return str(response["PipelineExecutionArn"])

    def latest(self) -> str:
        summaries = self.client.list_pipeline_executions(
            PipelineName=self.name, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
        )["PipelineExecutionSummaries"]
        if not summaries:
            raise PipelineError(f"pipeline {self.name} has no execution yet: `batches.pipeline start`")
        return str(summaries[0]["PipelineExecutionArn"])

    def state(self, arn: str, with_parameters: bool = True) -> ExecutionState:
        """The execution's status and steps, and its parameters unless `with_parameters` is False (they
        never change while it runs)."""
        from botocore.exceptions import ClientError

        described = self.client.describe_pipeline_execution(PipelineExecutionArn=arn)
        listed = (
            self.client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
            if with_parameters
            else {"PipelineParameters": []}
        )
        steps: list[StepState] | None
        try:
            summaries = self.client.list_pipeline_execution_steps(
                PipelineExecutionArn=arn, SortOrder="Ascending"
            )["PipelineExecutionSteps"]
            steps = [
                StepState(step["StepName"], step["StepStatus"], step.get("FailureReason"))
                for step in summaries
            ]
        except ClientError:  # some AWS stand-ins do not implement it
            steps = None
        return ExecutionState(
            arn=arn,
            status=described["PipelineExecutionStatus"],
            failure_reason=described.get("FailureReason"),
            parameters={item["Name"]: item["Value"] for item in listed["PipelineParameters"]},
            steps=steps,
        )

    def wait(
        self, arn: str, on_change: Callable[[ExecutionState], None], poll_seconds: float = 30.0
    ) -> ExecutionState:
        seen: tuple[object, ...] | None = None
        while True:
            state = self.state(arn, with_parameters=False)
            now = (state.status, tuple(state.steps or ()))
            if now != seen:
                seen = now
                on_change(state)
            if state.finished:
                return state
            time.sleep(poll_seconds)
