"""Optimizers: turn a gradient into a parameter update.

What a student implements, for each optimizer::

    calculate_update(weight_tensor, gradient_tensor) -> new weights

with the same shapes as the weights (scalars work too). One optimizer object keeps the
state of ONE parameter (a velocity ``v``, Adam's moments ``v``, ``r`` and step count
``k``). ``NeuralNetwork.append_layer`` therefore gives every trainable layer its own copy
(``parameter_copy()``: own state, and the learning rate, momentum, mu, rho and
regularizer read from the network's optimizer, so ``optimizer.learning_rate *= 0.9``
between ``train`` calls reaches every layer).

The regularizer is decoupled from the gradient statistics and uses the weights of
before the step::

    new = step(weights, gradient) - learning_rate * regularizer.calculate_gradient(weights)

Each constructor also takes ``regularizer=`` (an object or ``{'type': 'L2' | 'L1',
'lambda': float}``) and ``clip_norm=`` (rescale each gradient to at most that L2 norm,
``clip_gradients``). The arithmetic, the checks and the state protocol are
``Optimization/_optimizer.py``'s: a subclass writes ``_step(w, g)`` (and ``reset()`` for
its state), as the three below do.
"""
import math

import numpy as np

from _checks import StateError

from ._optimizer import Optimizer, check_decay, clip_gradients  # noqa: F401 (public names)


class Sgd(Optimizer):
    """Plain gradient descent: ``w <- w - learning_rate * g``."""

    def _step(self, w, g):
        return w - self.learning_rate * g


class SgdWithMomentum(Optimizer):
    """Gradient descent with momentum (the velocity form), ``v`` starting at zero::

        v <- momentum_rate * v - learning_rate * g
        w <- w + v
    """

    checks = {**Optimizer.checks, "momentum_rate": check_decay}

    def __init__(self, learning_rate, momentum_rate=0.9, regularizer=None, clip_norm=None):
        super().__init__(learning_rate, regularizer, clip_norm)
        self.momentum_rate = momentum_rate

    def reset(self):
        self.v = None

    def _step(self, w, g):
        v = self._state_for("v", g) * self.momentum_rate    # a new array: the old v is kept
        v -= self.learning_rate * g
        self.v = v
        return w + v


class Adam(Optimizer):
    """Adam with bias correction; ``mu``/``rho`` decay the first/second moment::

        k <- k + 1
        v <- mu * v + (1 - mu) * g
        r <- rho * r + (1 - rho) * g**2
        w <- w - learning_rate * (v / (1 - mu**k)) / (sqrt(r / (1 - rho**k)) + 1e-8)

    Reference: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """

    checks = {**Optimizer.checks, "mu": check_decay, "rho": check_decay}
    epsilon = 1e-8

    def __init__(self, learning_rate=0.001, mu=0.9, rho=0.999, regularizer=None,
                 clip_norm=None):
        super().__init__(learning_rate, regularizer, clip_norm)
        self.mu, self.rho = mu, rho

    def reset(self):
        self.v, self.r, self.k = None, None, 0

    def _step(self, w, g):
        k, mu, rho = self.k + 1, self.mu, self.rho
        # New arrays, filled in place while no one else holds them; the old v and r stay.
        v = self._state_for("v", g) * mu
        v += (1 - mu) * g
        r = self._state_for("r", g) * rho
        r += (1 - rho) * (g * g)
        self.v, self.r, self.k = v, r, k
        # v_hat / (sqrt(r_hat) + eps), with both bias corrections folded into scalars.
        denominator = np.sqrt(r)
        denominator *= 1 / math.sqrt(1 - rho ** k)
        denominator += self.epsilon
        step = v / denominator
        step *= self.learning_rate / (1 - mu ** k)
        return w - step

    def check_state(self, owner, state):
        """The moments come in pairs of one shape, ``r`` is never negative, and ``k`` counts
        the steps: at least 1 with moments (``1 - mu**0`` would divide by 0)."""
        v, r, k = state["v"], state["r"], state["k"]
        if (v is None) != (r is None):
            raise StateError(None, f"{owner}: expected both moments v and r, or neither, "
                                   f"got {_shown(v)} and {_shown(r)}")
        if v is not None and v.shape != r.shape:
            raise StateError("r", f"{owner}: expected the shape of v {v.shape}, got {r.shape}")
        if r is not None and (r < 0).any():
            raise StateError("r", f"{owner}: expected values >= 0 (a second moment), "
                                  f"got negative ones")
        if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 0) or \
                (k == 0 and v is not None):
            raise StateError("k", f"{owner}: expected a step count >= 0, and >= 1 with "
                                  f"moments, got {k!r}")


def _shown(value):
    return "None" if value is None else f"an array of shape {np.shape(value)}"
