"""Typed, validated training hyperparameters parsed from the arguments SageMaker's toolkit passes.

The toolkit turns each hyperparameter into `--name value` after JSON-decoding it, so a JSON `true` arrives as
the text `True`: booleans are parsed explicitly rather than with `bool()`, which is true for any text.
Names use underscores because hyphenated names become environment variables a shell cannot read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from utils.errors import JobError

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


class HyperparameterError(JobError):
    """A hyperparameter is unknown, malformed or out of range."""


@dataclass(frozen=True)
class Hyperparameters:
    n_estimators: int = 100
    learning_rate: float = 0.1
    max_depth: int = 3
    subsample: float = 1.0
    random_state: int = 42
    checkpoint_interval: int = 25
    resume_from_checkpoint: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.n_estimators <= 5000:
            problems.append(f"n_estimators={self.n_estimators} must be between 1 and 5000")
        if not 0 < self.learning_rate <= 1:
            problems.append(f"learning_rate={self.learning_rate} must be in (0, 1]")
        if not 1 <= self.max_depth <= 32:
            problems.append(f"max_depth={self.max_depth} must be between 1 and 32")
        if not 0 < self.subsample <= 1:
            problems.append(f"subsample={self.subsample} must be in (0, 1]")
        if self.random_state < 0:
            problems.append(f"random_state={self.random_state} must be 0 or more")
        if self.checkpoint_interval < 1:
            problems.append(f"checkpoint_interval={self.checkpoint_interval} must be 1 or more")
        if problems:
            raise HyperparameterError("; ".join(problems))


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (use true or false)")


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise HyperparameterError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _RaisingParser(prog="training", allow_abbrev=False, add_help=False)
    converters: dict[type, Callable[[str], object]] = {int: int, float: float, bool: parse_bool}
    defaults = Hyperparameters()
    for field in fields(Hyperparameters):
        kind = type(getattr(defaults, field.name))
        parser.add_argument(f"--{field.name}", type=converters[kind], default=getattr(defaults, field.name))
    return parser


def parse_hyperparameters(argv: Sequence[str]) -> Hyperparameters:
    """Hyperparameters from `--name value` pairs; unknown names and bad values raise HyperparameterError."""
    namespace = _parser().parse_args(list(argv))
    return Hyperparameters(**vars(namespace))
