"""The job database's schema under Alembic, its lock, and the URL dev and prod must be given.

Each database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support.batches import BatchRunner
from support.databases import drop_schema, postgres_url
from typer.testing import CliRunner

from utils.config_reader import CONFIG_DIR, PIPELINE_DIR, ConfigError, load_config
from utils.db import migrate
from utils.db.__main__ import app as db_app
from utils.db.db_adapter import UPGRADE_COMMAND, DbAdapter
from utils.db.enum import JobType
from utils.db.schema import Base
from utils.db.seed import breast_cancer_rows
from utils.errors import DatabaseError
from utils.job_specs import ID_COLUMN


@pytest.fixture
def empty_database(database_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database no migration has run on; DATABASE_URL points at it."""
    if database_backend == "postgresql":
        url = postgres_url()
        drop_schema(url)
    else:
        url = f"sqlite:///{tmp_path / 'fresh' / 'jobs.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    if database_backend == "postgresql":
        drop_schema(url)


def test_upgrade_brings_an_empty_database_to_the_latest_migration(empty_database: str) -> None:
    head = migrate.head_revision()

    first = CliRunner().invoke(db_app, ["upgrade", "--env", "dev"])
    second = CliRunner().invoke(db_app, ["upgrade", "--env", "dev"])

    assert first.exit_code == 0, first.output
    assert f"schema upgraded from an empty database to revision {head}" in first.output
    assert second.exit_code == 0, second.output
    assert f"schema at revision {head}, the latest" in second.output
    db = DbAdapter(empty_database)
    db.require_schema()
    with db.engine.connect() as connection:
        assert migrate.current_revision(connection) == head
    db.close()


def test_the_latest_migration_creates_exactly_the_orm_schema(empty_database: str) -> None:
    db = DbAdapter(empty_database)
    db.upgrade_schema()

    with db.engine.connect() as connection:
        differences = migrate.schema_differences(connection)
    db.close()

    assert differences == []


def test_a_database_without_schema_is_refused_with_the_upgrade_command(
    empty_database: str, run_batch: BatchRunner
) -> None:
    listing = CliRunner().invoke(db_app, ["jobs", "--env", "dev"])
    batch = run_batch("collection", "--env", "dev")

    for result in (listing, batch):
        assert result.exit_code == 1
        assert f"the job database has no schema yet; create it: `{UPGRADE_COMMAND}`" in result.output
        assert "Traceback" not in result.output


