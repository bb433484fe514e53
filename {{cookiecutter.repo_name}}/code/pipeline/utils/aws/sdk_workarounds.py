"""Where the pipeline works around the SageMaker Python SDK (sagemaker 3.27: sagemaker-core 2.27,
sagemaker-train 1.27). One entry a workaround, each naming the behaviour it works around; each has a canary in
tests/pipeline/test_sdk_workarounds.py that fails when the SDK fixes or changes that behaviour, so the
workaround can go or move with it.

Two more live beside the code they serve, with canaries of their own: the folders local mode refuses to mount
(`utils.aws.local_mounts`, read from the SDK's source) and how an interrupted local job really ended
(`utils.aws.local_containers.containers_verdict`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sagemaker.core.helper.session_helper as session_helper
import sagemaker.core.local.local_session as local_session
from sagemaker.core.config.config_manager import SageMakerConfig
from sagemaker.core.processing import Processor
from sagemaker.train.model_trainer import ModelTrainer

# Handed to every Session instead of the user's SDK config files: telemetry off, and no SDK-wide defaults
# (buckets, roles, tags) from a laptop's ~/.config can change where a job writes.
SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


# 1. The SDK checks the whole SDK config against its JSON schema on every config lookup
#    (`SageMakerConfig.validate_sagemaker_config`, a dozen lookups a job) and again in every Session and
#    LocalSession it makes (`validate_sagemaker_config` of sagemaker.core.config.config): 0.3-1 s each.
#    SDK_CONFIG never changes, so it is checked once, here; any other config is checked as the SDK does.
_lookup_check = SageMakerConfig.validate_sagemaker_config
_session_check = session_helper.validate_sagemaker_config
_lookup_check(SDK_CONFIG)


def _lookup_check_once(sagemaker_config: dict[str, Any] | None = None) -> None:
    if sagemaker_config != SDK_CONFIG:
        _lookup_check(sagemaker_config)


def session_check_once(sagemaker_config: dict[str, Any] | None = None) -> None:
    if sagemaker_config != SDK_CONFIG:
        _session_check(sagemaker_config)


SageMakerConfig.validate_sagemaker_config = staticmethod(_lookup_check_once)
session_helper.validate_sagemaker_config = session_check_once
local_session.validate_sagemaker_config = session_check_once


# 2. In local mode the stock Processor still uploads `file://` inputs to the Session's default bucket
#    (`Processor._normalize_inputs`), which local mode has no use for and which needs S3.
class LocalInputsProcessor(Processor):  # type: ignore[misc]  # the SDK ships no type hints
    """A Processor that keeps `file://` inputs local in local mode."""

    def _normalize_inputs(self, inputs: Any = None, kms_key: Any = None) -> Any:
        if getattr(self.sagemaker_session, "local_mode", False):
            return list(inputs or [])
        return super()._normalize_inputs(inputs, kms_key)


# 3. `ModelTrainer.train` returns nothing and appends its own timestamp to the base job name: the name of the
#    job it created is only on a private attribute.
def created_training_job_name(trainer: ModelTrainer) -> str:
    return str(trainer._latest_training_job.training_job_name)


# 4. Before creating a training job the SDK simulates the role's IAM policies, which AWS stand-ins such as
#    moto cannot answer; its documented switch is the SAGEMAKER_VALIDATE_ROLE variable, process-wide.
@contextmanager
def role_validation_disabled(disabled: bool) -> Iterator[None]:
    """Skip that simulation inside the block when `disabled` (a configured endpoint is not AWS)."""
    with _variable_set("SAGEMAKER_VALIDATE_ROLE", "false" if disabled else None):
        yield


# 5. The pipeline SDK builds clients from the environment's region, not the session's: importing
#    sagemaker.mlops (or sagemaker.serve) makes a SageMaker client (`sagemaker.ai_registry.air_hub.AIRHub`),
#    and the SDK's ProcessingStep makes a LocalSession (see 6); both raise when the environment names no
#    region. Neither is used for a request, so the region is set only while they run.
@contextmanager
def environment_region(region: str) -> Iterator[None]:
    """AWS_DEFAULT_REGION=`region` inside the block, unless the environment names a region already."""
    named = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    with _variable_set("AWS_DEFAULT_REGION", None if named else region):
        yield


# 6. ProcessingStep (sagemaker-mlops 1.27) checks where its arguments came from against
#    `LocalSagemakerClient().create_processing_job.__name__`: a whole LocalSession made for a method's name
#    (a new boto3 session that parses the service definitions again, five clients, the SDK config files read
#    and checked against their schema): 0.15 s a step, over 1 s where an SDK config file exists. The steps
#    module gets a client class that makes no session; the module's name is all that changes, and only the
#    argument checks use it.
def sessionless_step_checks(steps_module: Any) -> None:
    """Give `steps_module` (sagemaker.mlops.workflow.steps) a LocalSagemakerClient that makes no session."""

    # The SDK ships no type hints: to mypy its class is Any, hence the ignore.
    class SessionlessLocalClient(steps_module.LocalSagemakerClient):  # type: ignore[misc]
        def __init__(self, sagemaker_session: Any = None) -> None:
            self.sagemaker_session = sagemaker_session

    steps_module.LocalSagemakerClient = SessionlessLocalClient


@contextmanager
def _variable_set(name: str, value: str | None) -> Iterator[None]:
    """The environment variable `name` is `value` inside the block (None: left as it is), then as before."""
    with environment_variables({} if value is None else {name: value}):
        yield


@contextmanager
def environment_variables(values: Mapping[str, str | None]) -> Iterator[None]:
    """The environment variables set (None: unset) inside the block, then as they were."""
    before = {name: os.environ.get(name) for name in values}
    try:
        _apply(values)
        yield
    finally:
        _apply(before)


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
