"""Configs per environment: rendered values, validation errors worded for people, environment overrides.

Expected values come from the rendered files themselves, so these tests hold for any answers the repository
was created with and for the edits a team makes to its configs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.batches import BatchRunner

from utils.config_reader import CONFIG_DIR, REPO_ROOT, ConfigError, Environment, Mode, load_config
from utils.image_inputs import content_tag

ENVIRONMENTS = ("local", "dev", "prod")


def rendered(env: str, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((config_dir / f"{env}.yaml").read_text(encoding="utf-8"))
    return data


def write(config_dir: Path, env: str, data: dict[str, Any]) -> None:
    (config_dir / f"{env}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


MODEL = next(iter(rendered("dev")["models"]))


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, target)
    return target


def expected_image(raw: dict[str, Any], model: str, tag: str) -> str:
    images = raw["images"]
    return f"{images['registry']}/{images['repository_prefix']}/{model}:{tag}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_shipped_config_is_valid_and_has_settings_for_every_model(env: str) -> None:
    config = load_config(env, environ={}, model=MODEL)
    models_with_code = sorted(
        p.parent.name for p in (REPO_ROOT / "code" / "container").glob("*/pyproject.toml")
    )

    assert config.environment is Environment(env)
    # Inside the pipeline image there is no code/container/; in the repository every model has settings.
    assert set(models_with_code) <= set(config.models)
    assert config.models
    assert config.jobs.training.instance_count >= 1


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dev_and_prod_submit_real_jobs_in_the_configured_account(env: str) -> None:
    raw = rendered(env)
    config = load_config(env, environ={"IMAGE_TAG": "0a1b2c3"}, model=MODEL)

    assert config.mode is Mode.SAGEMAKER
    assert config.storage is not None
    assert config.storage.bucket == raw["storage"]["bucket"]
    assert config.storage.prefix == raw["storage"]["prefix"]
    assert config.aws.region == raw["aws"]["region"]
    assert config.aws.account_id == raw["aws"]["account_id"]
    assert config.aws.role_arn == raw["aws"]["role_arn"]
    assert config.aws.role_arn is not None
    assert config.aws.role_arn.split(":")[4] == config.aws.account_id
    assert config.image_uri() == expected_image(raw, MODEL, "0a1b2c3")
    assert config.images.registry.startswith(f"{config.aws.account_id}.dkr.ecr.{config.aws.region}.")
    assert config.jobs.training.instance_type.startswith("ml.")


def test_local_runs_in_docker_with_everything_under_runs() -> None:
    config = load_config("local", environ={"IMAGE_TAG": "0a1b2c3"}, model=MODEL)

    assert config.mode is Mode.LOCAL
    assert config.is_local
    assert config.storage is None
    assert config.runs_dir == REPO_ROOT / "runs"
    assert config.database.url == f"sqlite:///{REPO_ROOT / 'runs' / 'local.sqlite3'}"
    assert config.image_uri() == expected_image(rendered("local"), MODEL, "0a1b2c3")
    assert config.jobs.training.instance_type == "local_cpu"
    assert config.jobs.preprocess.instance_type == "local"


def test_environment_variables_override_database_endpoint_image_tag_and_runs_folder(tmp_path: Path) -> None:
    environ = {
        "DATABASE_URL": "postgresql+psycopg://ml:secret@db.internal:5432/ml",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "IMAGE_TAG": "git-3f2a9c1",
        "ECR_REGISTRY": "127.0.0.1:5000",
        "PIPELINE_RUNS_DIR": str(tmp_path / "elsewhere"),
        "PIPELINE_MODEL": MODEL,
    }

    config = load_config("dev", environ=environ)

    assert config.database.url == "postgresql+psycopg://ml:secret@db.internal:5432/ml"
    assert config.aws.endpoint_url == "http://127.0.0.1:5000"
    prefix = rendered("dev")["images"]["repository_prefix"]
    assert config.image_uri() == f"127.0.0.1:5000/{prefix}/{MODEL}:git-3f2a9c1"
    assert config.runs_dir == tmp_path / "elsewhere"


def test_a_relative_sqlite_url_lives_in_the_runs_folder_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    config = load_config(
        "dev", environ={"DATABASE_URL": "sqlite:///mine.db", "PIPELINE_RUNS_DIR": "/data/runs"}, model=MODEL
    )

    assert config.database.url == "sqlite:////data/runs/mine.db"


def add_second_model(config_dir: Path, env: str, name: str = "second_model") -> None:
    raw = rendered(env, config_dir)
    raw["models"][name] = raw["models"][MODEL]
    write(config_dir, env, raw)


def test_each_model_has_its_own_settings(config_dir: Path) -> None:
    raw = rendered("dev", config_dir)
    raw["models"]["second_model"] = yaml.safe_load(yaml.safe_dump(raw["models"][MODEL]))
    raw["models"]["second_model"]["training"]["instance_type"] = "ml.g5.xlarge"
    raw["models"]["second_model"]["training"]["parameters"]["max_depth"] = 9
    write(config_dir, "dev", raw)

    first = load_config("dev", config_dir=config_dir, environ={}, model=MODEL)
    second = load_config("dev", config_dir=config_dir, environ={"PIPELINE_MODEL": "second_model"})

    assert second.model_name == "second_model"
    assert second.jobs.training.instance_type == "ml.g5.xlarge"
    assert second.jobs.training.parameters["max_depth"] == 9
    assert first.jobs.training.instance_type == raw["models"][MODEL]["training"]["instance_type"]


def test_with_several_models_a_batch_must_name_one(
    config_dir: Path, run_batch: BatchRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_second_model(config_dir, "dev")
    monkeypatch.setattr("utils.config_reader.CONFIG_DIR", config_dir)
    monkeypatch.delenv("PIPELINE_MODEL", raising=False)

    result = run_batch("training", "--env", "dev")

    assert result.exit_code == 2
    models = ", ".join(sorted({*rendered("dev")["models"], "second_model"}))
    assert result.output.strip() == (
        f"error: settings for several models ({models}): choose one with --model NAME "
        "(or PIPELINE_MODEL=NAME)"
    )


def test_an_unknown_model_lists_the_configured_ones(config_dir: Path) -> None:
    configured = ", ".join(sorted(rendered("dev")["models"]))
    with pytest.raises(ConfigError) as error:
        load_config("dev", config_dir=config_dir, environ={}, model="nope")

    assert str(error.value).endswith(f"models: no settings for model 'nope' (models: {configured})")


def test_every_batch_offers_the_model_option(run_batch: BatchRunner) -> None:
    for batch in ("collection", "preprocess", "training", "evaluation", "inference"):
        result = run_batch(batch, "--help")
        assert result.exit_code == 0
        assert "--model" in result.output, batch


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        *parents, key = path.replace("{model}", MODEL).split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[key] = value

    return edit


def _delete(path: str) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        *parents, key = path.replace("{model}", MODEL).split(".")
        node = raw
        for part in parents:
            node = node[part]
        del node[key]

    return edit


def _rename(path: str, new_key: str) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        *parents, key = path.replace("{model}", MODEL).split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[new_key] = node.pop(key)

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_set("storage.bucket", "Not_A_Bucket"), "storage.bucket: "),
        (
            _delete("models.{model}.training.instance_type"),
            "models.{model}.training.instance_type: Field required",
        ),
        (
            _set("models.{model}.training.parameters.max_depth", [3]),
            "models.{model}.training.parameters.max_depth",
        ),
        (_set("aws.account_id", 12345), "aws.account_id: Input should be a valid string"),
        (_set("images.colour", "blue"), "images.colour: unknown key 'colour'"),
        (_set("storage.prefix", "/leading/slash/"), "storage.prefix: "),
        (_set("mode", "cloud"), "mode: Input should be 'local' or 'sagemaker'"),
        (_set("models", {}), "models: Dictionary should have at least 1 item"),
        (_set("models.Bad-Name", {}), "models: 'Bad-Name' is not a valid name: "),
        (_set("pipeline.cache_expire_after", "30 days"), "pipeline.cache_expire_after: String should match"),
        (
            _set("models.{model}.quality_gate.direction", "up"),
            "models.{model}.quality_gate.direction: Input should be 'maximize' or 'minimize'",
        ),
        (_delete("models.{model}.quality_gate"), "models.{model}.quality_gate: Field required"),
    ],
    ids=[
        "bucket",
        "missing-key",
        "bad-parameter",
        "account-type",
        "unknown-key",
        "prefix",
        "mode",
        "no-model",
        "model-name",
        "cache-duration",
        "gate-direction",
        "no-gate",
    ],
)
def test_a_malformed_config_names_the_file_the_key_and_the_problem(
    config_dir: Path, edit: Edit, expected: str
) -> None:
    raw = rendered("dev", config_dir)
    edit(raw)
    write(config_dir, "dev", raw)

    with pytest.raises(ConfigError) as error:
        load_config("dev", config_dir=config_dir, environ={})

    message = str(error.value)
    assert message.startswith(f"{config_dir / 'dev.yaml'}: ")
    assert expected.replace("{model}", MODEL) in message
    assert "\n" not in message


def test_a_misspelt_key_is_named_with_the_key_it_stands_for(config_dir: Path) -> None:
    raw = rendered("dev", config_dir)
    _rename("models.{model}.training.instance_type", "instance_typ")(raw)
    write(config_dir, "dev", raw)

    with pytest.raises(ConfigError) as error:
        load_config("dev", config_dir=config_dir, environ={})

    assert str(error.value) == (
        f"{config_dir / 'dev.yaml'}: models.{MODEL}.training.instance_typ: unknown key 'instance_typ': "
        "did you mean 'instance_type'?"
    )


def test_sagemaker_mode_needs_a_bucket_and_a_role(config_dir: Path) -> None:
    raw = rendered("local", config_dir)
    raw["mode"] = "sagemaker"
    write(config_dir, "local", raw)

    with pytest.raises(
        ConfigError, match=r"storage, aws.account_id, aws.role_arn required when mode is sagemaker"
    ):
        load_config("local", config_dir=config_dir, environ={})


def test_invalid_yaml_reports_the_line(config_dir: Path) -> None:
    path = config_dir / "prod.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("models:\n", "models: [\n", 1), encoding="utf-8")

    with pytest.raises(ConfigError, match=r"prod\.yaml: not valid YAML \(line \d+\)"):
        load_config("prod", config_dir=config_dir, environ={})


def test_a_config_for_another_environment_is_refused(config_dir: Path) -> None:
    raw = rendered("prod", config_dir)
    raw["environment"] = "dev"
    write(config_dir, "prod", raw)

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
    raw = rendered("dev", config_dir)
    raw["aws"]["region"] = ""
    write(config_dir, "dev", raw)
    monkeypatch.setattr("utils.config_reader.CONFIG_DIR", config_dir)

    result = run_batch("collection", "--env", "dev")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {config_dir / 'dev.yaml'}: aws.region: ")


def test_without_any_image_tag_or_build_inputs_a_batch_says_how_to_set_one(
    run_batch: BatchRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As in the pipeline image, which has no Dockerfiles to derive a tag from."""
    monkeypatch.delenv("IMAGE_TAG")
    monkeypatch.setenv("BASE_IMAGE", "python:3-slim")
    monkeypatch.setattr("utils.config_reader.content_tag", partial(content_tag, repo_root=tmp_path))

    result = run_batch("training", "--env", "dev")

    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: no image tag: set IMAGE_TAG (or images.tag), as cannot read "
        f"{tmp_path / 'scripts' / 'docker' / 'container' / 'Dockerfile'}, a build input of the images "
        "(No such file or directory)"
    )
