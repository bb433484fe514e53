"""The generated model image: build.sh, push.sh and the test scripts, run as a user would.

Docker tier: builds the model image of a set-up render with answers unlike the defaults on the stand-in base
image, checks its tag is the one the batches submit, runs the generated project's own Docker tests against it,
and pushes it to a local registry with moto standing in for the ECR API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bake import clean_env, recorded_answers, run

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited early:\n{log.read_text(encoding='utf-8', errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a local test server
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"nothing answered at {url} within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def answers(project: Path) -> dict[str, Any]:
    recorded = recorded_answers(project)
    nested: dict[str, Any] = recorded.get("cookiecutter", recorded)
    return nested


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def project(set_up_project: Path) -> Path:
    """A render unlike the defaults, set up: the scripts read the images' settings through the pipeline project."""
    return set_up_project


@pytest.fixture(scope="module")
def model(project: Path) -> str:
    return str(answers(project)["model_name"])


@pytest.fixture(scope="module")
def build_env(base_image: str) -> dict[str, str]:
    return clean_env({"BASE_IMAGE": base_image, "DOCKER_BUILD_NETWORK": "host"})


@pytest.fixture(scope="module")
def image(project: Path, model: str, build_env: dict[str, str]) -> Iterator[str]:
    result = run(["scripts/docker/container/build.sh", model], cwd=project, env=build_env, timeout=3600)
    reference = last_line(result)
    yield reference
    subprocess.run(["docker", "image", "rm", reference], capture_output=True, check=False)


def test_build_and_push_scripts_explain_themselves(default_project: Path) -> None:
    env = clean_env()
    for script in (
        "scripts/docker/container/build.sh",
        "scripts/docker/container/push.sh",
        "scripts/docker/pipeline/build.sh",
        "scripts/docker/pipeline/push.sh",
        "scripts/test/container.sh",
        "scripts/test/pipeline.sh",
        "scripts/benchmark/container_image.sh",
        "scripts/benchmark/local_mode.sh",
        "scripts/benchmark/setup_and_tests.sh",
        "scripts/benchmark/startup.sh",
    ):
        result = run([script, "--help"], cwd=default_project, env=env)
        assert result.stdout.startswith("Usage:"), script
    assert "BASE_IMAGE" in run(["scripts/docker/container/build.sh", "--help"], cwd=default_project, env=env).stdout
    refused = run(["scripts/docker/container/build.sh", "pipeline"], cwd=default_project, env=env, check=False)
    assert refused.returncode != 0 and "pipeline image's name" in refused.stderr


def submitted_image(project: Path, env: dict[str, str]) -> str:
    """The image a `--env dev` batch submits, as the pipeline project names it."""
    code = "from utils.config_reader import load_config; print(load_config('dev').image_uri())"
    return run([".venv/bin/python", "-c", code], cwd=project / "code" / "pipeline", env=env).stdout.strip()


@pytest.mark.docker
def test_build_tags_the_image_the_batches_submit_and_ships_no_compiler(
    project: Path, model: str, image: str, build_env: dict[str, str]
) -> None:
    given = answers(project)
    registry = f"{given['aws_account_id']}.dkr.ecr.{given['aws_region']}.amazonaws.com"
    name, tag = image.rsplit(":", 1)
    assert name == f"{registry}/{given['ecr_repository_prefix']}/{model}"
    assert re.fullmatch(r"[0-9a-f]{12}", tag)
    assert submitted_image(project, build_env) == image
    config = json.loads(run(["docker", "image", "inspect", image]).stdout)[0]["Config"]
    assert config["Cmd"] == ["train"]
    assert config["Labels"]["org.opencontainers.image.base.name"] == build_env["BASE_IMAGE"]
    probe = run(
        [
            "docker",
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            image,
            "-c",
            "command -v gcc || command -v cc || ls /opt/ml/code",
        ]
    )
    assert probe.stdout.split() == ["jobs", "utils"]


