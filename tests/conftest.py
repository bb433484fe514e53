"""Shared fixtures: rendering the template, a clean environment for generated projects, and the Docker tier."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.answers import ACME_EU
from tests.support.bake import TEMPLATE_DIR, bake, clean_env, commit_all, run, stand_in_base_image

DEFAULT_PYTHON = "3.11"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--docker",
        action="store_true",
        default=False,
        help="also run the Docker tier (implied by REQUIRE_DOCKER=1)",
    )


def _docker_requested(config: pytest.Config) -> bool:
    return bool(config.getoption("--docker")) or os.environ.get("REQUIRE_DOCKER") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the Docker tier out of the fast tier; deselected tests are reported, never passed or skipped."""
    if _docker_requested(config):
        return
    selected = [item for item in items if "docker" not in item.keywords]
    deselected = [item for item in items if "docker" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False, timeout=60)
    return probe.returncode == 0


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker tier test fails here, with the reason, when no engine answers."""
    if not docker_engine_answers():
        pytest.fail(
            "the Docker tier needs a running Docker engine and none answered `docker info`; "
            "start dockerd (see .ci/run) or run the fast tier only (`make test-fast`)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def base_image(docker_engine: None) -> str:
    """The base image for the default Python version: a local stand-in unless BASE_IMAGE names one."""
    return stand_in_base_image(DEFAULT_PYTHON)


@pytest.fixture(scope="session")
def compose_v2_docker_config(docker_engine: None) -> str | None:
    """A DOCKER_CONFIG under which `docker compose` is Compose v2 (None: the machine's own already is)."""
    config = os.environ.get("COMPOSE_V2_DOCKER_CONFIG")
    probe_env = {**os.environ, "DOCKER_CONFIG": config} if config else dict(os.environ)
    probe = subprocess.run(
        ["docker", "compose", "version", "--short"], capture_output=True, text=True, check=False, env=probe_env
    )
    if probe.returncode != 0 or not probe.stdout.strip().lstrip("v").startswith("2"):
        pytest.fail(
            "the Compose v2 tests need `docker compose` (v2): install the compose plugin, or run "
            "tests/support/compose_v2_plugin.sh DIR and set COMPOSE_V2_DOCKER_CONFIG=DIR (as .ci/run does)",
            pytrace=False,
        )
    return config


@pytest.fixture(scope="session")
def template_dir() -> Path:
    return TEMPLATE_DIR


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One render with every default answer, shared by the tests that only read it."""
    return bake(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def set_up_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render with answers unlike the defaults (ACME_EU), a git repository that has run `make setup`."""
    project = bake(tmp_path_factory.mktemp("setup"), **ACME_EU)
    commit_all(project)
    run(["make", "setup"], cwd=project, env=clean_env(), timeout=1800)
    return project
