"""Window arithmetic shared by Conv and Pooling (private helper module).

All functions work on image batches ``(batch, channels, y, x)``; Conv maps its
1-D signals ``(batch, channels, x)`` to images of height 1 before calling them.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def same_padding(kernel):
    """Zero padding ``(before, after)`` that keeps the size for a kernel length.

    An even kernel needs an odd total ``kernel - 1``; the extra row/column goes
    after, e.g. kernel 4 -> (1, 2).
    """
    before = (kernel - 1) // 2
    return before, kernel - 1 - before


def windows(x, window, stride):
    """Read-only view of the windows of ``x`` at the given stride.

    Args:
        x: ``(batch, channels, y, x)``.
        window, stride: ``(wy, wx)`` and ``(sy, sx)``.
    Returns:
        ``(batch, channels, out_y, out_x, wy, wx)`` view (no copy), with
        ``out = floor((in - window) / stride) + 1``.
    """
    view = sliding_window_view(x, window, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1]]


def im2col(x, window, stride):
    """Copy the windows of ``x`` into a matrix, one row per output pixel.

    Returns:
        ``(batch * out_y * out_x, channels * wy * wx)``, rows ordered
        (batch, out_y, out_x), columns ordered (channel, wy, wx) like the
        flattened Conv weights.
    """
    w = windows(x, window, stride)
    b, c, oy, ox, wy, wx = w.shape
    return w.transpose(0, 2, 3, 1, 4, 5).reshape(b * oy * ox, c * wy * wx)


def col2im(cols, shape, window, stride, out_shape):
    """Sum the window rows of ``cols`` back into an image: the adjoint of ``im2col``.

    Args:
        cols: ``(batch * out_y * out_x, channels * wy * wx)``.
        shape: ``(batch, channels, y, x)`` of the image to rebuild.
        out_shape: ``(out_y, out_x)``.

    Overlapping windows add up. The loop runs over the ``wy * wx`` kernel
    offsets; each iteration adds a whole strided slice for every sample,
    channel and output pixel at once (measured faster than ``np.add.at``
    scatter, see bench/col2im.py).
    """
    b, c = shape[:2]
    (wy, wx), (sy, sx), (oy, ox) = window, stride, out_shape
    # (batch, out_y, out_x, c, wy, wx) -> (c..., wy, wx, out_y, out_x) so that each offset
    # (i, j) is a (batch, c, out_y, out_x) slab laid over the strided image positions.
    d = cols.reshape(b, oy, ox, c, wy, wx).transpose(0, 3, 4, 5, 1, 2)
    image = np.zeros(shape, dtype=cols.dtype)
    for i in range(wy):
        for j in range(wx):
            image[:, :, i:i + sy * oy:sy, j:j + sx * ox:sx] += d[:, :, i, j]
    return image
