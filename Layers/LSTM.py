"""Long short-term memory layer."""
import numpy as np

from ._recurrent import RecurrentLayer
from .Sigmoid import sigmoid


class LSTM(RecurrentLayer):
    """LSTM cell, unrolled over time, trained by backpropagation through time::

        a = x_t @ W_x + h_{t-1} @ W_h + b        (batch, 4 hidden): blocks a_f, a_i, a_o, a_g
        f = sigmoid(a_f)                          forget gate
        i = sigmoid(a_i)                          input gate
        o = sigmoid(a_o)                          output gate
        g = tanh(a_g)                             candidate cell input
        c_t = f * c_{t-1} + i * g                 cell state
        h_t = o * tanh(c_t)                       hidden state
        y_t = sigmoid([h_t, 1] @ output_weights)  (with output_size; else y_t = h_t)

    The code holds ``a`` gate-major, ``(4, batch, hidden)`` with ``a[0] = a_f`` ..., so
    that each gate is one contiguous array and ``f, i, o = sigmoid(a[:3])`` is one call.

    The cell state c carries information across many steps with only the forget
    gate in between, so the gradient does not vanish the way it does through the
    Elman cell's repeated tanh and weight matrix.

    Args, input layouts, ``memorize``: as for ``RNN``. ``state`` is ``(h, c)``,
    each ``(batch, hidden_size)``.

    Parameters:
        weights: ``(input_size + hidden_size + 1, 4 * hidden_size)``, rows
            [x, h, bias] (``W_x``, ``W_h``, ``b``), column blocks in the gate
            order f, i, o, g;
        output_weights: ``(hidden_size + 1, output_size)``, last row the bias;
        gradient_weights, gradient_output_weights likewise.

    Reference: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural
    Computation 1997, with the forget gate of Gers, Schmidhuber & Cummins,
    "Learning to Forget", Neural Computation 2000.
    """

    _gates = 4
    _states = 2

    def initialize(self, weights_initializer, bias_initializer):
        """As every recurrent layer (see ``RNN``), then ``+1`` on the forget gate's bias.

        With a bias near 0 the forget gate starts near 0.5, so the cell state halves
        at every step and a fresh network forgets what it saw ten steps ago before it
        can learn to keep it. Starting f near sigmoid(1) = 0.73 lets it learn tasks
        that need memory over tens of steps (Jozefowicz, Zaremba & Sutskever, "An
        Empirical Exploration of Recurrent Network Architectures", ICML 2015; Keras'
        ``unit_forget_bias``). The constructor's own draw is PyTorch's (no offset).
        """
        super().initialize(weights_initializer, bias_initializer)
        if self.weights.shape == self._parameter_shapes()["weights"]:
            self.weights[-1, :self.hidden_size] += 1

    def step(self, a_x, state):
        """One step: ``a_x = x_t @ W_x + b`` ``(4, batch, hidden)``, gate-major (the shell
        computes it for every step at once), ``state`` ``(h_prev, c_prev)`` -> ``(h, c)``
        and the cache."""
        h_prev, c_prev = state
        a = h_prev @ self._w_h                    # a[k] = h_prev @ W_h[k], (4, batch, hidden)
        a += a_x
        s = sigmoid(a[:3])                        # the three sigmoid gates in one call
        f, i, o = s
        g = np.tanh(a[3])
        c = f * c_prev
        c += i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), (c_prev, s, g, tanh_c)

    def backward_factors(self, cache):
        """What ``step_backward`` needs that does not depend on dL/d(state), for every step
        at once from the cache fields stacked over time, ``(time, ...)``::

            dc_dh = o (1 - tanh(c_t)^2)                            dh_t's way into dc_t
            per = [c_{t-1} f (1 - f), g i (1 - i), tanh(c_t) o (1 - o), i (1 - g^2)]

        (``s (1 - s)`` is sigmoid' and ``1 - g^2`` tanh', written with the kept outputs;
        ``s = [f, i, o]`` is one array ``(time, 3, batch, hidden)``, ``per`` is ``(time, 4,
        batch, hidden)``.) Returns ``(f, dc_dh, per)``.
        """
        c_prev, s, g, tanh_c = cache
        f, i, o = s[:, 0], s[:, 1], s[:, 2]
        # Into the layer's reused buffers, with no temporaries: fresh arrays of a sequence's
        # size cost more in page faults than the arithmetic.
        dc_dh = self._buffer("dc_dh", tanh_c.shape)
        np.multiply(tanh_c, tanh_c, out=dc_dh)
        np.subtract(1, dc_dh, out=dc_dh)
        dc_dh *= o
        per = self._buffer("per", (len(s), 4) + s.shape[2:])
        np.subtract(1, s, out=per[:, :3])
        per[:, :3] *= s
        per[:, 0] *= c_prev
        per[:, 1] *= g
        per[:, 2] *= tanh_c
        np.multiply(g, g, out=per[:, 3])
        np.subtract(1, per[:, 3], out=per[:, 3])
        per[:, 3] *= i
        return f, dc_dh, per

    def step_backward(self, dstate, factors, da, da_h):
        """dL/d(h_t, c_t) -> dL/da into ``da`` ``(4, batch, hidden)`` (``da_h`` is the same
        array: a = a_x + a_h) and ``(dh_prev, dc_prev)``::

            dc = dc + dh * o * (1 - tanh(c_t)^2)      c_t reaches the loss through h_t too
            df = dc * c_{t-1},   di = dc * g,   do = dh * tanh(c_t),   dg = dc * i
            da = [df f (1 - f), di i (1 - i), do o (1 - o), dg (1 - g^2)]
               = [dc, dc, dh, dc] * per           with per from ``backward_factors``
            dh_prev = sum_k da[k] @ W_h[k]^T,   dc_prev = dc * f
        """
        dh, dc = dstate
        f, dc_dh, per = factors
        dc += dh * dc_dh
        np.multiply(per, dc, out=da)              # every block of per times dc ...
        np.multiply(per[2], dh, out=da[2])        # ... then the o block times dh
        dh_prev = (da @ self._w_h_t).sum(0)
        dc *= f
        return dh_prev, dc
