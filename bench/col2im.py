"""Why Conv's col2im loops over kernel offsets in a batch-last layout.

col2im sums the columns of an im2col matrix back into an image (the backward pass of
Conv). Three ways, timed on LeNet-sized layers (float32) and checked to agree:

- batch-first offsets: image ``(b, c, y, x)``; one strided slab add per kernel offset,
  whose rows are only ``x`` numbers long;
- np.add.at: one scatter with precomputed flat indices, no Python loop;
- batch-last offsets (Layers/_windows.col2im): image ``(c, y, x, b)``; one slab add per
  kernel offset with rows of ``x * b`` numbers.

Run: .venv/bin/python bench/col2im.py
"""
import sys
import timeit
from pathlib import Path

import numpy as np
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from Layers._windows import col2im  # noqa: E402


def batch_first_offsets(d, padded):
    """``d``: (b, c, ky, kx, out_y, out_x) -> padded image (b, c, y, x)."""
    b, c, ky, kx, oy, ox = d.shape
    image = np.zeros(padded, d.dtype)
    for i in range(ky):
        for j in range(kx):
            image[:, :, i:i + oy, j:j + ox] += d[:, :, i, j]
    return image


def flat_indices(b, c, k, oy, ox, padded):
    """Flat index into the padded (b, c, y, x) image of every entry of d."""
    _, _, h, w = padded
    n, ch, i, j, y, x = np.ogrid[:b, :c, :k, :k, :oy, :ox]
    return (((n * c + ch) * h + y + i) * w + x + j).ravel()


def median_ms(f):
    return np.median(timeit.repeat(f, number=5, repeat=9)) / 5 * 1e3


def main():
    rows = []
    for name, (b, c, size, k) in [("LeNet conv1 (64, 1, 28, 28), 5x5", (64, 1, 28, 5)),
                                  ("LeNet conv2 (64, 6, 14, 14), 5x5", (64, 6, 14, 5))]:
        padded = (b, c, size + k - 1, size + k - 1)
        d = np.random.rand(b, c, k, k, size, size).astype(np.float32)
        index = flat_indices(b, c, k, size, size, padded)
        # the same numbers as an im2col matrix of the batch-last layout: (ky*kx*c, y*x*b)
        cols = np.ascontiguousarray(d.transpose(2, 3, 1, 4, 5, 0)).reshape(k * k * c, -1)
        last = (c, padded[2], padded[3], b)

        def add_at():
            image = np.zeros(int(np.prod(padded)), np.float32)
            np.add.at(image, index, d.ravel())
            return image.reshape(padded)

        reference = batch_first_offsets(d, padded)
        np.testing.assert_allclose(add_at(), reference, rtol=1e-5)
        np.testing.assert_allclose(col2im(cols, last, (k, k), (1, 1), (size, size))
                                   .transpose(3, 0, 1, 2), reference, rtol=1e-5)
        times = [median_ms(lambda: batch_first_offsets(d, padded)), median_ms(add_at),
                 median_ms(lambda: col2im(cols, last, (k, k), (1, 1), (size, size)))]
        rows.append([name] + [f"{t:.2f}" for t in times] + [f"{times[0] / times[2]:.1f}x"])
    print(tabulate(rows, headers=["layer, batch 64, float32", "batch-first offsets ms",
                                  "np.add.at ms", "batch-last offsets ms", "speed-up"]))


if __name__ == "__main__":
    main()
