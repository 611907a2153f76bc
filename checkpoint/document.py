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
    training, data      the resumable run (``run.py``) or null; a data layer's state

A layer whose ``state_dict()`` is empty (written the course-sheet way) is saved by the
public float arrays and learned floats that a new one has (``_state.kept_names``), and its
``optimizer`` property.
"""
import copy

import numpy as np

from _state import has_own_optimizer, is_float_array, kept_names, learned_names, public_arrays
from _state import value as _value

from .reader import ANY_FLOAT, short
from .registry import FLOAT_DTYPES, build, classes, config_of, describe, name_of, plain, state_of

FORMAT, VERSION = "numpy-dl-checkpoint", 2
MAX_LOSS_VALUES = 1 << 24       # one per step; checked before a list (4x the bytes) is made
HISTORY = ("epoch", "train_loss", "learning_rate", "validation_loss", "validation_accuracy")
ANY = object()        # read_value's "any float array"
TOP = ("format", "version", "class", "dtype", "optimizer", "weights_initializer",
       "bias_initializer", "loss_layer", "layers", "loss", "history", "epoch_progress", "training")


def network_doc(net, arrays):
    """The document of ``net``, its arrays appended to ``arrays``; ``training`` is None."""
    name_of(net, "network", "a network")      # saved as a base, it would compute otherwise
    config = plain(net.get_config(), type(net).__name__)
    names = [n for c in type(net).__mro__ for n, known in classes("network").items() if known is c]
    state = dict(net.state_dict(), loss=np.asarray(net.state_dict()["loss"], np.float64))
    return {"format": FORMAT, "version": VERSION, "class": names,
            "dtype": config.pop("dtype", None), **({"config": config} if config else {}),
            "optimizer": describe(net.optimizer, "optimizer", "optimizer"),
            **{key: getattr(net, key) and describe(getattr(net, key), "initializer", key)
               for key in ("weights_initializer", "bias_initializer")},
            "loss_layer": net.loss_layer and name_of(net.loss_layer, "loss", "loss_layer"),
            "layers": [layer_doc(layer, net, arrays, f"layers[{i}]")
                       for i, layer in enumerate(net.layers)],
            **{k: plain(state[k], k, arrays) for k in ("loss", "history", "epoch_progress")},
            "training": None}


def layer_doc(layer, net, arrays, where):
    """``{"class", "args", "testing_phase", "state"}``, and ``"optimizer"`` for a layer that
    has one: the network's shared one (``parameter_copy``) or its own, and its state."""
    state, own = layer_state(layer, where), has_own_optimizer(layer)
    doc = {**describe(layer, "layer", where), "testing_phase": bool(layer.testing_phase),
           "state": plain(state, f"{where}.state", arrays)}
    if not own and not callable(getattr(layer, "parameter_optimizers", None)):
        return doc
    optimizers = {"optimizer": layer.optimizer} if own else layer.parameter_optimizers()
    if not optimizers or None in optimizers.values():
        return {**doc, "optimizer": None}
    for name, value in vars(layer).items() if own else ():
        if value is not layer.optimizer and callable(getattr(value, "calculate_update", None)) \
                and any(isinstance(v, np.ndarray) for v in state_of(value).values()):
            raise TypeError(f"checkpoint.save: cannot save {where} ({type(layer).__name__}): the "
                            f"state of its optimizer in {name!r} would be lost (only the optimizer "
                            f"property is saved); give the class parameter_optimizers() or "
                            f"state_dict()/load_state_dict()")
    first = next(iter(optimizers.values()))
    shared = getattr(first, "source", None) is net.optimizer
    # A state array is kept in its parameter's dtype or float32 (a float16 parameter's
    # moments); one left in another dtype by a conversion is saved as the next step makes it.
    states = {name: {k: v.astype(np.promote_types(state[name].dtype, np.float32), copy=False)
                     if not own and is_float_array(v) and v.dtype not in _dtypes(state[name])
                     else v for k, v in state_of(opt).items()} for name, opt in optimizers.items()}
    return {**doc, "optimizer": {"shared": shared,
                                 "own": None if shared else describe(first, "optimizer", where),
                                 "state": plain(states, f"{where}.optimizer", arrays)}}


