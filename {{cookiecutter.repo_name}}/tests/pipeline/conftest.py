"""Fixtures: a moto server for AWS, a runs folder and database per test, and a stand-in job image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.aws import reset_moto
from support.batches import BATCH_APPS, BatchRunner
from support.databases import POSTGRES_URL_VARIABLE, drop_schema, migrate_and_seed, prepare_database
from support.fakes import FakeContainer, SentRequests, install_fake_container, record_sagemaker_requests
from support.heap import set_aside_what_lives
from support.servers import free_port, wait_until_up
from support.shared import made_once, shared_folder
from support.tracking import migrate_mlflow_store, mlflow_store
from typer.testing import CliRunner

from utils.config_reader import CONFIG_DIR, Config, load_config
from utils.db.db_adapter import DbAdapter

IMAGE_TAG = "0a1b2c3"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Database tests run on SQLite, and on PostgreSQL only when TEST_DATABASE_URL names a server."""
    if "database_backend" in metafunc.fixturenames:
        backends = ["sqlite"]
        if os.environ.get(POSTGRES_URL_VARIABLE):
            backends.append("postgresql")
        metafunc.parametrize(
            "database_backend",
            [pytest.param(b, marks=pytest.mark.postgres) if b == "postgresql" else b for b in backends],
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


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test starts with what the process holds set aside from the garbage collector (support.heap)."""
    set_aside_what_lives()


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
    port = free_port()
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
        wait_until_up(f"{endpoint}/moto-api/", server, "the moto server", seconds=30)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def migrated_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test run's empty, migrated MLflow store, for `support.tracking.mlflow_store` to copy."""
    return made_once(shared_folder(tmp_path_factory) / "mlflow.sqlite3", migrate_mlflow_store)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test run's migrated and seeded SQLite job database, for `prepare_database` to copy."""
    return made_once(shared_folder(tmp_path_factory) / "jobs.sqlite3", migrate_and_seed)


@pytest.fixture(scope="session", autouse=True)
def offline_aws(sdk_user_config: Path, migrated_mlflow_store: Path) -> Iterator[None]:
    """Blank credentials and no endpoint by default, so nothing can reach a real account. Jobs log to one
    MLflow store per test process (a new store in every test's runs folder would migrate its schema each
    time)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "MLFLOW_TRACKING_URI",
            mlflow_store(migrated_mlflow_store, sdk_user_config.parent / "mlflow.sqlite3"),
        )
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


@pytest.fixture
def database_url(
    database_backend: str, runs_dir: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh database on each backend under test; DATABASE_URL points at it."""
    url = prepare_database(database_backend, runs_dir, sqlite_template)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    if database_backend == "postgresql":
        drop_schema(url)


@pytest.fixture
def db(database_url: str) -> Iterator[DbAdapter]:
    adapter = DbAdapter(database_url)
    yield adapter
    adapter.close()


@pytest.fixture
def dev_db(runs_dir: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DbAdapter]:
    """A SQLite job database for the moto tests (the PostgreSQL runs are in test_chain_on_moto.py)."""
    url = prepare_database("sqlite", runs_dir, sqlite_template)
    monkeypatch.setenv("DATABASE_URL", url)
    adapter = DbAdapter(url)
    yield adapter
    adapter.close()


@pytest.fixture
def dev_config(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, dev_db: DbAdapter) -> Config:
    """The rendered dev config on a freshly reset moto, with only the configured bucket in it."""
    return reset_moto(moto_endpoint, monkeypatch)


@pytest.fixture
def run_batch() -> BatchRunner:
    """Run `python -m batches.<name> <args>` in this process; returns typer's result."""
    runner = CliRunner()

    def run(name: str, *args: str) -> Any:
        return runner.invoke(BATCH_APPS[name], list(args))

    return run


@pytest.fixture
def fake_container(monkeypatch: pytest.MonkeyPatch) -> FakeContainer:
    return install_fake_container(monkeypatch)


@pytest.fixture
def sagemaker_requests(monkeypatch: pytest.MonkeyPatch) -> SentRequests:
    return record_sagemaker_requests(monkeypatch)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    try:
        answered = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False).returncode
    except (OSError, subprocess.TimeoutExpired):
        answered = 1
    if answered != 0:
        pytest.fail(
            "these tests run the job images in Docker, and `docker info` got no answer", pytrace=False
        )
