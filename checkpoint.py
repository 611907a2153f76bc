"""Checkpoints that hold data only: saving and loading networks and training runs.

A checkpoint is one uncompressed zip archive (``unzip -l`` lists it)::

    network.json        what to build: the network class, every layer's registered
                        class name and constructor arguments, the optimizer, the
                        regularizer, initializers, loss, history and, for a
                        training run, the run's settings and state
    arrays/0.npy ...    every array (parameters, optimizer moments, ...) as a
                        NumPy .npy file, referenced by name from network.json

and a zip comment ``sha256:<64 hex digits>``, the SHA-256 of every byte of the
file before those 64 digits, so a flipped or truncated byte is reported.

Loading never unpickles and never imports or looks up a name written in the
file: class names are keys into the registries below, built from the
framework's own modules. Before anything is built it checks the checksum, the
archive's members, every value of network.json (types, ranges, unknown keys)
and every array's header: dtype (float32/float64 for parameters and moments,
integers only where the format says so), shape (against the layer the array
belongs to) and size (against the bytes actually in the file); then the values
(finite; variances and Adam's second moments not negative). A bad file
raises ``CheckpointError`` naming the file and what is wrong, and leaves the
process as it was (NumPy's global random state included).

Saving is atomic: the archive is written to a temporary file next to the
destination (created with mode 0666 minus the umask, by the OS), flushed to
disk and renamed over it. Temporary files left by a killed save are removed by
the next save to the same path.
"""
import hashlib
import inspect
import io
import json
import math
import numbers
import os
import re
import sys
import tokenize
import uuid
import zipfile
from pathlib import Path

import numpy as np

import Layers
import NeuralNetwork as network_module
from Layers.Base import BaseLayer, learned_state
from Optimization import Constraints, Loss, Optimizers, Schedules

FORMAT = "numpy-dl-checkpoint"
VERSION = 1
DOCUMENT = "network.json"
MAX_FILE_BYTES = 4 << 30        # a checkpoint is read into memory whole
MAX_DOCUMENT_BYTES = 4 << 20      # LeNet's is 6 KB; parsing costs ~25x the size
MAX_MEMBERS = 100_000
MAX_ITEMS = 100_000             # layers, history records, ... in one list
SEAL = b"sha256:"
STAMP = (1980, 1, 1, 0, 0, 0)


class CheckpointError(ValueError):
    """A file is not a valid checkpoint; the message names the file and the problem."""


# -- registries: the only classes a checkpoint can name ---------------------------------

def _layer_classes():
    """Every layer class of ``Layers`` (module ``Layers.X`` defines class ``X``)."""
    classes = {}
    for name in Layers.__all__:
        cls = getattr(getattr(Layers, name), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseLayer):
            classes[name] = cls
    return classes


LAYERS = _layer_classes()
OPTIMIZERS = {cls.__name__: cls for cls in
              (Optimizers.Sgd, Optimizers.SgdWithMomentum, Optimizers.Adam)}
REGULARIZERS = {cls.__name__: cls for cls in
                (Constraints.L2_Regularizer, Constraints.L1_Regularizer)}
INITIALIZERS = {cls.__name__: cls for cls in (Layers.Initializers.Constant,
                                              Layers.Initializers.UniformRandom,
                                              Layers.Initializers.Xavier, Layers.Initializers.He,
                                              Layers.Initializers.UniformFanOut)}
LOSSES = {cls.__name__: cls for cls in (Loss.CrossEntropyLoss, Loss.L2Loss)}
SCHEDULES = {cls.__name__: cls for cls in (Schedules.ExponentialDecay, Schedules.StepDecay)}
FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64}


def _network_classes():
    from Models import LeNet
    return {"NeuralNetwork": network_module.NeuralNetwork, "LeNet": LeNet.LeNet}


