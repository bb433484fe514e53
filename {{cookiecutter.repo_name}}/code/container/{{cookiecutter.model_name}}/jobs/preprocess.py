"""Processing job: validate raw CSV data and split it into train, validation and test sets.

Entrypoint: python3 -m jobs.preprocess [--train-ratio R] [--validation-ratio R] [--test-ratio R] [--seed N]
Input:  /opt/ml/processing/input/raw/*.csv (raw schema, see utils.schema)
Output: /opt/ml/processing/output/{train,validation,test}/<name>.csv
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from utils.arguments import preprocess_arguments
from utils.data import read_csv_folder, split_dataset, write_csv
from utils.job import processing_dir, run_job
from utils.schema import LABEL_COLUMN, validate

INPUT_NAME = "raw"
OUTPUT_NAMES = ("train", "validation", "test")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return preprocess_arguments(argv, __doc__)


def run(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    base = processing_dir()
    frame = validate(read_csv_folder(base / "input" / INPUT_NAME))
    splits = split_dataset(
        frame, train=args.train_ratio, validation=args.validation_ratio, test=args.test_ratio, seed=args.seed
    )
    for name in OUTPUT_NAMES:
        split = getattr(splits, name)
        path = write_csv(split, base / "output" / name / f"{name}.csv")
        positives = int(split[LABEL_COLUMN].sum())
        print(f"wrote {len(split)} rows ({positives} positive) to {path}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(run, argv)


if __name__ == "__main__":
    sys.exit(main())
