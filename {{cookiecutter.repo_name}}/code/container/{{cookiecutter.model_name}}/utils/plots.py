"""Evaluation plots as PNG files, drawn with the Agg backend so no display is ever needed.

Axes and ticks name the classes (`utils.schema.CLASS_NAMES`), so a plot reads without knowing the label codes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from utils.metrics import predict_labels
from utils.schema import CLASS_NAMES, NEGATIVE_LABEL, POSITIVE_LABEL

POSITIVE, NEGATIVE = CLASS_NAMES[POSITIVE_LABEL], CLASS_NAMES[NEGATIVE_LABEL]


def roc_curve_figure(labels: np.ndarray, probabilities: np.ndarray) -> Figure:
    false_positive, true_positive, _ = roc_curve(labels, probabilities, pos_label=POSITIVE_LABEL)
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot(false_positive, true_positive, label=f"ROC (AUC = {roc_auc_score(labels, probabilities):.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(
        xlabel=f"False positive rate ({NEGATIVE} called {POSITIVE})",
        ylabel=f"True positive rate ({POSITIVE} found)",
        title=f"ROC curve: {POSITIVE} vs {NEGATIVE}",
    )
    axes.legend(loc="lower right")
    return figure


def confusion_matrix_figure(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> Figure:
    classes = [NEGATIVE_LABEL, POSITIVE_LABEL]
    matrix = confusion_matrix(labels, predict_labels(probabilities, threshold), labels=classes)
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour)
    names = [CLASS_NAMES[label] for label in classes]
    axes.set(
        xticks=range(len(classes)),
        xticklabels=names,
        yticks=range(len(classes)),
        yticklabels=names,
        xlabel="Predicted class",
        ylabel="True class",
        title=f"Confusion matrix (threshold {threshold:g})",
    )
    return figure


def plot_roc_curve(labels: np.ndarray, probabilities: np.ndarray, path: Path) -> Path:
    roc_curve_figure(labels, probabilities).savefig(path, dpi=100)
    return path


def plot_confusion_matrix(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, path: Path
) -> Path:
    confusion_matrix_figure(labels, probabilities, threshold).savefig(path, dpi=100)
    return path
