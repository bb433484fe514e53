"""SageMaker's container contract in one place: where /opt/ml is, how a job reports its metrics to the
log that metric definitions read, and how it fails visibly."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from utils.errors import JobError

DEFAULT_THRESHOLD = 0.5  # probability at or above which a row is predicted positive
FAILURE_MESSAGE_LIMIT = 1024  # SageMaker shows this many characters of the failure file as FailureReason.

JobBody = Callable[[Sequence[str]], None]


class JobArgumentParser(argparse.ArgumentParser):
    """Bad arguments become a JobError, so they fail the job like any other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise JobError(f"{self.prog}: {message}")


def job_argument_parser(prog: str, description: str | None) -> JobArgumentParser:
    return JobArgumentParser(
        prog=prog,
        description=description,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def probability_threshold(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def add_threshold_option(parser: argparse.ArgumentParser) -> None:
    """The decision threshold, shared by the jobs that turn probabilities into labels."""
    parser.add_argument(
        "--threshold",
        type=probability_threshold,
        default=DEFAULT_THRESHOLD,
        help="probability at or above which a row is predicted positive",
    )


def format_metrics(metrics: Mapping[str, float], prefix: str = "") -> str:
    """`name=value;` pairs with fixed-point values that a regex like `validation_roc_auc=([0-9.]+);` scrapes.

    Fixed-point keeps exponents (1e-05) out of the log, which simple metric regexes would cut short.
    """
    return " ".join(f"{prefix}{name}={value:.6f};" for name, value in metrics.items() if math.isfinite(value))


def opt_ml() -> Path:
    """/opt/ml, or the folder SAGEMAKER_BASE_DIR names (the toolkit's own relocation, used by tests)."""
    return Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))


def processing_dir() -> Path:
    return opt_ml() / "processing"


def failure_file() -> Path:
    return Path(os.environ.get("SM_OUTPUT_DIR", str(opt_ml() / "output"))) / "failure"


def write_failure(message: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(message[:FAILURE_MESSAGE_LIMIT], encoding="utf-8")


def run_job(body: JobBody, argv: Sequence[str] | None = None, *, failure_path: Path | None = None) -> int:
    """Run a job body; on a JobError print the reason and return 1 instead of showing a traceback.

    With failure_path (training jobs), the reason is also written there so SageMaker reports it as the
    job's FailureReason; unexpected errors are recorded the same way and then re-raised with their traceback.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        body(arguments)
    except JobError as error:
        message = str(error)
        print(f"ERROR: {message}", file=sys.stderr, flush=True)
        if failure_path is not None:
            write_failure(message, failure_path)
        return 1
    except Exception as error:
        if failure_path is not None:
            write_failure(f"unexpected {type(error).__name__}: {error}", failure_path)
        raise
    return 0
