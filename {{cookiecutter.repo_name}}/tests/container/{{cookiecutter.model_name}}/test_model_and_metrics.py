"""Training in checkpointed stages, saving and loading the model, metrics and plots."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from utils.data import Splits
from utils.errors import MissingInputError
from utils.features import feature_frame, label_array
from utils.hyperparameters import Hyperparameters
from utils.job import format_metrics
from utils.metrics import classification_metrics, evaluation_report
from utils.model import (
    CHECKPOINT_FILE,
    ModelFileError,
    load_model,
    positive_probabilities,
    save_model,
    train_in_stages,
)
from utils.plots import confusion_matrix_figure, plot_confusion_matrix, plot_roc_curve, roc_curve_figure

SMALL = Hyperparameters(n_estimators=30, checkpoint_interval=10, max_depth=2)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fit(
    splits: Splits,
    hyperparameters: Hyperparameters,
    checkpoints: Path | None = None,
    stages: list[int] | None = None,
) -> GradientBoostingClassifier:
    return train_in_stages(
        feature_frame(splits.train),
        label_array(splits.train),
        hyperparameters,
        checkpoint_dir=checkpoints,
        on_stage=None if stages is None else lambda model: stages.append(model.n_estimators),
    )


def test_classifier_separates_the_classes(splits: Splits) -> None:
    model = _fit(splits, SMALL)
    metrics = classification_metrics(
        label_array(splits.test), positive_probabilities(model, feature_frame(splits.test))
    )
    assert metrics["roc_auc"] > 0.95
    assert metrics["accuracy"] > 0.9


def test_training_checkpoints_each_stage_and_resumes(splits: Splits, tmp_path: Path) -> None:
    stages: list[int] = []
    _fit(splits, SMALL, tmp_path, stages)
    assert stages == [10, 20, 30]
    assert joblib.load(tmp_path / CHECKPOINT_FILE)["model"].n_estimators == 30

    resumed: list[int] = []
    longer = Hyperparameters(n_estimators=45, checkpoint_interval=10, max_depth=2)
    assert _fit(splits, longer, tmp_path, resumed).n_estimators == 45
    assert resumed == [40, 45]


def test_checkpoint_of_other_trees_is_not_resumed(splits: Splits, tmp_path: Path) -> None:
    _fit(splits, SMALL, tmp_path)
    stages: list[int] = []
    _fit(splits, Hyperparameters(n_estimators=20, checkpoint_interval=10, max_depth=3), tmp_path, stages)
    assert stages == [10, 20]


def test_model_round_trips_through_sagemaker_archive(splits: Splits, tmp_path: Path) -> None:
    model = _fit(splits, SMALL)
    save_model(model, tmp_path / "model", hyperparameters=SMALL, metrics={"roc_auc": 0.99})
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["hyperparameters"]["n_estimators"] == 30
    archive_dir = tmp_path / "input"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / "model.tar.gz", "w:gz") as tar:
        for path in (tmp_path / "model").iterdir():
            tar.add(path, arcname=path.name)
    loaded = load_model(archive_dir)
    features = feature_frame(splits.test)
    np.testing.assert_allclose(
        positive_probabilities(loaded, features), positive_probabilities(model, features)
    )
    assert isinstance(load_model(tmp_path / "model"), GradientBoostingClassifier)


def test_unusable_model_inputs_are_explained(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match=r"no model\.tar\.gz"):
        load_model(tmp_path)
    (tmp_path / "model.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(ModelFileError, match="not a readable model archive"):
        load_model(tmp_path)
    (tmp_path / "model.tar.gz").unlink()
    joblib.dump({"not": "a model"}, tmp_path / "model.joblib")
    with pytest.raises(ModelFileError, match="holds a dict"):
        load_model(tmp_path)


def test_metric_log_lines_match_a_metric_definition_regex() -> None:
    line = format_metrics(
        {"roc_auc": 0.987654321, "log_loss": 0.00001, "undefined": float("nan")}, "validation_"
    )
    assert line == "validation_roc_auc=0.987654; validation_log_loss=0.000010;"
    assert re.search(r"validation_roc_auc=([0-9.]+);", line)[1] == "0.987654"  # type: ignore[index]


def test_evaluation_report_uses_model_quality_layout() -> None:
    labels = np.array([0, 0, 1, 1])
    report = evaluation_report(labels, np.array([0.1, 0.6, 0.4, 0.9]), threshold=0.5)
    metrics = report["binary_classification_metrics"]
    assert metrics["accuracy"]["value"] == 0.5
    assert metrics["roc_auc"]["value"] == 0.75
    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 1, "1": 1}}
    assert report["samples"] == 4


def test_evaluation_report_names_the_classes_of_its_labels() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    report = evaluation_report(labels, np.array([0.1, 0.2, 0.9, 0.8, 0.3]), threshold=0.5)
    assert report["class_names"] == {"0": "benign", "1": "malignant"}
    assert report["positive_class"] == "malignant"
    # One malignant tumour (label 1) was missed: recall is about the malignant class.
    assert report["binary_classification_metrics"]["confusion_matrix"]["1"] == {"0": 1, "1": 2}
    assert report["binary_classification_metrics"]["recall"]["value"] == pytest.approx(2 / 3)


def test_plots_are_png_files(tmp_path: Path) -> None:
    labels = np.array([0, 1, 0, 1, 1])
    probabilities = np.array([0.2, 0.8, 0.4, 0.3, 0.9])
    for path in (
        plot_roc_curve(labels, probabilities, tmp_path / "roc.png"),
        plot_confusion_matrix(labels, probabilities, 0.5, tmp_path / "cm.png"),
    ):
        assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plots_name_the_classes_not_the_label_codes() -> None:
    labels = np.array([0, 1, 0, 1, 1])
    probabilities = np.array([0.2, 0.8, 0.4, 0.3, 0.9])
    (matrix_axes,) = confusion_matrix_figure(labels, probabilities, 0.5).axes
    assert [tick.get_text() for tick in matrix_axes.get_xticklabels()] == ["benign", "malignant"]
    assert [tick.get_text() for tick in matrix_axes.get_yticklabels()] == ["benign", "malignant"]
    assert (matrix_axes.get_xlabel(), matrix_axes.get_ylabel()) == ("Predicted class", "True class")
    (roc_axes,) = roc_curve_figure(labels, probabilities).axes
    assert roc_axes.get_title() == "ROC curve: malignant vs benign"
    assert "malignant found" in roc_axes.get_ylabel()
