"""Experiment tracking with MLflow, logged from this machine by the batches, never from inside a job.

Which side logs what: a job's container logs nothing (a local-mode container cannot reach a tracking server
on the host's loopback, and a SageMaker job would need the server's network and permissions); the batch that
ran the job logs it once it has ended, from what it recorded: its parameters, the metrics its log showed, its
name, image, status and run id, and the evaluation report with its plots as artifacts when they are files
here.

    a lifecycle (a local run folder), a search, a pipeline execution   a parent run
      each training job, trial, evaluation of it                        a child run (`mlflow.parentRunId`)

Where: `MLFLOW_TRACKING_URI` (MLflow's own variable), else `tracking.uri` of the config: any tracking URI, or
in dev and prod a SageMaker managed MLflow tracking server's ARN (the `sagemaker-mlflow` plugin signs the
requests). A relative `sqlite:///` path lives in the runs folder. No URI: nothing is logged.

Logging never fails a job: a tracking error is one warning line, and the job's record is what counts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.config_reader import Config, load_config

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# The parent run a batch logs its job under (the search sets it for its trials).
ENV_PARENT_RUN = "PIPELINE_TRACKING_PARENT_RUN"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag for nesting; a bare variable nests nothing
RUN_FOLDER_TAG = "pipeline.run_folder"
# MLflow's own variables, set before MLflow is imported unless the environment sets them: a tracking server
# that does not answer costs a job seconds, not MLflow's default minutes of retries; and MLflow sends no usage
# telemetry from here, as the SDK sends none (utils/aws/sdk_workarounds.py).
MLFLOW_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def tracking_uri(config: Config) -> str | None:
    """Where runs are logged: `tracking.uri` (MLFLOW_TRACKING_URI overrides it; a relative `sqlite:///` path
    is in the runs folder, see `utils.config_reader`); None: nothing is logged."""
    return config.tracking.uri


def experiment_name(config: Config) -> str:
    """`tracking.experiment`, else `<pipeline.name>-<model>`."""
    return config.tracking.experiment or f"{config.pipeline.name}-{config.model_name}"


def artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite store's file (`mlflow-artifacts/`; MLflow's
    default would be `mlruns/` in whatever folder the batch runs from); a server decides for itself."""
    match = re.fullmatch(r"sqlite:///(/.+)", uri)
    return (Path(match.group(1)).parent / "mlflow-artifacts").as_uri() if match else None


def _warn(exc: Exception) -> None:
    from batches.cli import console

    text = " ".join(str(exc).split())[:300]
    console.print(f"[yellow]tracking:[/] not logged ({type(exc).__name__}: {text}); the job is not affected")


def safely(action: Callable[[], Any]) -> Any:
    """`action()`, or None with one warning line when it fails: tracking never fails a job."""
    try:
        return action()
    except Exception as exc:  # any tracking failure is only a warning
        _warn(exc)
        return None


@dataclass
class Tracker:
    """Runs of one experiment at one tracking URI."""

    uri: str
    experiment: str

    def __post_init__(self) -> None:
        for name, value in MLFLOW_DEFAULTS.items():
            os.environ.setdefault(name, value)
        from mlflow.tracking import MlflowClient

        self.client: MlflowClient = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(self.experiment)
        self.experiment_id = (
            found.experiment_id
            if found
            else self.client.create_experiment(self.experiment, artifact_location=artifact_location(self.uri))
        )

    def start(self, name: str, *, parent: str | None = None, tags: dict[str, str] | None = None) -> str:
        """A new run (under `parent` when given); its id."""
        all_tags = {**(tags or {}), **({PARENT_TAG: parent} if parent else {})}
        return str(self.client.create_run(self.experiment_id, run_name=name, tags=all_tags).info.run_id)

    def parent_for_run_folder(self, folder: str) -> str:
        """The parent run of a lifecycle's run folder, made by its first job."""
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{RUN_FOLDER_TAG}` = '{folder}'", max_results=1
        )
        if found:
            return str(found[0].info.run_id)
        return self.start(f"lifecycle {folder}", tags={RUN_FOLDER_TAG: folder})

    def log(
        self,
        run_id: str,
        *,
        params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        artifacts: Iterable[Path] = (),
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        self.client.log_batch(
            run_id,
            metrics=[
                Metric(key, float(value), 0, 0)
                for key, value in (metrics or {}).items()
                if isinstance(value, int | float) and not isinstance(value, bool)
            ],
            params=[Param(key, str(value)) for key, value in (params or {}).items()],
            tags=[RunTag(key, str(value)) for key, value in (tags or {}).items()],
        )
        for path in artifacts:
            if path.is_file():
                self.client.log_artifact(run_id, str(path))

    def end(self, run_id: str, succeeded: bool = True) -> None:
        self.client.set_terminated(run_id, "FINISHED" if succeeded else "FAILED")

    def ended(
        self,
        name: str,
        *,
        parent: str,
        succeeded: bool,
        params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """A child run of something that has ended already (a step, a trial): started, logged and ended at
        once; its id."""
        run_id = self.start(name, parent=parent, tags=tags)
        if params or metrics:
            self.log(run_id, params=params, metrics=metrics)
        self.end(run_id, succeeded)
        return run_id


def tracker(config: Config) -> Tracker | None:
    """The config's tracker, or None when nothing is to be logged (or its store does not open: a warning)."""
    uri = tracking_uri(config)
    if uri is None:
        return None
    found: Tracker | None = safely(lambda: Tracker(uri, experiment_name(config)))
    return found


if __name__ == "__main__":
    # `python -m utils.tracking`: where the local runs log (for `make mlflow-ui`).
    print(tracking_uri(load_config("local")) or "")
