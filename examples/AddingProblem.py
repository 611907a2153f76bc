"""The adding problem: an LSTM remembers across 50 steps, an Elman RNN does not.

    python examples/AddingProblem.py                  # length 50, about 2 minutes
    python examples/AddingProblem.py --length 100 --iterations 3000

Each sequence holds random values and two markers; the target is the sum of the
two marked values (Hochreiter & Schmidhuber 1997). Predicting the mean scores an
MSE of about 0.167. Both models read the whole sequence in the batched 3-D
layout and predict from the last hidden state through a linear layer; both train
with Adam and gradient clipping (``clip_norm``).
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))      # the repository
import _requirements  # noqa: E402,F401 - before numpy: one line if this Python lacks it
import numpy as np  # noqa: E402
from tabulate import tabulate  # noqa: E402
from tqdm import tqdm  # noqa: E402

from Data.Sequences import AddingData  # noqa: E402
from Layers import LSTM, RNN, FullyConnected, Initializers  # noqa: E402
from Optimization import Loss, Optimizers  # noqa: E402


class LastStepRegressor:
    """A recurrent layer over the sequence, then a linear read-out of the last hidden state."""

    def __init__(self, recurrent, hidden, learning_rate, clip_norm):
        self.recurrent = recurrent
        self.head = FullyConnected.FullyConnected(hidden, 1)
        self.loss = Loss.L2Loss()
        for layer in (self.recurrent, self.head):
            layer.initialize(Initializers.Xavier(), Initializers.Constant(0.0))
            layer.optimizer = Optimizers.Adam(learning_rate, clip_norm=clip_norm)

    def predict(self, x):
        h = self.recurrent.forward(x)                       # (batch, time, hidden)
        self._h_shape = h.shape
        return self.head.forward(h[:, -1])                  # (batch, 1)

    def step(self, x, y):
        loss = self.loss.forward(self.predict(x), y) / len(x)
        dh = np.zeros(self._h_shape)
        dh[:, -1] = self.head.backward(self.loss.backward(y) / len(x))
        self.recurrent.backward(dh)                         # BPTT through every step
        return loss

    def mse(self, x, y):
        return float(np.mean((self.predict(x) - y) ** 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=50, help="steps per sequence (>= 2)")
    parser.add_argument("--iterations", type=int, default=1500, help="training batches per model")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    parser.add_argument("--clip", type=float, default=1.0, help="gradient clipping norm")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("length", "iterations", "hidden", "batch_size"):
        if getattr(args, name) < (2 if name == "length" else 1):
            parser.error(f"--{name.replace('_', '-')} must be a positive integer "
                         f"(>= 2 for --length), got {getattr(args, name)}")
    if not (args.lr > 0 and args.clip > 0):
        parser.error("--lr and --clip must be positive")

    data = AddingData(args.batch_size, args.length, test_size=2000, seed=args.seed + 1)
    test_x, test_y = data.get_test_set()
    baseline = float(np.mean((test_y - 1.0) ** 2))
    rows = []
    for name, layer in (("Elman RNN", RNN.RNN), ("LSTM", LSTM.LSTM)):
        np.random.seed(args.seed)
        model = LastStepRegressor(layer(2, args.hidden), args.hidden, args.lr, args.clip)
        start = time.perf_counter()
        # disable=None: a bar on a terminal only, none in a log file
        bar = tqdm(range(args.iterations), desc=name, dynamic_ncols=True, disable=None)
        for i in bar:
            loss = model.step(*data.next())
            if i % 50 == 0:
                bar.set_postfix(mse=f"{loss:.4f}")
        rows.append([name, args.hidden, args.length, args.iterations, f"{model.mse(test_x, test_y):.4f}",
                     f"{baseline:.4f}", f"{time.perf_counter() - start:.0f} s"])
    print(tabulate(rows, headers=["model", "hidden", "length", "iterations", "test MSE",
                                  "mean baseline", "time"]))
    return rows


if __name__ == "__main__":
    main()
