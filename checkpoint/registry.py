"""The registry: the only classes a checkpoint can name, and the default config and state.

The framework's own classes are listed once, in ``framework.FRAMEWORK``, by module, class
name and kind; a class of yours joins with ``register(cls)`` (also usable as ``@register``). A
class is known once its module is imported: this package imports no framework module and
never imports or resolves a name written in a file (a network's file names its class and
its bases; it loads as the first of them whose module was imported).

What persistence reads from an object (``config_of``, ``state_of``): its ``get_config()``
where it has one, else its constructor's arguments read back from same-named attributes;
its ``state_dict()`` where it has one, else nothing.
"""
import collections.abc
import inspect
import numbers
import sys

import numpy as np

from _checks import constructor_args

from .framework import FRAMEWORK

# The kinds a config may hold as an argument (a Bidirectional's layer, an optimizer's
# regularizer): never networks or optimizers.
NESTED = ("regularizer", "initializer", "loss", "schedule", "layer")
KINDS = ("network", "layer", "optimizer", "regularizer", "initializer", "loss", "schedule",
         "stopper")
_REGISTRY = {kind: {} for kind in KINDS}      # register()'s classes
FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}


class _Classes(collections.abc.Mapping):
    """The classes of one kind, name -> class: ``FRAMEWORK``'s whose module is imported,
    then the registered ones (a live view)."""

    def __init__(self, kind):
        self.kind = kind

    def _dict(self):
        found = {}
        for module, name, kind in FRAMEWORK:
            cls = getattr(sys.modules.get(module), name, None)
            if kind == self.kind and isinstance(cls, type):
                found[name] = cls
        return {**found, **_REGISTRY[self.kind]}

    def __getitem__(self, name):
        return self._dict()[name]

    def __iter__(self):
        return iter(self._dict())

    def __len__(self):
        return len(self._dict())


def infer_kind(cls):
    """The kind of ``cls`` from its methods; a loss (forward and backward, like a layer)
    must be registered with ``kind="loss"``."""
    def has(*names):
        return all(callable(getattr(cls, n, None)) for n in names)
    if has("append_layer"):
        return "network"
    if has("calculate_update"):
        return "optimizer"
    if has("calculate_gradient", "norm"):
        return "regularizer"
    if has("forward", "backward"):
        return "layer"          # a loss says kind="loss"
    if has("rate", "step"):
        return "schedule"
    if has("update", "restore"):
        return "stopper"
    if has("initialize"):
        return "initializer"
    raise TypeError(f"checkpoint.register: cannot tell what kind of class {cls.__name__} is "
                    f"(give kind= one of {', '.join(KINDS)})")


def register(cls=None, *, kind=None, name=None):
    """Make ``cls`` saveable under ``name`` (default its ``__name__``); returns ``cls``.

    Usable as ``register(MyOptimizer)``, ``@register`` or ``@register(kind="loss")``.
    Registering the same class again is harmless; another class under a taken name is
    refused (unless it is the same class defined again, e.g. a re-run notebook cell).
    """
    if cls is None:
        return lambda c: register(c, kind=kind, name=name)
    if not isinstance(cls, type):
        raise TypeError(f"checkpoint.register: expected a class, got {type(cls).__name__}")
    kind = kind or infer_kind(cls)
    if kind not in _REGISTRY:
        raise ValueError(f"checkpoint.register: expected kind one of {', '.join(KINDS)}, "
                         f"got {kind!r}")
    name = name or cls.__name__
    old = classes(kind).get(name)
    if old is not None and old is not cls and \
            (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"checkpoint.register: the name {name!r} is taken by "
                         f"{old.__module__}.{old.__qualname__}")
    _REGISTRY[kind][name] = cls
    return cls


def classes(kind):
    """The classes of one kind: a live read-only mapping name -> class."""
    return _Classes(kind)


def name_of(obj, kind, where):
    """The registered name of ``obj``'s class; TypeError if it is not registered."""
    cls = type(obj)
    known = dict(classes(kind))
    for name, registered in known.items():
        if registered is cls:
            return name
    raise TypeError(f"checkpoint.save: cannot save {where} of type {cls.__name__}: register "
                    f"it with checkpoint.register({cls.__name__}) (registered {kind}s: "
                    f"{', '.join(sorted(known))})")


