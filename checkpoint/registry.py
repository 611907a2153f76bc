"""The registry: the only classes a checkpoint can name, and what is saved of an object.

The framework's classes are in one table (``framework.py``); one of yours joins with
``register(cls)``. No name written in a file is imported or resolved. An object is saved
as its ``get_config()`` (default: its constructor's arguments read back from same-named
attributes) and its ``state_dict()`` (default: empty): Keras' and PyTorch's names.
"""
import inspect
import numbers
import sys

import numpy as np

from _checks import constructor_args, own_config

from .framework import FRAMEWORK

# Each kind with the methods that tell it (a loss looks like a layer: register(kind="loss")).
KINDS = {"network": ("append_layer",), "optimizer": ("calculate_update",),
         "regularizer": ("calculate_gradient", "norm"), "layer": ("forward", "backward"),
         "schedule": ("rate", "step"), "stopper": ("update", "restore"),
         "initializer": ("initialize",), "loss": (None,)}
NESTED = ("regularizer", "initializer", "loss", "schedule", "layer")   # a config may hold these
FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}
_REGISTERED = {kind: {} for kind in KINDS}
REQUIRED = inspect.Parameter.empty


def classes(*kinds):
    """The classes of ``kinds``, name -> class: the framework's imported ones, then yours."""
    found = {name: getattr(sys.modules.get(module), name, None)
             for module, name, kind in FRAMEWORK if kind in kinds}
    return {name: cls for name, cls in found.items() if isinstance(cls, type)} | {
        name: cls for kind in kinds for name, cls in _REGISTERED[kind].items()}


def register(cls=None, *, kind=None, name=None):
    """Make ``cls`` saveable under ``name`` (default its ``__name__``); returns ``cls``. Also
    ``@register`` and ``@register(kind="loss")``. A name taken by another class is refused,
    unless it is the same class defined again (a re-run notebook cell)."""
    if cls is None:
        return lambda c: register(c, kind=kind, name=name)
    if not isinstance(cls, type):
        raise TypeError(f"checkpoint.register: expected a class, got {type(cls).__name__}")
    kind = kind or next((k for k, methods in KINDS.items()
                         if all(callable(getattr(cls, m or "", None)) for m in methods)), None)
    if kind not in KINDS:
        raise (ValueError if kind else TypeError)(
            f"checkpoint.register: expected kind one of {', '.join(KINDS)}, got {kind!r}"
            f"{'' if kind else f' (cannot tell what kind of class {cls.__name__} is)'}")
    name, old = name or cls.__name__, classes(kind).get(name or cls.__name__)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"checkpoint.register: the name {name!r} is taken by "
                         f"{old.__module__}.{old.__qualname__}")
    _REGISTERED[kind][name] = cls
    return cls


def name_of(obj, kind, where):
    """The registered name of ``obj``'s class; ``TypeError`` if it is not registered."""
    known = classes(kind)
    name = next((n for n, cls in known.items() if cls is type(obj)), None)
    if name is None:
        at = "" if where.startswith("a ") else f" ({where})"
        raise TypeError(f"checkpoint.save: cannot save a {kind} of type {type(obj).__name__}{at}: "
                        f"register it with checkpoint.register({type(obj).__name__}) (registered "
                        f"{kind}s: {', '.join(sorted(known))})")
    return name


def describe(obj, kind, where="an object"):
    """``{"class": registered name, "args": config_of(obj)}``; a config without a required
    argument would not load (``ValueError``)."""
    name, config = name_of(obj, kind, where), config_of(obj)
    required = [a for a, default in defaults(type(obj)).items() if default is REQUIRED]
    if set(required) - set(config):
        raise ValueError(f"checkpoint.save: {where}.args: expected the keys {sorted(required)}, "
                         f"missing {[a for a in required if a not in config]}")
    return {"class": name, "args": config}


def defaults(cls):
    """The constructor's arguments and their defaults (``REQUIRED``: none)."""
    parameters = inspect.signature(cls.__init__).parameters
    return {name: parameters[name].default for name in constructor_args(cls)}


def config_of(obj):
    """``obj.get_config()``, or each constructor argument read back from the same-named
    attribute (``_checks.own_config``); as data, a registered object in it as ``describe``
    gives it."""
    getter = getattr(obj, "get_config", None)
    config = getter() if callable(getter) else own_config(obj, object)
    kinds = {cls: kind for kind in NESTED for cls in classes(kind).values()}
    return {arg: describe(v, kinds[type(v)], arg) if type(v) in kinds else
            plain(v, f"{type(obj).__name__}.{arg}") for arg, v in config.items()}


def plain(value, where, arrays=None):
    """``value`` as JSON data: numbers, strings, None, float dtypes (by name), lists and dicts
    of them; where an ``arrays`` list is given (a state, not a config), an array of finite
    numbers too, appended to it and named by its member ``arrays/<n>.npy``."""
    value = value.item() if isinstance(value, np.generic) else value
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Real):
        return int(value) if isinstance(value, numbers.Integral) else float(value)
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}", arrays) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v, f"{where}[{i}]", arrays) for i, v in enumerate(value)]
    if (isinstance(value, np.dtype) or isinstance(value, type) and issubclass(value, np.generic)) \
            and np.dtype(value).name in FLOAT_DTYPES:
        return np.dtype(value).name
    numeric = isinstance(value, np.ndarray) and (value.dtype.kind in "biu" or
                                                 value.dtype.name in FLOAT_DTYPES)
    if arrays is not None and numeric and np.isfinite(value).all():
        arrays.append(np.ascontiguousarray(value))
        return f"arrays/{len(arrays) - 1}.npy"
    raise TypeError(f"checkpoint.save: cannot save {where} ({type(value).__name__} "
                    f"{getattr(value, 'dtype', '')}): a checkpoint holds numbers, strings, None, "
                    f"float dtypes, {'finite arrays, ' if arrays is not None else ''}lists of them")


def build(cls, config):
    """``cls(**config)`` of a trusted ``config_of`` (the reader checks a file its own way)."""
    nested = classes(*NESTED)
    return cls(**{k: build(nested[v["class"]], v["args"]) if isinstance(v, dict) and
                  set(v) == {"class", "args"} else FLOAT_DTYPES.get(v, v) if k == "dtype" else v
                  for k, v in config.items()})


def state_of(obj):
    """``obj.state_dict()`` where the class defines it, else an empty state."""
    return obj.state_dict() if callable(getattr(obj, "state_dict", None)) else {}

