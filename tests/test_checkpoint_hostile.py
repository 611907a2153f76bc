"""Hostile checkpoints: every way a file can make ``checkpoint.read`` misbehave.

Loading promises (checkpoint.py): it never unpickles or resolves a name written in
the file, validates every value and array header before allocating, and refuses a
bad file with one ``CheckpointError`` naming the file, leaving the process as it
was. Every hostile file here goes through ``hostile_load``, which fails the test on
any other exception, a hang, code running (marker files), a changed class
attribute or registry, a changed random state or a newly imported module.

The helpers edit a real checkpoint and re-seal it (the sha256 in the zip comment,
computed as ``checkpoint._archive`` does), so that the mutations reach the
validators behind the checksum.
"""
import copy
import gzip
import io
import json
import os
import pickle
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import checkpoint
import NeuralNetwork
import TrainLeNet
from Data.MNIST import FILES
from Data.idx import write_idx
from Layers import (BatchNormalization, Conv, Dropout, Flatten, FullyConnected, Initializers, LSTM,
                    Pooling, ReLU, RNN, SoftMax)
from Layers.Base import BaseLayer
from Layers._layer import TrainableLayer
from Models import LeNet
from Optimization import Constraints, Loss, Optimizers, Schedules

ROOT = Path(__file__).resolve().parent.parent
HANG_SECONDS = 20            # a hang detector, not a speed assertion


# -- real checkpoints to attack ---------------------------------------------------------------

class Batches:
    """Random (4, 2, 6, 6) images with one-hot labels of 3 classes."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def next(self):
        return self.rng.random((4, 2, 6, 6)), np.eye(3)[self.rng.integers(0, 3, 4)]


def small_network():
    """Every kind of state: Conv, BatchNorm statistics, Dropout, RNN/LSTM, Adam + L2 moments."""
    rng = np.random.get_state()
    np.random.seed(1)
    net = NeuralNetwork.NeuralNetwork(
        Optimizers.Adam(1e-3, regularizer=Constraints.L2_Regularizer(1e-4)),
        Initializers.He(), Initializers.Constant(0.1))
    net.loss_layer = Loss.CrossEntropyLoss()
    for layer in (Conv.Conv((1, 1), (2, 3, 3), 3), BatchNormalization.BatchNormalization(3),
                  ReLU.ReLU(), Pooling.Pooling((2, 2), (2, 2)), Flatten.Flatten(),
                  FullyConnected.FullyConnected(27, 5), Dropout.Dropout(0.8),
                  RNN.RNN(5, 4, 6), LSTM.LSTM(6, 3, 3), SoftMax.SoftMax()):
        net.append_layer(layer)
    net.data_layer = Batches()
    net.train(3)
    net.layers[5].optimizer = Optimizers.SgdWithMomentum(1e-2, 0.5)   # an optimizer of its own
    net.train(1)
    net.data_layer = None
    np.random.set_state(rng)
    return net


def training_run(net, settings=None, samples=20):
    schedule = Schedules.ExponentialDecay(0.9)
    schedule.initial = 1e-3
    stopper = Schedules.EarlyStopping(2, 0.01)
    stopper.best, stopper.best_epoch, stopper.epoch = 1.5, 1, 2
    stopper._best_parameters = net.snapshot()
    rng = np.random.RandomState(3)
    return {"settings": settings or {"epochs": 3, "lr": 1e-3, "dataset": "mnist", "subset": None},
            "data": {"order": rng.permutation(samples), "position": 4},
            "rng": rng.get_state(), "schedule": schedule, "early_stopping": stopper,
            "finished": False}


def lenet_settings():
    return {name: default for name, (_, default, _) in TrainLeNet.SETTINGS.items()}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Bytes of real checkpoints: ``plain``/``run`` (small network), ``lenet``/``lenet_run``."""
    folder = tmp_path_factory.mktemp("saved")
    net = small_network()
    rng = np.random.get_state()
    np.random.seed(2)
    lenet = LeNet.LeNet()
    np.random.set_state(rng)
    files = {"plain": (net, None), "run": (net, training_run(net)), "lenet": (lenet, None),
             "lenet_run": (lenet, training_run(lenet, lenet_settings(), 400))}
    result = {}
    for name, (network, training) in files.items():
        checkpoint.save(folder / name, network, training)
        result[name] = (folder / name).read_bytes()
    return result


# -- archive surgery ------------------------------------------------------------------------

def reseal(data):
    """``data`` with its seal recomputed: sha256 of every byte before the 64 hex digits."""
    data = bytearray(data)
    data[-64:] = checkpoint.hashlib.sha256(data[:-64]).hexdigest().encode()
    return bytes(data)


def members(data):
    """``[(name, bytes)]`` of a checkpoint, in archive order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def archive(entries, compress=()):
    """A sealed checkpoint of ``entries`` (stored, like checkpoint.py writes; names in
    ``compress`` deflated)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                   # zipfile warns of duplicate names
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
            for name, content in entries:
                zf.writestr(zipfile.ZipInfo(name, checkpoint.STAMP), content,
                            zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED)
            zf.comment = checkpoint.SEAL + b"0" * 64
    return reseal(buffer.getvalue())


def document(data):
    return json.loads(dict(members(data))[checkpoint.DOCUMENT])


def with_document(data, doc):
    """``data`` with network.json replaced by ``doc`` (a dict, or raw bytes), re-sealed."""
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return with_member(data, checkpoint.DOCUMENT, raw)


def with_member(data, name, content):
    return archive([(n, content if n == name else c) for n, c in members(data)])


def edited(data, edit):
    """``data`` with ``edit(doc)`` applied to a copy of its document."""
    doc = document(data)
    edit(doc)
    return with_document(data, doc)


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_raw(header, body=b"", version=1):
    """An .npy member with a hand-written header dict (text), padded like NumPy's."""
    text = header.encode("latin1")
    prefix = 10 if version == 1 else 12
    text += b" " * (63 - (prefix + len(text)) % 64) + b"\n"
    size = len(text).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + text + body


def header(descr, shape, fortran=False):
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


