"""The exact tree a render must produce, per answers: the reference the render tests compare against."""

from __future__ import annotations

from collections.abc import Mapping

COMMON = [
    ".cookiecutter.json",
    ".dockerignore",
    ".editorconfig",
    ".gitignore",
    ".python-version",
    "Makefile",
    "code/container/{model}/poetry.toml",
    "code/pipeline/poetry.toml",
]

GITHUB_ACTIONS = [
    ".github/workflows/ci.yml",
]


def expected_files(answers: Mapping[str, object]) -> set[str]:
    paths = list(COMMON)
    if answers["include_github_actions"] == "yes":
        paths += GITHUB_ACTIONS
    return {path.format(model=answers["model_name"]) for path in paths}
