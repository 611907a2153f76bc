"""The training run's resumable state: settings, data position, random state, schedule,
early stopping.

``training`` is the dict a trainer gives ``checkpoint.save`` and gets back from
``checkpoint.read``::

    settings        a flat dict of numbers, strings, booleans and None (the trainer's)
    data            the data layer's state_dict(): {"order": permutation, "position": int}
    rng             np.random.get_state()
    schedule        a registered schedule (its config and state_dict()) or None
    early_stopping  a registered stopper (config and state_dict(); its "best_state" is
                    a network snapshot, one layer state per layer) or None
    finished        whether the run ended
"""
import math
import numbers

import numpy as np

from .document import read_number, read_value
from .registry import classes, config_of, constructor_args, name_of, state_of

MAX_SETTINGS = 64
# Files of format version 1 name no stopper class: they held this one.
VERSION_1_STOPPER = "EarlyStopping"


def rng_doc(state, writer):
    """``np.random.get_state()`` as JSON and one array."""
    _, keys, pos, has_gauss, gauss = state
    return {"keys": writer.array(np.asarray(keys, np.uint32)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)}


def read_rng(r, doc, where):
    """The ``np.random.set_state`` tuple of ``rng_doc``."""
    rng = r.obj(doc, where, ("keys", "pos", "has_gauss", "cached_gaussian"))
    keys = r.array(rng["keys"], f"{where}.keys", np.uint32, shape=(624,))
    if not keys.any():
        r.fail(f"{where}.keys", "an all-zero state would make the generator return 0 forever")
    return ("MT19937", keys, r.int(rng["pos"], f"{where}.pos", 0, 624),
            r.int(rng["has_gauss"], f"{where}.has_gauss", 0, 1),
            r.float(rng["cached_gaussian"], f"{where}.cached_gaussian"))


def data_doc(data_layer, writer):
    """The data layer's ``state_dict()`` and NumPy's global random state, or None for a
    data layer without ``state_dict``/``load_state_dict``. Its entries must be numbers,
    booleans, None, 1-D integer arrays or lists of numbers (an epoch's order and
    position); another entry is a ``TypeError`` naming it (it would resume differently)."""
    if not (callable(getattr(data_layer, "state_dict", None)) and
            callable(getattr(data_layer, "load_state_dict", None))):
        return None
    owner = f"{type(data_layer).__name__}.state_dict()"
    state = data_layer.state_dict()
    if not isinstance(state, dict):
        raise TypeError(f"checkpoint.save: cannot save the data layer's state: expected "
                        f"{owner} to be a dict, got {type(state).__name__}")
    doc = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 1:
            doc[key] = writer.array(value.astype(np.int64))
        elif value is None or _number(value) or \
                (isinstance(value, (list, tuple)) and all(map(_number, value))):
            doc[key] = writer.encode(value, f"data.{key}")
        else:
            raise TypeError(f"checkpoint.save: cannot save the data layer's state entry {key!r} "
                            f"of {owner} ({type(value).__name__}): expected numbers, booleans, "
                            f"None, 1-D integer arrays or lists of numbers; it would resume "
                            f"differently")
        if not isinstance(key, str):
            raise TypeError(f"checkpoint.save: cannot save the data layer's state entry {key!r} "
                            f"of {owner}: expected string keys")
    return {"state": doc, "rng": rng_doc(np.random.get_state(), writer)}


def _number(value):
    return isinstance(value, (bool, np.bool_, numbers.Real))


def read_data(r, doc):
    """``{"state": the data layer's state, "rng": a random state}`` of ``data_doc``: a list
    comes back a list of numbers, an integer array an int64 array."""
    if doc is None:
        return None
    r.obj(doc, "data", ("state", "rng"))
    state = {}
    for key, value in r.mapping(doc["state"], "data.state").items():
        here = f"data.state.{r.key(key)}"
        state[key] = r.array(value, here, np.int64, ndim=1) if isinstance(value, str) else \
            None if value is None else \
            [read_number(r, v, f"{here}[{i}]") for i, v in enumerate(r.list(value, here))] \
            if isinstance(value, list) else read_number(r, value, here)
    return {"state": state, "rng": read_rng(r, doc["rng"], "data.rng")}


def run_doc(training, writer):
    stopper, schedule = training.get("early_stopping"), training.get("schedule")
    return {
        "finished": bool(training.get("finished", False)),
        "settings": {str(k): _setting(v, k) for k, v in training.get("settings", {}).items()},
        "data": {"order": writer.array(np.asarray(training["data"]["order"], np.int64)),
                 "position": int(training["data"]["position"])},
        "rng": rng_doc(training["rng"], writer),
        "schedule": None if schedule is None else _object_doc(schedule, "schedule", writer),
        "early_stopping": None if stopper is None else
        _object_doc(stopper, "stopper", writer, flat=True),
    }


