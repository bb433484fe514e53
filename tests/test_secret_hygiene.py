"""No secret leaves the laptop, and no pull request can steer CI.

Git and the image builds leave env files, credentials and keys behind; the generated pre-commit hooks refuse a
planted key and a workflow open to injection without reaching the network; every rendered workflow and the
template's own pass zizmor with no finding.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.answers import DEMAND_GOV, FRAUD_CN
from tests.support.bake import GIT_IDENTITY, TEMPLATE_DIR, bake, clean_env, commit_all, recorded_answers, run, tool

# Fake by construction; the key id is assembled here so that no scanner mistakes this file for a leak.
FAKE_ACCESS_KEY_ID = "AKIA" + "Q3MLX5RTVW2YNBZ7"
FAKE_SECRET_ACCESS_KEY = "Zq3vN8pL2xR7tW1yB5cE9gH4jK6mQ0sU2vX8zA1d"  # noqa: S105 - 40 characters, as AWS's are
WORKFLOW_ANSWERS = {"fraud-cn": FRAUD_CN, "demand-gov": DEMAND_GOV}


def model_name(project: Path) -> str:
    recorded = recorded_answers(project)
    return str(recorded.get("cookiecutter", recorded)["model_name"])


def planted_secrets(model: str) -> list[str]:
    """Where secrets end up in a working tree: env files beside the code, keys and credentials anywhere."""
    return [
        ".env",
        ".env.local",
        ".envrc",
        ".aws/credentials",
        "server.key",
        f"code/container/{model}/jobs/.env.local",
        f"code/container/{model}/utils/.env",
        f"code/container/{model}/utils/id_ed25519",
        f"code/container/{model}/.aws/credentials",
        "code/pipeline/.env",
        "code/pipeline/configs/.env.prod",
        "code/pipeline/utils/deploy.pem",
        "tests/pipeline/.env",
    ]


@pytest.fixture(scope="module")
def planted_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed render (FRAUD_CN answers) with a fake secret in every place of planted_secrets."""
    project = commit_all(bake(tmp_path_factory.mktemp("planted"), **FRAUD_CN))
    for relative in planted_secrets(model_name(project)):
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"AWS_SECRET_ACCESS_KEY={FAKE_SECRET_ACCESS_KEY}\n", encoding="utf-8")
    return project


def test_git_ignores_env_files_credentials_and_keys(planted_project: Path) -> None:
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=planted_project, env=clean_env())
    assert status.stdout == ""
    ignored = run(["git", "check-ignore", *planted_secrets(model_name(planted_project))], cwd=planted_project)
    assert ignored.stdout.split() == planted_secrets(model_name(planted_project))


def test_git_ignores_no_file_of_a_fresh_render(planted_project: Path) -> None:
    tracked_but_ignored = run(["git", "ls-files", "--cached", "--ignored", "--exclude-standard"], cwd=planted_project)
    assert tracked_but_ignored.stdout == ""


def image_build_inputs(project: Path) -> list[str]:
    """The tracked files the Dockerfiles copy: each project's code and test folders, pyproject.toml, poetry.lock."""
    model = model_name(project)
    allowed = tuple(
        f"{project_dir}/{name}"
        for project_dir, names in (
            (f"code/container/{model}", ("jobs/", "utils/", "pyproject.toml", "poetry.lock")),
            ("code/pipeline", ("batches/", "utils/", "configs/", "pyproject.toml", "poetry.lock")),
            ("tests", (f"container/{model}/", "pipeline/")),
        )
        for name in names
    )
    tracked = run(["git", "ls-files"], cwd=project).stdout.splitlines()
    return sorted(name for name in tracked if name.startswith(allowed))


