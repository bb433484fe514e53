"""Keeps the garbage collector's full passes short in a test process that imports the SDK."""

from __future__ import annotations

import gc
import sys

# Importing the SDK, MLflow and SQLAlchemy leaves about 400,000 objects that live as long as the process.
# Each full pass of the garbage collector walks all of them (about 0.2 s), and a run of the tests makes
# dozens of passes.
_IMPORTS_WORTH_A_FREEZE = 300
_modules_when_frozen = 0


def freeze_what_imports_made() -> None:
    """When many modules were imported since the last call that froze, collect what is garbage now and move
    every object left to the collector's permanent generation (`gc.freeze`), which its passes skip."""
    global _modules_when_frozen
    if len(sys.modules) - _modules_when_frozen < _IMPORTS_WORTH_A_FREEZE:
        return
    gc.collect()
    gc.freeze()
    _modules_when_frozen = len(sys.modules)