def with_array(data, where, array_bytes):
    """Replace the member that ``where(doc)`` names (an 'arrays/<n>.npy' reference)."""
    return with_member(data, where(document(data)), array_bytes)


def conv_weights(doc):
    return doc["layers"][0]["state"]["weights"]


# -- the guard --------------------------------------------------------------------------------

def guarded_classes():
    """Every class a checkpoint can name, their bases, and the loader's own classes."""
    classes = set()
    for registry in (checkpoint.LAYERS, checkpoint.OPTIMIZERS, checkpoint.REGULARIZERS,
                     checkpoint.INITIALIZERS, checkpoint.LOSSES, checkpoint.SCHEDULES,
                     checkpoint._network_classes()):
        for cls in registry.values():
            classes.update(c for c in cls.__mro__ if c is not object)
    classes.update({Optimizers.Adam, Optimizers.Optimizer, Schedules.EarlyStopping, BaseLayer,
                    TrainableLayer, checkpoint._Reader, checkpoint.CheckpointError})
    return classes


def _frozen(value):
    return copy.deepcopy(value) if isinstance(value, (dict, list, set, bytearray)) else value


def process_state():
    registries = ("LAYERS", "OPTIMIZERS", "REGULARIZERS", "INITIALIZERS", "LOSSES", "SCHEDULES",
                  "FLOAT_DTYPES", "HISTORY_KEYS", "MAX_FILE_BYTES",
                  "MAX_DOCUMENT_BYTES", "MAX_MEMBERS", "MAX_ITEMS")
    return {
        "classes": {cls: {k: _frozen(v) for k, v in vars(cls).items()}
                    for cls in guarded_classes()},
        "registries": {name: _frozen(getattr(checkpoint, name)) for name in registries},
        "numpy_random": np.random.get_state(),
        "python_random": random.getstate(),
        "modules": set(sys.modules),
        "cwd": sorted(os.listdir(".")),
    }


def assert_unchanged(before, after):
    for cls, attributes in before["classes"].items():
        now = after["classes"][cls]
        assert set(now) == set(attributes), f"{cls.__name__}: attributes added or removed"
        for name, value in attributes.items():
            same = now[name] is value or (isinstance(value, (dict, list, set, bytearray))
                                          and now[name] == value)
            assert same, f"{cls.__name__}.{name} changed"
    for name, value in before["registries"].items():
        assert after["registries"][name] == value, f"checkpoint.{name} changed"
    old, new = before["numpy_random"], after["numpy_random"]
    assert old[0] == new[0] and np.array_equal(old[1], new[1]) and old[2:] == new[2:], \
        "NumPy's global random state changed"
    assert before["python_random"] == after["python_random"]
    assert after["modules"] - before["modules"] == set(), "loading imported modules"
    assert before["cwd"] == after["cwd"], "loading created files in the working directory"


class Hang(BaseException):
    """Raised by the alarm. Not an Exception, so that nothing in checkpoint.read catches it
    (a TimeoutError, an OSError, would become a CheckpointError there)."""


@contextmanager
def hang_detector(seconds=HANG_SECONDS):
    """Fail the test if the block runs longer than ``seconds``."""
    def alarm(signum, frame):
        raise Hang
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    except Hang:
        pytest.fail(f"more than {seconds} s: a hang")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def markers(tmp_path_factory):
    """A directory that code run from a file would write to (see ``Exploit``)."""
    return tmp_path_factory.mktemp("markers")


@pytest.fixture
def load(tmp_path, markers, saved):
    """``load(data) -> (net, training)`` or the CheckpointError; every promise checked."""
    def run(data):
        path = tmp_path / "hostile.ckpt"
        path.write_bytes(data)
        before = process_state()
        try:
            with hang_detector():
                result = checkpoint.read(path)
        except checkpoint.CheckpointError as err:
            result = err
            message = str(err)
            assert message.startswith(f"{path}: "), message
            assert "\n" not in message and len(message) < 600 + len(str(path)), message
        except Exception as err:                            # noqa: BLE001 - the finding
            pytest.fail(f"{type(err).__name__} instead of CheckpointError: {err}"[:2000])
        assert_unchanged(before, process_state())
        assert os.listdir(markers) == [], "code written in the file ran"
        if not isinstance(result, Exception):
            check_loaded(*result)
        return result
    return run


def refused(result, *fragments):
    """``result`` is a CheckpointError whose message holds every fragment."""
    assert isinstance(result, checkpoint.CheckpointError), f"loaded: {result!r}"
    for fragment in fragments:
        assert fragment in str(result), str(result)
    return str(result)


def check_loaded(net, training):
    """Whatever loads is a network the framework can use: types, shapes, dtypes, finite."""
    assert checkpoint._network_classes()[type(net).__name__] is type(net)
    assert net.data_layer is None
    for layer in net.layers:
        cls = type(layer)
        assert checkpoint.LAYERS[cls.__name__] is cls
        if not layer.trainable:
            continue
        args = {a: getattr(layer, a) for a in checkpoint._constructor_args(cls)}
        shapes = checkpoint._parameter_shapes(cls, args)
        parameters = layer.parameters()
        assert set(parameters) == set(shapes)
        for name, value in parameters.items():
            assert type(value) is np.ndarray and value.dtype == layer.dtype
            assert value.shape == shapes[name] and value.flags.c_contiguous
            assert value.flags.writeable and np.isfinite(value).all()
        for name, optimizer in (layer._optimizers or {}).items():
            assert checkpoint.OPTIMIZERS[type(optimizer).__name__] is type(optimizer)
            moments = [getattr(optimizer, f) for f in ("v", "r") if hasattr(optimizer, f)]
            assert all(m is None for m in moments) or all(m is not None for m in moments)
            for moment in moments:
                assert moment is None or (moment.shape == shapes[name]
                                          and moment.dtype == layer.dtype)
            if getattr(optimizer, "r", None) is not None:
                assert (optimizer.r >= 0).all(), "a negative Adam second moment"
        if isinstance(layer, BatchNormalization.BatchNormalization):
            assert (layer.running_var >= 0).all(), "a negative running variance"
    assert all(isinstance(x, float) and np.isfinite(x) for x in net.loss)
    if training is not None:
        order = training["data"]["order"]
        assert np.array_equal(np.sort(order), np.arange(len(order)))
        assert 0 <= training["data"]["position"] <= len(order)
        np.random.RandomState().set_state(training["rng"])       # a valid state, not the global one
        schedule = training["schedule"]
        if schedule is not None:
            assert schedule.initial is None or schedule.initial > 0


