"""Classification metrics and the evaluation report."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from utils.job import DEFAULT_THRESHOLD
from utils.schema import CLASS_NAMES, NEGATIVE_LABEL, POSITIVE_LABEL


def predict_labels(probabilities: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    return (probabilities >= threshold).astype(int)


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, float]:
    """Threshold metrics of the positive class at `threshold`, the threshold-free ROC AUC and log loss."""
    predicted = predict_labels(probabilities, threshold)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, pos_label=POSITIVE_LABEL, zero_division=0)),
        "recall": float(recall_score(labels, predicted, pos_label=POSITIVE_LABEL, zero_division=0)),
        "f1": float(f1_score(labels, predicted, pos_label=POSITIVE_LABEL, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "log_loss": float(log_loss(labels, probabilities, labels=[NEGATIVE_LABEL, POSITIVE_LABEL])),
    }


def evaluation_report(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """The report in SageMaker's model quality layout, readable by model registry and a pipeline's JsonGet.

    That layout keys the confusion matrix by label (actual, then predicted); `class_names` says what each
    label means and `positive_class` which one precision and recall are about.
    """
    metrics = classification_metrics(labels, probabilities, threshold)
    classes = [NEGATIVE_LABEL, POSITIVE_LABEL]
    matrix = confusion_matrix(labels, predict_labels(probabilities, threshold), labels=classes)
    counts = {
        str(actual): {str(predicted): int(matrix[row, column]) for column, predicted in enumerate(classes)}
        for row, actual in enumerate(classes)
    }
    return {
        "binary_classification_metrics": {
            **{name: {"value": value} for name, value in metrics.items()},
            "confusion_matrix": counts,
        },
        "class_names": {str(label): CLASS_NAMES[label] for label in classes},
        "positive_class": CLASS_NAMES[POSITIVE_LABEL],
        "threshold": threshold,
        "samples": len(labels),
    }
