"""What the framework adds to the layer contract of ``Base.py``.

``Layer`` (every layer of the framework derives from it, through ``TrainableLayer`` where
it has parameters):

* ``_input(x, ndims, expected, dtype)`` and ``_error(e, shape, dtype)``: the checks at the
  boundary, one message template (the layer, what was expected, what came);
* ``_cache_fields``: the attributes ``forward`` writes for ``backward``; copies and pickles
  leave them out;
* ``_state_fields``: learned state besides the parameters (BatchNormalization's running
  statistics, a recurrent layer's ``memorize``), kept by checkpoints and snapshots;
* the state protocol: ``state_dict()`` (parameters and ``_state_fields``, the arrays
  themselves) and ``load_state_dict(state)`` (after ``check_state(state)``).

``TrainableLayer`` adds the dtype (read from ``weights``), the ``optimizer`` property
(``weights`` uses the optimizer set, every other parameter a ``parameter_copy`` of it:
its own moments, the same hyperparameters), ``parameters()``, ``parameter_optimizers()``
and ``calculate_regularization_loss()``. A subclass lists ``_param_names`` (keeping
``gradient_<name>`` for each), the ``_regularized`` ones, and ``_parameter_shapes()``; it
calls ``_check_parameters()`` first in ``forward`` and ``_update()`` last in ``backward``,
and draws in ``initialize`` through ``_initialized`` (which keeps what a stub initializer
returns, warns, and lets ``forward`` refuse it).

**Regularization** acts in the update on the ``_regularized`` parameters; the loss that
NeuralNetwork adds is ``regularizer.norm(weights)`` when ``weights`` is among them. These
are the classic framework's numbers: FullyConnected's bias row decays and counts; Conv's
separate ``bias`` and a recurrent layer's ``output_weights`` decay but do not count;
BatchNormalization's gamma and beta are not regularized.

The first layer's input error has no consumer: a layer with ``skips_input_gradient =
True`` accepts ``backward(error, input_gradient=False)`` and returns None.

Layout: only the *shape* is batch first; the memory need not be C-ordered. Conv returns a
batch-first view of a batch-last ``(channels, y, x, batch)`` buffer, and the activations,
Dropout and Pooling keep the layout they receive, so a Conv -> ReLU -> Pooling -> Conv chain
never transposes in between. An output never shares memory with the input (Flatten copies
where a reshape would be a view).

dtype: the dtype IS the weights' dtype; other parameters, buffers and optimizer state
follow it at the next ``forward`` or update. Layers without parameters keep a float
input's dtype (integer input is computed in float64).
"""
import copy
import warnings

import numpy as np

from _checks import StateError
from .Base import BaseLayer


class Layer(BaseLayer):
    """A ``BaseLayer`` with the framework's additions: the cache, the state, the checks."""

    # The cache: attributes forward writes for backward. Copies and pickles leave them
    # out (a copy needs no last batch) and they come back as None. Checkpoints never
    # pickle: they hold learned_state only (checkpoint.py).
    _cache_fields = ()
    # Learned state besides the parameters (see the module docstring).
    _state_fields = ()

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self._cache_fields:
            state[name] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(dict.fromkeys(self._cache_fields))
        self.__dict__.update(state)

    # -- the state protocol (see the module docstring) ---------------------------

    def state_dict(self):
        """What the layer has learned: ``learned_state`` (the arrays themselves)."""
        return learned_state(self)

    def check_state(self, state):
        """Refuse (``StateError``) a state this layer cannot hold; default: any."""

    def load_state_dict(self, state):
        """Put back a ``state_dict()``: the same entries, arrays of the same shapes."""
        current = self.state_dict()
        if set(state) != set(current):
            raise StateError(None, f"{type(self).__name__}.load_state_dict: expected "
                                              f"the entries {sorted(current)}, got {sorted(state)}")
        for name, value in state.items():
            now = current[name]
            if isinstance(now, np.ndarray) != isinstance(value, np.ndarray) or \
                    (isinstance(now, np.ndarray) and now.shape != value.shape):
                raise StateError(name, f"expected {_describe(now)}, "
                                                  f"got {_describe(value)}")
        self.check_state(state)
        for name, value in state.items():
            setattr(self, name, value)

    # -- boundary checks shared by all layers ---------------------------------

    def _input(self, input_tensor, ndims, expected, dtype=None, hint=""):
        """Return ``input_tensor`` as a float array of ``ndims`` dimensions.

        Args:
            input_tensor: what the caller passed to ``forward``.
            ndims: the allowed numbers of dimensions, e.g. ``(2,)`` or ``(3, 4)``.
            expected: the expected shape in words, for the error message.
            dtype: the dtype to cast to; ``None`` keeps a float input's dtype.
            hint: appended to the message about the number of dimensions, e.g.
                what layer is probably missing before this one.
        """
        name = f"{type(self).__name__}.forward"
        x = _numeric(input_tensor, f"{name}: expected a numeric array of shape {expected}")
        if x.ndim not in ndims:
            raise ValueError(f"{name}: expected input of shape {expected}, got {x.shape}{hint}")
        if x.shape[0] == 0:
            raise ValueError(f"{name}: expected a non-empty batch of shape {expected}, "
                             f"got {x.shape}")
        if dtype is None:
            dtype = x.dtype if x.dtype.kind == "f" else np.float64
        return x.astype(dtype, copy=False)

    def _error(self, error_tensor, shape, dtype=None):
        """Return ``error_tensor`` as an array, checking it is real and matches the last output."""
        name = f"{type(self).__name__}.backward"
        if shape is None:
            raise RuntimeError(f"{name}: called before forward")
        e = _numeric(error_tensor, f"{name}: expected a real numeric error of shape "
                                   f"{tuple(shape)}", name_type=False)
        if e.shape != tuple(shape):
            raise ValueError(f"{name}: expected error of shape "
                             f"{tuple(shape)} (the last output), got {e.shape}")
        return e if dtype is None else e.astype(dtype, copy=False)


