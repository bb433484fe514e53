"""A local plan of the pipeline (`utils.workflow`, `--env local`) run on this machine by SageMaker's local
pipeline runner: every Processing and Training step a local-mode job in Docker, the Condition and Fail steps
evaluated on the host, the steps one after the other.

What differs from an execution on SageMaker, and why:

- S3. The runner reads and writes `s3://` locations only (its JsonGet, which the quality gate uses, reads
  nothing else), so each local execution gets an S3 of its own: an in-memory moto server on 127.0.0.1,
  started for the execution and gone with it, bucket `local-pipeline`. The raw data is uploaded to it first;
  at the end the execution's outputs are copied to `runs/<run folder>/<stage>/`. No AWS account, credentials
  or network is used: every AWS call of the process goes to that server while the execution runs.
- Registration. The runner has no registration step: once the gate has passed, the model is registered on the
  host, in the job database (`utils.registry.LocalModelRegistry`), PendingManualApproval as on SageMaker.
- Tuning. The runner has no tuning step either: a local plan's Tuning step is a training step, and its
  training job is replaced by the local search (`SearchingClient`): Optuna's trials over the same ranges,
  each a local-mode training job, the step's result the best trial's job. The runner runs one job at a
  time, so the trials run one after the other (`batches.tuning --env local` runs them in parallel).
- No step caching or retries; instance types are local ones (configs/local.yaml).
"""

from __future__ import annotations

import gc
import json
import logging
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.aws.local_containers import (
    hand_back_ownership,
    job_containers,
    local_failure_reason,
    log_tail,
    remove_containers,
)
from utils.aws.local_mode import logged_metrics
from utils.aws.pipelines import StepState, build_pipeline
from utils.aws.s3_client import S3Client, join
from utils.aws.sdk_workarounds import SDK_CONFIG, environment_region, environment_variables
from utils.aws.session import EndpointSession
from utils.config_reader import Config
from utils.errors import PipelineError
from utils.tuning import Chosen, SearchSpace, Trial, best_trial, local_search, shown
from utils.workflow import EXECUTION_ID, INPUT_DATA, JobStep, PipelinePlan

# While an execution runs, every AWS client of the process talks to its S3 with throwaway keys (the key id and
# the secret are both this word): nothing can reach an AWS account, whatever profile or credentials the
# environment names.
_THROWAWAY_KEY = "local"
_OFFLINE_VARIABLES: dict[str, str | None] = {
    **dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), _THROWAWAY_KEY),
    **dict.fromkeys(("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")),
    "AWS_EC2_METADATA_DISABLED": "true",
}
# The runner's own log lines that say where an execution is.
_RUNNER_LOGGERS = ("sagemaker.mlops.local.pipeline_entities", "sagemaker.mlops.local.pipeline")


@dataclass(frozen=True)
class TrialJob:
    """A trial of a Tuning step's local search: its training job, hyperparameters and objective value, or why
    it failed."""

    number: int
    job_name: str
    parameters: Chosen
    value: float | None
    failure_reason: str | None = None


@dataclass(frozen=True)
class LocalExecution:
    execution_id: str
    status: str  # Succeeded or Failed, as SageMaker words it
    failure_reason: str | None
    steps: list[StepState]
    # The gate's outcome; None when the execution ended before the gate.
    gate_passed: bool | None
    # Where the execution's outputs were copied, by `<stage>/<output>` (e.g. training/model).
    outputs: dict[str, Path]
    # The model archive the evaluation step took (the best trial's, after a search), as copied.
    model: Path | None = None
    # The trials of a Tuning step's search, in the order they ended.
    trials: list[TrialJob] = field(default_factory=list)


