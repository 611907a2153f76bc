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
        """One step: ``a_x = x_t @ W_x + b_x`` ``(batch, 3 hidden)`` (the shell computes it
        for every step at once), ``state`` ``(h_prev,)`` -> ``(h,)`` and the cache."""
        h_prev, = state
        k = self.hidden_size
        _, w_h, b = self._blocks()
        a_h = h_prev @ w_h
        a_h += b[1]
        a = a_x[:, :2 * k] + a_h[:, :2 * k]
        s = sigmoid(a, out=a)                     # the two sigmoid gates in one call
        r, z = s[:, :k], s[:, k:]
        n = r * a_h[:, 2 * k:]
        n += a_x[:, 2 * k:]
        np.tanh(n, out=n)
        h = h_prev - n
        h *= z
        h += n                                    # h = (1 - z) n + z h_prev
        return (h,), (h_prev, s, n, a_h[:, 2 * k:])

    def backward_factors(self, cache):
        """What ``step_backward`` needs that does not depend on dL/dh, for every step at once
        from the cache fields stacked over time, ``(time, batch, ...)``::

            p_n = (1 - z) (1 - n^2)                   dh's way into da_n
            p_z = (h_{t-1} - n) z (1 - z)             into da_z
            p_r = a_h,n r (1 - r) p_n                 into da_r, through n
            per_x = [p_r, p_z, p_n],   per_h = [p_r, p_z, p_n r]

        (``s = [r, z]`` is one array.) Returns ``(z, per_x, per_h)``.
        """
        h_prev, s, n, a_hn = cache
        k = self.hidden_size
        r, z = s[..., :k], s[..., k:]
        # Into the layer's reused buffers, with no temporaries: fresh arrays of a sequence's
        # size cost more in page faults than the arithmetic.
        per_x = self._buffer("per_x", n.shape[:-1] + (3 * k,))
        per_h = self._buffer("per_h", per_x.shape)
        p_r, p_z, p_n = per_x[..., :k], per_x[..., k:2 * k], per_x[..., 2 * k:]
        scratch = per_h[..., 2 * k:]
        np.subtract(1, s, out=per_x[..., :2 * k])
        per_x[..., :2 * k] *= s                             # r (1 - r), z (1 - z)
        np.multiply(n, n, out=p_n)
        np.subtract(1, p_n, out=p_n)
        p_n *= np.subtract(1, z, out=scratch)
        p_z *= np.subtract(h_prev, n, out=scratch)
        p_r *= a_hn
        p_r *= p_n
        per_h[..., :2 * k] = per_x[..., :2 * k]
        np.multiply(p_n, r, out=per_h[..., 2 * k:])
        return z, per_x, per_h

    def step_backward(self, dstate, factors, da_x, da_h):
        """dL/d(h_t) -> dL/d(a_x), dL/d(a_h) into ``da_x``, ``da_h``, and ``(dh_prev,)``::

            dn = dh * (1 - z),   dz = dh * (h_{t-1} - n)
            da_n = dn * (1 - n^2)                 through the tanh
            dr = da_n * a_h,n
            da_x = [dr r (1 - r), dz z (1 - z), da_n]     = dh * per_x
            da_h = [dr r (1 - r), dz z (1 - z), da_n * r] = dh * per_h
            dh_prev = dh * z + da_h @ W_h^T       directly, and through the gates and n

        (``per_x``, ``per_h`` from ``backward_factors``.)
        """
        dh, = dstate
        z, per_x, per_h = factors
        batch, k = dh.shape
        np.multiply(per_x.reshape(batch, 3, k), dh[:, np.newaxis], out=da_x.reshape(batch, 3, k))
        np.multiply(per_h.reshape(batch, 3, k), dh[:, np.newaxis], out=da_h.reshape(batch, 3, k))
        dh_prev = da_h @ self._blocks()[1].T
        dh_prev += dh * z
        return (dh_prev,)
