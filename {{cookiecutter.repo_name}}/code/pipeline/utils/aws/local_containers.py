"""The mechanics of local-mode jobs around the SDK: their Docker containers (which belong to a job, how they
ended, removing them), the ownership of what they wrote, and the tail of their log.

Docker's command line only, no SageMaker SDK: `utils.aws.local_mode` runs jobs with it, and
`python -m utils.db sync --env local` asks it whether a local job's containers still run.
"""

from __future__ import annotations

import gc
import io
import json
import os
import re
import subprocess
import sys
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.db.enum import JobStatus
from utils.errors import one_line

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


def hand_back_ownership(container_root: str, image_uri: str) -> None:
    """Local-mode containers run as root (as on SageMaker), so files they write under runs/ are root's;
    chown them back to the user running the batch, from inside the same image, so runs/ stays removable."""
    if not hasattr(os, "getuid") or os.getuid() == 0 or not Path(container_root).is_dir():
        return
    try:
        subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "chown",
                "--volume",
                f"{container_root}:/run-root",
                image_uri,
                "-R",
                f"{os.getuid()}:{os.getgid()}",
                "/run-root",
            ],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        # Ownership is a convenience for deleting runs/ later; it never fails the job.
        return


class LogTail(io.TextIOBase):
    """Passes the job's log (local mode streams the containers' output to stdout) through, keeping its end."""

    def __init__(self, target: io.TextIOBase | Any, keep: int = 200) -> None:
        self.target = target
        self.lines: deque[str] = deque(maxlen=keep)

    def write(self, text: str) -> int:
        self.target.write(text)
        self.lines.extend(text.splitlines())
        return len(text)

    def plain_lines(self) -> list[str]:
        """The kept lines without Compose's colours."""
        return [_COLOURS.sub("", line) for line in self.lines]

    def flush(self) -> None:
        # Also called when the tail is collected (io's finaliser), possibly after the stream it wraps closed.
        if not getattr(self.target, "closed", False):
            self.target.flush()


# A job's own error line (`ERROR: ...`, see code/container/<model>/utils/job.py), behind Compose's prefix.
_ERROR_LINE = re.compile(r"(?:^|\|\s*)ERROR:\s*(?P<reason>\S.*)$")
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


@contextmanager
def log_tail() -> Iterator[LogTail]:
    # The containers' log is progress, like the batch's own messages: stderr, leaving stdout to results.
    tail = LogTail(sys.stderr)
    with redirect_stdout(tail):
        yield tail


def local_failure_reason(exc: BaseException, container_root: str, log: LogTail) -> str:
    """What SageMaker would show as FailureReason: the training job's failure file (local mode copies
    /opt/ml/output to artifacts/output), else the job's last `ERROR:` log line, else the local-mode error."""
    failure = Path(container_root) / "artifacts" / "output" / "failure"
    if failure.is_file():
        text = " ".join(failure.read_text(encoding="utf-8", errors="replace").split())
        if text:
            return text[:1000]
    for line in reversed(log.plain_lines()):
        match = _ERROR_LINE.search(line)
        if match:
            return match.group("reason").strip()[:1000]
    return one_line(exc)


def run_local_job(
    start: Callable[[], object], container_root: str, image_uri: str, log_lines: list[str] | None = None
) -> tuple[JobStatus, str | None]:
    """Run one local-mode job to its end and say how it ended: Failed with the job's reason when the SDK
    raises, else by its containers' own exits (`containers_verdict`). The containers never outlive the call:
    on Ctrl-C or SIGTERM (which pass through as BaseException) they are removed while still running. The end
    of the job's log is added to `log_lines` when given."""
    reason: str | None = None
    try:
        with log_tail() as log, warnings.catch_warnings():
            # Local mode (sagemaker-train 1.27, local_container.train) never closes the pipe it reads Docker
            # Compose's output from; the ResourceWarning of its clean-up says nothing about the job. The
            # pipe goes with the SDK's frames, so those are let go here, while the warning is still ignored.
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                start()
            except Exception as exc:  # any local-mode failure is the job's failure
                reason = local_failure_reason(exc, container_root, log)
                traceback.clear_frames(exc.__traceback__)
            gc.collect()
            if log_lines is not None:
                log_lines.extend(log.plain_lines())
    finally:
        ended = job_containers(container_root)
        remove_containers(ended)
        hand_back_ownership(container_root, image_uri)
    if reason is not None:
        return JobStatus.FAILED, reason
    return containers_verdict(ended) or (JobStatus.COMPLETED, None)
