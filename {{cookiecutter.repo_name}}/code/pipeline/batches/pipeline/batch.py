"""The model's lifecycle as one SageMaker pipeline (preprocess, training, evaluation, a quality gate, then
registration and inference, or a failure naming the metric): print its definition, create or update it, start
an execution and follow it. --env local runs the same definition on this machine, in Docker (see the
pipeline README for what differs locally)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from batches.cli import EnvOption, ModelOption, console, errors_as_exit, require_pushed_image
from utils.config_reader import Config, load_config
from utils.db.enum import JobType
from utils.errors import PipelineError, RefusedError
from utils.workflow import INPUT_DATA, PipelinePlan, plan_pipeline

if TYPE_CHECKING:
    from utils.aws.pipelines import ExecutionState

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)


@dataclass(frozen=True)
class Selection:
    env: str
    model: str | None

    def plan(self) -> tuple[Config, PipelinePlan]:
        config = load_config(self.env, model=self.model)
        return config, plan_pipeline(config, config.image_uri())


@app.callback()
def select(ctx: typer.Context, env: EnvOption, model: ModelOption = None) -> None:
    """Work on the pipeline of one environment's config: dev and prod run it on SageMaker, local in Docker."""
    ctx.obj = Selection(env, model)


@app.command()
def definition(ctx: typer.Context) -> None:
    """Print the pipeline definition JSON SageMaker would run. Offline: needs no network or credentials."""
    with errors_as_exit():
        config, plan = ctx.obj.plan()
        from utils.aws.pipelines import definition as build_definition

        typer.echo(json.dumps(build_definition(plan, config), indent=2, sort_keys=True))


@app.command()
def upsert(ctx: typer.Context) -> None:
    """Create the pipeline in SageMaker, or update it to this definition (and its model package group)."""
    with errors_as_exit():
        config, plan = ctx.obj.plan()
        if config.is_local:
            raise RefusedError(
                "--env local keeps no pipeline to create or update: `start --env local` runs the definition "
                "as it is now"
            )
        from utils.aws import pipelines
        from utils.aws.session import EndpointSession

        session = EndpointSession(config.aws.region, config.aws.endpoint_url)
        require_pushed_image(session, plan.registration.image_uri, config)
        arn = pipelines.upsert(plan, config)
        console.print(f"pipeline {plan.name} is up to date: {arn}", highlight=False)


ParameterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--parameter",
        metavar="NAME=VALUE",
        help="Set a pipeline parameter for this execution (repeatable), e.g. QualityThreshold=0.95. "
        f"{INPUT_DATA} defaults to the raw data of the latest completed collection run.",
        show_default=False,
    ),
]


@app.command()
def start(
    ctx: typer.Context,
    parameter: ParameterOption = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the execution to its end (--env local always does).")
    ] = False,
) -> None:
    """Start an execution of the pipeline (as last upserted; --env local: as defined now, in Docker)."""
    with errors_as_exit():
        config, plan = ctx.obj.plan()
        values = execution_parameters(plan, parameter)
        if config.is_local:
            from batches.pipeline.local import start_locally

            start_locally(config, plan, values)
            return
        if INPUT_DATA not in values:
            values[INPUT_DATA] = latest_raw_data(config)
            console.print(f"{INPUT_DATA}: {values[INPUT_DATA]} (the latest collection run)", highlight=False)
        from utils.aws.pipelines import Executions

        executions = Executions(config, plan.name)
        arn = executions.start(values)
        console.print(f"execution started: {arn}", highlight=False)
        if wait:
            state = executions.wait(arn, show_progress)
            if state.status != "Succeeded":
                raise PipelineError(f"execution {state.status.lower()}: {state.failure_reason or arn}")


@app.command()
def status(ctx: typer.Context) -> None:
    """The latest execution: its status, parameters and steps."""
    with errors_as_exit():
        config, plan = ctx.obj.plan()
        if config.is_local:
            from batches.pipeline.local import latest_local_execution

            typer.echo(latest_local_execution(config), nl=False)
            return
        from utils.aws.pipelines import Executions

        executions = Executions(config, plan.name)
        state = executions.state(executions.latest())
        typer.echo(f"execution: {state.arn}")
        typer.echo(f"status: {state.status}" + (f" ({state.failure_reason})" if state.failure_reason else ""))
        for name, value in sorted(state.parameters.items()):
            typer.echo(f"parameter {name}: {value}")
        if state.steps is None:
            typer.echo("steps: not listed by this endpoint")
        for step in state.steps or []:
            reason = f" ({step.failure_reason})" if step.failure_reason else ""
            typer.echo(f"step {step.name}: {step.status}{reason}")


def execution_parameters(plan: PipelinePlan, items: list[str] | None) -> dict[str, str]:
    """`NAME=VALUE` items as the execution's parameters; an unknown name or a threshold that is not a number
    is refused before anything starts."""
    kinds = {parameter.name: parameter.kind for parameter in plan.parameters}
    values: dict[str, str] = {}
    for item in items or []:
        name, separator, value = item.partition("=")
        if not separator or name not in kinds:
            known = ", ".join(kinds)
            raise RefusedError(f"--parameter {item!r}: expected NAME=VALUE with NAME one of {known}")
        if kinds[name] == "float":
            try:
                float(value)
            except ValueError:
                raise RefusedError(f"--parameter {item!r}: {name} takes a number") from None
        values[name] = value
    return values


def latest_raw_data(config: Config, instead: str = "s3://...") -> str:
    """The raw data of the latest completed collection run (locally: in the run folder, when one is set);
    without one, a `PipelineError` naming the collection batch and the parameter to pass `instead`."""
    from utils.db.db_adapter import DbAdapter

    within = (
        (config.runs_dir / config.run_folder).as_posix() if config.is_local and config.run_folder else None
    )
    db = DbAdapter(config.database.url)
    try:
        db.require_schema()
        collection = db.find_upstream(JobType.COLLECTION, within=within, model_name=config.model_name)
    except PipelineError as exc:
        env = config.environment.value
        how = f"run `batches.collection --env {env}` first or pass --parameter {INPUT_DATA}={instead}"
        raise PipelineError(f"{exc}; {how}") from None
    finally:
        db.close()
    return str(collection.output_uris["raw"])


def show_progress(state: ExecutionState) -> None:
    steps = ", ".join(f"{step.name} {step.status}" for step in state.steps or [])
    console.print(f"{state.status}" + (f": {steps}" if steps else ""), highlight=False)
