"""The LSTM's math fused for speed, behind an explicit switch (private helper module).

``LSTM.step``, ``LSTM.backward_factors`` and ``LSTM.step_backward`` are the code
that runs: the LSTM uses this module only when asked, with ``layer.fused = True``
(or ``LSTM.LSTM.fused = True`` for every LSTM). It is a second copy of the same
equations, kept because it measured faster on the bench's batched row (see
bench/README.md); tests/test_recurrent.py checks that it gives the steps'
outputs, states, weight gradients and input errors to round-off, in float64 and
float32.

The arrangements:

* Units first. Inside the loops a step is ``(units, batch)``, the transpose of
  the layer's ``(batch, units)``, so that every gate is one contiguous block.
* One product per step. ``columns[t]`` holds ``[x_t; h_{t-1}; 1]`` for every
  step; forward writes each h_t straight into the next step's column, and
  backward gets the weight gradient from ONE product over all steps.
* One exp for all four gates. The weight rows are scaled by -1 (f, i, o) and
  -2 (g), exact in floating point, so that ``z = -[a_f, a_i, a_o, 2 a_g]`` and
  ``1 / (1 + exp(z))`` is ``[f, i, o, sigmoid(2 a_g)]``; then
  ``g = tanh(a_g) = 2 sigmoid(2 a_g) - 1``.
* What does not depend on the recurrence is computed for all steps at once
  before the backward loop (as ``LSTM.backward_factors`` does).
"""
import numpy as np


