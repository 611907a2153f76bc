"""Optimizers. What a student implements, for each of Sgd, SgdWithMomentum and Adam::

    calculate_update(weight_tensor, gradient_tensor) -> new weights   (the weights' shape)

One optimizer object keeps the state of ONE parameter (``v``; Adam's ``v``, ``r``, ``k``),
so ``NeuralNetwork.append_layer`` gives each trainable layer its own ``parameter_copy()``,
which reads the learning rate and the other hyperparameters from the network's optimizer:
``optimizer.learning_rate *= 0.9`` between ``train`` calls reaches every layer.

The regularizer is decoupled from the gradient statistics and uses the old weights::

    new = step(weights, gradient) - learning_rate * regularizer.calculate_gradient(weights)

Every constructor also takes ``regularizer=`` (an object or ``{'type': 'L2' | 'L1',
'lambda': float}``) and ``clip_norm=`` (``clip_gradients``). The base class is
``Optimization/_optimizer.py``: a subclass writes ``_step(w, g)`` and ``reset()``.
"""
import math

import numpy as np

from ._optimizer import Optimizer, check_decay, check_moments, clip_gradients  # noqa: F401


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
    check_state = check_moments     # what a checkpoint may give back (Optimization/_optimizer.py)
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
