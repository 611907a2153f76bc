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
from .registry import classes, constructor_args, describe, plain, state_of

CONTROLS = (("schedule", "schedule"), ("early_stopping", "stopper"))   # entry, registry kind


def data_doc(state, arrays, where):
    """A data layer's ``state_dict()``: numbers, None, lists of numbers, 1-D integer arrays
    (an epoch's order); another entry would resume differently (``TypeError`` naming it)."""
    def number(v):
        return v is None or isinstance(v, (bool, np.bool_, numbers.Real))

    def fits(v):
        return number(v) or isinstance(v, (list, tuple)) and all(map(number, v)) or \
            isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.ndim == 1
    for key, value in (state.items() if isinstance(state, dict) else [(None, state)]):
        if not (isinstance(key, str) and fits(value)):
            raise TypeError(f"checkpoint.save: cannot save the data layer's state entry {key!r} "
                            f"of {where} ({type(value).__name__}): expected a dict of string keys "
                            f"to numbers, booleans, None, 1-D integer arrays or lists of numbers")
    return plain({k: np.asarray(v, np.int64) if isinstance(v, np.ndarray) else v
                  for k, v in state.items()}, where, arrays)


def read_data(r, doc, where):
    """``data_doc`` back (an array as int64); an "order" must be a permutation and a
    "position" within it."""
    state = {}
    for key, value in r.mapping(doc, where).items():
        here = f"{where}.{short(key, 40)}"
        state[key] = r.array(value, here, [(np.int64, (None,))]) if isinstance(value, str) else \
            [r.number(x, f"{here}[{i}]") for i, x in enumerate(r.list(value, here))] \
            if isinstance(value, list) else r.number(value, here)
    order = state.get("order", np.arange(0))
    r.check(order, np.array_equal(np.sort(order), np.arange(len(order))), f"{where}.order",
            "a permutation of 0 ... n-1")
    r.int(state.get("position", 0), f"{where}.position", 0, len(order))
    return state


def rng_doc(state, arrays):
    """``np.random.get_state()`` as JSON and one array."""
    return {"keys": plain(np.asarray(state[1], np.uint32), "rng", arrays), "pos": int(state[2]),
            "has_gauss": int(state[3]), "cached_gaussian": float(state[4])}


def read_rng(r, doc, where):
    r.obj(doc, where, ("keys", "pos", "has_gauss", "cached_gaussian"))
    return ("MT19937", r.array(doc["keys"], f"{where}.keys", [(np.uint32, (624,))]),
            r.int(doc["pos"], f"{where}.pos", 0, 624),
            r.int(doc["has_gauss"], f"{where}.has_gauss", 0, 1),
            r.float(doc["cached_gaussian"], f"{where}.cached_gaussian"))


def run_doc(training, arrays):
    return {"finished": bool(training.get("finished", False)),
            "settings": {str(k): v.item() if isinstance(v, np.generic) else v if v is None or
                         isinstance(v, (bool, int, float, str)) else str(v)      # a Path
                         for k, v in training.get("settings", {}).items()},
            "data": data_doc(training["data"], arrays, "training.data"),
            "rng": rng_doc(training["rng"], arrays),
            **{key: None if training.get(key) is None else
               _object_doc(training[key], kind, arrays) for key, kind in CONTROLS}}


def _object_doc(obj, kind, arrays):
    """``describe(obj)`` with the entries of its ``state_dict()`` beside ``"class"`` and
    ``"args"``; a stopper's config entries stand there too (its layout since format 1)."""
    doc = describe(obj, kind, f"the {kind}")
    doc = {"class": doc["class"], **doc["args"]} if kind == "stopper" else doc
    state = plain(state_of(obj), f"training.{kind}", arrays)
    if set(doc) & set(state):
        raise TypeError(f"checkpoint.save: a {kind}'s state may not name "
                        f"{sorted(set(doc) & set(state))}")
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
            **{key: None if doc[key] is None else
               _read_object(r, doc[key], kind, f"training.{key}", net) for key, kind in CONTROLS}}


def _read_object(r, doc, kind, where, net):
    """A schedule or stopper built from its config, with the state entries beside it (format
    version 1 names no stopper class: it held EarlyStopping)."""
    doc = {"class": "EarlyStopping", **r.mapping(doc, where)}
    cls = r.name(doc["class"], classes(kind), f"{where}.class")
    args = doc.get("args") if kind == "schedule" else \
        {k: doc[k] for k in constructor_args(cls) if k in doc}
    obj = r.build((kind,), {"class": doc["class"], "args": args}, where, flat=kind == "stopper")
    like = dict(state_of(obj))
    if like.get("best_state", 0) is None and doc.get("best_state") is not None:
        like["best_state"] = [state_of(layer) for layer in net.layers]   # a network snapshot
    r.obj(doc, where, ("class", *like, *(("args",) if kind == "schedule" else args)))
    state = {key: read_value(r, doc[key], f"{where}.{key}", like[key]) for key in like}
    for i, (layer, entry) in enumerate(zip(net.layers, state.get("best_state") or ())):
        if callable(getattr(layer, "check_state", None)):
            r.load_state(layer, entry, f"{where}.best_state[{i}]", type(layer).check_state)
    r.load_state(obj, state, where)
    return obj
