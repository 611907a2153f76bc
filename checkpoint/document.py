"""The document: a network as JSON data and arrays, and back.

``network.json`` (format version 2; version 1 files read the same way)::

    format, version     "numpy-dl-checkpoint", 2
    class               the network's registered names, most derived first, e.g.
                        ["Seq2Seq", "NeuralNetwork"]: it loads as the first one known
    dtype, config       the network's get_config(): its dtype (or null), then the rest
    optimizer           {"class", "args"}; weights_initializer, bias_initializer likewise
    loss_layer          the loss's registered name
    layers              [{"class", "args", "testing_phase", "state", "optimizer"}]; the
                        optimizer entry (trainable layers) is {"shared": true when it reads
                        the network's hyperparameters (the learning rate is stored once),
                        "own": {"class", "args"} or null, "state": {parameter: state_dict()}}
    loss, history, epoch_progress   the network's state_dict()
    training            the resumable run (``run.py``) or null; data (optional), ``run.py``

A layer whose ``state_dict()`` is empty (written the course-sheet way) is saved by its
public float arrays and learned floats (``_state``) and its ``optimizer`` property.
"""
import copy

import numpy as np

from _state import has_own_optimizer, is_float, is_float_array, learned_scalars, public_names
from _state import value as _value

from . import registry
from .registry import FLOAT_DTYPES, classes, config_of, describe, name_of, state_of

FORMAT, VERSION = "numpy-dl-checkpoint", 2
MAX_LOSS_VALUES = 1 << 24       # one per step; checked before a list (4x the bytes) is made
HISTORY_KEYS = ("epoch", "train_loss", "learning_rate", "validation_loss", "validation_accuracy")
TOP = ("format", "version", "class", "dtype", "optimizer", "weights_initializer",
       "bias_initializer", "loss_layer", "layers", "loss", "history", "epoch_progress",
       "training")


class Writer:
    """Collects the arrays while the document is built; each becomes ``arrays/<n>.npy``."""

    def __init__(self):
        self.arrays = []

    def encode(self, value, where):
        """A state value as JSON: arrays become member references, containers recurse."""
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf" or value.dtype.kind == "f" and \
                    value.dtype.name not in FLOAT_DTYPES or not np.isfinite(value).all():
                raise TypeError(f"checkpoint.save: cannot save {where} (an array of dtype "
                                f"{value.dtype}; the arrays of a checkpoint are finite numbers)")
            self.arrays.append(np.ascontiguousarray(value))
            return f"arrays/{len(self.arrays) - 1}.npy"
        value = value.item() if isinstance(value, np.generic) else value
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {str(k): self.encode(v, f"{where}.{k}") for k, v in value.items()}
        raise TypeError(f"checkpoint.save: cannot save {where} of type {type(value).__name__}")


def network_doc(net, writer):
    """The document of ``net``; ``training`` is set by the caller."""
    config = {k: registry.plain(v, f"{type(net).__name__}.{k}") for k, v in net.get_config().items()}
    state = net.state_dict()
    name_of(net, "network", "a network")      # saved as a base, it would compute otherwise
    lineage = [n for c in type(net).__mro__ for n, known in classes("network").items() if known is c]
    return {"format": FORMAT, "version": VERSION, "class": lineage,
            "dtype": config.pop("dtype", None), **({"config": config} if config else {}),
            "optimizer": describe(net.optimizer, "optimizer", "optimizer"),
            **{key: None if getattr(net, key) is None else
               describe(getattr(net, key), "initializer", key)
               for key in ("weights_initializer", "bias_initializer")},
            "loss_layer": None if net.loss_layer is None else
            name_of(net.loss_layer, "loss", "loss_layer"),
            "layers": [layer_doc(layer, net, writer, f"layers[{i}]")
                       for i, layer in enumerate(net.layers)],
            "loss": writer.encode(np.asarray(state["loss"], np.float64), "loss"),
            "history": writer.encode(state["history"], "history"),
            "epoch_progress": writer.encode(state["epoch_progress"], "epoch_progress"),
            "training": None}


