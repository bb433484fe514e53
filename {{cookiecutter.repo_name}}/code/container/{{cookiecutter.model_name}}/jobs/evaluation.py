"""Processing job: score the test split with the trained model; write metrics and plots.

Entrypoint: python3 -m jobs.evaluation [--threshold T]
Inputs:  /opt/ml/processing/input/model/model.tar.gz (the training job's artifact),
         /opt/ml/processing/input/test/*.csv (split schema)
Output:  /opt/ml/processing/output/report/{evaluation.json,roc_curve.png,confusion_matrix.png}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from utils.arguments import evaluation_arguments
from utils.data import read_csv_folder
from utils.features import feature_frame, label_array
from utils.job import format_metrics, processing_dir, run_job
from utils.metrics import evaluation_report
from utils.model import load_model, positive_probabilities
from utils.plots import plot_confusion_matrix, plot_roc_curve
from utils.schema import validate

REPORT_FILE = "evaluation.json"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return evaluation_arguments(argv, __doc__)


def run(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    base = processing_dir()
    model = load_model(base / "input" / "model")
    test = validate(read_csv_folder(base / "input" / "test"))
    labels = label_array(test)
    probabilities = positive_probabilities(model, feature_frame(test))

    output = base / "output" / "report"
    output.mkdir(parents=True, exist_ok=True)
    report = evaluation_report(labels, probabilities, args.threshold)
    (output / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_roc_curve(labels, probabilities, output / "roc_curve.png")
    plot_confusion_matrix(labels, probabilities, args.threshold, output / "confusion_matrix.png")
    metrics = {
        name: item["value"]
        for name, item in report["binary_classification_metrics"].items()
        if "value" in item
    }
    print(format_metrics(metrics, prefix="test_"), flush=True)
    print(f"wrote {REPORT_FILE} and plots to {output}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(run, argv)


if __name__ == "__main__":
    sys.exit(main())
