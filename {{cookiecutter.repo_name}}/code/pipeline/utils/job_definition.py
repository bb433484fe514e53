"""One SageMaker job, described once: what runs (image, command), on what data, with which parameters and
resources. Submitting it to SageMaker (`utils.aws.sagemaker_client`) and running it in local mode
(`utils.aws.local_mode`) are executors of the same description, and both answer with a `JobResult`.

Pure data and the rules that build it from the config; imports no AWS library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from utils.config_reader import (
    CHANNEL_SOURCE,
    ENV_SECURITY_GROUPS,
    ENV_SUBNETS,
    ChannelSettings,
    Config,
    JobSettings,
)
from utils.db.enum import JobStatus, JobType
from utils.errors import RefusedError
from utils.job_specs import (
    MODEL_INPUT,
    PROCESSING_SPECS,
    TRAINING_CHANNELS,
    TRAINING_METRICS,
    TRAINING_OUTPUTS,
    training_input_path,
)
from utils.layout import RunLayout

Parameter = str | int | float | bool
Distribution = Literal["FullyReplicated", "ShardedByS3Key"]
InputMode = Literal["File", "FastFile", "Pipe"]
_FSX = re.compile(r"^fsx://(?P<file_system>fs-[0-9a-f]+)(?P<path>/.+)$")


@dataclass(frozen=True)
class FsxLocation:
    """A folder of an FSx for Lustre file system: `fsx://<file-system-id>/<mount name>/<path>`."""

    file_system_id: str
    directory_path: str  # /<mount name>/<path>, as SageMaker takes it

    @classmethod
    def parse(cls, uri: str) -> FsxLocation | None:
        match = _FSX.match(uri)
        return cls(match["file_system"], match["path"].rstrip("/")) if match else None


@dataclass(frozen=True)
class DataInput:
    """A location the job reads, mounted at `container_path`. With several instances, `FullyReplicated`
    gives every instance all of it and `ShardedByS3Key` each instance a share of its objects. A training
    channel reads it in `input_mode`; an FSx for Lustre location is mounted."""

    uri: str
    container_path: str
    distribution: Distribution = "FullyReplicated"
    input_mode: InputMode = "File"

    @property
    def fsx(self) -> FsxLocation | None:
        return FsxLocation.parse(self.uri)


@dataclass(frozen=True)
class Network:
    """The VPC a job runs in."""

    subnets: tuple[str, ...]
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class DataOutput:
    """A location the job writes: what it leaves in `container_path` is uploaded there when it ends."""

    uri: str
    container_path: str


@dataclass(frozen=True)
class Resources:
    instance_type: str
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int = 3600


@dataclass(frozen=True)
class JobDefinition:
    """A processing job runs `entrypoint` with its parameters as `--name value` arguments; a training job
    runs the image's `train` with them as hyperparameters and its inputs as channels.

    `name` is the SageMaker job name of a processing job; SageMaker's training API names a job after it
    plus the time of submission (`{name}-YYYYmmddHHMMSS`), and the result carries the final name.
    """

    job_type: JobType
    name: str
    image_uri: str
    run: RunLayout
    resources: Resources
    inputs: dict[str, DataInput]
    outputs: dict[str, DataOutput]
    parameters: dict[str, Parameter] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    metric_regexes: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    network: Network | None = None

    @property
    def is_training(self) -> bool:
        return self.job_type is JobType.TRAINING

    @property
    def arguments(self) -> list[str]:
        """The parameters as a processing job's command-line arguments."""
        return processing_arguments(self.parameters)


@dataclass(frozen=True)
class JobResult:
    """How a job ended, as its executor saw it."""

    job_name: str
    status: JobStatus
    failure_reason: str | None = None
    output_uris: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status is JobStatus.COMPLETED


class StatusCallback(Protocol):
    """Told each status a job reaches; at SUBMITTED also the name SageMaker knows the job by."""

    def __call__(
        self, status: JobStatus, message: str | None = None, *, job_name: str | None = None
    ) -> None: ...


class Executor(Protocol):
    """Runs a job to its end (SageMaker, local mode) and says how it ended."""

    def run(self, job: JobDefinition, on_status: StatusCallback) -> JobResult: ...


def processing_arguments(parameters: Mapping[str, Parameter]) -> list[str]:
    """`--name value` pairs, booleans spelled `true`/`false` so the job can parse them without guessing."""
    arguments: list[str] = []
    for name, value in sorted(parameters.items()):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        arguments += [f"--{name}", text]
    return arguments


def with_overrides(configured: Mapping[str, Parameter], overrides: list[str] | None) -> dict[str, Parameter]:
    """The configured parameters with `NAME=VALUE` overrides applied, the value read as JSON when it parses
    (2, 0.5, true), else as text. A malformed override is refused."""
    parameters = dict(configured)
    for item in overrides or []:
        name, separator, text = item.partition("=")
        if not separator or not name.strip():
            raise RefusedError(f"--param {item!r}: expected NAME=VALUE")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if not isinstance(value, str | int | float | bool):
            value = text
        parameters[name.strip()] = value
    return parameters


