"""A fake /opt/ml tree, laid out the way SageMaker prepares it, for contract and Docker tests."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

import jobs
from utils.data import write_csv

CODE_DIR = Path(jobs.__file__).resolve().parents[1]


def copy_code(destination: Path) -> Path:
    """The job code as the image holds it at /opt/ml/code: jobs and utils, nothing else."""
    for package in ("jobs", "utils"):
        shutil.copytree(
            CODE_DIR / package, destination / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return destination


def training_tree(
    base: Path,
    *,
    channels: Mapping[str, pd.DataFrame],
    hyperparameters: Mapping[str, object] | None = None,
    host: str = "localhost",
    hosts: Sequence[str] = (),
) -> Path:
    """A fake /opt/ml laid out the way SageMaker prepares it before `train` starts.

    The toolkit waits until every host in resourceconfig.json resolves; localhost does everywhere, even in a
    container without a network.
    """
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(
        json.dumps({name: json.dumps(value) for name, value in (hyperparameters or {}).items()}),
        encoding="utf-8",
    )
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"TrainingInputMode": "File"} for name in channels}), encoding="utf-8"
    )
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": host,
                "hosts": list(hosts or [host]),
                "current_instance_group": "homogeneousCluster",
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "instance_type": "local",
                        "hosts": list(hosts or [host]),
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    for name, frame in channels.items():
        write_csv(frame, base / "input" / "data" / name / f"{name}.csv")
    (base / "model").mkdir()
    (base / "output" / "data").mkdir(parents=True)
    return base


def free_port() -> int:
    """A TCP port nothing listens on now, for a training job's hosts to meet on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
