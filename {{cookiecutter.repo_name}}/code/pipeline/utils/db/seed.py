"""The example's source data: sklearn's breast cancer dataset, with the sample index as id and the label of
`utils.job_specs.CLASS_NAMES` (1 for malignant), as the job image's example data has them."""

from __future__ import annotations

from typing import Any

from utils.db.schema import FEATURE_COLUMNS
from utils.job_specs import CLASS_NAMES, ID_COLUMN, LABEL_COLUMN


def breast_cancer_rows() -> list[dict[str, Any]]:
    # Imported here: scikit-learn takes seconds to import, and only the first `init` of a database needs it.
    from sklearn.datasets import load_breast_cancer

    dataset = load_breast_cancer()
    if len(dataset.feature_names) != len(FEATURE_COLUMNS):
        raise RuntimeError("sklearn's breast cancer dataset no longer has the 30 expected features")
    # scikit-learn codes malignant as 0: labels are looked up by class name, never copied as codes.
    label_of = {name: label for label, name in CLASS_NAMES.items()}
    class_names = [str(dataset.target_names[code]) for code in dataset.target]
    if not set(class_names) <= set(label_of):
        raise RuntimeError("sklearn's breast cancer classes no longer match utils.job_specs.CLASS_NAMES")
    return [
        {
            ID_COLUMN: index,
            **{name: float(value) for name, value in zip(FEATURE_COLUMNS, features, strict=True)},
            LABEL_COLUMN: label_of[class_name],
        }
        for index, (features, class_name) in enumerate(zip(dataset.data, class_names, strict=True))
    ]
