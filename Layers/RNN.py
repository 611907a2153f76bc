"""Elman recurrent layer."""
import numpy as np

from ._recurrent import RecurrentLayer, tanh


class RNN(RecurrentLayer):
    """Elman cell, unrolled over time, trained by backpropagation through time::

        h_t = tanh([x_t, h_{t-1}, 1] @ weights)
        y_t = sigmoid([h_t, 1] @ output_weights)     (with output_size; else y_t = h_t)

    Args:
        input_size, hidden_size: features of x_t and h_t.
        output_size: features of y_t; ``None`` outputs h_t itself (for stacking).
        dtype: float dtype of parameters and computation (default float64);
            afterwards the dtype of ``weights`` (see ``Base``).

    Input: ``(time, input_size)`` is ONE sequence (the classic mode, first axis
    time); ``(batch, time, input_size)`` runs ``batch`` independent sequences.
    ``memorize`` (default False): when True, the last hidden state of one
    ``forward`` is the first of the next (truncated BPTT over consecutive
    windows of a long sequence); when False every sequence starts from zeros.

    Parameters:
        weights: ``(input_size + hidden_size + 1, hidden_size)``, rows [x, h, bias];
        output_weights: ``(hidden_size + 1, output_size)``, last row the bias;
        gradient_weights, gradient_output_weights likewise. Each matrix has its
        own optimizer state.

    Reference: Elman, "Finding Structure in Time", Cognitive Science 1990.
    """

    _gates = 1

    def _run(self, columns, state):
        steps, _, b = columns.shape
        steps -= 1
        n, n_in = self.hidden_size, self.input_size
        w_t = np.ascontiguousarray(self.weights.T)           # (n, input + n + 1)
        h = columns[:, n_in:-1]                               # (time + 1, n, batch)
        a = np.empty((n, b), self.dtype)
        for t in range(steps):
            np.matmul(w_t, columns[t], out=a)
            tanh(a, out=h[t + 1])
        self.state = (h[-1].copy(),)

    def _backprop(self, dh):
        """dL/dh_t from above ``(time, hidden, batch)`` -> dL/d(pre-activation), same shape."""
        h = self._columns[1:, self.input_size:-1]             # h_1 ... h_T, (time, n, batch)
        w_h = self.weights[self.input_size:-1]
        through_tanh = self._buffer("through_tanh", h.shape)  # 1 - h^2, all steps at once
        np.multiply(h, h, out=through_tanh)
        np.subtract(1, through_tanh, out=through_tanh)
        da = self._buffer("da", dh.shape)
        carry = np.zeros_like(dh[0])                          # dL/dh_t through h_{t+1}
        for t in range(len(dh) - 1, -1, -1):
            d = da[t]
            np.add(dh[t], carry, out=d)
            d *= through_tanh[t]
            np.matmul(w_h, d, out=carry)
        return da
