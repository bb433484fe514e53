"""Fixtures shared by the unit, contract and Docker tests of this model's jobs."""

from __future__ import annotations

import pandas as pd
import pytest

from utils.data import Splits, split_dataset
from utils.example_data import example_frame
from utils.schema import validate


@pytest.fixture(scope="session")
def raw_frame() -> pd.DataFrame:
    return example_frame()


@pytest.fixture(scope="session")
def splits(raw_frame: pd.DataFrame) -> Splits:
    return split_dataset(validate(raw_frame), train=0.7, validation=0.15, test=0.15, seed=42)