def _constructor_args(cls):
    if cls.__init__ is object.__init__:
        return []
    return [name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


# -- saving ---------------------------------------------------------------------------------

class _Writer:
    """Collects arrays while the document is built; each becomes ``arrays/<n>.npy``."""

    def __init__(self):
        self.arrays = []

    def array(self, value):
        self.arrays.append(np.ascontiguousarray(value))
        return f"arrays/{len(self.arrays) - 1}.npy"

    def maybe_array(self, value):
        return None if value is None else self.array(value)


def _plain(value, where):
    """A constructor argument as JSON: numbers, strings, None, lists of them, dtypes."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v, where) for v in value]
    if isinstance(value, type) and issubclass(value, np.floating):
        return np.dtype(value).name
    raise TypeError(f"checkpoint.save: cannot save {where}={value!r}")


def _object(registry, obj, where):
    """``{"class": name, "args": {...}}`` of a registered object; args read back from attributes."""
    name = type(obj).__name__
    if registry.get(name) is not type(obj):
        raise TypeError(f"checkpoint.save: cannot save {where} of type {name}: a checkpoint holds "
                        f"only the framework's own classes ({', '.join(sorted(registry))})")
    return {"class": name, "args": {arg: _plain(getattr(obj, arg), f"{name}.{arg}")
                                    for arg in _constructor_args(type(obj))}}


def _optimizer_doc(optimizer):
    name = type(optimizer).__name__
    if OPTIMIZERS.get(name) is not type(optimizer):
        raise TypeError(f"checkpoint.save: cannot save an optimizer of type {name}")
    args = {}
    for arg in _constructor_args(type(optimizer)):
        value = optimizer._hyper[arg]
        args[arg] = (None if value is None else _object(REGULARIZERS, value, "regularizer")) \
            if arg == "regularizer" else _plain(value, f"{name}.{arg}")
    return {"class": name, "args": args}


def _optimizer_state(optimizer, writer):
    state = {}
    for field in ("v", "r", "k"):
        if hasattr(optimizer, field):
            value = getattr(optimizer, field)
            state[field] = int(value) if field == "k" else writer.maybe_array(value)
    return state


def _layer_doc(layer, net, writer):
    doc = _object(LAYERS, layer, "a layer")
    doc["testing_phase"] = bool(layer.testing_phase)
    doc["state"] = _snapshot_entry(learned_state(layer), writer)
    if getattr(layer, "trainable", False):
        optimizers = getattr(layer, "_optimizers", None)
        if optimizers is None:
            doc["optimizer"] = None
        else:
            shared = optimizers["weights"]._hyper is net.optimizer._hyper
            doc["optimizer"] = {
                "shared": shared,
                "own": None if shared else _optimizer_doc(optimizers["weights"]),
                "state": {name: _optimizer_state(opt, writer) for name, opt in optimizers.items()}}
    return doc


def _snapshot_entry(entry, writer):
    return {name: (value if isinstance(value, bool) else writer.array(value))
            for name, value in entry.items()}


def _training_doc(training, writer):
    rng_name, keys, pos, has_gauss, gauss = training["rng"]
    stopper = training.get("early_stopping")
    schedule = training.get("schedule")
    return {
        "finished": bool(training.get("finished", False)),
        "settings": {str(k): _plain(v, k) for k, v in training.get("settings", {}).items()},
        "data": {"order": writer.array(np.asarray(training["data"]["order"], np.int64)),
                 "position": int(training["data"]["position"])},
        "rng": {"keys": writer.array(np.asarray(keys, np.uint32)), "pos": int(pos),
                "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)},
        "schedule": None if schedule is None else
        dict(_object(SCHEDULES, schedule, "schedule"), initial=schedule.initial),
        "early_stopping": None if stopper is None else {
            "patience": stopper.patience, "min_delta": stopper.min_delta,
            "best": None if math.isinf(stopper.best) else stopper.best,
            "best_epoch": stopper.best_epoch, "epoch": stopper.epoch,
            "best_state": None if stopper._best_parameters is None else
            [_snapshot_entry(entry, writer) for entry in stopper._best_parameters]},
    }


def _document(net, training, writer):
    networks = _network_classes()
    kind = type(net).__name__
    if networks.get(kind) is not type(net):
        raise TypeError(f"checkpoint.save: expected a NeuralNetwork or LeNet, got {kind}")
    doc = {
        "format": FORMAT, "version": VERSION, "class": kind,
        "dtype": np.dtype(net.dtype).name if kind == "LeNet" else None,
        "optimizer": _optimizer_doc(net.optimizer),
        "weights_initializer": None if net.weights_initializer is None else
        _object(INITIALIZERS, net.weights_initializer, "weights_initializer"),
        "bias_initializer": None if net.bias_initializer is None else
        _object(INITIALIZERS, net.bias_initializer, "bias_initializer"),
        "loss_layer": None if net.loss_layer is None else
        _object(LOSSES, net.loss_layer, "loss_layer")["class"],
        "layers": [_layer_doc(layer, net, writer) for layer in net.layers],
        "loss": writer.array(np.asarray(net.loss, np.float64)),
        "history": [{k: _plain(v, k) for k, v in record.items()} for record in net.history],
        "epoch_progress": [int(net.epoch_progress[0]), float(net.epoch_progress[1]),
                           int(net.epoch_progress[2])],
        "training": None if training is None else _training_doc(training, writer),
    }
    return doc


def _archive(doc, arrays):
    """The checkpoint's bytes: a stored zip of the document and arrays, then the seal."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        # A fixed timestamp: the same network gives the same bytes.
        zf.writestr(zipfile.ZipInfo(DOCUMENT, STAMP), json.dumps(doc, indent=1, allow_nan=False))
        for index, array in enumerate(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, array, version=(1, 0), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"arrays/{index}.npy", STAMP), member.getvalue())
        zf.comment = SEAL + b"0" * 64
    data = bytearray(buffer.getvalue())
    data[-64:] = hashlib.sha256(data[:-64]).hexdigest().encode()
    return bytes(data)


