"""The document: a network as JSON data and arrays, and back, through the state protocol.

Every object is saved as its registered class name, its ``get_config()`` (the
constructor's arguments as plain data) and its ``state_dict()`` (arrays, numbers,
booleans), and loaded by building the class from its config and calling
``load_state_dict``. Nothing here knows a particular class: the registry gives the
names, each class's constructor and ``load_state_dict`` validate what they get.

``network.json`` (format version 2; version 1 files read the same way)::

    format, version     "numpy-dl-checkpoint", 2
    class               the network's lineage of registered names, most derived first,
                        e.g. ["MyModel", "NeuralNetwork"]; loading builds the first one
                        registered in this process (a plain NeuralNetwork where the
                        model's module was never imported)
    dtype, config       the network's get_config(): its dtype (or null) and the rest
    optimizer           {"class", "args"}; weights_initializer, bias_initializer likewise
    loss_layer          the loss's registered name
    layers              [{"class", "args", "testing_phase", "state", "optimizer"}], the
                        optimizer entry for layers with parameter_optimizers():
                        {"shared": linked to the network's, "own": {"class", "args"} or
                        null, "state": {parameter: the optimizer's state_dict()}}
    loss, history, epoch_progress   the network's state_dict()
    training            the resumable run (``checkpoint/run.py``) or null
"""
import copy

import numpy as np

from . import registry
from .archive import DOCUMENT
from .registry import FLOAT_DTYPES, classes, describe, name_of

FORMAT = "numpy-dl-checkpoint"
VERSION = 2
READABLE_VERSIONS = (1, 2)
# Version 1 wrote the network's class as one name; every such network was this class or
# one derived from it.
VERSION_1_BASE = "NeuralNetwork"
# One loss per training step: a 10-hour run at 100 steps a second is 3.6 million. As a
# list, each costs 32 bytes of memory for the file's 8, so the length is checked first.
MAX_LOSS_VALUES = 1 << 24
HISTORY_KEYS = ("epoch", "train_loss", "learning_rate", "validation_loss", "validation_accuracy")
TOP = ("format", "version", "class", "dtype", "optimizer", "weights_initializer",
       "bias_initializer", "loss_layer", "layers", "loss", "history", "epoch_progress",
       "training")


class Writer:
    """Collects arrays while the document is built; each becomes ``arrays/<n>.npy``."""

    def __init__(self):
        self.arrays = []

    def array(self, value):
        self.arrays.append(np.ascontiguousarray(value))
        return f"arrays/{len(self.arrays) - 1}.npy"

    def encode(self, value, where):
        """A state value as JSON: arrays become member references, containers recurse."""
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f" and value.dtype.name not in FLOAT_DTYPES:
                raise TypeError(f"checkpoint.save: cannot save {where} of dtype {value.dtype}")
            return self.array(value)
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {str(k): self.encode(v, f"{where}.{k}") for k, v in value.items()}
        raise TypeError(f"checkpoint.save: cannot save {where} of type {type(value).__name__}")


def optimizer_doc(optimizer, where="the optimizer"):
    return describe(optimizer, "optimizer", where)


def network_doc(net, writer):
    """The document of ``net`` without its training run (``training`` is set by the caller)."""
    lineage = registry.lineage(net)
    if not lineage:
        raise TypeError(f"checkpoint.save: cannot save a network of type {type(net).__name__}: "
                        f"register it with checkpoint.register")
    config = dict(net.get_config())
    dtype = config.pop("dtype", None)
    state = net.state_dict()
    initializers = {key: None if getattr(net, key) is None else
                    describe(getattr(net, key), "initializer", key)
                    for key in ("weights_initializer", "bias_initializer")}
    doc = {"format": FORMAT, "version": VERSION, "class": lineage, "dtype": dtype,
           "optimizer": optimizer_doc(net.optimizer), **initializers,
           "loss_layer": None if net.loss_layer is None else
           name_of(net.loss_layer, "loss", "loss_layer"),
           "layers": [layer_doc(layer, net, writer, f"layers[{i}]")
                      for i, layer in enumerate(net.layers)],
           "loss": writer.array(np.asarray(state["loss"], np.float64)),
           "history": writer.encode(state["history"], "history"),
           "epoch_progress": writer.encode(state["epoch_progress"], "epoch_progress"),
           "training": None}
    if config:
        doc["config"] = config
    return doc


