"""Optimizers: turn a gradient into a parameter update.

Contract: ``calculate_update(weight_tensor, gradient_tensor) -> new weights``.
Scalars and arrays of any shape are accepted; the result has the weights' dtype
(a float32 layer stays float32). The arithmetic and the state run in that dtype,
but at least float32: in float16 Adam's epsilon 1e-8 is 0 and g**2 overflows
above 256, so a float16 parameter is updated in float32 and rounded once at the
end (as the loss is). Weights that change dtype between calls (a layer converted
to float32) take their state along.
An optimizer object keeps the state of ONE parameter array (momentum velocity, Adam moments and step count), which is why
every trainable layer holds its own copies.

Updates are out of place: a step computes new state arrays and assigns them, and
never writes into an array it handed out (the weights it was given, ``v``, ``r``).
So a ``state_dict()`` kept by the caller is a snapshot, and ``NeuralNetwork``'s
divergence guard keeps references to the arrays of before a step instead of copies.

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
subclass keeps; its arrays have the parameter's shape and the dtype the update computes
in), and
``load_state_dict(state)`` puts it back. Every optimizer here registers itself with
``checkpoint.register``; one of your own does the same and is saved with its state.
"""
import copy
import functools
import math
import numbers

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
        dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
        work = np.promote_types(dtype, np.float32)      # float16 is computed in float32
        w = w.astype(work, copy=False)
        g = np.asarray(gradient_tensor, dtype=work)
        if self.clip_norm is not None:
            g = clip_gradients(g, self.clip_norm)
        new = self._step(w, g)
        if self.regularizer is not None and regularize:
            new = new - self.learning_rate * self.regularizer.calculate_gradient(w)
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
        are not constructor arguments (those are its config). The arrays are the
        optimizer's own, which it never changes in place: a kept dict stays as it was."""
        args = _constructor_args(type(self))
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in args}

    def load_state_dict(self, state):
        """Put back a ``state_dict()``: the same entries, every array a finite float
        array (copied, so the caller's dict stays its own), ``None`` where there is no
        state yet. Anything else raises ``checkpoint.StateError`` naming the entry."""
        owner = f"{type(self).__name__}.load_state_dict"
        current = self.state_dict()
        if not isinstance(state, dict) or set(state) != set(current):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise checkpoint.StateError(None, f"{owner}: expected the entries "
                                              f"{sorted(current)}, got {got}")
        # Numbers (Adam's step count) are the subclass's to check; arrays are checked here.
        state = {name: value if isinstance(current[name], numbers.Number)
                 else _state_array(owner, name, value) for name, value in state.items()}
        self._check_state(owner, state)
        for name, value in state.items():
            setattr(self, name, value)

    def _check_state(self, owner, state):
        """Refuse (``checkpoint.StateError``) a state that is well-typed but inconsistent."""

    def _step(self, w, g):
        raise NotImplementedError

    def _state_for(self, name, g):
        """The state array ``name`` ready for a step with gradient ``g``: zeros at the first
        step, in ``g``'s dtype (the state follows the weights), refused if its shape is not."""
        value = getattr(self, name)
        if value is None:
            return np.zeros_like(g)
        if value.shape != g.shape:
            raise ValueError(f"{type(self).__name__}.calculate_update: expected the state {name} "
                             f"to have the gradient's shape {g.shape}, got {value.shape} (a state "
                             f"of another parameter?)")
        return value.astype(g.dtype, copy=False)

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
        v = self._state_for("v", g) * self.momentum_rate    # a new array: the old v is kept
        v -= self.learning_rate * g
        self.v = v
        return w + v


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

    def _check_state(self, owner, state):
        """The moments come in pairs of one shape, ``r`` is never negative, and ``k``
        counts the steps: at least 1 with moments (``1 - mu**0`` would divide by 0;
        without moments they start afresh, whatever ``k``)."""
        v, r, k = state["v"], state["r"], state["k"]
        if (v is None) != (r is None):
            raise checkpoint.StateError(None, f"{owner}: expected both moments v and r, or "
                                              f"neither, got {_shown(v)} and {_shown(r)}")
        if v is not None and v.shape != r.shape:
            raise checkpoint.StateError("r", f"{owner}: expected the shape of v {v.shape}, "
                                             f"got {r.shape}")
        if r is not None and (r < 0).any():
            raise checkpoint.StateError("r", f"{owner}: expected values >= 0 (a second "
                                             f"moment), got negative ones")
        if not _is_count(k) or (k == 0 and v is not None):
            raise checkpoint.StateError("k", f"{owner}: expected a step count >= 0, and >= 1 "
                                             f"with moments, got {k!r}")

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


# Read at every training step (the divergence guard keeps the state): inspect once per class.
_constructor_args = functools.lru_cache(maxsize=None)(checkpoint.constructor_args)


def _is_count(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0


def _shown(value):
    return "None" if value is None else f"an array of shape {np.shape(value)}"


def _state_array(owner, name, value):
    """``value`` as an optimizer's state array of its own: a finite float array (or None)."""
    if value is None:
        return None
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        came = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) \
            else type(value).__name__
        raise checkpoint.StateError(name, f"{owner}: expected a float array or None, got {came}")
    if not np.isfinite(value).all():
        raise checkpoint.StateError(name, f"{owner}: expected finite values, got "
                                          f"{int(np.isnan(value).sum())} NaN and "
                                          f"{int(np.isinf(value).sum())} infinite entries")
    return value.copy()
