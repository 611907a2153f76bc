"""The training run's resumable state.

``training`` is the dict a trainer gives ``checkpoint.save`` and gets back from
``checkpoint.read``::

    settings        a flat dict of numbers, strings, booleans and None (the trainer's)
    data            the data layer's position: {"order": a permutation, "position": int}
    rng             np.random.get_state()
    schedule        a registered schedule (its config and state_dict()) or None
    early_stopping  a registered stopper (config and state_dict(); its "best_state" is a
                    network snapshot, one layer state per layer) or None
    finished        whether the run ended

A plain save of a network whose data layer has ``state_dict()``/``load_state_dict()`` keeps
that state and NumPy's random state as ``data``, for ``checkpoint.load(path, data_layer)``.
"""
import numbers

import numpy as np

from .document import read_value
from .registry import classes, config_of, constructor_args, name_of, state_of

MAX_SETTINGS = 64


def rng_doc(state, writer):
    """``np.random.get_state()`` as JSON and one array."""
    _, keys, pos, has_gauss, gauss = state
    return {"keys": writer.encode(np.asarray(keys, np.uint32), "rng"), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)}


def read_rng(r, doc, where):
    r.obj(doc, where, ("keys", "pos", "has_gauss", "cached_gaussian"))
    return ("MT19937", r.array(doc["keys"], f"{where}.keys", np.uint32, (624,)),
            r.int(doc["pos"], f"{where}.pos", 0, 624),
            r.int(doc["has_gauss"], f"{where}.has_gauss", 0, 1),
            r.float(doc["cached_gaussian"], f"{where}.cached_gaussian"))


def data_doc(data_layer, writer):
    """The data layer's ``state_dict()`` (numbers, booleans, None, 1-D integer arrays, lists
    of numbers: an epoch's order and position) and the random state; None for a data layer
    without the state protocol. Another entry is a ``TypeError`` naming it."""
    if not (callable(getattr(data_layer, "state_dict", None)) and
            callable(getattr(data_layer, "load_state_dict", None))):
        return None
    state, owner = data_layer.state_dict(), f"{type(data_layer).__name__}.state_dict()"
    for key, value in (state.items() if isinstance(state, dict) else [(None, state)]):
        if not isinstance(key, str) or not (
                isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 1
                or value is None or _number(value) or
                isinstance(value, (list, tuple)) and all(map(_number, value))):
            raise TypeError(f"checkpoint.save: cannot save the data layer's state entry {key!r} "
                            f"of {owner} ({type(value).__name__}): expected a dict of string keys "
                            f"to numbers, booleans, None, 1-D integer arrays or lists of numbers")
    return {"state": {k: writer.encode(v.astype(np.int64) if isinstance(v, np.ndarray) else v,
                                       f"data.{k}") for k, v in state.items()},
            "rng": rng_doc(np.random.get_state(), writer)}


def _number(value):
    return isinstance(value, (bool, np.bool_, numbers.Real))


def read_data(r, doc):
    """``{"state", "rng"}`` of ``data_doc``: a list comes back a list, an array int64."""
    if doc is None:
        return None
    r.obj(doc, "data", ("state", "rng"))
    state = {}
    for key, value in r.mapping(doc["state"], "data.state").items():
        here = f"data.state.{r.short(key, 40)}"
        state[key] = r.array(value, here, np.int64, ndim=1) if isinstance(value, str) else \
            [r.number(v, f"{here}[{i}]") for i, v in enumerate(r.list(value, here))] \
            if isinstance(value, list) else r.number(value, here)
    return {"state": state, "rng": read_rng(r, doc["rng"], "data.rng")}


def run_doc(training, writer):
    stopper, schedule = training.get("early_stopping"), training.get("schedule")
    return {"finished": bool(training.get("finished", False)),
            "settings": {str(k): v.item() if isinstance(v, np.generic) else v if v is None or
                         isinstance(v, (bool, int, float, str)) else str(v)      # a Path
                         for k, v in training.get("settings", {}).items()},
            "data": {"order": writer.encode(np.asarray(training["data"]["order"], np.int64),
                                            "training.data.order"),
                     "position": int(training["data"]["position"])},
            "rng": rng_doc(training["rng"], writer),
            "schedule": None if schedule is None else _object_doc(schedule, "schedule", writer),
            "early_stopping": None if stopper is None else
            _object_doc(stopper, "stopper", writer, flat=True)}