def layer_doc(layer, net, writer, where):
    state = layer.state_dict()
    doc = {"class": name_of(layer, "layer", "a layer"), "args": layer.get_config(),
           "testing_phase": bool(layer.testing_phase),
           "state": writer.encode(state, f"{where}.state")}
    if callable(getattr(layer, "parameter_optimizers", None)):
        optimizers = layer.parameter_optimizers()
        if optimizers is None:
            doc["optimizer"] = None
        else:
            first = next(iter(optimizers.values()))
            linked = getattr(first, "is_linked", None)
            shared = callable(linked) and linked(net.optimizer)
            doc["optimizer"] = {
                "shared": shared, "own": None if shared else optimizer_doc(first, where),
                "state": {name: writer.encode(_like(opt.state_dict(), state[name]),
                                              f"{where}.optimizer.{name}")
                          for name, opt in optimizers.items()}}
    return doc


def _like(state, parameter):
    """An optimizer's state with its float arrays in the dtype of its parameter, at least
    float32 (a layer whose weights were converted has moments that follow at the next step;
    a float16 parameter's are kept in float32, see ``Optimizers``)."""
    dtype = _state_dtype(parameter)
    return {k: v.astype(dtype, copy=False)
            if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for k, v in state.items()}


def _state_dtype(parameter):
    return np.promote_types(parameter.dtype, np.float32)


# -- reading --------------------------------------------------------------------------------

def read_network(r, doc):
    """The network of a checked document (``r`` is the ``Reader``)."""
    if isinstance(doc, dict) and (doc.get("format") != FORMAT or
                                  doc.get("version") not in READABLE_VERSIONS):
        r.fail(DOCUMENT, f"expected format {FORMAT!r} version {VERSION} (or older), got "
                         f"{r.short(doc.get('format'))} version {r.short(doc.get('version'))}")
    r.obj(doc, DOCUMENT, TOP, optional=("config",))
    cls = _network_class(r, doc)
    optimizer = r.construct(*r.build("optimizer", doc["optimizer"], "optimizer"), "optimizer")
    initializers = {k: None if doc[k] is None else
                    r.construct(*r.build("initializer", doc[k], k), k)
                    for k in ("weights_initializer", "bias_initializer")}
    loss_layer = None if doc["loss_layer"] is None else \
        r.name(doc["loss_layer"], classes("loss"), "loss_layer")()
    config = {"dtype": None if doc["dtype"] is None else
              r.name(doc["dtype"], FLOAT_DTYPES, "dtype")}
    for key, value in r.mapping(doc.get("config", {}), "config").items():
        if key == "dtype":
            r.fail("config", "expected the dtype at the top of the document")
        config[key] = r.argument(value, f"config.{key}")
    layer_docs = r.list(doc["layers"], "layers")
    layers = [read_layer(r, layer_doc, f"layers[{i}]") for i, layer_doc in enumerate(layer_docs)]
    try:
        net = cls.from_config(config, layers=layers, optimizer=optimizer, loss_layer=loss_layer,
                              **initializers)
    except (TypeError, ValueError) as err:
        r.fail(DOCUMENT, f"not a valid {cls.__name__} ({r.short(str(err), 300)})")
    for i, (layer, layer_doc) in enumerate(zip(layers, layer_docs)):
        if "optimizer" in layer_doc:
            read_layer_optimizer(r, layer, layer_doc["optimizer"], f"layers[{i}].optimizer",
                                 optimizer)
    progress = r.list(doc["epoch_progress"], "epoch_progress", 3)
    state = {"loss": r.array(doc["loss"], "loss", np.float64, ndim=1, most=MAX_LOSS_VALUES,
                              view=True),
             "history": [_history(r, record, f"history[{i}]")
                         for i, record in enumerate(r.list(doc["history"], "history"))],
             "epoch_progress": [r.int(progress[0], "epoch_progress[0]"),
                                r.float(progress[1], "epoch_progress[1]"),
                                r.int(progress[2], "epoch_progress[2]")]}
    r.load_state(net, state, "network")
    return net


