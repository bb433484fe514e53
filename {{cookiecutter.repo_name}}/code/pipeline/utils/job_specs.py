"""What each job image expects: entrypoints, container paths, channel and file names.

The one place of the pipeline that mirrors `code/container/<model>/jobs/`: change both together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from utils.db.enum import JobType

PROCESSING_INPUT = "/opt/ml/processing/input"
PROCESSING_OUTPUT = "/opt/ml/processing/output"
# Where SageMaker mounts a training job's channels, and the folders it uploads when the job ends.
TRAINING_INPUT = "/opt/ml/input/data"
TRAINING_OUTPUTS = {"model_output": "/opt/ml/model", "checkpoints": "/opt/ml/checkpoints"}
# The input that carries a trained model: every instance needs all of it, whatever the data distribution.
MODEL_INPUT = "model"

RAW_DATA_FILE = "data.csv"
MODEL_ARCHIVE = "model.tar.gz"
# What the training job saves into its model archive (code/container/<model>/utils/model.py).
MODEL_FILE = "model.joblib"
EVALUATION_REPORT = "evaluation.json"
# The report's metrics, in SageMaker's model quality layout: {key: {name: {"value": number}}}
EVALUATION_METRICS_KEY = "binary_classification_metrics"
# Inference writes one predictions CSV per input file (same file name) with these columns.
PREDICTION_COLUMNS = ("id", "prediction", "probability")

# Source table columns written to the raw CSV, in this order; the id column lets predictions find their row.
ID_COLUMN = "id"
LABEL_COLUMN = "label"
# What a label means, as the job image's raw data contract (utils/schema.py) defines it: label 1 is the class
# the model is there to find, so precision, recall and ROC are about it.
CLASS_NAMES: dict[int, str] = {0: "benign", 1: "malignant"}

TRAINING_CHANNELS = ("train", "validation")
# The training job logs `validation_<name>=<value>;`; SageMaker scrapes these into the job's final metrics.
TRAINING_METRICS: dict[str, str] = {
    f"validation_{name}": rf"validation_{name}=([0-9.]+);"
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
}


def training_input_path(channel: str) -> str:
    return f"{TRAINING_INPUT}/{channel}"


@dataclass(frozen=True)
class ProcessingSpec:
    """A processing job: its command, and container folders by input/output name."""

    module: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def entrypoint(self) -> list[str]:
        return ["python3", "-m", self.module]

    @staticmethod
    def input_path(name: str) -> str:
        return f"{PROCESSING_INPUT}/{name}"

    @staticmethod
    def output_path(name: str) -> str:
        return f"{PROCESSING_OUTPUT}/{name}"


PROCESSING_SPECS: dict[JobType, ProcessingSpec] = {
    JobType.PREPROCESS: ProcessingSpec(
        module="jobs.preprocess", inputs=("raw",), outputs=("train", "validation", "test")
    ),
    JobType.EVALUATION: ProcessingSpec(
        module="jobs.evaluation", inputs=("model", "test"), outputs=("report",)
    ),
    JobType.INFERENCE: ProcessingSpec(
        module="jobs.inference", inputs=("model", "data"), outputs=("predictions",)
    ),
}


def report_metrics(report: dict[str, Any]) -> dict[str, float]:
    """`{name: value}` of every metric with a numeric value in the report (SageMaker model quality layout)."""
    section = report.get(EVALUATION_METRICS_KEY)
    if not isinstance(section, dict):
        raise ValueError(f"{EVALUATION_REPORT} has no {EVALUATION_METRICS_KEY} mapping")
    metrics = {
        name: float(item["value"])
        for name, item in section.items()
        if isinstance(item, dict)
        and isinstance(item.get("value"), int | float)
        and not isinstance(item["value"], bool)
    }
    if not metrics:
        raise ValueError(f"{EVALUATION_REPORT} holds no metric with a numeric value")
    return metrics