def trains(net, steps=2):
    """A loaded small network still trains (with the global random state put back)."""
    rng = np.random.get_state()
    try:
        net.data_layer = Batches()
        with np.errstate(invalid="raise", divide="raise"):
            net.train(steps)
    finally:
        net.data_layer = None
        np.random.set_state(rng)
    check_loaded(net, None)


# -- the real files load ------------------------------------------------------------------------

def test_the_real_checkpoints_load_and_the_helpers_reproduce_them(saved, load):
    for name, data in saved.items():
        assert archive(members(data)) == data          # the helpers write what checkpoint.py does
        net, training = load(data)
        assert (training is None) == (name in ("plain", "lenet"))
    net, _ = load(saved["plain"])
    trains(net)


# -- not a checkpoint at all ----------------------------------------------------------------

EXPLOIT_COMMAND = "touch {marker}/ran"


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (EXPLOIT_COMMAND.format(marker=self.marker),)


def test_files_that_are_not_checkpoints(saved, load, markers):
    data = saved["plain"]
    cases = {
        "empty": b"",
        "truncated to the magic": data[:4],
        "truncated by one byte": data[:-1],
        "truncated in the middle": data[:len(data) // 2],
        "random bytes": np.random.RandomState(0).bytes(5000),
        "text": b"weights = [1, 2, 3]\n",
        "gzip of a checkpoint": gzip.compress(data),
        "unsealed zip": data[:-64 - len(checkpoint.SEAL)],
    }
    for name, content in cases.items():
        refused(load(content))
    # A pickle, the old format, is never unpickled; the message says how to convert it.
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        message = refused(load(pickle.dumps(Exploit(markers), protocol=protocol)),
                          "pickle", "ConvertCheckpoint.py")
        assert "can run any code" in message
    refused(load(pickle.dumps(Exploit(markers), protocol=0)))
    assert os.listdir(markers) == []


def test_the_exploit_would_leave_a_marker(tmp_path):
    """The control: unpickling the exploit does run its command."""
    pickle.loads(pickle.dumps(Exploit(tmp_path)))
    assert (tmp_path / "ran").exists()


def test_a_zip_of_a_directory_and_missing_files(tmp_path, saved, load):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / checkpoint.DOCUMENT).write_bytes(dict(members(saved["plain"]))[checkpoint.DOCUMENT])
    zipped = archive([("folder/", b""), ("folder/" + checkpoint.DOCUMENT,
                                         (folder / checkpoint.DOCUMENT).read_bytes())])
    refused(load(zipped), f"no {checkpoint.DOCUMENT}")
    unsealed = shutil.make_archive(str(tmp_path / "folder"), "zip", folder)
    refused(load(Path(unsealed).read_bytes()), "not sealed")
    with pytest.raises(IsADirectoryError):
        checkpoint.read(folder)
    with pytest.raises(FileNotFoundError):
        checkpoint.read(tmp_path / "missing.ckpt")


def test_a_device_is_refused_without_reading_it():
    # /dev/zero has no size: it is refused, not read up to MAX_FILE_BYTES (4 GiB).
    with hang_detector():
        with pytest.raises(checkpoint.CheckpointError, match="not a checkpoint"):
            checkpoint.read("/dev/zero")
        assert traced_peak(lambda: checkpoint.read("/dev/zero")) < 1_000_000


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    path = tmp_path / "pipe.ckpt"
    os.mkfifo(path)
    with hang_detector(5):
        with pytest.raises(checkpoint.CheckpointError, match="not a checkpoint"):
            checkpoint.read(path)


def test_a_file_larger_than_a_checkpoint_may_be_is_not_read(tmp_path):
    path = tmp_path / "sparse.ckpt"
    with open(path, "wb") as f:
        f.truncate(checkpoint.MAX_FILE_BYTES + 1)           # sparse: no disk space used
    with hang_detector():
        assert traced_peak(lambda: checkpoint.read(path)) < 1_000_000
        with pytest.raises(checkpoint.CheckpointError, match="more than a checkpoint may have"):
            checkpoint.read(path)


# -- the archive ----------------------------------------------------------------------------

def test_checksum_catches_a_flipped_byte(saved, load):
    data = bytearray(saved["plain"])
    data[len(data) // 3] ^= 0x10
    refused(load(bytes(data)), "checksum mismatch")


def test_members_added_removed_swapped_duplicated_compressed(saved, load):
    data = saved["plain"]
    entries = members(data)
    arrays = [name for name, _ in entries if name.startswith("arrays/")]
    content = dict(entries)
    refused(load(archive(entries + [("arrays/999.npy", content[arrays[0]])])), "unexpected members")
    refused(load(archive(entries + [("evil.py", b"import os")])), "unexpected members")
    refused(load(archive(entries + [("../../escape.npy", content[arrays[0]])])),
            "unexpected members")
    refused(load(archive([e for e in entries if e[0] != arrays[-1]])), "no member")
    refused(load(archive([e for e in entries if e[0] != checkpoint.DOCUMENT])),
            f"no {checkpoint.DOCUMENT}")
    refused(load(archive(entries + [entries[1]])), "distinct members")
    refused(load(archive(entries + [entries[0]])), "distinct members")
    refused(load(archive(entries, compress={arrays[0]})), "compressed")
    refused(load(archive(entries, compress={checkpoint.DOCUMENT})), "compressed")
    # Swapped members of different shapes are caught by the shape check.
    swapped = [(n, content[arrays[1]] if n == arrays[0] else content[arrays[0]] if n == arrays[1]
                else c) for n, c in entries]
    refused(load(archive(swapped)), "expected shape")


def test_an_encrypted_member(saved, load):
    data = bytearray(saved["plain"])
    # Set the "encrypted" flag (bit 0) of the first member's local and central headers.
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 6] |= 1
    data[central + 8] |= 1
    refused(load(reseal(bytes(data))))


