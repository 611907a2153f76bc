"""Elman recurrent layer."""
import numpy as np

from ._recurrent import RecurrentLayer


class RNN(RecurrentLayer):
    """Elman cell, unrolled over time, trained by backpropagation through time::

        h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b)  =  tanh([x_t, h_{t-1}, 1] @ weights)
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
    ``state`` is ``(h,)``, h of shape ``(batch, hidden_size)``.

    Parameters:
        weights: ``(input_size + hidden_size + 1, hidden_size)``, rows [x, h, bias]
            (``W_x``, ``W_h``, ``b``);
        output_weights: ``(hidden_size + 1, output_size)``, last row the bias;
        gradient_weights, gradient_output_weights likewise. Each matrix has its
        own optimizer state.

    The time loop, the output layer and the weight gradients are the recurrent
    shell's (``_recurrent.py``); this class is the step and its backward.

    Reference: Elman, "Finding Structure in Time", Cognitive Science 1990.
    """

    _gates = 1

    def step(self, a_x, state):
        """One step: ``a_x = x_t @ W_x + b`` ``(1, batch, hidden)`` (the shell computes it for
        every step at once, gate-major with one gate), ``state`` ``(h_prev,)`` -> ``(h,)``
        and the cache."""
        h_prev, = state
        h = np.tanh(a_x[0] + h_prev @ self._w_h[0])
        return (h,), (h,)

    def backward_factors(self, cache):
        """tanh' written with the kept outputs, ``1 - h_t^2``, for every step at once from
        the cache stacked over time: ``(slope,)``, ``(time, batch, hidden)``."""
        h, = cache
        slope = self._buffer("slope", h.shape)
        np.multiply(h, h, out=slope)
        np.subtract(1, slope, out=slope)
        return (slope,)

    def step_backward(self, dstate, factors, da, da_h):
        """dL/d(h_t) -> dL/d(pre-activation) into ``da`` ``(1, batch, hidden)`` (``da_h`` is the
        same array: a = a_x + a_h) and ``(dh_prev,)``::

            da = dh * (1 - h^2)
            dh_prev = da @ W_h^T
        """
        dh, = dstate
        slope, = factors
        np.multiply(dh, slope, out=da[0])
        return (da[0] @ self._w_h_t[0],)
