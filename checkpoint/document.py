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
                        {"shared": reads the network's hyperparameters, "own": {"class", "args"} or
                        null, "state": {parameter: the optimizer's state_dict()}}
    loss, history, epoch_progress   the network's state_dict()
    training            the resumable run (``checkpoint/run.py``) or null
    data                (optional) the data layer's state_dict() and NumPy's random state,
                        for ``load(path, data_layer)`` to resume from (``run.data_doc``)

A layer whose ``state_dict()`` is empty (written the course-sheet way, without the
framework's hooks) is saved by its public float arrays (``layer_state``) and its
``optimizer`` property, the optimizer entry's state then keyed ``"optimizer"``.
"""
import copy

import numpy as np

from . import registry
from .archive import DOCUMENT
from _state import (has_own_optimizer, is_float, is_float_array, learned_scalars, public_arrays,
                    public_names)
from _state import value as _value

from .registry import FLOAT_DTYPES, classes, config_of, describe, name_of, state_of

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
    config = {k: registry.plain(v, f"{type(net).__name__}.{k}")
              for k, v in net.get_config().items()}
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
    state = layer_state(layer, where)
    doc = {"class": name_of(layer, "layer", "a layer"), "args": config_of(layer),
           "testing_phase": bool(layer.testing_phase),
           "state": writer.encode(state, f"{where}.state")}
    if callable(getattr(layer, "parameter_optimizers", None)):
        optimizers = layer.parameter_optimizers()
        cast = True
    elif has_own_optimizer(layer):
        # A layer written the course-sheet way: one optimizer, its ``optimizer`` property.
        _refuse_hidden_optimizers(layer, where)
        optimizers = None if layer.optimizer is None else {"optimizer": layer.optimizer}
        cast = False
    else:
        return doc
    if optimizers is None:
        doc["optimizer"] = None
    else:
        first = next(iter(optimizers.values()))
        # A copy that reads its hyperparameters from the network's optimizer (``source``)
        # keeps only its state here: the learning rate is stored once, at the top.
        shared = getattr(first, "source", None) is net.optimizer
        doc["optimizer"] = {
            "shared": shared, "own": None if shared else optimizer_doc(first, where),
            "state": {name: writer.encode(_like(state_of(opt), state[name]) if cast
                                          else state_of(opt), f"{where}.optimizer.{name}")
                      for name, opt in optimizers.items()}}
    return doc


def _like(state, parameter):
    """An optimizer's state as the optimizer holds it: each float array in the parameter's
    dtype or in float32 (ours keep a float16 parameter's moments in float32, a teacher's
    may keep them in float16: both load back as they were). A state of another dtype (the
    weights were converted since the last step; the next step makes it follow) is saved
    in the parameter's dtype, at least float32."""
    allowed = _state_dtypes(parameter)
    return {k: v.astype(np.promote_types(parameter.dtype, np.float32), copy=False)
            if is_float_array(v) and v.dtype not in allowed else v for k, v in state.items()}


def _state_dtypes(parameter):
    """The dtypes an optimizer may hold a parameter's state in: the parameter's, float32."""
    return tuple(dict.fromkeys((np.dtype(parameter.dtype), np.dtype(np.float32))))


def kept_names(layer):
    """``(arrays, floats, unset)`` of a layer just built without a state of its own: the
    public attributes that hold float arrays, those that hold Python floats (a learned
    scalar's place), and for a trainable layer those left None (weights that
    ``initialize`` makes). Gradients (``gradient_*``) are not kept: the next ``backward``
    makes them. See ``layer_state``."""
    names = [n for n in public_names(layer) if not n.startswith("gradient_")]
    arrays = [n for n in names if is_float_array(_value(layer, n))]
    floats = [n for n in names if is_float(_value(layer, n))]
    unset = [n for n in names if _value(layer, n) is None] \
        if getattr(layer, "trainable", False) else []
    return sorted(arrays), sorted(floats), sorted(unset)


def layer_state(layer, where):
    """What ``layer`` keeps: its ``state_dict()``, or for a layer whose ``state_dict()`` is
    empty (one written the course-sheet way) its public float arrays, among the public
    attributes that the same layer just built from its config has (``kept_names``:
    ``weights``, ``bias``, or in a trainable layer a ``weights = None`` that ``initialize``
    fills; no gradient), and its learned Python floats (``_state.learned_scalars``: an
    attribute ``alpha`` with a number ``gradient_alpha``) where the new layer has a float
    in that place. What ``forward`` adds later is the cache of the last batch and
    is not saved.

    A layer is refused (``TypeError``, naming it and the array) when an array it learned
    would not survive: an array ``X`` with a gradient ``gradient_X``, or the ``weights``
    of a trainable layer, that is not saved.
    """
    state = dict(state_of(layer))
    scalars = learned_scalars(layer)
    if not state:
        arrays, floats, unset = kept_names(built(layer))
        state = {name: _value(layer, name) for name in arrays + unset
                 if is_float_array(_value(layer, name))}
        state.update({name: float(_value(layer, name)) for name in scalars if name in floats})
    # Learned, whatever the constructor did: an array or a float with a gradient, and the
    # weights of a trainable layer (the course's contract).
    learned = {name[9:] for name in dir(layer) if name.startswith("gradient_") and
               isinstance(_value(layer, name), np.ndarray)} | set(scalars)
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


def built(layer):
    """A layer of ``layer``'s class built from its config; NumPy's random state is put back
    (the constructor draws: the caller's stream goes on as if it had not)."""
    rng = np.random.get_state()
    try:
        return registry.build(type(layer), config_of(layer))
    finally:
        np.random.set_state(rng)


def _refuse_hidden_optimizers(layer, where):
    """A course-sheet layer's second optimizer (a bias optimizer kept in an attribute of
    its own) with state would come back fresh: refuse rather than load different."""
    for name, value in vars(layer).items():
        if value is not layer.optimizer and callable(getattr(value, "calculate_update", None)) \
                and callable(getattr(value, "state_dict", None)) and \
                any(isinstance(v, np.ndarray) for v in value.state_dict().values()):
            raise TypeError(
                f"checkpoint.save: cannot save {where} ({type(layer).__name__}): the state of "
                f"its optimizer in {name!r} would be lost (only the optimizer property is "
                f"saved); give the class parameter_optimizers() or state_dict()/"
                f"load_state_dict()")


# -- reading --------------------------------------------------------------------------------

def read_network(r, doc):
    """The network of a checked document (``r`` is the ``Reader``)."""
    if isinstance(doc, dict) and (doc.get("format") != FORMAT or
                                  doc.get("version") not in READABLE_VERSIONS):
        r.fail(DOCUMENT, f"expected format {FORMAT!r} version {VERSION} (or older), got "
                         f"{r.short(doc.get('format'))} version {r.short(doc.get('version'))}")
    r.obj(doc, DOCUMENT, TOP, optional=("config", "data"))
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
    if trainable and "optimizer" not in doc:
        r.fail(where, f"expected an optimizer entry for a {cls.__name__}")
    later = {}
    if trainable:
        # The arrays' headers are checked before the layer allocates its own, so the file
        # holds at least what the layer will; their data is read after it is built.
        try:
            shapes = cls.parameter_shapes_for(kwargs)
        except (TypeError, AttributeError, ValueError) as err:
            r.fail(f"{where}.args", f"invalid arguments ({r.short(str(err))})")
        # A layer's dtype argument, or that of the layer it wraps (a Bidirectional's).
        dtype = kwargs.get("dtype") or next((v.dtype for v in kwargs.values() if callable(
            getattr(v, "parameter_shapes_for", None))), np.float64)
        for name, shape in shapes.items():
            if name not in state:
                r.fail(f"{where}.state", f"expected the parameter {name!r}")
            later[name] = r.array(state[name], f"{where}.state.{name}", dtype, shape=shape,
                                  later=True)
    layer = r.construct(cls, kwargs, where)
    if not trainable and has_own_optimizer(layer) != ("optimizer" in doc):
        r.fail(where, f"expected {'an' if has_own_optimizer(layer) else 'no'} optimizer "
                      f"entry for a {cls.__name__}")
    current = dict(state_of(layer))
    if not current:
        # A layer without a state of its own keeps its public float arrays (``layer_state``).
        return _read_public(r, layer, doc, state, where)
    if set(state) != set(current):
        r.fail(f"{where}.state", f"expected the entries {sorted(current)}, "
                                 f"got {r.short(sorted(state))}")
    arrays = {}
    for name, value in current.items():
        # The file's data goes into the layer's own array where it can: the layer's first
        # draw is overwritten instead of kept beside the file's (memory: 2x the file, not 3x).
        arrays[name] = later[name](into=value) if name in later else \
            read_value(r, state[name], f"{where}.state.{name}", like=value, fill=True)
    r.load_state(layer, arrays, f"{where}.state")
    layer.testing_phase = r.bool(doc["testing_phase"], f"{where}.testing_phase")
    return layer


def _read_public(r, layer, doc, state, where):
    """The public float arrays of a layer without a state of its own (``layer_state``):
    each one the new layer has, in its dtype and shape; for an attribute it leaves None
    (``weights`` that initialize makes), an array of any float dtype and shape; for one
    that holds a float (a learned scalar), a finite number."""
    arrays, floats, unset = kept_names(layer)
    if set(arrays) - set(state) or set(state) - set(arrays) - set(unset) - set(floats):
        may = sorted(unset + floats)
        r.fail(f"{where}.state", f"expected the entries {arrays}"
                                 f"{f' (and may hold {may})' if may else ''}, "
                                 f"got {r.short(sorted(state))}")
    for name in state:
        here = f"{where}.state.{name}"
        setattr(layer, name, read_value(r, state[name], here, like=_value(layer, name), fill=True)
                if name in arrays else r.float(state[name], here) if name in floats
                else r.array(state[name], here, None))
    layer.testing_phase = r.bool(doc["testing_phase"], f"{where}.testing_phase")
    return layer


def read_value(r, value, where, like, fill=False):
    """A state entry shaped like ``like`` (the object's current value of that entry); with
    ``fill``, an array is read into ``like`` itself where it can (``Reader.array``)."""
    if isinstance(like, bool):
        return r.bool(value, where)
    if isinstance(like, np.ndarray):
        return r.array(value, where, like.dtype, shape=like.shape, later=True)(
            into=like if fill else None)
    return read_number(r, value, where)


def read_number(r, value, where):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return r.int(value, where, -2**63)
    return r.float(value, where, none=True)


def read_layer_optimizer(r, layer, doc, where, shared):
    """Give ``layer`` the optimizer of ``doc`` (a ``parameter_copy`` of ``shared``, or its
    own) and its state."""
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
        shapes = None
    else:
        # A course-sheet layer's one optimizer: its arrays are shaped like one of the
        # layer's arrays (which one it updates, the layer alone knows).
        optimizers, parameters = {"optimizer": layer.optimizer}, None
        arrays = [getattr(layer, name) for name in public_arrays(layer)]  # gradients aside
        shapes = {(a.dtype, a.shape) for a in arrays}
    states = r.obj(doc["state"], f"{where}.state", tuple(optimizers))
    for name, optimizer in optimizers.items():
        here = f"{where}.state.{name}"
        # Any entries: the optimizer's own load_state_dict decides what it can hold (a
        # lazily made state is empty before the first step). The arrays are checked here
        # first: the parameter's dtype and shape, the header before the data.
        state = r.mapping(states[name], here)
        values = {}
        for field, value in state.items():
            at = f"{here}.{r.key(field)}"
            if value is None:
                values[field] = None
            elif not isinstance(value, str):
                values[field] = read_number(r, value, at)
            elif parameters is not None:
                # An optimizer's state arrays have its parameter's shape, and its dtype or
                # float32 (``_like``), read back in the dtype saved.
                values[field] = r.array(value, at, _state_dtypes(parameters[name]),
                                        shape=parameters[name].shape)
            else:
                values[field] = r.array(value, at, None, shapes=shapes)
        r.load_state(optimizer, values, here)


def _history(r, record, where):
    r.obj(record, where, (), optional=HISTORY_KEYS)
    return {k: (r.int(v, f"{where}.{k}") if k == "epoch" else r.float(v, f"{where}.{k}", none=True))
            for k, v in record.items()}
