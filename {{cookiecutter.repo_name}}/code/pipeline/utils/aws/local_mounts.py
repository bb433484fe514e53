"""Folders SageMaker local mode refuses to mount, so a runs folder among them is refused before any job.

sagemaker-core 2.27 refuses every local data source whose absolute path starts with an entry of its
`sagemaker.core.common_utils._SENSITIVE_SYSTEM_PATHS` (`/root`, `/etc`, `/var/lib`, `~/.config`, ...; see
`sagemaker.core.local.data.LocalFileDataSource`), and says so only once a job has started. The list is read
from the SDK's own source rather than copied, and without importing the SDK, which takes seconds: the
local-run scripts check before every image build. tests/pipeline/test_local_mounts.py is the canary that
fails when the SDK moves or changes the list.

`python -m utils.aws.local_mounts FOLDER` prints nothing when local mode can mount FOLDER, else one line
naming the path and the fix, and exits 1.
"""

from __future__ import annotations

import ast
import os
import sys
from importlib.metadata import distribution
from pathlib import Path

SDK_DISTRIBUTION = "sagemaker-core"
SDK_LIST_FILE = "sagemaker/core/common_utils.py"
SDK_LIST_NAME = "_SENSITIVE_SYSTEM_PATHS"


def refused_prefixes() -> list[str]:
    """The SDK's list, its entries resolved as the SDK resolves them (`~` is this user's home)."""
    path = Path(str(distribution(SDK_DISTRIBUTION).locate_file(SDK_LIST_FILE)))
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == SDK_LIST_NAME for target in node.targets)
            and isinstance(node.value, ast.List)
        ):
            return [_entry(item, path) for item in node.value.elts]
    raise LookupError(f"{path} no longer defines the list {SDK_LIST_NAME}")


def _entry(node: ast.expr, path: Path) -> str:
    # Each entry is a plain path ("/etc") or one wrapped in abspath(os.path.expanduser(...)).
    texts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    if len(texts) != 1:
        raise LookupError(f"an entry of {SDK_LIST_NAME} in {path} is no plain path: {ast.unparse(node)}")
    return os.path.abspath(os.path.expanduser(texts[0]))  # noqa: PTH100, PTH111 - as the SDK resolves it


def refused_prefix(folder: str | Path) -> str | None:
    """The entry that makes local mode refuse `folder`, by the SDK's own rule (a prefix of the absolute path;
    the batches hand the SDK resolved paths)."""
    location = os.path.realpath(folder)
    return next(
        (prefix for prefix in refused_prefixes() if location != "/" and location.startswith(prefix)), None
    )


def refusal(runs_dir: str | Path) -> str | None:
    """One line naming the runs folder and the fix, when SageMaker local mode cannot mount it."""
    prefix = refused_prefix(runs_dir)
    if prefix is None:
        return None
    return (
        f"SageMaker local mode refuses to mount folders under {prefix}, and the runs folder "
        f"{os.path.realpath(runs_dir)} is one: set PIPELINE_RUNS_DIR to a folder outside it "
        "or move the repository"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m utils.aws.local_mounts FOLDER", file=sys.stderr)
        return 2
    message = refusal(argv[0])
    if message:
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
