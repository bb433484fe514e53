"""The generated repository's own commands work from a clean environment, as a new team member runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.answers import ACME_EU, FRAUD_CN
from tests.support.bake import bake, clean_env, commit_all, recorded_answers, run, stand_in_base_image


def test_make_help_lists_every_documented_target(default_project: Path) -> None:
    result = run(["make", "help"], cwd=default_project, env=clean_env())
    for target in ("setup", "test", "clean"):
        assert f"  {target} " in result.stdout.replace("\x1b[36m", "  ").replace("\x1b[0m", " ")
    assert f"models: {recorded_answers(default_project)['cookiecutter']['model_name']}" in result.stdout


def test_make_setup_installs_every_project_in_its_own_environment(set_up_project: Path) -> None:
    projects = [set_up_project / "code" / "pipeline", *sorted((set_up_project / "code" / "container").iterdir())]
    for project in projects:
        assert (project / ".venv" / "bin" / "python").exists(), project
    # Installed byte-compiled, or every batch compiles the SageMaker SDK from source where PYTHONDONTWRITEBYTECODE
    # is set. Most SDK modules are never imported, so only a compile at install time gives nearly all a .pyc.
    sdk = next((set_up_project / "code" / "pipeline" / ".venv" / "lib").glob("python3.*/site-packages/sagemaker"))
    sources = sum(1 for _ in sdk.rglob("*.py"))
    # Compiled by the project's own interpreter: a cache for another Python version is never read.
    cache_tag = f"cpython-{ACME_EU['python_version'].replace('.', '')}"
    compiled = sum(1 for _ in sdk.rglob(f"__pycache__/*.{cache_tag}.pyc"))
    assert compiled >= 0.9 * sources, (compiled, sources)


def test_make_test_runs_the_unit_tests_of_every_project(set_up_project: Path) -> None:
    result = run(["make", "test"], cwd=set_up_project, env=clean_env(), timeout=1800)
    output = result.stdout + result.stderr
    assert "==> tests of code/pipeline" in output
    assert f"==> tests of code/container/{ACME_EU['model_name']}" in output
    assert output.count(" passed") >= 2
    assert " failed" not in output


@pytest.mark.docker
def test_a_china_partition_python_3_13_render_passes_its_tests_and_runs_its_lifecycle(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: None
) -> None:
    project = commit_all(bake(tmp_path_factory.mktemp("fraud-cn"), **FRAUD_CN))
    env = clean_env()
    run(["make", "setup"], cwd=project, env=env, timeout=1800)
    version = run(["code/pipeline/.venv/bin/python", "-c", "import sys; print(sys.version_info[:2])"], cwd=project)
    assert version.stdout.strip() == "(3, 13)"

    tests = run(["make", "test"], cwd=project, env=env, timeout=1800)
    output = tests.stdout + tests.stderr
    assert f"==> tests of code/container/{FRAUD_CN['model_name']}" in output
    assert " failed" not in output

    lifecycle_env = {
        **env,
        "BASE_IMAGE": stand_in_base_image(FRAUD_CN["python_version"]),
        "DOCKER_BUILD_NETWORK": "host",
    }
    lifecycle = run(["scripts/local_run/pipeline.sh"], cwd=project, env=lifecycle_env, timeout=3600)
    summary = lifecycle.stdout + lifecycle.stderr
    assert "lifecycle done" in summary
    registry = "345678901234.dkr.ecr.cn-north-1.amazonaws.com.cn"
    assert f"{registry}/{FRAUD_CN['ecr_repository_prefix']}/{FRAUD_CN['model_name']}:" in summary
