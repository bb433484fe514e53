"""Every job's command line, parsed as the job parses it, and a check of arguments without running the job:

    python -m utils.arguments JOB [ARGUMENT...]

exits 0 when the job would accept them, or prints the job's own message and exits 1 (2: no such job). The
pipeline runs it on the host before it records or creates a job, so a bad or misspelt parameter is refused in
a fraction of a second rather than by a container that already started. This module imports no pandas or
scikit-learn, which is what keeps it that quick.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from utils.errors import JobError
from utils.hyperparameters import parse_hyperparameters
from utils.job import add_threshold_option, job_argument_parser


def preprocess_arguments(argv: Sequence[str], description: str | None = None) -> argparse.Namespace:
    parser = job_argument_parser("python3 -m jobs.preprocess", description)
    parser.add_argument("--train-ratio", type=float, default=0.7)
    parser.add_argument("--validation-ratio", type=float, default=0.15)
    parser.add_argument("--test-ratio", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42, help="seed of the stratified split")
    return parser.parse_args(list(argv))


def evaluation_arguments(argv: Sequence[str], description: str | None = None) -> argparse.Namespace:
    parser = job_argument_parser("python3 -m jobs.evaluation", description)
    add_threshold_option(parser)
    return parser.parse_args(list(argv))


def inference_arguments(argv: Sequence[str], description: str | None = None) -> argparse.Namespace:
    parser = job_argument_parser("python3 -m jobs.inference", description)
    add_threshold_option(parser)
    return parser.parse_args(list(argv))


PARSERS: dict[str, Callable[[Sequence[str]], object]] = {
    "training": parse_hyperparameters,
    "preprocess": preprocess_arguments,
    "evaluation": evaluation_arguments,
    "inference": inference_arguments,
}


def check(job: str, arguments: Sequence[str]) -> str | None:
    """The job's message for these arguments, or None when it accepts them."""
    try:
        PARSERS[job](list(arguments))
    except JobError as error:
        return str(error)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in PARSERS:
        print(
            f"usage: python -m utils.arguments JOB [ARGUMENT...]; JOB: {', '.join(PARSERS)}", file=sys.stderr
        )
        return 2
    problem = check(args[0], args[1:])
    if problem is not None:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