def test_many_tiny_members_are_refused_before_zipfile_builds_them(tmp_path):
    # 150,000 central-directory entries in 7 MB: zipfile would build 150,000 objects
    # (about 9 times the file's size) before the member count is checked.
    n = 150_000
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 33, 0, 0, 0, 1, 0) + b"a"
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 33, 0, 0, 0, 1, 0, 0, 0,
                        0, 0, 0) + b"a"
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(entry) * n, len(local),
                      len(checkpoint.SEAL) + 64) + checkpoint.SEAL + b"0" * 64
    path = tmp_path / "many.ckpt"
    path.write_bytes(reseal(local + entry * n + end))
    with pytest.raises(checkpoint.CheckpointError, match="expected at most 100000 members"):
        checkpoint.read(path)
    size = path.stat().st_size
    peak = traced_peak(lambda: checkpoint.read(path))
    assert peak < 3 * size, f"{peak / 1e6:.0f} MB allocated for a {size / 1e6:.0f} MB file"


# -- network.json -------------------------------------------------------------------------------

# Names of modules, functions and classes that no registry holds.
NAMES = ["os.system", "__import__", "Layers.Base.TrainableLayer", "builtins.eval",
         "NeuralNetwork.os", "TrainableLayer", "BaseLayer", "Optimizer", "_Schedule",
         "EarlyStopping", "__class__", "__subclasses__", "numpy.load", "pickle.loads",
         "checkpoint._Reader", "Helpers", "Base", "Initializers", "Layers.Conv.Conv",
         "Optimization.Optimizers.Adam", "float128", "object", "type"]


def test_names_of_modules_and_functions_are_never_resolved(saved, load):
    data = saved["run"]
    places = [lambda d, v: d.__setitem__("class", v),
              lambda d, v: d["layers"][0].__setitem__("class", v),
              lambda d, v: d["layers"][2].__setitem__("class", v),
              lambda d, v: d["optimizer"].__setitem__("class", v),
              lambda d, v: d["optimizer"]["args"]["regularizer"].__setitem__("class", v),
              lambda d, v: d["weights_initializer"].__setitem__("class", v),
              lambda d, v: d.__setitem__("loss_layer", v),
              lambda d, v: d["training"]["schedule"].__setitem__("class", v),
              lambda d, v: d["layers"][5]["optimizer"]["own"].__setitem__("class", v),
              lambda d, v: d["layers"][0]["args"].__setitem__("dtype", v)]
    for place in places:
        for name in NAMES:
            result = load(edited(data, lambda d: place(d, name)))
            refused(result, "expected")
    # LeNet's dtype names a registry entry too.
    refused(load(edited(saved["lenet"], lambda d: d.__setitem__("dtype", "numpy.float128"))),
            "dtype: expected one of float32, float64")


def test_json_syntax_attacks(saved, load):
    data = saved["plain"]
    refused(load(with_document(data, b"[" * 100_000 + b"]" * 100_000)), "nested too deep")
    refused(load(with_document(data, b'{"a":' * 100_000 + b"1" + b"}" * 100_000)),
            "nested too deep")
    refused(load(with_document(data, b"1" + b"0" * 5000)), "not valid JSON")        # 10**5000
    refused(load(with_document(data, b'{"format": NaN}')), "NaN is not a number JSON allows")
    refused(load(with_document(data, b'{"format": -Infinity}')), "not valid JSON")
    refused(load(with_document(data, b'{"a": 1, "a": 2}')), "duplicate key")
    refused(load(with_document(data, b"\xff\xfe{}")), "not valid JSON")
    refused(load(with_document(data, b'"' + b"x" * (checkpoint.MAX_DOCUMENT_BYTES - 1) + b'"')),
            "more than")
    refused(load(with_document(data, b'"' + b"x" * 4_000_000 + b'"')), "expected an object")
    refused(load(with_document(data, b"")), "not valid JSON")
    refused(load(with_document(data, b"null")), "expected an object")
    text = dict(members(data))[checkpoint.DOCUMENT]
    refused(load(with_document(data, text.replace(b'"format"', b'"format": 1, "format"', 1))),
            "duplicate key")
    # Non-finite numbers that JSON spells as overflowing literals.
    doc = text.replace(b'"learning_rate": 0.001', b'"learning_rate": 1e999')
    refused(load(with_document(data, doc)), "learning_rate")


def wrong_values():
    return [None, True, False, 0, -1, 2**63, -2**63 - 1, 10**4000, 1.5, -0.0, 1e308, 5e-324,
            "", "x" * 100_000, "arrays/0.npy", "arrays/99999.npy", "\x00", "\ud800",
            [], [1, 2], [[[[[]]]]], list(range(10)), {}, {"class": "os.system", "args": {}}]


def test_wrong_types_and_values_everywhere(saved, load):
    """Every value of the document replaced by 3 kinds of wrong value: refused or harmless."""
    data = saved["run"]
    doc = document(data)
    rng = random.Random(5)
    outcomes = {"refused": 0, "loaded": 0}
    for path in [p for p in leaf_paths(doc) if p]:
        for value in rng.sample(wrong_values(), 3):
            result = load(edited(data, lambda d: put(d, path, value)))
            outcomes["loaded" if isinstance(result, tuple) else "refused"] += 1
    assert outcomes["refused"] > 5 * outcomes["loaded"], outcomes


def test_huge_integers_are_refused_where_they_are(saved, load):
    data = saved["run"]
    for place, where in [(("optimizer", "args", "learning_rate"), "optimizer.args.learning_rate"),
                         (("bias_initializer", "args", "value"), "bias_initializer.args.value"),
                         (("history",), "history[0].train_loss"),
                         (("training", "rng", "cached_gaussian"), "training.rng.cached_gaussian"),
                         (("training", "schedule", "initial"), "training.schedule.initial"),
                         (("training", "early_stopping", "min_delta"),
                          "training.early_stopping.min_delta"),
                         (("layers", 3, "args", "stride_shape"), "layers[3].args.stride_shape"),
                         (("layers", 6, "args", "probability"), "layers[6].args.probability")]:
        value = 10**400
        if place == ("history",):
            value = [{"epoch": 1, "train_loss": 10**400}]
        elif place[-1] == "stride_shape":
            value = [10**400, 1]
        message = refused(load(edited(data, lambda d: put(d, place, value))), where)
        assert len(message) < 300 + len(where)


