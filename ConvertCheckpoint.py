"""Convert a checkpoint of the old pickle format into the data-only format.

    .venv/bin/python ConvertCheckpoint.py OLD.pkl NEW.ckpt

Older versions of this framework saved networks with pickle; every kind of network
that the last of them wrote, trained with each of its optimizers, converts
(tests/data/pickles holds one of each). Reading a pickle can run code written into
it, which is why ``NeuralNetwork.load`` refuses them. Run this only on a file you
trust (one you made yourself, or from someone you would let run a program on your
machine). It reads the pickle with an unpickler that
admits only the framework's classes and NumPy arrays of numbers (no object or
structured dtypes, no array larger than its data, no raw scalar memory), then
rebuilds every object from its constructor's arguments and loads its state through
the state protocol, so a damaged file whose shapes or values do not fit is refused
instead of converted. The network, its optimizer state and its history are
written as a data-only checkpoint; the resumable state of an interrupted
``TrainLeNet.py`` run is not converted. NEW must not exist yet. Any problem ends in
one line and exit status 2.
"""
import argparse
import copy
import io
import pickle
import sys
from pathlib import Path

import numpy as np

import checkpoint
import NeuralNetwork

MAX_PICKLE_BYTES = 1 << 30


class _FrameworkOnly(pickle._Unpickler):
    """Resolves only classes of the framework's packages and NumPy's array pieces.

    The pure-Python unpickler, so that building a dtype or an array can be checked
    (``load_build``): only numeric dtypes, and an array's declared shape must be
    what its bytes hold. This narrows what a pickle can do; it does not make an
    untrusted pickle safe (it can still set attributes on the classes it names).
    """

    PACKAGES = ("Layers", "Optimization", "Models", "NeuralNetwork")

    def find_class(self, module, name):
        if (module, name) in _NUMPY:
            return _NUMPY[module, name]
        if module.split(".")[0] in self.PACKAGES and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj
        if module == "numpy" and isinstance(getattr(np, name, None), type) \
                and issubclass(getattr(np, name), np.number):
            return getattr(np, name)
        raise pickle.UnpicklingError(f"the file names {module}.{name}, which is neither a class "
                                     f"of the framework nor a NumPy array type")

    def load_build(self):
        state, target = self.stack[-1], self.stack[-2]
        if isinstance(target, np.dtype):
            # (version, byte order, subarray, names, fields, ...): no fields, no subarrays.
            if not (isinstance(state, tuple) and len(state) >= 5 and state[2] is None
                    and state[3] is None and state[4] is None):
                raise pickle.UnpicklingError("a dtype with fields or subarrays")
        elif isinstance(target, np.ndarray):
            if not (isinstance(state, tuple) and len(state) == 5 and _numeric(state[2])
                    and isinstance(state[4], (bytes, bytearray))):
                raise pickle.UnpicklingError("an array that is not numbers in raw bytes")
        super().load_build()
        if isinstance(target, np.dtype) and not _numeric(target):
            raise pickle.UnpicklingError(f"the dtype {target}")
    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build


def _numeric(dtype):
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf" and not dtype.hasobject \
        and dtype.fields is None and dtype.subdtype is None


def _dtype(*args):
    dtype = np.dtype(*args)
    if not _numeric(dtype):
        raise pickle.UnpicklingError(f"the dtype {dtype!s:.40}: only numbers are converted")
    return dtype


def _reconstruct(subtype, shape, typecode):
    # NumPy pickles an empty array here and fills it from its state (load_build).
    if subtype is not np.ndarray or tuple(shape) != (0,):
        raise pickle.UnpicklingError("an array reconstructed other than NumPy does it")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _scalar(dtype, data):
    if not _numeric(dtype) or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("a NumPy scalar that is not a number")
    return np.frombuffer(data, dtype)[0]


def _frombuffer(buffer, dtype, shape, order):
    if not _numeric(dtype) or order not in ("C", "F"):
        raise pickle.UnpicklingError("an array that is not numbers")
    return np.frombuffer(buffer, dtype).reshape(shape, order=order).copy()


_NUMPY = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _dtype}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _NUMPY[_core, "_reconstruct"] = _reconstruct
    _NUMPY[_core, "scalar"] = _scalar
for _core in ("numpy.core.numeric", "numpy._core.numeric"):
    _NUMPY[_core, "_frombuffer"] = _frombuffer


def _value(obj, name, default=None):
    """``obj``'s attribute as pickled (its ``__dict__`` first: an old layout's plain
    attribute may be a property today), else as the class gives it."""
    if name in vars(obj):
        return vars(obj)[name]
    hyper = vars(obj).get("_hyper")        # the release kept an optimizer's hyperparameters here
    if isinstance(hyper, dict) and name in hyper:
        return hyper[name]
    try:
        return getattr(obj, name)
    except AttributeError:
        return default


def _config(obj):
    """The constructor's arguments of a pickled ``obj``, read back from it."""
    config = {}
    for arg in checkpoint.constructor_args(type(obj)):
        value = _value(obj, arg)
        if arg == "dtype":
            value = np.asarray(_value(obj, "weights")).dtype.type
        config[arg] = value
    return config


