"""Why Conv's col2im is one np.add.at scatter and not a loop over kernel offsets.

Times three ways of summing im2col rows back into an image (the adjoint of im2col), on
LeNet-sized layers, and checks they agree:

- offsets: a loop over the kh*kw kernel offsets, each adding one strided slab for every
  sample, channel and output pixel at once;
- add.at:  one ``np.add.at`` scatter with precomputed flat indices, no Python loop (what
  Layers/_windows.col2im does);
- bincount: one ``np.bincount`` with weights over the same indices, no Python loop.

Run: .venv/bin/python bench/col2im.py
"""
import sys
import timeit
from pathlib import Path

import numpy as np
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from Layers._windows import _col2im_indices  # noqa: E402


def col2im_offsets(cols, shape, window, stride, out_shape):
    """The loop over kernel offsets: each adds a (batch, c, out_y, out_x) strided slab."""
    b, c = shape[:2]
    (wy, wx), (sy, sx), (oy, ox) = window, stride, out_shape
    d = cols.reshape(b, oy, ox, c, wy, wx).transpose(0, 3, 4, 5, 1, 2)
    image = np.zeros(shape, dtype=cols.dtype)
    for i in range(wy):
        for j in range(wx):
            image[:, :, i:i + sy * oy:sy, j:j + sx * ox:sx] += d[:, :, i, j]
    return image


def main():
    rows = []
    cases = [("LeNet conv1", (64, 1, 32, 32), (5, 5), (1, 1), (28, 28)),
             ("LeNet conv2", (64, 6, 18, 18), (5, 5), (1, 1), (14, 14)),
             ("3x3 stride 2", (64, 8, 17, 17), (3, 3), (2, 2), (8, 8))]
    for name, shape, window, stride, out_shape in cases:
        b, c = shape[:2]
        cols = np.random.rand(b * out_shape[0] * out_shape[1], c * window[0] * window[1])
        idx = _col2im_indices(shape, window, stride, out_shape)
        size = int(np.prod(shape))

        def offsets():
            return col2im_offsets(cols, shape, window, stride, out_shape)

        def add_at():
            image = np.zeros(size)
            np.add.at(image, idx, cols.ravel())
            return image.reshape(shape)

        def bincount():
            return np.bincount(idx, weights=cols.ravel(), minlength=size).reshape(shape)

        reference = offsets()
        np.testing.assert_allclose(add_at(), reference)
        np.testing.assert_allclose(bincount(), reference)
        times = {f.__name__: np.median(timeit.repeat(f, number=3, repeat=7)) / 3 * 1e3
                 for f in (offsets, add_at, bincount)}
        rows.append([name, f"{times['offsets']:.2f}", f"{times['add_at']:.2f}",
                     f"{times['bincount']:.2f}",
                     f"{min(times['add_at'], times['bincount']) / times['offsets']:.1f}x"])
    print(tabulate(rows, headers=["layer (batch 64, float64)", "offsets ms", "np.add.at ms",
                                  "np.bincount ms", "best loop-free / offsets"]))


if __name__ == "__main__":
    main()
