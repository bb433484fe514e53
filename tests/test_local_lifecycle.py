"""The generated repo's local-mode lifecycle (scripts/local_run), fully offline on the host side.

Docker tier (`pytest --docker`): builds the default render's model image on the stand-in base image, then runs
the generated project's own lifecycle tests (tests/pipeline/test_local_lifecycle.py: the whole lifecycle,
then a job failing on a bad hyperparameter) with the host process in a network namespace of its own and no
AWS variable at all. Docker is still reached through its unix socket; the job containers run as usual.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.bake import clean_env, run

pytestmark = pytest.mark.docker


def offline_env(base_image: str) -> dict[str, str]:
    """A user's shell with no AWS identity, region or endpoint whatsoever."""
    env = {key: value for key, value in clean_env().items() if not key.startswith("AWS_")}
    env["BASE_IMAGE"] = base_image
    return env


def without_network() -> list[str]:
    # Root can unshare the network directly; anyone else needs a user namespace for it.
    return ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]


def test_the_lifecycle_runs_in_local_mode_without_network_or_aws(set_up_project: Path, base_image: str) -> None:
    env = offline_env(base_image)
    # The image build needs the package index; it runs first, with the network.
    built = run(
        ["scripts/local_run/local_mode.sh", "build"],
        cwd=set_up_project,
        env={**env, "DOCKER_BUILD_NETWORK": "host"},
        timeout=3600,
    )
    assert ":local-" in built.stdout.strip().splitlines()[-1]
    # The namespace really has no way out: not even a name lookup succeeds in it.
    probe = run([*without_network(), "getent", "hosts", "pypi.org"], env=env, check=False)
    assert probe.returncode != 0

    result = run(
        [*without_network(), "poetry", "run", "pytest", "-m", "docker", "-p", "no:cacheprovider", "-v"],
        cwd=set_up_project / "code" / "pipeline",
        env=env,
        timeout=3600,
    )

    for test in (
        "test_the_lifecycle_completes_and_records_every_job",
        "test_the_model_archive_loads_and_scores_the_collected_rows",
        "test_the_evaluation_report_scores_above_the_floor_and_has_plots",
        "test_every_collected_row_gets_a_prediction",
        "test_no_job_container_is_left_behind",
        "test_a_bad_hyperparameter_fails_in_the_container_and_is_recorded",
    ):
        assert f"{test} PASSED" in result.stdout, result.stdout[-4000:]


def test_the_lifecycle_runs_with_compose_v2(
    set_up_project: Path, base_image: str, compose_v2_docker_config: str | None, tmp_path: Path
) -> None:
    env = offline_env(base_image)
    if compose_v2_docker_config:
        env["DOCKER_CONFIG"] = compose_v2_docker_config
    # A docker-compose (v1) that refuses to run proves every job went through `docker compose` (v2).
    shim = tmp_path / "bin" / "docker-compose"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'docker-compose v1 must not be used here' >&2\nexit 97\n")
    shim.chmod(0o755)
    env["PATH"] = f"{shim.parent}:{env['PATH']}"
    run(  # the image build needs the package index (a no-op when the first test built it)
        ["scripts/local_run/local_mode.sh", "build"],
        cwd=set_up_project,
        env={**env, "DOCKER_BUILD_NETWORK": "host"},
        timeout=3600,
    )

    result = run([*without_network(), "scripts/local_run/pipeline.sh"], cwd=set_up_project, env=env, timeout=3600)

    summary = result.stdout + result.stderr
    assert "v1 must not be used" not in summary
    for stage in ("collection", "preprocess", "training", "evaluation", "inference"):
        assert f"{stage}: Completed" in summary
