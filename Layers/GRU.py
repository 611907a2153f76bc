"""Gated recurrent unit layer."""
import numpy as np

from ._recurrent import RecurrentLayer
from .Sigmoid import sigmoid


class GRU(RecurrentLayer):
    """GRU cell, unrolled over time, trained by backpropagation through time::

        a_x = x_t @ W_x + b_x                (batch, 3 hidden): blocks r, z, n of the input
        a_h = h_{t-1} @ W_h + b_h            (batch, 3 hidden): blocks r, z, n of the recurrence
        r = sigmoid(a_x,r + a_h,r)           reset gate
        z = sigmoid(a_x,z + a_h,z)           update gate
        n = tanh(a_x,n + r * a_h,n)          candidate state: r resets only the recurrent part
        h_t = (1 - z) * n + z * h_{t-1}
        y_t = sigmoid([h_t, 1] @ output_weights)   (with output_size; else y_t = h_t)

    These are PyTorch's ``torch.nn.GRU`` equations: the reset gate scales the
    recurrent product, as in the first arXiv version of Cho et al. and in cuDNN.
    The paper's final version applies it before the product, to h_{t-1}.

    Args, input layouts, ``memorize``: as for ``RNN``. ``state`` is ``(h,)``.

    Parameters:
        weights: ``(input_size + hidden_size + 2, 3 * hidden_size)``, rows
            [x, h, input bias, recurrent bias] = [W_x, W_h, b_x, b_h], column blocks
            r, z, n. Two bias rows, because r multiplies the recurrent part of n,
            its bias b_h,n included, but not the input part: b_x,n and b_h,n are
            different parameters. (For r and z the two biases only add up.)
            PyTorch's ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
            ``bias_hh_l0`` are ``W_x.T``, ``W_h.T``, ``b_x``, ``b_h``.
        output_weights: ``(hidden_size + 1, output_size)``, last row the bias;
        gradient_weights, gradient_output_weights likewise.

    ``initialize`` draws both bias rows from the bias initializer (shape ``(2, 3 *
    hidden_size)``).

    Reference: Cho et al., "Learning Phrase Representations using RNN
    Encoder-Decoder for Statistical Machine Translation", EMNLP 2014.
    """

    _gates = 3
    _bias_rows = 2

    def step(self, a_x, state):
        """One step: ``a_x = x_t @ W_x + b_x`` ``(3, batch, hidden)``, gate-major (the shell
        computes it for every step at once), ``state`` ``(h_prev,)`` -> ``(h,)`` and the cache."""
        h_prev, = state
        a_h = h_prev @ self._w_h                  # a_h[k] = h_prev @ W_h[k] + b_h[k]
        a_h += self._gate_blocks()[2][1][:, np.newaxis]
        a = np.add(a_x[:2], a_h[:2])
        s = sigmoid(a, out=a)                     # the two sigmoid gates in one call
        r, z = s
        n = r * a_h[2]
        n += a_x[2]
        np.tanh(n, out=n)
        h = h_prev - n
        h *= z
        h += n                                    # h = (1 - z) n + z h_prev
        return (h,), (h_prev, s, n, a_h[2])

    def backward_factors(self, cache):
        """What ``step_backward`` needs that does not depend on dL/dh, for every step at once
        from the cache fields stacked over time, ``(time, ...)``::

            p_n = (1 - z) (1 - n^2)                   dh's way into da_n
            p_z = (h_{t-1} - n) z (1 - z)             into da_z
            p_r = a_h,n r (1 - r) p_n                 into da_r, through n
            per_x = [p_r, p_z, p_n],   per_h = [p_r, p_z, p_n r]

        (``s = [r, z]`` is one array ``(time, 2, batch, hidden)``; ``per_x`` and ``per_h``
        are ``(time, 3, batch, hidden)``.) Returns ``(z, per_x, per_h)``.
        """
        h_prev, s, n, a_hn = cache
        r, z = s[:, 0], s[:, 1]
        # Into the layer's reused buffers, with no temporaries: fresh arrays of a sequence's
        # size cost more in page faults than the arithmetic.
        per_x = self._buffer("per_x", (len(s), 3) + s.shape[2:])
        per_h = self._buffer("per_h", per_x.shape)
        p_r, p_z, p_n = per_x[:, 0], per_x[:, 1], per_x[:, 2]
        scratch = per_h[:, 2]
        np.subtract(1, s, out=per_x[:, :2])
        per_x[:, :2] *= s                                   # r (1 - r), z (1 - z)
        np.multiply(n, n, out=p_n)
        np.subtract(1, p_n, out=p_n)
        p_n *= np.subtract(1, z, out=scratch)
        p_z *= np.subtract(h_prev, n, out=scratch)
        p_r *= a_hn
        p_r *= p_n
        per_h[:, :2] = per_x[:, :2]
        np.multiply(p_n, r, out=per_h[:, 2])
        return z, per_x, per_h

    def step_backward(self, dstate, factors, da_x, da_h):
        """dL/d(h_t) -> dL/d(a_x), dL/d(a_h) into ``da_x``, ``da_h`` ``(3, batch, hidden)``,
        and ``(dh_prev,)``::

            dn = dh * (1 - z),   dz = dh * (h_{t-1} - n)
            da_n = dn * (1 - n^2)                 through the tanh
            dr = da_n * a_h,n
            da_x = [dr r (1 - r), dz z (1 - z), da_n]     = dh * per_x
            da_h = [dr r (1 - r), dz z (1 - z), da_n * r] = dh * per_h
            dh_prev = dh * z + sum_k da_h[k] @ W_h[k]^T    directly, and through the gates and n

        (``per_x``, ``per_h`` from ``backward_factors``.)
        """
        dh, = dstate
        z, per_x, per_h = factors
        np.multiply(per_x, dh, out=da_x)
        np.multiply(per_h, dh, out=da_h)
        dh_prev = (da_h @ self._w_h_t).sum(0)
        dh_prev += dh * z
        return (dh_prev,)
