"""Argument checks for the whole framework, with one message template.

Layers, optimizers, regularizers, schedules, data layers, the network and the
command line check what they are given with these functions. A failed check
raises ``ValueError`` (``TypeError`` when the type is wrong) with the message::

    "{owner}: expected {what}, got {value!r}"

where ``owner`` names what was called (``"FullyConnected"``, ``"Adam"``,
``"NeuralNetwork.train"``); ``owner=None`` leaves the prefix out (argparse adds
its own). Sizes may be Python or NumPy integers, as the classic framework took.
"""
import functools
import inspect
import math
import numbers

import numpy as np


class Described(str):
    """What came, in words: ``fail`` shows it as it is instead of its repr."""


def fail(owner, what, value, error=ValueError):
    """Raise ``error`` with the template message; ``value`` is shown with repr."""
    prefix = "" if owner is None else f"{owner}: "
    shown = value if isinstance(value, Described) else repr(value)
    raise error(f"{prefix}expected {what}, got {shown}")


def size(owner, name, value, minimum=1, maximum=None):
    """An integer ``name`` in ``[minimum, maximum]``; a whole float (64.0) counts as one."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)) \
            and float(value).is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(owner, f"an integer {name}", value, TypeError)
    if value < minimum or (maximum is not None and value > maximum):
        fail(owner, f"{name} >= {minimum}" if maximum is None else
             f"{name} in [{minimum}, {maximum}]", int(value))
    return int(value)


def shape(owner, name, value, lengths, minimum=1):
    """An int, or a tuple/list of ``lengths`` ints each >= ``minimum``, as a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (tuple, list)) or len(value) not in lengths:
        fail(owner, f"{name} as a tuple of {' or '.join(map(str, lengths))} integers", value)
    return tuple(size(owner, name, v, minimum) for v in value)


def number(owner, name, value, low=-math.inf, high=math.inf, low_open=False, high_open=False):
    """A finite real ``name`` between ``low`` and ``high`` (open or closed ends), as a float.

    Anything else, wrong types included, is a ``ValueError``: a learning rate of
    ``"0.1"`` is a wrong value as much as one of -1.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value) and (value > low if low_open else value >= low) \
        and (value < high if high_open else value <= high)
    if not ok:
        if low == 0 and low_open and high == math.inf:
            what = f"{name} to be a positive finite number"
        elif low == -math.inf and high == math.inf:
            what = f"{name} to be a finite number"
        elif high == math.inf:
            what = f"{name} to be a finite number {'>' if low_open else '>='} {low}"
        else:
            what = (f"{name} to be a number in {'(' if low_open else '['}{low}, "
                    f"{high}{')' if high_open else ']'}")
        fail(owner, what, value)
    return float(value)


def float_dtype(owner, value):
    """A floating NumPy dtype such as ``np.float32``, returned as its scalar type."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        fail(owner, "a floating dtype such as np.float32 or np.float64", value, TypeError)
    return dtype.type


def finite(owner, batch, what="input batch"):
    """Refuse an array with NaN or inf (layers would pass it on silently, IEEE arithmetic)."""
    x = np.asarray(batch)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        fail(owner, f"a finite {what}", Described(f"{int(np.isnan(x).sum())} NaN and "
                                                   f"{int(np.isinf(x).sum())} infinite entries "
                                                   f"in shape {x.shape}"))


def sample_shape(owner, batch, shape):
    """Refuse a batch whose samples are not of ``shape`` (no check when ``shape`` is None)."""
    if shape is not None and tuple(np.shape(batch)[1:]) != tuple(shape):
        fail(owner, f"input of shape (batch, {', '.join(map(str, shape))})", np.shape(batch))


def plural(count, word):
    """``plural(1, "epoch")`` is "1 epoch", ``plural(3, "epoch")`` "3 epochs"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


class CheckpointError(ValueError):
    """A file is not a valid checkpoint (or not the model asked for); the message names the
    file and the problem. Raised by persistence, and by a model's ``load`` (``LeNet.load``)."""


class StateError(ValueError):
    """Raised by a ``load_state_dict``: ``key`` names the state entry that is wrong.

    A ``ValueError``, so callers need not know it; persistence turns it into an error
    naming the place in the file, e.g. ``layers[1].state.running_var``.
    """

    def __init__(self, key, message):
        super().__init__(f"{key}: {message}" if key else message)
        self.key, self.reason = key, message


def constructor_args(cls):
    """The names of ``cls.__init__``'s arguments (without ``self``, ``*args``, ``**kwargs``):
    what a config holds, read back from the same-named attributes."""
    return list(_constructor_args(cls))


def own_config(obj, base):
    """The constructor arguments of ``type(obj)`` that ``base``'s lacks (a subclass's own),
    read back from same-named attributes; ``TypeError`` naming one that is not kept so."""
    config = {}
    for arg in (a for a in constructor_args(type(obj)) if a not in constructor_args(base)):
        if not hasattr(obj, arg):
            raise TypeError(f"{type(obj).__name__}.get_config: the constructor argument {arg!r} "
                            f"is not kept as the attribute {arg!r}: keep it as self.{arg}, or "
                            f"define get_config() and from_config()")
        config[arg] = getattr(obj, arg)
    return config


@functools.lru_cache(maxsize=None)      # read at every training step (the guard's state_dict)
def _constructor_args(cls):
    if cls.__init__ is object.__init__:
        return ()
    return tuple(name for name, p in inspect.signature(cls.__init__).parameters.items()
                 if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
