"""The hooks' logic, tested on the hook files rendered exactly as cookiecutter renders them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

from tests.support.bake import TEMPLATE_DIR


def default_answers(**overrides: str) -> dict[str, Any]:
    """The answers cookiecutter would settle on with --no-input and these overrides."""
    context = generate_context(str(TEMPLATE_DIR / "cookiecutter.json"), extra_context=overrides)
    return dict(prompt_for_config(context, no_input=True))


def render_hook(name: str, answers: dict[str, Any], tmp_path: Path) -> Path:
    source = (TEMPLATE_DIR / "hooks" / f"{name}.py").read_text(encoding="utf-8")
    env = StrictEnvironment(context={"cookiecutter": answers})
    rendered = tmp_path / f"{name}.py"
    rendered.write_text(env.from_string(source).render(cookiecutter=answers), encoding="utf-8")
    return rendered


def load_hook(name: str, answers: dict[str, Any], tmp_path: Path) -> ModuleType:
    path = render_hook(name, answers, tmp_path)
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pre_gen(tmp_path: Path) -> ModuleType:
    return load_hook("pre_gen_project", default_answers(), tmp_path)


def test_default_answers_pass_validation(pre_gen: ModuleType) -> None:
    assert pre_gen.validate(pre_gen.ANSWERS) == []


HOSTILE = [
    'O\'Brien "quoted" \\ trailing backslash \\',
    "'''; import os; os.system('false') #",
    '"""); raise SystemExit(3) #',
    "$(touch pwned) `touch pwned` ; rm -rf ~",
    "{{ 7 * 7 }} {% raw %}",
    "Ünïcödé 需要予測 🚀",
]


@pytest.mark.parametrize("text", HOSTILE, ids=["quotes", "triple-single", "triple-double", "shell", "jinja", "unicode"])
def test_answers_reach_the_hook_as_data(text: str, tmp_path: Path) -> None:
    answers = default_answers()
    answers["description"] = text
    answers["author_name"] = text
    module = load_hook("pre_gen_project", answers, tmp_path)
    assert module.ANSWERS["description"] == text
    assert module.ANSWERS["author_name"] == text
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("check", "value", "fragment"),
    [
        ("check_bucket", "ab", "3-63 characters"),
        ("check_bucket", "a" * 64, "3-63 characters"),
        ("check_bucket", "My-Bucket", "lowercase"),
        ("check_bucket", "my..bucket", "adjacent periods"),
        ("check_bucket", "192.168.5.4", "IP address"),
        ("check_bucket", "xn--bucket", "reserved prefix"),
        ("check_bucket", "sthree-bucket", "reserved prefix"),
        ("check_bucket", "bucket-s3alias", "reserved suffix"),
        ("check_bucket", "bucket--ol-s3", "reserved suffix"),
        ("check_bucket", "-bucket", "start and end"),
        ("check_region", "tokyo", "region code"),
        ("check_region", "ap-northeast", "region code"),
        ("check_region", "AP-NORTHEAST-1", "region code"),
        ("check_account_id", "12345678901", "12 digits"),
        ("check_account_id", "12345678901a", "12 digits"),
        ("check_model_name", "Model", "lowercase"),
        ("check_model_name", "my-model", "underscores"),
        ("check_model_name", "1model", "starting with a letter"),
        ("check_model_name", "my__model", "single underscores"),
        ("check_model_name", "model_", "underscores"),
        ("check_model_name", "class", "keyword"),
        ("check_model_name", "pipeline", "reserved"),
        ("check_repo_name", "", "empty"),
        ("check_repo_name", "My Repo", "lowercase"),
        ("check_repo_name", "repo/name", "lowercase"),
        ("check_prefix", "/data", "leading"),
        ("check_prefix", "data/", "trailing"),
        ("check_prefix", "a//b", "double"),
        ("check_prefix", "a/../b", "'..'"),
        ("check_prefix", "a b", "letters"),
        ("check_ecr_prefix", "Team/Models", "lowercase"),
        ("check_ecr_prefix", "team//models", "segments"),
        ("check_ecr_prefix", "team-/models", "single"),
        ("check_text", "", "empty"),
        ("check_text", "two\nlines", "single line"),
        ("check_text", "tab\there", "single line"),
        ("check_python_version", "3.10", "3.11, 3.12, 3.13"),
        ("check_yes_no", "y", "'yes' or 'no'"),
    ],
)
def test_each_rule_rejects_its_bad_value(pre_gen: ModuleType, check: str, value: str, fragment: str) -> None:
    problem = getattr(pre_gen, check)(value)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    ("check", "value"),
    [
        ("check_bucket", "abc"),
        ("check_bucket", "my.bucket-01"),
        ("check_bucket", "a" * 63),
        ("check_region", "ap-northeast-1"),
        ("check_region", "us-gov-west-1"),
        ("check_region", "cn-northwest-1"),
        ("check_region", "us-isob-east-1"),
        ("check_region", "eu-central-2"),
        ("check_account_id", "000000000000"),
        ("check_model_name", "churn"),
        ("check_model_name", "churn_v2"),
        ("check_model_name", "m"),
        ("check_repo_name", "my-repo.v2"),
        ("check_prefix", "team-a/projects/churn"),
        ("check_prefix", "ml"),
        ("check_ecr_prefix", "team-a/ml.models"),
        ("check_text", "Ünïcödé 需要予測 'quoted' \\"),
        ("check_yes_no", "no"),
    ],
)
def test_each_rule_accepts_valid_values(pre_gen: ModuleType, check: str, value: str) -> None:
    assert getattr(pre_gen, check)(value) is None


