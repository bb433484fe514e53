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
from jinja2 import FileSystemLoader

from tests.support.bake import TEMPLATE_DIR, clean_env, run, template_repository, tool

NAMING_MODULE = Path("{{cookiecutter.repo_name}}", "code", "pipeline", "utils", "naming.py")


def default_answers(**overrides: str) -> dict[str, Any]:
    """The context cookiecutter would give the hooks with --no-input and these overrides."""
    context = generate_context(str(TEMPLATE_DIR / "cookiecutter.json"), extra_context=overrides)
    return {**prompt_for_config(context, no_input=True), "_repo_dir": str(TEMPLATE_DIR)}


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
        ("check_repo_name", "", "empty"),
        ("check_repo_name", "My Repo", "lowercase"),
        ("check_repo_name", "repo/name", "lowercase"),
        ("check_repo_name", "repo\n", "lowercase"),
        ("check_text", "", "empty"),
        ("check_text", "two\nlines", "single line"),
        ("check_text", "tab\there", "single line"),
        ("check_python_version", "3.10", "3.11, 3.12, 3.13"),
        ("check_yes_no", "y", "'yes' or 'no'"),
    ],
)
def test_each_answer_rule_rejects_its_bad_value(pre_gen: ModuleType, check: str, value: str, fragment: str) -> None:
    problem = getattr(pre_gen, check)(value)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    ("check", "value"),
    [
        ("check_repo_name", "my-repo.v2"),
        ("check_text", "Ünïcödé 需要予測 'quoted' \\"),
        ("check_yes_no", "no"),
    ],
)
def test_each_answer_rule_accepts_valid_values(pre_gen: ModuleType, check: str, value: str) -> None:
    assert getattr(pre_gen, check)(value) is None


def test_the_shared_rules_are_the_generated_repos_naming_module(pre_gen: ModuleType) -> None:
    """One copy of the rules: the hook checks with the file the generated config reader and scripts use."""
    assert Path(pre_gen.naming.__file__) == TEMPLATE_DIR / NAMING_MODULE
    # The hook reads the file as it is in the template, so it must read the same once rendered.
    source = (TEMPLATE_DIR / NAMING_MODULE).read_text(encoding="utf-8")
    assert "{{" not in source and "{%" not in source and "{#" not in source
    assert pre_gen.SIMPLE_CHECKS["model_name"] is pre_gen.naming.check_model_name
    assert pre_gen.SIMPLE_CHECKS["aws_region"] is pre_gen.naming.check_region