class SearchingClient:
    """The local runner's SageMaker client, except that the training job of the plan's Tuning step is the
    local search (`utils.tuning.local_search`): each trial is a local-mode training job of the step's
    request with the trial's hyperparameters, named `<step's job>-<trial>`, its objective read from its log
    by the job's regex; describing the step's job describes the best trial's. Every other call goes to the
    runner's client."""

    def __init__(
        self, client: Any, step: JobStep, container_root: Path, report: Callable[[str], None]
    ) -> None:
        if step.search is None:
            raise ValueError(f"step {step.name} is no search")
        self._client = client
        self.step = step
        self.space: SearchSpace = step.search
        self.container_root = container_root
        self.report = report
        self.trials: list[TrialJob] = []
        self._best: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def create_training_job(self, TrainingJobName: str, **request: Any) -> None:  # noqa: N803 (boto's name)
        space, given = self.space, dict(request.get("HyperParameters") or {})
        failures: dict[int, str] = {}

        def job_name(number: int) -> str:
            return f"{TrainingJobName}-{number}"

        def run_trial(number: int, chosen: Chosen) -> float | None:
            name = job_name(number)
            # As the SDK writes hyperparameters into a request: strings as they are, anything else as JSON.
            values = {
                key: value if isinstance(value, str) else json.dumps(value) for key, value in chosen.items()
            }
            with log_tail() as log:
                try:
                    self._client.create_training_job(
                        name, **{**request, "HyperParameters": {**given, **values}}
                    )
                except Exception as exc:  # a failed trial is the search's to count, not the step's
                    failures[number] = local_failure_reason(exc, str(self.container_root), log)
                    return None
                value = logged_metrics(self.step.job, log.plain_lines()).get(space.objective)
            if value is None:
                failures[number] = f"its log has no {space.objective} line"
            return value

        def started(number: int, chosen: Chosen) -> None:
            self.report(f"trial {number}/{space.max_jobs}: {shown(chosen)}")

        def ended(trial: Trial) -> None:
            job = TrialJob(
                trial.number,
                job_name(trial.number),
                trial.parameters,
                trial.value,
                failures.get(trial.number),
            )
            self.trials.append(job)
            outcome = (
                f"{space.objective} {job.value}" if job.value is not None else f"failed: {job.failure_reason}"
            )
            self.report(f"trial {job.number}/{space.max_jobs} ({job.job_name}): {outcome}")

        trials = local_search(space, run_trial, started, ended, parallel=1)
        best = best_trial(space, trials)
        if best is None:
            reasons = "; ".join(f"trial {job.number}: {job.failure_reason}" for job in self.trials)
            raise PipelineError(f"none of the {len(trials)} trials of the search completed ({reasons})")
        self.report(f"best: trial {best.number} ({job_name(best.number)}), {space.objective} {best.value}")
        self._best[TrainingJobName] = job_name(best.number)

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:  # noqa: N803 (boto's name)
        return dict(self._client.describe_training_job(self._best.get(TrainingJobName, TrainingJobName)))


