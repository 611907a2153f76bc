"""The helpers classic test suites import: gradient checkers, accuracy, data layers.

This module is the classic face; the gradient-checking tools themselves live in
``_gradients`` (central differences, the one relative-difference metric, the
forward/backward loop) and ``_check_layer``:

``gradient_check(layers, input_tensor, label_tensor, seed=None)`` and
``gradient_check_weights(layers, input_tensor, label_tensor, bias)`` compare
backpropagation with central differences (eps = 1e-5) entry by entry and return
the relative difference per entry. ``layers`` is a list whose LAST element is the
loss (``forward(prediction, label)`` -> scalar, ``backward(label)``). Run them in
float64: float32 round-off swamps a 1e-5 step.

``check_layer(layer, input_shape)`` runs every check the framework's own layers
pass on any layer and returns a report that says what is probably wrong.
"""

import numpy as np

from Data.Datasets import DigitData, IrisData, RandomData    # the data layers live in Data/
from Data.MNIST import MNISTData
from ._check_layer import LayerCheckFailed, check_layer
from ._gradients import (backprop, forward_loss, gradient_check, gradient_check_weights,
                         numerical_gradient, relative_difference)

__all__ = ["numerical_gradient", "relative_difference", "forward_loss", "backprop",
           "gradient_check",
           "gradient_check_weights", "check_layer", "LayerCheckFailed", "compute_bn_gradients",
           "calculate_accuracy", "shuffle_data", "RandomData", "IrisData", "DigitData",
           "MNISTData"]


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
