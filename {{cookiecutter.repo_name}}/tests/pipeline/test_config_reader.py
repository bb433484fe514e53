"""Configs per environment: rendered values, validation errors worded for people, environment overrides."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BatchRunner

from utils.config_reader import CONFIG_DIR, REPO_ROOT, ConfigError, Environment, Mode, commit_tag, load_config


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, target)
    return target


def edit(config_dir: Path, env: str, old: str, new: str) -> None:
    path = config_dir / f"{env}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_shipped_config_is_valid(env: str) -> None:
    config = load_config(env, environ={})

    assert config.environment is Environment(env)
    assert config.model_name == "tabular_classifier"
    assert config.jobs.training.instance_count == 1


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dev_and_prod_submit_real_jobs_in_the_configured_account(env: str) -> None:
    config = load_config(env, environ={"IMAGE_TAG": "0a1b2c3"})

    assert config.mode is Mode.SAGEMAKER
    assert config.storage is not None
    assert config.storage.bucket == "tabular-classifier-123456789012"
    assert config.storage.prefix == "tabular-classifier"
    assert config.aws.region == "ap-northeast-1"
    assert config.aws.role_arn == "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
    assert config.image_uri() == (
        "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/tabular-classifier/tabular_classifier:0a1b2c3"
    )
    assert config.jobs.training.instance_type.startswith("ml.")


def test_local_runs_in_docker_with_everything_under_runs() -> None:
    config = load_config("local", environ={"IMAGE_TAG": "0a1b2c3"})

    assert config.mode is Mode.LOCAL
    assert config.is_local
    assert config.storage is None
    assert config.runs_dir == REPO_ROOT / "runs"
    assert config.database.url == f"sqlite:///{REPO_ROOT / 'runs' / 'local.sqlite3'}"
    assert config.image_uri() == (
        "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/tabular-classifier/tabular_classifier:0a1b2c3"
    )
    assert config.jobs.training.instance_type == "local_cpu"
    assert config.jobs.preprocess.instance_type == "local"


def test_environment_variables_override_database_endpoint_image_tag_and_runs_folder(tmp_path: Path) -> None:
    environ = {
        "DATABASE_URL": "postgresql+psycopg://ml:secret@db.internal:5432/ml",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "IMAGE_TAG": "git-3f2a9c1",
        "ECR_REGISTRY": "127.0.0.1:5000",
        "PIPELINE_RUNS_DIR": str(tmp_path / "elsewhere"),
    }

    config = load_config("dev", environ=environ)

    assert config.database.url == "postgresql+psycopg://ml:secret@db.internal:5432/ml"
    assert config.aws.endpoint_url == "http://127.0.0.1:5000"
    assert config.image_uri() == "127.0.0.1:5000/tabular-classifier/tabular_classifier:git-3f2a9c1"
    assert config.runs_dir == tmp_path / "elsewhere"


def test_a_relative_sqlite_url_lives_in_the_runs_folder_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    config = load_config(
        "dev", environ={"DATABASE_URL": "sqlite:///mine.db", "PIPELINE_RUNS_DIR": "/data/runs"}
    )

    assert config.database.url == "sqlite:////data/runs/mine.db"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  bucket: tabular-classifier-123456789012",
            "  bucket: Not_A_Bucket",
            "storage.bucket: String should match",
        ),
        (
            "    instance_type: ml.m5.large\n    max_runtime_seconds: 7200",
            "    max_runtime_seconds: 7200",
            "jobs.training.instance_type: Field required",
        ),
        ("      max_depth: 3", "      max_depth: [3]", "jobs.training.parameters.max_depth"),
        (
            '  account_id: "123456789012"',
            "  account_id: 12345",
            "aws.account_id: Input should be a valid string",
        ),
        (
            "  repository_prefix: tabular-classifier",
            "  repository_prefix: tabular-classifier\n  colour: blue",
            "images.colour: Extra inputs are not permitted",
        ),
        (
            "  prefix: tabular-classifier",
            "  prefix: /tabular-classifier/",
            "storage.prefix: Value error, must not",
        ),
        ("mode: sagemaker", "mode: cloud", "mode: Input should be 'local' or 'sagemaker'"),
    ],
)
def test_a_malformed_config_names_the_file_the_key_and_the_problem(
    config_dir: Path, old: str, new: str, expected: str
) -> None:
    edit(config_dir, "dev", old, new)

    with pytest.raises(ConfigError) as error:
        load_config("dev", config_dir=config_dir, environ={})

    message = str(error.value)
    assert message.startswith(f"{config_dir / 'dev.yaml'}: ")
    assert expected in message
    assert "\n" not in message


def test_sagemaker_mode_needs_a_bucket_and_a_role(config_dir: Path) -> None:
    edit(config_dir, "local", "mode: local", "mode: sagemaker")

    with pytest.raises(
        ConfigError, match=r"storage, aws.account_id, aws.role_arn required when mode is sagemaker"
    ):
        load_config("local", config_dir=config_dir, environ={})


def test_invalid_yaml_reports_the_line(config_dir: Path) -> None:
    edit(config_dir, "prod", "jobs:\n", "jobs: [\n")

    with pytest.raises(ConfigError, match=r"prod\.yaml: not valid YAML \(line \d+\)"):
        load_config("prod", config_dir=config_dir, environ={})


def test_a_config_for_another_environment_is_refused(config_dir: Path) -> None:
    edit(config_dir, "prod", "environment: prod", "environment: dev")

    with pytest.raises(ConfigError, match="environment: is 'dev' but the file is for 'prod'"):
        load_config("prod", config_dir=config_dir, environ={})


def test_an_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'staging': expected one of local, dev, prod"):
        load_config("staging", environ={})


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dev\.yaml: cannot read the file"):
        load_config("dev", config_dir=tmp_path, environ={})


def test_a_batch_with_a_bad_config_prints_one_line_and_no_traceback(
    run_batch: BatchRunner, monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> None:
    edit(config_dir, "dev", "  region: ap-northeast-1", "  region: ''")
    monkeypatch.setattr("utils.config_reader.CONFIG_DIR", config_dir)

    result = run_batch("collection", "--env", "dev")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"error: {config_dir / 'dev.yaml'}: aws.region: String should have at least 1 character"]


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.git
def test_the_image_tag_defaults_to_the_commit_as_the_build_script_tags_it(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet")
    (tmp_path / "README.md").write_text("x\n")
    git(tmp_path, "add", "README.md")
    git(tmp_path, "commit", "--quiet", "-m", "first")
    sha = git(tmp_path, "rev-parse", "--short", "HEAD")

    clean = commit_tag(tmp_path)
    (tmp_path / "README.md").write_text("changed\n")
    dirty = commit_tag(tmp_path)

    assert (clean, dirty) == (sha, f"{sha}-dirty")
    assert commit_tag(tmp_path / "not-a-repo") is None


def test_without_any_image_tag_a_batch_says_how_to_set_one(
    run_batch: BatchRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMAGE_TAG")
    monkeypatch.setattr("utils.config_reader.commit_tag", lambda: None)

    result = run_batch("training", "--env", "dev")

    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: no image tag: set IMAGE_TAG (or images.tag), or run from a git checkout with a commit"
    )
