"""SDK workarounds checked without Docker or AWS: local inputs, role checks, telemetry, arguments."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from batches.jobs import processing_arguments
from utils.aws.sagemaker_client import (
    SDK_CONFIG,
    SageMakerClient,
    _LocalInputsProcessor,
    _role_validation_disabled,
)
from utils.config_reader import CONFIG_DIR, load_config
from utils.db.enum import JobType
from utils.layout import Layout

DEV = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text(encoding="utf-8"))
MODEL = next(iter(DEV["models"]))


def test_local_mode_keeps_file_inputs_local_instead_of_uploading_them(tmp_path: Path) -> None:
    config = load_config("local", environ={"PIPELINE_RUNS_DIR": str(tmp_path)}, model=MODEL)
    run = Layout(config).run(JobType.PREPROCESS, "r1")
    client = SageMakerClient(config)
    session = client._local_session(run)
    processor = _LocalInputsProcessor(
        image_uri="image:latest", instance_count=1, instance_type="local", sagemaker_session=session
    )
    from utils.aws.sagemaker_client import ProcessingInput, ProcessingS3Input

    raw = tmp_path / "raw"
    raw.mkdir()
    given = ProcessingInput(
        input_name="raw",
        s3_input=ProcessingS3Input(
            s3_uri=raw.as_uri(), local_path="/opt/ml/processing/input/raw", s3_data_type="S3Prefix"
        ),
    )

    [normalized] = processor._normalize_inputs([given])

    assert normalized.s3_input.s3_uri == raw.as_uri()
    assert session.config == {"local": {"local_code": False, "container_root": run.local_container_root}}
    assert Path(run.local_container_root).is_dir()


def test_every_session_opts_out_of_telemetry_and_stages_into_the_run_folder() -> None:
    config = load_config("dev", environ={}, model=MODEL)
    run = Layout(config).run(JobType.TRAINING, "r1")

    session = SageMakerClient(config)._session(run)

    assert session.sagemaker_config == SDK_CONFIG
    assert SDK_CONFIG["SageMaker"]["PythonSDK"]["Modules"]["TelemetryOptOut"] is True
    storage = DEV["storage"]
    assert session._default_bucket_name_override == storage["bucket"]
    assert session.default_bucket_prefix == f"{storage['prefix']}/{MODEL}/training/r1/sagemaker"


def test_role_validation_is_skipped_only_inside_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGEMAKER_VALIDATE_ROLE", raising=False)

    with _role_validation_disabled(True):
        assert os.environ["SAGEMAKER_VALIDATE_ROLE"] == "false"
    with _role_validation_disabled(False):
        assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ

    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ


def test_processing_parameters_become_sorted_arguments_with_plain_booleans() -> None:
    assert processing_arguments({"b": True, "a": 0.2, "c": "x"}) == ["--a", "0.2", "--b", "true", "--c", "x"]


def test_the_sdk_still_checks_its_config_on_every_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Canary of the check-once workaround in sagemaker_client: when the SDK stops re-checking its config on
    every lookup, this fails and the workaround can go."""
    from sagemaker.core.common_utils import get_sagemaker_config_value
    from sagemaker.core.config.config_manager import SageMakerConfig

    checked: list[object] = []
    monkeypatch.setattr(SageMakerConfig, "validate_sagemaker_config", staticmethod(checked.append))
    path = "SageMaker.PythonSDK.Modules.TelemetryOptOut"

    first = get_sagemaker_config_value(None, path, sagemaker_config=SDK_CONFIG)
    second = get_sagemaker_config_value(None, path, sagemaker_config=SDK_CONFIG)

    assert (first, second) == (True, True)
    assert checked == [SDK_CONFIG, SDK_CONFIG]
