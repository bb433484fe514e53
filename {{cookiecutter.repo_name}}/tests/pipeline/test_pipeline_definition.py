"""The SageMaker pipeline definition (`batches.pipeline definition`): a reviewed snapshot per environment and
model, what must hold whatever the settings, and that it is built offline.

The snapshots keep the names that come from the repo's settings as `${placeholders}` (image, S3 root, role,
pipeline and job names), so they read the same in every repo made from the template and change only when the
pipeline does. After an intended change: `UPDATE_SNAPSHOTS=1 make test`, then review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from support.aws import all_s3_uris, root_uri, tracking_server_arn
from support.configs import edited_configs
from typer.testing import CliRunner

from batches.pipeline.batch import app
from utils.config_reader import PIPELINE_DIR, Config, load_config
from utils.db.enum import JobType
from utils.job_specs import EVALUATION_METRICS_KEY, TRAINING_METRICS
from utils.layout import PIPELINE_JOB_PREFIX_MAX, pipeline_job_prefix
from utils.tuning import search_space
from utils.workflow import pipeline_name

SNAPSHOTS = Path(__file__).parent / "snapshots"
ENVIRONMENTS = ("dev", "prod")
MODELS = list(load_config("local", environ={}).models)
CASES = [(env, model) for env in ENVIRONMENTS for model in MODELS]


@cache  # one build per environment and model; the tests only read it
def definition_of(env: str, model: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["--env", env, "--model", model, "definition"])
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def placeholders(config: Config) -> dict[str, str]:
    """The repo's own names in a definition, longest first so none replaces part of another."""
    names = {
        "image_uri": config.image_uri(),
        "s3_root": root_uri(config),
        "role_arn": str(config.aws.role_arn),
        "pipeline_name": pipeline_name(config),
        **{f"{job_type.value}_job": pipeline_job_prefix(config.model_name, job_type) for job_type in JobType},
    }
    return dict(sorted(names.items(), key=lambda item: -len(item[1])))


def with_placeholders(text: str, config: Config) -> str:
    for name, value in placeholders(config).items():
        text = text.replace(value, "${" + name + "}")
    return text


