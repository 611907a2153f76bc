"""Softmax. What a student implements: ``forward`` ``(batch, classes) -> (batch, classes)``,
probabilities over the last axis (also ``(batch, time, classes)``); ``backward`` the Jacobian."""
import numpy as np

from ._layer import Layer


class SoftMax(Layer):
    """``y_k = exp(x_k - max(x)) / sum_j exp(x_j - max(x))`` over the last axis.

    ``(batch, classes)``, or ``(batch, time, classes)`` for a distribution per step.

    Subtracting the row maximum leaves the result unchanged and keeps ``exp``
    finite for huge inputs (e.g. all 10000).
    """

    _cache_fields = ("_y",)

    def __init__(self):
        super().__init__()
        self._y = None

    def forward(self, input_tensor):
        """``(batch, [time,] classes) -> (batch, [time,] classes)`` probabilities summing to
        1 over the classes."""
        x = self._input(input_tensor, (2, 3), "(batch, classes) or (batch, time, classes)")
        if x.shape[-1] == 0:                # no class to give the probability to
            raise ValueError(f"SoftMax.forward: expected at least 1 class on the last axis, "
                             f"got shape {x.shape}")
        z = np.exp(x - x.max(axis=-1, keepdims=True))
        z /= z.sum(axis=-1, keepdims=True)
        self._y = z
        return z

    def backward(self, error_tensor):
        """Full Jacobian: ``dx_k = y_k * (dy_k - sum_j dy_j y_j)``."""
        y = self._y
        e = self._error(error_tensor, None if y is None else y.shape)
        return y * (e - np.sum(e * y, axis=-1, keepdims=True))
