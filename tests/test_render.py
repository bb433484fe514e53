"""Rendering: the exact tree per option combination, valid files for any valid answer, refusals for bad ones."""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.answers import ANSWER_SETS
from tests.support.bake import TEMPLATE_DIR, bake, clean_env, recorded_answers, run, tool
from tests.support.manifest import expected_files

# Only openers matter: a lone "}}" or "%}" is ordinary code (nested dicts, f-strings), never live Jinja. Docker's
# own Go templates (`--format '{{.ID}}'`) are meant to survive, so "{{" followed by "." is not a leftover.
TEMPLATE_SYNTAX = re.compile(r"\{\{(?!\.)|\{%|\{#")


def _generated_files(project: Path) -> set[str]:
    return {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}


def _options_matrix() -> list[Any]:
    """Every python_version x include_github_actions, crossed with a few shapes of naming answers."""
    namings: dict[str, dict[str, str]] = {
        "defaults": {},
        "named-model": {"project_name": "Churn Prediction", "model_name": "churn_v2"},
        "china-region": {"aws_region": "cn-north-1", "aws_account_id": "210987654321"},
        "nested-prefixes": {"s3_prefix": "team-a/ml/churn", "ecr_repository_prefix": "team-a/ml"},
    }
    cases = []
    for python_version, actions, (naming_id, naming) in itertools.product(
        ["3.11", "3.12", "3.13"], ["yes", "no"], namings.items()
    ):
        answers = {"python_version": python_version, "include_github_actions": actions, **naming}
        cases.append(pytest.param(answers, id=f"py{python_version}-actions-{actions}-{naming_id}"))
    return cases


@pytest.mark.parametrize("answers", _options_matrix())
def test_render_writes_exactly_the_expected_tree(answers: dict[str, str], tmp_path: Path) -> None:
    project = bake(tmp_path, **answers)
    recorded = recorded_answers(project)["cookiecutter"]
    assert _generated_files(project) == expected_files(recorded)


@pytest.mark.parametrize("answers", _options_matrix())
def test_no_template_syntax_survives(answers: dict[str, str], tmp_path: Path) -> None:
    project = bake(tmp_path, **answers)
    leftovers = []
    for path in project.rglob("*"):
        if not path.is_file() or path.name == "poetry.lock":
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix in {".yml", ".yaml"} and ".github" in path.parts:
            text = text.replace("${{", "")  # GitHub expressions are meant to survive
        leftovers += [f"{path.relative_to(project)}: {match}" for match in TEMPLATE_SYNTAX.findall(text)]
    assert leftovers == []