def _setting(value, key):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)              # a Path


def _object_doc(obj, kind, writer, flat=False):
    """``{"class", "args", **state_dict}``: the state's entries beside the config, or
    with ``flat`` (the stopper's layout since format version 1) the config's entries too."""
    state = writer.encode(state_of(obj), f"training.{kind}")
    config = config_of(obj)
    doc = {"class": name_of(obj, kind, f"the {kind}"), **(config if flat else {"args": config})}
    clash = set(doc) & set(state)
    if clash:
        raise TypeError(f"checkpoint.save: a {kind}'s state may not name {sorted(clash)}")
    return {**doc, **state}


def read_run(r, doc, net):
    """The ``training`` dict of a checked document, checked against ``net``."""
    r.obj(doc, "training", ("finished", "settings", "data", "rng", "schedule", "early_stopping"))
    settings = r.mapping(doc["settings"], "training.settings")
    if len(settings) > MAX_SETTINGS:
        r.fail("training.settings", f"expected at most {MAX_SETTINGS} settings, "
                                    f"got {len(settings)}")
    for key, value in settings.items():
        if not (value is None or isinstance(value, (bool, int)) or
                (isinstance(value, float) and math.isfinite(value)) or
                (isinstance(value, str) and len(value) <= 4096)):
            r.fail(f"training.settings.{r.short(key)}", f"expected a number, string, boolean or "
                                                        f"null, got {r.short(value)}")
    data = r.obj(doc["data"], "training.data", ("order", "position"))
    order = r.array(data["order"], "training.data.order", np.int64, ndim=1)
    if not np.array_equal(np.sort(order), np.arange(len(order))):
        r.fail("training.data.order", "expected a permutation of 0 ... n-1")
    position = r.int(data["position"], "training.data.position", 0, len(order))
    rng_state = read_rng(r, doc["rng"], "training.rng")
    schedule = None if doc["schedule"] is None else \
        _read_object(r, doc["schedule"], "schedule", "training.schedule", net)
    stopper = None if doc["early_stopping"] is None else \
        _read_object(r, doc["early_stopping"], "stopper", "training.early_stopping", net)
    return {"finished": r.bool(doc["finished"], "training.finished"), "settings": dict(settings),
            "data": {"order": order, "position": position}, "rng": rng_state,
            "schedule": schedule, "early_stopping": stopper}


def _read_object(r, doc, kind, where, net):
    """Build a schedule or stopper from its config; load the state entries beside it."""
    doc = r.mapping(doc, where)
    flat = kind == "stopper"
    if flat:
        name = doc.get("class", VERSION_1_STOPPER)        # format version 1 names none
        cls = r.name(name, classes(kind), f"{where}.class")
        args = constructor_args(cls)
        r.obj({k: v for k, v in doc.items() if k in args or k == "class"}, where, args,
              optional=("class",))
        kwargs = {k: r.argument(doc[k], f"{where}.{k}") for k in args}
        keys = tuple(args)
    else:
        cls, kwargs = r.build(kind, {"class": doc.get("class"), "args": doc.get("args")}, where)
        keys = ("class", "args")
    obj = r.construct(cls, kwargs, where)
    expected = state_of(obj)
    r.obj(doc, where, (*keys, *expected), optional=("class",) if flat else ())
    state = {}
    for key, like in expected.items():
        value, here = doc[key], f"{where}.{key}"
        if key == "best_state" and value is not None:
            state[key] = _snapshot(r, value, net, here)
        elif isinstance(like, np.ndarray):
            state[key] = r.array(value, here, like.dtype, shape=like.shape)
        else:
            state[key] = read_number(r, value, here)
    r.load_state(obj, state, where)
    return obj


def _snapshot(r, entries, net, where):
    """A network snapshot (one layer state per layer), each entry shaped like the layer's."""
    entries = r.list(entries, where, len(net.layers))
    snapshot = []
    for i, (layer, entry) in enumerate(zip(net.layers, entries)):
        current = state_of(layer)
        r.obj(entry, f"{where}[{i}]", tuple(current))
        state = {name: read_value(r, entry[name], f"{where}[{i}].{name}", value)
                 for name, value in current.items()}
        r.check_state(layer, state, f"{where}[{i}]")
        snapshot.append(state)
    return snapshot
