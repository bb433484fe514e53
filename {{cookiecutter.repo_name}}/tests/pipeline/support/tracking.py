"""MLflow stores for tests. A new SQLite store migrates its schema first, which takes seconds: one store is
migrated per test run (see support.shared), and every test that needs a store of its own gets a copy."""

from __future__ import annotations

import shutil
from pathlib import Path


def migrate_mlflow_store(path: Path) -> None:
    """An empty MLflow SQLite store at `path`, its schema migrated."""
    from mlflow.tracking import MlflowClient

    MlflowClient(f"sqlite:///{path}").search_experiments()  # the first call creates and migrates the store


def mlflow_store(migrated: Path, path: Path) -> str:
    """A copy of the `migrated` store at `path`; its tracking URI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated, path)
    return f"sqlite:///{path}"
