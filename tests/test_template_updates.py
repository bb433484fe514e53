"""A generated repository follows template changes with cruft, keeping what the team changed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.bake import clean_env, commit_all, run, template_repository, tool


def test_cruft_update_brings_template_changes_without_conflicts(tmp_path: Path) -> None:
    env = clean_env()
    template = template_repository(tmp_path / "template")
    output = tmp_path / "out"
    run([tool("cruft"), "create", str(template), "--no-input", "--output-dir", str(output)], env=env)
    project = output / "tabular-classifier"
    assert json.loads((project / ".cruft.json").read_text())["template"] == str(template)
    commit_all(project, "generated")

    # The team changes a file of its own; the template changes a different one.
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# team note: keep this line\n")
    commit_all(project, "team change")
    editorconfig = template / "{{cookiecutter.repo_name}}" / ".editorconfig"
    editorconfig.write_text(editorconfig.read_text() + "\n[*.sql]\nindent_size = 2\n")
    commit_all(template, "template change")

    run([tool("cruft"), "check"], cwd=project, env=env, check=False)
    run([tool("cruft"), "update", "--skip-apply-ask", "--allow-untracked-files"], cwd=project, env=env)

    assert "[*.sql]" in (project / ".editorconfig").read_text()
    assert "# team note: keep this line" in makefile.read_text()
    assert list(project.rglob("*.rej")) == []
    status = run(["git", "status", "--porcelain"], cwd=project, env=env).stdout
    assert "UU " not in status
    run([tool("cruft"), "check"], cwd=project, env=env)
