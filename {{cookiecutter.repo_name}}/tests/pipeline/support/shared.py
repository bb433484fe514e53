"""Files a whole test run shares: made by the first test process that needs one, copied by every test."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every process of the test run sees: pytest's base temporary folder, or its parent under
    pytest-xdist, where each worker has a folder of its own inside it. pytest cleans it up as it cleans up
    the run's other temporary folders."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(path: Path, make: Callable[[Path], None]) -> Path:
    """`path`, made by the first test process of the run that asks for it: `make` writes it under another
    name beside it, which it takes once complete. The run's other processes wait for it meanwhile."""
    with path.with_name(f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = path.with_name(f"{path.name}.partial")
            make(partial)
            partial.replace(path)
    return path
