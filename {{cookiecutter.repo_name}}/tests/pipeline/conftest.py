"""Fixtures: a moto server for AWS, a runs folder and database per test, and a stand-in job image."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import MetaData
from typer.testing import CliRunner

from batches.collection.batch import app as collection_app
from batches.evaluation.batch import app as evaluation_app
from batches.inference.batch import app as inference_app
from batches.preprocess.batch import app as preprocess_app
from batches.training.batch import app as training_app
from utils.aws.sagemaker_client import JobResult, ProcessingRequest, SageMakerClient, TrainingRequest
from utils.aws.session import EndpointSession
from utils.config_reader import CONFIG_DIR, Config, load_config
from utils.db.db_adapter import DbAdapter
from utils.db.enum import JobType
from utils.db.seed import breast_cancer_rows

POSTGRES_URL_VARIABLE = "TEST_DATABASE_URL"
IMAGE_TAG = "0a1b2c3"
BATCH_APPS = {
    "collection": collection_app,
    "preprocess": preprocess_app,
    "training": training_app,
    "evaluation": evaluation_app,
    "inference": inference_app,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Database tests run on SQLite, and on PostgreSQL only when TEST_DATABASE_URL names a server."""
    if "database_backend" in metafunc.fixturenames:
        backends = ["sqlite"]
        if os.environ.get(POSTGRES_URL_VARIABLE):
            backends.append("postgresql")
        metafunc.parametrize(
            "database_backend",
            [pytest.param(b, marks=[pytest.mark.postgres] if b == "postgresql" else []) for b in backends],
            scope="module",
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need git, the repository's scripts/ or the dev config's model project installed here are
    deselected (reported, never passed) where those are missing, as in the pipeline image."""
    repo_root = Path(__file__).resolve().parents[2]
    model = next(iter(yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text(encoding="utf-8"))["models"]))
    missing = {
        marker
        for marker, present in (
            ("git", shutil.which("git") is not None),
            ("scripts", (repo_root / "scripts").is_dir()),
            (
                "model_project",
                (repo_root / "code" / "container" / model / ".venv" / "bin" / "python").is_file(),
            ),
        )
        if not present
    }
    deselected = [item for item in items if any(item.get_closest_marker(marker) for marker in missing)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sdk_user_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sdk") / "config.yaml"
    path.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    return path


@pytest.fixture(scope="session")
def moto_endpoint(sdk_user_config: Path) -> Iterator[str]:
    """A moto server on a free local port, for the whole session."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The emulated account is the configured one, so ECR images and ARNs belong where the config says.
    account = str(yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text(encoding="utf-8"))["aws"]["account_id"])
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ACCOUNT_ID": account},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - local server
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def offline_aws(sdk_user_config: Path) -> Iterator[None]:
    """Blank credentials and no endpoint by default, so nothing can reach a real account."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "DATABASE_URL", "ECR_REGISTRY", "PIPELINE_ENV"):
            patch.delenv(name, raising=False)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(name, "testing")
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        patch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(sdk_user_config))
        patch.setenv("IMAGE_TAG", IMAGE_TAG)
        # The batches work on one model; these tests hold for any of them, so they take the first configured.
        patch.setenv("PIPELINE_MODEL", next(iter(load_config("local", environ={}).models)))
        patch.setattr("batches.jobs.POLL_SECONDS", 0.0)
        yield


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("PIPELINE_RUNS_DIR", str(path))
    return path


def prepare_database(backend: str, runs_dir: Path) -> str:
    """An empty job database with the schema and the seeded source table."""
    if backend == "postgresql":
        url = os.environ[POSTGRES_URL_VARIABLE]
        drop_schema(url)
    else:
        url = f"sqlite:///{runs_dir / 'test.sqlite3'}"
    db = DbAdapter(url)
    db.upgrade_schema()
    db.seed_source_samples(breast_cancer_rows)
    db.close()
    return url


def drop_schema(url: str) -> None:
    """Every table of the database: the schema's, Alembic's record of its revision and any a test added."""
    db = DbAdapter(url)
    tables = MetaData()
    tables.reflect(db.engine)
    tables.drop_all(db.engine)
    db.close()


@pytest.fixture
def database_url(database_backend: str, runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on each backend under test; DATABASE_URL points at it."""
    url = prepare_database(database_backend, runs_dir)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    if database_backend == "postgresql":
        drop_schema(url)


@pytest.fixture
def db(database_url: str) -> Iterator[DbAdapter]:
    adapter = DbAdapter(database_url)
    yield adapter
    adapter.close()


def reset_moto(endpoint: str, patch: pytest.MonkeyPatch) -> Config:
    """Empty moto, point AWS_ENDPOINT_URL at it and create the configured bucket (as the account has)."""
    patch.setenv("AWS_ENDPOINT_URL", endpoint)
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - the local moto server
    config = load_config("dev")
    assert config.storage is not None
    s3 = EndpointSession(config.aws.region, endpoint).client("s3")
    s3.create_bucket(
        Bucket=config.storage.bucket, CreateBucketConfiguration={"LocationConstraint": config.aws.region}
    )
    push_image(config)
    return config


