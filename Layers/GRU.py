"""Gated recurrent unit layer."""
import numpy as np
from scipy.special import expit as sigmoid

from ._recurrent import RecurrentLayer


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
        a_h = h_prev @ w_h + b[1]
        r = sigmoid(a_x[:, :k] + a_h[:, :k])
        z = sigmoid(a_x[:, k:2 * k] + a_h[:, k:2 * k])
        n = np.tanh(a_x[:, 2 * k:] + r * a_h[:, 2 * k:])
        h = (1 - z) * n + z * h_prev
        return (h,), (h_prev, r, z, n, a_h[:, 2 * k:])

    def step_backward(self, dstate, cache):
        """dL/d(h_t) -> dL/d(a_x), dL/d(a_h) and ``(dh_prev,)``::

            dn = dh * (1 - z),   dz = dh * (h_{t-1} - n)
            da_n = dn * (1 - n^2)                 through the tanh
            dr = da_n * a_h,n
            da_x = [dr r (1 - r), dz z (1 - z), da_n]
            da_h = [dr r (1 - r), dz z (1 - z), da_n * r]
            dh_prev = dh * z + da_h @ W_h^T       directly, and through the gates and n
        """
        dh, = dstate
        h_prev, r, z, n, a_hn = cache
        dn = dh * (1 - z)
        dz = dh * (h_prev - n)
        da_n = dn * (1 - n * n)
        dr = da_n * a_hn
        da_r = dr * r * (1 - r)
        da_z = dz * z * (1 - z)
        da_x = np.concatenate([da_r, da_z, da_n], axis=1)
        da_h = np.concatenate([da_r, da_z, da_n * r], axis=1)
        dh_prev = dh * z + da_h @ self._blocks()[1].T
        return da_x, da_h, (dh_prev,)
