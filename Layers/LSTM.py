"""Long short-term memory layer."""
import numpy as np
from scipy.special import expit

from ._recurrent import RecurrentLayer


class LSTM(RecurrentLayer):
    """LSTM cell, unrolled over time, trained by backpropagation through time::

        [f, i, o, g] = [x_t, h_{t-1}, 1] @ weights          (4 blocks of hidden_size)
        f, i, o = sigmoid(f, i, o)                          forget, input, output gates
        g = tanh(g)                                          candidate cell state
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)
        y_t = sigmoid([h_t, 1] @ output_weights)             (with output_size; else y_t = h_t)

    The cell state c carries information across many steps with only the forget
    gate in between, so the gradient does not vanish the way it does through the
    Elman cell's repeated tanh and weight matrix.

    Args, input layouts, ``memorize`` (carries h and c): as for ``RNN``.

    Parameters:
        weights: ``(input_size + hidden_size + 1, 4 * hidden_size)``, rows
            [x, h, bias], column blocks in the gate order f, i, o, g;
        output_weights: ``(hidden_size + 1, output_size)``, last row the bias;
        gradient_weights, gradient_output_weights likewise.

    Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
    Computation 1997 (with the forget gate of Gers et al., 2000).
    """

    _gates = 4

    def _run(self, xp, state):
        b, steps, _ = xp.shape
        n = self.hidden_size
        w_h = self.weights[self.input_size:-1]
        h = np.empty((b, steps + 1, n), self.dtype)
        c = np.empty((b, steps + 1, n), self.dtype)
        gates = np.empty((b, steps, 4 * n), self.dtype)      # f, i, o, g after activation
        tanh_c = np.empty((b, steps, n), self.dtype)
        h[:, 0], c[:, 0] = (0, 0) if state is None else state
        for t in range(steps):
            a = gates[:, t]
            np.add(xp[:, t], h[:, t] @ w_h, out=a)
            expit(a[:, :3 * n], out=a[:, :3 * n])
            np.tanh(a[:, 3 * n:], out=a[:, 3 * n:])
            f, i, o, g = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
            np.multiply(f, c[:, t], out=c[:, t + 1])
            c[:, t + 1] += i * g
            np.tanh(c[:, t + 1], out=tanh_c[:, t])
            np.multiply(o, tanh_c[:, t], out=h[:, t + 1])
        self._cache = {"h": h, "c": c, "gates": gates, "tanh_c": tanh_c}
        self.state = (h[:, -1].copy(), c[:, -1].copy())
        return h[:, 1:]

    def _backprop(self, dh):
        """``dh``: dL/dh_t from above, ``(batch, time, hidden)`` -> dL/d(gate pre-activations)."""
        cache = self._cache
        c, gates, tanh_c = cache["c"], cache["gates"], cache["tanh_c"]
        n = self.hidden_size
        w_h_t = self.weights[self.input_size:-1].T
        da = np.empty(gates.shape, self.dtype)
        dh_carry = np.zeros_like(dh[:, 0])                    # dL/dh_t through step t+1
        dc_carry = np.zeros_like(dh[:, 0])                    # dL/dc_t through step t+1
        for t in range(dh.shape[1] - 1, -1, -1):
            a = gates[:, t]
            f, i, o, g = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
            d = da[:, t]
            dht = dh[:, t] + dh_carry
            dc = dc_carry + dht * o * (1 - tanh_c[:, t] ** 2)
            d[:, :n] = dc * c[:, t]                           # df
            d[:, n:2 * n] = dc * g                            # di
            d[:, 2 * n:3 * n] = dht * tanh_c[:, t]            # do
            d[:, 3 * n:] = dc * i * (1 - g * g)               # dg, through tanh
            d[:, :3 * n] *= a[:, :3 * n] * (1 - a[:, :3 * n])  # f, i, o through the sigmoid
            dc_carry = dc * f
            dh_carry = d @ w_h_t
        return da
