"""The generated repository stays clean and grows: pre-commit, a second model, and the machine doctor."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.answers import DEMAND_GOV
from tests.support.bake import bake, clean_env, commit_all, run


def test_pre_commit_passes_offline_on_a_fresh_render(set_up_project: Path) -> None:
    result = run(["make", "lint"], cwd=set_up_project, env=clean_env(), timeout=900)
    assert "Failed" not in result.stdout
    assert result.stdout.count("Passed") >= 10


FIRST_MODEL = DEMAND_GOV["model_name"]
SECOND_MODEL = "churn_lgbm"
_IGNORED = {".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


@pytest.fixture(scope="module")
def two_model_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A set-up render (DEMAND_GOV answers) to which `make new-model` added a second model, committed."""
    project = commit_all(bake(tmp_path_factory.mktemp("two-models"), **DEMAND_GOV))
    run(["make", "setup"], cwd=project, env=clean_env(), timeout=1800)
    result = run(["make", "new-model", f"NAME={SECOND_MODEL}"], cwd=project, env=clean_env(), timeout=1800)
    assert f"Added model '{SECOND_MODEL}'" in result.stdout
    return commit_all(project, f"Add {SECOND_MODEL}")


def _tree(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if not _IGNORED & set(p.relative_to(folder).parts))


def test_new_model_is_consistent_with_the_first(two_model_project: Path) -> None:
    first = two_model_project / "code" / "container" / FIRST_MODEL
    second = two_model_project / "code" / "container" / SECOND_MODEL
    assert _tree(second) == _tree(first)
    assert (second / "poetry.lock").read_bytes() == (first / "poetry.lock").read_bytes()
    pyproject = (second / "pyproject.toml").read_text()
    assert f'name = "{SECOND_MODEL}"' in pyproject
    assert f"tests/container/{SECOND_MODEL}" in pyproject
    assert FIRST_MODEL not in pyproject
    assert (two_model_project / "tests" / "container" / SECOND_MODEL / "conftest.py").is_file()


def test_new_model_gets_its_own_settings_in_every_config(two_model_project: Path) -> None:
    for env in ("local", "dev", "prod"):
        path = two_model_project / "code" / "pipeline" / "configs" / f"{env}.yaml"
        models = yaml.safe_load(path.read_text())["models"]
        assert list(models) == [FIRST_MODEL, SECOND_MODEL], env
        assert models[SECOND_MODEL] == models[FIRST_MODEL], env
        assert "# Hyperparameters of jobs/training.py" in path.read_text().split(f"  {SECOND_MODEL}:")[1], env


def test_new_model_is_installed_and_passes_make_test_with_no_other_step(two_model_project: Path) -> None:
    env = clean_env()
    help_text = run(["make", "help"], cwd=two_model_project, env=env).stdout
    assert f"models: {' '.join(sorted([FIRST_MODEL, SECOND_MODEL]))}" in help_text
    assert (two_model_project / "code" / "container" / SECOND_MODEL / ".venv" / "bin" / "pytest").is_file()
    result = run(["make", "test"], cwd=two_model_project, env=env, timeout=1800)
    assert f"==> tests of code/container/{SECOND_MODEL}" in result.stdout
    assert " failed" not in result.stdout + result.stderr


def test_batches_and_scripts_ask_which_model_once_there_are_two(two_model_project: Path) -> None:
    env = clean_env()
    pipeline = two_model_project / "code" / "pipeline"
    result = run([".venv/bin/python", "-m", "batches.training", "--env", "local"], cwd=pipeline, env=env, check=False)
    assert result.returncode == 2
    assert f"settings for several models ({', '.join(sorted([FIRST_MODEL, SECOND_MODEL]))})" in result.stderr
    assert "--model NAME" in result.stderr
    script = run(["scripts/local_run/pipeline.sh"], cwd=two_model_project, env=env, check=False)
    assert script.returncode != 0
    assert "several models" in script.stderr and "--model NAME" in script.stderr