class LSTMKernel:
    """``forward`` and ``backward`` in place of the shell's loops over the steps
    (``RecurrentLayer._forward_steps``, ``_backward_steps``: same arguments and results)."""

    @staticmethod
    def forward(layer, x, state):
        """x ``(batch, time, input)``, state ``(h_0, c_0)`` -> h ``(batch, time, hidden)``,
        the last state and the cache for ``backward``."""
        batch, steps, n_in = x.shape
        n, dtype = layer.hidden_size, layer.dtype
        columns = layer._buffer("fused_columns", (steps + 1, n_in + n + 1, batch))
        columns[:steps, :n_in] = x.transpose(1, 2, 0)
        columns[steps, :n_in] = 0                             # no x after the last step
        columns[0, n_in:-1] = state[0].T
        columns[:, -1] = 1
        w_t = np.ascontiguousarray(layer.weights.T)           # (4n, input + n + 1)
        w_t[:3 * n] *= -1
        w_t[3 * n:] *= -2
        h = columns[:, n_in:-1]                               # (time + 1, n, batch)
        c = layer._buffer("fused_c", (steps + 1, n, batch))
        c[0] = state[1].T
        gates = layer._buffer("fused_gates", (steps, 4 * n, batch))   # f, i, o, g
        tanh_c = layer._buffer("fused_tanh_c", (steps, n, batch))
        ig = np.empty((n, batch), dtype)
        with np.errstate(over="ignore"):                      # exp(large) = inf gives 0: intended
            for t in range(steps):
                a = gates[t]
                np.matmul(w_t, columns[t], out=a)             # z = -[a_f, a_i, a_o, 2 a_g]
                np.exp(a, out=a)
                a += 1
                np.reciprocal(a, out=a)                       # [f, i, o, sigmoid(2 a_g)]
                f, i, o, g = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
                g *= 2
                g -= 1                                        # g = tanh(a_g)
                np.multiply(f, c[t], out=c[t + 1])
                c[t + 1] += np.multiply(i, g, out=ig)         # c_t = f c_{t-1} + i g
                np.tanh(c[t + 1], out=tanh_c[t])
                np.multiply(o, tanh_c[t], out=h[t + 1])       # h_t = o tanh(c_t)
        out = h[1:].transpose(2, 0, 1).copy()
        last = (out[:, -1].copy(), c[-1].T.copy())
        return out, last, (columns, c, gates, tanh_c)

    @staticmethod
    def backward(layer, dh, cache, input_gradient):
        """dL/dh_t ``(batch, time, hidden)`` -> dL/d(weights), dL/dx ``(batch, time, input)``."""
        columns, c, gates, tanh_c = cache
        steps, n, batch = tanh_c.shape
        n_in = layer.input_size
        f, i, o, g = (gates[:, k * n:(k + 1) * n] for k in range(4))
        dh_out, dh = dh, layer._buffer("fused_dh", (steps, n, batch))
        dh[...] = dh_out.transpose(1, 2, 0)
        # LSTM.step_backward with the factors that do not depend on the recurrence taken
        # out of the loop, for all steps at once (s (1 - s) is each sigmoid's slope):
        #   da_[f, i, g] = dc_t * per_dc = dc_t * [c_{t-1} f (1 - f), g i (1 - i), i (1 - g^2)]
        #   da_o = dh_t * tanh(c_t) o (1 - o)
        #   dc_t = dc_{t+1} f_{t+1} + dh_t * dc_per_dh,  dc_per_dh = o (1 - tanh(c_t)^2)
        slope = layer._buffer("fused_slope", (steps, 3 * n, batch))
        np.subtract(1, gates[:, :3 * n], out=slope)
        slope *= gates[:, :3 * n]
        per_dc = layer._buffer("fused_per_dc", (steps, 4, n, batch))
        np.multiply(c[:-1], slope[:, :n], out=per_dc[:, 0])
        np.multiply(g, slope[:, n:2 * n], out=per_dc[:, 1])
        np.multiply(tanh_c, slope[:, 2 * n:], out=per_dc[:, 2])   # (per dh_t: da_o)
        np.multiply(g, g, out=per_dc[:, 3])
        np.subtract(1, per_dc[:, 3], out=per_dc[:, 3])
        per_dc[:, 3] *= i
        dc_per_dh = layer._buffer("fused_dc_per_dh", (steps, n, batch))
        np.multiply(tanh_c, tanh_c, out=dc_per_dh)
        np.subtract(1, dc_per_dh, out=dc_per_dh)
        dc_per_dh *= o
        w_h = layer._blocks()[1]                              # (n, 4n)
        da = layer._buffer("fused_da", (steps, 4 * n, batch))
        dh_next = np.zeros((n, batch), layer.dtype)          # dL/dh_t through step t + 1
        dh_t = np.empty((n, batch), layer.dtype)
        dc = np.zeros((n, batch), layer.dtype)                # dc_{t+1} f_{t+1}
        tmp = np.empty((n, batch), layer.dtype)
        for t in range(steps - 1, -1, -1):
            da_t = da[t]
            np.add(dh[t], dh_next, out=dh_t)
            dc += np.multiply(dh_t, dc_per_dh[t], out=tmp)
            np.multiply(dc, per_dc[t], out=da_t.reshape(4, n, batch))
            np.multiply(dh_t, per_dc[t, 2], out=da_t[2 * n:3 * n])   # da_o: per dh_t, not dc
            dc *= f[t]                                        # dc_prev = dc f
            np.matmul(w_h, da_t, out=dh_next)                 # dh_prev = W_h da
        # Every weight gradient at once: sum over steps of [x_t; h_{t-1}; 1] da_t^T.
        rows = columns.shape[1]
        by_row = layer._buffer("fused_by_row", (rows, steps, batch))
        by_row[...] = columns[:steps].transpose(1, 0, 2)
        da_by_row = layer._buffer("fused_da_by_row", (4 * n, steps, batch))
        da_by_row[...] = da.transpose(1, 0, 2)
        da = da_by_row.reshape(4 * n, steps * batch)
        grad = np.empty_like(layer.weights)
        np.matmul(by_row.reshape(rows, steps * batch), da.T, out=grad)
        if not input_gradient:
            return grad, None
        # The error for the previous layer uses the weights of forward, before the update.
        dx = (layer.weights[:n_in] @ da).reshape(n_in, steps, batch).transpose(2, 1, 0)
        return grad, np.ascontiguousarray(dx)
