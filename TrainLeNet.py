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
from _commandline import Setting, number
from _commandline.mnist import MNISTTask, augment_setting, mnist_settings
from Data.MNIST import MNISTData
from Models import LeNet, plots

ROOT = Path(__file__).resolve().parent
DESCRIPTION = __doc__.splitlines()[0]


class LeNetTask(MNISTTask):
    """LeNet on MNIST (or Fashion-MNIST): images ``(batch, 1, 28, 28)``, one-hot labels."""

    prog, script = "TrainLeNet.py", ROOT / "TrainLeNet.py"
    description = DESCRIPTION
    shipped = ROOT / "trained" / "lenet_mnist.ckpt"
    runs, runs_shown, run_file = ROOT / "trained" / "runs", "trained/runs", "lenet.ckpt"
    data_class, dtype, title = MNISTData, np.float32, "LeNet on MNIST"
    figure_names = MNISTTask.figure_names + ("filters",)
    settings = {
        **_commandline.common_settings(epochs=12, batch_size=64, lr=1e-3, lr_decay=0.8),
        "l2": Setting(number(0, 1, low_open=False), 4e-4,
                      "L2 regularization weight (0 switches it off)"),
        "augment": augment_setting(2),
        **mnist_settings(validation=5000),
    }

    def build(self, s):
        return (LeNet.LeNet(optimizer=LeNet.default_optimizer(s["lr"], s["l2"])),
                *self.controls(s))

    def summary(self, net):
        return net.summary((1, 28, 28))

    def refuses(self, net):
        if not isinstance(net, LeNet.LeNet):
            return f"it holds a {type(net).__name__}, not a LeNet"
        return None

    def figures(self, net, test_x, test_y):
        return dict(super().figures(net, test_x, test_y),
                    filters=lambda p: plots.filters(net.layers[0].weights, p))


TASK = LeNetTask()
SETTINGS = TASK.settings            # name: Setting(parse, default, help)


def main(argv=None):
    return _commandline.main(TASK, argv)


if __name__ == "__main__":
    _commandline.script(TASK)
