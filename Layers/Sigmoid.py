"""Logistic sigmoid: the function (shared with the LSTM and GRU gates) and the layer."""
import numpy as np

from ._layer import Layer


def sigmoid(a, out=None):
    """``1 / (1 + exp(-a))``, elementwise, in ``a``'s dtype; into ``out`` if given (it may be ``a``).

    Computed as ``0.5 + 0.5 tanh(a / 2)``, the same function: no exp(-a) to overflow for
    large negative ``a``, and four NumPy calls, 4x faster than scipy's ``expit`` on a
    batch of gates (bench/README.md).
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


class Sigmoid(Layer):
    """``y = 1 / (1 + exp(-x))``; backward uses the kept activation: ``dy/dx = y (1 - y)``."""

    _cache_fields = ("activations",)

    def __init__(self):
        super().__init__()
        self.activations = None

    def forward(self, input_tensor):
        """``(batch, ...) -> (batch, ...)``, in the input's float dtype."""
        x = self._input(input_tensor, range(1, 33), "(batch, ...)")
        self.activations = sigmoid(x)
        # A copy to hand out: a caller writing into the output must not change backward.
        return self.activations.copy(order="K")

    def backward(self, error_tensor):
        """``dx = dy * y * (1 - y)``, same shape as the input."""
        y = self.activations
        e = self._error(error_tensor, None if y is None else y.shape)
        return e * y * (1.0 - y)
