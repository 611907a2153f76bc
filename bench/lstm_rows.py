"""The bench's two LSTM rows alone, as single-thread CPU time.

    OPENBLAS_NUM_THREADS=1 python bench/lstm_rows.py        # from the repository root

Prints the median ``time.process_time`` of 60 training steps (after 5 warm-up steps) of
``bench.LstmWithHead`` for a batch of 32 x 50 steps and one 200-step sequence. CPU time of
one thread is the steadiest measure on a loaded machine; alternate runs of two versions
(bench/README.md) to compare them.
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def median_cpu_ms(step, repeat=60, warmup=5):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return float(np.median(times)) * 1e3


def main():
    rows = [f"{median_cpu_ms(bench.LstmWithHead(batch, steps).step):.2f}"
            for batch, steps in ((32, 50), (None, 200))]
    print(f"batch 32 x 50 {rows[0]} ms, one 200-step sequence {rows[1]} ms", flush=True)


if __name__ == "__main__":
    main()
