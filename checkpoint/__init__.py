"""Checkpoints that hold data only: saving and loading networks and training runs.

    checkpoint.save(path, net[, training])   checkpoint.read(path) -> (net, training)
    checkpoint.load(path, data_layer=None)   checkpoint.register(MyOptimizer)

A checkpoint is one stored zip (``unzip -l`` lists it): ``network.json``, the document
(``document.py``, ``run.py``), and ``arrays/<n>.npy``, every array it names. Loading never
unpickles, never resolves a name written in the file (``registry``), checks every value
and every array header before it allocates (``reader``), and refuses a bad file with one
``CheckpointError`` naming the file and what is wrong, leaving the process as it was
(NumPy's global random state included). Saving goes through the framework's one atomic
writer (``_files.write_atomically``), which replaces only what its rule allows.
"""
import io
import json
import zipfile

import numpy as np

import _files
from _checks import CheckpointError, StateError

from .document import Writer, network_doc, read_network
from .reader import DOCUMENT, Reader, open_archive, open_file, short
from .registry import (FLOAT_DTYPES, build, classes, config_from_attributes, config_of, constructor_args,
                       describe, plain, register, state_of)
from .run import data_doc, read_data, read_run, run_doc

__all__ = ["save", "read", "load", "register", "classes", "CheckpointError", "StateError",
           "config_from_attributes", "config_of", "state_of", "constructor_args", "describe",
           "plain", "build"]
STAMP = (1980, 1, 1, 0, 0, 0)        # a fixed timestamp: the same network gives the same bytes


def save(filename, net, training=None):
    """Write ``net`` (and, for a resumable run, ``training``: ``run.py``) to ``filename``.

    Where ``net.data_layer`` has ``state_dict()``, that state and NumPy's random state are
    kept for ``load(filename, data_layer)`` to resume from.
    Raises:
        TypeError: a class that is not registered, or a value a checkpoint cannot hold.
        ValueError: ``load`` would refuse the network (its class's ``from_config`` refuses
            its layers). Nothing is written then.
    """
    writer = Writer()
    doc = network_doc(net, writer)
    if training is not None:
        doc["training"] = run_doc(training, writer)
    else:
        data = data_doc(getattr(net, "data_layer", None), writer)
        doc.update({"data": data} if data is not None else {})
    try:       # what read builds the network from, checked by the model as read checks it
        type(net).from_config({"dtype": FLOAT_DTYPES.get(doc["dtype"]), **doc.get("config", {})},
                              layers=net.layers, optimizer=net.optimizer, loss_layer=net.loss_layer)
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint.save: {filename} would not load, so it was not written: "
                         f"{short(str(err), 300)}") from None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo(DOCUMENT, STAMP), json.dumps(doc, indent=1, allow_nan=False))
        for index, array in enumerate(writer):
            with zf.open(zipfile.ZipInfo(f"arrays/{index}.npy", STAMP), "w") as member:
                np.lib.format.write_array(member, array, version=(1, 0), allow_pickle=False)
    _files.write_atomically(filename, buffer.getvalue(), owner="checkpoint.save")


def read(filename):
    """``(network, training)`` of a checkpoint; ``training`` is None for a plain save.

    Only classes imported in this program can be built: ``NeuralNetwork`` (it brings the
    framework's layers and optimizers), a model's module, your own classes' modules.
    Raises ``CheckpointError`` for a file that is not a valid checkpoint, ``OSError`` for
    one that cannot be read (missing, a directory, no permission).
    """
    return _load(str(filename))[:2]


def load(filename, data_layer=None):
    """The network saved in ``filename`` with ``data_layer`` attached (see ``read``).

    Where the file holds a data layer's state (a save of a network whose data layer had
    one), it goes into ``data_layer.load_state_dict`` and NumPy's global random state is
    set to the one saved with it: training goes on as it would have after the save. Else
    the random state is left as it was. A data layer that refuses the state raises
    ``CheckpointError``.
    """
    filename = str(filename)
    net, _, resume = _load(filename)
    net.data_layer = data_layer
    if data_layer is not None and resume is not None and \
            callable(getattr(data_layer, "load_state_dict", None)):
        try:
            data_layer.load_state_dict(resume["state"])
        except (TypeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{filename}: data.state: {type(data_layer).__name__} refuses "
                                  f"the saved data state ({short(str(err), 200)})") from None
        np.random.set_state(resume["rng"])
    return net


def _load(filename):
    """``(network, training, resume)``; constructors draw from NumPy's random state, which
    is put back."""
    rng = np.random.get_state()
    try:
        with open_file(filename) as f:          # an OSError: the file cannot be read
            return _read_open(filename, f)
    finally:
        np.random.set_state(rng)


def _read_open(filename, f):
    try:
        zf, doc = open_archive(filename, f)
        r = Reader(filename, zf)
        net = read_network(r, doc)
        training = None if doc["training"] is None else read_run(r, doc["training"], net)
        resume = read_data(r, doc.get("data"))
        unused = set(zf.namelist()) - r.used - {DOCUMENT}
        if unused:
            r.fail("archive", f"unexpected members {short(sorted(unused))}")
        return net, training, resume
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, TypeError, KeyError, IndexError,
            OverflowError, RecursionError, MemoryError, NotImplementedError) as err:
        raise CheckpointError(f"{filename}: corrupt checkpoint ({type(err).__name__}: "
                              f"{short(str(err))})") from None
