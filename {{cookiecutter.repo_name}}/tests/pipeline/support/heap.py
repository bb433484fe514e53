"""Keeps the garbage collector's full passes short in a test process.

The SDK, MLflow and SQLAlchemy, as they are imported and fill their caches (botocore's service models...),
leave several hundred thousand objects that live as long as the process. Each full pass of the collector
walks all of them, 0.1 to 0.3 s: the passes Python starts by itself, and the one after every local-mode job
(utils.aws.local_containers). A run of the tests made about 80 of them.
"""

from __future__ import annotations

import gc


def set_aside_what_lives() -> None:
    """Collects the young garbage, then moves every object left to the collector's permanent generation
    (`gc.freeze`), which its passes skip. Older garbage of earlier tests is set aside with the rest and never
    freed: a test process holds about 100 MB more for it by the end of a run."""
    gc.collect(1)
    gc.freeze()
