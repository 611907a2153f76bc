"""Train the shipped sequence models through the Python API (what made trained/*.ckpt).

    python examples/train_sequences.py rowmnist --cell lstm --epochs 10
    python examples/train_sequences.py rowmnist --cell gru --epochs 10
    python examples/train_sequences.py names --epochs 21

Each epoch: one ``net.train(epochs=1, batch_size=64, validation=...)``, a table row
(also written to ``trained/<name>.log``), the checkpoint saved (atomically) and the
learning curves redrawn. A plain script for the record, not the command line.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import _requirements  # noqa: E402,F401 - before numpy: one line if this Python lacks it
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402
import numpy as np  # noqa: E402
from tabulate import tabulate  # noqa: E402

from Data.MNIST import RowMNISTData  # noqa: E402
from Data.Names import NamesData  # noqa: E402
from Layers import GRU  # noqa: E402
from Models import CharModel, RowMNIST, plots  # noqa: E402


def rowmnist(args, out):
    net = RowMNIST.build(args.cell)
    net.data_layer = RowMNISTData(64, validation=10_000, dtype=np.float32)
    validation, test = net.data_layer.get_validation_set(), net.data_layer.get_test_set()
    headers = ["epoch", "train loss", "val acc", "test acc", "epoch s"]
    rows = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        net.train(epochs=1, batch_size=64, validation=validation, progress=False)
        seconds = time.perf_counter() - start
        h = net.history[-1]
        rows.append([h["epoch"], h["train_loss"], h["validation_accuracy"],
                     net.evaluate(*test, batch_size=1000)[1], seconds])
        yield net, headers, rows


def per_character(history, data):
    """``history`` with its losses per character instead of per name (for the curves)."""
    def chars(words):
        return sum(len(w) + 1 for w in words) / len(words)
    return [dict(h, train_loss=h["train_loss"] / chars(data.train_names),
                 validation_loss=h["validation_loss"] / chars(data.validation_names))
            for h in history]


def draw(net, path, title):
    """The learning curves; the character model's in nats per character."""
    if isinstance(net, CharModel.CharModel):
        fig = plots.curves(per_character(net.history, net.data_layer), title=title)
        # A linear axis: the loss spans 2.0-2.4 nats, too little for the log axis of curves().
        fig.axes[0].set(title="Loss per character", ylabel="nats per character", yscale="linear")
        fig.axes[0].yaxis.set_major_formatter(ScalarFormatter())
        fig.axes[0].yaxis.set_minor_formatter(NullFormatter())
        fig.axes[1].set_title("Validation accuracy (next character)")
        fig.savefig(path, dpi=110, bbox_inches="tight")
    else:
        fig = plots.curves(net.history, path=path, title=title)
    plt.close(fig)


def names(args, out):
    net = CharModel.build(cell=GRU.GRU) if args.cell == "gru" else CharModel.build()
    net.data_layer = NamesData(64, dtype=np.float32)
    data = net.data_layer
    characters = sum(len(w) + 1 for w in data.train_names)
    validation = data.get_validation_set()
    headers = ["epoch", "train nats/char", "val nats/char", "test nats/char", "epoch s"]
    rows = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        net.train(epochs=1, batch_size=64, validation=validation, progress=False)
        seconds = time.perf_counter() - start
        h = net.history[-1]
        rows.append([h["epoch"], h["train_loss"] * len(data) / characters,
                     net.test_loss(*validation)[0], net.test_loss()[0], seconds])
        yield net, headers, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["rowmnist", "names"])
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=None, help="checkpoint path (default trained/...)")
    parser.add_argument("--seed", type=int, default=0, help="np.random.seed: init and shuffling")
    args = parser.parse_args()
    np.random.seed(args.seed)
    out = Path(args.out or ROOT / "trained" / f"{args.model}_{args.cell}.ckpt")
    log = out.with_suffix(".log")
    run = rowmnist if args.model == "rowmnist" else names
    for net, headers, rows in run(args, out):
        net.save(out)
        title = (f"Row-MNIST {args.cell.upper()}" if args.model == "rowmnist" else
                 f"Surname model ({args.cell.upper()})")
        draw(net, out.with_name(out.stem + "_curves.png"), title)
        table = tabulate(rows, headers=headers, floatfmt=".4f")
        log.write_text(table + "\n")
        print(table.splitlines()[-1], flush=True)
    if args.model == "names":
        samples = net.sample(20, seed=0)
        log.write_text(table + "\n\ntest (nats/char, perplexity): " + str(net.test_loss()) +
                       "\n20 names (T=1, seed 0): " + " ".join(samples) + "\n")
        print(samples)


if __name__ == "__main__":
    main()
