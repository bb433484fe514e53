"""Hyperparameters as the training toolkit passes them: `--name value`, JSON-decoded first."""

from __future__ import annotations

import pytest

from utils.hyperparameters import HyperparameterError, Hyperparameters, parse_bool, parse_hyperparameters


def test_defaults_without_arguments() -> None:
    assert parse_hyperparameters([]) == Hyperparameters()


def test_values_are_typed() -> None:
    parsed = parse_hyperparameters(
        [
            "--learning_rate",
            "0.05",
            "--max_depth",
            "2",
            "--n_estimators",
            "40",
            "--resume_from_checkpoint",
            "False",
        ]
    )
    assert parsed == Hyperparameters(
        learning_rate=0.05, max_depth=2, n_estimators=40, resume_from_checkpoint=False
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("True", True), ("true", True), ("1", True), ("False", False), ("no", False), ("0", False)],
)
def test_booleans_are_parsed_not_truthy(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resume_from_checkpoint", "maybe"], "not a boolean"),
        (["--max_depth", "deep"], "invalid int value"),
        (["--learning-rate", "0.1"], "unrecognized arguments"),
        (["--n_estim", "5"], "unrecognized arguments"),
        (["--learning_rate", "0"], r"learning_rate=0.0 must be in \(0, 1\]"),
        (["--n_estimators", "0", "--subsample", "2"], "n_estimators=0.*subsample=2.0"),
    ],
)
def test_bad_hyperparameters_say_what_is_wrong(argv: list[str], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message):
        parse_hyperparameters(argv)
