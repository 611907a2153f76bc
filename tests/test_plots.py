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
            "filters": lambda p: plots.filters(rng.normal(size=(6, 1, 5, 5)), p),
            "attention": lambda p: plots.attention(rng.dirichlet(np.ones(11), 11),
                                                   "27 Sep 1994", list("1994-09-27") + ["END"],
                                                   p)}


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


def test_a_one_epoch_run_shows_its_points_on_integer_ticks_clear_of_the_legends():
    figure = plots.curves(HISTORY[:1])
    figure.canvas.draw()
    for ax in figure.axes:
        assert list(ax.get_xticks()[(ax.get_xticks() >= ax.get_xlim()[0]) &
                                     (ax.get_xticks() <= ax.get_xlim()[1])]) == [1]
        assert ax.get_xlim()[0] < 1 < ax.get_xlim()[1]
        data = [line for line in ax.get_lines() if "best" not in line.get_label()]
        assert data and all(line.get_marker() not in ("", "None", None) for line in data)
        legend = ax.get_legend().get_window_extent()
        assert not legend.overlaps(ax.get_window_extent())          # below the panel
        for line in data:
            for point in ax.transData.transform(line.get_xydata()):
                assert not legend.contains(*point)


def test_integer_epoch_ticks_for_a_longer_run():
    figure = plots.curves(HISTORY)
    figure.canvas.draw()
    for ax in figure.axes:
        ticks = ax.get_xticks()
        assert np.array_equal(ticks, np.round(ticks)), ticks


def wcag_contrast(a, b):
    """Contrast ratio of two colours by the WCAG 2 formula (written out here, independently)."""
    def lum(colour):
        channels = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
                    for c in matplotlib.colors.to_rgb(colour)]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    high, low = sorted((lum(a), lum(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_confusion_counts_are_readable_on_their_cells():
    # A large off-diagonal count gets a dark cell: its number must not be dark too.
    labels = np.repeat(np.arange(10), 1000)
    predicted = labels.copy()
    predicted[:300] = 9                                 # 300 zeros read as nines
    predicted[1000:1003] = 2                            # 3 ones read as twos
    figure = plots.confusion(labels, predicted)
    ax = figure.axes[0]
    image = ax.get_images()[0]
    texts = {t.get_text(): t for t in ax.texts}
    for count in ("300", "700", "3"):
        cell = image.cmap(image.norm(int(count)))
        assert wcag_contrast(texts[count].get_color(), cell) >= 4.5, count    # WCAG AA
    assert texts["700"].get_color() == "white" and texts["3"].get_color() == "black"


def test_contrast_follows_wcag():
    assert plots.contrast("black", "white") == pytest.approx(21.0)
    assert plots.contrast("tab:blue", "tab:blue") == pytest.approx(1.0)
    assert plots.contrast("tab:blue", "white") == pytest.approx(wcag_contrast("tab:blue", "w"))
    assert plots.readable_on((0.03, 0.19, 0.42)) == "white"            # dark navy
    assert plots.readable_on((0.87, 0.92, 0.97)) == "black"            # pale blue


def test_digit_titles_stay_clear_of_the_row_above():
    rng = np.random.default_rng(2)
    figure = plots.digits(rng.random((12, 1, 28, 28)), [f"{d} (100%)" for d in range(12)],
                          colors=["green"] * 11 + ["red"], columns=6, title="digits")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes
    assert axes[11].title.get_color() == "red"
    for upper, lower in zip(axes[:6], axes[6:]):
        image_bottom = upper.get_images()[0].get_window_extent(renderer).y0
        title_top = lower.title.get_window_extent(renderer).y1
        assert title_top < image_bottom - 2, (title_top, image_bottom)      # pixels of air


def test_attention_draws_the_weights_with_a_label_per_character():
    rng = np.random.default_rng(3)
    weights = rng.dirichlet(np.ones(7), 5)                    # 5 output tokens, 7 characters
    figure = plots.attention(weights, "9/27 94", "1994" + "E", title="one date")
    ax = figure.axes[0]
    assert np.array_equal(ax.get_images()[0].get_array(), weights)
    assert ax.get_images()[0].get_clim() == (0, 1)           # one scale for every figure
    assert [t.get_text() for t in ax.get_xticklabels()] == list("9/27\u242394")
    assert [t.get_text() for t in ax.get_yticklabels()] == list("1994E")
    assert ax.get_xlabel() == "input character" and ax.get_ylabel() == "output token"
    assert ax.get_title() == "one date"
    assert [a.get_label() for a in figure.axes].count("<colorbar>") == 1


@pytest.mark.parametrize("shape", [(5, 6), (6, 7), (35,)], ids=str)
def test_attention_refuses_weights_that_do_not_fit_the_labels(shape):
    with pytest.raises(ValueError, match=r"plots.attention: expected weights of shape "
                                         r"\(len\(target\), len\(source\)\) = \(5, 7\), got "
                                         rf"shape \({shape[0]},"):
        plots.attention(np.zeros(shape), "9/27/94", "1994E")
