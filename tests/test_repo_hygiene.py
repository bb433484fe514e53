"""The generated repository stays clean and grows: pre-commit, a second model, and the machine doctor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bake import bake, clean_env, commit_all, run


def test_pre_commit_passes_offline_on_a_fresh_render(set_up_project: Path) -> None:
    # detect-aws-credentials looks for the secret keys of the environment in every file, so the tests' blank
    # key ("testing") would match ordinary words: run it as in a shell with no AWS identity at all.
    env = {key: value for key, value in clean_env().items() if not key.startswith("AWS_")}
    result = run(["make", "lint"], cwd=set_up_project, env=env, timeout=900)
    assert "Failed" not in result.stdout
    assert result.stdout.count("Passed") >= 10


@pytest.fixture(scope="module")
def two_model_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = commit_all(bake(tmp_path_factory.mktemp("two-models")))
    result = run(["make", "new-model", "NAME=second_model"], cwd=project, env=clean_env())
    assert "Added model 'second_model'" in result.stdout
    return commit_all(project, "Add second_model")


def test_new_model_is_consistent_with_the_first(two_model_project: Path) -> None:
    first = two_model_project / "code" / "container" / "tabular_classifier"
    second = two_model_project / "code" / "container" / "second_model"
    assert sorted(p.relative_to(second) for p in second.rglob("*")) == sorted(
        p.relative_to(first) for p in first.rglob("*")
    )
    assert (second / "poetry.lock").read_bytes() == (first / "poetry.lock").read_bytes()
    pyproject = (second / "pyproject.toml").read_text()
    assert 'name = "second_model"' in pyproject
    assert "tests/container/second_model" in pyproject
    assert "tabular_classifier" not in pyproject
    assert (two_model_project / "tests" / "container" / "second_model" / "conftest.py").is_file()


def test_new_model_is_picked_up_by_setup_test_and_help(two_model_project: Path) -> None:
    env = clean_env()
    assert "models: second_model tabular_classifier" in run(["make", "help"], cwd=two_model_project, env=env).stdout
    run(["make", "setup"], cwd=two_model_project, env=env, timeout=1800)
    result = run(["make", "test"], cwd=two_model_project, env=env, timeout=1800)
    assert "==> tests of code/container/second_model" in result.stdout
    assert " failed" not in result.stdout + result.stderr


@pytest.mark.docker
def test_new_model_image_builds(two_model_project: Path, base_image: str) -> None:
    env = clean_env({"BASE_IMAGE": base_image, "DOCKER_BUILD_NETWORK": "host"})
    result = run(["scripts/docker/container/build.sh", "second_model"], cwd=two_model_project, env=env, timeout=1800)
    reference = result.stdout.strip().splitlines()[-1]
    assert "/second_model:" in reference
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


@pytest.mark.docker
def test_doctor_passes_on_a_machine_with_everything(default_project: Path, docker_engine: None) -> None:
    result = run(["make", "doctor"], cwd=default_project, env=clean_env())
    assert "all checks passed" in result.stdout
    assert all(line.startswith("[ ok ]") for line in result.stdout.splitlines()[:-1])
