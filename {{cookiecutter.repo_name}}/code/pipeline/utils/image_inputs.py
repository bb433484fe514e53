"""The one tag rule of this repository's images: a digest of everything an image is built from.

An image's tag is the first 12 hex digits of a SHA-256 over its build inputs: the Dockerfile up to the built
stage, `.dockerignore`, every file the Dockerfile copies from the build context (as `.dockerignore` lets it
through), the base image's name and the target platform. Local runs, `scripts/docker/*/build.sh`,
`push.sh` and the batches that submit jobs all derive the tag here, so

- the same tree gives the same tag on every machine and in every clone (paths are hashed relative to the
  repository, git is not involved: a branch or an edited tree has a tag of its own);
- a change to a file the image does not copy (a README, a test, an ignored `.env`) leaves the tag as it is;
- `IMAGE_TAG` (or `images.tag` in a config) still names another tag explicitly.

It imports only the standard library: `utils.config_reader` uses it, and so do the shell scripts through
`python -m utils.config_reader image`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import platform
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
# SageMaker's instances are x86_64 unless a job asks for Graviton (then set images.platform).
CLOUD_PLATFORM = "linux/amd64"
TAG_LENGTH = 12
# The Dockerfiles' final stage that jobs run (the test stage adds test tools on top of it).
RUNTIME_TARGET = "runtime"

_FROM = re.compile(r"^FROM\s+\S+(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.IGNORECASE)
_COPY = re.compile(r"^COPY\s+(?P<arguments>.+)$", re.IGNORECASE)
_ARG_DEFAULT = re.compile(r"^ARG\s+BASE_IMAGE=(?P<image>\S+)\s*$")


class ImageKind(StrEnum):
    MODEL = "model"
    PIPELINE = "pipeline"


class BuildInputsError(Exception):
    """The build inputs of an image cannot be read (e.g. inside the pipeline image, which has none)."""


def dockerfile(kind: ImageKind, repo_root: Path = REPO_ROOT) -> Path:
    folder = "container" if kind is ImageKind.MODEL else "pipeline"
    return repo_root / "scripts" / "docker" / folder / "Dockerfile"


def default_base_image(kind: ImageKind, repo_root: Path = REPO_ROOT) -> str:
    """The Dockerfile's own `ARG BASE_IMAGE=` default."""
    for line in _read(dockerfile(kind, repo_root)).splitlines():
        match = _ARG_DEFAULT.match(line.strip())
        if match:
            return match.group("image")
    raise BuildInputsError(f"{dockerfile(kind, repo_root)} has no `ARG BASE_IMAGE=<image>` default")


def native_platform() -> str:
    """This machine's platform in Docker's words (what a build without --platform produces)."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"linux/{arch}"


def content_tag(
    kind: ImageKind,
    model: str | None,
    *,
    base_image: str,
    platform_name: str,
    target: str = RUNTIME_TARGET,
    repo_root: Path = REPO_ROOT,
) -> str:
    """The tag of `kind`'s image (of `model` for a model image) built for `target` on `platform_name`."""
    recipe = _stages_up_to(_read(dockerfile(kind, repo_root)), target)
    digest = hashlib.sha256()
    for part in (f"kind {kind.value}", f"target {target}", f"base {base_image}", f"platform {platform_name}"):
        digest.update(part.encode() + b"\n")
    digest.update(b"dockerfile\n" + "\n".join(recipe).encode() + b"\n")
    ignore = _read(repo_root / ".dockerignore")
    digest.update(b"dockerignore\n" + ignore.encode() + b"\n")
    never = _never_patterns(ignore)
    for path in sorted(set(_copied_files(recipe, model or "", repo_root, never))):
        digest.update(f"file {path.relative_to(repo_root).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:TAG_LENGTH]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildInputsError(f"cannot read {path}, a build input of the images ({exc.strerror})") from None


def _stages_up_to(text: str, target: str) -> list[str]:
    """The Dockerfile's instructions (continuations joined, comments dropped) up to the end of `target`."""
    instructions: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instructions.append(pending + line)
        pending = ""
    kept: list[str] = []
    seen_target = False
    for instruction in instructions:
        stage = _FROM.match(instruction)
        if stage:
            if seen_target:
                break
            seen_target = stage.group("stage") == target
        kept.append(instruction)
    if not seen_target:
        raise BuildInputsError(f"the Dockerfile has no stage named {target!r}")
    return kept


def _never_patterns(dockerignore: str) -> list[str]:
    """`.dockerignore`'s `**/NAME` rules: names left out at any depth, even inside an allowed folder."""
    return [line.strip()[3:] for line in dockerignore.splitlines() if line.strip().startswith("**/")]


def _copied_files(recipe: list[str], model: str, repo_root: Path, never: list[str]) -> Iterator[Path]:
    for instruction in recipe:
        match = _COPY.match(instruction)
        if not match:
            continue
        words = match.group("arguments").split()
        if any(word.startswith("--from") for word in words):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            relative = source.replace("${MODEL_NAME}", model).replace("$MODEL_NAME", model)
            yield from _files_under(repo_root / relative, repo_root, never)


def _files_under(path: Path, repo_root: Path, never: list[str]) -> Iterator[Path]:
    if not path.exists():
        raise BuildInputsError(f"{path.relative_to(repo_root)}, which the Dockerfile copies, does not exist")
    candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for candidate in candidates:
        parts = candidate.relative_to(repo_root).parts
        if not any(fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in never):
            yield candidate
