"""Finish a freshly rendered repository: prune, set run bits, record the answers, print the next steps.

Cookiecutter runs this inside the new repository. Every step is idempotent, so running it again (as cruft does on
updates) changes nothing that is already right and never touches files the team created.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

# tojson escapes every ' so the raw triple-single-quoted string cannot be closed early by any answer.
ANSWERS: dict[str, object] = json.loads(r'''{{ cookiecutter | tojson }}''')  # fmt: skip

ANSWERS_FILE = ".cookiecutter.json"
# Context keys that describe the machine that rendered the repo, not the repo: never recorded.
MACHINE_KEYS = frozenset({"_output_dir", "_repo_dir"})
EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def excluded_paths(answers: Mapping[str, object]) -> list[str]:
    """Paths (relative to the repo) that the answers leave out."""
    paths: list[str] = []
    if answers.get("include_github_actions") != "yes":
        paths.append(".github")
    return paths


def prune(project: Path, answers: Mapping[str, object]) -> None:
    for relative in excluded_paths(answers):
        target = project / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def make_scripts_executable(project: Path) -> None:
    for script in sorted((project / "scripts").rglob("*.sh")):
        mode = script.stat().st_mode
        if mode & EXECUTABLE != EXECUTABLE:
            script.chmod(mode | EXECUTABLE)


def recorded_answers(answers: Mapping[str, object]) -> dict[str, object]:
    """The answers in cookiecutter's replay format (``cookiecutter --replay-file .cookiecutter.json``)."""
    kept = {
        key: value
        for key, value in answers.items()
        if key not in MACHINE_KEYS and (not key.startswith("_") or key == "_template")
    }
    return {"cookiecutter": dict(sorted(kept.items()))}


def record_answers(project: Path, answers: Mapping[str, object]) -> None:
    text = json.dumps(recorded_answers(answers), indent=2, ensure_ascii=False) + "\n"
    target = project / ANSWERS_FILE
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def next_steps(answers: Mapping[str, object]) -> str:
    return "\n".join(
        [
            f"Created {answers['repo_name']}. Next steps:",
            f"  cd {answers['repo_name']}",
            "  git init && git add --all && git commit -m 'Initial commit'",
            "  make setup            # install the pipeline and model Poetry projects",
            "  make test             # fast unit tests, no Docker",
            "  make local-pipeline   # the whole lifecycle on SageMaker local mode, in Docker",
            "  make help             # every other command",
        ]
    )


def main() -> int:
    project = Path.cwd()
    prune(project, ANSWERS)
    make_scripts_executable(project)
    record_answers(project, ANSWERS)
    print(next_steps(ANSWERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
