"""Reference implementations the tests hold the layers against: slow, explicit, obvious.

Each computes what a layer computes in the plainest way (loops over windows,
scipy's correlate), with nothing shared with the layer's own code.
"""
import numpy as np
from scipy import signal


def conv_reference(x, weights, bias, stride):
    """Explicit same-padded cross-correlation with scipy, then subsampling."""
    b, c, *size = x.shape
    k, _, *kernel = weights.shape
    pads = [((m - 1) // 2, m - 1 - (m - 1) // 2) for m in kernel]
    x_pad = np.pad(x, [(0, 0), (0, 0)] + pads)
    out = np.zeros((b, k, *size))
    for n in range(b):
        for j in range(k):
            out[n, j] = sum(signal.correlate(x_pad[n, ch], weights[j, ch], mode="valid")
                            for ch in range(c)) + bias[j]
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
    return out[index]


def pooling_reference(x, error, pool, stride):
    """Max pooling by explicit windows: ``(output, dL/dx)`` for the error ``error``.

    Each output is its window's maximum; the error goes to the window's FIRST
    maximum (row-major) and errors of overlapping windows add up.
    """
    batch, channels, height, width = x.shape
    out_y, out_x = (height - pool[0]) // stride[0] + 1, (width - pool[1]) // stride[1] + 1
    out = np.zeros((batch, channels, out_y, out_x))
    dx = np.zeros_like(x, dtype=float)
    for i in range(out_y):
        for j in range(out_x):
            top, left = i * stride[0], j * stride[1]
            window = x[:, :, top:top + pool[0], left:left + pool[1]]
            out[:, :, i, j] = window.max(axis=(2, 3))
            first = window.reshape(batch, channels, -1).argmax(axis=2)
            for n in range(batch):
                for c in range(channels):
                    r, q = divmod(first[n, c], pool[1])
                    dx[n, c, top + r, left + q] += error[n, c, i, j]
    return out, dx