@contextmanager
def local_s3() -> Iterator[str]:
    """An in-memory S3 (moto) on 127.0.0.1 for the block, as every AWS call's endpoint; yields its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with environment_variables({**_OFFLINE_VARIABLES, "AWS_ENDPOINT_URL": endpoint}):
            yield endpoint
    finally:
        server.stop()


class _StepProgress(logging.Handler):
    """Turns the runner's log lines into a call per step start and end."""

    def __init__(self, on_step: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.on_step = on_step

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(("Starting pipeline step", "Pipeline step")):
            self.on_step(message)


@contextmanager
def warnings_only() -> Iterator[None]:
    """The SDK logs every job's details (its Compose file, each endpoint and credential lookup) at INFO
    through handlers it gives the root logger: inside the block those show warnings and errors only."""
    levels = [(handler, handler.level) for handler in logging.getLogger().handlers]
    for handler, level in levels:
        handler.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        for handler, level in levels:
            handler.setLevel(level)


@contextmanager
def _progress(on_step: Callable[[str], None]) -> Iterator[None]:
    """`on_step` with the runner's line for each step's start and end."""
    handler = _StepProgress(on_step)
    loggers = [logging.getLogger(name) for name in _RUNNER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def _upload_folder(s3: S3Client, folder: Path, uri: str) -> None:
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if not files:
        raise PipelineError(f"{INPUT_DATA} {folder} holds no file")
    for path in files:
        s3.upload(path, join(uri, path.relative_to(folder).as_posix()))


def _output_prefix(data_uri: str, execution_id: str) -> str:
    return data_uri.replace(EXECUTION_ID, execution_id).rstrip("/") + "/"


def _local_copy(step: JobStep, run_folder: Path, prefix: str) -> Path:
    """Where an output of `step` at `prefix` in the local S3 is copied: `<run folder>/<stage>/<output>`."""
    return run_folder / step.job.job_type.value / prefix.rstrip("/").rsplit("/", 1)[-1]


def _copy_outputs(s3: S3Client, plan: PipelinePlan, execution_id: str, run_folder: Path) -> dict[str, Path]:
    """Every output of the execution's steps, from `<model>/<stage>/<execution id>/<output>/...` in the local
    S3 to `<run folder>/<stage>/<output>/...`."""
    copied: dict[str, Path] = {}
    for step in [*plan.steps, *plan.after_registration]:
        for data in step.job.outputs.values():
            prefix = _output_prefix(data.uri, execution_id)
            target = _local_copy(step, run_folder, prefix)
            found = s3.list(prefix)
            for uri in found:
                s3.download(uri, target / uri.removeprefix(prefix))
            if found:
                copied[target.relative_to(run_folder).as_posix()] = target
    return copied


def _copied_model(plan: PipelinePlan, execution: Any, execution_id: str, run_folder: Path) -> Path | None:
    """The copy of the model archive the training (or tuning) step handed on, when it ran."""
    training = next(step for step in plan.steps if step.job.is_training)
    state = execution.step_execution.get(training.name)
    uri = (state.properties or {}).get("ModelArtifacts", {}).get("S3ModelArtifacts") if state else None
    prefix = _output_prefix(training.job.outputs["model_output"].uri, execution_id)
    if not isinstance(uri, str) or not uri.startswith(prefix):
        return None
    return _local_copy(training, run_folder, prefix) / uri.removeprefix(prefix)


def run_locally(
    plan: PipelinePlan,
    config: Config,
    parameters: dict[str, str],
    raw_data: Path,
    run_folder: Path,
    on_step: Callable[[str], None],
    on_trial: Callable[[str], None] = lambda _: None,
) -> LocalExecution:
    """Run the plan's pipeline in Docker on `raw_data` (a folder), with `parameters` set for this
    execution, and copy its outputs to `run_folder`; `on_step` hears each step's start and end, `on_trial`
    each search trial's. The execution's containers never outlive the call."""
    from sagemaker.mlops.local.local_pipeline_session import LocalPipelineSession

    container_root = run_folder / "containers"
    container_root.mkdir(parents=True, exist_ok=True)
    kinds = {parameter.name: parameter.kind for parameter in plan.parameters}
    try:
        with local_s3() as endpoint, environment_region(config.aws.region), warnings_only():
            local_config = config.model_copy(
                update={"aws": config.aws.model_copy(update={"endpoint_url": endpoint})}
            )
            boto_session = EndpointSession(config.aws.region, endpoint)
            where = {} if config.aws.region == "us-east-1" else {"LocationConstraint": config.aws.region}
            boto_session.client("s3").create_bucket(
                Bucket=plan.storage.bucket, **({"CreateBucketConfiguration": where} if where else {})
            )
            s3 = S3Client(boto_session)
            raw_uri = join(
                f"s3://{plan.storage.bucket}", config.model_name, "collection", run_folder.name, "raw"
            )
            _upload_folder(s3, raw_data, raw_uri)
            values: dict[str, Any] = {
                name: float(value) if kinds[name] == "float" else value for name, value in parameters.items()
            }
            values[INPUT_DATA] = raw_uri
            pipeline = build_pipeline(plan, local_config)
            runner = LocalPipelineSession(boto_session=boto_session, sagemaker_config=SDK_CONFIG)
            runner.config = {"local": {"local_code": False, "container_root": str(container_root)}}
            searching = None
            if (search := plan.search_step) is not None:
                searching = SearchingClient(runner.sagemaker_client, search, container_root, on_trial)
                runner.sagemaker_client = searching
            runner.create_pipeline(pipeline, f"{plan.name}: the lifecycle, on this machine")
            with log_tail(), warnings.catch_warnings(), _progress(on_step):
                # As for a local job (utils.aws.local_containers.run_local_job): local mode never closes the
                # pipe it reads Compose's output from, and says so when it is collected.
                warnings.simplefilter("ignore", ResourceWarning)
                execution = runner.start_pipeline_execution(PipelineName=plan.name, PipelineParameters=values)
                gc.collect()
            described = execution.describe()
            steps = [
                StepState(step["StepName"], step["StepStatus"], step.get("FailureReason"))
                for step in execution.list_steps()["PipelineExecutionSteps"]
            ]
            gate = execution.step_execution.get(plan.gate.name)
            outcome = gate.properties.get("Outcome") if gate is not None and gate.properties else None
            execution_id = str(execution.pipeline_execution_name)
            outputs = _copy_outputs(s3, plan, execution_id, run_folder)
            model = _copied_model(plan, execution, execution_id, run_folder)
    finally:
        remove_containers(job_containers(str(container_root)))
        hand_back_ownership(str(container_root), plan.registration.image_uri)
        # The runner's working copies: every output worth keeping was copied out of the local S3.
        shutil.rmtree(container_root, ignore_errors=True)
    return LocalExecution(
        execution_id=execution_id,
        status=str(described["PipelineExecutionStatus"]),
        failure_reason=described.get("FailureReason"),
        steps=steps,
        gate_passed=None if outcome is None else bool(outcome),
        outputs=outputs,
        model=model if model is not None and model.is_file() else None,
        trials=searching.trials if searching is not None else [],
    )
