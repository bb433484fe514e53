"""The Docker containers of local-mode jobs: which belong to a job, how they ended, and removing them.

Docker's command line only, no SageMaker SDK: the batches use it through `utils.aws.sagemaker_client`, and
`python -m utils.db sync --env local` asks it whether a local job's containers still run.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from utils.db.enum import JobStatus

COMPOSE_WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
# Exit codes of a container whose main process was stopped by a signal: SIGINT, SIGKILL (`docker stop` after
# its grace period, `docker kill`), SIGTERM.
STOPPED_EXIT_CODES = frozenset({130, 137, 143})


@dataclass(frozen=True)
class ContainerEnd:
    """How one local-mode job container ended, as Docker reports it."""

    container_id: str
    name: str
    running: bool
    exit_code: int
    oom_killed: bool


class DockerUnavailableError(Exception):
    """Docker did not answer, so no container's state is known."""


def compose_containers() -> list[tuple[str, ContainerEnd]]:
    """Every container, in any state, of a Compose project (local mode runs each job as one), with the
    project's working folder; DockerUnavailableError when Docker does not answer."""
    try:
        listed = subprocess.run(
            ["docker", "ps", "--all", "--quiet", "--filter", f"label={COMPOSE_WORKING_DIR_LABEL}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if not listed:
            return []
        details = json.loads(
            subprocess.run(["docker", "inspect", *listed], capture_output=True, text=True, check=True).stdout
        )
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        raise DockerUnavailableError(str(exc)) from None
    return [
        (
            str(item["Config"]["Labels"].get(COMPOSE_WORKING_DIR_LABEL, "")),
            ContainerEnd(
                container_id=str(item["Id"]),
                name=str(item["Name"]).lstrip("/"),
                running=bool(item["State"].get("Running")),
                exit_code=int(item["State"].get("ExitCode") or 0),
                oom_killed=bool(item["State"].get("OOMKilled")),
            ),
        )
        for item in details
    ]


def job_containers(container_root: str) -> list[ContainerEnd]:
    """Every container, in any state, of the Compose projects local mode ran under `container_root`."""
    try:
        listed = compose_containers()
    except DockerUnavailableError:
        # No Docker to ask: the SDK's own answer and the outputs decide how the job ended.
        return []
    return [container for folder, container in listed if _is_under(folder, container_root)]


def run_containers(run_id: str) -> list[ContainerEnd]:
    """The containers of the local job with this run id, wherever its run folder is (its container root is
    `.../container-<run id>`, see utils/layout.py); DockerUnavailableError when Docker does not answer."""
    segment = f"/container-{run_id}/"
    return [container for folder, container in compose_containers() if segment in f"{folder}/"]


def remove_containers(containers: list[ContainerEnd]) -> None:
    """Local mode's `compose up --abort-on-container-exit` leaves its containers behind, and after an
    interrupt they may still be running: force-remove them, so that none outlives its job."""
    if not containers:
        return
    try:
        subprocess.run(
            ["docker", "rm", "--force", *(c.container_id for c in containers)],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        # Leftover containers cost disk space only; the local-run scripts remove them again on exit.
        return


def containers_verdict(containers: list[ContainerEnd]) -> tuple[JobStatus, str] | None:
    """How the job ended by its containers' own exits, when that is not Completed; None when every container
    exited 0 (or Docker has none to show).

    Workaround for two SDK behaviours that make an interrupted local job "complete" with whatever its
    folders hold: sagemaker-core 2.27's `_stream_output` (sagemaker.core.local.image) takes Docker Compose's
    exit code 130, what an interrupted `compose up` returns, for success; and its telemetry decorator around
    sagemaker-train 1.27's ModelTrainer.train returns from a `finally`, swallowing a Ctrl-C's exception.
    Canaries for both: tests/pipeline/test_local_job_end.py.

    Compose stops the other containers once one exits (`--abort-on-container-exit`), so a stopped container
    beside one that exited 0 is that cascade, not a stop of the job.
    """
    running = [c.name for c in containers if c.running]
    if running:
        return JobStatus.STOPPED, f"stopped before it finished: container {running[0]} was still running"
    for container in containers:
        if container.oom_killed:
            return JobStatus.FAILED, f"container {container.name} ran out of memory"
        if container.exit_code not in STOPPED_EXIT_CODES | {0}:
            return JobStatus.FAILED, f"container {container.name} exited with code {container.exit_code}"
    stopped = [c for c in containers if c.exit_code in STOPPED_EXIT_CODES]
    if stopped and all(c.exit_code != 0 for c in containers):
        first = stopped[0]
        return JobStatus.STOPPED, (
            f"stopped before it finished: container {first.name} ended by a signal "
            f"(exit code {first.exit_code})"
        )
    return None


def _is_under(location: str, folder: str) -> bool:
    return location == folder or location.startswith(folder.rstrip("/") + "/")
