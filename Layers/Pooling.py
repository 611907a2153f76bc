"""2-D max pooling."""
import numpy as np

import _checks
from ._layer import Layer
from ._windows import offsets, pooled_size


class Pooling(Layer):
    """Max over each window, "valid" (no padding).

    Args:
        stride_shape: one int (or a 1-tuple) for both axes, or ``(s_y, s_x)``.
        pooling_shape: one int (or a 1-tuple) for both axes, or ``(p_y, p_x)``.

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
        stride = _checks.shape("Pooling", "stride_shape", stride_shape, (1, 2))
        pool = _checks.shape("Pooling", "pooling_shape", pooling_shape, (1, 2))
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
            _checks.fail("Pooling.forward", f"input of at least the pooling window "
                         f"{self.pooling_shape} in (y, x)", x.shape)
        out_shape = self._out_shape(in_y, in_x)
        # A running maximum over the window offsets, each a strided view of the whole batch;
        # strict ">" keeps the first maximum (row-major) on ties. order="K" keeps the input's
        # memory layout (batch-last after a Conv), where the views' inner rows are long.
        index = np.int8 if self.pooling_shape[0] * self.pooling_shape[1] <= 127 else np.int32
        out = argmax = None
        for n, (_, _, rows, columns) in enumerate(offsets(self.pooling_shape, self.stride_shape,
                                                          out_shape)):
            v = x[:, :, rows, columns]
            if out is None:
                out = v.copy(order="K")
                argmax = np.zeros_like(out, dtype=index)
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
        argmax = self._argmax
        # Work in the memory layout of forward: copy the error into it once, then for every
        # window offset n add the errors of the outputs whose maximum sits at n. For a fixed
        # offset the input positions of different windows are distinct, so overlapping
        # windows need no scatter-add.
        dtype = e.dtype if e.dtype.kind == "f" else np.float64
        error = np.empty_like(argmax, dtype=dtype)
        error[...] = e
        dx = zeros_in_layout(self._x_shape, argmax, dtype)
        overlap = any(s < p for s, p in zip(self.stride_shape, self.pooling_shape))
        for n, (_, _, rows, columns) in enumerate(offsets(self.pooling_shape, self.stride_shape,
                                                          out_shape)):
            if overlap:
                dx[:, :, rows, columns] += error * (argmax == n)
            else:
                np.multiply(error, argmax == n, out=dx[:, :, rows, columns])
        return dx

    def _out_shape(self, in_y, in_x):
        return tuple(pooled_size(n, p, s) for n, p, s in
                     zip((in_y, in_x), self.pooling_shape, self.stride_shape))


def zeros_in_layout(shape, like, dtype):
    """Zeros of ``shape`` whose axes lie in memory in the same order as ``like``'s axes."""
    order = sorted(range(like.ndim), key=lambda axis: -like.strides[axis])
    return np.zeros([shape[axis] for axis in order], dtype).transpose(np.argsort(order))
