"""The raw data contract: which columns a raw CSV must have and what their values may be.

The example is scikit-learn's breast cancer dataset (569 tumours, 30 numeric measurements). A team replacing
the model replaces FEATURE_COLUMNS, LABEL_COLUMN, CLASS_NAMES and the checks in `validate`. The pipeline's
source table mirrors this contract (code/pipeline/utils/job_specs.py): change both together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from utils.errors import JobError

ID_COLUMN = "id"
LABEL_COLUMN = "label"
# The positive class (label 1) is a malignant tumour, so recall and ROC read as "finding the cancers".
NEGATIVE_LABEL = 0
POSITIVE_LABEL = 1
# What each label means; plots and reports show these names.
CLASS_NAMES: dict[int, str] = {NEGATIVE_LABEL: "benign", POSITIVE_LABEL: "malignant"}
FEATURE_COLUMNS: tuple[str, ...] = tuple(
    f"{statistic}_{measure}"
    for statistic in ("mean", "se", "worst")
    for measure in (
        "radius",
        "texture",
        "perimeter",
        "area",
        "smoothness",
        "compactness",
        "concavity",
        "concave_points",
        "symmetry",
        "fractal_dimension",
    )
)
MIN_ROWS = 10


class SchemaError(JobError):
    """Raw or split data does not follow the contract; the message lists every problem found."""


def validate(frame: pd.DataFrame, *, require_label: bool = True) -> pd.DataFrame:
    """Return the contract's columns in contract order with numeric dtypes, or raise SchemaError.

    Extra columns are dropped, so upstream exports may carry more fields than the model uses.
    """
    expected = [ID_COLUMN, *FEATURE_COLUMNS] + ([LABEL_COLUMN] if require_label else [])
    missing = [column for column in expected if column not in frame.columns]
    if missing:
        raise SchemaError(f"missing column(s): {', '.join(missing)}")
    if len(frame) < MIN_ROWS:
        raise SchemaError(f"{len(frame)} row(s); at least {MIN_ROWS} are needed")

    problems: list[str] = []
    ids = frame[ID_COLUMN]
    if ids.isna().any():
        problems.append(f"{int(ids.isna().sum())} row(s) without an {ID_COLUMN}")
    duplicated = ids[ids.duplicated()].astype(str).unique().tolist()
    if duplicated:
        problems.append(f"duplicate {ID_COLUMN} value(s): {', '.join(duplicated[:5])}")

    features = frame[list(FEATURE_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    for column in FEATURE_COLUMNS:
        bad_rows = int((~np.isfinite(features[column].to_numpy(dtype=float, na_value=np.nan))).sum())
        if bad_rows:
            problems.append(f"column {column}: {bad_rows} value(s) that are empty or not finite numbers")

    result: pd.DataFrame = pd.concat(
        [pd.DataFrame({ID_COLUMN: ids.astype(str)}), features.astype(float)], axis=1
    )
    if require_label:
        labels = pd.to_numeric(frame[LABEL_COLUMN], errors="coerce")
        invalid = ~labels.isin(list(CLASS_NAMES))
        if invalid.any():
            allowed = " or ".join(f"{label} ({name})" for label, name in CLASS_NAMES.items())
            problems.append(f"column {LABEL_COLUMN}: {int(invalid.sum())} value(s) other than {allowed}")
        elif labels.nunique() < 2:
            problems.append(f"column {LABEL_COLUMN}: only one class present")
        else:
            result[LABEL_COLUMN] = labels.astype(int)

    if problems:
        raise SchemaError("; ".join(problems))
    return result.reset_index(drop=True)
