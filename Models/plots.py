"""Figures of a trained classifier: curves, confusion matrix, mistakes, first-layer filters.

Each function draws one matplotlib figure and saves it as a PNG; none of them
opens a window (TrainLeNet.py selects the Agg backend unless --show is given).
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay


def curves(history, loss_steps, path):
    """Training loss per step and per-epoch validation loss/accuracy."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(np.arange(1, len(loss_steps) + 1), loss_steps, lw=0.5, alpha=0.6,
              label="training loss per batch")
    left.set_xlabel("iteration")
    left.set_ylabel("loss (sum over the batch)")
    left.set_yscale("log")
    left.legend()
    epochs = [h["epoch"] for h in history]
    right.plot(epochs, [h["train_loss"] for h in history], "o-", label="training loss / sample")
    if history and "validation_loss" in history[0]:
        right.plot(epochs, [h["validation_loss"] for h in history], "o-",
                   label="validation loss / sample")
        accuracy = right.twinx()
        accuracy.plot(epochs, [100 * h["validation_accuracy"] for h in history], "s--",
                      color="tab:green", label="validation accuracy")
        accuracy.set_ylabel("validation accuracy (%)")
        accuracy.legend(loc="center right")
    right.set_xlabel("epoch")
    right.set_ylabel("loss per sample")
    right.legend(loc="upper right")
    return _save(fig, path)


def confusion(labels, predicted, path):
    """Confusion matrix of the test set (scikit-learn's display)."""
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ConfusionMatrixDisplay.from_predictions(labels, predicted, ax=ax, colorbar=False)
    ax.set_title(f"test set: {np.mean(labels == predicted):.2%} correct")
    return _save(fig, path)


def mistakes(images, labels, predicted, path, count=32):
    """A grid of misclassified test images, titled 'true -> predicted'."""
    wrong = np.flatnonzero(labels != predicted)[:count]
    columns = 8
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, index in zip(axes.ravel(), wrong):
        ax.imshow(images[index].reshape(28, 28), cmap="gray")
        ax.set_title(f"{labels[index]} -> {predicted[index]}", fontsize=8)
    fig.suptitle(f"{len(wrong)} of {int(np.sum(labels != predicted))} misclassified test digits")
    return _save(fig, path)


def filters(weights, path):
    """The first convolution layer's kernels, ``(kernels, 1, m, n)``."""
    count = len(weights)
    fig, axes = plt.subplots(1, count, figsize=(1.4 * count, 1.8), squeeze=False)
    limit = np.abs(weights).max()
    for k, ax in enumerate(axes[0]):
        ax.imshow(weights[k, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"kernel {k}", fontsize=8)
        ax.axis("off")
    return _save(fig, path)


def _save(fig, path):
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    if plt.get_backend().lower() == "agg":
        plt.close(fig)
    return path