def test_long_names_from_the_file_give_a_short_message(saved, load):
    data = saved["plain"]
    message = refused(load(edited(data, lambda d: d["layers"][2].__setitem__("k" * 1_000_000, 1))),
                      "unknown")
    assert len(message) < 400
    refused(load(edited(data, lambda d: d.__setitem__("extra", 1))), "unknown ['extra']")
    many = {str(i): "arrays/0.npy" for i in range(1000)}
    assert len(refused(load(edited(data, lambda d: d["layers"][2].__setitem__("state", many))),
                       "layers[2].state: expected the entries []")) < 400
    entries = members(data)
    long_name = "arrays/" + "x\n" * 20_000 + ".npy"
    message = refused(load(archive(entries + [(long_name, b"")])), "unexpected members")
    assert len(message) < 400 and "\n" not in message
    message = refused(load(archive(entries + [(long_name, b"")], compress={long_name})),
                      "compressed")
    assert len(message) < 400 and "\n" not in message
    refused(load(edited(data, lambda d: d["optimizer"]["args"].__setitem__("eval", 1))), "unknown")


def without(data, *paths):
    """``data`` with the array references at ``paths`` set to null and their members removed."""
    doc = document(data)
    gone = {get(doc, path) for path in paths}
    for path in paths:
        put(doc, path, None)
    return archive([(n, json.dumps(doc).encode() if n == checkpoint.DOCUMENT else c)
                    for n, c in members(data) if n not in gone])


def test_inconsistent_optimizer_state_is_refused(saved, load):
    """Adam's moments come in pairs, and the second one is never negative."""
    data = saved["plain"]
    state = ("layers", 0, "optimizer", "state", "weights")
    refused(load(without(data, state + ("v",))), "layers[0].optimizer.state.weights")
    refused(load(without(data, state + ("r",))), "layers[0].optimizer.state.weights")
    moment = np.load(io.BytesIO(dict(members(data))[get(document(data), state + ("r",))]))
    refused(load(with_array(data, lambda d: get(d, state + ("r",)), npy(-1 - moment))),
            "layers[0].optimizer.state.weights.r")
    # Both moments absent with steps counted: the moments start afresh, harmless.
    net, _ = load(without(data, state + ("v",), state + ("r",)))
    trains(net)


def test_negative_running_variance_is_refused(saved, load):
    data = saved["plain"]
    where = ("layers", 1, "state", "running_var")
    refused(load(with_array(data, lambda d: get(d, where), npy(-np.ones(3)))),
            "layers[1].state.running_var", "expected values >= 0")
    best = ("training", "early_stopping", "best_state", 1, "running_var")    # restored at the end
    refused(load(with_array(saved["run"], lambda d: get(d, best), npy(-np.ones(3)))),
            "training.early_stopping.best_state[1].running_var", "expected values >= 0")


def test_a_schedule_that_would_set_a_negative_learning_rate_is_refused(saved, load):
    data = saved["run"]
    where = ("training", "schedule", "initial")
    for initial in (-1, 0, -1e-3):
        refused(load(edited(data, lambda d: put(d, where, initial))), "training.schedule.initial")


# -- arrays -----------------------------------------------------------------------------------

def test_array_headers(saved, load):
    data = saved["plain"]
    good = np.load(io.BytesIO(dict(members(data))[conv_weights(document(data))]))
    body = good.tobytes()
    shape = good.shape

    def case(content, *fragments):
        return refused(load(with_array(data, conv_weights, content)), *fragments)

    case(npy_raw(header("|O", shape), body), "expected dtype float64, got object")
    case(npy(good.astype(np.complex128)), "complex128")
    case(npy(good.astype(">f8")), ">f8")
    case(npy(good.astype(np.float32)), "float32")
    case(npy(good.astype(np.float16)), "float16")
    case(npy(good.astype(np.longdouble)), "expected dtype float64")
    case(npy(good.astype(np.int64)), "int64")
    case(npy(np.zeros(shape, dtype=[("a", "<f8")])), "expected dtype float64")
    case(npy_raw(header([("a", "<f8")], shape), body), "expected dtype float64")
    case(npy_raw(header(("<f8", (1,)), shape), body), "expected dtype float64")
    many = "[" + ", ".join(f"('f{i}', '<f8')" for i in range(500)) + "]"
    message = case(npy_raw(f"{{'descr': {many}, 'fortran_order': False, 'shape': {shape}}}", body),
                   "expected dtype float64")
    assert len(message) < 400
    case(npy(np.asfortranarray(good)), "expected C order")
    case(npy_raw(header("<f8", shape, True), body), "expected C order")
    case(npy_raw(header("<f8", (2**40,)), body), "expected shape")
    case(npy_raw(header("<f8", (2**62, 2**62, 0, 1)), body), "expected shape")
    case(npy_raw(header("<f8", (-1,)), body), "expected shape")
    assert len(case(npy_raw(header("<f8", (1,) * 2000), body), "expected shape")) < 400
    case(npy_raw(header("<f8", (-3, -2, 3, 3)), body), "expected shape")
    case(npy_raw(header("<f8", "(1" + "0" * 5000 + ",)"), body), "not a valid .npy header")
    case(npy_raw(header("<f8", "(" * 3000 + ")" * 3000), body), "not a valid .npy header")
    case(npy_raw(header("<f8", shape).replace(", }", ", {"), body), "EOF in multi-line")
    case(npy_raw(header("<f8", shape) + " " * 70_000, body, version=2), "not a valid .npy header")
    case(npy_raw(header("<f8", "[3, 2, 3, 3]"), body), "not a valid .npy header")
    case(npy_raw("__import__('os').system('touch ran')", body), "not a valid .npy header")
    case(npy_raw(header("<f8", shape).replace("}", "'x': 1}"), body), "not a valid .npy header")
    case(npy_raw(header("<f8", shape), body[:-8]), "needs 432 bytes")
    case(npy_raw(header("<f8", shape), body + bytes(8)), "needs 432 bytes")
    case(b"", "not a valid .npy header")
    case(b"\x93NUMPY", "not a valid .npy header")
    message = case(b"\x93NUMPY\x03\x00" + npy(good)[8:], "unsupported .npy version (3, 0)")
    assert message.count(str(message.split(": ")[0])) == 1, message    # the file named once
    for value in (np.nan, np.inf, -np.inf):
        bad = good.copy()
        bad[0, 0, 1, 2] = value
        case(npy(bad), "expected finite values")
    # .npy version 2.0 and native-order descriptions of the right dtype are fine.
    load(with_array(data, conv_weights, npy_raw(header("<f8", shape), body, version=2)))
    load(with_array(data, conv_weights, npy_raw(header("=f8", shape), body)))


