"""The bench's recurrent rows alone, ours only: a version against another without PyTorch.

    python bench/lstm_rows.py [--threads N]        # from the repository root

Prints the median time of 40 training steps (after 3 warm-up steps) of the LSTM rows of
``bench.py`` (``LstmWithHead``: a batch of 32 x 50 steps, one 200-step sequence) and of
the sequence models (row-MNIST LSTM and GRU, the surname model, the date translator). With one BLAS thread (the
default) it is CPU time, the steadiest measure on a loaded machine; with more, wall time.
To compare two versions, run this file alternately in a checkout of each (bench/README.md).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

ROWS = {
    "LSTM batch 32 x 50": lambda: bench.LstmWithHead(32, 50).step,
    "LSTM 200-step sequence": lambda: bench.LstmWithHead(None, 200).step,
    "row-MNIST LSTM": lambda: bench.ours_sequence_step("lstm"),
    "row-MNIST GRU": lambda: bench.ours_sequence_step("gru"),
    "surname model": lambda: bench.ours_sequence_step("names"),
    "dates seq2seq": lambda: bench.ours_sequence_step("dates"),
}


def median_ms(step, clock, repeat=40, warmup=3):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start = clock()
        step()
        times.append(clock() - start)
    return float(np.median(times)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="NumPy's BLAS threads")
    args = parser.parse_args()
    threadpool_limits(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    print(", ".join(f"{name} {median_ms(make(), clock):.2f} ms" for name, make in ROWS.items()),
          flush=True)


if __name__ == "__main__":
    main()
