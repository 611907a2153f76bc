"""What RNN and LSTM share (private helper module): input layouts, state, output layer.

Both layers compute on batches of sequences ``(batch, time, features)``. A classic
2-D input ``(time, input_size)`` is one sequence and runs as a batch of one.
"""
import numpy as np
from scipy.special import expit

from .Base import TrainableLayer, check_size


# The time loops call these on small arrays many times. They are written with np.exp,
# which NumPy 1.26 vectorizes on AVX2 machines where np.tanh and scipy's expit are not:
# 1.6-2x faster here (float32 and float64), equal to 2e-7 (float32) / 4e-16 (float64).
def sigmoid(x, out):
    """``out = 1 / (1 + exp(-x))``; exp overflows to inf for very negative x, giving 0."""
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def tanh(x, out):
    """``out = tanh(x) = 2 / (1 + exp(-2x)) - 1``."""
    np.multiply(x, -2, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    out *= 2
    out -= 1
    return out


class RecurrentLayer(TrainableLayer):
    """Base of RNN and LSTM: sizes, the optional sigmoid output layer, the hidden state.

    Subclasses define ``_gates`` (columns of ``weights`` per hidden unit: 1 for
    the Elman cell, 4 for LSTM), ``_run(xp, state)`` (the forward time loop over the
    input projections ``(time, gates * hidden, batch)``, returning all hidden states
    ``(time + 1, hidden, batch)``) and ``_backprop(dh)`` (the backward time loop,
    ``(time, hidden, batch)`` -> ``(time, gates * hidden, batch)``). Inside the loops
    a step is ``(units, batch)``: the transpose of the layer's ``(batch, units)``.

    Parameters:
        weights: ``(input_size + hidden_size + 1, gates * hidden_size)``, rows
            ordered [input, previous hidden state, bias].
        output_weights: ``(hidden_size + 1, output_size)`` (last row = bias),
            only with ``output_size``: ``y_t = sigmoid([h_t, 1] @ output_weights)``.
    """

    _gates = 1
    _cache_fields = ("_x", "_h_out", "_y", "_cache")

    def __init__(self, input_size, hidden_size, output_size=None, dtype=np.float64):
        super().__init__(dtype)
        name = type(self).__name__
        self.input_size = check_size(name, "input_size", input_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self.output_size = None if output_size is None \
            else check_size(name, "output_size", output_size)
        self._param_names = ("weights",) if output_size is None else ("weights", "output_weights")
        self.memorize = False
        self.state = None           # last (hidden, batch) h (and c) of a forward, see memorize
        self.gradient_weights = None
        self.gradient_output_weights = None
        self._x = self._h_out = self._y = self._cache = None
        self._two_d = False
        self.initialize(_Uniform(), _Uniform())

    def __repr__(self):
        out = "" if self.output_size is None else f", {self.output_size}"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{out})"

    def initialize(self, weights_initializer, bias_initializer):
        """Weight rows from ``weights_initializer``, the bias row from ``bias_initializer``.

        fan_in / fan_out: ``input_size + hidden_size`` / ``hidden_size`` for the
        cell, ``hidden_size`` / ``output_size`` for the output layer.
        """
        n_in, h, cols = self.input_size, self.hidden_size, self._gates * self.hidden_size
        w = self._check_initializer(weights_initializer, (n_in + h, cols), n_in + h, h, "weights")
        b = self._check_initializer(bias_initializer, (1, cols), 1, h, "bias")
        self.weights = np.vstack([w, b])
        if self.output_size is not None:
            w = self._check_initializer(weights_initializer, (h, self.output_size), h,
                                        self.output_size, "output weights")
            b = self._check_initializer(bias_initializer, (1, self.output_size), 1,
                                        self.output_size, "output bias")
            self.output_weights = np.vstack([w, b])

    def calculate_regularization_loss(self):
        """``regularizer.norm`` of every weight matrix (cell and output layer)."""
        regularizer = getattr(self.optimizer, "regularizer", None)
        if regularizer is None:
            return 0.0
        return float(sum(regularizer.norm(w) for w in self.parameters().values()))

    def forward(self, input_tensor):
        """``(time, input_size)`` or ``(batch, time, input_size)`` -> same layout, last
        axis ``output_size`` (or ``hidden_size`` without an output layer)."""
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
        # The time loops keep every step as (units, batch): then each gate of a step is
        # one contiguous block and the elementwise work runs on whole blocks. The input
        # projection of all time steps is one product; only W_h^T @ h loops over time.
        x_t = np.ascontiguousarray(x.transpose(1, 2, 0))     # (time, input, batch)
        xp = np.matmul(np.ascontiguousarray(self.weights[:n_in].T), x_t)   # (time, G*n, batch)
        xp += self.weights[-1][:, np.newaxis]
        with np.errstate(over="ignore"):                      # exp(large) = inf is intended
            h = self._run(xp, state)                          # (time + 1, hidden, batch)
        self._x = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(-1, n_in)   # (time*batch, in)
        h_out = np.ascontiguousarray(h[1:].transpose(2, 0, 1))   # (batch, time, hidden)
        y = h_out
        if self.output_size is not None:
            y = expit(h_out @ self.output_weights[:-1] + self.output_weights[-1])
        self._h_out, self._y = h_out, y
        return y[0] if self._two_d else y

    def backward(self, error_tensor):
        """dL/d(output) -> dL/d(input), full BPTT; updates every weight matrix."""
        if self._x is None:
            raise RuntimeError(f"{type(self).__name__}.backward: called before forward")
        shape = self._y.shape[1:] if self._two_d else self._y.shape
        e = self._error(error_tensor, shape, self.dtype)
        if self._two_d:
            e = e[np.newaxis]
        b, steps, hidden = self._h_out.shape
        if self.output_size is not None:
            dz = (e * self._y * (1 - self._y)).reshape(-1, self.output_size)   # output sigmoid
            grad = np.empty_like(self.output_weights)
            np.matmul(self._h_out.reshape(-1, hidden).T, dz, out=grad[:-1])
            np.sum(dz, axis=0, out=grad[-1])
            self.gradient_output_weights = grad
            dh = (dz @ self.output_weights[:-1].T).reshape(b, steps, hidden)
        else:
            dh = e
        da = self._backprop(np.ascontiguousarray(dh.transpose(1, 2, 0)))   # (time, G*n, batch)
        # Weight gradients of all time steps at once: sum_t [x_t, h_{t-1}, 1]^T da_t.
        da = np.ascontiguousarray(da.transpose(0, 2, 1)).reshape(steps * b, -1)   # (time*batch, G*n)
        h_prev = self._cache["h"][:-1].transpose(0, 2, 1).reshape(steps * b, hidden)
        grad = np.empty_like(self.weights)
        np.matmul(self._x.T, da, out=grad[:self.input_size])
        np.matmul(h_prev.T, da, out=grad[self.input_size:-1])
        np.sum(da, axis=0, out=grad[-1])
        self.gradient_weights = grad
        # The error for the previous layer uses the weights of forward, before the update.
        dx = (da @ self.weights[:self.input_size].T).reshape(steps, b, -1).transpose(1, 0, 2)
        self._update()
        return dx[0] if self._two_d else np.ascontiguousarray(dx)

    def _state_fits(self, batch):
        return self.state is not None and self.state[0].shape[-1] == batch


class _Uniform:
    """The constructor's default draw: uniform on [-1/sqrt(hidden), 1/sqrt(hidden)]."""

    def initialize(self, shape, fan_in, fan_out):
        limit = 1.0 / np.sqrt(fan_out)
        return np.random.uniform(-limit, limit, shape)