def test_array_references(saved, load):
    data = saved["plain"]
    first = conv_weights(document(data))
    weights = ("layers", 0, "state", "weights")
    for reference in ("arrays/../network.json", "network.json", "/etc/passwd", "arrays/0.npy\x00",
                      "arrays/1234567890.npy", "ARRAYS/0.NPY", "arrays/-1.npy", " arrays/0.npy"):
        refused(load(edited(data, lambda d: put(d, weights, reference))), "layers[0].state.weights")
    refused(load(edited(data, lambda d: put(d, ("layers", 0, "state", "bias"), first))),
            "referenced twice")


# -- allocations a file promises ----------------------------------------------------------------

def traced_peak(function):
    """Peak bytes Python and NumPy allocated while ``function`` ran (tracemalloc)."""
    tracemalloc.start()
    try:
        try:
            function()
        except checkpoint.CheckpointError:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def huge_promises(saved):
    """Files whose headers or constructor arguments promise gigabytes, with small arrays."""
    data = saved["plain"]
    good_body = bytes(432)
    yield "shape header 2**40", with_array(data, conv_weights,
                                           npy_raw(header("<f8", (2**40,)), good_body))
    yield "shape header 10**9 x 10**9", with_array(
        data, conv_weights, npy_raw(header("<f8", (10**9, 10**9, 1, 1)), good_body))

    def fully_connected(d):
        d["layers"][5]["args"].update(input_size=10**6, output_size=10**6)
    yield "FullyConnected(10**6, 10**6)", edited(data, fully_connected)
    promised = npy_raw(header("<f8", (10**6 + 1, 10**6)), good_body)     # the shape, not the bytes
    yield "FullyConnected(10**6, 10**6) and a header of its shape", with_array(
        edited(data, fully_connected), lambda d: d["layers"][5]["state"]["weights"], promised)

    def convolution(d):
        d["layers"][0]["args"].update(convolution_shape=[2, 10**5, 10**5], num_kernels=10**4)
    yield "Conv with 10**14 weights", edited(data, convolution)

    def batch_norm(d):
        d["layers"][1]["args"]["channels"] = 10**10
    yield "BatchNormalization(10**10)", edited(data, batch_norm)

    def lstm(d):
        d["layers"][8]["args"].update(input_size=10**6, hidden_size=10**6)
    yield "LSTM(10**6, 10**6)", edited(data, lstm)

    def loss_array(d):
        d["loss"] = d["layers"][0]["state"]["weights"]     # (3, 2, 3, 3), not 1-D
    yield "loss of 4 dimensions", edited(data, loss_array)


def test_huge_promises_are_refused_before_allocating(saved, tmp_path):
    for name, data in huge_promises(saved):
        path = tmp_path / "huge.ckpt"
        path.write_bytes(data)
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.read(path)
        peak = traced_peak(lambda: checkpoint.read(path))
        assert peak < 2_000_000, f"{name}: {peak / 1e6:.1f} MB allocated before refusing"


