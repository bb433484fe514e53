"""`batches.pipeline --env local start | status`: the pipeline's definition run on this machine in Docker
(`utils.aws.local_pipeline`), its outputs in one run folder, the model registered in the job database when the
quality gate passes, and the execution's summary kept in the run folder for `status`."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batches.cli import console
from utils.config_reader import Config
from utils.errors import PipelineError, RefusedError
from utils.job_specs import EVALUATION_REPORT, MODEL_ARCHIVE, report_metrics
from utils.layout import new_run_id
from utils.workflow import INPUT_DATA, PipelinePlan

if TYPE_CHECKING:
    from utils.aws.local_pipeline import LocalExecution

SUMMARY_FILE = "pipeline-execution.json"


def _require_local_image(image_uri: str, model: str) -> None:
    try:
        found = subprocess.run(["docker", "image", "inspect", image_uri], capture_output=True, check=False)
    except OSError:
        raise PipelineError(
            "the local pipeline runs its jobs with Docker, and there is no docker command"
        ) from None
    if found.returncode != 0:
        raise PipelineError(
            f"image {image_uri} is not on this machine: build it with `scripts/docker/container/build.sh "
            f"--env local {model}` (`make local-sagemaker-pipeline` builds it and runs everything)"
        )


def _raw_data(config: Config, given: str | None) -> Path:
    """The folder the execution reads: --parameter InputData=FOLDER, else the raw data of the latest completed
    collection run (in this run folder when there is one)."""
    if given is not None:
        folder = Path(given).expanduser()
        if not folder.is_dir():
            raise RefusedError(
                f"--parameter {INPUT_DATA}={given}: --env local reads a folder on this machine"
            )
        return folder.resolve()
    from batches.pipeline.batch import latest_raw_data

    return Path(latest_raw_data(config, instead="FOLDER"))


def _run_folder(config: Config, plan: PipelinePlan) -> Path:
    folder = config.runs_dir / (config.run_folder or new_run_id())
    taken = [
        stage
        for stage in (step.job.job_type.value for step in [*plan.steps, *plan.after_registration])
        if (folder / stage).exists()
    ]
    if taken or (folder / SUMMARY_FILE).exists():
        raise RefusedError(
            f"{folder} holds a run of {', '.join(taken) or 'the pipeline'} already: a run never overwrites "
            "another; use a new run folder (PIPELINE_RUN_FOLDER)"
        )
    return folder


def _report_metrics(outputs: dict[str, Path]) -> dict[str, float]:
    """The evaluation report's metrics, when the execution got as far as writing it."""
    report = outputs.get("evaluation/report", Path()) / EVALUATION_REPORT
    return report_metrics(json.loads(report.read_text(encoding="utf-8"))) if report.is_file() else {}


def _register(config: Config, execution: LocalExecution, metrics: dict[str, float]) -> int:
    """The model the evaluation took (after a search, the best trial's) as a new version, pending approval."""
    from utils.registry import LocalModelRegistry
    from utils.workflow import pipeline_name

    if execution.model is None:
        raise PipelineError(f"the gate passed, but the training step left no {MODEL_ARCHIVE} to register")
    report = execution.outputs["evaluation/report"] / EVALUATION_REPORT
    registry = LocalModelRegistry(config, pipeline_name(config))
    return registry.register(str(execution.model), str(report), metrics, execution.execution_id).version


