"""Processing job (batch scoring): predict every row of the input files with the trained model.

Entrypoint: python3 -m jobs.inference [--threshold T]
Inputs:  /opt/ml/processing/input/model/model.tar.gz, /opt/ml/processing/input/data/*.csv (raw schema; the
         label column is optional and ignored)
Output:  /opt/ml/processing/output/predictions/<input file name>.csv with columns id, probability, prediction
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from utils.arguments import inference_arguments
from utils.data import csv_files, read_csv, write_csv
from utils.features import feature_frame
from utils.job import processing_dir, run_job
from utils.metrics import predict_labels
from utils.model import load_model, positive_probabilities
from utils.schema import ID_COLUMN, SchemaError, validate


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return inference_arguments(argv, __doc__)


def run(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    base = processing_dir()
    model = load_model(base / "input" / "model")
    output = base / "output" / "predictions"
    for path in csv_files(base / "input" / "data"):
        try:
            frame = validate(read_csv(path), require_label=False)
        except SchemaError as error:
            raise SchemaError(f"{path.name}: {error}") from error
        probabilities = positive_probabilities(model, feature_frame(frame))
        predictions = pd.DataFrame(
            {
                ID_COLUMN: frame[ID_COLUMN],
                "probability": probabilities,
                "prediction": predict_labels(probabilities, args.threshold),
            }
        )
        written = write_csv(predictions, output / path.name)
        print(f"scored {len(predictions)} rows of {path.name} into {written}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(run, argv)


if __name__ == "__main__":
    sys.exit(main())
