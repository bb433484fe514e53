"""The example's source data: sklearn's breast cancer dataset, with the sample index as id."""

from __future__ import annotations

from typing import Any

from utils.db.schema import FEATURE_COLUMNS
from utils.job_specs import ID_COLUMN, LABEL_COLUMN


def breast_cancer_rows() -> list[dict[str, Any]]:
    # Imported here: scikit-learn takes seconds to import, and only the first `init` of a database needs it.
    from sklearn.datasets import load_breast_cancer

    dataset = load_breast_cancer()
    if len(dataset.feature_names) != len(FEATURE_COLUMNS):
        raise RuntimeError("sklearn's breast cancer dataset no longer has the 30 expected features")
    return [
        {
            ID_COLUMN: index,
            **{name: float(value) for name, value in zip(FEATURE_COLUMNS, features, strict=True)},
            LABEL_COLUMN: int(target),
        }
        for index, (features, target) in enumerate(zip(dataset.data, dataset.target, strict=True))
    ]