@pytest.mark.docker
def test_the_build_context_holds_only_the_image_inputs(planted_project: Path, base_image: str, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {base_image}\nCOPY . /context/\n", encoding="utf-8")
    probe = f"local/context-probe:{uuid.uuid4().hex[:12]}"
    env = clean_env()
    run(["docker", "build", "--quiet", "--file", str(dockerfile), "--tag", probe, str(planted_project)], env=env)
    try:
        listing = run(["docker", "run", "--rm", "--network", "none", probe, "find", "/context", "-type", "f"], env=env)
    finally:
        subprocess.run(["docker", "image", "rm", probe], capture_output=True, check=False)
    sent = sorted(line.removeprefix("/context/") for line in listing.stdout.splitlines())
    assert sent == image_build_inputs(planted_project)


@contextmanager
def trapped_network() -> Iterator[tuple[str, list[bytes]]]:
    """A proxy address on loopback and the first bytes of every connection made to it, while in the block."""
    attempts: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:

        def record() -> None:
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                with connection:
                    connection.settimeout(2)
                    try:
                        attempts.append(connection.recv(200))
                    except OSError:
                        attempts.append(b"")

        threading.Thread(target=record, daemon=True).start()
        yield f"http://127.0.0.1:{server.getsockname()[1]}", attempts


def offline_env(trap_address: str) -> dict[str, str]:
    """The user's environment, with every HTTP(S) request sent to the trap instead of the network."""
    env = {key: value for key, value in clean_env().items() if key.lower() not in ("no_proxy", "all_proxy")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[name] = trap_address
    return env


def failed_hooks(output: str) -> list[str]:
    return [line.rsplit(".", 1)[0].rstrip(".") for line in output.splitlines() if line.endswith("Failed")]


def test_a_committed_env_file_and_an_access_key_id_fail_the_secret_hook(set_up_project: Path) -> None:
    project = set_up_project
    planted = {
        ".env": f"AWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\nAWS_SECRET_ACCESS_KEY={FAKE_SECRET_ACCESS_KEY}\n",
        ".env.local": f"AWS_SECRET_ACCESS_KEY={FAKE_SECRET_ACCESS_KEY}\n",
        "code/pipeline/configs/deploy.yaml": f"# the team's deploy user\naccess_key_id: {FAKE_ACCESS_KEY_ID}\n",
    }
    with trapped_network() as (address, attempts):
        env = offline_env(address)
        head = run(["git", "rev-parse", "HEAD"], cwd=project, env=env).stdout
        for relative, text in planted.items():
            (project / relative).write_text(text, encoding="utf-8")
        try:
            run(["git", "add", "--force", "--", *planted], cwd=project, env=env)
            run(["make", "hooks"], cwd=project, env=env)
            commit = run(
                ["git", *GIT_IDENTITY, "commit", "-m", "Add the deploy settings"],
                cwd=project,
                env=env,
                check=False,
                timeout=900,
            )
        finally:
            # The render is shared with other tests: leave it as it was, whatever the commit did.
            run(["code/pipeline/.venv/bin/pre-commit", "uninstall"], cwd=project, env=env, check=False)
            run(["git", "reset", "--quiet", "--soft", head.strip()], cwd=project, env=env, check=False)
            run(["git", "rm", "--cached", "--quiet", "--", *planted], cwd=project, env=env, check=False)
            for relative in planted:
                (project / relative).unlink()
    output = commit.stdout + commit.stderr
    assert commit.returncode != 0, output
    assert failed_hooks(output) == ["refuse secrets in file contents (keys, tokens, passwords)"], output
    assert "Location:    .env:1" in output and "Location:    .env.local:1" in output
    assert "Location:    code/pipeline/configs/deploy.yaml:2" in output
    assert run(["git", "rev-parse", "HEAD"], cwd=project).stdout == head
    assert attempts == []  # a found key pair is never sent to AWS to check that it works


INJECTABLE_WORKFLOW = """\
name: greet
on: [pull_request]
permissions: {}
jobs:
  greet:
    name: greet
    runs-on: ubuntu-24.04
    steps:
      - run: echo "Thanks for ${{ github.event.pull_request.title }}"
"""


def test_the_workflow_hook_passes_the_rendered_ci_and_refuses_an_injectable_workflow(
    set_up_project: Path, tmp_path: Path
) -> None:
    rendered = bake(tmp_path, **FRAUD_CN) / ".github" / "workflows" / "ci.yml"
    github = set_up_project / ".github"
    had_github = github.exists()
    planted = {"planted-ci.yml": rendered.read_text(encoding="utf-8"), "greet.yml": INJECTABLE_WORKFLOW}
    pre_commit = [str(set_up_project / "code/pipeline/.venv/bin/pre-commit"), "run", "zizmor", "--files"]
    with trapped_network() as (address, attempts):
        env = offline_env(address)
        try:
            (github / "workflows").mkdir(parents=True, exist_ok=True)
            for name, text in planted.items():
                (github / "workflows" / name).write_text(text, encoding="utf-8")
            clean = run([*pre_commit, ".github/workflows/planted-ci.yml"], cwd=set_up_project, env=env, check=False)
            injectable = run([*pre_commit, ".github/workflows/greet.yml"], cwd=set_up_project, env=env, check=False)
        finally:
            if had_github:
                for name in planted:
                    (github / "workflows" / name).unlink(missing_ok=True)
            else:
                shutil.rmtree(github)
    assert clean.returncode == 0, clean.stdout
    assert "zizmor (GitHub Actions security audit)" in clean.stdout and "Passed" in clean.stdout
    assert injectable.returncode != 0
    assert failed_hooks(injectable.stdout) == ["zizmor (GitHub Actions security audit)"]
    assert "template-injection" in injectable.stdout
    assert attempts == []


def zizmor_findings(workflows: list[Path]) -> list[str]:
    result = run([tool("zizmor"), "--offline", "--format", "json", *map(str, workflows)], env=clean_env(), check=False)
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    assert findings or result.returncode == 0, result.stderr
    summaries = []
    for finding in findings:
        symbolic, concrete = finding["locations"][0]["symbolic"], finding["locations"][0]["concrete"]
        line = concrete["location"]["start_point"]["row"] + 1
        summaries.append(f"{finding['ident']} in {json.dumps(symbolic['key'])} at line {line}")
    return summaries


def test_every_rendered_workflow_and_the_templates_own_pass_zizmor(default_project: Path, tmp_path: Path) -> None:
    renders = [default_project, *(bake(tmp_path, **answers) for answers in WORKFLOW_ANSWERS.values())]
    workflows = [TEMPLATE_DIR / ".github" / "workflows" / "template.yml"]
    for render in renders:
        rendered = sorted((render / ".github" / "workflows").glob("*.yml"))
        assert rendered, render
        workflows += rendered
    assert zizmor_findings(workflows) == []


def change_detection(project: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Runs the ci.yml step that lists the projects to check, as the runner does on a push to main."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    script = next(step["run"] for step in workflow["jobs"]["changes"]["steps"] if step.get("id") == "detect")
    (tmp_path / "detect.sh").write_text(script, encoding="utf-8")
    outputs = tmp_path / "github-output"
    outputs.write_text("", encoding="utf-8")
    head = run(["git", "rev-parse", "HEAD"], cwd=project).stdout.strip()
    env = clean_env({"GITHUB_EVENT_NAME": "push", "GITHUB_SHA": head, "GITHUB_OUTPUT": str(outputs)})
    result = run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(tmp_path / "detect.sh")],
        cwd=project,
        env=env,
        check=False,
    )
    values = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines())
    return result, values


def test_change_detection_lists_every_project_on_the_default_branch(tmp_path: Path) -> None:
    project = commit_all(bake(tmp_path / "render", **DEMAND_GOV))
    result, outputs = change_detection(project, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(outputs["models"]) == [DEMAND_GOV["model_name"]]
    assert outputs["pipeline"] == "true"


def test_change_detection_stops_on_a_model_folder_that_is_no_model_name(tmp_path: Path) -> None:
    project = commit_all(bake(tmp_path / "render", **DEMAND_GOV))
    hostile = project / "code" / "container" / 'x"\n::error::$(touch PWNED)'
    hostile.mkdir()
    (hostile / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    commit_all(project, "Add a model")
    result, outputs = change_detection(project, tmp_path)
    assert result.returncode != 0
    assert outputs == {}
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: code/container/") and "is not a model name" in result.stderr
    assert not list(project.rglob("PWNED"))
