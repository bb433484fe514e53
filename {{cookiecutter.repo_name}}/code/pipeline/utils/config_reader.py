"""Typed, validated settings of one environment (`configs/<env>.yaml`), with environment-variable overrides.

Overrides (applied after the file is read, before validation):

- `DATABASE_URL`: SQLAlchemy URL of the job database (e.g. `postgresql+psycopg://user:pw@host/db`); dev
  and prod need it or `database.url`.
- `AWS_ENDPOINT_URL`: endpoint of every AWS API call (a local S3/SageMaker stand-in such as moto).
- `IMAGE_TAG`: tag of the job image. Without it (or `images.tag`), the tag is the digest of the image's
  build inputs (see `utils/image_inputs.py`), as the build and push scripts and local runs tag it.
- `ECR_REGISTRY`: registry host of the job image, as for the build and push scripts.
- `BASE_IMAGE`: base image of the images (`images.base_image`; default: each Dockerfile's `ARG BASE_IMAGE`).
- `PIPELINE_RUNS_DIR`: folder of local runs and the default SQLite file (default: `runs/` at the repo root).
- `PIPELINE_RUN_FOLDER`: local mode only: the run folder (`runs/<name>/`) every stage of one lifecycle writes
  to; without it each batch opens a new folder named after its own run id.
- `PIPELINE_MODEL`: the model whose settings (`models.<name>`) a batch uses, as `--model` does; not needed
  when the file has settings for one model only.
- `MLFLOW_TRACKING_URI`: where MLflow runs are logged (`tracking.uri`, see `utils/tracking.py`).
- `SAGEMAKER_SUBNETS`, `SAGEMAKER_SECURITY_GROUP_IDS`: comma-separated subnet and security group ids of the
  VPC the jobs run in (`network.subnets`, `network.security_group_ids`); an FSx for Lustre channel needs both.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from utils import naming
from utils.errors import RefusedError
from utils.image_inputs import (
    CLOUD_PLATFORM,
    BuildInputsError,
    ImageKind,
    content_tag,
    default_base_image,
    native_platform,
)

PIPELINE_DIR = Path(__file__).resolve().parents[1]
CONFIG_DIR = PIPELINE_DIR / "configs"
REPO_ROOT = PIPELINE_DIR.parents[1]

ENV_DATABASE_URL = "DATABASE_URL"
ENV_AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
ENV_IMAGE_TAG = "IMAGE_TAG"
ENV_ECR_REGISTRY = "ECR_REGISTRY"
ENV_BASE_IMAGE = "BASE_IMAGE"
# Docker's os/arch[/variant], e.g. linux/amd64 or linux/arm64.
# An ISO 8601 duration as SageMaker step caching takes it: P30D, PT12H, P1DT6H...
ISO_DURATION = r"^P((\d+[YMWD])+(T(\d+[HMS])+)?|T(\d+[HMS])+)$"
PLATFORM_PATTERN = r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$"
ENV_RUNS_DIR = "PIPELINE_RUNS_DIR"
ENV_RUN_FOLDER = "PIPELINE_RUN_FOLDER"
ENV_MODEL = "PIPELINE_MODEL"
ENV_SUBNETS = "SAGEMAKER_SUBNETS"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_SECURITY_GROUPS = "SAGEMAKER_SECURITY_GROUP_IDS"

# libyaml's loader when PyYAML was built with it (its wheels are): every batch reads its config, and the pure
# Python loader takes about 15 ms a file where libyaml takes 1.5 ms. Both report the same error marks.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A training channel's source: an S3 prefix, or a folder of an FSx for Lustre file system
# (fsx://<file-system-id>/<mount name>/<path>).
CHANNEL_SOURCE = (
    r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?|fsx://fs-[0-9a-f]{8,17}/[A-Za-z0-9]+(/\S*)?)$"
)


class ConfigError(RefusedError):
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


def _follows(rule: naming.Check) -> AfterValidator:
    """Validation by one of the naming rules in `utils.naming`, reporting the rule's own words."""

    def validate(value: str) -> str:
        problem = rule(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


NonEmpty = Annotated[str, Field(min_length=1)]
ModelName = Annotated[str, _follows(naming.check_model_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwsSettings(_Strict):
    region: Annotated[str, _follows(naming.check_region)]
    # Both are unused in local mode, where no AWS account is involved.
    account_id: Annotated[str, _follows(naming.check_account_id)] | None = None
    role_arn: Annotated[str, _follows(naming.check_role_arn)] | None = None
    endpoint_url: str | None = None


class StorageSettings(_Strict):
    bucket: Annotated[str, _follows(naming.check_bucket)]
    # Empty: the keys start at the root of the bucket.
    prefix: Annotated[str, _follows(lambda value: naming.check_prefix(value) if value else None)] = ""


class ImageSettings(_Strict):
    registry: NonEmpty
    repository_prefix: Annotated[str, _follows(naming.check_ecr_prefix)]
    # None: the digest of the image's build inputs (utils/image_inputs.py).
    tag: NonEmpty | None = None
    # None: each Dockerfile's own `ARG BASE_IMAGE` default.
    base_image: NonEmpty | None = None
    # None: linux/amd64 for SageMaker, this machine's platform for local runs.
    platform: Annotated[str, Field(pattern=PLATFORM_PATTERN)] | None = None


class DatabaseSettings(_Strict):
    """The job database. dev and prod have no default: a file on one submitter's machine would split the
    team's job records, so their URL comes from DATABASE_URL or `url`. local defaults to a SQLite file."""

    configured_url: NonEmpty | None = Field(default=None, alias="url")

    @property
    def url(self) -> str:
        """The SQLAlchemy URL; without one configured, the one-line `ConfigError` that says how to set it."""
        if self.configured_url is None:
            raise ConfigError(
                "no job database: set DATABASE_URL (e.g. postgresql+psycopg://user:password@host:5432/db) or "
                "database.url in configs/<env>.yaml; dev and prod have no default"
            )
        return self.configured_url


class JobSettings(_Strict):
    instance_type: NonEmpty
    instance_count: Annotated[int, Field(ge=1)] = 1
    volume_size_gb: Annotated[int, Field(ge=1)] = 30
    max_runtime_seconds: Annotated[int, Field(ge=60)] = 3600
    # How the data inputs are spread over `instance_count` instances: all of it to each (FullyReplicated),
    # or a share of its objects to each (ShardedByS3Key). A model input always goes whole to every instance.
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    parameters: dict[str, str | int | float | bool] = {}
    # Training only: each channel's source and input mode (see ChannelSettings).
    channels: dict[str, ChannelSettings] = {}


class ChannelSettings(_Strict):
    """Where a training channel reads from and how. No source: the preprocess run's split of that name."""

    source: Annotated[str, Field(pattern=CHANNEL_SOURCE)] | None = None
    # File: copied to the instance first; FastFile: streamed from S3 as files are read; Pipe: streamed as a
    # FIFO. An FSx for Lustre source is mounted, whatever the mode says.
    input_mode: Literal["File", "FastFile", "Pipe"] = "File"


class QualityGate(_Strict):
    """The pipeline registers a model only when `metric` of its evaluation report is at least (maximize) or
    at most (minimize) `threshold`."""

    metric: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
    direction: Literal["maximize", "minimize"] = "maximize"
    threshold: float


class RangeSettings(_Strict):
    """One hyperparameter's search range: `integer` or `continuous` from `min` to `max` (on a `scaling`), or
    `categorical` among `values`."""

    type: Literal["integer", "continuous", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str | int | float] | None = None
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _bounds_or_values(self) -> RangeSettings:
        if self.type == "categorical":
            if not self.values or self.min is not None or self.max is not None:
                raise ValueError("a categorical range takes values (at least one), not min and max")
        elif self.values is not None or self.min is None or self.max is None or self.min >= self.max:
            raise ValueError(f"an {self.type} range takes min and max, min below max, not values")
        elif self.scaling in ("Logarithmic", "ReverseLogarithmic") and self.min <= 0:
            raise ValueError(f"{self.scaling} scaling needs min above 0")
        return self


class TuningSettings(_Strict):
    """A hyperparameter search over the training job: the metric it optimises (one the training job logs,
    matched by the job's metric regex), the ranges, and how SageMaker or the local search runs the trials."""

    objective: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
    direction: Literal["maximize", "minimize"] = "maximize"
    strategy: Literal["Bayesian", "Random", "Grid", "Hyperband"] = "Bayesian"
    max_jobs: Annotated[int, Field(ge=1)]
    max_parallel_jobs: Annotated[int, Field(ge=1)] = 1
    early_stopping: Literal["Off", "Auto"] = "Off"
    ranges: Annotated[dict[str, RangeSettings], Field(min_length=1)]

    @model_validator(mode="after")
    def _strategy_fits_the_ranges(self) -> TuningSettings:
        if self.strategy == "Grid":
            continuous = sorted(name for name, item in self.ranges.items() if item.type == "continuous")
            if continuous:
                raise ValueError(
                    f"strategy Grid cannot search the continuous range {', '.join(continuous)}: list its "
                    "values as a categorical range, or use Bayesian or Random"
                )
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(f"max_parallel_jobs {self.max_parallel_jobs} is above max_jobs {self.max_jobs}")
        return self


class JobsSettings(_Strict):
    """One model's jobs: every model under `code/container/` has a block of these under `models:`."""

    preprocess: JobSettings
    training: JobSettings
    evaluation: JobSettings
    inference: JobSettings
    quality_gate: QualityGate
    # `batches.tuning`'s search; None: the model has no search configured.
    tuning: TuningSettings | None = None
    # The model `batches.inference` predicts with unless told: the latest completed training run's, or the
    # latest version approved in the model registry (dev and prod).
    inference_model: Literal["latest_training", "latest_approved"] = "latest_training"


class NetworkSettings(_Strict):
    """The VPC the jobs run in: its subnets and security groups (an FSx for Lustre channel needs both)."""

    subnets: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = []
    security_group_ids: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]] = []


class TrackingSettings(_Strict):
    """MLflow tracking (utils/tracking.py): a tracking URI or a SageMaker MLflow tracking server ARN, and the
    experiment (default `<pipeline.name>-<model>`). No URI: nothing is logged. MLFLOW_TRACKING_URI overrides
    the URI."""

    uri: NonEmpty | None = None
    experiment: NonEmpty | None = None


class PipelineSettings(_Strict):
    """SageMaker Pipelines: `<name>-<model>` names each model's pipeline and its model package group."""

    name: NonEmpty
    # How long a step's result stays reusable by a later execution with the same inputs (ISO 8601 duration,
    # e.g. P30D or PT12H); None: no step caching.
    cache_expire_after: Annotated[str, Field(pattern=ISO_DURATION)] | None = None
    # True: the pipeline trains with the model's hyperparameter search (models.<model>.tuning) as a tuning
    # step, and evaluates its best model (a local run runs the local search in the step's place).
    tuning: bool = False


class Config(_Strict):
    environment: Environment
    mode: Mode
    aws: AwsSettings
    # Where S3 data lives; local mode keeps everything under runs_dir instead.
    storage: StorageSettings | None = None
    images: ImageSettings
    database: DatabaseSettings
    network: NetworkSettings = NetworkSettings()
    tracking: TrackingSettings = TrackingSettings()
    pipeline: PipelineSettings
    models: Annotated[dict[ModelName, JobsSettings], Field(min_length=1)]
    # The model a batch works on (`--model`, PIPELINE_MODEL or the only one); None while several are possible.
    selected_model: ModelName | None = None
    runs_dir: Path
    # The local run folder shared by the stages of one lifecycle (runs/<run folder>/); see utils/layout.py.
    run_folder: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] | None = None

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

    @property
    def model_name(self) -> str:
        if self.selected_model is None:
            raise ConfigError(
                f"settings for several models ({', '.join(sorted(self.models))}): "
                f"choose one with --model NAME "
                f"(or {ENV_MODEL}=NAME)"
            )
        return self.selected_model

    @property
    def jobs(self) -> JobsSettings:
        """The job settings of the selected model."""
        return self.models[self.model_name]

    @property
    def image_platform(self) -> str:
        """The platform images are built for: `images.platform`, else what this environment's jobs run on."""
        return self.images.platform or (native_platform() if self.is_local else CLOUD_PLATFORM)

    def base_image(self, kind: ImageKind = ImageKind.MODEL) -> str:
        """`images.base_image` (or BASE_IMAGE), else the Dockerfile's own default."""
        try:
            return self.images.base_image or default_base_image(kind)
        except BuildInputsError as exc:
            raise ConfigError(f"{exc}; set images.base_image or BASE_IMAGE") from None

    def image_repository(self, kind: ImageKind = ImageKind.MODEL) -> str:
        """`<repository_prefix>/<model>` for the selected model's image, `<repository_prefix>/pipeline`."""
        name = self.model_name if kind is ImageKind.MODEL else ImageKind.PIPELINE.value
        return f"{self.images.repository_prefix}/{name}"

    def image_tag(self, kind: ImageKind = ImageKind.MODEL, platform_name: str | None = None) -> str:
        """`images.tag` (or IMAGE_TAG), else the digest of the image's build inputs for the platform."""
        if self.images.tag is not None:
            return self.images.tag
        try:
            return content_tag(
                kind,
                self.model_name if kind is ImageKind.MODEL else None,
                base_image=self.base_image(kind),
                platform_name=platform_name or self.image_platform,
            )
        except BuildInputsError as exc:
            raise ConfigError(f"no image tag: set IMAGE_TAG (or images.tag), as {exc}") from None

    def image_uri(self, kind: ImageKind = ImageKind.MODEL, platform_name: str | None = None) -> str:
        """`<registry>/<repository_prefix>/<model or pipeline>:<tag>`, the one name of an image everywhere."""
        return f"{self.images.registry}/{self.image_repository(kind)}:{self.image_tag(kind, platform_name)}"


