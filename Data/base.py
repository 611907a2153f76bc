"""Shared machinery of the in-memory data layers."""
import numpy as np

import _checks


def one_hot(labels, categories):
    """Integer labels ``(n,)`` -> one-hot ``(n, categories)`` float64."""
    out = np.zeros((len(labels), categories))
    out[np.arange(len(labels)), labels] = 1.0
    return out


class Batched:
    """A ``batch_size`` that is checked whenever it is set, also after construction."""

    @property
    def batch_size(self):
        """Samples per training batch, an integer >= 1 (checked also when set later)."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value):
        self._batch_size = _checks.size(type(self).__name__, "batch_size", value)


class ArrayData(Batched):
    """Serves shuffled mini-batches of a training set kept in memory.

    Every epoch visits each training sample once, in a fresh random order drawn
    from NumPy's global generator; the last batch of an epoch may be smaller.
    ``len(data)`` is the number of training samples and ``batch_size`` may be
    changed between calls (NeuralNetwork.train(epochs=, batch_size=) does).

    Subclasses set ``_train = (x, labels)`` and ``_test = (x, labels)``.
    """

    def __init__(self, batch_size):
        self.batch_size = batch_size
        self._order = np.empty(0, dtype=int)
        self._position = 0

    def __len__(self):
        return len(self._train[0])

    def __repr__(self):
        return (f"{type(self).__name__}(batch_size={self.batch_size}, train={len(self)}, "
                f"test={len(self._test[0])})")

    def next(self):
        """The next ``(input, label)`` training batch."""
        if self._position >= len(self._order):
            self._order = np.random.permutation(len(self))
            self._position = 0
        idx = self._order[self._position:self._position + self.batch_size]
        self._position += len(idx)
        x, y = self._train
        return self._batch(x[idx], y[idx])

    # -- the state protocol (a data layer is never saved with a network; a training
    # run's checkpoint keeps its state_dict so that a resumed run draws the same batches)

    def get_config(self):
        """The constructor's arguments that the layer keeps under their own names."""
        return {"batch_size": self.batch_size}

    def state_dict(self):
        """Where the data layer stands: ``{"order": this epoch's order, "position": next
        index}``. With NumPy's global random state, this is all a resumed run needs to draw
        the same batches as an uninterrupted one."""
        return {"order": self._order.copy(), "position": self._position}

    def load_state_dict(self, state):
        """Continue from a ``state_dict()``; the order must permute the training set."""
        owner = f"{type(self).__name__}.load_state_dict"
        order = np.asarray(state["order"])
        if order.ndim != 1 or not np.array_equal(np.sort(order), np.arange(len(self))) and \
                len(order):
            raise ValueError(f"{owner}: expected an order that permutes the {len(self)} training "
                             f"samples, got {order.shape[0] if order.ndim else 0} entries")
        position = _checks.size(owner, "position", state["position"], 0, len(order))
        self._order, self._position = order.astype(int), position

    def _batch(self, x, labels):
        """Turn stored samples into a ``(input, label)`` batch; subclasses may convert."""
        return x, labels

    def get_test_set(self):
        """``(input, label)`` of the whole test split."""
        return self._test
