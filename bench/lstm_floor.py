"""How fast the LSTM's textbook steps can be: the cell's own NumPy calls, with no shell.

    /tmp/torchenv/bin/python bench/lstm_floor.py        # from the repository root

Times ``LSTM.step`` and ``LSTM.step_backward`` of ``LSTM(32, 128)`` in float32, alone and
hot (the same arrays every call, best of 7 runs of many calls, one BLAS thread), and
multiplies by the steps of ``bench.py``'s two LSTM rows: one 200-step sequence and a
batch of 32 x 50 steps. That is a lower bound on our training step: the shell (the
input's product, the copies into the buffers, the weight gradients), the head and Adam
come on top. For the batch it also times two of those that no design avoids, at 2 BLAS
threads: the backward factors of all steps and the weight gradients' products over all
steps. With PyTorch installed it times PyTorch's whole training step of the same row
(``bench.torch_lstm_step``), back to back, at 1 and 2 threads.
"""
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from bench import LSTM, torch  # noqa: E402


def best_us(call, repeat):
    """The fastest of 7 runs of ``repeat`` calls, in microseconds a call."""
    for _ in range(repeat // 10):
        call()
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(repeat):
            call()
        runs.append((time.perf_counter() - start) / repeat)
    return min(runs) * 1e6


def cell_ms(batch, steps):
    """``steps`` times one forward and one backward step of the cell alone, in ms."""
    lstm = LSTM.LSTM(32, 128, dtype=np.float32)
    rng = np.random.default_rng(0)
    a_x = rng.standard_normal((4, batch, 128), dtype=np.float32)
    state = tuple(rng.standard_normal((batch, 128), dtype=np.float32) for _ in range(2))
    _, cache = lstm.step(a_x, state)
    factors = [f[0] for f in lstm.backward_factors([c[np.newaxis] for c in cache])]
    da = np.empty_like(a_x)
    dstate = tuple(np.ones((batch, 128), np.float32) for _ in range(2))

    def backward():
        # step_backward adds into dL/dc in place: a fresh copy each call, timed apart below
        lstm.step_backward((dstate[0], dstate[1].copy()), factors, da, da)

    repeat = 20000 if batch == 1 else 2000
    forward_us = best_us(lambda: lstm.step(a_x, state), repeat)
    backward_us = best_us(backward, repeat) - best_us(lambda: dstate[1].copy(), repeat)
    return (forward_us + backward_us) * steps / 1e3


def unavoidable_ms(batch, steps):
    """The backward factors and the weight gradients of ``LSTM(32, 128)`` over ``steps``
    steps of ``batch`` sequences, as the shell runs them after the backward loop, in ms."""
    lstm = LSTM.LSTM(32, 128, dtype=np.float32)
    rng = np.random.default_rng(0)
    lstm.forward(rng.standard_normal((batch, steps, 32), dtype=np.float32))
    xs, hs, caches = lstm._cache[0]
    rows, da = steps * batch, rng.standard_normal((4, steps * batch, 128), dtype=np.float32)
    grad = np.empty_like(lstm.weights)
    g_x, g_h, _ = lstm._gate_blocks(grad)
    factors = best_us(lambda: lstm.backward_factors(caches), 50)
    products = best_us(lambda: (np.matmul(xs.reshape(rows, 32).T, da, out=g_x),
                                np.matmul(hs[:-1].reshape(rows, 128).T, da, out=g_h)), 50)
    return factors / 1e3, products / 1e3


def torch_ms(batch, steps, threads):
    torch.set_num_threads(threads)
    step = bench.torch_lstm_step(batch, steps)
    return bench.median_ms(step, 60, warmup=10)


def main():
    rows = []
    for label, batch, steps in (("one 200-step sequence", 1, 200), ("batch 32 x 50 steps", 32, 50)):
        with threadpool_limits(1):
            ours = cell_ms(batch, steps)
        row = f"{label}: the cell's calls alone {ours:.2f} ms"
        if batch > 1:
            with threadpool_limits(2):
                factors, products = unavoidable_ms(batch, steps)
            row += f"; backward factors {factors:.2f} ms, weight gradients {products:.2f} ms"
        if torch is not None:
            theirs = {n: torch_ms(None if batch == 1 else batch, steps, n) for n in (1, 2)}
            row += "; PyTorch's whole step " + ", ".join(
                f"{t:.2f} ms at {n} thread{'s' * (n > 1)} ({ours / t:.2f}x)"
                for n, t in theirs.items())
        rows.append(row)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
