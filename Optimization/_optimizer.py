"""What the framework adds to an optimizer: checked hyperparameters, one copy per
parameter that shares them, the regularizer, clipping, dtypes and the state protocol.

``Optimizer`` is the base of ``Optimizers.Sgd``, ``SgdWithMomentum`` and ``Adam``. A
subclass writes ``_step(w, g)``, the update without regularization, keeps its state in
public attributes that ``reset()`` sets (``v``, ``r``, ``k``), and lists the checks of
its own hyperparameters in ``checks``.

**One place for the hyperparameters.** ``parameter_copy()`` makes an optimizer of the
same class with its own (fresh) state and a reference ``source`` to the optimizer it was
made from: a copy has no hyperparameters of its own and reads every one it lacks from
``source`` (``__getattr__``). So a learning rate set on the network's optimizer is the
one every layer uses, and a checkpoint stores it once. Setting a hyperparameter on a
copy gives that copy its own value.

Updates are out of place: a step assigns new state arrays and never writes into one it
handed out, so a kept ``state_dict()`` is a snapshot (the divergence guard relies on it).
"""
import copy
import numbers

import numpy as np

import _checks
from _checks import StateError
from . import Constraints


def check_positive(owner, name, value):
    return _checks.number(owner, name, value, 0, low_open=True)


def check_decay(owner, name, value):
    return _checks.number(owner, name, value, 0, 1, high_open=True)


def check_clip(owner, name, value):
    return None if value is None else check_positive(owner, name, value)


def check_regularizer(owner, name, value):
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


class Optimizer:
    """Learning rate, regularizer, clipping and the regularized update (module docstring)."""

    # Hyperparameter name -> check(owner, name, value) -> value, run on every assignment.
    checks = {"learning_rate": check_positive, "regularizer": check_regularizer,
              "clip_norm": check_clip}

    def __init__(self, learning_rate, regularizer=None, clip_norm=None):
        self.source = None
        self.learning_rate = learning_rate
        self.regularizer = regularizer
        self.clip_norm = clip_norm
        self.reset()

    def __setattr__(self, name, value):
        check = type(self).checks.get(name)
        super().__setattr__(name, value if check is None else check(type(self).__name__, name, value))

    def __getattr__(self, name):
        # Only reached for an attribute the object lacks: a copy's hyperparameters.
        source = self.__dict__.get("source")
        if source is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(source, name)

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in _checks.constructor_args(type(self))
                         if getattr(self, k, None) is not None)
        return f"{type(self).__name__}({args})"

    def add_regularizer(self, regularizer):
        """Set the regularizer (object or ``{'type': ..., 'lambda': ...}`` dict)."""
        self.regularizer = regularizer

    def parameter_copy(self):
        """An optimizer for one more parameter: fresh state, this one's hyperparameters."""
        twin = copy.copy(self)
        for name in _checks.constructor_args(type(self)):
            twin.__dict__.pop(name, None)
        twin.__dict__["source"] = self.__dict__.get("source") or self
        twin.reset()
        return twin

    def reset(self):
        """Forget the state of the parameter (velocity, moments); none here."""

    def calculate_update(self, weight_tensor, gradient_tensor, regularize=True):
        """The updated weights (module docstring). ``regularize=False`` leaves the
        regularizer out: a layer passes it for the parameters it does not regularize.

        The result has the weights' dtype; the arithmetic and the state run in that dtype
        but at least float32 (in float16 Adam's epsilon is 0 and g**2 overflows above 256).
        """
        w = np.asarray(weight_tensor)
        dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
        work = np.promote_types(dtype, np.float32)
        w = w.astype(work, copy=False)
        g = np.asarray(gradient_tensor, dtype=work)
        if self.clip_norm is not None:
            g = clip_gradients(g, self.clip_norm)
        new = self._step(w, g)
        if self.regularizer is not None and regularize:
            new = new - self.learning_rate * self.regularizer.calculate_gradient(w)
        return new.astype(dtype, copy=False)

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

    # -- the state protocol (checkpoints, the divergence guard) ------------------------------

    def state_dict(self):
        """The state of the one parameter: the public attributes that are neither constructor
        arguments (the config) nor ``source``. The arrays are the optimizer's own, never
        changed in place."""
        args = _checks.constructor_args(type(self))
        return {k: v for k, v in vars(self).items()
                if not k.startswith("_") and k not in args and k != "source"}

    def load_state_dict(self, state):
        """Put back a ``state_dict()``: the same entries, each array a finite float array
        (copied), ``None`` where there is no state yet; else ``StateError`` naming the entry."""
        owner = f"{type(self).__name__}.load_state_dict"
        current = self.state_dict()
        if not isinstance(state, dict) or set(state) != set(current):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise StateError(None, f"{owner}: expected the entries {sorted(current)}, got {got}")
        # Numbers (Adam's step count) are the subclass's to check; arrays are checked here.
        state = {name: value if isinstance(current[name], numbers.Number)
                 else _state_array(owner, name, value) for name, value in state.items()}
        self.check_state(owner, state)
        for name, value in state.items():
            setattr(self, name, value)

    def check_state(self, owner, state):
        """Refuse (``StateError``) a state that is well-typed but inconsistent; any here."""


def _state_array(owner, name, value):
    """``value`` as an optimizer's state array of its own: a finite float array (or None)."""
    if value is None:
        return None
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        came = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) \
            else type(value).__name__
        raise StateError(name, f"{owner}: expected a float array or None, got {came}")
    if not np.isfinite(value).all():
        raise StateError(name, f"{owner}: expected finite values, got "
                               f"{int(np.isnan(value).sum())} NaN and "
                               f"{int(np.isinf(value).sum())} infinite entries")
    return value.copy()


def check_moments(optimizer, owner, state):
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
    count = _checks.Described(repr(k)) if isinstance(k, float) else k   # 3.0 is no count
    try:
        _checks.size(owner, "step count k", count, minimum=0 if v is None else 1)
    except (TypeError, ValueError) as err:
        raise StateError("k", str(err)) from None


def _shown(value):
    return "None" if value is None else f"an array of shape {np.shape(value)}"
