"""Optimizers: turn a gradient into a parameter update.

Contract: ``calculate_update(weight_tensor, gradient_tensor) -> new weights``.
Scalars and arrays of any shape are accepted; the result has the weights' dtype
(a float32 layer stays float32), and so has the state: weights that change
dtype between calls (a layer converted to float32) take their moments along.
An optimizer object keeps the state of ONE parameter array (momentum velocity, Adam moments and step count), which is why
every trainable layer holds its own copies.

Regularization is decoupled from the gradient statistics and uses the weights
from before the step::

    new = step(weights, gradient) - learning_rate * regularizer.calculate_gradient(weights)

where ``step`` is the plain SGD, momentum or Adam step below. The regularizer
never enters the momentum or the Adam moments.

Every constructor takes its classic arguments positionally or as keywords, plus
``regularizer=`` as a regularizer object or a dict
``{'type': 'L2' | 'L1', 'lambda': float}``, and ``clip_norm=`` (default None):
when set, each gradient is rescaled by ``clip_gradients`` to an L2 norm of at
most ``clip_norm`` before the step (useful for recurrent layers).

Linked copies: ``fork()`` returns a copy with fresh state whose hyperparameters
(learning rate, momentum, mu, rho, regularizer, clip_norm) are shared with the
original.
NeuralNetwork gives each layer forks of its optimizer, so
``net.optimizer.learning_rate *= 0.9`` reaches every layer (learning-rate
schedules work between ``train`` calls).

The state protocol (checkpoints): ``get_config()`` gives the constructor's arguments
(the regularizer as ``{"class", "args"}``), ``state_dict()`` every public attribute
of the instance (the state of one parameter: ``v``, ``r``, ``k``, or whatever a
subclass keeps; its arrays have the parameter's shape and dtype), and
``load_state_dict(state)`` puts it back. Every optimizer here registers itself with
``checkpoint.register``; one of your own does the same and is saved with its state.
"""
import copy
import math

import numpy as np

import _checks
import checkpoint
from . import Constraints


class _Hyperparameter:
    """A hyperparameter stored in the dict that an optimizer shares with its forks."""

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj._hyper[self.name]

    def __set__(self, obj, value):
        obj._hyper[self.name] = self.check(type(obj).__name__, self.name, value)


def _positive(owner, name, value):
    return _checks.number(owner, name, value, 0, low_open=True)


def _decay(owner, name, value):
    return _checks.number(owner, name, value, 0, 1, high_open=True)


def _regularizer(owner, name, value):
    if value is None or callable(getattr(value, "calculate_gradient", None)):
        return value
    if isinstance(value, dict):
        kinds = {"L2": Constraints.L2_Regularizer, "L1": Constraints.L1_Regularizer}
        kind = value.get("type")
        if kind not in kinds:
            _checks.fail(owner, "regularizer type 'L2' or 'L1'", kind)
        if "lambda" not in value:
            _checks.fail(owner, "the regularizer dict to give 'lambda'",
                         _checks.Described(f"keys {sorted(value)}"))
        return kinds[kind](value["lambda"])
    _checks.fail(owner, "a regularizer object or a dict {'type': 'L2'|'L1', 'lambda': float}",
                 _checks.Described(type(value).__name__), TypeError)


def clip_gradients(gradient, threshold=5.0):
    """Rescale ``gradient`` to L2 norm ``threshold`` if its norm exceeds it.

    ``g <- g * threshold / ||g||`` when ``||g|| > threshold``, else ``g`` unchanged
    (the norm runs over all entries). Returns a new array only when it rescales.
    A gradient with NaN or inf has no direction to keep and is refused with a
    ``ValueError`` (rescaling would turn [inf, 1] into [nan, 0]); ``NeuralNetwork``
    then puts back the parameters of before the step.

    Reference: Pascanu et al., "On the difficulty of training recurrent neural
    networks", ICML 2013.
    """
    g = np.asarray(gradient)
    _checks.finite("clip_gradients", g, "gradient")
    norm = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
    if norm > threshold:
        return g * g.dtype.type(threshold / norm) if g.dtype.kind == "f" else g * (threshold / norm)
    return g


def _clip(owner, name, value):
    return None if value is None else _positive(owner, name, value)


