"""Window arithmetic shared by Conv and Pooling (private helper module).

Conv computes in a "batch-last" layout ``(channels, y, x, batch)``: in it, every
kernel offset ``(i, j)`` of im2col and col2im is ONE copy or add of a slab whose
rows (``x * batch`` numbers) are long and contiguous. With the batch first, the
same slabs have rows of only ``x`` numbers, and NumPy spends its time on row
overhead; bench/col2im.py measures the difference.
"""
import numpy as np


def same_padding(kernel):
    """Zero padding ``(before, after)`` that keeps the size for a kernel length.

    An even kernel needs an odd total ``kernel - 1``; the extra row/column goes
    after, e.g. kernel 4 -> (1, 2).
    """
    before = (kernel - 1) // 2
    return before, kernel - 1 - before


def pooled_size(size, window, stride):
    """Number of "valid" windows along an axis: ``floor((size - window) / stride) + 1``."""
    return (size - window) // stride + 1


def offsets(window, stride, out_shape):
    """For every kernel offset ``(i, j)``, the strided (y, x) slices it touches.

    Window ``(i, j)`` of output pixel ``(p, q)`` reads input pixel
    ``(s_y * p + i, s_x * q + j)``; for a fixed offset these pixels form one
    strided slice per axis.
    """
    (wy, wx), (sy, sx), (oy, ox) = window, stride, out_shape
    for i in range(wy):
        for j in range(wx):
            yield i, j, slice(i, i + sy * oy, sy), slice(j, j + sx * ox, sx)


def im2col(x_pad, window, stride, out_shape, out=None):
    """Copy the windows of a padded batch-last image into a matrix.

    Args:
        x_pad: ``(channels, y, x, batch)``.
        window, stride, out_shape: ``(wy, wx)``, ``(sy, sx)``, ``(out_y, out_x)``.
        out: optional buffer of the result's shape and dtype, reused if given.
    Returns:
        ``(wy * wx * channels, out_y * out_x * batch)``: rows ordered
        (i, j, channel), columns ordered (out_y, out_x, batch).
    """
    c, _, _, b = x_pad.shape
    (wy, wx), (oy, ox) = window, out_shape
    cols = np.empty((wy, wx, c, oy, ox, b), x_pad.dtype) if out is None \
        else out.reshape(wy, wx, c, oy, ox, b)
    for i, j, rows, columns in offsets(window, stride, out_shape):
        cols[i, j] = x_pad[:, rows, columns, :]
    return cols.reshape(wy * wx * c, oy * ox * b)


def col2im(cols, padded_shape, window, stride, out_shape):
    """Sum the columns of ``cols`` back into the padded image: the adjoint of ``im2col``.

    Args:
        cols: ``(wy * wx * channels, out_y * out_x * batch)``.
        padded_shape: ``(channels, y, x, batch)`` of the padded image.
    Returns:
        ``(channels, y, x, batch)``; where windows overlap, their entries add up.
    """
    c, _, _, b = padded_shape
    (wy, wx), (oy, ox) = window, out_shape
    d = cols.reshape(wy, wx, c, oy, ox, b)
    image = np.zeros(padded_shape, cols.dtype)
    for i, j, rows, columns in offsets(window, stride, out_shape):
        image[:, rows, columns, :] += d[i, j]
    return image