def steps_of(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step, those inside the condition's branches too."""
    found: list[dict[str, Any]] = []
    for step in definition["Steps"]:
        found.append(step)
        for branch in ("IfSteps", "ElseSteps"):
            found += step.get("Arguments", {}).get(branch, [])
    return found


@pytest.mark.parametrize(("env", "model"), CASES)
def test_the_definition_matches_its_reviewed_snapshot(env: str, model: str) -> None:
    config = load_config(env, model=model)
    text = with_placeholders(json.dumps(definition_of(env, model), indent=2, sort_keys=True) + "\n", config)
    snapshot = SNAPSHOTS / f"pipeline-{env}-{model}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(text, encoding="utf-8")

    assert snapshot.exists(), f"no snapshot {snapshot.name}: write it with UPDATE_SNAPSHOTS=1 and review it"
    # Compared line by line, so a failure shows the changed lines of the definition.
    assert text.splitlines() == snapshot.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(("env", "model"), CASES)
def test_the_steps_run_the_lifecycle_and_gate_registration_on_the_threshold(env: str, model: str) -> None:
    definition = definition_of(env, model)
    config = load_config(env, model=model)

    steps = {step["Name"]: step for step in steps_of(definition)}
    assert {name: step["Type"] for name, step in steps.items()} == {
        "Preprocess": "Processing",
        "Training": "Training",
        "Evaluation": "Processing",
        "QualityGate": "Condition",
        "RegisterModel": "RegisterModel",
        "Inference": "Processing",
        "QualityGateFailed": "Fail",
    }
    parameters = {parameter["Name"]: parameter for parameter in definition["Parameters"]}
    assert parameters["QualityThreshold"] == {
        "Name": "QualityThreshold",
        "Type": "Float",
        "DefaultValue": config.jobs.quality_gate.threshold,
    }
    assert "DefaultValue" not in parameters["InputData"]
    for job_type in (JobType.PREPROCESS, JobType.TRAINING, JobType.EVALUATION, JobType.INFERENCE):
        settings = getattr(config.jobs, job_type.value)
        instance_type = parameters[f"{job_type.value.capitalize()}InstanceType"]
        assert instance_type["DefaultValue"] == settings.instance_type

    gate = steps["QualityGate"]["Arguments"]
    [condition] = gate["Conditions"]
    assert condition["RightValue"] == {"Get": "Parameters.QualityThreshold"}
    expected_type = {"maximize": "GreaterThanOrEqualTo", "minimize": "LessThanOrEqualTo"}
    assert condition["Type"] == expected_type[config.jobs.quality_gate.direction]
    assert [step["Name"] for step in gate["IfSteps"]] == ["RegisterModel", "Inference"]
    assert [step["Name"] for step in gate["ElseSteps"]] == ["QualityGateFailed"]
    assert steps["Inference"]["DependsOn"] == ["RegisterModel"]


@pytest.mark.parametrize(("env", "model"), CASES)
def test_the_gate_reads_the_configured_metric_of_the_evaluation_report(env: str, model: str) -> None:
    definition = definition_of(env, model)
    metric = load_config(env, model=model).jobs.quality_gate.metric
    steps = {step["Name"]: step for step in steps_of(definition)}

    [report] = steps["Evaluation"]["PropertyFiles"]
    outputs = steps["Evaluation"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert report["OutputName"] in [output["OutputName"] for output in outputs]
    assert report["FilePath"] == "evaluation.json"
    [condition] = steps["QualityGate"]["Arguments"]["Conditions"]
    read = condition["LeftValue"]["Std:JsonGet"]
    assert read["PropertyFile"] == {"Get": f"Steps.Evaluation.PropertyFiles.{report['PropertyFileName']}"}
    assert read["Path"] == f"{EVALUATION_METRICS_KEY}.{metric}.value"
    # The evaluation writes the metrics the training job logs (code/container/<model>/utils/job.py).
    assert f"validation_{metric}" in TRAINING_METRICS
    # The failure names the metric, its value and the threshold.
    [fail] = [step for step in steps_of(definition) if step["Type"] == "Fail"]
    message = fail["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message[0] == metric and read in [value.get("Std:JsonGet") for value in message[1:2]]
    assert message[-1] == {"Get": "Parameters.QualityThreshold"}


@pytest.mark.parametrize(("env", "model"), CASES)
def test_locations_are_under_the_model_prefix_and_images_the_configured_one(env: str, model: str) -> None:
    definition = definition_of(env, model)
    config = load_config(env, model=model)

    uris = all_s3_uris(definition)
    assert uris
    assert [uri for uri in uris if not uri.startswith(f"{root_uri(config)}/")] == []
    images = {value for key, value in walk(definition) if key in ("ImageUri", "Image", "TrainingImage")}
    assert images == {config.image_uri()}
    names = [value for key, value in walk(definition) if key in ("ProcessingJobName", "TrainingJobName")]
    assert names
    assert [name for name in names if len(name) > PIPELINE_JOB_PREFIX_MAX] == []


def walk(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in [(key, item), *walk(item)]]
    if isinstance(value, list):
        return [pair for item in value for pair in walk(item)]
    return []


def test_the_definition_is_built_with_no_credentials_and_no_reachable_endpoint() -> None:
    """Nothing listens on the endpoint or proxy below: any request the command made would fail it."""
    closed = "http://127.0.0.1:9"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("PIPELINE_MODEL", "IMAGE_TAG")
    }
    env |= {
        "AWS_ENDPOINT_URL": closed,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "HTTPS_PROXY": closed,
        "HTTP_PROXY": closed,
        "IMAGE_TAG": "offline",
    }
    built = subprocess.run(
        [sys.executable, "-m", "batches.pipeline", "--env", "dev", "--model", MODELS[0], "definition"],
        cwd=PIPELINE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["Parameters"]
    assert built.stderr == ""  # nothing to act on, nothing said


def test_the_local_definition_is_the_cloud_one_less_the_registration_step() -> None:
    cloud, local = definition_of("dev", MODELS[0]), definition_of("local", MODELS[0])

    def names(definition: dict[str, Any]) -> list[str]:
        return [step["Name"] for step in steps_of(definition)]

    assert names(local) == [name for name in names(cloud) if name != "RegisterModel"]
    assert [p["Name"] for p in local["Parameters"]] == [p["Name"] for p in cloud["Parameters"]]
    [cloud_gate, local_gate] = (steps_of(d)[3] for d in (cloud, local))
    assert local_gate["Type"] == cloud_gate["Type"] == "Condition"
    assert local_gate["Arguments"]["Conditions"] == cloud_gate["Arguments"]["Conditions"]
    # Locally the model is registered on the host once the gate has passed: inference waits on the gate.
    [inference] = [step for step in local_gate["Arguments"]["IfSteps"] if step["Type"] == "Processing"]
    assert "DependsOn" not in inference
    assert all(uri.startswith("s3://local-pipeline/") for uri in all_s3_uris(local))


def test_with_pipeline_tuning_the_training_step_is_the_models_search_and_evaluation_takes_its_best(
    tmp_path: Path,
) -> None:
    from utils.aws.pipelines import definition
    from utils.workflow import plan_pipeline

    folder = edited_configs(tmp_path, lambda raw: raw["pipeline"].update(tuning=True), "dev", "local")
    config = load_config("dev", config_dir=folder, model=MODELS[0])
    space = search_space(config)

    built = definition(plan_pipeline(config, config.image_uri()), config)

    steps = {step["Name"]: step for step in steps_of(built)}
    assert steps["Tuning"]["Type"] == "Tuning"
    assert "Training" not in steps
    tuning = steps["Tuning"]["Arguments"]
    assert tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": space.objective_type,
        "MetricName": space.objective,
    }
    ranges = tuning["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert {item["Name"] for kind in ranges.values() for item in kind} == set(space.ranges)
    regexes = tuning["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    assert {"Name": space.objective, "Regex": space.regex} in regexes
    [model] = [
        item for item in steps["Evaluation"]["Arguments"]["ProcessingInputs"] if item["InputName"] == "model"
    ]
    assert "Steps.Tuning.TrainingJobSummaries[0].TrainingJobName" in json.dumps(model)
    # The local runner has no tuning step: locally it is a training step, whose job the local run replaces
    # with the local search over the same space.
    local = load_config("local", config_dir=folder, model=MODELS[0])
    local_plan = plan_pipeline(local, local.image_uri())
    assert local_plan.steps[1].search == search_space(local)
    local_steps = {step["Name"]: step for step in steps_of(definition(local_plan, local))}
    assert local_steps["Tuning"]["Type"] == "Training"


def test_a_sagemaker_mlflow_server_in_the_config_tracks_every_execution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utils.aws.pipelines import definition
    from utils.workflow import plan_pipeline

    arn = tracking_server_arn(load_config("dev", model=MODELS[0]))
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    folder = edited_configs(
        tmp_path, lambda raw: raw.update(tracking={"uri": arn, "experiment": "churn-experiments"}), "dev"
    )
    config = load_config("dev", config_dir=folder, model=MODELS[0])

    built = definition(plan_pipeline(config, config.image_uri()), config)

    assert built["MlflowConfig"] == {"MlflowResourceArn": arn, "MlflowExperimentName": "churn-experiments"}
    assert definition_of("dev", MODELS[0])["MlflowConfig"] is None  # no server configured: none
