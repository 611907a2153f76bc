"""Models/plots.py: figures come back as Figures, are saved only when asked, fit any image size."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from Models import plots  # noqa: E402

HISTORY = [{"epoch": e, "train_loss": 1.0 / e, "learning_rate": 1e-3,
            "validation_loss": [0.9, 0.5, 0.4, 0.45, 0.5][e - 1],
            "validation_accuracy": [0.7, 0.8, 0.85, 0.84, 0.83][e - 1]} for e in range(1, 6)]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def drawings(images_shape):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 50)
    predicted = np.where(rng.random(50) < 0.3, (labels + 1) % 10, labels)
    return {"curves": lambda p: plots.curves(HISTORY, p),
            "confusion": lambda p: plots.confusion(labels, predicted, p),
            "mistakes": lambda p: plots.mistakes(rng.random((50, *images_shape)), labels,
                                                 predicted, p),
            "filters": lambda p: plots.filters(rng.normal(size=(6, 1, 5, 5)), p)}


@pytest.mark.parametrize("images_shape", [(1, 28, 28), (1, 8, 8), (8, 8)], ids=str)
def test_figures_are_returned_and_saved_only_with_a_path(tmp_path, monkeypatch, images_shape):
    monkeypatch.chdir(tmp_path)
    for name, draw in drawings(images_shape).items():
        figure = draw(None)
        assert isinstance(figure, Figure), name
        assert figure.texts or any(ax.get_title() for ax in figure.axes), name   # titled
    assert list(tmp_path.iterdir()) == []                       # nothing written without a path
    for name, draw in drawings(images_shape).items():
        draw(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 5000, name


def test_curves_label_their_axes_and_mark_the_best_epoch():
    figure = plots.curves(HISTORY)
    loss, accuracy = figure.axes
    for ax in (loss, accuracy):
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() and ax.get_title()
        marks = [line for line in ax.get_lines() if "best validation loss (epoch 3)" in
                 line.get_label()]
        assert len(marks) == 1 and list(marks[0].get_xdata()) == [3, 3]
    assert "per sample" in loss.get_ylabel()


def test_curves_without_validation_have_one_panel():
    history = [{k: h[k] for k in ("epoch", "train_loss", "learning_rate")} for h in HISTORY]
    figure = plots.curves(history)
    assert len(figure.axes) == 1


def test_confusion_and_filters_have_colour_bars():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 100)
    assert len(plots.confusion(labels, labels, None).axes) == 2      # the matrix and its bar
    assert len([ax for ax in plots.filters(rng.normal(size=(4, 1, 3, 3))).axes
                if ax.get_label() == "<colorbar>"]) == 1
