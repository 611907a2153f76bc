"""The recurrent shell: runs a cell over time and back (private helper module).

RNN, LSTM and GRU are *cells*: each file writes one time step forward and one
step backward, in the equations' names. This module runs a cell over a sequence
and backpropagates through time (BPTT); it owns the input layouts, the state
kept between calls (``memorize``), the optional output layer, and the gradients
that do not feed the recurrence.

Input ``(batch, time, input_size)``; a classic 2-D input ``(time, input_size)`` is
one sequence and runs as a batch of one. A *state* is a tuple of ``(batch,
hidden_size)`` arrays, the hidden state h first: ``(h,)`` for RNN and GRU, ``(h,
c)`` for the LSTM.

What a cell provides
--------------------
``_gates``
    blocks of ``hidden_size`` columns in ``weights``: 1 (RNN), 4 (LSTM), 3 (GRU).
``_bias_rows``
    bias rows at the bottom of ``weights``: 1, or 2 for a cell whose recurrent
    part stays apart from the input's (GRU): it has a bias of its own, and a
    gradient dL/d(a_h) of its own. ``weights`` is ``(input_size + hidden_size +
    _bias_rows, _gates * hidden_size)`` with rows [x, h, biases];
    ``self._blocks()`` returns its views ``W_x, W_h, b``, ``self._gate_blocks()`` the
    same split into the gates' column blocks, ``W_h[k]`` gate k's ``(hidden, hidden)``.
``_states``
    arrays in the state: 1 for ``(h,)``, 2 for ``(h, c)``.
``step(a_x, state) -> (state, cache)``
    one step forward. ``a_x`` ``(_gates, batch, hidden_size)`` is the input's part
    of step t, gate-major: ``a_x[k]`` is gate k's block, one contiguous array. ``state``
    is the state at t - 1; returns the state at t and what backward needs, a tuple
    of arrays. A cell starts from two affine maps::

        a_x[k] = x_t @ W_x[k] + b[0, k]     the input's part: the shell computes it
                                            for every step at once, before the loop
        a_h[k] = h_prev @ W_h[k] (+ b[1, k])  the recurrent part: the step computes
                                            it, ``h_prev @ self._w_h`` for every k

    RNN and LSTM add them, ``a = a_x + a_h = [x_t, h_prev, 1] @ weights``; the GRU's
    reset gate scales part of ``a_h`` before it meets ``a_x``.
``backward_factors(cache) -> factors``
    before the backward loop: the caches of every step, each field stacked over
    time ``(time, batch, ...)``, -> a tuple of arrays ``(time, batch, ...)`` with
    everything backward needs that does not depend on dL/d(state), computed for
    all steps at once. Row t of each is step t's ``factors``.
``step_backward(dstate, factors, da_x, da_h) -> dstate_prev``
    one step backward. ``dstate`` is dL/d(state at t) along every path (the
    layer's output at t and the step t + 1); writes dL/d(a_x) and dL/d(a_h) into
    the shell's arrays ``da_x`` and ``da_h`` ``(_gates, batch, hidden_size)``
    (one array, written once, unless ``_bias_rows == 2``) and returns dL/d(state
    at t - 1). dL/dh_{t-1} through a_h is ``sum_k da_h[k] @ W_h[k]^T``, ``(da_h @
    self._w_h_t).sum(0)``: in the loop ``self._w_h_t`` holds the ``W_h[k]^T`` as
    contiguous blocks.

Where the speed comes from (PyTorch's CPU LSTM does the same): only the recurrent
part must run step by step. The input's part of every step is ONE matrix product
over all ``time * batch`` rows before the loop, and everything backward that does
not feed the recurrence is one product after it. A step makes a handful of small
NumPy calls, one per gate block or per run of adjacent gates. The buffers are
gate-major, ``(gate, time, batch, hidden)``, so that a gate's block of a step is one
contiguous array: elementwise calls over strided column blocks cost up to 3x more,
and ``h @ W_h[k]`` for the four (128, 128) blocks ran 1.6x faster than ``h @ W_h``
with (128, 512) at batch 32 (bench/README.md). A single sequence's loop runs its
products on one BLAS thread (see ``_loop_threads``). The arrays
of a sequence (inputs, hidden states, caches, factors, dL/da) are allocated once
and reused while the shapes stay: fresh arrays of that size cost more in page
faults than the arithmetic in them.

What the shell adds, besides the loops, the state and the output layer: none of
the following feeds the recurrence, so each is ONE matrix product over all ``time
* batch`` rows after the backward loop::

    dL/dW_x[k] = sum_t x_t^T da_x[k, t]          dL/db[0, k] = sum_t da_x[k, t]
    dL/dW_h[k] = sum_t h_{t-1}^T da_h[k, t]      dL/db[1, k] = sum_t da_h[k, t]   (GRU)
    dL/dx_t = sum_k da_x[k, t] @ W_x[k]^T

(one stacked product over the gates k each, written into the gate blocks of the
gradient).

The optional output layer is a ``FullyConnected`` followed by a ``Sigmoid``,
applied to h_t at every step: ``y_t = sigmoid([h_t, 1] @ output_weights)``.
"""
import contextlib

