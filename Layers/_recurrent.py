"""What RNN and LSTM share (private helper module): input layouts, state, output layer.

Both layers compute on batches of sequences ``(batch, time, features)``. A classic
2-D input ``(time, input_size)`` is one sequence and runs as a batch of one.
"""
import numpy as np
from scipy.special import expit

from .Base import TrainableLayer, check_dtype, check_size, stack_bias


# The time loops call this once per step. On a batched step it is written with np.exp,
# which NumPy 1.26 vectorizes on AVX2 machines where np.tanh is not (1.5-1.8x faster here
# on 4 096 float32 numbers). On the hundred-odd numbers of a classic one-sequence step the
# cost is the number of calls, and one call of np.tanh is 3-5x faster. Both agree to 2e-7
# (float32) and 4e-16 (float64).
FEW = 1024


def tanh(x, out):
    """``out = tanh(x)``: one ``np.tanh`` call on at most ``FEW`` numbers, else
    ``1 - 2 / (1 + exp(2x))`` (exp overflows to inf for large x, giving 1)."""
    if x.size <= FEW:
        return np.tanh(x, out=out)
    np.multiply(x, 2, out=out)
    np.exp(out, out=out)
    out += 1
    np.divide(-2, out, out=out)
    out += 1
    return out


class RecurrentLayer(TrainableLayer):
    """Base of RNN and LSTM: sizes, the optional sigmoid output layer, the hidden state.

    Subclasses define ``_gates`` (columns of ``weights`` per hidden unit: 1 for
    the Elman cell, 4 for LSTM), ``_run(columns, state)``, the forward time loop,
    and ``_backprop(dh)``, the backward time loop from dL/dh_t ``(time, hidden,
    batch)`` to dL/d(pre-activations) ``(time, gates * hidden, batch)``.

    ``columns`` ``(time + 1, input + hidden + 1, batch)`` holds ``[x_t; h_{t-1}; 1]``
    for every step: forward fills in x and the ones, ``_run`` writes each h_t into
    the next step's column. Then a step is ONE product ``weights.T @ columns[t]``
    (input, recurrence, bias and all gates at once), and backward gets every
    weight gradient from ONE product over all ``time * batch`` columns. Inside the
    loops a step is ``(units, batch)``, the transpose of the layer's ``(batch,
    units)``, so that each gate is a contiguous block.

    Parameters:
        weights: ``(input_size + hidden_size + 1, gates * hidden_size)``, rows
            ordered [input, previous hidden state, bias].
        output_weights: ``(hidden_size + 1, output_size)`` (last row = bias),
            only with ``output_size``: ``y_t = sigmoid([h_t, 1] @ output_weights)``.
    """

    _gates = 1
    _cache_fields = ("_columns", "_h_out", "_y", "_cache", "_buffers")
    _state_fields = ("memorize",)        # kept by checkpoints (the hidden state is not)
    _regularized = ("weights", "output_weights")
    skips_input_gradient = True

    def __init__(self, input_size, hidden_size, output_size=None, dtype=np.float64):
        super().__init__()
        name = type(self).__name__
        dtype = check_dtype(name, dtype)
        self.input_size = check_size(name, "input_size", input_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self.output_size = None if output_size is None \
            else check_size(name, "output_size", output_size)
        self._param_names = ("weights",) if output_size is None else ("weights", "output_weights")
        self.memorize = False
        self.state = None           # last (hidden, batch) h (and c) of a forward, see memorize
        self.gradient_weights = None
        self.gradient_output_weights = None
        self._columns = self._h_out = self._y = self._cache = self._buffers = None
        self._two_d = False
        self._draw(_Uniform(), _Uniform(), dtype)

    def __repr__(self):
        out = "" if self.output_size is None else f", {self.output_size}"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{out})"

    def initialize(self, weights_initializer, bias_initializer):
        """Weight rows from ``weights_initializer``, the bias row from ``bias_initializer``.

        fan_in / fan_out: ``input_size + hidden_size`` / ``hidden_size`` for the
        cell, ``hidden_size`` / ``output_size`` for the output layer.
        """
        self._draw(weights_initializer, bias_initializer, self.dtype)

    def _draw(self, weights_initializer, bias_initializer, dtype):
        n_in, h, cols = self.input_size, self.hidden_size, self._gates * self.hidden_size
        w = self._initialized(weights_initializer, (n_in + h, cols), n_in + h, h, "weights", dtype)
        b = self._initialized(bias_initializer, (1, cols), 1, h, "bias", dtype)
        self.weights = stack_bias(w, b)
        if self.output_size is not None:
            w = self._initialized(weights_initializer, (h, self.output_size), h,
                                  self.output_size, "output weights", dtype)
            b = self._initialized(bias_initializer, (1, self.output_size), 1,
                                  self.output_size, "output bias", dtype)
            self.output_weights = stack_bias(w, b)

    def _parameter_shapes(self):
        shapes = {"weights": (self.input_size + self.hidden_size + 1,
                              self._gates * self.hidden_size)}
        if self.output_size is not None:
            shapes["output_weights"] = (self.hidden_size + 1, self.output_size)
        return shapes

    def forward(self, input_tensor):
        """``(time, input_size)`` or ``(batch, time, input_size)`` -> same layout, last
        axis ``output_size`` (or ``hidden_size`` without an output layer)."""
        self._check_parameters()
        name = type(self).__name__
        expected = f"(time, {self.input_size}) or (batch, time, {self.input_size})"
        x = self._input(input_tensor, (2, 3), expected, self.dtype)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}.forward: expected input of shape {expected}, got {x.shape}")
        self._two_d = x.ndim == 2
        if self._two_d:
            x = x[np.newaxis]
        if 0 in x.shape[1:]:
            raise ValueError(f"{name}.forward: expected at least one time step, got {x.shape}")
        state = self.state if self.memorize and self._state_fits(x.shape[0]) else None
        b, steps, n_in = x.shape
        n = self.hidden_size
        columns = self._buffer("columns", (steps + 1, n_in + n + 1, b))
        columns[:steps, :n_in] = x.transpose(1, 2, 0)
        columns[steps, :n_in] = 0                             # no x after the last step
        columns[0, n_in:-1] = 0 if state is None else state[0]
        columns[:, -1] = 1
        with np.errstate(over="ignore"):                      # exp(large) = inf is intended
            self._run(columns, state)
        self._columns = columns
        h_out = columns[1:, n_in:-1].transpose(2, 0, 1).copy().reshape(b * steps, n)
        y = h_out                                             # rows ordered (batch, time)
        if self.output_size is not None:
            y = expit(h_out @ self.output_weights[:-1] + self.output_weights[-1])
        self._h_out, self._y = h_out, y
        y = y.reshape(b, steps, -1)
        return y[0] if self._two_d else y

    def backward(self, error_tensor, input_gradient=True):
        """dL/d(output) -> dL/d(input), full BPTT; updates every weight matrix.

        With ``input_gradient=False`` dL/d(input) is not computed and None is returned.
        """
        if self._columns is None:
            raise RuntimeError(f"{type(self).__name__}.backward: called before forward")
        steps, rows, b = self._columns.shape
        steps -= 1
        shape = (steps, self._y.shape[-1]) if self._two_d else (b, steps, self._y.shape[-1])
        e = self._error(error_tensor, shape, self.dtype).reshape(b * steps, -1)
        if self.output_size is not None:
            dz = e * self._y * (1 - self._y)                  # through the output sigmoid
            grad = np.empty_like(self.output_weights)
            np.matmul(self._h_out.T, dz, out=grad[:-1])
            np.sum(dz, axis=0, out=grad[-1])
            self.gradient_output_weights = grad
            e = dz @ self.output_weights[:-1].T
        dh = self._buffer("dh", (steps, self.hidden_size, b))
        dh[...] = e.reshape(b, steps, -1).transpose(1, 2, 0)
        da_steps = self._backprop(dh)                         # (time, G*n, batch)
        da = self._buffer("da_columns", (da_steps.shape[1], steps, b))
        da[...] = da_steps.transpose(1, 0, 2)
        da = da.reshape(-1, steps * b)                        # (G*n, time * batch)
        # Every weight gradient at once: sum over steps of [x_t; h_{t-1}; 1] da_t^T.
        columns = self._buffer("columns_by_row", (rows, steps, b))
        columns[...] = self._columns[:steps].transpose(1, 0, 2)
        grad = np.empty_like(self.weights)
        np.matmul(columns.reshape(rows, steps * b), da.T, out=grad)
        self.gradient_weights = grad
        dx = None
        if input_gradient:
            # The error for the previous layer uses the weights of forward, before the update.
            dx = (self.weights[:self.input_size] @ da).reshape(-1, steps, b).transpose(2, 1, 0)
            dx = np.ascontiguousarray(dx[0] if self._two_d else dx)
        self._update()
        return dx

    def _buffer(self, name, shape):
        """An uninitialized array kept between calls and reused while ``shape`` stays.

        A new large array each call costs page faults (the memory comes fresh from the
        OS) that take longer than the arithmetic; reusing them avoids that.
        """
        if self._buffers is None:
            self._buffers = {}
        array = self._buffers.get(name)
        if array is None or array.shape != shape or array.dtype != self.dtype:
            array = self._buffers[name] = np.empty(shape, self.dtype)
        return array

    def _state_fits(self, batch):
        return self.state is not None and self.state[0].shape[-1] == batch


class _Uniform:
    """The constructor's default draw: uniform on [-1/sqrt(hidden), 1/sqrt(hidden)]."""

    def initialize(self, shape, fan_in, fan_out):
        limit = 1.0 / np.sqrt(fan_out)
        return np.random.uniform(-limit, limit, shape)
