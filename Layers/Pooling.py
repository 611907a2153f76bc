"""2-D max pooling."""
from functools import lru_cache

import numpy as np

from .Base import BaseLayer, check_shape
from ._windows import offsets, pooled_size


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
        self._argmax = None     # index of each output's maximum among its window offsets
        self._x_shape = None

    def __repr__(self):
        return f"Pooling({self.stride_shape}, {self.pooling_shape})"

    def forward(self, input_tensor):
        """``(batch, channels, y, x) -> (batch, channels, out_y, out_x)``."""
        x = self._input(input_tensor, (4,), "(batch, channels, y, x)")
        b, c, in_y, in_x = x.shape
        if self.pooling_shape[0] > in_y or self.pooling_shape[1] > in_x:
            raise ValueError(f"Pooling.forward: the pooling window {self.pooling_shape} is larger "
                             f"than the input's (y, x) = {(in_y, in_x)}; input shape {x.shape}")
        out_shape = self._out_shape(in_y, in_x)
        # A running maximum over the window offsets, each a strided view of the whole batch;
        # strict ">" keeps the first maximum (row-major) on ties.
        out = argmax = None
        for n, (_, _, rows, columns) in enumerate(offsets(self.pooling_shape, self.stride_shape,
                                                          out_shape)):
            v = x[:, :, rows, columns]
            if out is None:
                out, argmax = v.copy(), np.zeros(v.shape, np.int32)
                continue
            larger = v > out
            np.maximum(out, v, out=out)
            argmax += larger * (n - argmax)   # argmax = n where larger (cheaper than copyto/where)
        self._argmax, self._x_shape = argmax, x.shape
        return out

    def backward(self, error_tensor):
        """``(batch, channels, out_y, out_x) -> (batch, channels, y, x)``."""
        if self._x_shape is None:
            raise RuntimeError("Pooling.backward: called before forward")
        b, c, in_y, in_x = self._x_shape
        out_shape = self._out_shape(in_y, in_x)
        e = self._error(error_tensor, (b, c, *out_shape))
        # Flat input position of every output's maximum: window corner + offset in the window
        # (a lookup table of the offsets' flat distances, cheaper than integer division).
        py, px = self.pooling_shape
        corner = _corners((b, c, in_y, in_x), self.stride_shape, out_shape)
        distance = (np.arange(py)[:, np.newaxis] * in_x + np.arange(px)).ravel()
        position = (corner + distance[self._argmax]).ravel()
        dx = np.zeros(b * c * in_y * in_x, e.dtype if e.dtype.kind == "f" else np.float64)
        if all(s >= p for s, p in zip(self.stride_shape, self.pooling_shape)):
            dx[position] = e.ravel()          # windows do not overlap: positions are distinct
        else:
            np.add.at(dx, position, e.ravel())   # overlapping windows add up
        return dx.reshape(self._x_shape)

    def _out_shape(self, in_y, in_x):
        return tuple(pooled_size(n, p, s) for n, p, s in
                     zip((in_y, in_x), self.pooling_shape, self.stride_shape))


@lru_cache(maxsize=16)
def _corners(shape, stride, out_shape):
    """Flat index of the top-left input pixel of every window, ``(b, c, out_y, out_x)``."""
    b, c, in_y, in_x = shape
    (sy, sx), (oy, ox) = stride, out_shape
    planes = np.arange(b * c).reshape(b, c, 1, 1) * (in_y * in_x)
    corner = planes + (np.arange(oy) * sy * in_x)[:, np.newaxis] + np.arange(ox) * sx
    corner.flags.writeable = False
    return corner
