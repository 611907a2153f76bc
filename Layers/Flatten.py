"""Flatten every sample to a vector."""
import numpy as np

from ._layer import Layer


class Flatten(Layer):
    """``(batch, ...) -> (batch, prod(...))`` and back; a copy in both directions, never a
    view of the argument (see ``_layer``)."""

    _cache_fields = ("_shape",)

    def __init__(self):
        super().__init__()
        self._shape = None

    def forward(self, input_tensor):
        """``(batch, d1, d2, ...) -> (batch, d1*d2*...)``."""
        x = self._input(input_tensor, range(1, 33), "(batch, ...)")
        self._shape = x.shape
        out = x.reshape(x.shape[0], -1)
        # A new array, as the contract says: a reshape may be a view of the input.
        return out.copy() if np.shares_memory(out, input_tensor) else out

    def backward(self, error_tensor):
        """``(batch, d1*d2*...) -> (batch, d1, d2, ...)``."""
        shape = self._shape
        flat = None if shape is None else (shape[0], int(np.prod(shape[1:])))
        e = self._error(error_tensor, flat)
        dx = e.reshape(shape)
        return dx.copy() if np.shares_memory(dx, error_tensor) else dx