def _dtypes(parameter):
    return tuple(dict.fromkeys((np.dtype(parameter.dtype), np.dtype(np.float32))))


def layer_state(layer, where):
    """``layer.state_dict()``, or where it is empty what a new layer of its class has of the
    public float arrays and floats (``kept_names``). ``TypeError`` when something it learned
    (``_state.learned_names``) would be lost."""
    state = dict(state_of(layer))
    if not state:
        rng = np.random.get_state()       # the constructor draws: the caller's stream goes on
        try:
            arrays, floats, unset = kept_names(build(type(layer), config_of(layer)))
        finally:
            np.random.set_state(rng)
        state = {n: _value(layer, n) for n in arrays + unset if is_float_array(_value(layer, n))}
        state.update({n: float(_value(layer, n)) for n in learned_names(layer) if n in floats})
    lost = sorted(learned_names(layer) - set(state))
    if lost:
        raise TypeError(
            f"checkpoint.save: cannot save {where} ({type(layer).__name__}): its {lost[0]} would "
            f"be lost (saved are its state_dict(), or else the public float arrays among the "
            f"attributes its constructor makes: {sorted(state) or 'none'}); create {lost[0]} "
            f"in the constructor, or give the class state_dict()/load_state_dict()")
    return state


# -- reading ----------------------------------------------------------------------------------

def read_network(r, doc):
    """The network of a document (``r`` is the ``Reader``)."""
    if isinstance(doc, dict) and (doc.get("format") != FORMAT or doc.get("version") not in (1, 2)):
        r.fail("network.json", f"expected format {FORMAT!r} version {VERSION} (or older), got "
                               f"{short(doc.get('format'))} version {short(doc.get('version'))}")
    r.obj(doc, "network.json", TOP, optional=("config", "data"))
    # Version 1 wrote one name; every such network was a NeuralNetwork or derived from one.
    names = [doc["class"], "NeuralNetwork"] if doc["version"] == 1 else doc["class"]
    known = classes("network")
    cls = next((known[n] for n in names[:16] if isinstance(n, str) and n in known), None) \
        if isinstance(names, list) else None
    r.check(doc["class"], cls, "class", f"a list of network classes with one of "
            f"{', '.join(known) or 'none (import NeuralNetwork first)'}")
    optimizer = r.build(("optimizer",), doc["optimizer"], "optimizer")
    initializers = {k: None if doc[k] is None else r.build(("initializer",), doc[k], k)
                    for k in ("weights_initializer", "bias_initializer")}
    dtype = None if doc["dtype"] is None else r.name(doc["dtype"], FLOAT_DTYPES, "dtype")
    config = {"dtype": dtype}
    for key, value in r.mapping(doc.get("config", {}), "config").items():
        r.check(key, key != "dtype", "config", "the dtype at the top of the document")
        config[key] = r.argument(value, f"config.{key}")
    layers = [read_layer(r, d, f"layers[{i}]")
              for i, d in enumerate(r.list(doc["layers"], "layers"))]
    loss = None if doc["loss_layer"] is None else \
        r.name(doc["loss_layer"], classes("loss"), "loss_layer")
    try:
        net = cls.from_config(config, layers=layers, optimizer=optimizer, **initializers,
                              loss_layer=loss and loss())
    except (TypeError, ValueError) as err:
        r.fail("network.json", f"not a valid {cls.__name__} ({short(str(err), 300)})")
    for i, (layer, d) in enumerate(zip(layers, doc["layers"])):
        if "optimizer" in d:
            read_optimizer(r, layer, d["optimizer"], f"layers[{i}].optimizer", optimizer)
    steps, loss_sum, samples = r.list(doc["epoch_progress"], "epoch_progress", 3)
    r.load_state(net, {
        "loss": r.array(doc["loss"], "loss", [(np.float64, (None,))], MAX_LOSS_VALUES),
        "history": [{k: r.int(v, f"history[{i}].{k}") if k == "epoch" else
                     r.float(v, f"history[{i}].{k}", none=True) for k, v in
                     r.obj(h, f"history[{i}]", (), HISTORY).items()}
                    for i, h in enumerate(r.list(doc["history"], "history"))],
        "epoch_progress": [r.int(steps, "epoch_progress[0]"),
                           r.float(loss_sum, "epoch_progress[1]"),
                           r.int(samples, "epoch_progress[2]")]}, "network")
    return net