# Environment variables that override one setting each: (variable, section, key).
_OVERRIDES = (
    (ENV_DATABASE_URL, "database", "url"),
    (ENV_AWS_ENDPOINT_URL, "aws", "endpoint_url"),
    (ENV_IMAGE_TAG, "images", "tag"),
    (ENV_ECR_REGISTRY, "images", "registry"),
    (ENV_BASE_IMAGE, "images", "base_image"),
    (ENV_SUBNETS, "network", "subnets"),
    (ENV_SECURITY_GROUPS, "network", "security_group_ids"),
    (ENV_TRACKING_URI, "tracking", "uri"),
)
# Overrides given as a comma-separated list.
_LIST_OVERRIDES = {ENV_SUBNETS, ENV_SECURITY_GROUPS}


def _apply_overrides(raw: dict[str, Any], environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    for variable, section, key in _OVERRIDES:
        value: str | list[str] | None = environ.get(variable)
        if not value:
            continue
        if variable in _LIST_OVERRIDES:
            value = [item.strip() for item in str(value).split(",") if item.strip()]
        if raw.get(section) is None:  # missing, or a section left empty in the file
            raw[section] = {}
        if isinstance(raw[section], dict):  # anything else is the file's mistake, reported by validation
            raw[section][key] = value
    raw["runs_dir"] = Path(environ.get(ENV_RUNS_DIR) or REPO_ROOT / "runs").resolve()
    if environ.get(ENV_RUN_FOLDER):
        raw["run_folder"] = environ[ENV_RUN_FOLDER]
    return raw


def _resolve_sqlite_path(url: str, runs_dir: Path) -> str:
    """A relative SQLite path (`sqlite:///x.db`) lives in the runs folder, whatever the working directory."""
    match = re.fullmatch(r"sqlite(\+\w+)?:///(?!/)(.+)", url)
    if match and match.group(2) != ":memory:":
        return f"sqlite{match.group(1) or ''}:///{(runs_dir / match.group(2)).as_posix()}"
    return url


def _describe(error: ValidationError, source: Path) -> str:
    """Every problem on one line, each naming its key; a misspelt key is named with the key it stands for."""
    problems = error.errors()

    def dotted(loc: tuple[Any, ...]) -> str:
        return ".".join(str(part) for part in loc) or "(top level)"

    missing = {tuple(p["loc"]) for p in problems if p["type"] == "missing"}
    meant: dict[tuple[Any, ...], str] = {}
    for problem in problems:
        if problem["type"] == "extra_forbidden":
            loc = tuple(problem["loc"])
            siblings = [str(m[-1]) for m in missing if m[:-1] == loc[:-1] and m[-1] not in meant.values()]
            guess = difflib.get_close_matches(str(loc[-1]), siblings, n=1)
            if guess:
                meant[loc] = guess[0]
    explained = {(*loc[:-1], key) for loc, key in meant.items()}
    unknown: list[str] = []
    others: list[str] = []
    for problem in problems:
        loc = tuple(problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        if loc in explained:
            continue
        if problem["type"] == "extra_forbidden":
            hint = f": did you mean {meant[loc]!r}?" if loc in meant else ""
            unknown.append(f"{dotted(loc)}: unknown key {loc[-1]!r}{hint}")
        elif loc[-1:] == ("[key]",):
            others.append(f"{dotted(loc[:-2])}: {loc[-2]!r} is not a valid name: {message}")
        else:
            others.append(f"{dotted(loc)}: {message}")
    return f"{source}: " + "; ".join(unknown + others)


def load_config(
    env: str,
    config_dir: Path | None = None,
    environ: dict[str, str] | None = None,
    model: str | None = None,
) -> Config:
    """Read, override and validate `configs/<env>.yaml`; any problem raises one `ConfigError` line.

    `model` (else PIPELINE_MODEL, else the only model of the file) selects the settings block under `models:`.
    """
    source = (config_dir or CONFIG_DIR) / f"{env}.yaml"
    variables = os.environ if environ is None else environ
    if env not in {e.value for e in Environment}:
        raise ConfigError(f"unknown environment {env!r}: expected one of local, dev, prod")
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file ({exc.strerror})") from None
    try:
        raw = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
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
    requested = model or variables.get(ENV_MODEL) or None
    if requested is not None and requested not in config.models:
        raise ConfigError(
            f"{source}: models: no settings for model {requested!r} "
            f"(models: {', '.join(sorted(config.models))})"
        )
    selected = requested or (next(iter(config.models)) if len(config.models) == 1 else None)
    database, tracking = config.database, config.tracking
    if database.configured_url is not None:
        database = database.model_copy(
            update={"configured_url": _resolve_sqlite_path(database.configured_url, config.runs_dir)}
        )
    if tracking.uri is not None:
        tracking = tracking.model_copy(update={"uri": _resolve_sqlite_path(tracking.uri, config.runs_dir)})
    return config.model_copy(update={"database": database, "tracking": tracking, "selected_model": selected})


def _model_blocks(lines: list[str]) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """The `models:` section of a config file (first line, end) and each model's block in it (start, end)."""
    try:
        start = lines.index("models:\n")
    except ValueError:
        raise ConfigError("no top-level 'models:' section") from None
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "#", "\n")), len(lines)
    )
    blocks: dict[str, tuple[int, int]] = {}
    header = re.compile(r"^  ([a-z][a-z0-9_]*):\s*$")
    for index in range(start + 1, end):
        match = header.match(lines[index])
        if match:
            if blocks:
                last = next(reversed(blocks))
                blocks[last] = (blocks[last][0], index)
            blocks[match.group(1)] = (index, end)
    return start, end, blocks


