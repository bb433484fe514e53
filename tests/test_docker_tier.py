"""The Docker tier's own guarantees: it runs on a real engine, and it fails (never skips) without one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.bake import TEMPLATE_DIR, run


@pytest.mark.docker
def test_stand_in_base_image_runs_python(base_image: str) -> None:
    result = run(["docker", "run", "--rm", base_image, "python3", "-c", "import sys; print(sys.version_info[:2])"])
    assert result.stdout.strip() == "(3, 11)"


def test_docker_tier_fails_when_required_and_no_engine_answers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REQUIRE_DOCKER": "1",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
    }
    result = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "tests/test_docker_tier.py::test_stand_in_base_image_runs_python",
        ],
        cwd=TEMPLATE_DIR,
        env=env,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout
    assert "needs a running Docker engine" in result.stdout


def test_docker_tier_is_deselected_not_skipped_in_the_fast_tier() -> None:
    env = {key: value for key, value in os.environ.items() if key != "REQUIRE_DOCKER"}
    result = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "tests/test_docker_tier.py::test_stand_in_base_image_runs_python",
        ],
        cwd=TEMPLATE_DIR,
        env=env,
        check=False,
    )
    assert "1 deselected" in result.stdout
    assert "skipped" not in result.stdout
