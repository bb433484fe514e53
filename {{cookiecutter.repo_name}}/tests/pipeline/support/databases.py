"""Test job databases: SQLite in the test's runs folder, or the PostgreSQL server TEST_DATABASE_URL names."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import MetaData

from utils.db.db_adapter import DbAdapter
from utils.db.seed import breast_cancer_rows

POSTGRES_URL_VARIABLE = "TEST_DATABASE_URL"


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
