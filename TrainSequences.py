"""Train a sequence model from the command line: MNIST read row by row, a character model of
surnames, or an encoder-decoder that translates dates.

    .venv/bin/python TrainSequences.py rowmnist                # LSTM, a new run in trained/runs/
    .venv/bin/python TrainSequences.py rowmnist --cell gru --epochs 3 --checkpoint /tmp/gru.ckpt
    .venv/bin/python TrainSequences.py names --subset 5000 --epochs 2 --checkpoint /tmp/names.ckpt
    .venv/bin/python TrainSequences.py dates --no-attention    # the plain encoder-decoder
    .venv/bin/python TrainSequences.py names --evaluate          # the shipped character model

The first word names the task; every flag after it is TrainLeNet.py's, from the same
machinery (``_commandline``): progress, validation every epoch, a log and learning curves,
an atomic checkpoint that ``--resume --checkpoint PATH`` continues exactly, a safe
Ctrl-C, ``--evaluate``, ``--quiet``, one-line errors. ``TASK --help`` lists them. What
``trained/`` ships, ``make train-sequences`` makes again: ``rowmnist --seed 3``
(``rowmnist_lstm``), ``rowmnist --cell gru --seed 1``, ``names``, ``dates`` and ``dates
--no-attention`` (``dates_plain``), each with the same initial weights and batch order.
"""
import _requirements  # noqa: F401 - first, before numpy: one line if this Python lacks it
import sys
from pathlib import Path

import numpy as np

import _commandline
from _commandline import Setting, choice, integer
from Data import Dates
from Data.MNIST import RowMNISTData
from Data.Names import NamesData
from Layers import GRU, LSTM
from Models import CharModel, RowMNIST, Seq2Seq, plots
from TrainLeNet import RUNS, MNISTTask, mnist_settings

ROOT = Path(__file__).resolve().parent
SCRIPT = ROOT / "TrainSequences.py"
CELLS = {"lstm": LSTM.LSTM, "gru": GRU.GRU}
CELL = Setting(choice(*CELLS), "lstm", "the recurrent layer")


class RowMNISTTask(MNISTTask):
    """Row-MNIST: each image ``(28, 28)`` read as 28 steps of 28 pixels by an LSTM or GRU."""

    prog, words, script = "TrainSequences.py rowmnist", ("rowmnist",), SCRIPT
    description = "Row-MNIST: an LSTM (or GRU) reads each digit one pixel row per step"
    shipped, run_file = ROOT / "trained" / "rowmnist_lstm.ckpt", "rowmnist.ckpt"
    data_class, model, title = RowMNISTData, RowMNIST.RowMNIST, "Row-MNIST"
    settings = {
        **_commandline.common_settings(epochs=10),
        "cell": CELL,
        **mnist_settings(validation=10_000),        # the PyTorch twin's split
    }

    def build(self, s):
        return RowMNIST.build(s.cell, dtype=np.float32, learning_rate=s.lr)


class NamesTask(_commandline.Task):
    """A character model of census surnames: tokens ``(batch, time)``, a letter per step.
    The epochs' losses are in nats per name (a name's characters summed); the log gives
    them per character, as the shipped ``trained/names_lstm.log``."""

    prog, script, words = "TrainSequences.py names", SCRIPT, ("names",)
    description = "A character model of US census surnames that writes new names"
    shipped, runs, run_file = ROOT / "trained" / "names_lstm.ckpt", RUNS, "names.ckpt"
    unit, figure_names, model = "names", ("curves",), CharModel.CharModel
    settings = {
        **_commandline.common_settings(epochs=21),
        "cell": CELL,
        "subset": Setting(integer(1), None, "train on the first N training names only (quick "
                                            "runs; default: all)"),
        "validation": Setting(integer(0), None, "validate on the first N validation names "
                                                "only (0: none; default: all, 10 %% of the "
                                                "names)"),
    }

    def load_data(self, s):
        return NamesData(s.batch_size, subset=s.subset, dtype=np.float32)

    def source(self, data):
        return "names 0.3.0 (dist.all.last)"

    def describe(self, data, s, net):
        validation = self.validation_set(data, s)
        return (f"surnames from {self.source(data)}: {len(data)} training, "
                f"{0 if validation is None else len(validation[0])} validation, "
                f"{len(data.test_names)} test names; losses in nats per name (a name's "
                f"characters summed)\n{net.summary((10,))}")

    def build(self, s):
        return CharModel.build(learning_rate=s.lr, cell=CELLS[s.cell])

    def validation_set(self, data, s):
        if s.validation == 0:
            return None
        tokens, labels = data.get_validation_set()
        return tokens[:s.validation], labels[:s.validation]

    def epochs(self, net, data, s):
        def per_character(names, loss):         # nats per name -> per character (and END)
            return loss * len(names) / sum(len(name) + 1 for name in names)
        validated = data.validation_names[:s.validation] if s.validation != 0 else None
        return (["epoch", "train nats/char"] + ["val nats/char"] * (validated is not None),
                [[h["epoch"], per_character(data.train_names, h["train_loss"])] +
                 [per_character(validated, h.get("validation_loss"))] * (validated is not None)
                 for h in net.history])

    def results(self, net, data):
        test_x, test_y = data.get_test_set()
        nats, perplexity = net.test_loss(test_x, test_y)
        per_name = nats * int(test_y.any(axis=-1).sum()) / len(test_x)   # the epochs' unit
        return [["test nats / name", f"{per_name:.4f}"], ["test nats / character", f"{nats:.4f}"],
                ["perplexity", f"{perplexity:.2f}"],
                ["names (seed 0)", " ".join(net.sample(8, seed=0))]]

    def figures(self, net, data):
        return {"curves": lambda p: plots.curves(net.history, p, title="Surnames, a letter "
                                                                       "at a time")}