def layer_doc(layer, net, writer, where):
    state = layer_state(layer, where)
    doc = {**describe(layer, "layer", where),
           "testing_phase": bool(layer.testing_phase), "state": writer.encode(state, f"{where}.state")}
    own = has_own_optimizer(layer)
    if not own and not callable(getattr(layer, "parameter_optimizers", None)):
        return doc
    optimizers = {"optimizer": layer.optimizer} if own else layer.parameter_optimizers()
    if not optimizers or None in optimizers.values():
        doc["optimizer"] = None
        return doc
    if own:
        for name, value in vars(layer).items():       # a second optimizer would come back fresh
            if value is not layer.optimizer and callable(getattr(value, "calculate_update", None)) \
                    and any(isinstance(v, np.ndarray) for v in state_of(value).values()):
                raise TypeError(f"checkpoint.save: cannot save {where} ({type(layer).__name__}): "
                                f"the state of its optimizer in {name!r} would be lost (only the "
                                f"optimizer property is saved); give the class "
                                f"parameter_optimizers() or state_dict()/load_state_dict()")
    first = next(iter(optimizers.values()))
    shared = getattr(first, "source", None) is net.optimizer
    # An optimizer keeps a parameter's state in its dtype or float32 (a float16 parameter's
    # moments); a state left in another dtype by a conversion is saved as the next step makes it.
    states = {name: {k: v.astype(np.promote_types(state[name].dtype, np.float32), copy=False)
                     if not own and is_float_array(v) and v.dtype not in _dtypes(state[name])
                     else v for k, v in state_of(opt).items()} for name, opt in optimizers.items()}
    doc["optimizer"] = {"shared": shared, "own": None if shared else
                        describe(first, "optimizer", where),
                        "state": writer.encode(states, f"{where}.optimizer")}
    return doc


def _dtypes(parameter):
    return tuple(dict.fromkeys((np.dtype(parameter.dtype), np.dtype(np.float32))))


def kept_names(layer):
    """``(arrays, floats, unset)`` of a course-sheet layer just built from its config: its
    public float arrays, its public floats, and in a trainable layer its attributes left
    None (weights that ``initialize`` makes); gradients are not kept."""
    names = [n for n in public_names(layer) if not n.startswith("gradient_")]
    unset = [n for n in names if _value(layer, n) is None] if getattr(layer, "trainable", False) \
        else []
    return (sorted(n for n in names if is_float_array(_value(layer, n))),
            sorted(n for n in names if is_float(_value(layer, n))), sorted(unset))


def layer_state(layer, where):
    """``layer.state_dict()``, or for a layer with an empty one what a layer of its class just
    built has of its public float arrays and learned floats (``kept_names``). Refused
    (``TypeError``) when what it learned would not survive: an ``X`` with a ``gradient_X``
    or a trainable layer's ``weights`` that is not saved."""
    state, scalars = dict(state_of(layer)), learned_scalars(layer)
    if not state:
        rng = np.random.get_state()       # the constructor draws: the caller's stream goes on
        try:
            arrays, floats, unset = kept_names(registry.build(type(layer), config_of(layer)))
        finally:
            np.random.set_state(rng)
        state = {n: _value(layer, n) for n in arrays + unset if is_float_array(_value(layer, n))}
        state.update({n: float(_value(layer, n)) for n in scalars if n in floats})
    learned = {n[9:] for n in dir(layer) if n.startswith("gradient_") and
               isinstance(_value(layer, n), np.ndarray)} | set(scalars)
    if getattr(layer, "trainable", False) and is_float_array(_value(layer, "weights")):
        learned.add("weights")
    lost = sorted(learned - set(state))
    if lost:
        raise TypeError(
            f"checkpoint.save: cannot save {where} ({type(layer).__name__}): its {lost[0]} "
            f"would be lost (saved are its state_dict(), or else the public float arrays "
            f"among the attributes its constructor makes: {sorted(state) or 'none'}); create "
            f"{lost[0]} in the constructor, or give the class state_dict()/load_state_dict()")
    return state


