"""examples/vanishing.py: the plotted norms are dL/dx_t, and the figure is saved with its parts."""
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from Data.Sequences import adding_problem
from Layers import LSTM, RNN, Helpers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import vanishing  # noqa: E402
from AddingProblem import LastStepRegressor  # noqa: E402


@pytest.mark.parametrize("cell", [RNN.RNN, LSTM.LSTM])
def test_norms_are_dl_dx_by_distance_and_change_nothing(cell):
    np.random.seed(3)
    model = LastStepRegressor(cell(2, 3), 3, 1e-2, 1.0)
    x, y = adding_problem(4, 6, np.random.default_rng(0))
    weights = model.recurrent.weights.copy()
    norms = vanishing.input_gradient_norms(model, x, y)

    def mse():
        return model.loss.forward(model.predict(x), y) / len(x)
    dx = Helpers.numerical_gradient(x, mse)                # (batch, time, 2)
    expected = np.linalg.norm(dx, axis=2).mean(axis=0)[::-1]  # distance 0 = the last step
    np.testing.assert_allclose(norms, expected, rtol=1e-6)
    np.testing.assert_array_equal(model.recurrent.weights, weights)


def test_far_to_near_averages_the_ends():
    norms = np.array([4.0, 2.0, 1.0, 1.0, 0.5, 0.25])
    assert vanishing.far_to_near(norms, steps=2) == pytest.approx(0.375 / 3.0)


def test_figure_has_titles_labels_legends_and_is_saved(tmp_path):
    matplotlib.use("Agg")
    distance = np.arange(10)
    results = [{"name": name, "hidden": 4, "losses": np.linspace(0.2, 0.01, 120),
                "before": 10.0 ** -distance, "after": 10.0 ** -(distance * slope),
                "test_mse": 0.01} for name, slope in (("Elman RNN", 1.0), ("LSTM", 0.1))]
    fig = vanishing.figure(results, 0.167, tmp_path / "v.png")
    try:
        assert "10 steps, 4 hidden units" in fig.get_suptitle()
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend()
        labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
        assert "Elman RNN, after training (far / near 1e-05)" in labels
        assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        plt.close(fig)
