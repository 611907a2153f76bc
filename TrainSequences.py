"""Train a sequence model from the command line: MNIST read row by row, or a character model.

    .venv/bin/python TrainSequences.py rowmnist                # LSTM, a new run in trained/runs/
    .venv/bin/python TrainSequences.py rowmnist --cell gru --epochs 3 --checkpoint /tmp/gru.ckpt
    .venv/bin/python TrainSequences.py names --subset 5000 --epochs 2 --checkpoint /tmp/names.ckpt
    .venv/bin/python TrainSequences.py names --evaluate          # the shipped character model

The first word names the task; every flag after it is TrainLeNet.py's, from the same
machinery (``_commandline``): progress, validation every epoch, learning curves, an
atomic checkpoint that ``--resume --checkpoint PATH`` continues exactly, a safe
Ctrl-C, ``--evaluate``, ``--quiet``, one-line errors. ``TASK --help`` lists them.
"""
import _requirements  # noqa: F401 - first, before numpy: one line if this Python lacks it
import sys
from pathlib import Path

import numpy as np

import _commandline
from _commandline import Setting, choice, integer
from _commandline.mnist import MNISTTask, mnist_settings
from Data.MNIST import RowMNISTData
from Data.Names import NamesData
from Layers import GRU, LSTM
from Models import CharModel, RowMNIST, plots

ROOT = Path(__file__).resolve().parent
RUNS = ROOT / "trained" / "runs"
CELLS = {"lstm": LSTM.LSTM, "gru": GRU.GRU}


class RowMNISTTask(MNISTTask):
    """Row-MNIST: each image ``(28, 28)`` read as 28 steps of 28 pixels by an LSTM or GRU."""

    prog, words, script = "TrainSequences.py rowmnist", ("rowmnist",), ROOT / "TrainSequences.py"
    description = "Row-MNIST: an LSTM (or GRU) reads each digit one pixel row per step"
    shipped = ROOT / "trained" / "rowmnist_lstm.ckpt"
    runs, runs_shown, run_file = RUNS, "trained/runs", "rowmnist.ckpt"
    data_class, dtype, title = RowMNISTData, np.float32, "Row-MNIST"
    settings = {
        **_commandline.common_settings(epochs=10, batch_size=64, lr=1e-3, lr_decay=1.0),
        "cell": Setting(choice(*CELLS), "lstm", "the recurrent layer"),
        **mnist_settings(validation=10_000),        # the PyTorch twin's split
    }

    def build(self, s):
        return (RowMNIST.build(s["cell"], dtype=self.dtype, learning_rate=s["lr"]),
                *self.controls(s))

    def summary(self, net):
        return net.summary((28, 28))

    def refuses(self, net):
        if not isinstance(net, RowMNIST.RowMNIST):
            return f"it holds a {type(net).__name__}, not a RowMNIST"
        return None


class NamesTask(_commandline.Task):
    """A character model of census surnames: tokens ``(batch, time)``, a letter per step."""

    prog, script, words = "TrainSequences.py names", ROOT / "TrainSequences.py", ("names",)
    description = "A character model of US census surnames that writes new names"
    shipped = ROOT / "trained" / "names_lstm.ckpt"
    runs, runs_shown, run_file = RUNS, "trained/runs", "names.ckpt"
    unit = "names"
    figure_names = ("curves",)
    settings = {
        **_commandline.common_settings(epochs=21, batch_size=64, lr=1e-3, lr_decay=1.0),
        "cell": Setting(choice(*CELLS), "lstm", "the recurrent layer"),
        "subset": Setting(integer(1), None, "train on the first N training names only (quick "
                                            "runs; default: all)"),
        "validation": Setting(integer(0), None, "validate on the first N validation names "
                                                "only (0: none; default: all, 10 %% of the "
                                                "names)"),
    }

    def load_data(self, s):
        return NamesData(s["batch_size"], subset=s["subset"], dtype=np.float32)

    def source(self, data):
        return "names 0.3.0 (dist.all.last)"

    def describe(self, data, s):
        validation = self.validation_set(data, s)
        return (f"surnames from {self.source(data)}: {len(data)} training, "
                f"{0 if validation is None else len(validation[0])} validation, "
                f"{len(data.test_names)} test names; losses in nats per name (a name's "
                f"characters summed)")

    def build(self, s):
        return (CharModel.build(learning_rate=s["lr"], cell=CELLS[s["cell"]]),
                *self.controls(s))

    def summary(self, net):
        return net.summary((10,))

    def refuses(self, net):
        if not isinstance(net, CharModel.CharModel):
            return f"it holds a {type(net).__name__}, not a CharModel"
        return None

    def validation_set(self, data, s):
        if s["validation"] == 0:
            return None
        tokens, labels = data.get_validation_set()
        return tokens[:s["validation"]], labels[:s["validation"]]

    def results(self, net, test_x, test_y):
        nats, perplexity = net.test_loss(test_x, test_y)
        per_name = nats * int(test_y.any(axis=-1).sum()) / len(test_x)   # the epochs' unit
        return [["test nats / name", f"{per_name:.4f}"], ["test nats / character", f"{nats:.4f}"],
                ["perplexity", f"{perplexity:.2f}"],
                ["names (seed 0)", " ".join(net.sample(8, seed=0))]]

    def figures(self, net, test_x, test_y):
        return {"curves": lambda p: plots.curves(net.history, p, title="Surnames, a letter "
                                                                       "at a time")}


TASKS = {"rowmnist": RowMNISTTask(), "names": NamesTask()}


def main(argv=None):
    """``TrainSequences.py TASK [flags]``: the exit status of TASK's command line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in TASKS:
        return _commandline.main(TASKS[argv[0]], argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    print(f"TrainSequences.py: error: expected a task first ({' or '.join(TASKS)}), got "
          f"{argv[0] if argv else 'nothing'!r}; TrainSequences.py TASK --help lists its flags",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in TASKS:
        _commandline.script(TASKS[sys.argv[1]], sys.argv[2:])
    sys.exit(main())