def _numeric(value, expected, name_type=True):
    """``value`` as a real numeric array; else ``TypeError`` with the message ``expected``,
    then what came: the type of a value that is not an array (``name_type``) or the dtype."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists, ...
        raise TypeError(f"{expected}, got {type(value).__name__} ({err})") from None
    if array.dtype.kind not in "biuf":
        came = (type(value).__name__ if name_type and not isinstance(value, np.ndarray)
                else f"an array of dtype {array.dtype}")
        raise TypeError(f"{expected}, got {came}")
    return array


class TrainableLayer(Layer):
    """Base of layers with parameters: optimizer property, dtype, update step.

    Subclasses list the names of their parameter arrays in ``_param_names``
    (e.g. ``("weights", "bias")``) and their shapes in ``_parameter_shapes()``,
    keep the matching gradients in ``gradient_<name>``, call
    ``self._check_parameters()`` first in ``forward`` and ``self._update()`` at
    the end of ``backward``. Each parameter has its own optimizer state:
    ``weights`` uses the optimizer that was set, every other parameter a
    ``parameter_copy`` of it (own moments, the same hyperparameters).

    The layer's dtype is read from ``weights``; other parameters and the arrays
    named in ``_state_fields`` (running statistics) are brought to it by
    ``_check_parameters``, the optimizer's moments by the optimizer.
    """

    _param_names = ("weights",)
    # The parameters the optimizer's regularizer acts on (see the module docstring).
    _regularized = ("weights",)
    skips_input_gradient = False

    def __init__(self):
        super().__init__()
        self.trainable = True
        self._optimizers = None

    @property
    def dtype(self):
        """The float dtype the layer computes in: that of ``weights`` (read-only).

        The constructor's ``dtype=`` sets it; assign weights of another float
        dtype to change it. Integer weights count as float64.
        """
        dtype = np.asarray(self.weights).dtype
        return dtype.type if dtype.kind == "f" else np.float64

    @property
    def optimizer(self):
        """The optimizer updating ``weights``; ``None`` means no update in backward."""
        return None if self._optimizers is None else self._optimizers["weights"]

    @optimizer.setter
    def optimizer(self, optimizer):
        if optimizer is None:
            self._optimizers = None
            return
        if not callable(getattr(optimizer, "calculate_update", None)):
            raise TypeError(f"{type(self).__name__}.optimizer: expected an object with "
                            f"calculate_update(weights, gradient), got {type(optimizer).__name__}")
        self._optimizers = {name: (optimizer if name == "weights" else parameter_copy(optimizer))
                            for name in self._param_names}

    def parameters(self):
        """Dict name -> parameter array (the arrays themselves, not copies)."""
        return {name: getattr(self, name) for name in self._param_names}

    def state_dict(self):
        """``learned_state``, float arrays in the layer's dtype (assigned weights of another
        dtype make the layer that dtype; its other arrays follow, here as in ``forward``)."""
        dtype = self.dtype
        return {name: value.astype(dtype, copy=False)
                if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value
                for name, value in learned_state(self).items()}

    def parameter_optimizers(self):
        """Dict name -> the optimizer updating that parameter; None without an optimizer."""
        return None if self._optimizers is None else dict(self._optimizers)

    @classmethod
    def parameter_shapes_for(cls, config):
        """``_parameter_shapes()`` of a ``cls(**config)``, computed without building it."""
        probe = object.__new__(cls)
        probe.__dict__.update(config)
        return probe._parameter_shapes()

    def calculate_regularization_loss(self):
        """``regularizer.norm(weights)`` of the optimizer's regularizer (0 without one, or
        when ``weights`` is not among the ``_regularized`` parameters)."""
        regularizer = getattr(self.optimizer, "regularizer", None)
        if regularizer is None or "weights" not in self._regularized:
            return 0.0
        return float(regularizer.norm(self.weights))

    def _parameter_shapes(self):
        """Dict name -> the shape ``forward`` needs, for every parameter."""
        raise NotImplementedError

    def _check_parameters(self):
        """Bring parameters and buffers to the weights' dtype; refuse a wrong shape.

        Parameters may be assigned, or returned by an initializer, in any shape
        or dtype between two calls of ``forward``; this is where they are checked.
        """
        dtype = self.dtype
        for name, shape in self._parameter_shapes().items():
            value = getattr(self, name)
            if not (isinstance(value, np.ndarray) and value.dtype == dtype):
                value = np.asarray(value, dtype=dtype)
                setattr(self, name, value)
            if value.shape != shape:
                raise ValueError(f"{type(self).__name__}.forward: expected {name} of shape "
                                 f"{shape}, got {value.shape}")
        for name in self._state_fields:
            value = getattr(self, name)
            if isinstance(value, np.ndarray) and value.dtype != dtype:
                setattr(self, name, value.astype(dtype))

    def _update(self):
        """Apply the optimizer to every parameter (after the error was computed).

        Each parameter is assigned the new array the optimizer returns; the old one is
        never written into (``snapshot_state(copy=False)`` relies on it).
        """
        if self._optimizers is None:
            return
        for name, optimizer in self._optimizers.items():
            value, grad = getattr(self, name), getattr(self, "gradient_" + name)
            # The keyword only where a regularizer must be left out: an optimizer with the
            # classic calculate_update(weights, gradient) and no regularizer still works.
            if name in self._regularized or getattr(optimizer, "regularizer", None) is None:
                new = optimizer.calculate_update(value, grad)
            else:
                new = optimizer.calculate_update(value, grad, regularize=False)
            setattr(self, name, np.asarray(new, dtype=self.dtype))

    def _initialized(self, initializer, shape, fan_in, fan_out, what, dtype=None):
        """``initializer.initialize(shape, fan_in, fan_out)`` as an array of the layer's dtype.

        What the initializer returns is kept even when its shape is not ``shape``:
        classic test suites pass stubs that return a fixed small array only to
        record fan_in and fan_out. A UserWarning names the mismatch, and the next
        ``forward`` refuses the parameter. A shape that differs only in axes of
        length 1 (``(n,)`` for ``(1, n)``) is the same numbers and is reshaped.

        Args:
            what: the parameter in words, for the messages (e.g. "bias").
            dtype: defaults to the layer's; the constructor passes its own.
        """
        layer = type(self).__name__
        if not callable(getattr(initializer, "initialize", None)):
            raise TypeError(f"{layer}.initialize: expected an initializer with "
                            f"initialize(shape, fan_in, fan_out) for the {what}, "
                            f"got {type(initializer).__name__}")
        values = np.asarray(initializer.initialize(shape, fan_in, fan_out),
                            dtype=dtype or self.dtype)
        shape = tuple(shape)
        if values.shape != shape:
            if _without_ones(values.shape) == _without_ones(shape):
                return values.reshape(shape)
            warnings.warn(f"{layer}.initialize: expected the {what} initializer to return "
                          f"shape {shape}, got {values.shape}; it is kept, and forward will "
                          f"refuse it", UserWarning, stacklevel=3)
        return values


def _describe(value):
    return f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else repr(value)


def _without_ones(shape):
    return tuple(n for n in shape if n != 1)


def stack_bias(weights, bias):
    """``[weights; bias]``: the bias as the last row, as FullyConnected and RNN keep it.

    An initializer's array that does not stack (see ``_initialized``) leaves the
    weights alone, for ``forward`` to refuse.
    """
    if weights.ndim == 2 and bias.ndim == 2 and weights.shape[1] == bias.shape[1]:
        return np.vstack([weights, bias])
    return weights


def learned_state(layer):
    """What ``layer`` has learned: its ``parameters()`` and the attributes in ``_state_fields``.

    A dict name -> array (or bool); ``NeuralNetwork.snapshot``/``restore`` and
    checkpoints keep exactly this. Works on any layer (a dict of nothing for ReLU).
    """
    state = dict(layer.parameters()) if callable(getattr(layer, "parameters", None)) else {}
    for name in getattr(layer, "_state_fields", ()):
        state[name] = getattr(layer, name)
    return state


def snapshot_state(layers, copy=True):
    """``learned_state`` of every layer: a list of dicts, for ``restore_state``.

    ``copy=False`` keeps the arrays themselves, which costs nothing and stays valid
    because nothing in the framework writes into a learned array in place: forward
    assigns new running statistics and ``_update`` new parameters (NeuralNetwork's
    divergence guard takes such a snapshot at every step).
    """
    return [{name: _copy(value) if copy else value for name, value in
             learned_state(layer).items()} for layer in layers]


def restore_state(layers, snapshot):
    """Put back what ``snapshot_state`` took (copies, so the snapshot can be reused)."""
    for layer, state in zip(layers, snapshot):
        for name, value in state.items():
            setattr(layer, name, _copy(value))


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def parameter_copy(optimizer):
    """An optimizer for one more parameter: its own state, ``optimizer``'s hyperparameters.

    Uses the optimizer's ``parameter_copy()`` when it has one (all of ours do), else a deep
    copy (an optimizer of the classic kind: one object, one parameter).
    """
    make = getattr(optimizer, "parameter_copy", None)
    return make() if callable(make) else copy.deepcopy(optimizer)
