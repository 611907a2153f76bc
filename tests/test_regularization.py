"""Regularization is declared once per layer (``_regularized``); the update and the loss read it."""
import numpy as np
import pytest

from Layers import BatchNormalization, Conv, FullyConnected, LSTM, RNN
from Layers._layer import TrainableLayer
from Optimization import Constraints, Optimizers


def step_without_gradient(layer, x):
    """One forward and a backward of zeros: any change of a parameter is the regularizer's."""
    before = {k: v.copy() for k, v in layer.parameters().items()}
    out = layer.forward(x)
    layer.backward(np.zeros_like(out))
    return {k: layer.parameters()[k] - before[k] for k in before}, before


@pytest.mark.parametrize("layer, x, decays", [
    (FullyConnected.FullyConnected(3, 2), np.ones((2, 3)), {"weights"}),
    (Conv.Conv(1, (1, 3, 3), 2), np.ones((1, 1, 4, 4)), {"weights", "bias"}),
    (BatchNormalization.BatchNormalization(3), np.random.rand(4, 3), set()),
    (RNN.RNN(2, 3, 2), np.ones((4, 2)), {"weights", "output_weights"}),
    (LSTM.LSTM(2, 3), np.ones((4, 2)), {"weights"}),
], ids=["FullyConnected", "Conv", "BatchNormalization", "RNN", "LSTM"])
def test_the_declaration_decides_the_update_and_the_loss(layer, x, decays):
    alpha, lr = 0.5, 0.1
    layer.optimizer = Optimizers.Sgd(lr, regularizer=Constraints.L2_Regularizer(alpha))
    assert set(layer._regularized) & set(layer.parameters()) == decays
    change, before = step_without_gradient(layer, x)
    for name, delta in change.items():
        expected = -lr * alpha * before[name] if name in decays else np.zeros_like(delta)
        np.testing.assert_allclose(delta, expected, atol=1e-12, err_msg=name)
    loss = layer.calculate_regularization_loss()
    weights_counted = "weights" in decays
    assert loss == pytest.approx(alpha * np.sum(layer.weights ** 2) if weights_counted else 0.0)


def test_no_special_cases_are_left():
    import inspect
    source = inspect.getsource(BatchNormalization)
    assert "optimizer.setter" not in source and "calculate_regularization_loss" not in source
    assert not hasattr(Optimizers.Adam(1e-3), "apply_regularizer")
    assert TrainableLayer._regularized == ("weights",)
