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
        dtype: float dtype of parameters and computation (default float64).

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

    def _run(self, xp, state):
        steps, hidden, b = xp.shape
        w_h_t = np.ascontiguousarray(self.weights[self.input_size:-1].T)   # (hidden, hidden)
        h = np.empty((steps + 1, hidden, b), self.dtype)
        h[0] = 0 if state is None else state[0]
        for t in range(steps):
            a = h[t + 1]
            np.matmul(w_h_t, h[t], out=a)
            a += xp[t]
            tanh(a, out=a)
        self._cache = {"h": h}
        self.state = (h[-1].copy(),)
        return h

    def _backprop(self, dh):
        """dL/dh_t from above ``(time, hidden, batch)`` -> dL/d(pre-activation), same shape."""
        h = self._cache["h"]
        w_h = self.weights[self.input_size:-1]
        da = np.empty_like(dh)
        carry = np.zeros_like(dh[0])                          # dL/dh_t through h_{t+1}
        for t in range(len(dh) - 1, -1, -1):
            d = da[t]
            np.add(dh[t], carry, out=d)
            d *= 1 - h[t + 1] * h[t + 1]                      # through tanh
            carry = w_h @ d
        return da