@pytest.mark.docker
def test_an_edited_job_builds_under_a_new_tag_and_an_edit_the_image_never_sees_keeps_it(
    project: Path, model: str, image: str, build_env: dict[str, str]
) -> None:
    code = project / "code" / "container" / model
    notes, job = code / "NOTES.md", code / "jobs" / "training.py"
    original = job.read_text(encoding="utf-8")
    edited = ""
    try:
        notes.write_text("not copied into the image\n", encoding="utf-8")
        build = ["scripts/docker/container/build.sh", model]
        assert last_line(run(build, cwd=project, env=build_env, timeout=3600)) == image
        job.write_text(original + "\n# an edit on a branch\n", encoding="utf-8")
        edited = last_line(run(build, cwd=project, env=build_env, timeout=3600))
        assert edited.rsplit(":", 1)[0] == image.rsplit(":", 1)[0]
        assert edited != image
        assert submitted_image(project, build_env) == edited
        # The builder stage is kept under one name for the next build's cache, not as an untagged image.
        cache = run(["docker", "images", "--quiet", image.rsplit(":", 1)[0] + ":build-cache"]).stdout.split()
        assert len(cache) == 1
    finally:
        job.write_text(original, encoding="utf-8")
        notes.unlink(missing_ok=True)
        if edited and edited != image:
            subprocess.run(["docker", "image", "rm", edited], capture_output=True, check=False)
    assert submitted_image(project, build_env) == image


@pytest.mark.docker
def test_a_local_run_rebuilds_its_image_once_the_base_image_is_newer(
    project: Path, model: str, build_env: dict[str, str], tmp_path: Path
) -> None:
    """The tag follows the base image's name; a newer image under that name (a pull) still means a rebuild."""
    alias = f"local/base-alias-{os.getpid()}:{model.replace('_', '-')}"
    run(["docker", "tag", build_env["BASE_IMAGE"], alias])
    env = {**build_env, "BASE_IMAGE": alias}
    local_build = ["scripts/local_run/local_mode.sh", "build"]
    reference = ""
    try:
        reference = last_line(run(local_build, cwd=project, env=env, timeout=3600))
        assert "is up to date with its build inputs" in run(local_build, cwd=project, env=env).stderr
        newer = tmp_path / "Dockerfile.newer"
        newer.write_text(f"FROM {build_env['BASE_IMAGE']}\nLABEL refreshed=yes\n", encoding="utf-8")
        run(["docker", "build", "--quiet", "--tag", alias, "--file", str(newer), str(tmp_path)], env=env)

        rebuilt = run(local_build, cwd=project, env=env, timeout=3600)

        assert last_line(rebuilt) == reference
        assert f"building {reference}" in rebuilt.stderr
        base_id = run(["docker", "images", "--no-trunc", "--quiet", alias]).stdout.strip()
        labels = json.loads(run(["docker", "image", "inspect", reference]).stdout)[0]["Config"]["Labels"]
        assert labels["base-image-id"] == base_id
    finally:
        for leftover in (reference, alias):
            if leftover:
                subprocess.run(["docker", "image", "rm", leftover], capture_output=True, check=False)


@pytest.mark.docker
def test_env_files_beside_the_job_code_stay_out_of_the_image(
    project: Path, model: str, image: str, build_env: dict[str, str]
) -> None:
    code = project / "code" / "container" / model
    planted = [code / "jobs" / ".env.local", code / "utils" / ".env"]
    for path in planted:
        path.write_text("AWS_SECRET_ACCESS_KEY=planted-beside-the-job-code\n", encoding="utf-8")
    try:
        # .dockerignore keeps env files out of the build inputs, so the tag stays what it was.
        rebuilt = last_line(run(["scripts/docker/container/build.sh", model], cwd=project, env=build_env, timeout=3600))
    finally:
        for path in planted:
            path.unlink()
    assert rebuilt == image
    find = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "find", rebuilt]
    shipped_code = run([*find, "/opt/ml/code", "-type", "f"]).stdout.split()
    tracked = run(["git", "ls-files", "jobs", "utils"], cwd=code).stdout.split()
    assert sorted(shipped_code) == sorted(f"/opt/ml/code/{name}" for name in tracked)
    assert run([*find, "/", "-xdev", "-name", ".env*"]).stdout.split() == []


@pytest.mark.docker
def test_container_tests_pass_inside_the_image(project: Path, model: str, build_env: dict[str, str]) -> None:
    result = run(["scripts/test/container.sh", model], cwd=project, env=build_env, timeout=3600)
    assert " passed" in result.stdout


