"""Sequence tasks for the recurrent layers, generated on the fly: nothing is downloaded.

Layouts: batches of sequences ``(batch, time, features)``; one classic sequence
``(time, features)``. Randomness comes from NumPy's global generator (which
seeds a Generator for the call, so ``np.random.seed`` reproduces it) unless a
``numpy.random.Generator`` is passed as ``rng``.
"""
import numpy as np

import _checks
from .base import Batched


def _generator(rng):
    return rng if rng is not None else np.random.default_rng(np.random.randint(2**31))


def adding_problem(n, length, rng=None):
    """The adding problem (Hochreiter & Schmidhuber 1997, experiment 4).

    Each step carries two features: a value drawn uniformly from [0, 1) and a
    marker. Exactly two steps are marked with 1, one in each half of the
    sequence; the target is the sum of the two marked values. Predicting the
    mean (1.0) scores an MSE of 2/12 ~ 0.167; a model must remember the marked
    values across up to ``length`` steps to beat it.

    Returns:
        ``x`` of shape ``(n, length, 2)`` and ``y`` of shape ``(n, 1)``.
    """
    rng = _generator(rng)
    length = _checks.size("adding_problem", "length", length, minimum=2)
    half = length // 2
    values = rng.uniform(0.0, 1.0, (n, length))
    first, second = rng.integers(0, half, n), rng.integers(half, length, n)
    markers = np.zeros((n, length))
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    y = (values[np.arange(n), first] + values[np.arange(n), second])[:, np.newaxis]
    return np.stack([values, markers], axis=-1), y


def noisy_sine(length, period=25.0, noise=0.05, rng=None):
    """One noisy sine wave and its next-step targets.

    ``s_t = sin(2 pi t / period + phase) + noise * N(0, 1)``; the input at step t is
    ``s_t`` and the target is ``s_{t+1}``.

    Returns:
        ``x`` and ``y``, each ``(length, 1)``: the classic one-sequence layout.
    """
    rng = _generator(rng)
    t = np.arange(length + 1)
    phase = rng.uniform(0, 2 * np.pi)
    s = np.sin(2 * np.pi * t / period + phase) + noise * rng.standard_normal(length + 1)
    return s[:-1, np.newaxis], s[1:, np.newaxis]


class AddingData(Batched):
    """Data layer of fresh adding-problem batches; a fixed test set from ``seed``."""

    def __init__(self, batch_size, length, test_size=1000, seed=0):
        self.batch_size = batch_size
        self.length = _checks.size("AddingData", "length", length, minimum=2)
        self._test = adding_problem(test_size, length, np.random.default_rng(seed))

    def next(self):
        return adding_problem(self.batch_size, self.length)

    def get_test_set(self):
        return self._test

    # The state protocol: every batch is fresh from NumPy's global generator.
    def get_config(self):
        return {"batch_size": self.batch_size, "length": self.length}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        if state:
            raise ValueError(f"AddingData.load_state_dict: expected an empty state, got {state}")


class SequenceWindows:
    """Consecutive windows of one long sequence, for truncated BPTT.

    Feed it to a recurrent layer with ``memorize = True``: each ``next()`` returns
    the following ``window`` steps ``(window, features)`` and their targets, so
    the layer carries its hidden state from one window into the next, while
    backpropagation runs through ``window`` steps only. Memory therefore grows
    with the window, not with the length of the sequence. After the last window
    the sequence starts over and ``wrapped`` is True for that batch: reset the
    layer's state then (``layer.state = None``).

    Args:
        inputs, targets: ``(time, features)`` arrays of the same length.
        window: steps per training batch (k of truncated BPTT).
    """

    def __init__(self, inputs, targets, window):
        self.inputs, self.targets = np.asarray(inputs), np.asarray(targets)
        if self.inputs.ndim != 2 or len(self.inputs) != len(self.targets):
            raise ValueError(f"SequenceWindows: expected inputs (time, features) and targets of "
                             f"the same length, got {self.inputs.shape} and {self.targets.shape}")
        self.window = _checks.size("SequenceWindows", "window", window)
        if self.window > len(self.inputs):
            raise ValueError(f"SequenceWindows: expected window <= {len(self.inputs)} steps, "
                             f"got {self.window}")
        self._start = 0
        self.wrapped = False

    def __len__(self):
        """Number of windows in one pass over the sequence."""
        return len(self.inputs) // self.window

    # The state protocol: the sequence is data; where the next window starts is state.
    def get_config(self):
        return {"window": self.window}

    def state_dict(self):
        return {"start": self._start, "wrapped": self.wrapped}

    def load_state_dict(self, state):
        self._start = _checks.size("SequenceWindows.load_state_dict", "start", state["start"],
                                   0, len(self.inputs))
        self.wrapped = bool(state["wrapped"])

    def next(self):
        if self._start + self.window > len(self.inputs):
            self._start = 0
        self.wrapped = self._start == 0
        window = slice(self._start, self._start + self.window)
        self._start += self.window
        return self.inputs[window], self.targets[window]