def add_model_settings(name: str, source: str, config_dir: Path | None = None) -> list[Path]:
    """Give model `name` a copy of `source`'s settings in every environment's config, comments included.

    Every file is checked before any is written and each is replaced whole, so a problem changes none.
    """
    directory = config_dir or CONFIG_DIR
    updated: dict[Path, str] = {}
    for env in Environment:
        path = directory / f"{env.value}.yaml"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        try:
            _, end, blocks = _model_blocks(lines)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if name in blocks:
            raise ConfigError(f"{path}: models: {name} has settings already")
        if source not in blocks:
            raise ConfigError(f"{path}: models: no settings for model {source!r} to copy")
        first, last = blocks[source]
        while last > first + 1 and not lines[last - 1].strip():
            last -= 1
        copied = [f"  {name}:\n", *lines[first + 1 : last]]
        if copied[-1][-1:] != "\n":
            copied[-1] += "\n"
        insert_at = end
        while insert_at > first and not lines[insert_at - 1].strip():
            insert_at -= 1
        text = "".join(lines[:insert_at] + copied + lines[insert_at:])
        updated[path] = text
    with tempfile.TemporaryDirectory() as scratch:
        for path, text in updated.items():
            (Path(scratch) / path.name).write_text(text, encoding="utf-8")
        for env in Environment:
            load_config(env.value, config_dir=Path(scratch), environ={}, model=name)
    for path, text in updated.items():
        partial = path.with_name(f".{path.name}.new")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return list(updated)


