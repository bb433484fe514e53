"""How the project's command lines run as programs (`python -m batches.<stage>`, `python -m utils.db`)."""

from __future__ import annotations

import atexit
import gc

import typer


def run(app: typer.Typer) -> None:
    """Run `app` as this process's program, and let the process end without a last garbage collection.

    At exit the interpreter walks every object still alive looking for reference cycles to free. After a job
    that is several hundred thousand objects (the SDK's, MLflow's and SQLAlchemy's classes and caches) and
    about a second, spent on memory the operating system takes back at once. `gc.freeze()` as the process
    exits leaves that walk nothing to do. Everything is still released by reference counting as usual, files
    flushed and closed included; only garbage caught in cycles is left to the operating system, as Python
    never promised to finalise it at exit."""
    atexit.register(gc.freeze)
    app()
