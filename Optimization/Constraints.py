"""Weight regularizers. What a student implements: ``calculate_gradient(weights)`` and
``norm(weights)``, the penalty's gradient (same shape) and the penalty (a number).

The optimizers subtract the gradient scaled by the learning rate; ``NeuralNetwork.forward``
adds the penalty to the loss it returns (``net.loss``; the per-sample losses of ``train``
and ``evaluate`` leave it out). Which parameters a layer regularizes is declared in the
layer (``_regularized``, ``Layers/_layer.py``).
"""
import numpy as np

import _checks


def _check_alpha(name, alpha):
    return _checks.number(name, "the regularization weight alpha", alpha, 0)


class L2_Regularizer:
    """``norm(w) = alpha * sum(w**2)``, ``calculate_gradient(w) = alpha * w``.

    Note the gradient is ``alpha * w``, not ``2 * alpha * w``: the classic
    framework's convention, kept so existing results reproduce.
    """

    def __init__(self, alpha):
        self.alpha = _check_alpha("L2_Regularizer", alpha)

    def calculate_gradient(self, weights):
        return self.alpha * weights

    def norm(self, weights):
        return self.alpha * np.sum(np.square(weights))

    def __repr__(self):
        return f"L2_Regularizer({self.alpha})"


class L1_Regularizer:
    """``norm(w) = alpha * sum(|w|)``, ``calculate_gradient(w) = alpha * sign(w)``."""

    def __init__(self, alpha):
        self.alpha = _check_alpha("L1_Regularizer", alpha)

    def calculate_gradient(self, weights):
        return self.alpha * np.sign(weights)

    def norm(self, weights):
        return self.alpha * np.sum(np.abs(weights))

    def __repr__(self):
        return f"L1_Regularizer({self.alpha})"
