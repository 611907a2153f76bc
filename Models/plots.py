"""Figures of a trained classifier: learning curves, confusion matrix, mistakes, filters.

Also ``digits``, a titled grid of images (the mistakes grid is one), and ``attention``,
the attention matrix of one translation of a sequence-to-sequence model.

Each function returns a matplotlib ``Figure`` (a notebook shows it inline) and
saves it as a PNG only when given ``path``. None of them opens a window. Losses
are per sample, the unit of ``NeuralNetwork.evaluate`` and ``history``.
"""
import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, to_rgb
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay

import _checks
import _files


def curves(history, path=None, title="Learning curves"):
    """Loss per sample by epoch (training, validation) and the validation accuracy.

    The epoch with the lowest validation loss is marked: early stopping ends on its
    weights. Every epoch is a marker on an integer tick, so a one-epoch run shows
    its points; the legends sit below the panels, clear of the data.
    Args: ``history`` as kept by ``NeuralNetwork.train(epochs=...)``.
    """
    epochs = [h["epoch"] for h in history]
    validated = bool(history) and "validation_loss" in history[0]
    fig, axes = plt.subplots(1, 2 if validated else 1, figsize=(10 if validated else 5.5, 4.4),
                             squeeze=False)
    loss = axes[0, 0]
    loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="training")
    loss.set(title="Loss per sample", xlabel="epoch", ylabel="cross-entropy per sample")
    if validated:
        loss.plot(epochs, [h["validation_loss"] for h in history], "s-", label="validation")
        best = min(history, key=lambda h: h["validation_loss"])
        accuracy = axes[0, 1]
        accuracy.plot(epochs, [100 * h["validation_accuracy"] for h in history], "s-",
                      color="tab:green", label="validation")
        accuracy.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
        for ax in axes[0]:
            ax.axvline(best["epoch"], color="gray", ls=":",
                       label=f"best validation loss (epoch {best['epoch']})")
    loss.set_yscale("log")
    # A loss curve spans about one decade: label 2, 3 and 5 times the powers of ten too.
    loss.yaxis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
    loss.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    loss.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if epochs:
            ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False,
                  fontsize="small")
    fig.suptitle(title)
    return _finish(fig, path)


def confusion(labels, predicted, path=None):
    """Confusion matrix of integer ``labels`` against ``predicted`` (scikit-learn's display).

    The colours are on a log scale, so that a handful of mistakes shows next to a
    diagonal of a thousand; empty cells stay white. Each count is written in black
    or white, whichever stands out more from its own cell.
    """
    fig, ax = plt.subplots(figsize=(6.2, 5.5))
    display = ConfusionMatrixDisplay.from_predictions(
        labels, predicted, ax=ax, colorbar=True, cmap="Blues", im_kw={"norm": LogNorm(vmin=1)})
    image = display.im_
    for count, text in zip(display.confusion_matrix.ravel(), display.text_.ravel()):
        cell = image.cmap(image.norm(count)) if count > 0 else (1.0, 1.0, 1.0, 1.0)
        text.set_color(readable_on(cell))
    ax.set_title(f"Confusion matrix: {np.mean(labels == predicted):.2%} of "
                 f"{len(labels)} test images correct")
    return _finish(fig, path)


def luminance(colour):
    """Relative luminance of an RGB(A) colour, 0 (black) to 1 (white), as WCAG 2 defines it."""
    rgb = np.asarray(to_rgb(colour))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ [0.2126, 0.7152, 0.0722])


