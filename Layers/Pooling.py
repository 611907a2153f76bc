"""2-D max pooling."""
import numpy as np

from .Base import BaseLayer, check_shape
from ._windows import windows


class Pooling(BaseLayer):
    """Max over each window, "valid" (no padding).

    Args:
        stride_shape: one int or a tuple/list of 2 ints ``(s_y, s_x)``.
        pooling_shape: one int or a tuple/list of 2 ints ``(p_y, p_x)``.

    Shapes:
        forward: ``(batch, channels, y, x) -> (batch, channels, out_y, out_x)`` with
        ``out = floor((in - pool) / stride) + 1``.

    ``backward`` routes each error to the position of its window's maximum (the
    first one in row-major order on ties); where windows overlap, the errors
    routed to one input position add up.
    """

    _cache_fields = ("_argmax", "_x_shape")

    def __init__(self, stride_shape, pooling_shape):
        super().__init__()
        stride = check_shape("Pooling", "stride_shape", stride_shape, (1, 2))
        pool = check_shape("Pooling", "pooling_shape", pooling_shape, (1, 2))
        self.stride_shape = stride * 2 if len(stride) == 1 else stride
        self.pooling_shape = pool * 2 if len(pool) == 1 else pool
        self._argmax = None     # flat input index of each output's maximum
        self._x_shape = None

    def __repr__(self):
        return f"Pooling({self.stride_shape}, {self.pooling_shape})"

    def forward(self, input_tensor):
        """``(batch, channels, y, x) -> (batch, channels, out_y, out_x)``."""
        x = self._input(input_tensor, (4,), "(batch, channels, y, x)")
        (py, px), (sy, sx) = self.pooling_shape, self.stride_shape
        b, c, in_y, in_x = x.shape
        if py > in_y or px > in_x:
            raise ValueError(f"Pooling.forward: the pooling window {self.pooling_shape} is larger "
                             f"than the input's (y, x) = {(in_y, in_x)}; input shape {x.shape}")
        w = windows(x, (py, px), (sy, sx))
        out_y, out_x = w.shape[2:4]
        w = w.reshape(b, c, out_y, out_x, py * px)             # copies: windows side by side
        k = w.argmax(axis=-1)                                   # first maximum on ties
        out = np.take_along_axis(w, k[..., np.newaxis], axis=-1)[..., 0]
        # Flat index of each maximum in the input, for the scatter in backward.
        rows = (np.arange(out_y) * sy)[:, np.newaxis] + k // px
        cols = (np.arange(out_x) * sx)[np.newaxis, :] + k % px
        planes = np.arange(b * c).reshape(b, c, 1, 1)
        self._argmax = ((planes * in_y + rows) * in_x + cols).ravel()
        self._x_shape = x.shape
        return out

    def backward(self, error_tensor):
        """``(batch, channels, out_y, out_x) -> (batch, channels, y, x)``."""
        if self._x_shape is None:
            raise RuntimeError("Pooling.backward: called before forward")
        b, c, in_y, in_x = self._x_shape
        (py, px), (sy, sx) = self.pooling_shape, self.stride_shape
        out_shape = (b, c, (in_y - py) // sy + 1, (in_x - px) // sx + 1)
        e = self._error(error_tensor, out_shape)
        dtype = e.dtype if e.dtype.kind == "f" else np.float64
        size = b * c * in_y * in_x
        if sy >= py and sx >= px:
            # Windows do not overlap: every input position receives at most one error.
            dx = np.zeros(size, dtype=dtype)
            dx[self._argmax] = e.ravel()
        else:
            dx = np.bincount(self._argmax, weights=e.ravel(), minlength=size).astype(dtype)
        return dx.reshape(self._x_shape)
