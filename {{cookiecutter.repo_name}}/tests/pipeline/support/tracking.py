"""MLflow stores for tests. A new SQLite store migrates its schema first, which takes seconds: each test
process migrates one, and every test that needs a store of its own gets a copy."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path


@cache
def _migrated_store() -> Path:
    from mlflow.tracking import MlflowClient

    path = Path(tempfile.mkdtemp(prefix="mlflow-store-")) / "mlflow.sqlite3"
    MlflowClient(f"sqlite:///{path}").search_experiments()  # the first call creates and migrates the store
    return path


def mlflow_store(path: Path) -> str:
    """An empty, migrated MLflow SQLite store at `path`; its tracking URI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_store(), path)
    return f"sqlite:///{path}"