import numpy as np
from threadpoolctl import ThreadpoolController

import _checks
from ._layer import TrainableLayer, stack_bias
from .FullyConnected import FullyConnected
from .Initializers import UniformFanOut
from .Sigmoid import Sigmoid

# NumPy's BLAS, found once (threadpoolctl comes with scikit-learn): the loops over one
# sequence run their tiny per-step products on one BLAS thread (see _loop_threads).
_BLAS = ThreadpoolController().select(user_api="blas")


def _loop_threads(batch):
    """The BLAS threads of a time loop's per-step products, ``(batch, hidden) @ (gates,
    hidden, hidden)``. For one sequence the product is a row, which OpenBLAS still splits
    over every thread at a hand-over cost of 3x its time: one thread. For a batch, every
    thread (on a quiet 2-core machine, with one thread the row-MNIST LSTM step measured
    1.82-1.89x PyTorch in ``bench.py`` against 1.62-1.66x with both; bench/README.md)."""
    return _BLAS.limit(limits=1) if batch == 1 else contextlib.nullcontext()


class RecurrentLayer(TrainableLayer):
    """A cell unrolled over time (see the module docstring for the cell's contract).

    Args:
        input_size, hidden_size: features of x_t and h_t.
        output_size: features of y_t; ``None`` outputs h_t itself (for stacking).
        dtype: float dtype of parameters and computation (default float64);
            afterwards the dtype of ``weights`` (see ``Base``).

    Attributes:
        memorize: False (default): every ``forward`` starts from a zero state. True:
            it starts from the state the last ``forward`` ended in (truncated BPTT
            over consecutive windows of long sequences); the input's batch must then
            match the state's, else ``forward`` raises ``ValueError`` (set ``state =
            None`` to start new sequences).
        state: the state at the last step of the last ``forward``, a tuple of
            ``(batch, hidden_size)`` arrays, h first; ``None`` before any forward.
            Assign ``None`` to start from zeros.

    Parameters:
        weights: ``(input_size + hidden_size + bias rows, gates * hidden_size)``,
            rows [x, h, bias(es)] (the cell's docstring gives its blocks);
        output_weights: ``(hidden_size + 1, output_size)``, last row the bias (the
            output FullyConnected's ``weights``), only with ``output_size``;
        gradient_weights, gradient_output_weights likewise. Each matrix has its
            own optimizer state.

    Initial weights: uniform on ``±1/sqrt(hidden_size)`` (``Initializers.UniformFanOut``),
    the output layer's on ``±1/sqrt(output_size)``, until ``initialize`` draws others.
    """

    _gates = 1
    _bias_rows = 1
    _states = 1
    _cache_fields = ("_cache", "_buffers", "gradient_initial_state", "_loop_w_h", "_loop_w_h_t")
    _state_fields = ("memorize",)        # kept by checkpoints (the hidden state is not)
    _regularized = ("weights", "output_weights")
    skips_input_gradient = True

    def __init__(self, input_size, hidden_size, output_size=None, dtype=np.float64):
        super().__init__()
        name = type(self).__name__
        dtype = _checks.float_dtype(name, dtype)
        self.input_size = _checks.size(name, "input_size", input_size)
        self.hidden_size = _checks.size(name, "hidden_size", hidden_size)
        self.output_size = None if output_size is None \
            else _checks.size(name, "output_size", output_size)
        self._param_names = ("weights",) if output_size is None else ("weights", "output_weights")
        self.memorize = False
        self.state = None
        self.gradient_weights = None
        self.gradient_initial_state = None
        self._cache = self._buffers = None
        self._loop_w_h = self._loop_w_h_t = None      # W_h by gate while a loop runs
        self._fc = self._sigmoid = None
        if self.output_size is not None:
            # FullyConnected draws weights of its own, which _draw replaces; putting NumPy's
            # generator back keeps the seeded default draws as they were.
            rng = np.random.get_state()
            self._fc = FullyConnected(self.hidden_size, self.output_size, dtype=dtype)
            np.random.set_state(rng)
            self._sigmoid = Sigmoid()
        self._draw(UniformFanOut(), UniformFanOut(), dtype)

    def __repr__(self):
        out = "" if self.output_size is None else f", {self.output_size}"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{out})"

    @property
    def output_weights(self):
        """The output layer's ``weights`` ``(hidden_size + 1, output_size)``; None without one."""
        return None if self._fc is None else self._fc.weights

    @output_weights.setter
    def output_weights(self, value):
        if self._fc is None:
            raise AttributeError(f"{type(self).__name__}: expected output_size to set "
                                 f"output_weights, got output_size=None")
        self._fc.weights = value

    @property
    def gradient_output_weights(self):
        """dL/d(output_weights) of the last ``backward``; None without an output layer."""
        return None if self._fc is None else self._fc.gradient_weights

    @gradient_output_weights.setter
    def gradient_output_weights(self, value):
        if self._fc is None:
            raise AttributeError(f"{type(self).__name__}: expected output_size to set "
                                 f"gradient_output_weights, got output_size=None")
        self._fc.gradient_weights = value

    def initialize(self, weights_initializer, bias_initializer):
        """Weight rows from ``weights_initializer``, the bias rows from ``bias_initializer``.

        fan_in / fan_out: ``input_size + hidden_size`` / ``hidden_size`` for the
        cell, ``hidden_size`` / ``output_size`` for the output layer.
        """
        self._draw(weights_initializer, bias_initializer, self.dtype)

    def _draw(self, weights_initializer, bias_initializer, dtype):
        n_in, n, cols = self.input_size, self.hidden_size, self._gates * self.hidden_size
        w = self._initialized(weights_initializer, (n_in + n, cols), n_in + n, n, "weights", dtype)
        b = self._initialized(bias_initializer, (self._bias_rows, cols), 1, n, "bias", dtype)
        self.weights = stack_bias(w, b)
        if self.output_size is not None:
            w = self._initialized(weights_initializer, (n, self.output_size), n,
                                  self.output_size, "output weights", dtype)
            b = self._initialized(bias_initializer, (1, self.output_size), 1,
                                  self.output_size, "output bias", dtype)
            self.output_weights = stack_bias(w, b)

    def _parameter_shapes(self):
        shapes = {"weights": (self.input_size + self.hidden_size + self._bias_rows,
                              self._gates * self.hidden_size)}
        if self.output_size is not None:
            shapes["output_weights"] = (self.hidden_size + 1, self.output_size)
        return shapes

    def _blocks(self):
        """Views of ``weights``: ``W_x`` (input_size, G n), ``W_h`` (hidden_size, G n),
        ``b`` (bias rows, G n), for G gates of n hidden units."""
        n_in, n = self.input_size, self.hidden_size
        return self.weights[:n_in], self.weights[n_in:n_in + n], self.weights[n_in + n:]

    def _gate_blocks(self, weights=None):
        """``_blocks()`` of ``weights`` (default ``self.weights``) split into the G gates'
        column blocks, views: ``W_x`` (G, input_size, n), ``W_h`` (G, n, n), ``b`` (bias
        rows, G, n). ``W_h[k]`` is gate k's ``(n, n)`` block of ``W_h``."""
        n_in, n, gates = self.input_size, self.hidden_size, self._gates
        w = self.weights if weights is None else weights
        split = lambda m: m.reshape(len(m), gates, n).transpose(1, 0, 2)
        return split(w[:n_in]), split(w[n_in:n_in + n]), w[n_in + n:].reshape(-1, gates, n)

    @property
    def _w_h(self):
        """``W_h`` by gate, ``(G, n, n)``, for ``step``: the view the forward loop took at its
        start, or outside a loop a view of the current ``weights``."""
        return self._gate_blocks()[1] if self._loop_w_h is None else self._loop_w_h

    @property
    def _w_h_t(self):
        """The blocks ``W_h[k]^T``, ``(G, n, n)``, for ``step_backward``: in the backward loop
        contiguous copies made at its start, outside a loop views of the current ``weights``."""
        if self._loop_w_h_t is None:
            return self._gate_blocks()[1].transpose(0, 2, 1)
        return self._loop_w_h_t

    # -- the time loops ------------------------------------------------------------------

    def forward(self, input_tensor):
        """``(time, input_size)`` or ``(batch, time, input_size)`` -> the same layout with
        ``output_size`` features (``hidden_size`` without an output layer)."""
        self._check_parameters()
        name = type(self).__name__
        expected = f"(time, {self.input_size}) or (batch, time, {self.input_size})"
        x = self._input(input_tensor, (2, 3), expected, self.dtype)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}.forward: expected input of shape {expected}, got {x.shape}")
        if x.shape[-2] == 0:
            raise ValueError(f"{name}.forward: expected at least one time step, got {x.shape}")
        two_d = x.ndim == 2
        if two_d:
            x = x[np.newaxis]
        batch, steps, _ = x.shape
        state = self._initial_state(batch, input_tensor)
        h, self.state, cache = self._forward_steps(x, state)
        y = h.reshape(batch * steps, -1)                  # rows (batch, time)
        if self._fc is not None:
            y = self._sigmoid.forward(self._fc.forward(y))
        self._cache = (cache, x.shape, two_d)
        y = y.reshape(batch, steps, -1)
        return y[0] if two_d else y

    def backward(self, error_tensor, input_gradient=True, state_error=None):
        """dL/d(output) -> dL/d(input), full BPTT; updates every weight matrix.

        With ``input_gradient=False`` dL/d(input) is not computed and None is returned.
        ``state_error``: dL/d(``state``), a tuple like ``state``, when the final state fed
        something besides the output (an encoder's starts a decoder); BPTT starts from
        it. ``gradient_initial_state`` becomes dL/d(the state the forward started from).
        """
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward: called before forward")
        cache, (batch, steps, n_in), two_d = self._cache
        features = self.hidden_size if self._fc is None else self.output_size
        shape = (steps, features) if two_d else (batch, steps, features)
        e = self._error(error_tensor, shape, self.dtype).reshape(batch * steps, features)
        if self._fc is not None:
            e = self._fc.backward(self._sigmoid.backward(e))
        dh = e.reshape(batch, steps, self.hidden_size)    # dL/dh_t from the output at t
        self.gradient_weights, dx = self._backward_steps(dh, cache, input_gradient, state_error)
        if dx is not None:
            dx = dx[0] if two_d else dx
        self._update()
        return dx

    def _forward_steps(self, x, state):
        """The cell's ``step`` at every t: ``(batch, time, input_size)`` -> h ``(batch, time,
        hidden_size)``, the last state and the cache for ``_backward_steps``."""
        batch, steps, n_in = x.shape
        gates, n = self._gates, self.hidden_size
        w_x, w_h, b = self._gate_blocks()
        xs = self._buffer("x", (steps, batch, n_in))
        xs[...] = x.transpose(1, 0, 2)                              # x_t = xs[t]
        # Gate-major, a_x[k, t] = x_t @ W_x[k] + b[0, k]: a gate's block of a step is one
        # contiguous (batch, hidden) array, and every step's input part is one product.
        a_x = self._buffer("a_x", (gates, steps, batch, n))
        np.matmul(xs.reshape(steps * batch, n_in), w_x, out=a_x.reshape(gates, steps * batch, n))
        a_x += b[0][:, np.newaxis, np.newaxis]
        hs = self._buffer("h", (steps + 1, batch, n))              # h_0 ... h_T
        hs[0] = state[0]
        caches = None                        # caches[k][t]: field k of step t's cache
        self._loop_w_h = w_h
        try:
            with _loop_threads(batch):
                for t in range(steps):
                    state, cache = self.step(a_x[:, t], state)
                    hs[t + 1] = state[0]
                    if caches is None:
                        caches = [self._buffer(f"cache{k}", (steps,) + c.shape)
                                  for k, c in enumerate(cache)]
                    for field, c in zip(caches, cache):
                        field[t] = c
        finally:
            self._loop_w_h = None
        # A copy: the output must not be a view of the buffers the next call overwrites.
        return hs[1:].transpose(1, 0, 2).copy(), state, (xs, hs, caches)

    def _backward_steps(self, dh, cache, input_gradient, state_error=None):
        """BPTT with the cell's ``step_backward``: dL/dh_t ``(batch, time, hidden_size)`` ->
        dL/d(weights) and dL/dx ``(batch, time, input_size)`` (None without ``input_gradient``)."""
        xs, hs, caches = cache
        steps, batch, n_in = xs.shape
        gates, n = self._gates, self.hidden_size
        dh = dh.transpose(1, 0, 2)                                   # (time, batch, hidden)
        factors = self.backward_factors(caches)
        # W_h[k]^T as contiguous blocks: products with them ran 1.6x faster than with the
        # transposed views (bench/README.md).
        w_h_t = self._buffer("w_h_t", (gates, n, n))
        np.copyto(w_h_t, self._gate_blocks()[1].transpose(0, 2, 1))
        da_x = self._buffer("da_x", (gates, steps, batch, n))        # gate-major, as a_x
        da_h = self._buffer("da_h", da_x.shape) if self._bias_rows == 2 else da_x
        # dL/d(final state): zeros, or what a later consumer of the state sent (a decoder).
        dstate = tuple(np.zeros((batch, n), self.dtype) if state_error is None else
                       np.array(self._error(state_error[k], (batch, n), self.dtype))
                       for k in range(self._states))
        self._loop_w_h_t = w_h_t
        try:
            with _loop_threads(batch):
                for t in reversed(range(steps)):
                    np.add(dstate[0], dh[t], out=dstate[0])   # dL/dh_t: from the output at t, t + 1
                    dstate = self.step_backward(dstate, [f[t] for f in factors],
                                                da_x[:, t], da_h[:, t])
        finally:
            self._loop_w_h_t = None
        self.gradient_initial_state = dstate     # dL/d(initial state): truncated BPTT stops here
        da_x = da_x.reshape(gates, steps * batch, n)                 # rows (time, batch)
        da_h = da_h.reshape(gates, steps * batch, n)
        h_prev = hs[:-1].reshape(steps * batch, n)
        grad = np.empty_like(self.weights)
        g_x, g_h, g_b = self._gate_blocks(grad)
        np.matmul(xs.reshape(steps * batch, n_in).T, da_x, out=g_x)
        np.matmul(h_prev.T, da_h, out=g_h)
        np.sum(da_x, axis=1, out=g_b[0])
        if self._bias_rows == 2:
            np.sum(da_h, axis=1, out=g_b[1])
        if not input_gradient:
            return grad, None
        # The error for the previous layer uses the weights of forward, before the update:
        # dL/dx_t = sum over the gates k of da_x[k, t] @ W_x[k]^T.
        dx = np.matmul(da_x, self._gate_blocks()[0].transpose(0, 2, 1)).sum(axis=0)
        return grad, np.ascontiguousarray(dx.reshape(steps, batch, n_in).transpose(1, 0, 2))

    def _buffer(self, name, shape):
        """An uninitialized array kept on the layer and reused while ``shape`` stays.

        Per-sequence arrays, a few megabytes: allocated fresh for every call they cost
        more in page faults (memory fresh from the OS) than the arithmetic in them.
        """
        if self._buffers is None:
            self._buffers = {}
        array = self._buffers.get(name)
        if array is None or array.shape != shape or array.dtype != self.dtype:
            array = self._buffers[name] = np.empty(shape, self.dtype)
        return array

    def _initial_state(self, batch, input_tensor):
        """Zeros, or with ``memorize`` the state the last forward ended in."""
        name, n = type(self).__name__, self.hidden_size
        if not self.memorize or self.state is None:
            return tuple(np.zeros((batch, n), self.dtype) for _ in range(self._states))
        state = tuple(np.asarray(s, dtype=self.dtype) for s in self.state)
        shapes = [s.shape for s in state]
        if len(state) != self._states or any(s != (shapes[0][0], n) for s in shapes):
            raise ValueError(f"{name}.forward: expected state as {self._states} array(s) of "
                             f"shape (batch, {n}), got shapes {shapes}")
        if shapes[0][0] != batch:
            raise ValueError(f"{name}.forward: memorize is on and the state holds "
                             f"{shapes[0][0]} sequences: expected input of shape "
                             f"({shapes[0][0]}, time, {self.input_size}), got "
                             f"{np.shape(input_tensor)}; set layer.state = None to start "
                             f"new sequences")
        return state