def lineage(net):
    """The registered names of ``net``'s class and of its registered bases, most derived first.

    ``net``'s own class must be registered: a subclass saved under its base's name would
    load as the base and compute other outputs.
    """
    name_of(net, "network", "a network")
    names = []
    known = dict(classes("network"))
    for cls in type(net).__mro__:
        names += [n for n, c in known.items() if c is cls]
    return names


def required_args(cls):
    """The constructor arguments without a default: a config must give each of them. One
    with a default may be left out (Keras' ``cls(**config)``: the default fills in)."""
    if cls.__init__ is object.__init__:
        return []
    return [name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.default is p.empty]


def defaults(cls):
    """The constructor's arguments that have a default, and the defaults."""
    if cls.__init__ is object.__init__:
        return {}
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.default is not p.empty}


def config_from_attributes(obj):
    """The default config: each constructor argument read back from the attribute of the
    same name, as plain data (``dtype`` from ``obj.dtype``; an object the registry knows,
    an optimizer's regularizer, as ``describe`` gives it). A constructor argument without
    a same-named attribute is a ``TypeError`` naming it."""
    owner = type(obj).__name__
    for arg in constructor_args(type(obj)):
        if not hasattr(obj, arg):
            raise TypeError(f"checkpoint.save: cannot save a {owner}: its constructor argument "
                            f"{arg!r} is not kept as the attribute {arg!r} (the default config "
                            f"reads each argument back from the same-named attribute): keep it "
                            f"as self.{arg}, or define {owner}.get_config()")
    return _data({arg: getattr(obj, arg) for arg in constructor_args(type(obj))}, owner)


def config_of(obj):
    """``obj.get_config()`` where the class defines it, else ``config_from_attributes``; an
    object the registry knows in it (an optimizer's regularizer, a Bidirectional's layer)
    as ``describe`` gives it, the rest as plain data."""
    get_config = getattr(obj, "get_config", None)
    return _data(get_config(), type(obj).__name__) if callable(get_config) else \
        config_from_attributes(obj)


def _data(config, owner):
    return {arg: plain(value, f"{owner}.{arg}") if _kind_of(value) is None else
            describe(value, _kind_of(value), arg) for arg, value in config.items()}


def state_of(obj):
    """``obj.state_dict()`` where the class defines it, else an empty state."""
    state_dict = getattr(obj, "state_dict", None)
    return state_dict() if callable(state_dict) else {}


def load_state_of(obj, state):
    """``obj.load_state_dict(state)`` where the class defines it; else only ``{}`` fits."""
    load_state_dict = getattr(obj, "load_state_dict", None)
    if callable(load_state_dict):
        load_state_dict(state)
    elif state:
        raise ValueError(f"{type(obj).__name__}: expected an empty state, got the entries "
                         f"{sorted(state)}")


def _kind_of(value):
    if value is None or isinstance(value, (bool, str, numbers.Number, tuple, list, dict, type,
                                           np.dtype)):
        return None
    for kind in NESTED:
        if any(cls is type(value) for cls in classes(kind).values()):
            return kind
    return None


def describe(obj, kind, where="an object"):
    """``{"class": registered name, "args": config_of(obj)}``: how a config names an object."""
    return {"class": name_of(obj, kind, where), "args": config_of(obj)}


def plain(value, where):
    """A config value as JSON data: numbers, strings, None, float dtypes, lists and dicts
    of them."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    try:
        dtype = np.dtype(value) if isinstance(value, (type, np.dtype)) else None
    except TypeError:
        dtype = None
    if dtype is not None and dtype.name in FLOAT_DTYPES:
        return dtype.name
    raise TypeError(f"checkpoint.save: cannot save {where}={value!r} (a config holds numbers, "
                    f"strings, None, float dtypes and lists of them)")


def build(cls, config):
    """``cls(**config)`` from a ``get_config()``: float dtype names become dtypes, and a
    ``{"class", "args"}`` value (an optimizer's regularizer) the registered object.
    For trusted configs; the reader checks a file's values on its own way there."""
    nested = {name: c for kind in NESTED for name, c in classes(kind).items()}
    kwargs = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"class", "args"}:
            value = build(nested[value["class"]], value["args"])
        elif key == "dtype" and value in FLOAT_DTYPES:
            value = FLOAT_DTYPES[value]
        kwargs[key] = value
    return cls(**kwargs)
