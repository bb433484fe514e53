"""What the local-run scripts answer before any job: their help and the batches' help, with no Docker call,
image build or run folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_MODE = REPO_ROOT / "scripts" / "local_run" / "local_mode.sh"
MODELS = sorted(p.parent.name for p in (REPO_ROOT / "code" / "container").glob("*/pyproject.toml"))


def run_local_mode(*args: str, runs_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PIPELINE_"))}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(LOCAL_MODE), "--model", MODELS[0], *args],
        cwd=REPO_ROOT,
        env=env | {"PIPELINE_RUNS_DIR": str(runs_dir), "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.scripts
@pytest.mark.parametrize(
    ("job", "own_option"),
    [("preprocess", "--param"), ("training", "--preprocess-run-id"), ("evaluation", "--training-run-id")],
)
def test_a_jobs_help_shows_the_batchs_options_and_runs_nothing(
    tmp_path: Path, job: str, own_option: str
) -> None:
    runs_dir = tmp_path / "runs"

    result = run_local_mode(job, "--help", runs_dir=runs_dir)

    assert result.returncode == 0, result.stderr
    assert f"python -m batches.{job}" in result.stdout
    assert own_option in result.stdout
    assert "passes --env local and --model itself" in result.stdout
    assert f"{job} completed" not in result.stdout + result.stderr
    assert result.stderr == ""  # no image check, no build, no find over a missing folder
    assert not runs_dir.exists()


@pytest.mark.scripts
def test_the_scripts_help_names_the_jobs_and_the_models(tmp_path: Path) -> None:
    result = run_local_mode("--help", runs_dir=tmp_path / "runs")

    assert result.returncode == 0, result.stderr
    for word in ["collection", "preprocess", "training", "evaluation", "inference", *MODELS]:
        assert word in result.stdout