def push_image(config: Config) -> None:
    """What `scripts/docker/container/push.sh` leaves in ECR: the job image's repository and tag."""
    ecr = aws_client(config, "ecr")
    repository = f"{config.images.repository_prefix}/{config.model_name}"
    ecr.create_repository(repositoryName=repository)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=config.images.tag)


@pytest.fixture
def dev_db(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DbAdapter]:
    """A SQLite job database for the moto tests (the PostgreSQL runs are in test_chain_on_moto.py)."""
    url = prepare_database("sqlite", runs_dir)
    monkeypatch.setenv("DATABASE_URL", url)
    adapter = DbAdapter(url)
    yield adapter
    adapter.close()


@pytest.fixture
def dev_config(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, dev_db: DbAdapter) -> Config:
    """The rendered dev config on a freshly reset moto, with only the configured bucket in it."""
    return reset_moto(moto_endpoint, monkeypatch)


CHAIN = ("collection", "preprocess", "training", "evaluation", "inference")


def run_ok(run_batch: BatchRunner, name: str, *args: str) -> Any:
    result = run_batch(name, "--env", "dev", *args)
    assert result.exit_code == 0, result.output
    return result


def run_chain(run_batch: BatchRunner, until: str = "inference") -> None:
    for name in CHAIN[: CHAIN.index(until) + 1]:
        run_ok(run_batch, name)


def root_uri(config: Config) -> str:
    assert config.storage is not None
    return f"s3://{config.storage.bucket}/{config.storage.prefix}/{config.model_name}"


def all_s3_uris(value: Any) -> list[str]:
    """Every string starting with s3:// anywhere inside a describe_* answer."""
    if isinstance(value, str):
        return [value] if value.startswith("s3://") else []
    if isinstance(value, dict):
        return [uri for item in value.values() for uri in all_s3_uris(item)]
    if isinstance(value, list):
        return [uri for item in value for uri in all_s3_uris(item)]
    return []


def latest(db: DbAdapter, job_type: JobType) -> Any:
    return db.list_jobs(job_type, limit=1)[0]


def assert_everything_under_the_prefix(config: Config) -> None:
    assert config.storage is not None
    s3 = aws_client(config, "s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert buckets == [config.storage.bucket]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=config.storage.bucket).get("Contents", [])]
    assert keys
    outside = [k for k in keys if not k.startswith(f"{config.storage.prefix}/{config.model_name}/")]
    assert outside == []


def aws_client(config: Config, service: str) -> Any:
    return EndpointSession(config.aws.region, config.aws.endpoint_url).client(service)


BatchRunner = Callable[..., Any]


@pytest.fixture
def run_batch() -> BatchRunner:
    """Run `python -m batches.<name> <args>` in this process; returns typer's result."""
    runner = CliRunner()

    def run(name: str, *args: str) -> Any:
        return runner.invoke(BATCH_APPS[name], list(args))

    return run


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
        self.processing_requests: list[ProcessingRequest] = []
        self.training_requests: list[TrainingRequest] = []

    def write_processing_outputs(self, client: SageMakerClient, request: ProcessingRequest) -> None:
        s3 = EndpointSession(client.config.aws.region, client.config.aws.endpoint_url).client("s3")
        header = "id,mean_radius,label\n"
        for name, (uri, _) in request.outputs.items():
            if name in self.skip_outputs:
                continue
            bucket, _, prefix = uri.removeprefix("s3://").partition("/")
            files = {
                "train": ("train.csv", header + "0,1.0,1\n"),
                "validation": ("validation.csv", header + "1,2.0,0\n"),
                "test": ("test.csv", header + "2,3.0,1\n"),
                "report": ("evaluation.json", json.dumps(EVALUATION_REPORT)),
                "predictions": ("data.csv", "id,probability,prediction\n0,0.1,0\n1,0.9,1\n2,0.8,1\n"),
            }
            file_name, body = files[name]
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{file_name}", Body=body.encode())

    def write_model(self, client: SageMakerClient, result: JobResult) -> None:
        s3 = EndpointSession(client.config.aws.region, client.config.aws.endpoint_url).client("s3")
        bucket, _, key = result.output_uris["model"].removeprefix("s3://").partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=_model_archive())


def install_fake_container(patch: pytest.MonkeyPatch) -> FakeContainer:
    fake = FakeContainer()
    real_processing = SageMakerClient.run_processing
    real_training = SageMakerClient.run_training

    def run_processing(self: SageMakerClient, request: ProcessingRequest, on_status: Any = None) -> JobResult:
        fake.processing_requests.append(request)
        result = real_processing(self, request, on_status)
        if result.succeeded:
            fake.write_processing_outputs(self, request)
        return result

    def run_training(self: SageMakerClient, request: TrainingRequest, on_status: Any = None) -> JobResult:
        fake.training_requests.append(request)
        result = real_training(self, request, on_status)
        if result.succeeded:
            fake.write_model(self, result)
        return result

    patch.setattr(SageMakerClient, "run_processing", run_processing)
    patch.setattr(SageMakerClient, "run_training", run_training)
    return fake


@pytest.fixture
def fake_container(monkeypatch: pytest.MonkeyPatch) -> FakeContainer:
    return install_fake_container(monkeypatch)


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


@pytest.fixture
def sagemaker_requests(monkeypatch: pytest.MonkeyPatch) -> SentRequests:
    return record_sagemaker_requests(monkeypatch)