# -- reading ----------------------------------------------------------------------------------

def read_network(r, doc):
    """The network of a document (``r`` is the ``Reader``)."""
    if isinstance(doc, dict) and (doc.get("format") != FORMAT or doc.get("version") not in (1, 2)):
        r.fail("network.json", f"expected format {FORMAT!r} version {VERSION} (or older), got "
                               f"{doc.get('format')!r:.60} version {doc.get('version')!r:.20}")
    r.obj(doc, "network.json", TOP, optional=("config", "data"))
    # Version 1 wrote one name; every such network was a NeuralNetwork or derived from one.
    names = [doc["class"], "NeuralNetwork"] if doc["version"] == 1 else doc["class"]
    known = classes("network")
    cls = next((known[n] for n in names[:16] if isinstance(n, str) and n in known), None) \
        if isinstance(names, list) else None
    if cls is None:
        r.fail("class", f"expected a list of network classes with one of "
                        f"{', '.join(sorted(known)) or 'none (import NeuralNetwork first)'}, "
                        f"got {doc['class']!r:.60}")
    optimizer = r.construct(*r.build("optimizer", doc["optimizer"], "optimizer"), "optimizer")
    initializers = {k: None if doc[k] is None else r.construct(*r.build("initializer", doc[k], k), k)
                    for k in ("weights_initializer", "bias_initializer")}
    config = {"dtype": None if doc["dtype"] is None else r.name(doc["dtype"], FLOAT_DTYPES, "dtype")}
    for key, value in r.mapping(doc.get("config", {}), "config").items():
        if key == "dtype":
            r.fail("config", "expected the dtype at the top of the document")
        config[key] = r.argument(value, f"config.{key}")
    layer_docs = r.list(doc["layers"], "layers")
    layers = [read_layer(r, d, f"layers[{i}]") for i, d in enumerate(layer_docs)]
    try:
        net = cls.from_config(config, layers=layers, optimizer=optimizer, **initializers,
                              loss_layer=None if doc["loss_layer"] is None else
                              r.name(doc["loss_layer"], classes("loss"), "loss_layer")())
    except (TypeError, ValueError) as err:
        r.fail("network.json", f"not a valid {cls.__name__} ({str(err):.300})")
    for i, (layer, d) in enumerate(zip(layers, layer_docs)):
        if "optimizer" in d:
            read_optimizer(r, layer, d["optimizer"], f"layers[{i}].optimizer", optimizer)
    progress = r.list(doc["epoch_progress"], "epoch_progress", 3)
    r.load_state(net, {
        "loss": r.array(doc["loss"], "loss", np.float64, ndim=1, most=MAX_LOSS_VALUES),
        "history": [{k: r.int(v, f"history[{i}].{k}") if k == "epoch" else
                     r.float(v, f"history[{i}].{k}", none=True) for k, v in
                     r.obj(h, f"history[{i}]", (), HISTORY_KEYS).items()}
                    for i, h in enumerate(r.list(doc["history"], "history"))],
        "epoch_progress": [r.int(progress[0], "epoch_progress[0]"),
                           r.float(progress[1], "epoch_progress[1]"),
                           r.int(progress[2], "epoch_progress[2]")]}, "network")
    return net


