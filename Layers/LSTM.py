"""Long short-term memory layer."""
import numpy as np

from ._recurrent import RecurrentLayer, sigmoid, tanh


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
        steps, _, b = xp.shape
        n = self.hidden_size
        w_h_t = np.ascontiguousarray(self.weights[self.input_size:-1].T)   # (4n, n)
        h = np.empty((steps + 1, n, b), self.dtype)
        c = np.empty((steps + 1, n, b), self.dtype)
        gates = np.empty((steps, 4 * n, b), self.dtype)      # f, i, o, g after activation
        tanh_c = np.empty((steps, n, b), self.dtype)
        h[0], c[0] = (0, 0) if state is None else state
        ig = np.empty((n, b), self.dtype)
        for t in range(steps):
            a = gates[t]
            np.matmul(w_h_t, h[t], out=a)
            a += xp[t]
            sigmoid(a[:3 * n], out=a[:3 * n])
            tanh(a[3 * n:], out=a[3 * n:])
            f, i, o, g = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
            np.multiply(f, c[t], out=c[t + 1])
            c[t + 1] += np.multiply(i, g, out=ig)
            tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t + 1])
        self._cache = {"h": h, "c": c, "gates": gates, "tanh_c": tanh_c}
        self.state = (h[-1].copy(), c[-1].copy())
        return h

    def _backprop(self, dh):
        """dL/dh_t from above ``(time, hidden, batch)`` -> dL/d(gate pre-activations)."""
        cache = self._cache
        c, gates, tanh_c = cache["c"], cache["gates"], cache["tanh_c"]
        n = self.hidden_size
        w_h = self.weights[self.input_size:-1]                # (n, 4n)
        da = np.empty(gates.shape, self.dtype)
        dh_carry = np.zeros_like(dh[0])                       # dL/dh_t through step t+1
        dc = np.zeros_like(dh[0])                             # dL/dc_t
        for t in range(len(dh) - 1, -1, -1):
            a, d = gates[t], da[t]
            f, i, o, g = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
            dht = dh_carry
            dht += dh[t]
            # dc_t = dc_{t+1} * f_{t+1} + dh_t * o * (1 - tanh(c_t)^2); dc holds dc_{t+1} * f_{t+1}
            dc += dht * o * (1 - tanh_c[t] * tanh_c[t])
            np.multiply(dc, c[t], out=d[:n])                  # df
            np.multiply(dc, g, out=d[n:2 * n])                # di
            np.multiply(dht, tanh_c[t], out=d[2 * n:3 * n])   # do
            np.multiply(dc, i, out=d[3 * n:])                 # dg ...
            d[3 * n:] *= 1 - g * g                            # ... through tanh
            d[:3 * n] *= a[:3 * n] * (1 - a[:3 * n])          # f, i, o through the sigmoid
            dc *= f                                           # on to c_{t-1}
            dh_carry = w_h @ d
        return da
