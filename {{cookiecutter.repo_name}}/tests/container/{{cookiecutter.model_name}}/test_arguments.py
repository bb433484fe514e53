"""The arguments check the pipeline runs on the host gives each job's own verdict and message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from utils import arguments as job_arguments
from utils.arguments import check

PROJECT = Path(job_arguments.__file__).resolve().parents[1]  # where `utils` and `jobs` are importable


@pytest.mark.parametrize(
    ("job", "arguments"),
    [
        ("training", ["--learning_rate", "0.05", "--resume_from_checkpoint", "true"]),
        ("preprocess", ["--seed", "7", "--train-ratio", "0.6"]),
        ("evaluation", ["--threshold", "0.3"]),
        ("inference", []),
    ],
)
def test_arguments_the_job_accepts_pass(job: str, arguments: list[str]) -> None:
    assert check(job, arguments) is None


@pytest.mark.parametrize(
    ("job", "arguments", "message"),
    [
        ("training", ["--learning_rate", "-0.1"], "learning_rate=-0.1 must be in (0, 1]"),
        ("training", ["--learnin_rate", "0.1"], "unrecognized arguments: --learnin_rate 0.1"),
        ("evaluation", ["--threshold", "1.5"], "1.5 is not between 0 and 1"),
        ("preprocess", ["--seed", "seven"], "invalid int value: 'seven'"),
    ],
)
def test_arguments_the_job_refuses_get_its_message(job: str, arguments: list[str], message: str) -> None:
    problem = check(job, arguments)
    assert problem is not None and message in problem


def test_the_command_line_exits_1_with_the_message_and_2_for_an_unknown_job() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "utils.arguments", "training", "--max_depth", "0"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (refused.returncode, refused.stdout.strip()) == (1, "max_depth=0 must be between 1 and 32")
    unknown = subprocess.run(
        [sys.executable, "-m", "utils.arguments", "tuning"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 2 and "JOB: training, preprocess, evaluation, inference" in unknown.stderr


def test_the_check_loads_no_data_or_model_library() -> None:
    """What keeps the host-side check quick: it never imports pandas, numpy or scikit-learn."""
    probe = "import sys, utils.arguments; print(sorted({'pandas', 'numpy', 'sklearn'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