def contrast(a, b):
    """WCAG 2 contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable_on(background):
    """``"black"`` or ``"white"``: the text colour with the higher contrast on ``background``."""
    return max(("black", "white"), key=lambda text: contrast(text, background))


def mistakes(images, labels, predicted, path=None, count=32):
    """A grid of misclassified images, each titled 'true -> predicted'.

    Args:
        images: ``(n, 1, y, x)`` or ``(n, y, x)``, any image size.
    """
    wrong = np.flatnonzero(labels != predicted)
    shown = wrong[:count]
    return digits(np.asarray(images)[shown],
                  [f"{labels[i]} -> {predicted[i]}" for i in shown], path=path,
                  title=f"Misclassified: {len(shown)} of {len(wrong)} shown (true -> predicted)"
                  if len(wrong) else "No misclassified images")


def digits(images, titles, path=None, title=None, colors=None, columns=8, cmap="gray_r"):
    """Images in a grid, each with its own title above it, clear of the row above.

    Args:
        images: ``(n, 1, y, x)`` or ``(n, y, x)``. titles: ``n`` strings.
        colors: ``n`` title colours (default black), e.g. green for right, red for wrong.
    """
    images = np.asarray(images)
    images = images[:, 0] if images.ndim == 4 else images
    columns = min(columns, max(1, len(images)))
    rows = max(1, int(np.ceil(len(images) / columns)))
    # constrained layout keeps every title inside its own row's space
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.25, rows * 1.55 + 0.5),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for k, (ax, image) in enumerate(zip(axes.ravel(), images)):
        ax.imshow(image, cmap=cmap)
        ax.set_title(titles[k], fontsize=8, color="black" if colors is None else colors[k])
    if title:
        fig.suptitle(title)
    return _finish(fig, path, tight=False)


def filters(weights, path=None):
    """Convolution kernels ``(kernels, channels, m, n)``, first channel, on one colour scale."""
    weights = np.asarray(weights)
    count = len(weights)
    columns = min(count, 8)
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.4 * columns + 1.0, 1.5 * rows + 0.6),
                             squeeze=False)
    limit = float(np.abs(weights[:, 0]).max()) or 1.0
    for ax in axes.ravel():
        ax.axis("off")
    for k, ax in enumerate(axes.ravel()[:count]):
        image = ax.imshow(weights[k, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"kernel {k}", fontsize=8)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    channels = "" if weights.shape[1] == 1 else f" (channel 0 of {weights.shape[1]})"
    fig.suptitle(f"First-layer kernels{channels}: red positive, blue negative")
    return fig if path is None else _finish(fig, path, tight=False)


def attention(weights, source, target, path=None, title=None):
    """The attention matrix of one translation: where each output token looked in the input.

    Row ``t`` is output token ``t``, column ``j`` input token ``j``; cell ``(t, j)`` is the
    weight ``a_tj`` of input ``j`` in output ``t``'s context, on one colour scale from 0 to 1
    (a row of ``Seq2Seq.translate(..., return_alignment=True)`` sums to 1).

    Args:
        weights: ``(output length, input length)``.
        source: the input's labels, one per column (a str: one per character; a space
            is shown as ``␣``).
        target: the output's labels, one per row, e.g. ``list("1994-09-27") + ["END"]``.
        title: above the matrix (default "Attention weights").
    """
    weights = np.asarray(weights)
    source = ["\u2423" if c == " " else str(c) for c in source]
    target = [str(c) for c in target]
    if weights.shape != (len(target), len(source)):
        _checks.fail("plots.attention", f"weights of shape (len(target), len(source)) = "
                     f"({len(target)}, {len(source)})", _checks.Described(
                         f"shape {weights.shape}"))
    fig, ax = plt.subplots(figsize=(0.32 * len(source) + 2.2, 0.32 * len(target) + 1.6))
    image = ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), source)
    ax.set_yticks(range(len(target)), target)
    ax.tick_params(length=0)
    ax.set(xlabel="input character", ylabel="output token")
    ax.set_title("Attention weights" if title is None else title)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="attention weight")
    return _finish(fig, path)


def _finish(fig, path, tight=True):
    """Lay out ``fig``; save it to ``path`` if one is given. Returns the figure.

    The image is drawn in memory and then written atomically (``_files``), so a
    failed save leaves no part of a picture behind, and no temporary file."""
    if tight:
        fig.tight_layout()
    if path is not None:
        image = io.BytesIO()
        # The format follows the name, as savefig(path) does: .png by default.
        fig.savefig(image, format=Path(path).suffix[1:].lower() or "png", dpi=110,
                    bbox_inches="tight")
        _files.write_atomically(path, image.getvalue(), owner="plots")
    return fig
