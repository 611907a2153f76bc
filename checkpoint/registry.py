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

from _checks import constructor_args

from .framework import FRAMEWORK

# Each kind with the methods that tell it (a loss looks like a layer: register(kind="loss")).
KINDS = {"network": ("append_layer",), "optimizer": ("calculate_update",),
         "regularizer": ("calculate_gradient", "norm"), "layer": ("forward", "backward"),
         "schedule": ("rate", "step"), "stopper": ("update", "restore"),
         "initializer": ("initialize",), "loss": (None,)}
NESTED = ("regularizer", "initializer", "loss", "schedule", "layer")   # a config may hold these
FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}
_REGISTERED = {kind: {} for kind in KINDS}


def classes(*kinds):
    """The classes of ``kinds``, name -> class: the framework's imported ones, then yours."""
    found = {name: getattr(sys.modules.get(module), name, None)
             for module, name, kind in FRAMEWORK if kind in kinds}
    found = {name: cls for name, cls in found.items() if isinstance(cls, type)}
    return found | {n: c for kind in kinds for n, c in _REGISTERED[kind].items()}


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
        raise TypeError(f"checkpoint.save: cannot save {where} of type {type(obj).__name__}: "
                        f"register it with checkpoint.register({type(obj).__name__}) (registered "
                        f"{kind}s: {', '.join(sorted(known))})")
    return name


def describe(obj, kind, where="an object"):
    """``{"class": registered name, "args": config_of(obj)}``; a config without a required
    argument would not load (``ValueError``)."""
    name, config, required = name_of(obj, kind, where), config_of(obj), required_args(type(obj))
    if set(required) - set(config):
        raise ValueError(f"checkpoint.save: {where}.args: expected the keys {sorted(required)}, "
                         f"missing {[a for a in required if a not in config]}")
    return {"class": name, "args": config}


def defaults(cls):
    """The constructor's arguments and their defaults (``inspect.Parameter.empty``: none)."""
    return {} if cls.__init__ is object.__init__ else {
        name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def required_args(cls):
    return [name for name, value in defaults(cls).items() if value is inspect.Parameter.empty]


def config_of(obj):
    """``obj.get_config()``, or each constructor argument read back from the same-named
    attribute; as data, a registered object in it as ``describe`` gives it."""
    owner, args = type(obj).__name__, constructor_args(type(obj))
    if callable(getattr(obj, "get_config", None)):
        config = obj.get_config()
    elif all(hasattr(obj, arg) for arg in args):
        config = {arg: getattr(obj, arg) for arg in args}
    else:
        arg = next(arg for arg in args if not hasattr(obj, arg))
        raise TypeError(f"checkpoint.save: cannot save a {owner}: its constructor argument "
                        f"{arg!r} is not kept as the attribute {arg!r} (the default config reads "
                        f"each argument back from the same-named attribute): keep it as "
                        f"self.{arg}, or define {owner}.get_config()")
    kinds = {cls: kind for kind in NESTED for cls in classes(kind).values()}
    return {arg: describe(v, kinds[type(v)], arg) if type(v) in kinds else plain(v, f"{owner}.{arg}")
            for arg, v in config.items()}


config_from_attributes = config_of


def plain(value, where):
    """A config value as JSON data: numbers, strings, None, float dtypes, lists and dicts."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Real):
        return int(value) if isinstance(value, numbers.Integral) else float(value)
    if isinstance(value, (tuple, list, dict)):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()} \
            if isinstance(value, dict) else [plain(v, where) for v in value]
    if (isinstance(value, np.dtype) or isinstance(value, type) and issubclass(value, np.generic)) \
            and np.dtype(value).name in FLOAT_DTYPES:
        return np.dtype(value).name
    raise TypeError(f"checkpoint.save: cannot save {where}={value!r} (a config holds numbers, "
                    f"strings, None, float dtypes and lists of them)")


def build(cls, config):
    """``cls(**config)`` of a trusted ``config_of`` (the reader checks a file its own way)."""
    nested = classes(*NESTED)
    return cls(**{k: build(nested[v["class"]], v["args"]) if isinstance(v, dict) and
                  set(v) == {"class", "args"} else FLOAT_DTYPES.get(v, v) if k == "dtype" else v
                  for k, v in config.items()})


def state_of(obj):
    """``obj.state_dict()`` where the class defines it, else an empty state."""
    return obj.state_dict() if callable(getattr(obj, "state_dict", None)) else {}


def load_state_of(obj, state):
    """``obj.load_state_dict(state)`` where the class defines it; else only ``{}`` fits."""
    if callable(getattr(obj, "load_state_dict", None)):
        return obj.load_state_dict(state)
    if state:
        raise ValueError(f"{type(obj).__name__}: expected an empty state, got {sorted(state)}")