@pytest.mark.parametrize(
    ("arn", "region", "fragment"),
    [
        ("arn:aws:iam::123456789012:user/someone", "ap-northeast-1", "IAM role ARN"),
        ("arn:aws:iam::123456789012:role/", "ap-northeast-1", "IAM role ARN"),
        ("arn:aws:iam::123456789012:role/" + "r" * 65, "ap-northeast-1", "IAM role ARN"),
        ("arn:aws:iam::210987654321:role/SageMaker", "ap-northeast-1", "must belong to aws_account_id"),
        ("arn:aws:iam::123456789012:role/SageMaker", "cn-north-1", "arn:aws-cn:"),
        ("arn:aws-cn:iam::123456789012:role/SageMaker", "eu-west-1", "arn:aws:"),
    ],
)
def test_role_arn_rules(pre_gen: ModuleType, arn: str, region: str, fragment: str) -> None:
    answers = {"aws_account_id": "123456789012", "aws_region": region}
    problem = pre_gen.check_role_arn(arn, answers)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/SageMakerExecutionRole",
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-2026",
        "arn:aws:iam::123456789012:role/a+b=c,d.e@f_g-h",
    ],
)
def test_role_arn_accepts_paths_and_all_name_characters(pre_gen: ModuleType, arn: str) -> None:
    assert pre_gen.check_role_arn(arn, {"aws_account_id": "123456789012", "aws_region": "ap-northeast-1"}) is None


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("ap-northeast-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("us-gov-east-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_partition_of_region(pre_gen: ModuleType, region: str, partition: str) -> None:
    assert pre_gen.partition_of(region) == partition


def test_validate_reports_every_bad_field_with_its_value(tmp_path: Path) -> None:
    answers = default_answers()
    answers.update(aws_account_id="12", s3_bucket="UPPER", model_name="Bad-Name")
    module = load_hook("pre_gen_project", answers, tmp_path)
    problems = module.validate(module.ANSWERS)
    assert [problem.split("=", 1)[0] for problem in problems] == ["model_name", "aws_account_id", "s3_bucket"]
    assert 'model_name="Bad-Name"' in problems[0]


def test_pre_gen_hook_exits_non_zero_with_the_message(tmp_path: Path) -> None:
    answers = default_answers()
    answers["aws_region"] = "mars-1"
    hook = render_hook("pre_gen_project", answers, tmp_path)
    result = subprocess.run([sys.executable, str(hook)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert 'aws_region="mars-1" must be an AWS region code' in result.stderr


def _post_gen_project(tmp_path: Path, **overrides: str) -> tuple[Path, Path]:
    answers = default_answers(**overrides)
    answers["_template"] = "gh:example/cookiecutter-sagemaker-monorepo"
    answers["_output_dir"] = str(tmp_path)
    hook = render_hook("post_gen_project", answers, tmp_path)
    project = tmp_path / "project"
    (project / ".github" / "workflows").mkdir(parents=True)
    (project / ".github" / "workflows" / "ci.yml").write_text("name: ci\n")
    (project / "scripts" / "docker").mkdir(parents=True)
    (project / "scripts" / "docker" / "build.sh").write_text("#!/usr/bin/env bash\n")
    (project / "notes.txt").write_text("a file the team made\n")
    return project, hook


def _snapshot(project: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(project)): (path.stat().st_mode, path.read_bytes())
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }


def test_post_gen_hook_prunes_sets_run_bits_and_records_answers(tmp_path: Path) -> None:
    project, hook = _post_gen_project(tmp_path, include_github_actions="no")
    result = subprocess.run([sys.executable, str(hook)], cwd=project, capture_output=True, text=True, check=True)
    assert not (project / ".github").exists()
    assert (project / "scripts" / "docker" / "build.sh").stat().st_mode & 0o111 == 0o111
    recorded = json.loads((project / ".cookiecutter.json").read_text())
    assert recorded["cookiecutter"]["include_github_actions"] == "no"
    assert recorded["cookiecutter"]["_template"] == "gh:example/cookiecutter-sagemaker-monorepo"
    assert "_output_dir" not in recorded["cookiecutter"]
    assert (project / "notes.txt").read_text() == "a file the team made\n"
    assert "make setup" in result.stdout


def test_post_gen_hook_keeps_the_workflow_when_asked(tmp_path: Path) -> None:
    project, hook = _post_gen_project(tmp_path, include_github_actions="yes")
    subprocess.run([sys.executable, str(hook)], cwd=project, capture_output=True, check=True)
    assert (project / ".github" / "workflows" / "ci.yml").is_file()


def test_post_gen_hook_is_idempotent(tmp_path: Path) -> None:
    project, hook = _post_gen_project(tmp_path, include_github_actions="no")
    subprocess.run([sys.executable, str(hook)], cwd=project, capture_output=True, check=True)
    first = _snapshot(project)
    subprocess.run([sys.executable, str(hook)], cwd=project, capture_output=True, check=True)
    assert _snapshot(project) == first
