"""Run the whole lifecycle in one process: collection, preprocess, training, evaluation and inference, each
stage on the outputs of the one before, as `python -m batches.<stage>` with its defaults would, and stop at
the first stage that does not complete. In one process the SDK and MLflow are imported once, not once per
stage (about 2 s each time). `scripts/local_run/pipeline.sh` runs it in local mode."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import typer

from batches.cli import EnvOption, ModelOption, console
from batches.collection.batch import main as collection
from batches.evaluation.batch import main as evaluation
from batches.inference.batch import main as inference
from batches.preprocess.batch import main as preprocess
from batches.training.batch import main as training

app = typer.Typer(add_completion=False, help=__doc__)

STAGES: tuple[tuple[str, Callable[..., None]], ...] = (
    ("collection", collection),
    ("preprocess", preprocess),
    ("training", training),
    ("evaluation", evaluation),
    ("inference", inference),
)


@app.command()
def main(env: EnvOption, model: ModelOption = None) -> None:
    """Run every stage of the lifecycle, in order, with the config's settings; a stage that fails or is
    stopped ends the lifecycle with its exit code."""
    started = time.monotonic()
    for step, (name, stage) in enumerate(STAGES, start=1):
        progress = f"==> [{step}/{len(STAGES)}] {name}"
        console.print(progress, highlight=False)
        stage_started = time.monotonic()
        try:
            stage(env=env, model=model)
        except typer.Exit as end:
            if end.exit_code != 0:
                _say(f"{progress} {_outcome(end.exit_code)} after", stage_started)
                raise
        except KeyboardInterrupt:  # Ctrl-C outside a job (a job's own is its Stopped record and exit 130)
            _say(f"{progress} stopped by SIGINT after", stage_started)
            raise typer.Exit(130) from None
        _say(f"{progress} done in", stage_started)
    _say("==> lifecycle done in", started)


def _outcome(exit_code: int) -> str:
    """A batch stopped by a signal exits with 128 + its number (`JobError`, as a shell reports it)."""
    if exit_code - 128 in signal.valid_signals():
        return f"stopped by {signal.Signals(exit_code - 128).name}"
    return "FAILED"


def _say(what: str, since: float) -> None:
    console.print(f"{what} {time.monotonic() - since:.1f} s", highlight=False)