def channel_sources(config: Config, overrides: list[str] | None) -> dict[str, str]:
    """The training channels that do not read the preprocess run's split: `models.<model>.training.channels`
    sources, then `--input CHANNEL=URI` overrides. Refused before anything runs: an unknown channel, a source
    that is neither s3:// nor fsx://, an FSx channel on SageMaker without subnets and security groups, and
    locally an S3 source (an FSx source reads the folder `<runs>/fsx/<file-system-id>/<mount>/<path>`)."""
    configured = config.jobs.training.channels
    unknown = sorted(set(configured) - set(TRAINING_CHANNELS))
    if unknown:
        raise RefusedError(
            f"models.{config.model_name}.training.channels: no channel {', '.join(unknown)} "
            f"(channels: {', '.join(TRAINING_CHANNELS)})"
        )
    sources = {name: channel.source for name, channel in configured.items() if channel.source}
    for item in overrides or []:
        name, separator, uri = item.partition("=")
        if not separator or name not in TRAINING_CHANNELS:
            raise RefusedError(
                f"--input {item!r}: expected CHANNEL=URI with CHANNEL one of {', '.join(TRAINING_CHANNELS)}"
            )
        if not re.match(CHANNEL_SOURCE, uri):
            raise RefusedError(
                f"--input {item!r}: the source is s3://BUCKET/PREFIX or fsx://FILE-SYSTEM-ID/MOUNT-NAME/PATH"
            )
        sources[name] = uri
    if config.is_local:
        return {name: _local_source(config, name, uri) for name, uri in sources.items()}
    fsx = sorted(name for name, uri in sources.items() if FsxLocation.parse(uri))
    missing = [
        f"{variable} (network.{key})"
        for variable, key, values in (
            (ENV_SUBNETS, "subnets", config.network.subnets),
            (ENV_SECURITY_GROUPS, "security_group_ids", config.network.security_group_ids),
        )
        if not values
    ]
    if fsx and missing:
        raise RefusedError(
            f"FSx for Lustre channel {', '.join(fsx)} needs the job in the file system's VPC: set "
            f"{' and '.join(missing)}; no job was created"
        )
    return sources


def training_inputs(sources: Mapping[str, str], splits: Mapping[str, str]) -> dict[str, str]:
    """Each training channel's location: its source (`channel_sources`), else the preprocess run's split."""
    return {channel: sources.get(channel) or splits[channel] for channel in TRAINING_CHANNELS}


def _local_source(config: Config, channel: str, uri: str) -> str:
    location = FsxLocation.parse(uri)
    if location is None:
        raise RefusedError(
            f"channel {channel}: --env local reads folders on this machine, not {uri}; an fsx:// source "
            f"reads {config.runs_dir}/fsx/<file-system-id>/<mount name>/<path>"
        )
    folder = config.runs_dir / "fsx" / location.file_system_id / location.directory_path.lstrip("/")
    if not folder.is_dir():
        raise RefusedError(f"channel {channel}: {uri} reads {folder} locally, and there is no such folder")
    return Path(folder).as_posix()


def define_job(
    config: Config,
    job_type: JobType,
    run: RunLayout,
    name: str,
    *,
    image_uri: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    overrides: list[str] | None = None,
) -> JobDefinition:
    """The job of `job_type` on these input and output locations, with the model's settings from the config
    (resources, parameters, data distribution) and `--param` overrides."""
    settings: JobSettings = getattr(config.jobs, job_type.value)
    resources = Resources(
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        volume_size_gb=settings.volume_size_gb,
        max_runtime_seconds=settings.max_runtime_seconds,
    )
    input_path: Callable[[str], str]
    entrypoint: tuple[str, ...] = ()
    metric_regexes: dict[str, str] = {}
    input_modes: dict[str, ChannelSettings] = {}
    if job_type is JobType.TRAINING:  # the image's `train`, with channels and the toolkit's folders
        input_modes = settings.channels
        input_path, output_paths, metric_regexes = (
            training_input_path,
            TRAINING_OUTPUTS,
            dict(TRAINING_METRICS),
        )
    else:
        spec = PROCESSING_SPECS[job_type]
        input_path, entrypoint = spec.input_path, tuple(spec.entrypoint)
        output_paths = {output: spec.output_path(output) for output in outputs}
    return JobDefinition(
        job_type=job_type,
        name=name,
        image_uri=image_uri,
        run=run,
        resources=resources,
        inputs={
            input_name: DataInput(
                uri,
                input_path(input_name),
                "FullyReplicated" if input_name == MODEL_INPUT else settings.distribution,
                input_modes.get(input_name, ChannelSettings()).input_mode,
            )
            for input_name, uri in inputs.items()
        },
        outputs={output: DataOutput(uri, output_paths[output]) for output, uri in outputs.items()},
        parameters=with_overrides(settings.parameters, overrides),
        entrypoint=entrypoint,
        metric_regexes=metric_regexes,
        network=_network(config),
    )


def _network(config: Config) -> Network | None:
    network = config.network
    if config.is_local or not (network.subnets or network.security_group_ids):
        return None
    return Network(tuple(network.subnets), tuple(network.security_group_ids))
