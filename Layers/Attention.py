"""Dot-product attention: each decoder state looks up the encoder states that match it."""
import numpy as np

from ._layer import Layer


class Attention(Layer):
    """Luong's dot attention of decoder states ``q`` over encoder states ``k = v = memory``.

    With ``q`` the decoder states ``(batch, T_dec, H)`` (forward's input) and the
    encoder states ``memory`` ``(batch, T_enc, H)``::

        scores   s[b, t, u] = q[b, t] . memory[b, u]            (batch, T_dec, T_enc)
                 s[b, t, u] = -inf where mask[b, u] is False
        weights  a[b, t, :] = softmax over u of s[b, t, :]       (batch, T_dec, T_enc)
        context  c[b, t]    = sum_u a[b, t, u] memory[b, u]      (batch, T_dec, H)
        output   y[b, t]    = [c[b, t], q[b, t]]                 (batch, T_dec, 2 H)

    The output is Luong's ``[c_t; h_t]``: a FullyConnected(2 H, ...) on
    ``(batch, time, features)`` after it is his ``W_c``, which mixes what was
    looked up with the decoder's own state. The score is the plain dot product
    (Luong's "dot", unscaled): no parameters, so the encoder and decoder learn to
    align their states themselves. The price is that both must have the same
    size ``H``: a ``Bidirectional`` encoder's ``2 * hidden`` asks for a decoder of
    ``2 * hidden``.

    The layer takes ONE input, like every layer; the encoder side is handed over
    before ``forward``, and its gradient collected after ``backward``::

        attention.memory = encoder_states         # (batch, T_enc, H)
        attention.mask = tokens != PAD            # (batch, T_enc) bool, or None
        y = attention.forward(decoder_states)     # (batch, T_dec, 2 H)
        d_decoder = attention.backward(dL_dy)     # (batch, T_dec, H)
        d_encoder = attention.memory_error     # (batch, T_enc, H), for the encoder's backward

    ``mask`` is True at real encoder steps and False at padding (Keras' convention;
    None: no padding). It must be boolean: a float mask could mean an additive
    ``-inf``/0 mask, as in ``torch.nn.MultiheadAttention``, so none is guessed. A
    padded step gets exactly zero weight and zero gradient, and the output does
    not depend on what the padding holds; a sequence with every step masked has
    nothing to attend to and is refused.

    ``alignment`` is ``a`` of the last forward, ``(batch, T_dec, T_enc)``: row
    ``t`` says where output step ``t`` looked (the picture of attention).

    Computed in the input's float dtype (the memory is cast to it).

    Reference: Luong, Pham, Manning, "Effective Approaches to Attention-based
    Neural Machine Translation", EMNLP 2015, section 3.1.
    """

    _cache_fields = ("_q", "_memory", "_a", "memory_error")

    def __init__(self):
        super().__init__()
        self.memory = None       # the encoder states of the next forward, set by the caller
        self.mask = None
        self.memory_error = None
        self._q = self._memory = self._a = None

    @property
    def alignment(self):
        """The attention weights ``a`` of the last forward, ``(batch, T_dec, T_enc)`` (a copy)."""
        return None if self._a is None else self._a.copy()

    def forward(self, input_tensor):
        """Decoder states ``(batch, T_dec, H)`` -> ``[context, states]`` ``(batch, T_dec, 2 H)``."""
        q = self._input(input_tensor, (3,), "(batch, T_dec, hidden)")
        memory, mask = self._memory_of(q)
        s = q @ memory.transpose(0, 2, 1)
        if mask is not None:
            s = np.where(mask[:, None, :], s, -np.inf)
        a = np.exp(s - s.max(axis=2, keepdims=True))     # shifted by the max: no overflow
        a /= a.sum(axis=2, keepdims=True)
        self._q, self._memory, self._a = q, memory, a
        return np.concatenate([a @ memory, q], axis=2)

    def backward(self, error_tensor):
        """dL/dy ``(batch, T_dec, 2 H)`` -> dL/dq ``(batch, T_dec, H)``; sets ``memory_error``.

        With ``dc, dq_direct`` the two halves of the error::

            da[b, t, u] = dc[b, t] . memory[b, u]
            ds[b, t, u] = a[b, t, u] (da[b, t, u] - sum_u' a[b, t, u'] da[b, t, u'])
            dq          = dq_direct + ds @ memory
            memory_error = a^T @ dc + ds^T @ q     (memory is both the values and the keys)
        """
        q, memory, a = self._q, self._memory, self._a
        shape = None if q is None else (*q.shape[:2], 2 * q.shape[2])
        e = self._error(error_tensor, shape, None if q is None else q.dtype)
        h = q.shape[2]
        dc, dq_direct = e[..., :h], e[..., h:]
        da = dc @ memory.transpose(0, 2, 1)
        ds = a * (da - np.sum(a * da, axis=2, keepdims=True))
        self.memory_error = a.transpose(0, 2, 1) @ dc + ds.transpose(0, 2, 1) @ q
        return dq_direct + ds @ memory

    def _memory_of(self, q):
        """``memory`` in ``q``'s dtype, zero at masked steps, and the mask; or a clear error."""
        name = "Attention.forward"
        batch, h = q.shape[0], q.shape[2]
        expected = f"(batch, T_enc, hidden) = ({batch}, T_enc, {h}) like the decoder states"
        if self.memory is None:
            raise ValueError(f"{name}: expected attention.memory = the encoder states "
                             f"{expected}, set before forward, got None")
        memory = np.asarray(self.memory)
        if memory.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected memory, a numeric array of shape {expected}, "
                            f"got an array of dtype {memory.dtype}")
        if memory.ndim != 3 or memory.shape[0] != batch or memory.shape[2] != h \
                or memory.shape[1] == 0:
            raise ValueError(f"{name}: expected memory of shape {expected}, got {memory.shape} "
                             f"(decoder states {q.shape})")
        memory = memory.astype(q.dtype, copy=False)
        if self.mask is None:
            return memory, None
        mask = np.asarray(self.mask)
        if mask.dtype != bool:
            raise TypeError(f"{name}: expected a boolean mask (True at real encoder steps), "
                            f"got an array of dtype {mask.dtype}")
        if mask.shape != memory.shape[:2]:
            raise ValueError(f"{name}: expected mask of shape (batch, T_enc) = "
                             f"{memory.shape[:2]}, got {mask.shape}")
        empty = np.flatnonzero(~mask.any(axis=1))
        if empty.size:
            raise ValueError(f"{name}: expected at least one unmasked encoder step per "
                             f"sequence, got a mask that is all False for sequence(s) "
                             f"{empty.tolist()}")
        # Padding holds anything (even NaN): zeros make c and the gradients ignore it.
        return np.where(mask[:, :, None], memory, 0).astype(q.dtype, copy=False), mask