class Optimizer:
    """Base class: learning rate, regularizer and the regularized update.

    Subclasses implement ``_step(weights, gradient)``, the update without
    regularization.
    """

    learning_rate = _Hyperparameter(_positive)
    regularizer = _Hyperparameter(_regularizer)
    clip_norm = _Hyperparameter(_clip)

    def __init__(self, learning_rate, regularizer=None, clip_norm=None):
        self._hyper = {}
        self.learning_rate = learning_rate
        self.regularizer = regularizer
        self.clip_norm = clip_norm

    def add_regularizer(self, regularizer):
        """Set the regularizer (object or ``{'type': ..., 'lambda': ...}`` dict)."""
        self.regularizer = regularizer

    def calculate_update(self, weight_tensor, gradient_tensor, regularize=True):
        """Return the updated weights; see the module docstring for the formula.

        ``regularize=False`` leaves the regularizer out: a layer passes it for the
        parameters it does not regularize (see ``Layers/Base.py``).
        """
        w = np.asarray(weight_tensor)
        dtype = w.dtype if w.dtype.kind == "f" else np.float64
        g = np.asarray(gradient_tensor, dtype=dtype)
        if self.clip_norm is not None:
            g = clip_gradients(g, self.clip_norm)
        new = self._step(w, g)
        if self.regularizer is not None and regularize:
            new -= self.learning_rate * self.regularizer.calculate_gradient(w)
        return new.astype(dtype, copy=False)

    def fork(self):
        """A copy with fresh state, sharing this optimizer's hyperparameters."""
        twin = copy.copy(self)
        twin._reset()
        return twin

    def _reset(self):
        """Forget the per-parameter state (velocity, moments)."""

    def is_linked(self, other):
        """True if ``other`` shares this optimizer's hyperparameters (a fork, or itself)."""
        return isinstance(other, Optimizer) and other._hyper is self._hyper

    def get_config(self):
        """The constructor's arguments as plain data (see the module docstring)."""
        config = {}
        for arg in checkpoint.constructor_args(type(self)):
            value = self._hyper[arg] if arg in self._hyper else getattr(self, arg)
            config[arg] = checkpoint.describe(value, "regularizer", "regularizer") \
                if arg == "regularizer" and value is not None else \
                checkpoint.plain(value, f"{type(self).__name__}.{arg}")
        return config

    def state_dict(self):
        """The state of the parameter this optimizer updates: its public attributes that
        are not constructor arguments (those are its config)."""
        args = checkpoint.constructor_args(type(self))
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in args}

    def load_state_dict(self, state):
        """Put back a ``state_dict()`` (the same entries; arrays are taken, not copied)."""
        current = self.state_dict()
        if set(state) != set(current):
            raise checkpoint.StateError(None, f"{type(self).__name__}.load_state_dict: expected "
                                              f"the entries {sorted(current)}, got {sorted(state)}")
        for name, value in state.items():
            setattr(self, name, value)

    def _step(self, w, g):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items() if v is not None)
        return f"{type(self).__name__}({args})"


@checkpoint.register
class Sgd(Optimizer):
    """Plain gradient descent: ``w <- w - learning_rate * g``."""

    def _step(self, w, g):
        return w - self.learning_rate * g


@checkpoint.register
class SgdWithMomentum(Optimizer):
    """Gradient descent with momentum (the velocity form)::

        v <- momentum_rate * v - learning_rate * g
        w <- w + v

    ``v`` starts at zero.
    """

    momentum_rate = _Hyperparameter(_decay)

    def __init__(self, learning_rate, momentum_rate=0.9, regularizer=None, clip_norm=None):
        super().__init__(learning_rate, regularizer, clip_norm)
        self.momentum_rate = momentum_rate
        self._reset()

    def _reset(self):
        self.v = None

    def _step(self, w, g):
        if self.v is None:
            self.v = np.zeros_like(g)
        elif self.v.dtype != g.dtype:      # the weights changed dtype: the state follows
            self.v = self.v.astype(g.dtype)
        self.v *= self.momentum_rate       # in place: v is this optimizer's own buffer
        self.v -= self.learning_rate * g
        return w + self.v


@checkpoint.register
class Adam(Optimizer):
    """Adam with bias correction; ``mu``/``rho`` decay the first/second moment::

        k <- k + 1
        v <- mu * v + (1 - mu) * g
        r <- rho * r + (1 - rho) * g**2
        w <- w - learning_rate * (v / (1 - mu**k)) / (sqrt(r / (1 - rho**k)) + 1e-8)

    Reference: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """

    mu = _Hyperparameter(_decay)
    rho = _Hyperparameter(_decay)
    epsilon = 1e-8

    def __init__(self, learning_rate=0.001, mu=0.9, rho=0.999, regularizer=None,
                 clip_norm=None):
        super().__init__(learning_rate, regularizer, clip_norm)
        self.mu = mu
        self.rho = rho
        self._reset()

    def _reset(self):
        self.v = None
        self.r = None
        self.k = 0

    def load_state_dict(self, state):
        """As ``Optimizer.load_state_dict``; the moments come in pairs, ``r`` is never
        negative and ``k`` counts steps."""
        if (state.get("v") is None) != (state.get("r") is None):
            raise checkpoint.StateError(None, "expected both moments v and r, or neither")
        if state.get("r") is not None and (np.asarray(state["r"]) < 0).any():
            raise checkpoint.StateError("r", "expected values >= 0 (a second moment), got "
                                             "negative ones")
        k = state.get("k")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise checkpoint.StateError("k", f"expected a step count >= 0, got {k!r}")
        super().load_state_dict(state)

    def _step(self, w, g):
        if self.v is None:
            self.v = np.zeros_like(g)
            self.r = np.zeros_like(g)
        elif self.v.dtype != g.dtype:      # the weights changed dtype: the state follows
            self.v, self.r = self.v.astype(g.dtype), self.r.astype(g.dtype)
        self.k += 1
        mu, rho = self.mu, self.rho
        # The moments are this optimizer's own buffers: update them in place.
        self.v *= mu
        self.v += (1 - mu) * g
        self.r *= rho
        self.r += (1 - rho) * (g * g)
        # v_hat / (sqrt(r_hat) + eps), with both bias corrections folded into scalars.
        denominator = np.sqrt(self.r)
        denominator *= 1 / math.sqrt(1 - rho ** self.k)
        denominator += self.epsilon
        step = self.v / denominator
        step *= self.learning_rate / (1 - mu ** self.k)
        return w - step
