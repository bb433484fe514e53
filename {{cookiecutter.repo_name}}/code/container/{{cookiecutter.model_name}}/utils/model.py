"""The classifier: building it, training it in checkpointed stages, saving and loading it."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import GradientBoostingClassifier

from utils.errors import JobError, MissingInputError
from utils.hyperparameters import Hyperparameters
from utils.schema import FEATURE_COLUMNS

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
MODEL_ARCHIVE = "model.tar.gz"
CHECKPOINT_FILE = "checkpoint.joblib"
# These shape the trees already grown: a checkpoint made with other values is not resumed.
_TREE_SHAPING = ("learning_rate", "max_depth", "subsample", "random_state")

StageCallback = Callable[[GradientBoostingClassifier], None]


class ModelFileError(JobError):
    """A model file is missing, unreadable or was trained on other features."""


def build_classifier(hyperparameters: Hyperparameters) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(
        n_estimators=min(hyperparameters.checkpoint_interval, hyperparameters.n_estimators),
        learning_rate=hyperparameters.learning_rate,
        max_depth=hyperparameters.max_depth,
        subsample=hyperparameters.subsample,
        random_state=hyperparameters.random_state,
        # Growing more trees on the same model is what makes stage-wise checkpoints resumable.
        warm_start=True,
    )


def _tree_shaping(hyperparameters: Hyperparameters) -> dict[str, Any]:
    values = asdict(hyperparameters)
    return {name: values[name] for name in _TREE_SHAPING}


def save_checkpoint(
    model: GradientBoostingClassifier, hyperparameters: Hyperparameters, folder: Path
) -> Path:
    """Write atomically: a job stopped mid-write (spot interruption) leaves the previous checkpoint intact."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_FILE
    partial = folder / f".{CHECKPOINT_FILE}.partial"
    joblib.dump({"tree_shaping": _tree_shaping(hyperparameters), "model": model}, partial)
    partial.replace(path)
    return path


def load_checkpoint(folder: Path, hyperparameters: Hyperparameters) -> GradientBoostingClassifier | None:
    """The checkpointed model if it can be grown into the requested one, else None."""
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        return None
    saved = joblib.load(path)
    model = saved.get("model") if isinstance(saved, dict) else None
    if not isinstance(model, GradientBoostingClassifier):
        return None
    if saved.get("tree_shaping") != _tree_shaping(hyperparameters):
        return None
    if model.n_estimators > hyperparameters.n_estimators:
        return None
    return model


def train_in_stages(
    features: pd.DataFrame,
    labels: np.ndarray,
    hyperparameters: Hyperparameters,
    *,
    checkpoint_dir: Path | None = None,
    on_stage: StageCallback | None = None,
) -> GradientBoostingClassifier:
    """Grow the ensemble `checkpoint_interval` trees at a time, checkpointing after each stage.

    With a checkpoint_dir holding a compatible checkpoint (and resume_from_checkpoint), training continues
    from it instead of starting over.
    """
    model = None
    if checkpoint_dir is not None and hyperparameters.resume_from_checkpoint:
        model = load_checkpoint(checkpoint_dir, hyperparameters)
    if model is None:
        model = build_classifier(hyperparameters)
        target = model.n_estimators
    else:
        target = model.n_estimators
        if target < hyperparameters.n_estimators:
            target = min(target + hyperparameters.checkpoint_interval, hyperparameters.n_estimators)
    while True:
        model.set_params(n_estimators=target)
        model.fit(features, labels)
        if checkpoint_dir is not None:
            save_checkpoint(model, hyperparameters, checkpoint_dir)
        if on_stage is not None:
            on_stage(model)
        if target >= hyperparameters.n_estimators:
            return model
        target = min(target + hyperparameters.checkpoint_interval, hyperparameters.n_estimators)


def positive_probabilities(model: GradientBoostingClassifier, features: pd.DataFrame) -> np.ndarray:
    probabilities: np.ndarray = model.predict_proba(features)[:, 1]
    return probabilities


def save_model(
    model: GradientBoostingClassifier,
    folder: Path,
    *,
    hyperparameters: Hyperparameters,
    metrics: dict[str, float],
) -> Path:
    """The model and a metadata file saying how it was made; SageMaker archives the folder as model.tar.gz."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    joblib.dump(model, path)
    metadata = {
        "feature_columns": list(FEATURE_COLUMNS),
        "hyperparameters": asdict(hyperparameters),
        "validation_metrics": metrics,
        "scikit_learn_version": sklearn.__version__,
    }
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return path


def _checked(model: object, source: str) -> GradientBoostingClassifier:
    if not isinstance(model, GradientBoostingClassifier):
        raise ModelFileError(f"{source} holds a {type(model).__name__}, not a trained classifier")
    trained_on = tuple(getattr(model, "feature_names_in_", ()))
    if trained_on != FEATURE_COLUMNS:
        raise ModelFileError(f"{source} was trained on other feature columns than utils.schema defines")
    return model


def load_model(folder: Path) -> GradientBoostingClassifier:
    """Load from a folder holding SageMaker's model.tar.gz, or the unpacked model.joblib of a local run.

    Only the model member is read from the archive, so a crafted archive cannot write outside memory.
    """
    archive = folder / MODEL_ARCHIVE
    plain = folder / MODEL_FILE
    if archive.is_file():
        try:
            with tarfile.open(archive, "r:gz") as tar:
                member = next(
                    (
                        item
                        for item in tar.getmembers()
                        if item.isfile() and Path(item.name).name == MODEL_FILE
                    ),
                    None,
                )
                if member is None:
                    raise ModelFileError(f"{archive} has no {MODEL_FILE}")
                stream = tar.extractfile(member)
                if stream is None:
                    raise ModelFileError(f"{archive}: cannot read {member.name}")
                return _checked(joblib.load(stream), str(archive))
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ModelFileError(f"{archive} is not a readable model archive: {error}") from error
    if plain.is_file():
        return _checked(joblib.load(plain), str(plain))
    raise MissingInputError(f"no {MODEL_ARCHIVE} or {MODEL_FILE} in {folder}")