@pytest.mark.docker
def test_generated_project_tests_pass_against_the_image(project: Path, model: str, image: str) -> None:
    model_project = project / "code" / "container" / model
    env = clean_env()
    run(["poetry", "install", "--no-interaction"], cwd=model_project, env=env, timeout=1800)
    fast = run(["poetry", "run", "pytest"], cwd=model_project, env=env, timeout=1800)
    assert " passed" in fast.stdout
    docker_tier = run(
        ["poetry", "run", "pytest", "-m", "docker"], cwd=model_project, env={**env, "MODEL_IMAGE": image}, timeout=1800
    )
    assert " passed" in docker_tier.stdout and "deselected" in docker_tier.stdout


@pytest.fixture
def local_registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry (the CNCF distribution registry) on a free loopback port."""
    executable = shutil.which("docker-registry")
    if executable is None:
        pytest.fail("the push test needs Debian's docker-registry: apt-get install -y docker-registry")
    address = f"127.0.0.1:{free_port()}"
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'registry-storage'}\n"
        f"http:\n  addr: {address}\n",
        encoding="utf-8",
    )
    log = tmp_path / "registry.log"
    with log.open("wb") as output:
        process = subprocess.Popen([executable, "serve", str(config)], stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_answering(f"http://{address}/v2/", process, log)
        yield address
    finally:
        stop(process)


@pytest.fixture
def moto_endpoint(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "moto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/moto-api/", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def aws_env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    """Offline credentials, only the AWS CLI of the template's environment on PATH, a throw-away docker login."""
    aws_bin = tmp_path / "aws-bin"
    aws_bin.mkdir(exist_ok=True)
    if not (aws_bin / "aws").exists():
        (aws_bin / "aws").symlink_to(VENV_BIN / "aws")
    env = clean_env({"DOCKER_CONFIG": str(tmp_path / "docker-config"), **extra})
    env["PATH"] = f"{aws_bin}{os.pathsep}{env['PATH']}"
    return env


@pytest.mark.docker
def test_push_creates_a_scanned_immutable_repository_and_pushes_the_tag(
    project: Path,
    model: str,
    image: str,
    build_env: dict[str, str],
    local_registry: str,
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    # The base image is part of the tag: push names the image build named, given the same BASE_IMAGE.
    given = {"ECR_REGISTRY": local_registry, "AWS_ENDPOINT_URL": moto_endpoint, "BASE_IMAGE": build_env["BASE_IMAGE"]}
    env = aws_env(tmp_path, given)
    reference = last_line(
        run(
            ["scripts/docker/container/build.sh", model],
            cwd=project,
            env={**build_env, "ECR_REGISTRY": local_registry},
            timeout=3600,
        )
    )
    try:
        pushed = last_line(run(["scripts/docker/container/push.sh", model], cwd=project, env=env, timeout=1800))
        assert pushed == reference
        again = run(["scripts/docker/container/push.sh", model], cwd=project, env=env, timeout=1800)
        assert last_line(again) == reference

        repository = reference.split("/", 1)[1].rsplit(":", 1)[0]
        described = json.loads(
            run(
                [
                    "aws",
                    "ecr",
                    "describe-repositories",
                    "--region",
                    answers(project)["aws_region"],
                    "--repository-names",
                    repository,
                    "--output",
                    "json",
                ],
                env=env,
            ).stdout
        )
        settings = described["repositories"][0]
        assert settings["imageScanningConfiguration"] == {"scanOnPush": True}
        assert settings["imageTagMutability"] == "IMMUTABLE"
        with urllib.request.urlopen(f"http://{local_registry}/v2/{repository}/tags/list", timeout=10) as answer:
            tags = json.load(answer)["tags"]
        assert tags == [reference.rsplit(":", 1)[1]]
    finally:
        subprocess.run(["docker", "image", "rm", reference], capture_output=True, check=False)


def test_push_dry_run_calls_neither_aws_nor_the_registry(project: Path, model: str, tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    env = aws_env(tmp_path, {"ECR_REGISTRY": closed, "AWS_ENDPOINT_URL": f"http://{closed}"})
    result = run(["scripts/docker/container/push.sh", "--dry-run", model], cwd=project, env=env)
    assert "would run: docker push" in result.stderr
    assert last_line(result).startswith(f"{closed}/")
