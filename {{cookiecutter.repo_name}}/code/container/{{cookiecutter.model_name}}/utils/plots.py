"""Evaluation plots as PNG files, drawn with the Agg backend so no display is ever needed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from utils.metrics import predict_labels


def plot_roc_curve(labels: np.ndarray, probabilities: np.ndarray, path: Path) -> Path:
    false_positive, true_positive, _ = roc_curve(labels, probabilities)
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot(false_positive, true_positive, label=f"ROC (AUC = {roc_auc_score(labels, probabilities):.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    figure.savefig(path, dpi=100)
    return path


def plot_confusion_matrix(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, path: Path
) -> Path:
    matrix = confusion_matrix(labels, predict_labels(probabilities, threshold), labels=[0, 1])
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour)
    axes.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xlabel="Predicted label",
        ylabel="True label",
        title=f"Confusion matrix (threshold {threshold:g})",
    )
    figure.savefig(path, dpi=100)
    return path
