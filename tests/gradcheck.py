"""A gradient check that reports values, for layers whose gradients can be tiny.

``Helpers.gradient_check`` returns relative differences, which is the classic
criterion; where some true gradients are tiny (saturated sigmoids, an LSTM's
forget path) a relative difference only measures the central difference's own
round-off, about 1e-11 for a loss of order 1 and a step of 1e-5. These helpers
return both gradients, so tests can ask for agreement to 1e-5 relative down to
an absolute floor of 1e-9.
"""
import numpy as np

STEP = 1e-5


def loss_of(layers, x, labels):
    for layer in layers[:-1]:
        x = layer.forward(x)
    return layers[-1].forward(x, labels)


def backprop(layers, x, labels):
    loss_of(layers, x, labels)
    error = layers[-1].backward(labels)
    for layer in reversed(layers[:-1]):
        error = layer.backward(error)
    return error


def numerical(layers, x, labels, tensor):
    """Central differences of the loss with respect to ``tensor`` (perturbed in place)."""
    result = np.zeros(tensor.shape)
    for index in np.ndindex(*tensor.shape):
        original = tensor[index]
        tensor[index] = original + STEP
        upper = loss_of(layers, x, labels)
        tensor[index] = original - STEP
        lower = loss_of(layers, x, labels)
        tensor[index] = original
        result[index] = (upper - lower) / (2 * STEP)
    return result


def assert_gradients(layers, x, labels, parameters=()):
    """Backprop = central differences for the input and the named parameters of layers[0]."""
    x = np.array(x, dtype=np.float64)
    analytical = backprop(layers, x, labels)
    np.testing.assert_allclose(analytical, numerical(layers, x, labels, x), rtol=1e-5, atol=1e-9)
    for name in parameters:
        backprop(layers, x, labels)
        analytical = np.array(getattr(layers[0], "gradient_" + name))
        np.testing.assert_allclose(analytical,
                                   numerical(layers, x, labels, getattr(layers[0], name)),
                                   rtol=1e-5, atol=1e-9, err_msg=name)
