"""The helpers classic test suites import: gradient checkers, accuracy, data layers.

The gradient checkers compare backpropagation with central differences::

    numerical = (L(x + eps) - L(x - eps)) / (2 * eps),   eps = 1e-5

entry by entry, and return the relative difference
``|analytical - numerical| / max(|analytical|, |numerical|)`` per entry (0 where
both are below 1e-15). ``layers`` is a list whose LAST element is the loss
(``forward(prediction, label)`` -> scalar, ``backward(label)``). Run them in
float64: float32 round-off swamps a 1e-5 step.

``check_layer(layer, input_shape)`` (from ``_check_layer``, built on the same
central differences) runs every check the framework's own layers pass on any
layer and returns a report that says what is probably wrong.
"""

import random

import numpy as np

from Data.Datasets import DigitData, IrisData, RandomData    # the data layers live in Data/
from Data.MNIST import MNISTData
from ._check_layer import LayerCheckFailed, check_layer

__all__ = ["numerical_gradient", "gradient_check", "gradient_check_weights", "check_layer",
           "LayerCheckFailed", "compute_bn_gradients", "calculate_accuracy", "shuffle_data", "RandomData",
           "IrisData", "DigitData", "MNISTData"]

EPSILON = 1e-5

def _loss(layers, input_tensor, label_tensor, seed):
    """Forward through every layer and the loss; re-seed first if ``seed`` is given."""
    x = input_tensor
    for layer in layers[:-1]:
        if seed is not None:
            np.random.seed(seed)
            random.seed(seed)
        x = layer.forward(x)
    return layers[-1].forward(x, label_tensor)


def _backprop(layers, label_tensor):
    error = layers[-1].backward(label_tensor)
    for layer in reversed(layers[:-1]):
        error = layer.backward(error)
    return error


def _relative_difference(analytical, numerical):
    scale = max(abs(analytical), abs(numerical))
    return 0.0 if scale < 1e-15 else abs(analytical - numerical) / scale


def numerical_gradient(tensor, evaluate):
    """``d evaluate() / d tensor`` entry by entry: ``(f(t + eps) - f(t - eps)) / (2 eps)``.

    The one numerical-gradient core: the gradient checkers, ``check_layer`` and the
    test suite all use it.

    Args:
        tensor: the input or a parameter array, perturbed in place and restored.
        evaluate: a function of no arguments that reads ``tensor``; it returns a
            number (e.g. a loss) or an array (e.g. a layer's output).
    Returns:
        ``tensor.shape`` for a number, ``tensor.shape + evaluate().shape`` for an
        array (a Jacobian).
    """
    result = None
    for index in np.ndindex(*tensor.shape):
        original = tensor[index]
        tensor[index] = original + EPSILON
        upper = np.array(evaluate())      # a copy: a layer may reuse its output buffer
        tensor[index] = original - EPSILON
        lower = np.array(evaluate())
        tensor[index] = original
        if result is None:
            result = np.zeros(tensor.shape + upper.shape)
        result[index] = (upper - lower) / (2 * EPSILON)
    return np.zeros(tensor.shape) if result is None else result


def _check(layers, tensor, analytical, input_tensor, label_tensor, seed):
    """Relative difference of ``analytical`` and the central differences for ``tensor``."""
    numerical = numerical_gradient(
        tensor, lambda: _loss(layers, input_tensor, label_tensor, seed))
    difference = np.zeros(tensor.shape)
    for index in np.ndindex(*tensor.shape):
        difference[index] = _relative_difference(analytical[index], numerical[index])
    return difference


def gradient_check(layers, input_tensor, label_tensor, seed=None):
    """Relative difference between dL/d(input) by backprop and by central differences.

    Args:
        layers: the layers, then the loss as the last element.
        input_tensor, label_tensor: one batch (float64).
        seed: if given, ``np.random`` and ``random`` are re-seeded before every
            layer's forward, so Dropout draws the same mask each time.
    Returns:
        array of the input's shape.
    """
    x = np.array(input_tensor, dtype=np.float64)
    _loss(layers, x, label_tensor, seed)
    analytical = _backprop(layers, label_tensor)
    return _check(layers, x, analytical, x, label_tensor, seed)


def gradient_check_weights(layers, input_tensor, label_tensor, bias):
    """Relative difference for the parameters of ``layers[0]``.

    Checks ``layers[0].bias`` against ``gradient_bias`` when ``bias`` is true,
    else ``weights`` against ``gradient_weights``. Returns an array of the
    parameter's shape.
    """
    name = "bias" if bias else "weights"
    layer = layers[0]
    _loss(layers, input_tensor, label_tensor, None)
    _backprop(layers, label_tensor)
    analytical = np.array(getattr(layer, "gradient_" + name))
    parameter = getattr(layer, name)
    return _check(layers, parameter, analytical, input_tensor, label_tensor, None)


def compute_bn_gradients(error_tensor, input_tensor, weights, mean, var,
                         eps=np.finfo(float).eps):
    """dL/d(input) of training-mode batch normalization, ``(batch, channels)`` arrays.

    Backpropagation through the computation graph one node at a time, written
    independently of ``BatchNormalization``'s compact formula so that a test can
    hold one against the other (with N samples, mu = mean, v = var)::

        x_hat = (x - mu) / sqrt(v + eps),   y = weights * x_hat + bias
        dx_hat = dy * weights
        dv     = sum(dx_hat * (x - mu)) * -1/2 (v + eps)^(-3/2)
        dmu    = sum(-dx_hat) / sqrt(v + eps) + dv * sum(-2 (x - mu)) / N
        dx     = dx_hat / sqrt(v + eps) + dv * 2 (x - mu) / N + dmu / N
    """
    x, dy = np.asarray(input_tensor), np.asarray(error_tensor)
    n = x.shape[0]
    centered = x - mean
    std = np.sqrt(var + eps)
    dx_hat = dy * weights
    dvar = np.sum(dx_hat * centered, axis=0) * -0.5 * (var + eps) ** -1.5
    dmean = np.sum(-dx_hat, axis=0) / std + dvar * np.sum(-2.0 * centered, axis=0) / n
    return dx_hat / std + dvar * 2.0 * centered / n + dmean / n


def calculate_accuracy(results, labels):
    """Fraction of rows whose arg-max prediction matches the one-hot label."""
    return float(np.mean(np.argmax(results, axis=1) == np.argmax(labels, axis=1)))


def shuffle_data(input_tensor, label_tensor):
    """The same random permutation (global generator) applied to inputs and labels."""
    order = np.random.permutation(len(input_tensor))
    return input_tensor[order], label_tensor[order]
