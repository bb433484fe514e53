"""Render the template the way a user does and run commands in the result with a clean environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[2]
# The template's own tools (cookiecutter, cruft, moto_server...) live beside the interpreter running the tests.
TOOLS_BIN = Path(sys.executable).parent

# Blank credentials: nothing a test runs can reach a real AWS account, on CI or on a laptop.
OFFLINE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "ap-northeast-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def bake(output_dir: Path, **answers: str) -> Path:
    """Render the template into output_dir with the given answers and return the project folder."""
    project = cookiecutter(
        str(TEMPLATE_DIR),
        no_input=True,
        extra_context=answers,
        output_dir=str(output_dir),
        accept_hooks=True,
    )
    return Path(project)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a user's shell would have: no active virtualenv of ours, no AWS identity."""
    # Also no make of ours: a MAKELEVEL inherited from `make test` would turn a generated make into a sub-make.
    inherited = ("AWS_", "POETRY_ACTIVE", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    venv = env.pop("VIRTUAL_ENV", None)
    if venv:
        env["PATH"] = os.pathsep.join(
            part for part in env.get("PATH", "").split(os.pathsep) if not part.startswith(venv)
        )
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env.update(OFFLINE_AWS)
    env.update(extra or {})
    return env


def run(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, and on failure raise with its whole output so a red test explains itself."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        input=input_text,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(command)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


GIT_IDENTITY = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]


def commit_all(repo: Path, message: str = "init") -> Path:
    """Commit every file of repo, initialising the repository first if needed, as a team does after a render."""
    env = clean_env()
    if not (repo / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], cwd=repo, env=env)
    run(["git", "add", "--all"], cwd=repo, env=env)
    run(["git", *GIT_IDENTITY, "commit", "--quiet", "-m", message], cwd=repo, env=env)
    return repo


def template_repository(destination: Path) -> Path:
    """A git repository holding the template as it is in this working tree (committed or not), as a team's
    clone of the template would: rendering from it shows what a `gh:` or cruft user gets."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=TEMPLATE_DIR)
    for name in filter(None, listed.stdout.split("\0")):
        source = TEMPLATE_DIR / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return commit_all(destination, "template")


def tool(name: str) -> str:
    """Full path of one of the template's development tools, usable under a clean environment."""
    return str(TOOLS_BIN / name)


def recorded_answers(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    return data


def stand_in_base_image(python_version: str) -> str:
    """A local base image for python_version (BASE_IMAGE_3_11 etc. name a real one), built once per machine."""
    override = os.environ.get(f"BASE_IMAGE_{python_version.replace('.', '_')}")
    if override:
        return override
    script = Path(__file__).parent / "stand_in_base_image.sh"
    result = run([str(script), python_version], env=os.environ.copy())
    return result.stdout.strip().splitlines()[-1]
