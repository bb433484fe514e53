"""Reading and writing the CSV files that jobs exchange, and splitting a dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from utils.errors import JobError, MissingInputError
from utils.schema import LABEL_COLUMN

RATIO_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def csv_files(folder: Path) -> list[Path]:
    """The CSV files directly inside folder, in name order, or MissingInputError naming the folder."""
    if not folder.is_dir():
        raise MissingInputError(f"input folder {folder} does not exist")
    files = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() == ".csv")
    if not files:
        raise MissingInputError(f"no .csv file in {folder}")
    return files


def read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise JobError(f"{path.name} is not a readable CSV file: {error}") from error


def read_csv_folder(folder: Path) -> pd.DataFrame:
    """All CSV files of a folder as one frame; every file must have the same columns."""
    frames = [read_csv(path) for path in csv_files(folder)]
    return pd.concat(frames, ignore_index=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def check_ratios(train: float, validation: float, test: float) -> None:
    ratios = {"train": train, "validation": validation, "test": test}
    problems = [
        f"{name} ratio {value} is not between 0 and 1" for name, value in ratios.items() if not 0 < value < 1
    ]
    if not problems and abs(sum(ratios.values()) - 1) > RATIO_TOLERANCE:
        problems.append(f"ratios add up to {sum(ratios.values())}, not 1")
    if problems:
        raise JobError("; ".join(problems))


def split_dataset(frame: pd.DataFrame, *, train: float, validation: float, test: float, seed: int) -> Splits:
    """Stratified train/validation/test split, reproducible for a given seed."""
    from sklearn.model_selection import train_test_split  # seconds to import: only the split needs it

    check_ratios(train, validation, test)
    try:
        rest, test_frame = train_test_split(
            frame, test_size=test, random_state=seed, stratify=frame[LABEL_COLUMN]
        )
        train_frame, validation_frame = train_test_split(
            rest, test_size=validation / (train + validation), random_state=seed, stratify=rest[LABEL_COLUMN]
        )
    except ValueError as error:
        raise JobError(f"cannot split {len(frame)} rows with these ratios: {error}") from error
    return Splits(
        train=train_frame.reset_index(drop=True),
        validation=validation_frame.reset_index(drop=True),
        test=test_frame.reset_index(drop=True),
    )