def save(filename, net, training=None):
    """Write ``net`` (and, for a resumable run, ``training``) to ``filename`` atomically.

    Args:
        filename: destination path; its directory must exist.
        net: a ``NeuralNetwork`` (or ``LeNet``) built from the framework's classes.
            Its data layer is not saved.
        training: optional dict of a training run: ``settings`` (a flat dict of
            numbers, strings, booleans), ``data`` (``{"order", "position"}`` of the
            data layer's ``state()``), ``rng`` (``np.random.get_state()``),
            ``schedule``, ``early_stopping`` and ``finished`` (bool).
    Raises:
        TypeError: the network holds a class a checkpoint cannot name (a layer of
            your own, say); nothing is written then.
    """
    writer = _Writer()
    doc = _document(net, training, writer)
    _write_atomically(Path(filename), _archive(doc, writer.arrays))


def _write_atomically(path, data):
    directory = path.parent if str(path.parent) else Path(".")
    _remove_leftovers(path)
    tmp = directory / f".{_temporary_stem(path.name)}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp"
    # O_EXCL: never follow or reuse an existing file; mode 0666 is reduced by the umask.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _temporary_stem(name):
    """``name`` as the temporary file's name carries it: a name of over 200 bytes is cut
    and ends in a hash of the whole, so that ``.<stem>.<pid>-<hex>.tmp`` fits the 255
    bytes a file name may have."""
    encoded = os.fsencode(name)
    if len(encoded) <= 200:
        return name
    return os.fsdecode(encoded[:180]) + "~" + hashlib.sha256(encoded).hexdigest()[:16]


def _remove_leftovers(path):
    """Delete temporary files of earlier saves to ``path`` whose process is gone."""
    pattern = re.compile(rf"^\.{re.escape(_temporary_stem(path.name))}\.(\d+)-[0-9a-f]{{12}}\.tmp$")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        # A live process (this one included: another thread) may be writing it right now.
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(directory / name)
        except OSError:
            pass


def _process_alive(pid):
    try:
        os.kill(pid, 0)                   # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


# -- loading --------------------------------------------------------------------------------

