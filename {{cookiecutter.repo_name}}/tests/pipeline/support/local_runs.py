"""Running the repository's scripts/local_run/ as a developer does, and what they leave in Docker."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = REPO_ROOT / "scripts" / "local_run"
PIPELINE_DIR = REPO_ROOT / "code" / "pipeline"
COMPOSE_WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
# Settings of the test process (conftest.py sets them for its stand-ins) that must not reach the scripts.
TEST_ONLY_VARIABLES = (
    "IMAGE_TAG",
    "DATABASE_URL",
    "ECR_REGISTRY",
    "SAGEMAKER_USER_CONFIG_OVERRIDE",
    "MLFLOW_TRACKING_URI",
)


def script_env(runs_dir: Path) -> dict[str, str]:
    """The caller's environment without any AWS setting: local mode must need none."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PIPELINE_")) and key not in TEST_ONLY_VARIABLES
    }
    env.pop("VIRTUAL_ENV", None)
    env["PIPELINE_RUNS_DIR"] = str(runs_dir)
    return env


def run_script(
    name: str, *args: str, runs_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """scripts/local_run/NAME ARGS... as a developer runs it, on `runs_dir` (`env` added)."""
    return subprocess.run(
        [str(SCRIPTS / name), *args],
        cwd=REPO_ROOT,
        env={**script_env(runs_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def run_module(
    runs_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m ARGS...` of the pipeline project, as a developer runs it, on `runs_dir` (`env` added)."""
    return subprocess.run(
        [str(PIPELINE_DIR / ".venv" / "bin" / "python"), "-m", *args],
        cwd=PIPELINE_DIR,
        env={**script_env(runs_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def leftover_containers(runs_dir: Path, *filters: str) -> list[str]:
    """Job containers (running or not, unless `filters` say) whose Compose project lives under the runs
    folder."""
    ids = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"label={COMPOSE_WORKING_DIR_LABEL}", *filters],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not ids:
        return []
    details = json.loads(
        subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout
    )
    return [
        item["Name"]
        for item in details
        if str(item["Config"]["Labels"].get(COMPOSE_WORKING_DIR_LABEL, "")).startswith(f"{runs_dir}/")
    ]
