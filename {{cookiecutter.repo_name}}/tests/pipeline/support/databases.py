"""Test job databases: SQLite in the test's runs folder, or the PostgreSQL server TEST_DATABASE_URL names.

On PostgreSQL each test process keeps to a schema of its own (`postgres_url`), so `make test`'s parallel
workers never drop or fill each other's tables; the URL carries the schema to the batches and scripts a test
starts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from utils.db.db_adapter import DbAdapter
from utils.db.seed import breast_cancer_rows

POSTGRES_URL_VARIABLE = "TEST_DATABASE_URL"


def prepare_database(backend: str, runs_dir: Path, sqlite_template: Path) -> str:
    """An empty job database with the schema and the seeded source table: on SQLite a copy of
    `sqlite_template` (see `migrate_and_seed`), as migrating and seeding take longer than most tests."""
    if backend == "sqlite":
        path = runs_dir / "test.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url = postgres_url()
    drop_schema(url)
    _migrate_and_seed(url)
    return url


def migrate_and_seed(path: Path) -> None:
    """A SQLite job database at `path` with the schema and the seeded source table."""
    _migrate_and_seed(f"sqlite:///{path}")


def _migrate_and_seed(url: str) -> None:
    db = DbAdapter(url)
    db.upgrade_schema()
    db.seed_source_samples(breast_cancer_rows)
    db.close()


def postgres_url() -> str:
    """TEST_DATABASE_URL, set to this test process's own schema (made if missing): `test_gw0`, `test_gw1`...
    under pytest-xdist, `test_main` without it."""
    server = make_url(os.environ[POSTGRES_URL_VARIABLE])
    schema = f"test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    engine = create_engine(server)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    in_schema = server.update_query_dict({"options": f"-csearch_path={schema}"})
    return in_schema.render_as_string(hide_password=False)


def drop_schema(url: str) -> None:
    """Every table of the database: the schema's, Alembic's record of its revision and any a test added."""
    db = DbAdapter(url)
    tables = MetaData()
    tables.reflect(db.engine)
    tables.drop_all(db.engine)
    db.close()
