"""Logistic sigmoid activation."""
from scipy.special import expit

from ._layer import Layer


class Sigmoid(Layer):
    """``y = 1 / (1 + exp(-x))``; backward uses the kept activation: ``dy/dx = y (1 - y)``."""

    _cache_fields = ("activations",)

    def __init__(self):
        super().__init__()
        self.activations = None

    def forward(self, input_tensor):
        """``(batch, ...) -> (batch, ...)``; scipy's ``expit`` is stable for large |x|."""
        x = self._input(input_tensor, range(1, 33), "(batch, ...)")
        self.activations = expit(x).astype(x.dtype, copy=False)   # (float16: expit gives float32)
        # A copy to hand out: a caller writing into the output must not change backward.
        return self.activations.copy(order="K")

    def backward(self, error_tensor):
        """``dx = dy * y * (1 - y)``, same shape as the input."""
        y = self.activations
        e = self._error(error_tensor, None if y is None else y.shape)
        return e * y * (1.0 - y)