def read_layer(r, doc, where):
    """The layer of ``doc`` (built only if its parameters fit in the file), its state read
    into its own arrays, each header checked against them first."""
    r.obj(doc, where, ("class", "args", "testing_phase", "state"), optional=("optimizer",))
    layer = r.build(("layer",), doc, where, extra=("testing_phase", "state", "optimizer"))
    state, name = r.mapping(doc["state"], f"{where}.state"), type(layer).__name__
    has = callable(getattr(layer, "parameter_optimizers", None)) or has_own_optimizer(layer)
    r.check(name, has == ("optimizer" in doc), where, f"{'an' if has else 'no'} optimizer entry")
    own = dict(state_of(layer))
    # A course-sheet layer: the arrays it has, a float where it has one, any for None.
    arrays, floats, unset = (sorted(own), [], []) if own else kept_names(layer)
    like = own or {n: ANY if n in unset else _value(layer, n) for n in arrays + floats + unset}
    r.check(short(sorted(state)), not set(arrays) - set(state) and set(state) <= set(like),
            f"{where}.state", f"the entries {arrays}" + ("" if own else f" (and may hold "
                                                            f"{sorted(unset + floats)})"))
    values = {n: read_value(r, v, f"{where}.state.{n}", like[n], True) for n, v in state.items()}
    if own:
        r.load_state(layer, values, f"{where}.state")
    for name, value in values.items() if not own else ():
        setattr(layer, name, value)
    layer.testing_phase = r.bool(doc["testing_phase"], f"{where}.testing_phase")
    return layer


def read_value(r, value, where, like, fill=False):
    """A value like ``like``: an array of its dtype and shape (``ANY``: any float array; with
    ``fill`` read into ``like`` itself), an object of its keys, a list of its length, or a
    boolean, float or number."""
    if isinstance(like, dict):
        return {k: read_value(r, v, f"{where}.{k}", like[k], fill)
                for k, v in r.obj(value, where, tuple(like)).items()}
    if isinstance(like, list):
        return [read_value(r, v, f"{where}[{i}]", x, fill)
                for i, (v, x) in enumerate(zip(r.list(value, where, len(like)), like))]
    if like is ANY or isinstance(like, np.ndarray):
        return r.array(value, where, ANY_FLOAT) if like is ANY else \
            r.array(value, where, [(like.dtype, like.shape)], into=like if fill else None)
    return r.bool(value, where) if isinstance(like, bool) else \
        r.float(value, where) if isinstance(like, float) else r.number(value, where)


def read_optimizer(r, layer, doc, where, shared):
    """Give ``layer`` its optimizer (a ``parameter_copy`` of ``shared``, or its own) and the
    state of each: arrays of the parameter's shape, in its dtype or float32."""
    if doc is None:
        layer.optimizer = None
        return
    r.obj(doc, where, ("shared", "own", "state"))
    if r.bool(doc["shared"], f"{where}.shared"):
        make = getattr(shared, "parameter_copy", None)
        layer.optimizer = make() if callable(make) else copy.deepcopy(shared)
    else:
        layer.optimizer = r.build(("optimizer",), doc["own"], f"{where}.own")
    if callable(getattr(layer, "parameter_optimizers", None)):
        optimizers = layer.parameter_optimizers()
        allowed = {n: [(d, p.shape) for d in _dtypes(p)] for n, p in layer.parameters().items()}
    else:   # a course-sheet layer's one optimizer: shaped like one of the layer's arrays
        optimizers = {"optimizer": layer.optimizer}
        arrays = [getattr(layer, n) for n in public_arrays(layer)]
        allowed = {"optimizer": [(a.dtype, a.shape) for a in arrays]}
    states = r.obj(doc["state"], f"{where}.state", tuple(optimizers))
    for name, optimizer in optimizers.items():
        here = f"{where}.state.{name}"
        # Any entries: the optimizer's own load_state_dict decides what it holds.
        r.load_state(optimizer, {
            k: None if v is None else r.number(v, f"{here}.{k:.40}") if not isinstance(v, str)
            else r.array(v, f"{here}.{k:.40}", allowed[name])
            for k, v in r.mapping(states[name], here).items()}, here)