def _concurrent_inits(env: str, environ: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """`python -m utils.db init` in two processes started together, as two first runs would."""
    command = [sys.executable, "-m", "utils.db", "init", "--env", env]
    processes = [
        subprocess.Popen(
            command, cwd=PIPELINE_DIR, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return results


def test_two_first_runs_at_once_both_initialise_and_seed_once(
    database_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: the local default file of a fresh checkout; PostgreSQL: dev's shared server."""
    runs_dir = tmp_path / "fresh-checkout-runs"
    monkeypatch.setenv("PIPELINE_RUNS_DIR", str(runs_dir))
    if database_backend == "postgresql":
        env, url = "dev", postgres_url()
        drop_schema(url)
        monkeypatch.setenv("DATABASE_URL", url)
    else:
        env, url = "local", load_config("local").database.url
        assert make_url(url).get_backend_name() == "sqlite"
    assert not runs_dir.exists()
    seed_ids = sorted(str(row[ID_COLUMN]) for row in breast_cancer_rows())

    results = _concurrent_inits(env, dict(os.environ))

    for result in results:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert sum(f"{len(seed_ids)} source samples added" in r.stdout for r in results) == 1
    assert sum("source data kept" in r.stdout for r in results) == 1
    db = DbAdapter(url)
    db.require_schema()
    csv_text, rows = db.source_samples_csv()
    db.close()
    ids = [line.split(",", 1)[0] for line in csv_text.splitlines()[1:]]
    assert rows == len(seed_ids)
    assert sorted(ids) == seed_ids
    if database_backend == "postgresql":
        drop_schema(url)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dev_and_prod_without_a_database_url_refuse_in_one_line(env: str, run_batch: BatchRunner) -> None:
    for result in (
        CliRunner().invoke(db_app, ["init", "--env", env]),
        run_batch("collection", "--env", env),
    ):
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert "DATABASE_URL" in lines[0]
        assert lines[0].startswith("error: no job database")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dev_and_prod_have_no_database_default_but_take_the_configured_url(env: str) -> None:
    without = load_config(env, environ={})
    with_url = load_config(env, environ={"DATABASE_URL": "postgresql+psycopg://ml@db.internal:5432/jobs"})

    with pytest.raises(ConfigError, match="set DATABASE_URL"):
        _ = without.database.url
    assert with_url.database.url == "postgresql+psycopg://ml@db.internal:5432/jobs"


def test_local_keeps_its_sqlite_file_in_the_runs_folder(tmp_path: Path) -> None:
    configured = yaml.safe_load((CONFIG_DIR / "local.yaml").read_text())["database"]["url"]
    file_name = make_url(configured).database

    config = load_config("local", environ={"PIPELINE_RUNS_DIR": str(tmp_path)})

    assert file_name
    assert config.database.url == f"sqlite:///{tmp_path / file_name}"


def test_an_unreachable_database_is_one_line_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://ml:s3cret-pw@127.0.0.1:1/jobs"  # pragma: allowlist secret
    monkeypatch.setenv("DATABASE_URL", url)

    results = [CliRunner().invoke(db_app, [name, "--env", "dev"]) for name in ("upgrade", "init", "jobs")]

    for result in results:
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith("error: job database postgresql+psycopg://ml:***@127.0.0.1:1/jobs: ")
        assert "s3cret-pw" not in result.output


@pytest.fixture
def migrations_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The migrations folder copied where a test may add revisions; the code reads the copy."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", copy)
    return copy


def _add_revision(migrations: Path, body: str) -> str:
    """A hand-written migration after the latest one; returns its revision id."""
    head = migrate.head_revision()
    revision = f"{int(head) + 1:04d}"
    (migrations / "versions" / f"v{revision}_test_change.py").write_text(
        f'"""A change made by a test."""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {revision!r}\ndown_revision = {head!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body}\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    return revision


def test_a_database_behind_the_code_is_refused_until_upgraded(
    empty_database: str, migrations_copy: Path
) -> None:
    db = DbAdapter(empty_database)
    db.upgrade_schema()
    at = migrate.head_revision()
    newer = _add_revision(migrations_copy, '    op.create_table("notes", sa.Column("id", sa.Integer))')

    with pytest.raises(DatabaseError) as behind:
        db.require_schema()
    before, after = db.upgrade_schema()
    db.require_schema()
    db.close()

    assert str(behind.value) == (
        f"the job database schema is at revision {at}, this code needs {newer}: `{UPGRADE_COMMAND}`"
    )
    assert (before, after) == (at, newer)


def test_a_database_upgraded_by_a_newer_checkout_is_refused(empty_database: str) -> None:
    db = DbAdapter(empty_database)
    db.upgrade_schema()
    ours = migrate.head_revision()
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(DatabaseError) as refused:
        db.require_schema()
    with pytest.raises(DatabaseError) as upgrade_refused:
        db.upgrade_schema()
    db.close()

    expected = f"the job database schema is at revision 9999, newer than this checkout's latest ({ours})"
    assert str(refused.value).startswith(expected)
    assert str(upgrade_refused.value).startswith(expected)


def test_revision_writes_the_next_migration_from_what_schema_py_adds(migrations_copy: Path) -> None:
    dropped = _add_revision(migrations_copy, '    op.drop_table("predictions")')

    written = CliRunner().invoke(db_app, ["revision", "restore predictions"])
    nothing = CliRunner().invoke(db_app, ["revision", "no change"])

    assert written.exit_code == 0, written.output
    expected_id = f"{int(dropped) + 1:04d}"
    path = migrations_copy / "versions" / f"v{expected_id}_restore_predictions.py"
    module = runpy.run_path(str(path))
    assert (module["revision"], module["down_revision"]) == (expected_id, dropped)
    assert re.search(r"op\.create_table\(\s*[\"']predictions[\"']", path.read_text())
    assert written.output.strip().splitlines()[-1].startswith(f"wrote {path}; review it")
    assert nothing.exit_code == 1
    assert "schema.py matches the latest migration" in nothing.output


def test_tables_made_without_migrations_are_recorded_as_the_latest_and_keep_their_rows(
    empty_database: str,
) -> None:
    """A database this repository made with `create_all`, before its schema had migrations."""
    db = DbAdapter(empty_database)
    Base.metadata.create_all(db.engine)
    db.create_job(
        run_id="20250101-000000-abcdef",
        job_type=JobType.TRAINING,
        job_name="training-20250101-000000-abcdef",
        model_name="kept_model",
        environment="local",
    )

    result = CliRunner().invoke(db_app, ["upgrade", "--env", "local"])

    assert result.exit_code == 0, result.output
    head = migrate.head_revision()
    assert result.output.strip() == (
        f"schema.py's tables were there without a migration record: recorded as revision {head}"
    )
    db.require_schema()
    kept = db.get_job("20250101-000000-abcdef")
    db.close()
    assert kept is not None and kept.model_name == "kept_model"


def test_unrecorded_tables_unlike_the_schema_are_refused_and_left_alone(empty_database: str) -> None:
    db = DbAdapter(empty_database)
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE jobs (id INTEGER PRIMARY KEY, notes TEXT)"))

    result = CliRunner().invoke(db_app, ["upgrade", "--env", "local"])

    assert result.exit_code == 1
    assert result.output.startswith("error: the job database has tables but no migration record")
    assert "nothing was changed" in result.output
    with db.engine.connect() as connection:
        assert migrate.current_revision(connection) is None
        assert connection.execute(text("SELECT count(*) FROM jobs")).scalar() == 0
    db.close()
