"""What a layer written the course-sheet way has learned, read from the outside.

Such a layer (a ``BaseLayer`` with ``weights``, a ``gradient_weights`` property and an
``optimizer`` property, none of the framework's hooks) keeps what it learned in public
attributes. One rule, shared by the divergence guard (``Optimization/_guard.py``: it
checks and puts back these) and persistence (``checkpoint/document.py``: it saves them):

* its public float arrays (``public_arrays``), gradients aside (the next backward makes
  them);
* its learned Python floats: a float attribute ``X`` with a gradient ``gradient_X``
  (``learned_scalars``, a PReLU's ``alpha``);
* the state of its ``optimizer`` property (``own_optimizer``).

Imports nothing of the framework: persistence may use it.
"""
import numbers

import numpy as np


def public_names(obj):
    """``obj``'s public attributes and its public properties with a setter."""
    names = [n for n in vars(obj) if not n.startswith("_")]
    return names + [n for n in dir(type(obj)) if not n.startswith("_") and n not in names and
                    isinstance(getattr(type(obj), n, None), property) and
                    getattr(type(obj), n).fset is not None]


def value(obj, name):
    """``getattr(obj, name)``, or None for a property that cannot answer (yet)."""
    try:
        return getattr(obj, name)
    except Exception:               # a property that cannot answer (yet) holds nothing
        return None


def is_float_array(x):
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def is_float(x):
    """A Python or NumPy real number that is not an int or a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral)


def public_arrays(obj):
    """The names among ``public_names(obj)`` that hold float arrays, gradients aside."""
    return sorted(n for n in public_names(obj)
                  if not n.startswith("gradient_") and is_float_array(value(obj, n)))


def learned_scalars(obj):
    """The public float attributes ``X`` that have a number as ``gradient_X``."""
    return sorted(n for n in public_names(obj) if not n.startswith("gradient_") and
                  is_float(value(obj, n)) and isinstance(value(obj, "gradient_" + n), numbers.Real))


def public_state(layer):
    """``{name: value}`` of ``public_arrays`` and ``learned_scalars``: what a layer without
    a state of its own has learned (and, for the guard, the caches of its last batch)."""
    return {n: value(layer, n) for n in public_arrays(layer) + learned_scalars(layer)}


def own_optimizer(layer):
    """The ``optimizer`` property of a trainable layer without ``parameter_optimizers()``
    (one optimizer, the course-sheet way), else None."""
    if not getattr(layer, "trainable", False) or \
            callable(getattr(layer, "parameter_optimizers", None)):
        return None
    return value(layer, "optimizer")


def has_own_optimizer(layer):
    """A trainable layer without ``parameter_optimizers()`` with an ``optimizer`` attribute."""
    return bool(getattr(layer, "trainable", False)) and hasattr(layer, "optimizer") and \
        not callable(getattr(layer, "parameter_optimizers", None))


def kept_names(layer):
    """``(arrays, floats, unset)`` of a layer just built from its config: its public float
    arrays and public floats, and in a trainable layer the public attributes left None
    (weights that ``initialize`` makes). Gradients aside: the next backward makes them."""
    names = [n for n in public_names(layer) if not n.startswith("gradient_")]
    unset = [n for n in names if value(layer, n) is None] if getattr(layer, "trainable", False) \
        else []
    return (sorted(n for n in names if is_float_array(value(layer, n))),
            sorted(n for n in names if is_float(value(layer, n))), sorted(unset))


def learned_names(layer):
    """What ``layer`` has learned, whatever its constructor made: each ``X`` with an array
    ``gradient_X``, its ``learned_scalars``, and a trainable layer's float ``weights``."""
    learned = {n[9:] for n in dir(layer) if n.startswith("gradient_") and
               isinstance(value(layer, n), np.ndarray)} | set(learned_scalars(layer))
    trainable = getattr(layer, "trainable", False) and is_float_array(value(layer, "weights"))
    return learned | ({"weights"} if trainable else set())
