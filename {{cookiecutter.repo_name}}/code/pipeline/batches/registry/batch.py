"""The models the SageMaker pipeline registered after its quality gate: list the versions, and approve or
reject one. A version waits as PendingManualApproval until a person decides. dev and prod: the SageMaker Model
Registry (the pipeline's model package group); local: the job database, where the local pipeline run
registers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from batches.cli import EnvOption, ModelOption, console, errors_as_exit
from utils.config_reader import load_config

if TYPE_CHECKING:
    from utils.registry import Decision, ModelRegistry

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)

VersionArgument = Annotated[int, typer.Argument(help="The version number `list` shows.", show_default=False)]
NoteOption = Annotated[
    str | None, typer.Option("--note", help="Why: kept with the version as its approval description.")
]


@dataclass(frozen=True)
class Selection:
    env: str
    model: str | None

    def registry(self) -> ModelRegistry:
        from utils.registry import model_registry

        return model_registry(load_config(self.env, model=self.model))


@app.callback()
def select(ctx: typer.Context, env: EnvOption, model: ModelOption = None) -> None:
    """Work on the model registry of one environment."""
    ctx.obj = Selection(env, model)


@app.command("list")
def list_versions(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
) -> None:
    """Every registered version, newest first, with its approval status."""
    with errors_as_exit():
        registry = ctx.obj.registry()
        versions = registry.versions()
        if as_json:
            typer.echo(json.dumps([version.as_json() for version in versions], indent=2))
            return
        if not versions:
            typer.echo(f"{registry.group}: no version registered yet")
            return
        typer.echo(f"{registry.group}:")
        for version in versions:
            note = f"  ({version.note})" if version.note else ""
            typer.echo(
                f"  version {version.version}  {version.status:<21}  {version.created:%Y-%m-%d %H:%M}  "
                f"{version.model_data or '-'}{note}"
            )


def _decide(ctx: typer.Context, version: int, decision: Decision, note: str | None) -> None:
    with errors_as_exit():
        registry = ctx.obj.registry()
        decided = registry.decide(version, decision, note)
        console.print(f"{registry.group} version {decided.version}: {decided.status}", highlight=False)


@app.command()
def approve(ctx: typer.Context, version: VersionArgument, note: NoteOption = None) -> None:
    """Approve a version for deployment."""
    _decide(ctx, version, "Approved", note)


@app.command()
def reject(ctx: typer.Context, version: VersionArgument, note: NoteOption = None) -> None:
    """Reject a version."""
    _decide(ctx, version, "Rejected", note)
