"""Stand-ins for what moto does not do: the job image's outputs, and a record of every SageMaker request."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest

from utils.aws.session import EndpointSession
from utils.config_reader import Config
from utils.job_definition import JobDefinition, JobResult, StatusCallback


def _model_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = b"stand-in model"
        info = tarfile.TarInfo("model.joblib")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


# What jobs/evaluation.py writes: SageMaker's model quality layout.
EVALUATION_REPORT = {
    "binary_classification_metrics": {
        "accuracy": {"value": 0.95},
        "roc_auc": {"value": 0.99},
        "confusion_matrix": {"0": {"0": 50, "1": 2}, "1": {"0": 3, "1": 45}},
    },
    "threshold": 0.5,
    "samples": 100,
}


class FakeContainer:
    """Writes what the job image would have written, since moto completes jobs without running them."""

    def __init__(self) -> None:
        self.skip_outputs: set[str] = set()
        self.jobs: list[JobDefinition] = []

    def write_outputs(self, config: Config, job: JobDefinition, result: JobResult) -> None:
        s3 = EndpointSession(config.aws.region, config.aws.endpoint_url).client("s3")
        if job.is_training:
            bucket, _, key = result.output_uris["model"].removeprefix("s3://").partition("/")
            s3.put_object(Bucket=bucket, Key=key, Body=_model_archive())
            return
        header = "id,mean_radius,label\n"
        for name, data in job.outputs.items():
            if name in self.skip_outputs:
                continue
            bucket, _, prefix = data.uri.removeprefix("s3://").partition("/")
            files = {
                "train": ("train.csv", header + "0,1.0,1\n"),
                "validation": ("validation.csv", header + "1,2.0,0\n"),
                "test": ("test.csv", header + "2,3.0,1\n"),
                "report": ("evaluation.json", json.dumps(EVALUATION_REPORT)),
                "predictions": ("data.csv", "id,probability,prediction\n0,0.1,0\n1,0.9,1\n2,0.8,1\n"),
            }
            file_name, body = files[name]
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{file_name}", Body=body.encode())


def install_fake_container(patch: pytest.MonkeyPatch) -> FakeContainer:
    # Imported here, not at the top: conftest imports this module, and the SDK would otherwise load in
    # pytest's main process too, which runs no test when the tests are spread over workers.
    from utils.aws.sagemaker_client import SageMakerExecutor

    fake = FakeContainer()
    real_run = SageMakerExecutor.run

    def run(self: SageMakerExecutor, job: JobDefinition, on_status: StatusCallback) -> JobResult:
        fake.jobs.append(job)
        result = real_run(self, job, on_status)
        if result.succeeded:
            fake.write_outputs(self.config, job, result)
        return result

    patch.setattr(SageMakerExecutor, "run", run)
    return fake


SentRequests = dict[str, list[dict[str, Any]]]


def record_sagemaker_requests(patch: pytest.MonkeyPatch) -> SentRequests:
    """The parameters of every SageMaker call, as sent (moto's describe_* leaves some fields out)."""
    calls: SentRequests = {}
    real_client = EndpointSession.client

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.setdefault(model.name, []).append(params)

    def client(self: EndpointSession, *args: Any, **kwargs: Any) -> Any:
        created = real_client(self, *args, **kwargs)
        if created.meta.service_model.service_name == "sagemaker":
            created.meta.events.register("provide-client-params.sagemaker.*", record)
        return created

    patch.setattr(EndpointSession, "client", client)
    return calls
