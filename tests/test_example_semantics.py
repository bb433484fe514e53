"""The two projects of a render agree on the example's data: the same samples, and label 1 means malignant.

The pipeline seeds its source table and the job image's example loader builds its frame in separate
environments, so each is asked from its own virtual environment and the answers are compared here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.bake import clean_env, run

PIPELINE_EXAMPLE = """
import json
from utils.db.seed import breast_cancer_rows
from utils.job_specs import CLASS_NAMES
labels = {str(row["id"]): row["label"] for row in breast_cancer_rows()}
print(json.dumps({"labels": labels, "class_names": CLASS_NAMES}))
"""

CONTAINER_EXAMPLE = """
import json
from utils.example_data import example_frame
from utils.schema import CLASS_NAMES, ID_COLUMN, LABEL_COLUMN, POSITIVE_LABEL
frame = example_frame()
labels = dict(zip(frame[ID_COLUMN].astype(str), frame[LABEL_COLUMN].astype(int).tolist()))
print(json.dumps({"labels": labels, "class_names": CLASS_NAMES, "positive_label": POSITIVE_LABEL}))
"""


def _example(project_dir: Path, program: str) -> dict[str, Any]:
    result = run([str(project_dir / ".venv" / "bin" / "python"), "-c", program], cwd=project_dir, env=clean_env())
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_the_seeded_table_and_the_example_loader_label_every_sample_alike(set_up_project: Path) -> None:
    pipeline = _example(set_up_project / "code" / "pipeline", PIPELINE_EXAMPLE)
    (model_dir,) = sorted((set_up_project / "code" / "container").iterdir())
    container = _example(model_dir, CONTAINER_EXAMPLE)

    assert pipeline["class_names"] == container["class_names"] == {"0": "benign", "1": "malignant"}
    assert container["class_names"][str(container["positive_label"])] == "malignant"
    assert sum(pipeline["labels"].values()) == sum(container["labels"].values()) == 212
    assert pipeline["labels"] == container["labels"]
