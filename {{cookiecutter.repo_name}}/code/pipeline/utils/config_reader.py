"""Typed, validated settings of one environment (`configs/<env>.yaml`), with environment-variable overrides.

Overrides (applied after the file is read, before validation):

- `DATABASE_URL`: SQLAlchemy URL of the job database (e.g. `postgresql+psycopg://user:pw@host/db`).
- `AWS_ENDPOINT_URL`: endpoint of every AWS API call (a local S3/SageMaker stand-in such as moto).
- `IMAGE_TAG`: tag of the job image. Without it (or `images.tag`), the tag is the one
  `scripts/docker/*/build.sh` gives the current commit: its short SHA, plus `-dirty` for uncommitted changes.
- `ECR_REGISTRY`: registry host of the job image, as for the build and push scripts.
- `PIPELINE_RUNS_DIR`: folder of local runs and the default SQLite file (default: `runs/` at the repo root).
- `PIPELINE_RUN_ID`: local mode only: the run folder (`runs/<id>/`) every stage of one lifecycle writes to;
  without it each batch opens a new folder named after its own run id.
- `PIPELINE_MODEL`: the model (a folder of `code/container/`) instead of the file's `model_name`.
"""

from __future__ import annotations

import os
import re
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PIPELINE_DIR = Path(__file__).resolve().parents[1]
CONFIG_DIR = PIPELINE_DIR / "configs"
REPO_ROOT = PIPELINE_DIR.parents[1]

ENV_DATABASE_URL = "DATABASE_URL"
ENV_AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
ENV_IMAGE_TAG = "IMAGE_TAG"
ENV_ECR_REGISTRY = "ECR_REGISTRY"
ENV_RUNS_DIR = "PIPELINE_RUNS_DIR"
ENV_RUN_ID = "PIPELINE_RUN_ID"
ENV_MODEL = "PIPELINE_MODEL"


class ConfigError(Exception):
    """A configuration problem, worded for the person who runs a batch."""


class Environment(StrEnum):
    LOCAL = "local"
    DEV = "dev"
    PROD = "prod"


class Mode(StrEnum):
    """`local` runs the job images with Docker on this machine (SageMaker local mode); `sagemaker` submits
    real jobs."""

    LOCAL = "local"
    SAGEMAKER = "sagemaker"


NonEmpty = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwsSettings(_Strict):
    region: NonEmpty
    # Both are unused in local mode, where no AWS account is involved.
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    role_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")] | None = None
    endpoint_url: str | None = None


class StorageSettings(_Strict):
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    prefix: str = ""

    @field_validator("prefix")
    @classmethod
    def _no_surrounding_slashes(cls, value: str) -> str:
        if value != value.strip("/"):
            raise ValueError("must not start or end with '/'")
        return value


class ImageSettings(_Strict):
    registry: NonEmpty
    repository_prefix: NonEmpty
    tag: NonEmpty | None = None


class DatabaseSettings(_Strict):
    url: NonEmpty


class JobSettings(_Strict):
    instance_type: NonEmpty
    instance_count: Annotated[int, Field(ge=1)] = 1
    volume_size_gb: Annotated[int, Field(ge=1)] = 30
    max_runtime_seconds: Annotated[int, Field(ge=60)] = 3600
    parameters: dict[str, str | int | float | bool] = {}


class JobsSettings(_Strict):
    preprocess: JobSettings
    training: JobSettings
    evaluation: JobSettings
    inference: JobSettings


class Config(_Strict):
    environment: Environment
    mode: Mode
    model_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    aws: AwsSettings
    # Where S3 data lives; local mode keeps everything under runs_dir instead.
    storage: StorageSettings | None = None
    images: ImageSettings
    database: DatabaseSettings
    jobs: JobsSettings
    runs_dir: Path
    # The local run folder shared by the stages of one lifecycle (runs/<run_id>/); see utils/layout.py.
    run_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] | None = None

    @model_validator(mode="after")
    def _sagemaker_mode_needs_an_account(self) -> Config:
        if self.mode is Mode.SAGEMAKER:
            missing = [
                name
                for name, value in (
                    ("storage", self.storage),
                    ("aws.account_id", self.aws.account_id),
                    ("aws.role_arn", self.aws.role_arn),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} required when mode is sagemaker")
        return self

    @property
    def is_local(self) -> bool:
        return self.mode is Mode.LOCAL

    def image_uri(self, image_name: str | None = None) -> str:
        """The job image; every model image is `<registry>/<repository_prefix>/<model>:<tag>`."""
        if self.images.tag is None:
            raise ConfigError(
                "no image tag: set IMAGE_TAG (or images.tag), or run from a git checkout with a commit"
            )
        name = image_name or self.model_name
        return f"{self.images.registry}/{self.images.repository_prefix}/{name}:{self.images.tag}"


def _apply_overrides(raw: dict[str, Any], environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    if environ.get(ENV_DATABASE_URL):
        raw.setdefault("database", {})
        if isinstance(raw["database"], dict):
            raw["database"]["url"] = environ[ENV_DATABASE_URL]
    if environ.get(ENV_AWS_ENDPOINT_URL):
        raw.setdefault("aws", {})
        if isinstance(raw["aws"], dict):
            raw["aws"]["endpoint_url"] = environ[ENV_AWS_ENDPOINT_URL]
    for variable, key in ((ENV_IMAGE_TAG, "tag"), (ENV_ECR_REGISTRY, "registry")):
        if environ.get(variable):
            raw.setdefault("images", {})
            if isinstance(raw["images"], dict):
                raw["images"][key] = environ[variable]
    raw["runs_dir"] = Path(environ.get(ENV_RUNS_DIR) or REPO_ROOT / "runs").resolve()
    if environ.get(ENV_RUN_ID):
        raw["run_id"] = environ[ENV_RUN_ID]
    if environ.get(ENV_MODEL):
        raw["model_name"] = environ[ENV_MODEL]
    return raw


def _resolve_sqlite_path(url: str, runs_dir: Path) -> str:
    """A relative SQLite path (`sqlite:///x.db`) lives in the runs folder, whatever the working directory."""
    match = re.fullmatch(r"sqlite(\+\w+)?:///(?!/)(.+)", url)
    if match and match.group(2) != ":memory:":
        return f"sqlite{match.group(1) or ''}:///{(runs_dir / match.group(2)).as_posix()}"
    return url


def commit_tag(repo_root: Path = REPO_ROOT) -> str | None:
    """The tag the build script gives this checkout's images, or None outside a git checkout."""

    def git(*args: str) -> str:
        command = ["git", "-C", str(repo_root), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=normal")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def _describe(error: ValidationError, source: Path) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{source}: {key}: {first['msg']}{more}"


def load_config(env: str, config_dir: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read, override and validate `configs/<env>.yaml`; any problem raises one `ConfigError` line."""
    source = (config_dir or CONFIG_DIR) / f"{env}.yaml"
    variables = os.environ if environ is None else environ
    if env not in {e.value for e in Environment}:
        raise ConfigError(f"unknown environment {env!r}: expected one of local, dev, prod")
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping of settings")
    if raw.get("environment") not in (None, env):
        raise ConfigError(f"{source}: environment: is {raw['environment']!r} but the file is for {env!r}")
    raw = _apply_overrides(raw, variables)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    database = config.database.model_copy(
        update={"url": _resolve_sqlite_path(config.database.url, config.runs_dir)}
    )
    images = config.images
    if images.tag is None:
        images = images.model_copy(update={"tag": commit_tag()})
    return config.model_copy(update={"database": database, "images": images})
