"""A training run's resumable state, and a data layer's.

``training``, the dict a trainer gives ``checkpoint.save`` and gets back from ``read``::

    settings        a flat dict of numbers, strings, booleans and None (the trainer's)
    data            the data layer's state_dict(): {"order": a permutation, "position": int}
    rng             np.random.get_state()
    schedule        a registered schedule (config and state_dict()) or None
    early_stopping  a registered stopper (config and state_dict(), whose "best_state" is
                    a network snapshot) or None
    finished        whether the run ended

A plain save of a network whose data layer has ``state_dict()``/``load_state_dict()`` keeps
that state and the random state as ``data`` for ``checkpoint.load(path, data_layer)``.
"""
import numbers

import numpy as np

from .document import read_value
from .reader import short
from .registry import classes, config_of, constructor_args, name_of, state_of


def data_doc(state, writer, where):
    """A data layer's ``state_dict()``: numbers, None, lists of numbers, 1-D integer arrays
    (an epoch's order); another entry would resume differently (``TypeError`` naming it)."""
    def number(v):
        return isinstance(v, (bool, np.bool_, numbers.Real))
    for key, value in (state.items() if isinstance(state, dict) else [(None, state)]):
        if not isinstance(key, str) or not (value is None or number(value) or isinstance(
                value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 1 or
                isinstance(value, (list, tuple)) and all(map(number, value))):
            raise TypeError(f"checkpoint.save: cannot save the data layer's state entry {key!r} "
                            f"of {where} ({type(value).__name__}): expected a dict of string keys "
                            f"to numbers, booleans, None, 1-D integer arrays or lists of numbers")
    return {k: writer.encode(np.asarray(v, np.int64) if isinstance(v, np.ndarray) else v,
                             f"{where}.{k}") for k, v in state.items()}


def read_data(r, doc, where):
    """``data_doc`` back (an array as int64); an "order" must be a permutation and a
    "position" within it."""
    state = {key: r.array(v, f"{where}.{key}", np.int64, ndim=1) if isinstance(v, str) else
             [r.number(x, f"{where}.{key}[{i}]") for i, x in enumerate(r.list(v, f"{where}.{key}"))]
             if isinstance(v, list) else r.number(v, f"{where}.{short(key, 40)}")
             for key, v in r.mapping(doc, where).items()}
    order = state.get("order", np.arange(0))
    r.check(order, np.array_equal(np.sort(order), np.arange(len(order))), f"{where}.order",
            "a permutation of 0 ... n-1")
    r.int(state.get("position", 0), f"{where}.position", 0, len(order))
    return state


def rng_doc(state, writer):
    """``np.random.get_state()`` as JSON and one array."""
    return {"keys": writer.encode(np.asarray(state[1], np.uint32), "rng"), "pos": int(state[2]),
            "has_gauss": int(state[3]), "cached_gaussian": float(state[4])}


def read_rng(r, doc, where):
    r.obj(doc, where, ("keys", "pos", "has_gauss", "cached_gaussian"))
    return ("MT19937", r.array(doc["keys"], f"{where}.keys", np.uint32, (624,)),
            r.int(doc["pos"], f"{where}.pos", 0, 624), r.int(doc["has_gauss"], f"{where}.has_gauss", 0, 1),
            r.float(doc["cached_gaussian"], f"{where}.cached_gaussian"))


def run_doc(training, writer):
    return {"finished": bool(training.get("finished", False)),
            "settings": {str(k): v.item() if isinstance(v, np.generic) else v if v is None or
                         isinstance(v, (bool, int, float, str)) else str(v)      # a Path
                         for k, v in training.get("settings", {}).items()},
            "data": data_doc(training["data"], writer, "training.data"),
            "rng": rng_doc(training["rng"], writer),
            **{key: None if training.get(key) is None else _object_doc(training[key], kind, writer)
               for key, kind in (("schedule", "schedule"), ("early_stopping", "stopper"))}}


def _object_doc(obj, kind, writer):
    """``{"class", "args", **state_dict}``; a stopper's config entries stand beside its state
    (its layout since format version 1)."""
    config, state = config_of(obj), writer.encode(state_of(obj), f"training.{kind}")
    doc = {"class": name_of(obj, kind, f"the {kind}"), **(config if kind == "stopper" else
                                                          {"args": config})}
    if set(doc) & set(state):
        raise TypeError(f"checkpoint.save: a {kind}'s state may not name {sorted(set(doc) & set(state))}")
    return {**doc, **state}


def read_run(r, doc, net):
    """The ``training`` dict of a document, checked against ``net``."""
    r.obj(doc, "training", ("finished", "settings", "data", "rng", "schedule", "early_stopping"))
    settings = r.check(doc["settings"], isinstance(doc["settings"], dict) and
                       len(doc["settings"]) <= 64, "training.settings", "at most 64 settings")
    for key, value in settings.items():
        if not (value is None or isinstance(value, (bool, int)) or
                isinstance(value, str) and len(value) <= 4096):
            r.float(value, f"training.settings.{short(key, 40)}")
    return {"finished": r.bool(doc["finished"], "training.finished"), "settings": dict(settings),
            "data": read_data(r, r.obj(doc["data"], "training.data", ("order", "position")),
                              "training.data"),
            "rng": read_rng(r, doc["rng"], "training.rng"),
            **{key: None if doc[key] is None else _read_object(r, doc[key], kind, f"training.{key}", net)
               for key, kind in (("schedule", "schedule"), ("early_stopping", "stopper"))}}


def _read_object(r, doc, kind, where, net):
    """A schedule or stopper built from its config, with the state entries beside it (format
    version 1 names no stopper class: it held EarlyStopping)."""
    doc = r.mapping(doc, where)
    cls = r.name(doc.get("class", "EarlyStopping"), classes(kind), f"{where}.class")
    args = doc.get("args") if kind == "schedule" else \
        {k: doc[k] for k in constructor_args(cls) if k in doc}
    cls, kwargs = r.build(kind, {"class": doc.get("class", "EarlyStopping"), "args": args}, where,
                          flat=kind == "stopper")
    obj = r.construct(cls, kwargs, where)
    expected = state_of(obj)
    r.obj(doc, where, tuple(expected) + (("args",) if kind == "schedule" else tuple(args)),
          optional=("class",))
    state = {}
    for key, like in expected.items():
        if key == "best_state" and doc[key] is not None:
            # A network snapshot: one state per layer, each entry shaped like the layer's.
            state[key] = []
            for i, (layer, entry) in enumerate(zip(net.layers, r.list(doc[key], f"{where}.{key}",
                                                                      len(net.layers)))):
                here, current = f"{where}.{key}[{i}]", state_of(layer)
                state[key].append({n: read_value(r, v, f"{here}.{n}", current[n]) for n, v in
                                   r.obj(entry, here, tuple(current)).items()})
                if callable(getattr(layer, "check_state", None)):
                    r.load_state(layer, state[key][-1], here, type(layer).check_state)
        else:
            state[key] = read_value(r, doc[key], f"{where}.{key}", like)
    r.load_state(obj, state, where)
    return obj
