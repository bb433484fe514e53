"""The generated pipeline image: built from the render, with the pipeline's own tests passing inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.answers import ACME_EU
from tests.support.bake import clean_env, run


@pytest.mark.docker
def test_pipeline_tests_pass_inside_the_pipeline_image(set_up_project: Path, base_image: str) -> None:
    env = clean_env({"BASE_IMAGE": base_image, "DOCKER_BUILD_NETWORK": "host"})
    build = run(["scripts/docker/pipeline/build.sh"], cwd=set_up_project, env=env, timeout=3600)
    reference = build.stdout.strip().splitlines()[-1]
    assert reference.endswith(f"/{ACME_EU['ecr_repository_prefix']}/pipeline:{reference.rsplit(':', 1)[1]}")
    user = run(["docker", "image", "inspect", "--format", "{{.Config.User}}", reference], env=env)
    assert user.stdout.strip() == "10001"  # the batches need no root

    result = run(["scripts/test/pipeline.sh"], cwd=set_up_project, env=env, timeout=3600)
    output = result.stdout + result.stderr
    assert " passed" in output
    assert " failed" not in output and " error" not in output
