"""Rectified linear unit. What a student implements: ``forward`` ``(batch, ...) -> (batch,
...)``, ``max(0, x)``; ``backward`` passes the error where ``x > 0``."""
import numpy as np

from ._layer import Layer


class ReLU(Layer):
    """``y = max(0, x)`` elementwise; any input shape."""

    _cache_fields = ("_positive",)

    def __init__(self):
        super().__init__()
        self._positive = None

    def forward(self, input_tensor):
        """``(batch, ...) -> (batch, ...)``."""
        x = self._input(input_tensor, range(1, 33), "(batch, ...)")
        self._positive = x > 0
        return np.maximum(x, 0)

    def backward(self, error_tensor):
        """dL/dx = dL/dy where x > 0, else 0 (the subgradient at 0 is 0)."""
        mask = self._positive
        e = self._error(error_tensor, None if mask is None else mask.shape)
        return e * mask
