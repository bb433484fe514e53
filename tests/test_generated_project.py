"""The generated repository's own commands work from a clean environment, as a new team member runs them."""

from __future__ import annotations

from pathlib import Path

from tests.support.bake import clean_env, run


def test_make_help_lists_every_documented_target(default_project: Path) -> None:
    result = run(["make", "help"], cwd=default_project, env=clean_env())
    for target in ("setup", "test", "clean"):
        assert f"  {target} " in result.stdout.replace("\x1b[36m", "  ").replace("\x1b[0m", " ")
    assert "models: tabular_classifier" in result.stdout


def test_make_setup_installs_every_project_in_its_own_environment(set_up_project: Path) -> None:
    projects = [set_up_project / "code" / "pipeline", *sorted((set_up_project / "code" / "container").iterdir())]
    for project in projects:
        assert (project / ".venv" / "bin" / "python").exists(), project
    # Installed byte-compiled, or every batch compiles the SageMaker SDK from source where PYTHONDONTWRITEBYTECODE
    # is set. Most SDK modules are never imported, so only a compile at install time gives nearly all a .pyc.
    sdk = next((set_up_project / "code" / "pipeline" / ".venv" / "lib").glob("python3.*/site-packages/sagemaker"))
    sources = sum(1 for _ in sdk.rglob("*.py"))
    compiled = sum(1 for _ in sdk.rglob("__pycache__/*.pyc"))
    assert compiled >= 0.9 * sources, (compiled, sources)


def test_make_test_runs_the_unit_tests_of_every_project(set_up_project: Path) -> None:
    result = run(["make", "test"], cwd=set_up_project, env=clean_env(), timeout=1800)
    output = result.stdout + result.stderr
    assert "==> tests of code/pipeline" in output
    assert "==> tests of code/container/tabular_classifier" in output
    assert output.count(" passed") >= 2
    assert " failed" not in output