@pytest.mark.parametrize(
    ("arn", "region", "fragment"),
    [
        ("arn:aws:iam::123456789012:user/someone", "ap-northeast-1", "IAM role ARN"),
        ("arn:aws:iam::123456789012:role/", "ap-northeast-1", "IAM role ARN"),
        ("arn:aws:iam::123456789012:role/" + "r" * 65, "ap-northeast-1", "IAM role ARN"),
        ("arn:aws:iam::210987654321:role/SageMaker", "ap-northeast-1", "must belong to aws_account_id"),
        ("arn:aws:iam::123456789012:role/SageMaker", "cn-north-1", "arn:aws-cn:"),
        ("arn:aws-cn:iam::123456789012:role/SageMaker", "eu-west-1", "arn:aws:"),
        ("arn:aws:iam::123456789012:role/SageMaker", "eu-isoe-west-1", "arn:aws-iso-e:"),
        ("arn:aws-iso:iam::123456789012:role/SageMaker", "us-isof-south-1", "arn:aws-iso-f:"),
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


REAL_REGIONS = [
    "ap-northeast-1",
    "ap-southeast-7",
    "eu-west-1",
    "eu-central-2",
    "ca-west-1",
    "il-central-1",
    "mx-central-1",
    "me-central-1",
    "af-south-1",
    "sa-east-1",
    "us-east-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-south-1",
    "eusc-de-east-1",
]


@pytest.mark.parametrize("region", REAL_REGIONS)
def test_a_real_region_passes_with_its_default_role(region: str, tmp_path: Path) -> None:
    """The default role ARN (cookiecutter.json) names the partition that the shared rules give the region."""
    module = load_hook("pre_gen_project", default_answers(aws_region=region), tmp_path)
    assert module.validate(module.ANSWERS) == []


@pytest.mark.parametrize("region", REAL_REGIONS)
def test_the_configs_registry_is_in_the_regions_partition(region: str, tmp_path: Path) -> None:
    """templates/aws.jinja (which writes the registry into configs/*.yaml) agrees with the shared rules."""
    macro = StrictEnvironment(loader=FileSystemLoader(TEMPLATE_DIR / "templates")).from_string(
        '{% from "aws.jinja" import ecr_registry %}{{ ecr_registry(account, region) }}'
    )
    module = load_hook("pre_gen_project", default_answers(aws_region=region), tmp_path)
    rendered = macro.render(account="210987654321", region=region)
    assert rendered == module.naming.ecr_registry("210987654321", region)


MISTYPED_REGIONS = [
    ("us-east-1a", "us-east-1a is an availability zone; its region is us-east-1"),
    ("eu-wset-1", "'wset' is not a direction"),
    ("ap-northest-1", "'northest' is not a direction"),
    ("mars-north-9", "'mars' is not a region area"),
]


@pytest.mark.parametrize(("region", "reason"), MISTYPED_REGIONS, ids=[region for region, _ in MISTYPED_REGIONS])
def test_a_mistyped_region_stops_cookiecutter_naming_the_field_and_the_rule(
    region: str, reason: str, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    result = run(
        [tool("cookiecutter"), str(TEMPLATE_DIR), "--no-input", "--output-dir", str(output), f"aws_region={region}"],
        env=clean_env({"HOME": str(tmp_path)}),
        check=False,
    )
    assert result.returncode != 0
    assert f'aws_region="{region}" must be an AWS region code <area>-<direction>-<number>' in result.stderr
    assert reason in result.stderr
    assert list(output.iterdir()) == []


def _run_as_cookiecutter_does(hook: Path, launched_from: Path, project: Path) -> subprocess.CompletedProcess[str]:
    """Run the hook the way cookiecutter's generate_files (and so cruft) does: from a process working in
    launched_from, the hook itself starting in the new project's folder."""
    project.mkdir(exist_ok=True)
    launcher = "import subprocess, sys; sys.exit(subprocess.call([sys.executable, sys.argv[1]], cwd=sys.argv[2]))"
    return subprocess.run(
        [sys.executable, "-c", launcher, str(hook), str(project)],
        cwd=launched_from,
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_repo_dir_the_hook_finds_the_rules_where_it_was_launched(tmp_path: Path) -> None:
    """cruft renders with a context of its own, without _repo_dir, from inside its checkout of the template."""
    answers = default_answers(aws_region="eu-wset-1")
    del answers["_repo_dir"]
    hook = render_hook("pre_gen_project", answers, tmp_path)
    result = _run_as_cookiecutter_does(hook, TEMPLATE_DIR, tmp_path / "project")
    assert result.returncode == 1
    assert 'aws_region="eu-wset-1" must be an AWS region code' in result.stderr


def test_a_hook_that_cannot_find_the_rules_stops_and_says_where_it_looked(tmp_path: Path) -> None:
    answers = default_answers()
    del answers["_repo_dir"]
    hook = render_hook("pre_gen_project", answers, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _run_as_cookiecutter_does(hook, elsewhere, tmp_path / "project")
    assert result.returncode == 1
    assert str(NAMING_MODULE) in result.stderr
    assert str(elsewhere) in result.stderr


def test_a_cloned_template_renders_and_still_refuses_bad_answers(tmp_path: Path) -> None:
    """A git URL is cloned into ~/.cookiecutters, as gh:ORG/NAME is; the hook reads the rules from that clone."""
    template = template_repository(tmp_path / "template")
    env = clean_env({"HOME": str(tmp_path)})
    url = f"git+file://{template}"
    refused = run(
        [tool("cookiecutter"), url, "--no-input", "-o", str(tmp_path / "bad"), "aws_region=ap-northest-1"],
        env=env,
        check=False,
    )
    assert refused.returncode != 0
    assert 'aws_region="ap-northest-1" must be an AWS region code' in refused.stderr
    run([tool("cookiecutter"), url, "--no-input", "-o", str(tmp_path / "good"), "aws_region=eu-isoe-west-1"], env=env)
    assert (tmp_path / "good" / "tabular-classifier" / "code" / "pipeline" / "utils" / "naming.py").is_file()


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
    assert "The template was not rendered" in result.stderr


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
