"""The raw data contract and the split: what passes, what is refused and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from utils.data import Splits, read_csv_folder, split_dataset
from utils.errors import JobError, MissingInputError
from utils.example_data import write_example_csv
from utils.schema import (
    CLASS_NAMES,
    FEATURE_COLUMNS,
    ID_COLUMN,
    LABEL_COLUMN,
    POSITIVE_LABEL,
    SchemaError,
    validate,
)


def test_example_data_follows_the_schema(raw_frame: pd.DataFrame) -> None:
    frame = validate(raw_frame)
    assert list(frame.columns) == [ID_COLUMN, *FEATURE_COLUMNS, LABEL_COLUMN]
    assert len(frame) == 569
    # The pipeline's seeded source table has these ids and 212 positives too (tests/pipeline/test_seed.py).
    assert frame[ID_COLUMN].tolist() == [str(index) for index in range(569)]
    assert frame[LABEL_COLUMN].sum() == 212


def test_example_label_1_is_the_malignant_class(raw_frame: pd.DataFrame) -> None:
    dataset = load_breast_cancer()
    sklearn_names = [str(dataset.target_names[code]) for code in dataset.target]
    assert CLASS_NAMES[POSITIVE_LABEL] == "malignant"
    assert [CLASS_NAMES[label] for label in raw_frame[LABEL_COLUMN]] == sklearn_names


def test_validate_drops_extra_columns_and_keeps_contract_order(raw_frame: pd.DataFrame) -> None:
    shuffled = raw_frame.assign(source="export")[[*reversed(raw_frame.columns), "source"]]
    assert list(validate(shuffled).columns) == [ID_COLUMN, *FEATURE_COLUMNS, LABEL_COLUMN]


def test_missing_columns_are_named(raw_frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match=r"missing column.*mean_radius.*label"):
        validate(raw_frame.drop(columns=["mean_radius", LABEL_COLUMN]))


def test_every_problem_is_reported_at_once(raw_frame: pd.DataFrame) -> None:
    broken = raw_frame.astype({"mean_area": object}).copy()
    broken.loc[3, "mean_area"] = "n/a"
    broken.loc[4, "worst_texture"] = np.inf
    broken.loc[5, LABEL_COLUMN] = 2
    broken.loc[6, ID_COLUMN] = str(raw_frame[ID_COLUMN].iloc[7])
    with pytest.raises(SchemaError) as caught:
        validate(broken)
    message = str(caught.value)
    for fragment in (
        "duplicate id",
        "mean_area: 1 value",
        "worst_texture: 1 value",
        "other than 0 (benign) or 1 (malignant)",
    ):
        assert fragment in message


def test_label_is_optional_for_scoring(raw_frame: pd.DataFrame) -> None:
    assert LABEL_COLUMN not in validate(raw_frame.drop(columns=[LABEL_COLUMN]), require_label=False)


def test_too_few_rows_are_refused(raw_frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="at least"):
        validate(raw_frame.head(3))


def test_split_is_stratified_disjoint_and_reproducible(raw_frame: pd.DataFrame, splits: Splits) -> None:
    parts = [splits.train, splits.validation, splits.test]
    assert [len(part) for part in parts] == [397, 86, 86]
    ids = [set(part[ID_COLUMN]) for part in parts]
    assert set.union(*ids) == set(raw_frame[ID_COLUMN]) and sum(map(len, ids)) == len(raw_frame)
    for part in parts:
        assert part[LABEL_COLUMN].mean() == pytest.approx(212 / 569, abs=0.02)
    again = split_dataset(validate(raw_frame), train=0.7, validation=0.15, test=0.15, seed=42)
    pd.testing.assert_frame_equal(again.test, splits.test)


@pytest.mark.parametrize(
    ("ratios", "message"),
    [
        ((0.7, 0.2, 0.2), "add up to"),
        ((1.0, 0.0, 0.0), "not between 0 and 1"),
        ((0.5, -0.1, 0.6), "validation"),
    ],
)
def test_bad_ratios_are_refused(
    raw_frame: pd.DataFrame, ratios: tuple[float, float, float], message: str
) -> None:
    train, validation, test = ratios
    with pytest.raises(JobError, match=message):
        split_dataset(validate(raw_frame), train=train, validation=validation, test=test, seed=1)


def test_csv_folder_reading(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="does not exist"):
        read_csv_folder(tmp_path / "absent")
    with pytest.raises(MissingInputError, match=r"no \.csv file"):
        read_csv_folder(tmp_path)
    write_example_csv(tmp_path)
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    assert len(read_csv_folder(tmp_path)) == 569