def _object_doc(obj, kind, writer, flat=False):
    """``{"class", "args", **state_dict}``, or with ``flat`` (the stopper's layout since
    format version 1) the config's entries beside the state's."""
    config, state = config_of(obj), writer.encode(state_of(obj), f"training.{kind}")
    doc = {"class": name_of(obj, kind, f"the {kind}"), **(config if flat else {"args": config})}
    if set(doc) & set(state):
        raise TypeError(f"checkpoint.save: a {kind}'s state may not name {sorted(set(doc) & set(state))}")
    return {**doc, **state}


def read_run(r, doc, net):
    """The ``training`` dict of a document, checked against ``net``."""
    r.obj(doc, "training", ("finished", "settings", "data", "rng", "schedule", "early_stopping"))
    settings = r.mapping(doc["settings"], "training.settings")
    if len(settings) > MAX_SETTINGS:
        r.fail("training.settings", f"expected at most {MAX_SETTINGS} settings, got {len(settings)}")
    for key, value in settings.items():
        if not (value is None or isinstance(value, (bool, int)) or
                isinstance(value, str) and len(value) <= 4096):
            r.float(value, f"training.settings.{r.short(key, 40)}")
    data = r.obj(doc["data"], "training.data", ("order", "position"))
    order = r.array(data["order"], "training.data.order", np.int64, ndim=1)
    if not np.array_equal(np.sort(order), np.arange(len(order))):
        r.fail("training.data.order", "expected a permutation of 0 ... n-1")
    return {"finished": r.bool(doc["finished"], "training.finished"), "settings": dict(settings),
            "data": {"order": order,
                     "position": r.int(data["position"], "training.data.position", 0, len(order))},
            "rng": read_rng(r, doc["rng"], "training.rng"),
            "schedule": None if doc["schedule"] is None else
            _read_object(r, doc["schedule"], "schedule", "training.schedule", net),
            "early_stopping": None if doc["early_stopping"] is None else
            _read_object(r, doc["early_stopping"], "stopper", "training.early_stopping", net)}


def _read_object(r, doc, kind, where, net):
    """A schedule or stopper built from its config, with the state entries beside it."""
    doc = r.mapping(doc, where)
    if kind == "stopper":       # flat; format version 1 names no class: it held EarlyStopping
        cls = r.name(doc.get("class", "EarlyStopping"), classes(kind), f"{where}.class")
        args = constructor_args(cls)
        r.obj({k: v for k, v in doc.items() if k in args}, where, args)
        cls, kwargs, keys = cls, {k: r.argument(doc[k], f"{where}.{k}") for k in args}, args
    else:
        cls, kwargs = r.build(kind, {"class": doc.get("class"), "args": doc.get("args")}, where)
        keys = ["class", "args"]
    obj = r.construct(cls, kwargs, where)
    expected = state_of(obj)
    r.obj(doc, where, (*keys, *expected), optional=("class",))
    state = {}
    for key, like in expected.items():
        if key == "best_state" and doc[key] is not None:
            # A network snapshot: one state per layer, each entry shaped like the layer's.
            snapshot = r.list(doc[key], f"{where}.{key}", len(net.layers))
            state[key] = []
            for i, (layer, entry) in enumerate(zip(net.layers, snapshot)):
                here, current = f"{where}.{key}[{i}]", state_of(layer)
                r.obj(entry, here, tuple(current))
                state[key].append({n: read_value(r, entry[n], f"{here}.{n}", v)
                                   for n, v in current.items()})
                if callable(getattr(layer, "check_state", None)):
                    r.load_state(layer, state[key][-1], here, type(layer).check_state)
        else:
            state[key] = read_value(r, doc[key], f"{where}.{key}", like)
    r.load_state(obj, state, where)
    return obj
