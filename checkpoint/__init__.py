"""Checkpoints that hold data only: saving and loading networks and training runs.

    checkpoint.save(path, net[, training])   checkpoint.read(path) -> (net, training)
    checkpoint.load(path, data_layer=None)   checkpoint.register(MyOptimizer)

A generic package: it imports no framework module. It knows the framework's classes from
one table (``framework.FRAMEWORK``: module, class, kind), each once its module is imported,
and a class of yours after ``register(MyClass)``. An object is saved as its constructor's
arguments, read back from same-named attributes, and its public arrays; a class may define
``get_config()``, ``state_dict()`` and ``load_state_dict(state)`` where it needs to (Keras'
and PyTorch's names). A layer without a state of its own keeps its public float arrays
(``document.layer_state``).

One job per module: ``registry`` (names and kinds), ``archive`` (zip, seal, atomic
write), ``reader`` (every check of a file, before anything is built), ``document``
(a network as JSON and arrays), ``run`` (a training run's resumable state),
``errors``. Loading never unpickles and never imports or resolves a name written in
the file; a bad file raises ``CheckpointError`` naming the file and what is wrong and
leaves the process as it was (NumPy's global random state included).
"""
import hashlib                                             # noqa: F401 - tests reseal with it
import zipfile

import numpy as np

from .archive import DOCUMENT, SEAL, STAMP, pack, write_atomically
from .document import FORMAT, HISTORY_KEYS, VERSION, Writer, network_doc, read_network
from .errors import CheckpointError, StateError
from .reader import (MAX_DOCUMENT_BYTES, MAX_FILE_BYTES, MAX_ITEMS, MAX_MEMBERS, Reader,
                     open_archive, read_bytes, said)
from .registry import (FLOAT_DTYPES, build, classes, config_from_attributes, config_of,
                       constructor_args, describe, plain, register, state_of)
from .run import data_doc, read_data, read_run, run_doc

__all__ = ["save", "read", "load", "register", "CheckpointError", "StateError",
           "config_from_attributes", "config_of", "state_of", "constructor_args", "describe",
           "plain"]

# The classes by kind (live read-only views).
LAYERS = classes("layer")
OPTIMIZERS = classes("optimizer")
REGULARIZERS = classes("regularizer")
INITIALIZERS = classes("initializer")
LOSSES = classes("loss")
SCHEDULES = classes("schedule")


def save(filename, net, training=None):
    """Write ``net`` (and, for a resumable run, ``training``) to ``filename`` atomically.

    Args:
        filename: destination path; its directory must exist.
        net: a registered network of registered layers, optimizer, initializers, loss.
            Its data layer is not saved, but where it has a state (``state_dict()``: an
            epoch's order and position) that state is, with NumPy's global random state,
            for ``load(filename, data_layer)`` to resume from.
        training: optional dict of a training run (see ``checkpoint/run.py``); it holds
            the data layer's state itself.
    Raises:
        TypeError: the network holds a class that is not registered, or a value a
            checkpoint cannot hold; nothing is written then.
        ValueError: ``read`` would refuse the file (a model whose layers are no longer
            what its config says, say); nothing is written then either.
    """
    writer = Writer()
    doc = network_doc(net, writer)
    if training is not None:
        doc["training"] = run_doc(training, writer)
    elif getattr(net, "data_layer", None) is not None:
        data = data_doc(net.data_layer, writer)
        if data is not None:
            doc["data"] = data
    data = pack(doc, writer.arrays)
    # Never write what read refuses: the bytes are read back before they replace anything.
    _verify(filename, data)
    write_atomically(filename, data)


def _verify(filename, data):
    rng = np.random.get_state()
    try:
        _load(str(filename), data)
    except CheckpointError as err:
        raise ValueError(f"checkpoint.save: {filename} would not load, so it was not "
                        f"written: {str(err)[len(str(filename)) + 2:]}") from None
    finally:
        np.random.set_state(rng)


def read(filename):
    """Read a checkpoint: ``(network, training)``; ``training`` is None for a plain save.

    Only classes known in this program can be built: import ``NeuralNetwork`` (it
    brings the framework's layers and optimizers), the module of a model a file may hold
    and the modules of your own classes first. ``NeuralNetwork.load`` does the first by itself.

    Raises:
        CheckpointError: the file is not a valid checkpoint (corrupt, truncated, a
            pickle, hand-made, ...). The message names the file and the problem.
        OSError: the file cannot be read (missing, a directory, no permission).
    """
    filename = str(filename)
    data = read_bytes(filename)
    rng = np.random.get_state()            # constructors draw initial weights: put it back
    try:
        return _load(filename, data)[:2]
    finally:
        np.random.set_state(rng)


def _load(filename, data):
    """``(network, training, resume)``: ``resume`` the saved data layer state (``load``)."""
    try:
        zf, doc = open_archive(filename, data)
        reader = Reader(filename, zf, data)
        net = read_network(reader, doc)
        training = None if doc["training"] is None else read_run(reader, doc["training"], net)
        resume = read_data(reader, doc.get("data"))
        unused = set(zf.namelist()) - reader.used - {DOCUMENT}
        if unused:
            reader.fail("archive", f"unexpected members {reader.short(sorted(unused))}")
        return net, training, resume
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, TypeError,
            KeyError, IndexError, OverflowError, RecursionError, MemoryError,
            NotImplementedError, UnicodeError) as err:
        raise CheckpointError(f"{filename}: corrupt checkpoint ({type(err).__name__}: "
                              f"{Reader.short(str(err))})") from None


def load(filename, data_layer=None):
    """The network saved in ``filename``, with ``data_layer`` attached (see ``read``).

    Resuming: where the file holds a data layer's state (``save`` of a network whose data
    layer had one), it is put into ``data_layer`` (its ``load_state_dict``) and NumPy's
    global random state is set to the one saved with it, so that training goes on as it
    would have after the save: the same batches in the same order, the same dropout masks.
    Without a ``data_layer``, or for a file without such a state, the random state is left
    as it was. A data layer that refuses the state raises ``CheckpointError``.
    """
    filename = str(filename)
    data = read_bytes(filename)
    rng = np.random.get_state()
    try:
        net, _, resume = _load(filename, data)
    finally:
        np.random.set_state(rng)
    net.data_layer = data_layer
    if data_layer is not None and resume is not None and \
            callable(getattr(data_layer, "load_state_dict", None)):
        try:
            data_layer.load_state_dict(resume["state"])
        except (TypeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{filename}: data.state: {type(data_layer).__name__} refuses "
                                  f"the saved data state ({said(err)})") from None
        np.random.set_state(resume["rng"])
    return net


# -- names the test suites use ------------------------------------------------------------

_Reader = Reader
_archive = pack
_constructor_args = constructor_args


def _network_classes():
    return dict(classes("network"))


def _parameter_shapes(cls, kwargs):
    """The shapes a ``cls(**kwargs)`` would allocate, computed without building it."""
    return cls.parameter_shapes_for(kwargs)