def start_locally(config: Config, plan: PipelinePlan, values: dict[str, str]) -> None:
    from utils.aws.local_mounts import refusal

    if problem := refusal(config.runs_dir):
        raise RefusedError(problem)
    raw_data = _raw_data(config, values.pop(INPUT_DATA, None))
    image = plan.registration.image_uri
    _require_local_image(image, config.model_name)
    folder = _run_folder(config, plan)
    console.print(
        f"local execution of {plan.name} in Docker, run folder {folder.name} ({image})", highlight=False
    )
    console.print(f"{INPUT_DATA}: {raw_data}", highlight=False)
    started = time.monotonic()
    step_started: dict[str, float] = {}

    def on_step(message: str) -> None:
        name = message.split("'")[1] if "'" in message else message
        outcome = message.rstrip(".").split(".")[0].rsplit(" ", 1)[-1].lower()
        if message.startswith("Starting"):
            step_started[name] = time.monotonic()
            console.print(f"==> {name}", highlight=False)
        elif not (name == plan.gate.fail_step and outcome == "succeeded"):  # a Fail step "succeeds" first
            took = time.monotonic() - step_started.get(name, started)
            console.print(f"==> {name} {outcome} in {took:.0f} s", highlight=False)

    def on_trial(message: str) -> None:
        console.print(f"    {message}", highlight=False)

    from utils.aws.local_pipeline import run_locally, warnings_only

    try:
        execution = run_locally(plan, config, values, raw_data, folder, on_step, on_trial)
    except KeyboardInterrupt:
        raise PipelineError(
            f"stopped; its containers are removed, its run folder kept: {folder}", exit_code=130
        ) from None
    metrics = _report_metrics(execution.outputs)
    version = None
    if execution.status == "Succeeded" and execution.gate_passed:
        with warnings_only():
            version = _register(config, execution, metrics)
    summary: dict[str, Any] = {
        "pipeline": plan.name,
        "execution": execution.execution_id,
        "status": execution.status,
        "failure_reason": execution.failure_reason,
        "parameters": {**values, INPUT_DATA: str(raw_data)},
        "steps": [asdict(step) for step in execution.steps],
        "registered_version": version,
        "model": str(execution.model) if execution.model else None,
        "trials": [asdict(trial) for trial in execution.trials],
        "outputs": {name: str(path) for name, path in sorted(execution.outputs.items())},
        "seconds": round(time.monotonic() - started, 1),
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    track_execution(config, plan, summary, metrics, execution.outputs.get("evaluation/report"))
    console.print(
        f"execution {execution.execution_id}: {execution.status} in {summary['seconds']:.0f} s",
        highlight=False,
    )
    for name, path in sorted(execution.outputs.items()):
        console.print(f"  {name}: {path}", highlight=False)
    if version is not None:
        console.print(
            f"registered version {version} of {plan.registration.model_package_group} "
            f"(PendingManualApproval); approve it with `batches.registry --env local approve {version}`",
            highlight=False,
        )
    if execution.status != "Succeeded":
        raise PipelineError(f"execution {execution.execution_id} failed: {execution.failure_reason}")


def latest_local_execution(config: Config) -> str:
    """What `status` prints of the newest local execution, from its run folder's summary."""
    summaries = sorted(
        config.runs_dir.glob(f"*/{SUMMARY_FILE}"), key=lambda path: path.stat().st_mtime, reverse=True
    )
    if not summaries:
        raise PipelineError("no local execution yet: `batches.pipeline --env local start`")
    summary = json.loads(summaries[0].read_text(encoding="utf-8"))
    reason = f" ({summary['failure_reason']})" if summary.get("failure_reason") else ""
    lines = [
        f"execution: {summary['execution']} (run folder {summaries[0].parent})",
        f"status: {summary['status']}{reason}",
        *(f"parameter {name}: {value}" for name, value in sorted(summary["parameters"].items())),
        *(
            f"step {step['name']}: {step['status']}"
            + (f" ({step['failure_reason']})" if step.get("failure_reason") else "")
            for step in summary["steps"]
        ),
    ]
    if summary.get("registered_version") is not None:
        lines.append(
            f"registered version: {summary['registered_version']} (PendingManualApproval when registered)"
        )
    return "\n".join(lines) + "\n"


def track_execution(
    config: Config,
    plan: PipelinePlan,
    summary: dict[str, Any],
    metrics: dict[str, float],
    report_folder: Path | None,
) -> None:
    """The execution as an MLflow parent run (utils/tracking.py): its parameters, the evaluation report's
    metrics and files, and each step as a child with its status; a search's trials are children of its step,
    with their hyperparameters and objective."""
    from utils import tracking

    tracker = tracking.tracker(config)
    if tracker is None:
        return
    search = plan.search_step

    def log() -> None:
        parent = tracker.start(
            f"pipeline {summary['execution']}",
            tags={
                "pipeline": summary["pipeline"],
                "execution": summary["execution"],
                "status": summary["status"],
            },
        )
        tracker.log(
            parent,
            params=summary["parameters"],
            metrics=metrics,
            tags={"registered_version": str(summary["registered_version"] or "")},
            artifacts=sorted(report_folder.glob("*")) if report_folder else [],
        )
        for step in summary["steps"]:
            child = tracker.ended(
                step["name"],
                parent=parent,
                succeeded=step["status"] == "Succeeded",
                tags={"status": step["status"]},
            )
            if search is not None and search.search is not None and step["name"] == search.name:
                for trial in summary["trials"]:  # each trial of the search, a child of its step
                    value = trial["value"]
                    tracker.ended(
                        trial["job_name"],
                        parent=child,
                        succeeded=value is not None,
                        params=trial["parameters"],
                        metrics={search.search.objective: value} if value is not None else {},
                        tags={"job_name": trial["job_name"], "failure_reason": trial["failure_reason"] or ""},
                    )
        tracker.end(parent, summary["status"] == "Succeeded")

    tracking.safely(log)
