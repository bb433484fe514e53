"""Writes scikit-learn's breast cancer dataset as a raw CSV that follows `utils.schema`.

It stands in for the team's real data export so that every job can run end to end without a download:
`python -m utils.example_data OUTPUT_DIR` writes OUTPUT_DIR/raw.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer

from utils.schema import CLASS_NAMES, FEATURE_COLUMNS, ID_COLUMN, LABEL_COLUMN


def _column_name(sklearn_name: str) -> str:
    words = sklearn_name.split()
    if words[-1] == "error":
        return "_".join(["se", *words[:-1]])
    return "_".join(words)


def example_frame() -> pd.DataFrame:
    """The 569 rows in the raw schema: the sample's index as id (as in the pipeline's source table), 30
    measurements and the label of its class in `utils.schema.CLASS_NAMES` (1 for malignant)."""
    dataset = load_breast_cancer(as_frame=True)
    features = dataset.data.rename(columns=_column_name)
    if tuple(features.columns) != FEATURE_COLUMNS:
        raise RuntimeError(
            "scikit-learn's breast cancer columns no longer match utils.schema.FEATURE_COLUMNS"
        )
    frame: pd.DataFrame = features.copy()
    frame.insert(0, ID_COLUMN, [str(index) for index in range(len(frame))])
    # scikit-learn codes malignant as 0: labels are looked up by class name, never copied as codes.
    label_of = {name: label for label, name in CLASS_NAMES.items()}
    class_names = [str(dataset.target_names[code]) for code in dataset.target]
    if not set(class_names) <= set(label_of):
        raise RuntimeError("scikit-learn's breast cancer classes no longer match utils.schema.CLASS_NAMES")
    frame[LABEL_COLUMN] = [label_of[name] for name in class_names]
    return frame


def write_example_csv(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "raw.csv"
    example_frame().to_csv(path, index=False)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in {"-h", "--help"}:
        print("usage: python -m utils.example_data OUTPUT_DIR", file=sys.stderr)
        sys.exit(2)
    print(write_example_csv(Path(sys.argv[1])))
