"""A runs folder SageMaker local mode refuses to mount is found before any job, from the SDK's own list; the
canaries fail when the SDK moves or changes that list or its rule."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sagemaker.core.common_utils import _SENSITIVE_SYSTEM_PATHS
from sagemaker.core.local.data import LocalFileDataSource
from support.batches import BatchRunner

from utils.aws import local_mounts
from utils.aws.local_mounts import refused_prefix, refused_prefixes
from utils.db.db_adapter import DbAdapter

REPO_ROOT = Path(__file__).resolve().parents[2]
# The scripts ask which model once there are several; any one of them shows the refusal.
MODEL = min((p.parent.name for p in (REPO_ROOT / "code" / "container").glob("*/pyproject.toml")), default="")


def test_canary_the_list_read_from_the_sdks_source_is_the_list_it_uses() -> None:
    assert refused_prefixes() == list(_SENSITIVE_SYSTEM_PATHS)


def test_canary_local_mode_refuses_exactly_the_folders_the_check_refuses(tmp_path: Path) -> None:
    for prefix in refused_prefixes():
        assert refused_prefix(f"{prefix}/repo/runs") == prefix
        with pytest.raises(ValueError, match="Local Mode does not support mounting from restricted system"):
            LocalFileDataSource(f"{prefix}/repo/runs")
    assert refused_prefix(tmp_path) is None
    LocalFileDataSource(str(tmp_path))


@pytest.fixture
def refused_runs_dir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A runs folder under the ~/.config of a temporary home, and an environment that uses both."""
    home = tmp_path / "home"
    runs_dir = home / ".config" / "work" / "runs"
    runs_dir.mkdir(parents=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PIPELINE_")) and key not in ("DATABASE_URL", "VIRTUAL_ENV")
    }
    return runs_dir, env | {"HOME": str(home), "PIPELINE_RUNS_DIR": str(runs_dir)}


@pytest.mark.scripts
@pytest.mark.parametrize("command", [["local_run/local_mode.sh", "preprocess"], ["local_run/pipeline.sh"]])
def test_a_local_run_script_refuses_such_a_runs_folder_in_one_line_before_any_build(
    refused_runs_dir: tuple[Path, dict[str, str]], command: list[str]
) -> None:
    runs_dir, env = refused_runs_dir

    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / command[0]), "--model", MODEL, *command[1:]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()  # the refusal alone: no image check or build began
    refused = runs_dir.parents[1]  # the temporary home's .config
    assert line.startswith(f"error: SageMaker local mode refuses to mount folders under {refused}, ")
    assert f"the runs folder {runs_dir} is one: set PIPELINE_RUNS_DIR to a folder outside it" in line


@pytest.mark.scripts
def test_doctor_names_such_a_runs_folder_and_the_fix(refused_runs_dir: tuple[Path, dict[str, str]]) -> None:
    runs_dir, env = refused_runs_dir

    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "doctor.sh")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if "runs-folder" in line]
    assert line.startswith("[FAIL]")
    assert line.endswith(f"SageMaker local mode cannot mount {runs_dir}")
    assert "fix: SageMaker local mode refuses to mount folders under" in result.stdout


def test_a_batch_refuses_such_a_runs_folder_before_recording_a_job(
    run_batch: BatchRunner, runs_dir: Path, db: DbAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_batch("collection", "--env", "local").exit_code == 0
    monkeypatch.setattr(local_mounts, "refused_prefixes", lambda: [str(runs_dir)])

    result = run_batch("preprocess", "--env", "local")

    assert result.exit_code == 2
    assert f"the runs folder {runs_dir} is one" in result.output
    assert [job.job_type for job in db.list_jobs()] == ["collection"]
