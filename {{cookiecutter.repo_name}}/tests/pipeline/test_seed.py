"""The seeded source table means what the job image's raw data contract says: label 1 is malignant."""

from __future__ import annotations

from collections import Counter

from sklearn.datasets import load_breast_cancer

from utils.db.seed import breast_cancer_rows
from utils.job_specs import CLASS_NAMES, ID_COLUMN, LABEL_COLUMN


def test_the_positive_class_is_malignant_as_in_the_job_image() -> None:
    # code/container/<model>/utils/schema.py: CLASS_NAMES = {0: "benign", 1: "malignant"}, POSITIVE_LABEL = 1
    assert CLASS_NAMES == {0: "benign", 1: "malignant"}


def test_seeded_rows_have_the_ids_and_212_positives_of_the_job_images_example_data() -> None:
    rows = breast_cancer_rows()
    # The job image's example loader has the same ids and the same 212 positives (test_schema_and_data.py).
    assert [row[ID_COLUMN] for row in rows] == list(range(569))
    assert Counter(row[LABEL_COLUMN] for row in rows) == {1: 212, 0: 357}


def test_each_seeded_label_names_scikit_learns_class_of_that_sample() -> None:
    dataset = load_breast_cancer()
    sklearn_names = [str(dataset.target_names[code]) for code in dataset.target]
    assert [CLASS_NAMES[row[LABEL_COLUMN]] for row in breast_cancer_rows()] == sklearn_names
