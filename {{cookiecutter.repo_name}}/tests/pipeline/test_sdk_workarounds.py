"""The SDK workarounds of utils/aws/sdk_workarounds.py: each one's canary, which fails when the SDK fixes or
changes the behaviour it works around (then the workaround can go), and what each one guarantees."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import sagemaker.core.helper.session_helper as session_helper
import yaml
from sagemaker.core.local.local_session import LocalSagemakerClient, LocalSession
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.train.model_trainer import Mode, ModelTrainer

from utils.aws import sdk_workarounds
from utils.aws.sdk_workarounds import (
    SDK_CONFIG,
    LocalInputsProcessor,
    created_training_job_name,
    role_validation_disabled,
)
from utils.aws.session import EndpointSession
from utils.config_reader import CONFIG_DIR, Config

DEV = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text(encoding="utf-8"))
MODEL = next(iter(DEV["models"]))


def local_session(container_root: Path) -> LocalSession:
    session = LocalSession(boto_session=EndpointSession("us-east-1"), sagemaker_config=SDK_CONFIG)
    session.config = {"local": {"local_code": False, "container_root": str(container_root)}}
    return session


def file_input(folder: Path) -> ProcessingInput:
    return ProcessingInput(
        input_name="raw",
        s3_input=ProcessingS3Input(
            s3_uri=folder.as_uri(), local_path="/opt/ml/processing/input/raw", s3_data_type="S3Prefix"
        ),
    )


# 1. The config check once


def test_canary_the_sdk_checks_its_config_on_every_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    from sagemaker.core.common_utils import get_sagemaker_config_value
    from sagemaker.core.config.config_manager import SageMakerConfig

    checked: list[object] = []
    monkeypatch.setattr(SageMakerConfig, "validate_sagemaker_config", staticmethod(checked.append))
    path = "SageMaker.PythonSDK.Modules.TelemetryOptOut"

    first = get_sagemaker_config_value(None, path, sagemaker_config=SDK_CONFIG)
    second = get_sagemaker_config_value(None, path, sagemaker_config=SDK_CONFIG)

    assert (first, second) == (True, True)
    assert checked == [SDK_CONFIG, SDK_CONFIG]


def test_canary_every_session_checks_the_config_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[object] = []
    monkeypatch.setattr(session_helper, "validate_sagemaker_config", checked.append)

    session_helper.Session(boto_session=EndpointSession("us-east-1"), sagemaker_config=SDK_CONFIG)

    assert checked == [SDK_CONFIG]


def test_sdk_config_is_not_checked_again_but_any_other_config_is(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[object] = []
    monkeypatch.setattr(sdk_workarounds, "_session_check", checked.append)
    other = {"SchemaVersion": "1.0"}

    sdk_workarounds.session_check_once(SDK_CONFIG)
    sdk_workarounds.session_check_once(other)

    assert checked == [other]


def test_every_session_opts_out_of_telemetry() -> None:
    assert SDK_CONFIG["SageMaker"]["PythonSDK"]["Modules"]["TelemetryOptOut"] is True


# 2. Local inputs stay local


def test_canary_the_stock_processor_uploads_local_inputs_in_local_mode(
    dev_config: Config, tmp_path: Path
) -> None:
    assert dev_config.storage is not None
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "data.csv").write_text("id\n1\n")
    boto_session = EndpointSession(dev_config.aws.region, dev_config.aws.endpoint_url)
    session = LocalSession(
        boto_session=boto_session, default_bucket=dev_config.storage.bucket, sagemaker_config=SDK_CONFIG
    )
    processor = Processor(
        image_uri="image:latest", instance_count=1, instance_type="local", sagemaker_session=session
    )

    # It uploads the input to the default bucket, reading the `file://` location as a file name.
    with pytest.raises(FileNotFoundError, match=raw.as_uri()):
        processor._normalize_inputs([file_input(raw)])


def test_local_mode_keeps_file_inputs_local_instead_of_uploading_them(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    processor = LocalInputsProcessor(
        image_uri="image:latest",
        instance_count=1,
        instance_type="local",
        sagemaker_session=local_session(tmp_path / "container"),
    )

    [normalized] = processor._normalize_inputs([file_input(raw)])

    assert normalized.s3_input.s3_uri == raw.as_uri()


# 3. The created training job's name


def test_canary_model_trainer_returns_nothing_and_keeps_the_job_it_created(dev_config: Config) -> None:
    assert dev_config.storage is not None
    bucket = dev_config.storage.bucket
    boto_session = EndpointSession(dev_config.aws.region, dev_config.aws.endpoint_url)
    session = session_helper.Session(
        boto_session=boto_session, default_bucket=bucket, sagemaker_config=SDK_CONFIG
    )
    with role_validation_disabled(True):
        trainer = ModelTrainer(
            training_mode=Mode.SAGEMAKER_TRAINING_JOB,
            sagemaker_session=session,
            role=dev_config.aws.role_arn,
            training_image=dev_config.image_uri(),
            base_job_name="canary",
            compute=Compute(instance_type="ml.m5.large", instance_count=1),
            output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/canary"),
        )
        returned = trainer.train(
            input_data_config=[InputData(channel_name="train", data_source=f"s3://{bucket}/canary/train")],
            wait=False,
            logs=False,
        )

    name = created_training_job_name(trainer)
    assert returned is None
    assert name.startswith("canary-") and name != "canary-"
    described = boto_session.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert described["TrainingJobName"] == name


# 4. Role validation


def test_role_validation_is_skipped_only_inside_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGEMAKER_VALIDATE_ROLE", raising=False)

    with role_validation_disabled(True):
        assert os.environ["SAGEMAKER_VALIDATE_ROLE"] == "false"
    with role_validation_disabled(False):
        assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ

    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ


# 5. A region for importing the pipeline SDK


def no_region_env() -> dict[str, str]:
    regions = ("AWS_REGION", "AWS_DEFAULT_REGION")
    return {key: value for key, value in os.environ.items() if key not in regions}


def test_canary_importing_the_pipeline_sdk_needs_a_region() -> None:
    imported = subprocess.run(
        [sys.executable, "-c", "import sagemaker.mlops.workflow.pipeline"],
        env=no_region_env(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert imported.returncode != 0
    assert "NoRegionError" in imported.stderr


def test_the_pipeline_module_imports_with_no_region_and_leaves_none_behind() -> None:
    script = "import os, utils.aws.pipelines; print(os.environ.get('AWS_DEFAULT_REGION'))"
    imported = subprocess.run(
        [sys.executable, "-c", script],
        cwd=CONFIG_DIR.parent,
        env=no_region_env(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "None"


# 6. Step argument checks without a session


def sessions_made(monkeypatch: pytest.MonkeyPatch) -> list[LocalSession]:
    made: list[LocalSession] = []
    real_init = LocalSession.__init__

    def init(self: LocalSession, *args: object, **kwargs: object) -> None:
        made.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(LocalSession, "__init__", init)
    return made


def pipeline_steps() -> Any:
    """The SDK's steps module as utils.aws.pipelines imports it: with a region, the workaround applied."""
    import utils.aws.pipelines  # noqa: F401

    return importlib.import_module("sagemaker.mlops.workflow.steps")


def a_processing_step() -> Any:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = PipelineSession(
        boto_session=EndpointSession("us-east-1"), default_bucket="bucket", sagemaker_config=SDK_CONFIG
    )
    processor = Processor(
        image_uri="image:latest",
        role="arn:aws:iam::000000000000:role/pipeline",
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=session,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Running within a PipelineSession ...": as meant
        step_args = processor.run()
    return pipeline_steps().ProcessingStep(name="Step", step_args=step_args)


def test_canary_the_stock_processing_step_makes_a_local_session_to_check_its_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline_steps(), "LocalSagemakerClient", LocalSagemakerClient)
    made = sessions_made(monkeypatch)

    with sdk_workarounds.environment_region("us-east-1"):  # that session needs one (workaround 5)
        a_processing_step()

    assert len(made) == 1


def test_the_pipelines_processing_steps_make_no_local_session(monkeypatch: pytest.MonkeyPatch) -> None:
    made = sessions_made(monkeypatch)

    step = a_processing_step()

    assert made == []
    assert step.arguments["AppSpecification"]["ImageUri"] == "image:latest"