class DatesTask(_commandline.Task):
    """Dates written by people -> ISO: an encoder-decoder (``Models/Seq2Seq.py``) trained with
    teacher forcing; validation is the teacher-forced loss, the results the greedy
    exact-match on the test split."""

    prog, script, words = "TrainSequences.py dates", SCRIPT, ("dates",)
    description = "An encoder-decoder, with Luong attention, that writes dates as ISO 8601"
    shipped, runs, run_file = ROOT / "trained" / "dates_attention.ckpt", RUNS, "dates.ckpt"
    unit, figure_names, model = "dates", ("curves",), Seq2Seq.Seq2Seq
    settings = {
        **_commandline.common_settings(epochs=10),
        "attention": Setting(bool, True, "--no-attention: the plain encoder-decoder"),
        "bidirectional": Setting(bool, False, "read the source with a Bidirectional LSTM"),
        "subset": Setting(integer(1, Dates.SIZES[0]), None, "train on the first N training "
                                                            "dates only (default: all)"),
    }
    EXAMPLES = ("27 Sep 1994", "the 3rd of march, 2021", "Tue, 1 Jan 2030", "12/31/99")

    def load_data(self, s):
        return Dates.DatesData(s.batch_size, dtype=np.float32, subset=s.subset)

    def source(self, data):
        return "Data.Dates.split(0)"

    def describe(self, data, s, net):
        return (f"dates from {self.source(data)}: {len(data)} training, "
                f"{len(data.validation_pairs)} validation, {len(data.test_pairs)} test; losses "
                f"in nats per date (its 11 output tokens summed)")

    def build(self, s):
        net = Seq2Seq.build(attention=s.attention, bidirectional=s.bidirectional,
                            learning_rate=s.lr)
        np.random.seed(s.seed)      # the batch order of the PyTorch twin (bench/twin/)
        return net

    def validation_set(self, data, s):
        return data.get_validation_set()

    def results(self, net, data):
        rows = [[f"{text!r} ->", net.translate(text)] for text in self.EXAMPLES]
        return rows + [["test exact-match (greedy)", f"{net.exact_match(data.test_pairs):.2%}"]]

    def figures(self, net, data):
        title = "Dates to ISO" + (", with attention" if net.attention is not None else "")
        return {"curves": lambda p: plots.curves(net.history, p, title=title)}


TASKS = {"rowmnist": RowMNISTTask(), "names": NamesTask(), "dates": DatesTask()}


def main(argv=None):
    """``TrainSequences.py TASK [flags]``: the exit status of TASK's command line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in TASKS:
        return _commandline.main(TASKS[argv[0]], argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    print(f"TrainSequences.py: error: expected a task first ({', '.join(TASKS)}), got "
          f"{argv[0] if argv else 'nothing'!r}; TrainSequences.py TASK --help lists its flags",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in TASKS:
        _commandline.script(TASKS[sys.argv[1]], sys.argv[2:])
    sys.exit(main())
