"""Small datasets as data layers: random data, Iris and scikit-learn's 8x8 digits.

Both real datasets ship with scikit-learn, so nothing is downloaded.
"""
import numpy as np

import _checks
from .base import ArrayData, Batched, one_hot


class RandomData(Batched):
    """Uniform random inputs with random one-hot labels, fresh on every ``next()``.

    Args:
        input_size: features per sample (an int), or a tuple for image-shaped input.
        batch_size: samples per batch.
        categories: number of classes.

    Its state is empty: every batch comes from NumPy's global generator.
    """

    def __init__(self, input_size, batch_size, categories):
        self.input_size = _checks.shape("RandomData", "input_size", input_size, range(1, 8))
        self.batch_size = batch_size
        self.categories = _checks.size("RandomData", "categories", categories)

    def next(self):
        x = np.random.random((self.batch_size, *self.input_size))
        labels = one_hot(np.random.randint(0, self.categories, self.batch_size), self.categories)
        return x, labels

    def get_test_set(self):
        return self.next()

    def state_dict(self):
        """Empty: a checkpoint keeps NumPy's random state with it, which is the whole state."""
        return {}

    def load_state_dict(self, state):
        if state:
            raise ValueError(f"RandomData.load_state_dict: expected an empty state, got {state}")


def _split(x, labels, random):
    """Shuffle (if ``random``) with the global generator and split 2/3 train, 1/3 test."""
    order = np.random.permutation(len(x)) if random else np.arange(len(x))
    x, labels = x[order], labels[order]
    n_train = int(round(len(x) * 2 / 3))
    return (x[:n_train], labels[:n_train]), (x[n_train:], labels[n_train:])


class IrisData(ArrayData):
    """Fisher's Iris: 150 samples, 4 features scaled by their maximum, 3 classes.

    Args:
        batch_size: samples per training batch.
        random: shuffle before the 2/3 train / 1/3 test split (the classic
            default); with False the split is the file order.
    """

    def __init__(self, batch_size, random=True):
        super().__init__(batch_size)
        from sklearn.datasets import load_iris    # here: importing scikit-learn takes 0.3 s
        data = load_iris()
        x = data.data / np.abs(data.data).max(axis=0)
        self._train, self._test = _split(x, one_hot(data.target, 3), random)


class DigitData(ArrayData):
    """scikit-learn's 1797 8x8 digits as images ``(batch, 1, 8, 8)`` in [0, 1], 10 classes.

    Args:
        batch_size: samples per training batch.
        random: shuffle with the global generator before the 2/3 train / 1/3 test
            split (default); with False the split is the file order.
    """

    def __init__(self, batch_size, random=True):
        super().__init__(batch_size)
        from sklearn.datasets import load_digits
        data = load_digits()
        x = (data.data / 16.0).reshape(-1, 1, 8, 8)
        self._train, self._test = _split(x, one_hot(data.target, 10), random)
