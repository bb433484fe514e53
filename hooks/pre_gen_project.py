"""Refuse bad answers before cookiecutter writes anything.

The answers arrive as JSON data (rendered with ``tojson`` into a raw string), so quotes, backslashes, newlines or
shell syntax in an answer cannot change this program. Every rule is the real one of the service that will later
receive the value (S3, ECR, IAM, Python), so a render that passes here does not fail at deploy time.

The rules of the values the generated repository keeps using (model name, region, account, bucket, prefixes,
role ARN) live in one file of it, ``code/pipeline/utils/naming.py``, which its config reader and scripts also use;
this hook loads that file from the template folder. The answer-only rules and the cross-field checks stay here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

# tojson escapes every ' so the raw triple-single-quoted string cannot be closed early by any answer.
ANSWERS: dict[str, object] = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip

# The generated repository's folder inside the template, named as it is on disk (not rendered).
PROJECT_TEMPLATE = "{% raw %}{{cookiecutter.repo_name}}{% endraw %}"
NAMING_RULES = Path(PROJECT_TEMPLATE, "code", "pipeline", "utils", "naming.py")

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REPO_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?\Z")


def _launching_dir() -> Path | None:
    """The working directory of the process that started this hook, where the platform tells it.

    cookiecutter's ``generate_files``, which cruft calls too, runs the hooks from inside the template folder
    (the hook itself starts in the new project's folder).
    """
    parent = os.getppid()
    try:
        return Path(f"/proc/{parent}/cwd").readlink()  # Linux
    except OSError:
        pass
    try:  # macOS and the BSDs
        listed = subprocess.run(
            ["lsof", "-a", "-p", str(parent), "-d", "cwd", "-Fn"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line[1:] for line in listed.stdout.splitlines() if line.startswith("n")]
    return Path(names[0]) if listed.returncode == 0 and names else None


def naming_rules_file(answers: Mapping[str, object]) -> Path:
    """The rules in the template folder: cookiecutter names that folder in ``_repo_dir`` (for a local path, a
    ``gh:`` clone and a replay alike); cruft's context has no ``_repo_dir``, so then the folder the hook was
    started from."""
    searched: list[Path] = []
    repo_dir = answers.get("_repo_dir")
    if isinstance(repo_dir, str) and repo_dir:
        searched.append(Path(repo_dir))
        if (searched[-1] / NAMING_RULES).is_file():
            return searched[-1] / NAMING_RULES
    launched_from = _launching_dir()
    if launched_from is not None:
        searched.append(launched_from)
        if (launched_from / NAMING_RULES).is_file():
            return launched_from / NAMING_RULES
    where = ", ".join(str(folder) for folder in searched) or "no folder (no _repo_dir in the context)"
    raise SystemExit(f"The template was not rendered: its naming rules {NAMING_RULES} are not in {where}")


def load_naming_rules(answers: Mapping[str, object]) -> ModuleType:
    path = naming_rules_file(answers)
    spec = importlib.util.spec_from_file_location("template_naming_rules", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"The template was not rendered: {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


naming = load_naming_rules(ANSWERS)


def check_text(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if _CONTROL.search(value):
        return "must be a single line of text (no newlines, tabs or other control characters)"
    if len(value) > 200:
        return "must be at most 200 characters"
    return None


def check_repo_name(value: str) -> str | None:
    if not value:
        return "must not be empty (it is derived from project_name: give a name with letters or digits)"
    if len(value) > 100 or not _REPO_NAME.match(value):
        return (
            "must be 1-100 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or "
            "digit (it names the folder, the Python projects and the default S3 bucket and ECR namespace)"
        )
    return None


def check_python_version(value: str) -> str | None:
    if value not in PYTHON_VERSIONS:
        return f"must be one of {', '.join(PYTHON_VERSIONS)}"
    return None


def check_role_arn(value: str, answers: Mapping[str, object]) -> str | None:
    """The role's shape, and that SageMaker can use it: in the account and the region's partition."""
    problem = naming.check_role_arn(value)
    if problem:
        return str(problem)
    match = naming.ROLE_ARN.match(value)
    account, region = str(answers.get("aws_account_id", "")), str(answers.get("aws_region", ""))
    if naming.check_account_id(account) is None and match["account"] != account:
        return f"must belong to aws_account_id {account}: SageMaker cannot run jobs as another account's role"
    if naming.check_region(region) is None:
        expected_partition = naming.partition_of(region).name
        if match["partition"] != expected_partition:
            return f"must use the partition of region {region} ('arn:{expected_partition}:...')"
    return None


def check_yes_no(value: str) -> str | None:
    if value not in ("yes", "no"):
        return "must be 'yes' or 'no'"
    return None


SIMPLE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "project_name": check_text,
    "repo_name": check_repo_name,
    "model_name": naming.check_model_name,
    "description": check_text,
    "author_name": check_text,
    "python_version": check_python_version,
    "aws_region": naming.check_region,
    "aws_account_id": naming.check_account_id,
    "s3_bucket": naming.check_bucket,
    "s3_prefix": naming.check_prefix,
    "ecr_repository_prefix": naming.check_ecr_prefix,
    "include_github_actions": check_yes_no,
}


def validate(answers: Mapping[str, object]) -> list[str]:
    """Every problem with the answers, one readable line each: field, value and rule."""
    problems: list[str] = []
    checks: dict[str, Callable[[str], str | None]] = {
        **SIMPLE_CHECKS,
        "sagemaker_role_arn": lambda value: check_role_arn(value, answers),
    }
    for field, check in checks.items():
        if field not in answers:
            problems.append(f"{field} is missing from the answers")
            continue
        value = answers[field]
        problem = check(value) if isinstance(value, str) else "must be text"
        if problem:
            problems.append(f"{field}={json.dumps(value, ensure_ascii=False)} {problem}")
    return problems


def main() -> int:
    problems = validate(ANSWERS)
    if problems:
        print("The template was not rendered; fix these answers and run cookiecutter again:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
