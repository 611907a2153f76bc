"""Long short-term memory layer."""
import numpy as np
from scipy.special import expit as sigmoid

from ._recurrent import RecurrentLayer
from ._recurrent_kernels import LSTMKernel


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
    _kernel = LSTMKernel

    def step(self, x, state):
        """``x`` ``(batch, input_size)``, ``state`` ``(h_prev, c_prev)`` -> ``(h, c)`` and the cache."""
        h_prev, c_prev = state
        n = self.hidden_size
        w_x, w_h, b = self._blocks()
        a = x @ w_x + h_prev @ w_h + b
        f = sigmoid(a[:, :n])
        i = sigmoid(a[:, n:2 * n])
        o = sigmoid(a[:, 2 * n:3 * n])
        g = np.tanh(a[:, 3 * n:])
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), (c_prev, f, i, o, g, tanh_c)

    def step_backward(self, dstate, cache):
        """dL/d(h_t, c_t) -> dL/da (for both maps) and ``(dh_prev, dc_prev)``::

            do = dh * tanh(c_t)
            dc = dc + dh * o * (1 - tanh(c_t)^2)      c_t reaches the loss through h_t too
            df = dc * c_{t-1},   di = dc * g,   dg = dc * i
            da = [df f (1 - f), di i (1 - i), do o (1 - o), dg (1 - g^2)]
            dh_prev = da @ W_h^T,   dc_prev = dc * f

        (``f (1 - f)`` is sigmoid' and ``1 - g^2`` tanh', written with the kept outputs.)
        """
        dh, dc = dstate
        c_prev, f, i, o, g, tanh_c = cache
        do = dh * tanh_c
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        df = dc * c_prev
        di = dc * g
        dg = dc * i
        da = np.concatenate([df * f * (1 - f), di * i * (1 - i), do * o * (1 - o),
                             dg * (1 - g * g)], axis=1)
        dh_prev = da @ self._blocks()[1].T
        dc_prev = dc * f
        return da, da, (dh_prev, dc_prev)