class _Reader:
    """Reads and checks one checkpoint; every problem becomes a ``CheckpointError``."""

    def __init__(self, filename, zf):
        self.filename, self.zf = filename, zf
        self.used = set()

    def fail(self, where, message):
        raise CheckpointError(f"{self.filename}: {where}: {message}")

    # JSON values --------------------------------------------------------------------

    def obj(self, value, where, keys, optional=()):
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_kind(value)}")
        missing = [k for k in keys if k not in value]
        unknown = [k for k in value if k not in keys and k not in optional]
        if missing or unknown:
            self.fail(where, f"expected the keys {sorted(keys)}, "
                             f"{'missing ' + str(missing) if missing else 'unknown ' + _short(unknown)}")
        return value

    def mapping(self, value, where):
        """A JSON object with any keys (checked by the caller), at most MAX_ITEMS of them."""
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            self.fail(where, f"expected an object, got {_kind(value)}")
        return value

    def list(self, value, where, length=None):
        if not isinstance(value, list):
            self.fail(where, f"expected a list, got {_kind(value)}")
        if len(value) > MAX_ITEMS or (length is not None and len(value) != length):
            self.fail(where, f"expected {length if length is not None else 'at most ' + str(MAX_ITEMS)} "
                             f"items, got {len(value)}")
        return value

    def int(self, value, where, low=0, high=2**63 - 1):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(where, f"expected an integer in [{low}, {high}], got {_short(value)}")
        return value

    def float(self, value, where, none=False):
        if none and value is None:
            return None
        # abs(value) <= max is false for NaN, inf and integers too large for a float.
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not abs(value) <= sys.float_info.max:
            self.fail(where, f"expected a finite number, got {_short(value)}")
        return float(value)

    def bool(self, value, where):
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_short(value)}")
        return value

    def name(self, value, registry, where):
        if not isinstance(value, str) or value not in registry:
            self.fail(where, f"expected one of {', '.join(sorted(registry))}, got {_short(value)}")
        return registry[value]

    def argument(self, value, where):
        """A constructor argument: a number, None, or a short list of integers."""
        def integer(v):                   # no larger: a constructor would overflow converting it
            return isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63
        if value is None or integer(value):
            return value
        if isinstance(value, float):
            return self.float(value, where)
        if isinstance(value, list) and len(value) <= 8 and all(integer(v) for v in value):
            return tuple(value)
        self.fail(where, f"expected a number, null or a list of at most 8 integers "
                         f"(integers within +-2**63), got {_short(value)}")

    def build(self, registry, doc, where, extra=()):
        """``(class, kwargs)`` of ``{"class", "args", *extra}``; the constructor validates later."""
        self.obj(doc, where, ("class", "args"), optional=extra)
        cls = self.name(doc["class"], registry, f"{where}.class")
        args = self.obj(doc["args"], f"{where}.args", _constructor_args(cls))
        kwargs = {k: self.argument(v, f"{where}.args.{k}") for k, v in args.items()
                  if k != "dtype"}
        if "dtype" in args:
            kwargs["dtype"] = self.name(args["dtype"], FLOAT_DTYPES, f"{where}.args.dtype")
        return cls, kwargs

    def construct(self, cls, kwargs, where):
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            self.fail(where, f"invalid arguments ({err})")

    # arrays -------------------------------------------------------------------------------

    def array(self, reference, where, dtype, shape=None, ndim=None, non_negative=False):
        """The array member ``reference``, checked before its data is read."""
        if not isinstance(reference, str) or not re.fullmatch(r"arrays/\d{1,9}\.npy", reference):
            self.fail(where, f"expected an array reference 'arrays/<n>.npy', got {_short(reference)}")
        if reference in self.used:
            self.fail(where, f"{reference} is referenced twice")
        self.used.add(reference)
        try:
            info = self.zf.getinfo(reference)
        except KeyError:
            self.fail(where, f"the archive has no member {reference}")
        expected = np.dtype(dtype)
        with self.zf.open(info) as f:
            try:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                header = None if read_header is None else read_header(f)
            # TokenError: NumPy tokenizes a header that does not parse (an unclosed bracket).
            except (ValueError, TypeError, SyntaxError, tokenize.TokenError, RecursionError,
                    MemoryError) as err:
                self.fail(where, f"{reference}: not a valid .npy header ({_short(str(err))})")
            if header is None:
                self.fail(where, f"{reference}: unsupported .npy version {version}")
            found_shape, fortran, found = header
            if found != expected or found.hasobject:
                self.fail(where, f"{reference}: expected dtype {expected}, got {str(found)[:60]}")
            if fortran:
                self.fail(where, f"{reference}: expected C order")
            if (shape is not None and tuple(found_shape) != tuple(shape)) or \
                    (ndim is not None and len(found_shape) != ndim):
                self.fail(where, f"{reference}: expected shape "
                                 f"{tuple(shape) if shape is not None else f'of {ndim} dimensions'}, "
                                 f"got {_short(found_shape)}")
            nbytes = math.prod(found_shape) * expected.itemsize
            if info.file_size - f.tell() != nbytes:
                self.fail(where, f"{reference}: shape {found_shape} needs {nbytes} bytes of data, "
                                 f"the member has {info.file_size - f.tell()}")
            data = f.read(nbytes)
        values = np.frombuffer(data, expected).reshape(found_shape).copy()
        if expected.kind == "f" and not np.isfinite(values).all():
            self.fail(where, f"{reference}: expected finite values, got NaN or inf")
        if non_negative and (values < 0).any():
            self.fail(where, f"{reference}: expected values >= 0 (a variance), got negative ones")
        return values


