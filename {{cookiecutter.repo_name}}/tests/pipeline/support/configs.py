"""Configs a test edits: a copy of configs/ with some settings changed, the repo's own files untouched."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from utils.config_reader import CONFIG_DIR


def edited_configs(tmp_path: Path, edit: Callable[[dict[str, Any]], None], *envs: str) -> Path:
    """A copy of configs/ under `tmp_path` in which `edit` changed the parsed settings of each of `envs`."""
    folder = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, folder, dirs_exist_ok=True)
    for env in envs:
        path = folder / f"{env}.yaml"
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(raw)
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return folder


def every_model(block: str, settings: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """An edit that updates `models.<each model>.<block>` with `settings`."""

    def edit(raw: dict[str, Any]) -> None:
        for model in raw["models"].values():
            model[block] = {**model.get(block, {}), **settings}

    return edit