def _rebuild(obj, kind):
    """A fresh object of ``obj``'s registered class, built from its config, with its state."""
    if type(obj) not in checkpoint.classes(kind).values():
        raise ValueError(f"expected a {kind}, got {type(obj).__name__}")
    if kind == "optimizer":
        fresh = checkpoint.build(type(obj), _config(obj))
        fresh.load_state_dict(_optimizer_state(obj))
        return fresh
    fresh = type(obj)(**_config(obj))
    state = fresh.state_dict()
    fresh.load_state_dict({key: _state_value(obj, key, now) for key, now in state.items()})
    return fresh


def _state_value(obj, key, now):
    value = _value(obj, key, now)
    if isinstance(now, np.ndarray):
        value = np.array(value, dtype=now.dtype if value is None else np.asarray(value).dtype)
        if value.dtype.kind != "f" or not np.isfinite(value).all():
            raise ValueError(f"{type(obj).__name__}.{key}: expected finite floating-point "
                             f"numbers, got {value.dtype} values")
    return value


# Kept on each optimizer by the pickle release (BatchNormalization switched it off for
# gamma and beta); today the layer declares which parameters it regularizes.
_RETIRED = ("apply_regularizer",)


def _optimizer_state(old):
    """The state of the parameter that the pickled optimizer ``old`` updated: its public
    attributes that are not constructor arguments (the release's ``v``, ``r``, ``k``),
    for the fresh optimizer's ``load_state_dict`` to take or refuse."""
    args = checkpoint.constructor_args(type(old))
    return {key: _state_value(old, key, value) for key, value in vars(old).items()
            if not key.startswith("_") and key not in args + ["source"] and key not in _RETIRED}


def rebuild(net):
    """The network ``net`` (as unpickled) rebuilt through the state protocol."""
    optimizer = _rebuild(net.optimizer, "optimizer")
    layers = []
    for old in net.layers:
        layer = _rebuild(old, "layer")
        layer.testing_phase = bool(old.testing_phase)
        optimizers = old.parameter_optimizers() if hasattr(old, "parameter_optimizers") else None
        if optimizers is not None:
            first = next(iter(optimizers.values()))
            # The release gave each layer a deep copy: one with the network's class and
            # config becomes a copy that reads the network's (the learning rate in one place).
            same = type(first) is type(net.optimizer) and \
                _config(first) == _config(net.optimizer)
            layer.optimizer = optimizer.parameter_copy() if same else _rebuild(first, "optimizer")
            for name, new in layer.parameter_optimizers().items():
                new.load_state_dict(_optimizer_state(optimizers[name]))
        layers.append(layer)
    config = net.get_config() if type(net) is not NeuralNetwork.NeuralNetwork else {}
    config = {k: np.dtype(v).type if k == "dtype" else v for k, v in config.items()}
    initializers = {key: None if _value(net, key) is None else copy.deepcopy(_value(net, key))
                    for key in ("weights_initializer", "bias_initializer")}
    loss = _value(net, "loss_layer")
    if loss is not None and type(loss) not in checkpoint.classes("loss").values():
        raise ValueError(f"expected a loss layer, got {type(loss).__name__}")
    fresh = type(net).from_config(config, layers=layers, optimizer=optimizer,
                                  loss_layer=None if loss is None else type(loss)(),
                                  **initializers)
    progress = _value(net, "epoch_progress", (0, 0.0, 0))
    fresh.load_state_dict({"loss": np.asarray(_value(net, "loss", []), np.float64),
                           "history": list(_value(net, "history", [])),
                           "epoch_progress": list(progress)})
    return fresh


def convert(old, new):
    """Read the pickled network ``old`` and save it as a checkpoint ``new``."""
    with open(old, "rb") as f:
        data = f.read(MAX_PICKLE_BYTES + 1)
    if len(data) > MAX_PICKLE_BYTES:
        raise ValueError(f"more than {MAX_PICKLE_BYTES} bytes")
    net = _FrameworkOnly(io.BytesIO(data)).load()
    if not isinstance(net, NeuralNetwork.NeuralNetwork):
        raise ValueError(f"expected a pickled NeuralNetwork, got {type(net).__name__}")
    rng = np.random.get_state()            # constructors draw initial weights: put it back
    try:
        fresh = rebuild(net)
    finally:
        np.random.set_state(rng)
    checkpoint.save(new, fresh)            # refuses what load would refuse
    return fresh


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ConvertCheckpoint.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the pickle checkpoint (trusted!)")
    parser.add_argument("new", type=Path, help="where to write the data-only checkpoint")
    args = parser.parse_args(argv)
    if args.new.exists():
        parser.exit(2, f"ConvertCheckpoint.py: error: {args.new} exists; choose a new name\n")
    try:
        net = convert(args.old, args.new)
    except Exception as err:                # noqa: BLE001 - whatever a damaged pickle raises
        message = " ".join(str(err).split())[:300] or type(err).__name__
        parser.exit(2, f"ConvertCheckpoint.py: error: cannot convert {args.old}: "
                       f"{type(err).__name__}: {message}\n")
    print(f"wrote {args.new}: {type(net).__name__} with {len(net.layers)} layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
