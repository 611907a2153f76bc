"""Checkpoints that hold data only: ``save(path, net[, training])``, ``read(path) -> (net,
training)``, ``load(path, data_layer=None)``, ``register(MyClass)``.

A checkpoint is one stored zip of ``network.json`` (``document.py``, ``run.py``) and the
``arrays/<n>.npy`` it names. Loading never unpickles, never resolves a name written in the
file (``registry``), checks each value and array header before it allocates (``reader``),
and refuses a bad file with one ``CheckpointError`` naming the file and what is wrong,
leaving the process as it was. Saving goes through the one atomic writer, ``_files``.
"""
import io
import json
import zipfile

import numpy as np

import _files
from _checks import CheckpointError, StateError

from .document import network_doc, read_network
from .reader import DOCUMENT, Reader, open_file, short
from .registry import FLOAT_DTYPES, build, classes, config_of, constructor_args, register, state_of
from .run import data_doc, read_data, read_rng, read_run, rng_doc, run_doc

__all__ = ["save", "read", "load", "register", "classes", "CheckpointError", "StateError",
           "config_of", "state_of", "constructor_args", "build"]
STAMP = (1980, 1, 1, 0, 0, 0)        # a fixed timestamp: the same network gives the same bytes


def save(filename, net, training=None):
    """Write ``net`` and ``training`` (``run.py``), or the state of ``net.data_layer`` where it
    has ``state_dict()``, to ``filename``. ``TypeError`` for a class that is not registered or
    a value a checkpoint cannot hold, ``ValueError`` where ``load`` would refuse the network
    (its ``from_config`` refuses its layers): nothing is written then."""
    arrays, data = [], getattr(net, "data_layer", None)
    doc = network_doc(net, arrays)
    if training is not None:
        doc["training"] = run_doc(training, arrays)
    elif callable(getattr(data, "state_dict", None)) and \
            callable(getattr(data, "load_state_dict", None)):
        doc["data"] = {"state": data_doc(data.state_dict(), arrays,
                                         f"{type(data).__name__}.state_dict()"),
                       "rng": rng_doc(np.random.get_state(), arrays)}
    try:       # what read builds the network from, checked by the model as read checks it
        type(net).from_config({"dtype": FLOAT_DTYPES.get(doc["dtype"]), **doc.get("config", {})},
                              layers=net.layers, optimizer=net.optimizer, loss_layer=net.loss_layer)
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint.save: {filename} would not load, so it was not written: "
                         f"{short(str(err), 300)}") from None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(zipfile.ZipInfo(DOCUMENT, STAMP), json.dumps(doc, indent=1, allow_nan=False))
        for index, array in enumerate(arrays):
            with zf.open(zipfile.ZipInfo(f"arrays/{index}.npy", STAMP), "w") as member:
                np.lib.format.write_array(member, array, version=(1, 0), allow_pickle=False)
    _files.write_atomically(filename, buffer.getvalue(), owner="checkpoint.save")


def read(filename):
    """``(network, training)`` (None for a plain save), of classes imported in this program:
    import ``NeuralNetwork``, a model's module and yours first. ``CheckpointError`` for a file
    that is not a valid checkpoint, ``OSError`` for one that cannot be read."""
    return _load(str(filename))[:2]


def load(filename, data_layer=None):
    """The network of ``filename`` with ``data_layer``; where the file holds a data layer's
    state, ``data_layer.load_state_dict`` gets it and NumPy's random state is set to the one
    saved with it, so that training goes on as it would have after the save."""
    filename = str(filename)
    net, _, resume = _load(filename)
    net.data_layer = data_layer
    if resume is not None and callable(getattr(data_layer, "load_state_dict", None)):
        try:
            data_layer.load_state_dict(resume["state"])
        except (TypeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{filename}: data.state: {type(data_layer).__name__} refuses "
                                  f"the saved data state ({short(str(err), 200)})") from None
        np.random.set_state(resume["rng"])
    return net


def _load(filename):
    """``(network, training, resume)``, NumPy's random state put back (constructors draw)."""
    rng = np.random.get_state()
    try:
        with open_file(filename) as f:          # an OSError: the file cannot be read
            r = Reader(filename, f)
            doc, net = r.doc, read_network(r, r.doc)
            training = None if doc["training"] is None else read_run(r, doc["training"], net)
            resume = doc.get("data")
            if resume is not None:
                r.obj(resume, "data", ("state", "rng"))
                resume = {"state": read_data(r, resume["state"], "data.state"),
                          "rng": read_rng(r, resume["rng"], "data.rng")}
            unused = set(r.zf.namelist()) - r.used - {DOCUMENT}     # every member is referred to
            r.check(sorted(unused), not unused, "archive", "no unexpected members")
            return net, training, resume
    except (CheckpointError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, TypeError, KeyError, IndexError,
            OverflowError, RecursionError, MemoryError, NotImplementedError) as err:
        raise CheckpointError(f"{filename}: corrupt checkpoint ({type(err).__name__}: "
                              f"{short(str(err))})") from None
    finally:
        np.random.set_state(rng)
