"""Hyperbolic tangent activation."""
import numpy as np

from ._layer import Layer


class TanH(Layer):
    """``y = tanh(x)``; backward uses the kept activation: ``dy/dx = 1 - y**2``."""

    _cache_fields = ("activations",)

    def __init__(self):
        super().__init__()
        self.activations = None

    def forward(self, input_tensor):
        """``(batch, ...) -> (batch, ...)``."""
        x = self._input(input_tensor, range(1, 33), "(batch, ...)")
        self.activations = np.tanh(x)
        # A copy to hand out: a caller writing into the output must not change backward.
        return self.activations.copy(order="K")

    def backward(self, error_tensor):
        """``dx = dy * (1 - y**2)``, same shape as the input."""
        y = self.activations
        e = self._error(error_tensor, None if y is None else y.shape)
        return e * (1.0 - y * y)
