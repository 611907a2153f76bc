"""The registry: the only classes a checkpoint can name, and the default ``get_config``.

``register(cls)`` (also usable as ``@register``) makes a class saveable. Its kind
(layer, optimizer, regularizer, initializer, loss, schedule, stopper, network) is
told by what it can do, or given as ``kind=``; a file can only name a class of
the kind expected at that place. Nothing is ever imported or resolved by a name
written in a file: names are keys into this registry, filled by the classes
themselves when their module is imported.
"""
import inspect
import numbers

import numpy as np

KINDS = ("network", "layer", "optimizer", "regularizer", "initializer", "loss", "schedule",
         "stopper")
_REGISTRY = {kind: {} for kind in KINDS}
FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}


def _positional(function):
    return [p for p in list(inspect.signature(function).parameters.values())[1:]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]


def infer_kind(cls):
    """The kind of ``cls`` from its methods (see the module docstring)."""
    def has(*names):
        return all(callable(getattr(cls, n, None)) for n in names)
    if has("append_layer"):
        return "network"
    if has("calculate_update"):
        return "optimizer"
    if has("calculate_gradient", "norm"):
        return "regularizer"
    if has("forward", "backward"):
        # A loss takes (prediction, label); a layer takes one input.
        return "loss" if len(_positional(cls.forward)) == 2 else "layer"
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
    old = _REGISTRY[kind].get(name)
    if old is not None and old is not cls and \
            (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"checkpoint.register: the name {name!r} is taken by "
                         f"{old.__module__}.{old.__qualname__}")
    _REGISTRY[kind][name] = cls
    return cls


def classes(kind):
    """The registry of one kind: the live dict name -> class (do not modify it)."""
    return _REGISTRY[kind]


def name_of(obj, kind, where):
    """The registered name of ``obj``'s class; TypeError if it is not registered."""
    cls = type(obj)
    for name, registered in _REGISTRY[kind].items():
        if registered is cls:
            return name
    raise TypeError(f"checkpoint.save: cannot save {where} of type {cls.__name__}: register "
                    f"it with checkpoint.register({cls.__name__}) (registered {kind}s: "
                    f"{', '.join(sorted(_REGISTRY[kind]))})")


def lineage(net):
    """The registered names of ``net``'s class and of its registered bases, most derived first.

    ``net``'s own class must be registered: a subclass saved under its base's name would
    load as the base and compute other outputs.
    """
    name_of(net, "network", "a network")
    names = []
    for cls in type(net).__mro__:
        names += [n for n, c in _REGISTRY["network"].items() if c is cls]
    return names


def constructor_args(cls):
    """The names of ``cls.__init__``'s arguments (without ``self``, ``*args``, ``**kwargs``)."""
    if cls.__init__ is object.__init__:
        return []
    return [name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


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
    """The default ``get_config()``: each constructor argument read back from the
    attribute of the same name, as plain data (``dtype`` from ``obj.dtype``)."""
    owner = type(obj).__name__
    return {arg: plain(getattr(obj, arg), f"{owner}.{arg}") for arg in constructor_args(type(obj))}


def describe(obj, kind, where="an object"):
    """``{"class": registered name, "args": obj.get_config()}``: how a config names an object."""
    return {"class": name_of(obj, kind, where), "args": obj.get_config()}


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


class Configurable:
    """The state protocol of a class whose constructor arguments are all there is to it
    (a regularizer, an initializer): ``get_config()`` reads them back from same-named
    attributes, and the state is empty."""

    def get_config(self):
        return config_from_attributes(self)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        if state:
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected an empty state, "
                             f"got the entries {sorted(state)}")


def build(cls, config):
    """``cls(**config)`` from a ``get_config()``: float dtype names become dtypes, and a
    ``{"class", "args"}`` value (an optimizer's regularizer) the registered object.
    For trusted configs; the reader checks a file's values on its own way there."""
    nested = {name: c for kind in ("regularizer", "initializer", "loss", "schedule")
              for name, c in _REGISTRY[kind].items()}
    kwargs = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"class", "args"}:
            value = build(nested[value["class"]], value["args"])
        elif key == "dtype" and value in FLOAT_DTYPES:
            value = FLOAT_DTYPES[value]
        kwargs[key] = value
    return cls(**kwargs)
