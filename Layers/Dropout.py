"""Inverted dropout."""
import numpy as np

import _checks
from ._layer import Layer


class Dropout(Layer):
    """Randomly zero units while training; the identity in the testing phase.

    Args:
        probability: the keep probability, the fraction of units KEPT
            (``Dropout(0.8)`` keeps 80 %); ``0 < probability <= 1``.

    Inverted dropout: while training, kept units are scaled by
    ``1 / probability`` so the expected output equals the input and the testing
    phase needs no rescaling. ``backward`` multiplies by the same scaled mask
    (``Dropout(0.5)`` passes back 0 or 2x the error). Masks are drawn from
    NumPy's global generator (``np.random.seed`` reproduces them).

    Reference: Srivastava et al., "Dropout: A Simple Way to Prevent Neural
    Networks from Overfitting", JMLR 2014.
    """

    _cache_fields = ("_mask", "_shape")

    def __init__(self, probability):
        super().__init__()
        self.probability = _checks.number("Dropout", "probability (the keep probability)",
                                          probability, 0, 1, low_open=True)
        self._mask = None
        self._shape = None      # of the last input; None: no forward yet

    def __repr__(self):
        return f"Dropout({self.probability})"

    def forward(self, input_tensor):
        """``(batch, ...) -> (batch, ...)``."""
        x = self._input(input_tensor, range(1, 33), "(batch, ...)")
        self._shape = x.shape
        if self.testing_phase:
            self._mask = None
            return x.copy()
        keep = np.random.random_sample(x.shape) < self.probability
        self._mask = keep.astype(x.dtype) / x.dtype.type(self.probability)
        return np.multiply(x, self._mask, out=np.empty_like(x))   # keeps x's memory layout

    def backward(self, error_tensor):
        """``dx = dy * mask / probability`` (the identity in the testing phase)."""
        e = self._error(error_tensor, self._shape)
        if self._mask is None:                                     # testing phase
            return e.copy()
        out = np.empty_like(e, dtype=np.result_type(e, self._mask))   # keeps e's memory layout
        return np.multiply(e, self._mask, out=out)