def _json(value):
    """``value`` as JSON would give it back (tuples become lists)."""
    return json.loads(json.dumps(value))


def _kind(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in an object: {sorted(keys)}")
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _open(filename, data):
    """Check size, seal and members; return the open archive and its document."""
    if data[:4] != b"PK\x03\x04":
        if data[:1] == b"\x80" or data[:2] in (b"(d", b"(l", b"cc"):
            raise CheckpointError(
                f"{filename}: this is a pickle (the format of older versions). Loading a pickle "
                f"can run any code, so it is refused. If you trust the file and who sent it, "
                f"convert it once with: .venv/bin/python ConvertCheckpoint.py {filename} NEW.ckpt")
        raise CheckpointError(f"{filename}: not a checkpoint (expected a zip archive starting "
                              f"with PK, got {data[:8]!r})")
    if len(data) < 22 + len(SEAL) + 64 or data[-64 - len(SEAL):-64] != SEAL:
        raise CheckpointError(f"{filename}: truncated or not sealed (the zip comment must end "
                              f"the file with sha256:<digest>)")
    if hashlib.sha256(data[:-64]).hexdigest().encode() != data[-64:]:
        raise CheckpointError(f"{filename}: checksum mismatch: the file was changed or damaged "
                              f"after it was saved")
    # zipfile builds an object for every central directory entry (each starts with PK\1\2)
    # before the count below is checked: a file of tiny entries could exhaust the memory.
    if data.count(b"PK\x01\x02") > MAX_MEMBERS:
        raise CheckpointError(f"{filename}: expected at most {MAX_MEMBERS} members")
    zf = zipfile.ZipFile(io.BytesIO(data))
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(infos) > MAX_MEMBERS or len(set(names)) != len(names):
        raise CheckpointError(f"{filename}: expected at most {MAX_MEMBERS} distinct members, "
                              f"got {len(infos)} ({len(set(names))} distinct)")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size \
                or info.header_offset + info.compress_size > len(data) or info.flag_bits & 1:
            raise CheckpointError(f"{filename}: member {_short(info.filename)} is compressed, "
                                  f"encrypted or larger than the file")
    if sum(i.file_size for i in infos) > len(data):
        raise CheckpointError(f"{filename}: the members claim more bytes than the file has")
    if DOCUMENT not in names:
        raise CheckpointError(f"{filename}: no {DOCUMENT} in the archive")
    info = zf.getinfo(DOCUMENT)
    if info.file_size > MAX_DOCUMENT_BYTES:
        raise CheckpointError(f"{filename}: {DOCUMENT} is {info.file_size} bytes, more than "
                              f"{MAX_DOCUMENT_BYTES}")
    try:
        doc = json.loads(zf.read(DOCUMENT).decode("utf-8"), parse_constant=_reject_constant,
                         object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise CheckpointError(f"{filename}: {DOCUMENT} is nested too deep") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{filename}: {DOCUMENT} is not valid JSON ({_short(str(err))})") \
            from None
    return zf, doc


def read(filename):
    """Read a checkpoint: ``(network, training)``; ``training`` is None for a plain save.

    ``training`` is a dict like the one given to ``save`` (``settings``, ``data``,
    ``rng``, ``schedule``, ``early_stopping``, ``finished``).

    Raises:
        CheckpointError: the file is not a valid checkpoint (corrupt, truncated, a
            pickle, hand-made, ...). The message names the file and the problem.
        OSError: the file cannot be read (missing, a directory, no permission).
    """
    filename = str(filename)
    # O_NONBLOCK: opening a named pipe (which a tar archive can hold) does not wait for a
    # writer; like a device, it has size 0 and is refused below.
    with open(os.open(filename, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(f"{filename}: {size} bytes, more than a checkpoint may have "
                                  f"({MAX_FILE_BYTES})")
        # Exactly the bytes fstat counted: read(n) reserves n bytes up front, and a file
        # that changes meanwhile fails the seal. (Not a regular file: size 0, refused.)
        data = f.read(size)
    rng = np.random.get_state()            # constructors draw initial weights: put it back
    try:
        zf, doc = _open(filename, data)
        reader = _Reader(filename, zf)
        result = _load_document(reader, doc)
        unused = set(zf.namelist()) - reader.used - {DOCUMENT}
        if unused:
            reader.fail("archive", f"unexpected members {_short(sorted(unused))}")
        return result
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, TypeError,
            KeyError, IndexError, OverflowError, RecursionError, MemoryError,
            NotImplementedError, UnicodeError) as err:
        raise CheckpointError(f"{filename}: corrupt checkpoint ({type(err).__name__}: "
                              f"{_short(str(err))})") from None
    finally:
        np.random.set_state(rng)


def load(filename, data_layer=None):
    """The network saved in ``filename``, with ``data_layer`` attached (see ``read``)."""
    net, _ = read(filename)
    net.data_layer = data_layer
    return net


HISTORY_KEYS = ("epoch", "train_loss", "learning_rate", "validation_loss", "validation_accuracy")
# Layer state that is a variance: negative values would give NaN (a square root).
NON_NEGATIVE_STATE = ("running_var",)


def _parameter_shapes(cls, kwargs):
    """The shapes a ``cls(**kwargs)`` would allocate, computed without building it.

    The layer's own ``_parameter_shapes`` runs on a bare instance that holds only the
    constructor arguments, so the arrays in the file can be checked against them BEFORE
    the layer is built: a file cannot make loading allocate more than the file holds.
    """
    probe = object.__new__(cls)
    probe.__dict__.update(kwargs)
    return probe._parameter_shapes()


def _load_document(r, doc):
    top = ("format", "version", "class", "dtype", "optimizer", "weights_initializer",
           "bias_initializer", "loss_layer", "layers", "loss", "history", "epoch_progress",
           "training")
    if isinstance(doc, dict) and (doc.get("format") != FORMAT or doc.get("version") != VERSION):
        r.fail(DOCUMENT, f"expected format {FORMAT!r} version {VERSION}, got "
                         f"{_short(doc.get('format'))} version {_short(doc.get('version'))}")
    r.obj(doc, DOCUMENT, top)
    kind = r.name(doc["class"], _network_classes(), "class")
    optimizer = _optimizer(r, doc["optimizer"], "optimizer")
    initializers = [None if doc[k] is None else r.construct(*r.build(INITIALIZERS, doc[k], k), k)
                    for k in ("weights_initializer", "bias_initializer")]
    loss_layer = None if doc["loss_layer"] is None else \
        r.name(doc["loss_layer"], LOSSES, "loss_layer")()
    layer_docs = r.list(doc["layers"], "layers")
    if kind.__name__ == "LeNet":
        net = kind(dtype=r.name(doc["dtype"], FLOAT_DTYPES, "dtype"), optimizer=optimizer)
        if len(layer_docs) != len(net.layers):
            r.fail("layers", f"expected the {len(net.layers)} layers of LeNet, got {len(layer_docs)}")
        for i, (layer, layer_doc) in enumerate(zip(net.layers, layer_docs)):
            _set_layer(r, layer_doc, f"layers[{i}]", layer)
        net.weights_initializer, net.bias_initializer = initializers
    else:
        if doc["dtype"] is not None:
            r.fail("dtype", f"expected null for a NeuralNetwork, got {_short(doc['dtype'])}")
        net = kind(optimizer, *initializers)
        for i, layer_doc in enumerate(layer_docs):
            layer = _set_layer(r, layer_doc, f"layers[{i}]", None)
            net.layers.append(layer)
    for i, (layer, layer_doc) in enumerate(zip(net.layers, layer_docs)):
        if getattr(layer, "trainable", False):
            _set_optimizer(r, layer, layer_doc["optimizer"], f"layers[{i}].optimizer", optimizer)
    net.loss_layer = loss_layer
    net.loss = r.array(doc["loss"], "loss", np.float64, ndim=1).tolist()
    net.history = [_history(r, record, f"history[{i}]")
                   for i, record in enumerate(r.list(doc["history"], "history"))]
    progress = r.list(doc["epoch_progress"], "epoch_progress", 3)
    net.epoch_progress = (r.int(progress[0], "epoch_progress[0]"),
                           r.float(progress[1], "epoch_progress[1]"),
                           r.int(progress[2], "epoch_progress[2]"))
    training = None if doc["training"] is None else _training(r, doc["training"], net)
    return net, training


def _optimizer(r, doc, where):
    r.obj(doc, where, ("class", "args"))
    cls = r.name(doc["class"], OPTIMIZERS, f"{where}.class")
    args = r.obj(doc["args"], f"{where}.args", _constructor_args(cls))
    kwargs = {k: r.argument(v, f"{where}.args.{k}") for k, v in args.items() if k != "regularizer"}
    regularizer = args.get("regularizer")
    if regularizer is not None:
        kwargs["regularizer"] = r.construct(*r.build(REGULARIZERS, regularizer,
                                                     f"{where}.regularizer"), f"{where}.regularizer")
    return r.construct(cls, kwargs, where)


def _set_layer(r, doc, where, layer):
    """Build the layer of ``doc`` (or check that ``layer`` is it) and load its state."""
    r.obj(doc, where, ("class", "args", "testing_phase", "state"), optional=("optimizer",))
    cls, kwargs = r.build(LAYERS, doc, where, extra=("testing_phase", "state", "optimizer"))
    state = r.mapping(doc["state"], f"{where}.state")
    trainable = issubclass(cls, Layers.Base.TrainableLayer)
    if trainable != ("optimizer" in doc):
        r.fail(where, f"expected {'an' if trainable else 'no'} optimizer entry for a {cls.__name__}")
    arrays = {}
    if trainable:
        try:
            shapes = _parameter_shapes(cls, kwargs)
        except (TypeError, AttributeError) as err:
            r.fail(f"{where}.args", f"invalid arguments ({err})")
        dtype = kwargs.get("dtype", np.float64)
        for name, shape in shapes.items():
            if name not in state:
                r.fail(f"{where}.state", f"expected the parameter {name!r}")
            arrays[name] = r.array(state[name], f"{where}.state.{name}", dtype, shape=shape)
    if layer is None:
        layer = r.construct(cls, kwargs, where)
    elif type(layer) is not cls or _json(_object(LAYERS, layer, where)["args"]) != \
            _json(doc["args"]):
        r.fail(where, f"expected {layer!r} here, got {cls.__name__}({_short(doc['args'])})")
    current = learned_state(layer)
    if set(state) != set(current):
        r.fail(f"{where}.state", f"expected the entries {sorted(current)}, "
                                 f"got {_short(sorted(state))}")
    for name, value in current.items():
        if name in arrays:
            continue
        if isinstance(value, bool):
            arrays[name] = r.bool(state[name], f"{where}.state.{name}")
        else:
            arrays[name] = r.array(state[name], f"{where}.state.{name}", value.dtype,
                                   shape=value.shape, non_negative=name in NON_NEGATIVE_STATE)
    for name, value in arrays.items():
        setattr(layer, name, value)
    layer.testing_phase = r.bool(doc["testing_phase"], f"{where}.testing_phase")
    return layer


def _set_optimizer(r, layer, doc, where, shared):
    if doc is None:
        layer.optimizer = None
        return
    r.obj(doc, where, ("shared", "own", "state"))
    if r.bool(doc["shared"], f"{where}.shared"):
        layer.optimizer = Layers.Base.linked_copy(shared)
    else:
        layer.optimizer = _optimizer(r, doc["own"], f"{where}.own")
    optimizers = layer._optimizers
    states = r.obj(doc["state"], f"{where}.state", tuple(optimizers))
    parameters = layer.parameters()
    for name, optimizer in optimizers.items():
        fields = tuple(f for f in ("v", "r", "k") if hasattr(optimizer, f))
        state = r.obj(states[name], f"{where}.state.{name}", fields)
        for field in fields:
            here = f"{where}.state.{name}.{field}"
            if field == "k":
                optimizer.k = r.int(state[field], here)
            elif state[field] is not None:
                setattr(optimizer, field, r.array(state[field], here, parameters[name].dtype,
                                                  shape=parameters[name].shape,
                                                  non_negative=field == "r"))
        if "r" in fields and (state["v"] is None) != (state["r"] is None):
            r.fail(f"{where}.state.{name}", "expected both moments v and r, or neither")


def _history(r, record, where):
    r.obj(record, where, (), optional=HISTORY_KEYS)
    return {k: (r.int(v, f"{where}.{k}") if k == "epoch" else r.float(v, f"{where}.{k}", none=True))
            for k, v in record.items()}


def _state_entries(r, entries, net, where):
    entries = r.list(entries, where, len(net.layers))
    snapshot = []
    for i, (layer, entry) in enumerate(zip(net.layers, entries)):
        current = learned_state(layer)
        r.obj(entry, f"{where}[{i}]", tuple(current))
        snapshot.append({name: r.bool(entry[name], f"{where}[{i}].{name}")
                         if isinstance(value, bool) else
                         r.array(entry[name], f"{where}[{i}].{name}", value.dtype, shape=value.shape,
                                 non_negative=name in NON_NEGATIVE_STATE)
                         for name, value in current.items()})
    return snapshot


def _training(r, doc, net):
    r.obj(doc, "training", ("finished", "settings", "data", "rng", "schedule", "early_stopping"))
    settings = r.mapping(doc["settings"], "training.settings")
    if len(settings) > 64:
        r.fail("training.settings", f"expected at most 64 settings, got {len(settings)}")
    for key, value in settings.items():
        if not (value is None or isinstance(value, (bool, int)) or
                (isinstance(value, float) and math.isfinite(value)) or
                (isinstance(value, str) and len(value) <= 4096)):
            r.fail(f"training.settings.{_short(key)}", f"expected a number, string, boolean or "
                                                       f"null, got {_short(value)}")
    data = r.obj(doc["data"], "training.data", ("order", "position"))
    order = r.array(data["order"], "training.data.order", np.int64, ndim=1)
    if not np.array_equal(np.sort(order), np.arange(len(order))):
        r.fail("training.data.order", "expected a permutation of 0 ... n-1")
    position = r.int(data["position"], "training.data.position", 0, len(order))
    rng = r.obj(doc["rng"], "training.rng", ("keys", "pos", "has_gauss", "cached_gaussian"))
    keys = r.array(rng["keys"], "training.rng.keys", np.uint32, shape=(624,))
    if not keys.any():
        r.fail("training.rng.keys", "an all-zero state would make the generator return 0 forever")
    rng_state = ("MT19937", keys, r.int(rng["pos"], "training.rng.pos", 0, 624),
                 r.int(rng["has_gauss"], "training.rng.has_gauss", 0, 1),
                 r.float(rng["cached_gaussian"], "training.rng.cached_gaussian"))
    schedule = None
    if doc["schedule"] is not None:
        entry = doc["schedule"]
        r.obj(entry, "training.schedule", ("class", "args", "initial"))
        schedule = r.construct(*r.build(SCHEDULES, {"class": entry["class"], "args": entry["args"]},
                                        "training.schedule"), "training.schedule")
        schedule.initial = r.float(entry["initial"], "training.schedule.initial", none=True)
        if schedule.initial is not None and schedule.initial <= 0:
            r.fail("training.schedule.initial", f"expected a learning rate > 0 or null, "
                                                f"got {schedule.initial}")
    stopper = None
    if doc["early_stopping"] is not None:
        entry = r.obj(doc["early_stopping"], "training.early_stopping",
                      ("patience", "min_delta", "best", "best_epoch", "epoch", "best_state"))
        here = "training.early_stopping"
        stopper = r.construct(Schedules.EarlyStopping,
                              {"patience": r.int(entry["patience"], f"{here}.patience", 1),
                               "min_delta": r.float(entry["min_delta"], f"{here}.min_delta")}, here)
        best = r.float(entry["best"], f"{here}.best", none=True)
        stopper.best = math.inf if best is None else best
        stopper.epoch = r.int(entry["epoch"], f"{here}.epoch")
        stopper.best_epoch = r.int(entry["best_epoch"], f"{here}.best_epoch", 0, stopper.epoch)
        stopper._best_parameters = None if entry["best_state"] is None else \
            _state_entries(r, entry["best_state"], net, f"{here}.best_state")
    return {"finished": r.bool(doc["finished"], "training.finished"), "settings": dict(settings),
            "data": {"order": order, "position": position}, "rng": rng_state,
            "schedule": schedule, "early_stopping": stopper}