def test_loading_under_an_address_space_limit(saved, tmp_path):
    """In a process that may map only 1 GB more than it has, loads succeed or are refused."""
    for name, data in huge_promises(saved):
        (tmp_path / f"{name}.ckpt").write_bytes(data)
    (tmp_path / "good.ckpt").write_bytes(saved["lenet_run"])
    script = textwrap.dedent(f"""
        import os, resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        import checkpoint
        from Models import LeNet
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (mapped + (1 << 30), mapped + (1 << 30)))
        for name in sorted(os.listdir({str(tmp_path)!r})):
            try:
                checkpoint.read(os.path.join({str(tmp_path)!r}, name))
                print(name, "loaded")
            except checkpoint.CheckpointError:
                print(name, "refused")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())
    assert lines.pop("good.ckpt") == "loaded"
    assert set(lines.values()) == {"refused"} and len(lines) == len(list(huge_promises(saved)))


# -- the fuzzer -------------------------------------------------------------------------------

def leaf_paths(value, path=()):
    """Paths (tuples of keys and indices) to every value of a JSON document, parents last.

    Not below 12 levels: a real document is 8 deep, deeper is what a mutation put there.
    """
    if len(path) >= 12:
        pass
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, path + (key,))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaf_paths(item, path + (index,))
    yield path


def get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def put(doc, path, value):
    if not path:
        raise ValueError("the root")
    get(doc, path[:-1])[path[-1]] = value


def random_value(rng):
    """A hostile JSON value of a random kind."""
    kind = rng.randrange(12)
    if kind == 0:
        return rng.choice([0, 1, -1, 2, 3, 27, 2**31, 2**63 - 1, 2**63, -2**63, 2**64, 10**30])
    if kind == 1:
        return rng.choice([0.0, -0.0, 0.5, 1.0, 1.5, -1e-3, 1e308, -1e308, 5e-324, 1e-320])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(NAMES)
    if kind == 4:
        return rng.choice(["", "x" * rng.randrange(1, 200_000), "arrays/0.npy", "arrays/1.npy",
                           f"arrays/{rng.randrange(100)}.npy", "float32", "float64", "\x00",
                           "\ud800", "NaN", "network.json"])
    if kind == 5:
        nested = []
        for _ in range(rng.randrange(1, 300)):
            nested = [nested]
        return nested
    if kind == 6:
        return [rng.randrange(-5, 50) for _ in range(rng.randrange(0, 10))]
    if kind == 7:
        return list(range(rng.choice([100, 10_000, 150_000])))
    if kind == 8:
        return {"class": rng.choice(NAMES + ["Adam", "Conv", "L2_Regularizer"]), "args": {}}
    if kind == 9:
        return {str(i): i for i in range(rng.choice([1, 70, 1000]))}
    if kind == 10:
        return 10 ** rng.randrange(19, 4000)
    return rng.choice([[1], [1, 1], [3, 3], [2, 3, 3], [1] * 9, [0, 0], [-1, 2]])


def mutate_document(rng, doc):
    """Replace, delete or add one entry at a random place of ``doc`` (in place)."""
    paths = [p for p in leaf_paths(doc) if p]
    path = rng.choice(paths)
    action = rng.randrange(10)
    parent = get(doc, path[:-1])
    if action == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(["extra", "__class__", "class", "args", "state", "optimizer", "v"])] = \
            random_value(rng)
    elif action == 2 and isinstance(parent, list):
        parent.append(copy.deepcopy(rng.choice(parent)))
    elif action == 3 and isinstance(parent, list):
        del parent[path[-1]]
    else:
        put(doc, path, random_value(rng))


def mutate_header(rng, content):
    """An .npy member with a random header (dtype, order, shape or version) and its body."""
    stream = io.BytesIO(content)
    np.lib.format.read_magic(stream)                  # a saved member: always version 1.0
    shape = np.lib.format.read_array_header_1_0(stream)[0]
    body = content[stream.tell():]
    descr = rng.choice(["<f8", "<f4", "|O", "<c16", ">f8", "<i8", "|b1", "V8", "<U3", "<f2",
                        [("a", "<f8")], ("<f8", (2,)), "<M8[s]", "<f8"])
    new_shape = rng.choice([shape, shape[::-1], shape + (1,), (), (0,), (2**40,), (-1,),
                            (2**62, 2**62, 0), tuple(-d for d in shape),
                            (len(body) // 8,), shape])
    fortran = rng.random() < 0.2
    version = rng.choice([1, 1, 2, 3])
    text = header(descr, new_shape, fortran)
    if rng.random() < 0.1:
        cut = rng.randrange(len(text))
        text = text[:cut] + rng.choice(["(", ")", "'", "{", "1e9", "__import__('os')", ""]) + \
            text[cut:]
    if version == 3:
        return b"\x93NUMPY\x03\x00" + content[8:]
    return npy_raw(text, body if rng.random() < 0.8 else body[:rng.randrange(len(body) + 1)],
                   version)


def mutate_archive(rng, data):
    """A sealed structural mutation of ``data``; returns (bytes, only member contents moved)."""
    entries = members(data)
    names = [n for n, _ in entries]
    arrays = [n for n in names if n.startswith("arrays/")]
    action = rng.randrange(8)
    if action == 7:                                   # bytes of the zip structures, re-sealed
        edited_bytes = bytearray(data)
        starts = [m.start() for m in re.finditer(b"PK(\x03\x04|\x01\x02|\x05\x06)", data)]
        for _ in range(rng.choice([1, 2, 3])):
            at = min(rng.choice(starts) + rng.randrange(46), len(data) - 65)
            edited_bytes[at] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, edited_bytes[at] ^ 4])
        return reseal(bytes(edited_bytes)), False
    if action == 0:                                   # swap two members' contents
        a, b = rng.sample(arrays, 2)
        content = dict(entries)
        return archive([(n, content[b] if n == a else content[a] if n == b else c)
                        for n, c in entries]), True
    if action == 1:                                   # remove one member
        gone = rng.choice(names)
        return archive([e for e in entries if e[0] != gone]), False
    if action == 2:                                   # add one (a new name, or a duplicate)
        name = rng.choice(["arrays/999.npy", "x.py", "arrays/", rng.choice(names),
                           "../" + rng.choice(names), "__init__.py"])
        return archive(entries + [(name, rng.choice(entries)[1])]), False
    if action == 3:                                   # reorder the members
        shuffled = entries[:]
        rng.shuffle(shuffled)
        return archive(shuffled), True
    if action == 4:                                   # compress one
        return archive(entries, compress={rng.choice(names)}), False
    if action == 5:                                   # an .npy header
        name = rng.choice(arrays)
        return archive([(n, mutate_header(rng, c) if n == name else c) for n, c in entries]), False
    doc = json.loads(dict(entries)[checkpoint.DOCUMENT])      # network.json, 1 to 3 places
    for _ in range(rng.choice([1, 1, 2, 3])):
        mutate_document(rng, doc)
    text = json.dumps(doc).encode()
    return archive([(n, text if n == checkpoint.DOCUMENT else c) for n, c in entries]), False


def test_fuzz_truncations(saved, load):
    rng = random.Random(11)
    for name in ("plain", "run", "lenet"):
        data = saved[name]
        cuts = [rng.randrange(len(data)) for _ in range(100)] + \
            list(range(len(data) - 100, len(data)))
        for cut in cuts:
            refused(load(data[:cut]))


def test_fuzz_bit_flips_are_all_caught_by_the_checksum(saved, load):
    rng = random.Random(12)
    for name in ("plain", "run", "lenet_run"):
        data = saved[name]
        for _ in range(200):
            flipped = bytearray(data)
            for _ in range(rng.choice([1, 1, 2, 8])):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            if flipped != data:
                refused(load(bytes(flipped)))


@pytest.mark.parametrize("name,seed,count", [("run", 21, 1200), ("plain", 22, 700),
                                             ("lenet_run", 23, 150)])
def test_fuzz_structural_mutations(saved, load, name, seed, count):
    """Resealed mutations: each load is refused with CheckpointError, or loads a usable network."""
    rng = random.Random(seed)
    data = saved[name]
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(count):
        mutated, contents_only = mutate_archive(rng, data)
        result = load(mutated)
        if isinstance(result, Exception):
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
            if contents_only and name != "lenet_run":
                trains(result[0])
    assert outcomes["refused"] > count // 2, outcomes


# -- the command line -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """The four official IDX files (.gz) of 20 training and 10 test images."""
    folder = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        names = [f for f in FILES if f.startswith(prefix)]
        write_idx(folder / (names[0] + ".gz"), rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        write_idx(folder / (names[1] + ".gz"), rng.integers(0, 10, n).astype(np.uint8))
    return folder


def bad_checkpoints(saved, folder):
    """name -> path of a file TrainLeNet.py must refuse in one line (status 2)."""
    lenet = saved["lenet_run"]
    files = {
        "truncated": lenet[:len(lenet) // 2],
        "random bytes": np.random.RandomState(1).bytes(3000),
        "text": b"hello\n",
        "gzip": gzip.compress(lenet),
        "pickle": pickle.dumps({"weights": [1, 2]}, protocol=4),
        "exploit pickle": pickle.dumps(Exploit(folder), protocol=4),
        "another architecture": saved["run"],
        "nested too deep": with_document(lenet, b"[" * 100_000 + b"]" * 100_000),
        "flipped byte": lenet[:1000] + bytes([lenet[1000] ^ 4]) + lenet[1001:],
        "huge shape": with_array(lenet, conv_weights, npy_raw(header("<f4", (2**40,)))),
        "no loss layer": edited(lenet, lambda d: d.__setitem__("loss_layer", None)),
    }
    paths = {}
    for name, content in files.items():
        paths[name] = folder / (name.replace(" ", "-") + ".ckpt")
        paths[name].write_bytes(content)
    paths["missing"] = folder / "missing.ckpt"
    paths["directory"] = folder
    return paths


def run_all(commands):
    """Run the commands two at a time (the machine has 2 cores); their CompletedProcesses."""
    results = []
    for start in range(0, len(commands), 2):
        running = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    cwd=ROOT, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
                   for c in commands[start:start + 2]]
        for process in running:
            out, err = process.communicate(timeout=120)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def test_command_line_refuses_every_bad_checkpoint_in_one_line(saved, tmp_path, tiny_mnist):
    folder = tmp_path / "bad"
    folder.mkdir()
    paths = bad_checkpoints(saved, folder)
    plain = tmp_path / "model-save.ckpt"
    plain.write_bytes(saved["lenet"])                  # model.save: no training state
    cases = [(mode, name, path) for name, path in paths.items()
             for mode in ("--evaluate", "--resume")]
    cases.append(("--resume", "model.save", plain))
    # A new run reads what it would replace: a bad file there is refused the same way.
    cases += [("--no-plot", name, paths[name]) for name in ("truncated", "exploit pickle",
                                                            "nested too deep")]
    commands = [[sys.executable, str(ROOT / "TrainLeNet.py"), mode, "--checkpoint", str(path),
                 "--data-dir", str(tiny_mnist)] for mode, _, path in cases]
    for (mode, name, path), result in zip(cases, run_all(commands)):
        what = f"{mode} {name}: status {result.returncode}, stderr {result.stderr!r}"
        assert result.returncode == 2, what
        assert "Traceback" not in result.stderr, what
        assert len(result.stderr.splitlines()) == 1, what
        assert result.stderr.startswith("TrainLeNet.py: error: "), what
        assert str(path) in result.stderr, what
    assert not (folder / "ran").exists()


def test_resume_refuses_hostile_settings_in_one_line(saved, tmp_path, tiny_mnist):
    """Settings are data of the file too: digits int() refuses, a NUL in a path, ..."""
    lenet = saved["lenet_run"]
    hostile = {"epochs": "²", "seed": "³", "batch_size": "٣", "data_dir": "a\x00b", "lr": "nan",
               "dataset": "x\ny", "validation": -1, "augment": 9, "subset": 0}
    cases = []
    for name, value in hostile.items():
        path = tmp_path / f"{name}.ckpt"
        path.write_bytes(edited(lenet, lambda d: put(d, ("training", "settings", name), value)))
        cases.append((name, path))
    commands = [[sys.executable, str(ROOT / "TrainLeNet.py"), "--resume", "--checkpoint", str(path)]
                for _, path in cases]
    for (name, _), result in zip(cases, run_all(commands)):
        what = f"{name}: status {result.returncode}, stderr {result.stderr!r}"
        assert result.returncode == 2 and "Traceback" not in result.stderr, what
        assert len(result.stderr.splitlines()) == 1, what
        assert f"its setting {name}=" in result.stderr, what


def test_an_all_zero_random_state_is_refused(saved, load):
    data = with_array(saved["run"], lambda doc: doc["training"]["rng"]["keys"],
                      npy(np.zeros(624, np.uint32)))
    refused(load(data), "training.rng.keys", "all-zero state")


def test_resume_refuses_a_schedule_or_stopper_its_settings_do_not_make(saved, tmp_path):
    """The saved run holds ExponentialDecay(0.9) and EarlyStopping(2, 0.01): settings that
    say no early stopping (patience 0), or no decay (lr_decay 1), contradict it."""
    cases = {"patience 0": ({"lr_decay": 0.9, "patience": 0}, "early stopping"),
             "lr_decay 1": ({"lr_decay": 1.0, "patience": 0}, "schedule")}
    commands = []
    for name, (settings, _) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.ckpt"
        path.write_bytes(edited(saved["lenet_run"], lambda d, s=settings: [
            put(d, ("training", "settings", key), value) for key, value in s.items()]))
        commands.append([sys.executable, str(ROOT / "TrainLeNet.py"), "--resume",
                         "--checkpoint", str(path)])
    for (name, (_, what)), result in zip(cases.items(), run_all(commands)):
        detail = f"{name}: status {result.returncode}, stderr {result.stderr!r}"
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, detail
        assert f"its {what} (" in result.stderr and "is not what its settings make" \
            in result.stderr, detail