def _platform(value: str) -> str:
    if not re.fullmatch(PLATFORM_PATTERN, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a platform such as linux/amd64")
    return value


def image_settings(env: str, kind: ImageKind, model: str | None, platform_name: str | None) -> dict[str, str]:
    """What the image scripts need of one image in one environment, all from `configs/<env>.yaml`."""
    config = load_config(env, model=model)
    chosen = platform_name or config.image_platform
    repository, tag = config.image_repository(kind), config.image_tag(kind, chosen)  # hashes the inputs once
    return {
        "reference": f"{config.images.registry}/{repository}:{tag}",
        "registry": config.images.registry,
        "repository": repository,
        "tag": tag,
        "region": config.aws.region,
        "base_image": config.base_image(kind),
        "platform": chosen,
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m utils.config_reader COMMAND`: the configs as scripts/ need them."""
    parser = argparse.ArgumentParser(prog="python -m utils.config_reader", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser(
        "add-model",
        help="copy a model's settings block to a new model in every config (scripts/new_model.sh)",
    )
    add.add_argument("name")
    add.add_argument("--from", dest="source", required=True)
    image = commands.add_parser(
        "image",
        help="print KEY=VALUE lines (reference, registry, repository, tag, region, base_image, platform) of "
        "one image, for scripts/docker",
    )
    image.add_argument("--env", required=True, choices=[env.value for env in Environment])
    which = image.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="a model's job image")
    which.add_argument("--pipeline", action="store_true", help="the pipeline image")
    image.add_argument("--platform", type=_platform, help="build platform (default: the environment's)")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "image":
            kind = ImageKind.PIPELINE if arguments.pipeline else ImageKind.MODEL
            settings = image_settings(arguments.env, kind, arguments.model, arguments.platform)
            print("\n".join(f"{key}={value}" for key, value in settings.items()))
            return 0
        paths = add_model_settings(arguments.name, arguments.source)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"added models.{arguments.name} to {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
