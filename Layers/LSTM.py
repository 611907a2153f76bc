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
        """One step: ``a_x = x_t @ W_x + b`` ``(batch, 4 hidden)`` (the shell computes it for
        every step at once), ``state`` ``(h_prev, c_prev)`` -> ``(h, c)`` and the cache."""
        h_prev, c_prev = state
        n = self.hidden_size
        a = h_prev @ self._blocks()[1]
        a += a_x
        s = sigmoid(a[:, :3 * n])                 # the three sigmoid gates in one call
        f, i, o = s[:, :n], s[:, n:2 * n], s[:, 2 * n:]
        g = np.tanh(a[:, 3 * n:])
        c = f * c_prev
        c += i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), (c_prev, s, g, tanh_c)

    def backward_factors(self, cache):
        """What ``step_backward`` needs that does not depend on dL/d(state), for every step
        at once from the cache fields stacked over time, ``(time, batch, ...)``::

            dc_dh = o (1 - tanh(c_t)^2)                            dh_t's way into dc_t
            per = [c_{t-1} f (1 - f), g i (1 - i), tanh(c_t) o (1 - o), i (1 - g^2)]

        (``s (1 - s)`` is sigmoid' and ``1 - g^2`` tanh', written with the kept outputs;
        ``s = [f, i, o]`` is one array.) Returns ``(f, dc_dh, per)``.
        """
        c_prev, s, g, tanh_c = cache
        n = self.hidden_size
        f, i, o = s[..., :n], s[..., n:2 * n], s[..., 2 * n:]
        # Into the layer's reused buffers, with no temporaries: fresh arrays of a sequence's
        # size cost more in page faults than the arithmetic.
        dc_dh = self._buffer("dc_dh", tanh_c.shape)
        np.multiply(tanh_c, tanh_c, out=dc_dh)
        np.subtract(1, dc_dh, out=dc_dh)
        dc_dh *= o
        per = self._buffer("per", s.shape[:-1] + (4 * n,))
        np.subtract(1, s, out=per[..., :3 * n])
        per[..., :3 * n] *= s
        per[..., :n] *= c_prev
        per[..., n:2 * n] *= g
        per[..., 2 * n:3 * n] *= tanh_c
        np.multiply(g, g, out=per[..., 3 * n:])
        np.subtract(1, per[..., 3 * n:], out=per[..., 3 * n:])
        per[..., 3 * n:] *= i
        return f, dc_dh, per

    def step_backward(self, dstate, factors, da, da_h):
        """dL/d(h_t, c_t) -> dL/da into ``da`` (``da_h`` is the same array: a = a_x + a_h) and
        ``(dh_prev, dc_prev)``::

            dc = dc + dh * o * (1 - tanh(c_t)^2)      c_t reaches the loss through h_t too
            df = dc * c_{t-1},   di = dc * g,   do = dh * tanh(c_t),   dg = dc * i
            da = [df f (1 - f), di i (1 - i), do o (1 - o), dg (1 - g^2)]
               = [dc, dc, dh, dc] * per           with per from ``backward_factors``
            dh_prev = da @ W_h^T,   dc_prev = dc * f
        """
        dh, dc = dstate
        f, dc_dh, per = factors
        batch, n = dc.shape
        dc += dh * dc_dh
        # da = [dc, dc, dh, dc] * per: every block of per times dc, then the o block times dh
        np.multiply(per.reshape(batch, 4, n), dc[:, np.newaxis], out=da.reshape(batch, 4, n))
        np.multiply(per[:, 2 * n:3 * n], dh, out=da[:, 2 * n:3 * n])
        dh_prev = da @ self._blocks()[1].T
        dc *= f
        return dh_prev, dc
