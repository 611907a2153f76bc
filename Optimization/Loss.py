"""Loss layers, the last element of a network. What a student implements:

``forward(prediction_tensor, label_tensor) -> loss``, a number summed over the batch, and
``backward(label_tensor) -> dL/d(prediction)``, shaped like the prediction
``(batch, classes)`` (or ``(batch, time, classes)``: one distribution per step).
"""
import numpy as np


class CrossEntropyLoss:
    """Cross-entropy of SoftMax probabilities against their labels, summed over the batch.

    ``L = -sum(log(prediction[label == 1] + eps))`` for one-hot labels (the classic
    numbers to the last bit), ``-sum(label * log(prediction + eps))`` for other
    non-negative rows (soft labels); an all-zero row (a padded step) adds nothing. ``eps``
    is float64's machine epsilon; half precision is computed in float32, where it is not 0.

    ``backward`` is the classic ``-label / prediction`` with no eps, so that SoftMax's
    backward turns it into exactly ``prediction - label``, even for a right-class
    probability of 1e-44. An exact 0 is divided by eps instead (the slope of the forward's
    ``-log(p + eps)`` at 0): the error stays finite.

    Predictions outside [0, 1] by more than 1e-3 (a network without its SoftMax) and
    negative labels are refused.
    """

    EPS = np.finfo(np.float64).eps

    def __init__(self):
        self._prediction = None

    def __repr__(self):
        return "CrossEntropyLoss()"

    def forward(self, prediction_tensor, label_tensor):
        """``(batch, [time,] classes)`` twice -> the scalar loss, summed."""
        p = np.asarray(prediction_tensor)
        y = np.asarray(label_tensor)
        if p.ndim not in (2, 3) or y.shape != p.shape:
            raise ValueError(f"CrossEntropyLoss.forward: expected prediction and label of the "
                             f"same shape (batch, classes) or (batch, time, classes), got "
                             f"{p.shape} and {y.shape}")
        if p.shape[-1] == 0:        # a sum over no classes would be a silent 0
            raise ValueError(f"CrossEntropyLoss.forward: expected at least 1 class on the last "
                             f"axis, got shape {p.shape}")
        p = p.astype(_working_dtype(p.dtype), copy=False)
        # Scores of a layer without SoftMax are negative or above 1 somewhere; the margin
        # lets a gradient checker nudge a probability by 1e-5.
        if p.size and (p.min() < -1e-3 or p.max() > 1 + 1e-3):
            raise ValueError(f"CrossEntropyLoss.forward: expected probabilities in [0, 1] "
                             f"(the output of a SoftMax), got values from {p.min():.3g} to "
                             f"{p.max():.3g}; is the SoftMax layer missing?")
        if y.dtype.kind not in "biuf" or (y.size and y.min() < 0):
            raise ValueError(f"CrossEntropyLoss.forward: expected non-negative labels (one-hot, "
                             f"soft or all-zero padding rows), got "
                             f"{y.min() if y.dtype.kind in 'biuf' else y.dtype}")
        self._prediction = p
        eps = p.dtype.type(self.EPS)
        if np.all((y == 0) | (y == 1)):
            return float(-np.sum(np.log(p[y == 1] + eps)))
        weighted = y > 0
        return float(-np.sum(y[weighted] * np.log(p[weighted] + eps)))

    def backward(self, label_tensor):
        """``(batch, [time,] classes) -> same``: ``-label / prediction``.

        Exact zeros of ``prediction`` are divided by eps instead (see the class).
        """
        p = self._prediction
        if p is None:
            raise RuntimeError("CrossEntropyLoss.backward: called before forward")
        y = np.asarray(label_tensor)
        if y.shape != p.shape:
            raise ValueError(f"CrossEntropyLoss.backward: expected label of shape {p.shape}, "
                             f"got {y.shape}")
        eps = p.dtype.type(self.EPS)
        return -y.astype(p.dtype, copy=False) / np.where(p == 0, eps, p)


def _working_dtype(dtype):
    """The prediction's float dtype, at least float32 (where float64's eps is not 0);
    integer predictions are computed in float64."""
    if dtype.kind != "f":
        return np.dtype(np.float64)
    return np.promote_types(dtype, np.float32)


class L2Loss:
    """``L = sum((prediction - label)**2)`` over every entry, any shape; ``backward``
    returns ``2 * (prediction - label)``. For regression, e.g. the adding problem."""

    def __init__(self):
        self._difference = None

    def __repr__(self):
        return "L2Loss()"

    def forward(self, prediction_tensor, label_tensor):
        p, y = np.asarray(prediction_tensor), np.asarray(label_tensor)
        if p.shape != y.shape:
            raise ValueError(f"L2Loss.forward: expected prediction and label of the same shape, "
                             f"got {p.shape} and {y.shape}")
        self._difference = p - y.astype(p.dtype, copy=False)
        return float(np.sum(self._difference ** 2))

    def backward(self, label_tensor):
        if self._difference is None:
            raise RuntimeError("L2Loss.backward: called before forward")
        return 2 * self._difference

