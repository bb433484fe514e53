"""What the classifier sees of a validated frame; the place to add feature engineering."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utils.schema import FEATURE_COLUMNS, LABEL_COLUMN


def feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns, in a fixed order so a trained model and new data always line up."""
    return frame.loc[:, list(FEATURE_COLUMNS)].astype(float)


def label_array(frame: pd.DataFrame) -> np.ndarray:
    return frame[LABEL_COLUMN].to_numpy(dtype=int)
