"""A recurrent layer read in both directions of time."""
import numpy as np

from ._layer import Layer, parameter_copy
from ._recurrent import RecurrentLayer


class Bidirectional(Layer):
    """Runs an RNN, LSTM or GRU forwards and a twin of it backwards in time::

        h_fwd = forward_layer(x_1 .. x_T)                     h_fwd[t] has read x_1 .. x_t
        h_bwd = reverse_time(backward_layer(x_T .. x_1))      h_bwd[t] has read x_t .. x_T
        y[t]  = [h_fwd[t], h_bwd[t]]                          (batch, time, 2 * hidden_size)

    The forward direction's states come first on the last axis, as in
    ``torch.nn.LSTM(bidirectional=True, batch_first=True)`` and Keras'
    ``Bidirectional(merge_mode="concat")``. Backward splits the error in the same two
    halves; dL/dx is the sum of what both directions pass back::

        dx = forward_layer.backward(e[..., :n]) + reverse_time(backward_layer.backward(
                 reverse_time(e[..., n:])))

    With ``LastStep`` after it, the answer reads ``y[T]``: the forward states after the
    whole sequence and the backward states after the last step only (PyTorch's
    ``output[:, -1]``).

    Args:
        layer: an ``RNN``, ``LSTM`` or ``GRU`` built with ``output_size=None`` and
            ``memorize`` off (a backward-in-time pass cannot carry its state into the
            next call); it becomes ``forward_layer``, its optimizer (if any) the
            optimizer of both.

    Attributes:
        forward_layer: ``layer`` itself, reads time forwards.
        backward_layer: a fresh ``type(layer)(input_size, hidden_size, dtype=...)``, so
            its own parameters drawn by the class's constructor as any new layer's are
            (not a copy of the forward ones, which would start both directions alike).
            Reads time backwards.

    Input ``(batch, time, input_size)``, or ``(time, input_size)`` as one sequence.

    Parameters (``parameters()``, as PyTorch names the reverse direction's apart):
        weights: the forward layer's ``weights``;
        backward_weights: the backward layer's ``weights``;
        gradient_weights, gradient_backward_weights: their gradients of the last
            ``backward``. Each inner layer updates its own weights in its ``backward``,
            with its own optimizer state.

    Checkpoints hold the argument layer's config (``get_config``), both directions' weights
    and the optimizer state of each.
    """

    skips_input_gradient = True
    _cache_fields = ("_shape",)

    def __init__(self, layer):
        super().__init__()
        if not isinstance(layer, RecurrentLayer):
            raise TypeError(f"Bidirectional: expected an RNN, LSTM or GRU layer, "
                            f"got {type(layer).__name__}")
        name = type(layer).__name__
        if layer.output_size is not None:
            raise ValueError(f"Bidirectional: expected a {name} built with output_size=None "
                             f"(hidden states out), got output_size={layer.output_size}")
        if layer.memorize:
            raise ValueError(f"Bidirectional: expected a {name} with memorize=False, got "
                             f"memorize=True")
        self.trainable = True
        self.forward_layer = layer
        self.backward_layer = type(layer)(layer.input_size, layer.hidden_size,
                                          dtype=layer.dtype)
        self.optimizer = layer.optimizer
        self._shape = None

    def __repr__(self):
        return f"Bidirectional({self.forward_layer!r})"

    # -- the trainable layer's members, each for both directions ---------------------------

    @property
    def dtype(self):
        """The float dtype of the forward layer (both are built alike)."""
        return self.forward_layer.dtype

    @property
    def optimizer(self):
        """The forward layer's optimizer; setting one gives the backward layer a ``parameter_copy``."""
        return self.forward_layer.optimizer

    @optimizer.setter
    def optimizer(self, optimizer):
        if optimizer is not None and not callable(getattr(optimizer, "calculate_update", None)):
            raise TypeError(f"Bidirectional.optimizer: expected an object with "
                            f"calculate_update(weights, gradient), got {type(optimizer).__name__}")
        self.forward_layer.optimizer = optimizer
        self.backward_layer.optimizer = None if optimizer is None else parameter_copy(optimizer)

    def initialize(self, weights_initializer, bias_initializer):
        """Both layers' ``initialize`` (each draws its own numbers)."""
        self.forward_layer.initialize(weights_initializer, bias_initializer)
        self.backward_layer.initialize(weights_initializer, bias_initializer)

    def parameters(self):
        """``{"weights": forward weights, "backward_weights": backward weights}``."""
        return {"weights": self.weights, "backward_weights": self.backward_weights}

    def parameter_optimizers(self):
        """The optimizer of each parameter; None without an optimizer."""
        if self.optimizer is None:
            return None
        return {"weights": self.forward_layer.optimizer,
                "backward_weights": self.backward_layer.optimizer}

    def calculate_regularization_loss(self):
        """The sum of both layers' regularization losses."""
        return (self.forward_layer.calculate_regularization_loss()
                + self.backward_layer.calculate_regularization_loss())

    @property
    def weights(self):
        return self.forward_layer.weights

    @weights.setter
    def weights(self, value):
        self.forward_layer.weights = value

    @property
    def backward_weights(self):
        return self.backward_layer.weights

    @backward_weights.setter
    def backward_weights(self, value):
        self.backward_layer.weights = value

    @property
    def gradient_weights(self):
        return self.forward_layer.gradient_weights

    @property
    def gradient_backward_weights(self):
        return self.backward_layer.gradient_weights

    def get_config(self):
        """``{"layer": forward_layer}``: the constructor's argument, a layer (a checkpoint
        saves it by its own config; the weights of both directions are the state)."""
        return {"layer": self.forward_layer}

    @classmethod
    def parameter_shapes_for(cls, config):
        """The shapes of ``parameters()`` of a ``Bidirectional(config["layer"])``."""
        shape = config["layer"]._parameter_shapes()["weights"]
        return {"weights": shape, "backward_weights": shape}

    # -- forward and backward ---------------------------------------------------------------

    def forward(self, input_tensor):
        """``(batch, time, input_size)`` -> ``(batch, time, 2 * hidden_size)``; a 2-D
        ``(time, input_size)`` sequence -> ``(time, 2 * hidden_size)``."""
        n_in = self.forward_layer.input_size
        expected = f"(batch, time, {n_in}) or (time, {n_in})"
        x = self._input(input_tensor, (2, 3), expected, self.dtype)
        if x.shape[-1] != n_in:
            raise ValueError(f"Bidirectional.forward: expected input of shape {expected}, "
                             f"got {x.shape}")
        y_fwd = self.forward_layer.forward(x)
        y_bwd = self.backward_layer.forward(x[..., ::-1, :])        # time reversed
        y = np.concatenate([y_fwd, y_bwd[..., ::-1, :]], axis=-1)
        self._shape = y.shape
        return y

    def backward(self, error_tensor, input_gradient=True):
        """dL/d(output) ``(batch, time, 2 * hidden_size)`` -> dL/d(input) (None with
        ``input_gradient=False``); each direction sets its gradient and updates itself."""
        e = self._error(error_tensor, self._shape, self.dtype)
        n = self.forward_layer.hidden_size
        dx_fwd = self.forward_layer.backward(e[..., :n], input_gradient)
        dx_bwd = self.backward_layer.backward(e[..., ::-1, n:], input_gradient)
        if not input_gradient:
            return None
        return dx_fwd + dx_bwd[..., ::-1, :]