def read_layer(r, doc, where):
    """Build the layer of ``doc`` and load its state; parameter headers are checked first,
    against the shapes its arguments give, and the data read into the layer's own arrays."""
    r.obj(doc, where, ("class", "args", "testing_phase", "state"), optional=("optimizer",))
    cls, kwargs = r.build("layer", doc, where, extra=("testing_phase", "state", "optimizer"))
    state = r.mapping(doc["state"], f"{where}.state")
    trainable = callable(getattr(cls, "parameter_optimizers", None))
    if trainable and "optimizer" not in doc:
        r.fail(where, f"expected an optimizer entry for a {cls.__name__}")
    later = {}
    if trainable:
        try:
            shapes = cls.parameter_shapes_for(kwargs)
        except (TypeError, AttributeError, ValueError, KeyError) as err:
            r.fail(f"{where}.args", f"invalid arguments ({str(err):.100})")
        # The dtype argument, or that of the layer it wraps (a Bidirectional's).
        dtype = kwargs.get("dtype") or next((v.dtype for v in kwargs.values() if callable(
            getattr(v, "parameter_shapes_for", None))), np.float64)
        for name, shape in shapes.items():
            if name not in state:
                r.fail(f"{where}.state", f"expected the parameter {name!r}")
            later[name] = r.array(state[name], f"{where}.state.{name}", dtype, shape, later=True)
    layer = r.construct(cls, kwargs, where)
    if not trainable and has_own_optimizer(layer) != ("optimizer" in doc):
        r.fail(where, f"expected {'an' if has_own_optimizer(layer) else 'no'} optimizer "
                      f"entry for a {cls.__name__}")
    current = dict(state_of(layer))
    if current and set(state) != set(current):
        r.fail(f"{where}.state", f"expected the entries {sorted(current)}, got {r.short(sorted(state))}")
    if current:
        r.load_state(layer, {name: later[name](into=value) if name in later else
                             read_value(r, state[name], f"{where}.state.{name}", value, fill=True)
                             for name, value in current.items()}, f"{where}.state")
    else:   # a course-sheet layer: the arrays it has; a float where it has one; for None, any
        arrays, floats, unset = kept_names(layer)
        if set(arrays) - set(state) or set(state) - set(arrays + unset + floats):
            r.fail(f"{where}.state", f"expected the entries {arrays} (and may hold "
                                     f"{sorted(unset + floats)}), got {r.short(sorted(state))}")
        for name in state:
            here = f"{where}.state.{name}"
            setattr(layer, name, read_value(r, state[name], here, _value(layer, name), True)
                    if name in arrays else r.float(state[name], here) if name in floats
                    else r.array(state[name], here, None))
    layer.testing_phase = r.bool(doc["testing_phase"], f"{where}.testing_phase")
    return layer


def read_value(r, value, where, like, fill=False):
    """A state entry like ``like`` (the object's current value of that entry)."""
    if isinstance(like, np.ndarray):
        return r.array(value, where, like.dtype, like.shape, later=True)(like if fill else None)
    return r.bool(value, where) if isinstance(like, bool) else r.number(value, where)


def read_optimizer(r, layer, doc, where, shared):
    """Give ``layer`` its optimizer (a ``parameter_copy`` of ``shared``, or its own) and the
    state of each; every array is the parameter's shape, in its dtype or float32."""
    if doc is None:
        layer.optimizer = None
        return
    r.obj(doc, where, ("shared", "own", "state"))
    if r.bool(doc["shared"], f"{where}.shared"):
        make = getattr(shared, "parameter_copy", None)
        layer.optimizer = make() if callable(make) else copy.deepcopy(shared)
    else:
        layer.optimizer = r.construct(*r.build("optimizer", doc["own"], f"{where}.own"),
                                      f"{where}.own")
    if callable(getattr(layer, "parameter_optimizers", None)):
        optimizers, parameters = layer.parameter_optimizers(), layer.parameters()
    else:   # a course-sheet layer's one optimizer: shaped like one of the layer's arrays
        optimizers, parameters = {"optimizer": layer.optimizer}, None
        pairs = {(v.dtype, v.shape) for v in (_value(layer, n) for n in public_names(layer)
                                              if not n.startswith("gradient_")) if is_float_array(v)}
    states = r.obj(doc["state"], f"{where}.state", tuple(optimizers))
    for name, optimizer in optimizers.items():
        here = f"{where}.state.{name}"
        # Any entries: the optimizer's own load_state_dict decides what it holds.
        r.load_state(optimizer, {
            k: None if v is None else r.number(v, f"{here}.{k:.40}") if not isinstance(v, str)
            else r.array(v, f"{here}.{k:.40}", None, pairs) if parameters is None else
            r.array(v, f"{here}.{k:.40}", _dtypes(parameters[name]), parameters[name].shape)
            for k, v in r.mapping(states[name], here).items()}, here)