def test_make_test_names_the_target_that_installs_a_missing_project(tmp_path: Path) -> None:
    project = bake(tmp_path, **DEMAND_GOV)
    result = run(["make", "test"], cwd=project, env=clean_env(), check=False)
    assert result.returncode != 0
    assert "code/pipeline is not installed: run `make setup`" in result.stderr


@pytest.mark.docker
def test_new_model_image_builds(two_model_project: Path, base_image: str) -> None:
    env = clean_env({"BASE_IMAGE": base_image, "DOCKER_BUILD_NETWORK": "host"})
    result = run(["scripts/docker/container/build.sh", SECOND_MODEL], cwd=two_model_project, env=env, timeout=1800)
    reference = result.stdout.strip().splitlines()[-1]
    assert f"/{SECOND_MODEL}:" in reference
    inspect = run(["docker", "image", "inspect", "--format", "{{json .Config.Cmd}}", reference], env=env)
    assert inspect.stdout.strip() == '["train"]'


@pytest.mark.parametrize("name", ["Bad-Name", "class", "pipeline", "tabular_classifier", "9lives"])
def test_new_model_refuses_bad_names_and_writes_nothing(default_project: Path, name: str) -> None:
    before = sorted(p.name for p in (default_project / "code" / "container").iterdir())
    result = run(["scripts/new_model.sh", name], cwd=default_project, env=clean_env(), check=False)
    assert result.returncode != 0
    assert "error:" in result.stderr and name in result.stderr
    assert sorted(p.name for p in (default_project / "code" / "container").iterdir()) == before
    assert not list(default_project.glob(".new-model.*"))


def test_doctor_reports_a_stopped_docker_engine_with_its_fix(default_project: Path, tmp_path: Path) -> None:
    env = clean_env({"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    result = run(["make", "doctor"], cwd=default_project, env=env, check=False)
    assert result.returncode != 0
    docker_line = next(line for line in result.stdout.splitlines() if "docker " in line)
    assert "FAIL" in docker_line and "does not answer" in docker_line
    assert "fix: start Docker" in result.stdout
    assert "check(s) failed" in result.stdout


def test_doctor_tells_an_aws_cli_hidden_by_the_repos_python_from_a_missing_one(
    default_project: Path, tmp_path: Path
) -> None:
    # What pyenv's shim answers when the CLI was pip-installed into a Python other than the .python-version one.
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "aws"
    shim.write_text("#!/bin/sh\necho 'pyenv: aws: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    env = clean_env()
    env["PATH"] = f"{shims}:{env['PATH']}"
    result = run(["make", "doctor"], cwd=default_project, env=env, check=False)
    aws_line = next(line for line in result.stdout.splitlines() if "aws-cli" in line)
    assert "FAIL" in aws_line and "another pyenv Python" in aws_line
    assert "fix: install the AWS CLI v2 with its own installer" in result.stdout


@pytest.mark.docker
def test_doctor_passes_on_a_machine_with_everything(set_up_project: Path, base_image: str) -> None:
    # Set up: the runs-folder check runs from the pipeline project's environment.
    result = run(["make", "doctor"], cwd=set_up_project, env=clean_env({"BASE_IMAGE": base_image}))
    assert "all checks passed" in result.stdout
    assert all(line.startswith("[ ok ]") for line in result.stdout.splitlines()[:-1])
    assert f"base-image       {base_image} (on this machine)" in result.stdout


@pytest.mark.docker
def test_doctor_says_how_to_set_another_base_image_when_it_cannot_be_had(
    default_project: Path, docker_engine: None
) -> None:
    missing = "registry.invalid/no-such-base:1"
    result = run(["make", "doctor"], cwd=default_project, env=clean_env({"BASE_IMAGE": missing}), check=False)
    assert result.returncode != 0
    base_line = next(line for line in result.stdout.splitlines() if "base-image" in line)
    assert "FAIL" in base_line and f"{missing} is neither on this machine nor pullable" in base_line
    fix = "BASE_IMAGE=IMAGE for one command, images.base_image in code/pipeline/configs/*.yaml for good"
    assert fix in result.stdout
