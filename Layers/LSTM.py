"""Long short-term memory layer."""
import numpy as np

from ._recurrent import RecurrentLayer, tanh


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

    def _run(self, columns, state):
        steps, _, b = columns.shape
        steps -= 1
        n, n_in = self.hidden_size, self.input_size
        # The loop computes z = -[f, i, o, 2g] (weight rows scaled by -1 and -2, exact in
        # floating point): then 1 / (1 + exp(z)) is sigmoid(f, i, o) and sigmoid(2g), all
        # four gates in three passes, and tanh(g) = 2 sigmoid(2g) - 1.
        w_t = np.ascontiguousarray(self.weights.T)            # (4n, input + n + 1)
        w_t[:3 * n] *= -1
        w_t[3 * n:] *= -2
        h = columns[:, n_in:-1]                               # (time + 1, n, batch)
        c = self._buffer("c", (steps + 1, n, b))
        gates = self._buffer("gates", (steps, 4 * n, b))     # f, i, o, g after activation
        tanh_c = self._buffer("tanh_c", (steps, n, b))
        c[0] = 0 if state is None else state[1]
        ig = np.empty((n, b), self.dtype)
        for t in range(steps):
            a = gates[t]
            np.matmul(w_t, columns[t], out=a)                 # [x_t; h_{t-1}; 1] -> all gates
            np.exp(a, out=a)
            a += 1
            np.reciprocal(a, out=a)
            f, i, o, g = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
            g *= 2
            g -= 1
            np.multiply(f, c[t], out=c[t + 1])
            c[t + 1] += np.multiply(i, g, out=ig)
            tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t + 1])
        self._cache = {"c": c, "gates": gates, "tanh_c": tanh_c}
        self.state = (h[-1].copy(), c[-1].copy())

    def _backprop(self, dh):
        """dL/dh_t from above ``(time, hidden, batch)`` -> dL/d(gate pre-activations)."""
        cache = self._cache
        c, gates, tanh_c = cache["c"], cache["gates"], cache["tanh_c"]
        steps, n, b = dh.shape
        f, i, o, g = (gates[:, k * n:(k + 1) * n] for k in range(4))
        # What does not depend on the recurrence, for all steps at once:
        #   dc_t = dc_{t+1} f_{t+1} + dh_t through_c,  through_c = o (1 - tanh(c_t)^2)
        #   d[f, i, g] = dc_t by[f, i, g] = dc_t [c_{t-1} f (1 - f), g i (1 - i), i (1 - g^2)]
        #   d[o] = dh_t by[o] = dh_t tanh(c_t) o (1 - o)
        slope = self._buffer("slope", (steps, 3 * n, b))    # sigmoid' = s (1 - s) of f, i, o
        np.subtract(1, gates[:, :3 * n], out=slope)
        slope *= gates[:, :3 * n]
        by = self._buffer("by", (steps, 4, n, b))
        np.multiply(c[:-1], slope[:, :n], out=by[:, 0])
        np.multiply(g, slope[:, n:2 * n], out=by[:, 1])
        np.multiply(tanh_c, slope[:, 2 * n:], out=by[:, 2])
        np.multiply(g, g, out=by[:, 3])
        np.subtract(1, by[:, 3], out=by[:, 3])
        by[:, 3] *= i
        through_c = self._buffer("through_c", (steps, n, b))
        np.multiply(tanh_c, tanh_c, out=through_c)
        np.subtract(1, through_c, out=through_c)
        through_c *= o
        w_h = self.weights[self.input_size:-1]                # (n, 4n)
        da = self._buffer("da", (steps, 4 * n, b))
        carry = np.zeros((n, b), self.dtype)                  # dL/dh_t through step t+1
        dht = np.empty((n, b), self.dtype)
        dc = np.zeros((n, b), self.dtype)                     # dc_{t+1} f_{t+1}
        tmp = np.empty((n, b), self.dtype)
        for t in range(steps - 1, -1, -1):
            d = da[t]
            np.add(dh[t], carry, out=dht)
            dc += np.multiply(dht, through_c[t], out=tmp)
            np.multiply(dc, by[t], out=d.reshape(4, n, b))     # d[o] is rewritten next
            np.multiply(dht, by[t, 2], out=d[2 * n:3 * n])
            dc *= f[t]                                        # on to c_{t-1}
            np.matmul(w_h, d, out=carry)
        return da