def test_answers_flow_into_the_tree(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Churn Prediction", model_name="churn", python_version="3.12")
    assert project.name == "churn-prediction"
    assert (project / "code" / "container" / "churn").is_dir()
    assert (project / ".python-version").read_text().strip() == "3.12"
    assert recorded_answers(project)["cookiecutter"]["s3_bucket"] == "churn-prediction-123456789012"


def _parse_structured_files(project: Path) -> list[str]:
    parsed = []
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".toml" or path.name == "poetry.lock":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        else:
            continue
        parsed.append(str(path.relative_to(project)))
    return parsed


HOSTILE_TEXT = {
    "quotes": "O'Brien's \"quoted\" model",
    "backslashes": "C:\\models\\new \\",
    "unicode": "需要予測 Ünïcödé 🚀",
    "shell": "$(touch pwned); `touch pwned`",
    "markup": "50% <b>bold</b> & {braces} [link](x) # not a comment",
}


@pytest.mark.parametrize("text", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_hostile_but_valid_text_renders_valid_files(text: str, tmp_path: Path) -> None:
    project = bake(tmp_path, project_name=text, repo_name="hostile", description=text, author_name=text)
    parsed = _parse_structured_files(project)
    assert any(name.endswith("pyproject.toml") for name in parsed) or parsed
    assert recorded_answers(project)["cookiecutter"]["description"] == text
    assert not list(tmp_path.rglob("pwned"))


def test_unicode_project_name_gets_an_ascii_slug(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Prévision de la demande")
    assert project.name == "prevision-de-la-demande"
    assert recorded_answers(project)["cookiecutter"]["model_name"] == "prevision_de_la_demande"


BAD_ANSWERS = [
    ("aws_account_id", "1234", "must be exactly 12 digits"),
    ("aws_account_id", "abcdefghijkl", "must be exactly 12 digits"),
    ("s3_bucket", "Bad_Bucket", "S3 bucket naming rules"),
    ("s3_bucket", "ab", "3-63 characters"),
    ("s3_bucket", "10.0.0.1", "IP address"),
    ("model_name", "Bad-Model", "Python identifier"),
    ("model_name", "import", "keyword"),
    ("model_name", "pipeline", "reserved"),
    ("aws_region", "tokyo", "AWS region code"),
    ("aws_region", "ap_northeast_1", "AWS region code"),
    ("sagemaker_role_arn", "arn:aws:iam::123456789012:user/me", "IAM role ARN"),
    ("sagemaker_role_arn", "arn:aws:iam::000000000000:role/Other", "must belong to aws_account_id"),
    ("s3_prefix", "/leading", "no leading"),
    ("ecr_repository_prefix", "Upper/Case", "ECR repository naming rules"),
    ("repo_name", "My Repo", "lowercase letters"),
    ("description", "two\nlines", "single line"),
]


@pytest.mark.parametrize(("field", "value", "rule"), BAD_ANSWERS, ids=[f"{f}={v!r}" for f, v, _ in BAD_ANSWERS])
def test_bad_answer_is_refused_with_a_message_and_no_output(field: str, value: str, rule: str, tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    result = run(
        [tool("cookiecutter"), str(TEMPLATE_DIR), "--no-input", "--output-dir", str(output), f"{field}={value}"],
        env=clean_env({"HOME": str(tmp_path)}),
        check=False,
    )
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert rule in message
    assert f"{field}=" in message
    assert list(output.iterdir()) == []


def test_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    project = bake(tmp_path)
    (project / "notes.md").write_text("mine\n")
    result = run(
        [tool("cookiecutter"), str(TEMPLATE_DIR), "--no-input", "--output-dir", str(tmp_path)],
        env=clean_env({"HOME": str(tmp_path)}),
        check=False,
    )
    assert result.returncode != 0
    assert "already exists" in result.stdout + result.stderr
    assert (project / "notes.md").read_text() == "mine\n"


def test_recorded_answers_replay_the_same_repo(tmp_path: Path) -> None:
    first = bake(tmp_path / "first", model_name="churn", aws_region="eu-west-1", include_github_actions="no")
    replay_out = tmp_path / "replay"
    run(
        [
            tool("cookiecutter"),
            str(TEMPLATE_DIR),
            "--replay-file",
            str(first / ".cookiecutter.json"),
            "--output-dir",
            str(replay_out),
        ],
        env=clean_env({"HOME": str(tmp_path)}),
    )
    second = replay_out / first.name
    assert _generated_files(second) == _generated_files(first)
    for name in _generated_files(first) - {".cookiecutter.json"}:
        assert (second / name).read_bytes() == (first / name).read_bytes(), name


def test_scripts_are_executable(default_project: Path) -> None:
    scripts = sorted((default_project / "scripts").rglob("*.sh"))
    assert all(script.stat().st_mode & 0o111 == 0o111 for script in scripts)


def test_rendered_workflows_are_valid_github_workflows(default_project: Path) -> None:
    workflows = sorted((default_project / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
        env=clean_env(),
    )
    assert "ok -- validation done" in result.stdout
    for workflow in workflows:
        text = workflow.read_text()
        assert "${{ github." in text  # GitHub expressions survive rendering
        for line in text.splitlines():
            if "uses:" in line:
                reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
                assert "@" in reference and len(reference.split("@", 1)[1]) == 40, f"not pinned by SHA: {line}"


def test_tool_versions_come_from_one_place(default_project: Path) -> None:
    pins = dict(re.findall(r'set (\w+) = "([^"]+)"', (TEMPLATE_DIR / "templates" / "versions.jinja").read_text()))
    assert set(pins) == {"poetry", "poetry_plugin_export"}
    for dockerfile in ("scripts/docker/container/Dockerfile", "scripts/docker/pipeline/Dockerfile"):
        text = (default_project / dockerfile).read_text()
        assert f"poetry=={pins['poetry']} poetry-plugin-export=={pins['poetry_plugin_export']}" in text
    workflow = (default_project / ".github" / "workflows" / "ci.yml").read_text()
    assert f'POETRY_VERSION: "{pins["poetry"]}"' in workflow
    template_sources = [p for p in (TEMPLATE_DIR / "{{cookiecutter.repo_name}}").rglob("*") if p.is_file()]
    hard_coded = [str(p) for p in template_sources if p.suffix != ".lock" and pins["poetry"] in p.read_text()]
    assert hard_coded == []


def test_the_answer_sets_of_the_generated_project_runs_share_no_answer_with_the_defaults(
    default_project: Path,
) -> None:
    defaults = recorded_answers(default_project)["cookiecutter"]
    for name, answers in ANSWER_SETS.items():
        shared = {
            key: value for key, value in answers.items() if key != "include_github_actions" and defaults[key] == value
        }
        assert shared == {}, name
        assert set(answers) == {key for key in defaults if not key.startswith("_")}, name
    assert {answers["include_github_actions"] for answers in ANSWER_SETS.values()} == {"yes", "no"}
    partitions = {answers["sagemaker_role_arn"].split(":")[1] for answers in ANSWER_SETS.values()}
    assert partitions == {"aws", "aws-cn", "aws-us-gov"}