def _network_class(r, doc):
    lineage = doc["class"]
    if isinstance(lineage, str):
        lineage = [lineage]
        if doc["version"] == 1 and lineage[0] != VERSION_1_BASE:
            lineage.append(VERSION_1_BASE)
    known = classes("network")
    if not known:
        r.fail("class", "no network class is registered in this program: import NeuralNetwork "
                        "(and the modules of your own classes) before reading a checkpoint")
    if isinstance(lineage, list) and 0 < len(lineage) <= 16:
        for name in lineage:
            if isinstance(name, str) and name in known:
                return known[name]
    r.fail("class", f"expected a list of network classes with one of {', '.join(sorted(known))}, "
                    f"got {r.short(doc['class'])}")


def read_layer(r, doc, where):
    """Build the layer of ``doc`` from its config and load its state (not its optimizer)."""
    r.obj(doc, where, ("class", "args", "testing_phase", "state"), optional=("optimizer",))
    cls, kwargs = r.build("layer", doc, where, extra=("testing_phase", "state", "optimizer"))
    state = r.mapping(doc["state"], f"{where}.state")
    trainable = callable(getattr(cls, "parameter_optimizers", None))
    if trainable != ("optimizer" in doc):
        r.fail(where, f"expected {'an' if trainable else 'no'} optimizer entry for a "
                      f"{cls.__name__}")
    arrays = {}
    if trainable:
        # The arrays' headers are checked before the layer allocates its own, so the file
        # holds at least what the layer will; their data is read after it is built.
        try:
            shapes = cls.parameter_shapes_for(kwargs)
        except (TypeError, AttributeError, ValueError) as err:
            r.fail(f"{where}.args", f"invalid arguments ({r.short(str(err))})")
        dtype = kwargs.get("dtype", np.float64)
        for name, shape in shapes.items():
            if name not in state:
                r.fail(f"{where}.state", f"expected the parameter {name!r}")
            arrays[name] = r.array(state[name], f"{where}.state.{name}", dtype, shape=shape,
                                   later=True)
    layer = r.construct(cls, kwargs, where)
    arrays = {name: read() for name, read in arrays.items()}
    current = layer.state_dict()
    if set(state) != set(current):
        r.fail(f"{where}.state", f"expected the entries {sorted(current)}, "
                                 f"got {r.short(sorted(state))}")
    for name, value in current.items():
        if name not in arrays:
            arrays[name] = read_value(r, state[name], f"{where}.state.{name}", like=value)
    r.load_state(layer, arrays, f"{where}.state")
    layer.testing_phase = r.bool(doc["testing_phase"], f"{where}.testing_phase")
    return layer


def read_value(r, value, where, like):
    """A state entry shaped like ``like`` (the object's current value of that entry)."""
    if isinstance(like, bool):
        return r.bool(value, where)
    if isinstance(like, np.ndarray):
        return r.array(value, where, like.dtype, shape=like.shape)
    return read_number(r, value, where)


def read_number(r, value, where):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return r.int(value, where, -2**63)
    return r.float(value, where, none=True)


def read_layer_optimizer(r, layer, doc, where, shared):
    """Give ``layer`` the optimizer of ``doc`` (linked to ``shared`` or its own) and its state."""
    if doc is None:
        layer.optimizer = None
        return
    r.obj(doc, where, ("shared", "own", "state"))
    if r.bool(doc["shared"], f"{where}.shared"):
        fork = getattr(shared, "fork", None)
        layer.optimizer = fork() if callable(fork) else copy.deepcopy(shared)
    else:
        layer.optimizer = r.construct(*r.build("optimizer", doc["own"], f"{where}.own"),
                                      f"{where}.own")
    optimizers = layer.parameter_optimizers()
    states = r.obj(doc["state"], f"{where}.state", tuple(optimizers))
    parameters = layer.parameters()
    for name, optimizer in optimizers.items():
        here = f"{where}.state.{name}"
        state = r.obj(states[name], here, tuple(optimizer.state_dict()))
        # An optimizer's state arrays have its parameter's shape, and its dtype (at least float32).
        values = {field: None if value is None else
                  read_value(r, value, f"{here}.{field}",
                             parameters[name].astype(_state_dtype(parameters[name]), copy=False))
                  if isinstance(value, str) else read_number(r, value, f"{here}.{field}")
                  for field, value in state.items()}
        r.load_state(optimizer, values, here)


def _history(r, record, where):
    r.obj(record, where, (), optional=HISTORY_KEYS)
    return {k: (r.int(v, f"{where}.{k}") if k == "epoch" else r.float(v, f"{where}.{k}", none=True))
            for k, v in record.items()}
