"""Gradient checking's one core: central differences, one metric, one loop (private helper).

Everything that compares backpropagation with numbers uses these: the classic
``Helpers.gradient_check`` and ``gradient_check_weights``, ``Helpers.check_layer``
and the test suite. The module imports nothing of the project (it is the bottom
floor of the gradient-checking tools).

Central differences, entry by entry, with ``eps = EPSILON = 1e-5``::

    numerical = (L(t + eps) - L(t - eps)) / (2 eps)

Relative difference with an absolute floor::

    difference = |analytical - numerical| / max(|analytical|, |numerical|, floor)

Above the floor it is the relative error; below, the absolute error scaled by the
floor. A floor is needed because the central difference has round-off of its own,
about 1e-16 * |L| / eps = 1e-11 for a loss of order 1, so the relative error of a
tiny gradient measures only that. ``FLOOR = 1e-4`` with a tolerance of 1e-5 accepts
an absolute error of 1e-9 there. The classic checkers keep the classic course's
behaviour, a floor of ``CLASSIC_FLOOR = 1e-15``.

The loop: ``layers`` is a list whose LAST element is a loss (``forward(prediction,
label)`` -> number, ``backward(label)``); ``forward_loss`` runs forward through all of them,
``backprop`` backward. Run checks in float64: float32 round-off swamps a 1e-5 step.
"""
import random

import numpy as np

EPSILON = 1e-5
FLOOR = 1e-4
CLASSIC_FLOOR = 1e-15


def numerical_gradient(tensor, evaluate):
    """``d evaluate() / d tensor`` entry by entry: ``(f(t + eps) - f(t - eps)) / (2 eps)``.

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


def relative_difference(analytical, numerical, floor=FLOOR):
    """Elementwise ``|a - n| / max(|a|, |n|, floor)`` (see the module docstring)."""
    a = np.asarray(analytical, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


def forward_loss(layers, input_tensor, label_tensor, seed=None):
    """Forward through every layer and the loss; re-seed ``np.random`` and ``random``
    before each layer's forward if ``seed`` is given (so Dropout draws the same mask)."""
    x = input_tensor
    for layer in layers[:-1]:
        if seed is not None:
            np.random.seed(seed)
            random.seed(seed)
        x = layer.forward(x)
    return layers[-1].forward(x, label_tensor)


def backprop(layers, label_tensor):
    """Backward from the loss (the last element) through every layer: dL/d(input)."""
    error = layers[-1].backward(label_tensor)
    for layer in reversed(layers[:-1]):
        error = layer.backward(error)
    return error


def compare(layers, tensor, analytical, input_tensor, label_tensor, seed=None,
            floor=FLOOR):
    """``relative_difference`` of ``analytical`` and the central differences of the loss
    with respect to ``tensor`` (the input itself, or a parameter array read by a layer)."""
    numerical = numerical_gradient(
        tensor, lambda: forward_loss(layers, input_tensor, label_tensor, seed))
    return relative_difference(analytical, numerical, floor)


def gradient_check(layers, input_tensor, label_tensor, seed=None):
    """Relative difference between dL/d(input) by backprop and by central differences.

    Args:
        layers: the layers, then the loss as the last element.
        input_tensor, label_tensor: one batch (float64).
        seed: if given, ``np.random`` and ``random`` are re-seeded before every
            layer's forward, so Dropout draws the same mask each time.
    Returns:
        array of the input's shape (floor ``CLASSIC_FLOOR``).
    """
    x = np.array(input_tensor, dtype=np.float64)
    forward_loss(layers, x, label_tensor, seed)
    analytical = np.array(backprop(layers, label_tensor), dtype=np.float64)
    return compare(layers, x, analytical, x, label_tensor, seed, CLASSIC_FLOOR)


def gradient_check_weights(layers, input_tensor, label_tensor, bias):
    """Relative difference for the parameters of ``layers[0]``.

    Checks ``layers[0].bias`` against ``gradient_bias`` when ``bias`` is true,
    else ``weights`` against ``gradient_weights``. Returns an array of the
    parameter's shape (floor ``CLASSIC_FLOOR``).
    """
    name = "bias" if bias else "weights"
    layer = layers[0]
    forward_loss(layers, input_tensor, label_tensor)
    backprop(layers, label_tensor)
    analytical = np.array(getattr(layer, "gradient_" + name), dtype=np.float64)
    parameter = getattr(layer, name)
    return compare(layers, parameter, analytical, input_tensor, label_tensor, None,
                   CLASSIC_FLOOR)
