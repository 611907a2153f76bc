"""Hostile checkpoints: every way a file can make ``checkpoint.read`` misbehave.

Loading promises (``checkpoint/__init__.py``): it never unpickles or resolves a name written
in the file, checks every value and array header before it allocates, and refuses a bad file
with one ``CheckpointError`` naming the file, leaving the process as it was. Every hostile
file goes through ``load``, which fails the test on any other exception, a hang, code
running (marker files), a changed class attribute or registry, a changed random state or a
newly imported module.

The document and array mutations are data: ``tests/data/checkpoints/hostile.json``, one row
per hostile file (which real checkpoint, what is changed, what the refusal must say), applied
by ``test_the_hostile_corpus``. What is not one change of the document (bytes that are no
checkpoint, archive surgery, fuzzing, memory, the command line) is code below.
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
from test_checkpoint import archive, edited, members, npy

ROOT = Path(__file__).resolve().parent.parent
CORPUS = json.loads((ROOT / "tests" / "data" / "checkpoints" / "hostile.json").read_text())
HANG_SECONDS = 20            # a hang detector, not a speed assertion


# -- real checkpoints to attack ---------------------------------------------------------------

class Batches:
    """Random (4, 2, 6, 6) images with one-hot labels of 3 classes."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def next(self):
        return self.rng.random((4, 2, 6, 6)), np.eye(3)[self.rng.integers(0, 3, 4)]


def small_network():
    """Every kind of state: Conv, BatchNorm statistics, Dropout, RNN/LSTM, Adam + L2 moments,
    and a layer with an optimizer of its own (layer 5)."""
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
    net.layers[5].optimizer = Optimizers.SgdWithMomentum(1e-2, 0.5)
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


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Bytes of real checkpoints: ``plain``/``run`` (small network), ``lenet``/``lenet_run``."""
    folder = tmp_path_factory.mktemp("saved")
    net = small_network()
    rng = np.random.get_state()
    np.random.seed(2)
    lenet = LeNet.LeNet()
    np.random.set_state(rng)
    settings = {name: default for name, (_, default, _) in TrainLeNet.SETTINGS.items()}
    files = {"plain": (net, None), "run": (net, training_run(net)), "lenet": (lenet, None),
             "lenet_run": (lenet, training_run(lenet, settings, 400))}
    for name, (network, training) in files.items():
        checkpoint.save(folder / name, network, training)
    return {name: (folder / name).read_bytes() for name in files}


# -- the guard --------------------------------------------------------------------------------

def process_state():
    classes = {BaseLayer, TrainableLayer, Optimizers.Optimizer, checkpoint.Reader,
               checkpoint.CheckpointError}
    for kind in ("network", "layer", "optimizer", "regularizer", "initializer", "loss",
                 "schedule", "stopper"):
        for cls in checkpoint.classes(kind).values():
            classes.update(c for c in cls.__mro__ if c is not object)
    return {"classes": {cls: {k: copy.deepcopy(v) if isinstance(v, (dict, list, set)) else v
                              for k, v in vars(cls).items()} for cls in classes},
            "registries": {kind: checkpoint.classes(kind) for kind in ("layer", "optimizer")},
            "numpy_random": np.random.get_state(), "python_random": random.getstate(),
            "modules": set(sys.modules), "cwd": sorted(os.listdir("."))}


def assert_unchanged(before, after):
    for cls, attributes in before["classes"].items():
        now = after["classes"][cls]
        assert set(now) == set(attributes), f"{cls.__name__}: attributes added or removed"
        for name, value in attributes.items():
            assert now[name] is value or now[name] == value, f"{cls.__name__}.{name} changed"
    assert before["registries"] == after["registries"]
    old, new = before["numpy_random"], after["numpy_random"]
    assert old[0] == new[0] and np.array_equal(old[1], new[1]) and old[2:] == new[2:], \
        "NumPy's global random state changed"
    assert before["python_random"] == after["python_random"]
    assert after["modules"] - before["modules"] == set(), "loading imported modules"
    assert before["cwd"] == after["cwd"], "loading created files in the working directory"


class Hang(BaseException):
    """Raised by the alarm; not an Exception, so that nothing in checkpoint.read catches it."""


@contextmanager
def hang_detector(seconds=HANG_SECONDS):
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
            result, message = err, str(err)
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
    assert checkpoint.classes("network")[type(net).__name__] is type(net) and net.data_layer is None
    for layer in net.layers:
        assert checkpoint.classes("layer")[type(layer).__name__] is type(layer)
        if not layer.trainable:
            continue
        args = {a: getattr(layer, a) for a in checkpoint.constructor_args(type(layer))}
        shapes = type(layer).parameter_shapes_for(args)
        assert set(layer.parameters()) == set(shapes)
        for name, value in layer.parameters().items():
            assert type(value) is np.ndarray and value.dtype == layer.dtype
            assert value.shape == shapes[name] and value.flags.c_contiguous
            assert value.flags.writeable and np.isfinite(value).all()
        for name, optimizer in (layer.parameter_optimizers() or {}).items():
            moments = [getattr(optimizer, f) for f in ("v", "r") if hasattr(optimizer, f)]
            assert all(m is None for m in moments) or all(m is not None for m in moments)
            for moment in moments:
                assert moment is None or (moment.shape == shapes[name] and moment.dtype == layer.dtype)
            assert getattr(optimizer, "r", None) is None or (optimizer.r >= 0).all()
        if isinstance(layer, BatchNormalization.BatchNormalization):
            assert (layer.running_var >= 0).all(), "a negative running variance"
    assert all(isinstance(x, float) and np.isfinite(x) for x in net.loss)
    if training is not None:
        order = training["data"]["order"]
        assert np.array_equal(np.sort(order), np.arange(len(order)))
        assert 0 <= training["data"]["position"] <= len(order)
        np.random.RandomState().set_state(training["rng"])       # a valid state
        assert training["schedule"] is None or training["schedule"].initial is None or \
            training["schedule"].initial > 0


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


# -- the corpus -------------------------------------------------------------------------------

def expand(value):
    """A corpus value: ``{"$power": [b, e]}`` is b**e, ``{"$repeat": [s, n]}`` s*n,
    ``{"$entries": [n, v]}`` n entries "0" ... "n-1" of v; lists and objects recurse."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("$"):
        (op, (a, b)), = value.items()
        return {"$power": lambda: a ** b, "$repeat": lambda: a * b,
                "$entries": lambda: {str(i): b for i in range(a)}}[op]()
    if isinstance(value, list):
        return [expand(v) for v in value]
    return {k: expand(v) for k, v in value.items()} if isinstance(value, dict) else value


def walk(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc, expand(path[-1])


def npy_raw(header, body=b"", version=1):
    """An .npy member with a hand-written header dict (text), padded like NumPy's."""
    text = header.encode("latin1")
    text += b" " * (63 - ((10 if version == 1 else 12) + len(text)) % 64) + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + \
        len(text).to_bytes(2 if version == 1 else 4, "little") + text + body


def hostile_array(good, spec):
    """The member ``spec`` (a corpus row's "npy") makes of the good array ``good``."""
    if "raw" in spec:
        return spec["raw"].encode("latin1")
    if "negate" in spec:
        return npy(-1 - np.abs(good))
    if "value" in spec:
        bad = {"zeros": np.zeros_like(good), "short": good[:-1]}.get(spec["value"], good.copy())
        if spec["value"] in ("nan", "inf", "-inf"):
            bad.reshape(-1)[0] = float(spec["value"])
        return npy(bad)
    body = good.tobytes()
    body = {"short": body[:-8], "matrix": bytes(48), "long": body + bytes(8), "double": body * 2, "half": body[:len(body) // 2],
            "quarter": body[:len(body) // 4]}.get(spec.get("body"), body)
    if spec.get("version") == 3:
        return b"\x93NUMPY\x03\x00" + npy(good)[8:]
    descr = spec.get("descr", "<f8")
    descr = [tuple(field) for field in descr] if isinstance(descr, list) and \
        isinstance(descr[0], list) else tuple(descr) if isinstance(descr, list) else descr
    shape = spec.get("shape", list(good.shape))
    shape = tuple(shape) if isinstance(shape, list) else shape
    header = spec.get("header") or (f"{{'descr': {descr!r}, 'fortran_order': "
                                    f"{spec.get('fortran', False)}, 'shape': {shape}, }}")
    return npy_raw(header + " " * spec.get("pad", 0), body, spec.get("version", 1))


def mutated(data, case):
    """``data`` with the change of a corpus row: "set" (with "value", or "copy" of another
    path) or "delete" a document entry at a path, "document" raw text, "array" a member's
    .npy ("npy": its header fields, body or values), "remove_array", "add_member". A row's
    "file" names the real checkpoint, its "expect" the fragments of the refusal (or "loads")."""
    if "document" in case:
        text = "".join(piece * count for piece, count in case["document"])
        return archive({**members(data), "network.json": text.encode(case.get("encoding", "utf-8"))})
    if "add_member" in case:
        name, content = case["add_member"]
        return archive({**members(data), name: content.encode()})
    doc = json.loads(members(data)["network.json"])
    replaced = {}
    for path in case.get("remove_array", []):
        parent, key = walk(doc, path)
        replaced[parent[key]], parent[key] = None, None
    if "array" in case:
        parent, key = walk(doc, case["array"])
        good = np.load(io.BytesIO(members(data)[parent[key]]))
        replaced[parent[key]] = hostile_array(good, case["npy"])
    if "set" in case:
        parent, key = walk(doc, case["set"])
        parent[key] = walk(doc, case["copy"])[0][case["copy"][-1]] if "copy" in case \
            else expand(case["value"])
    if "delete" in case:
        parent, key = walk(doc, case["delete"])
        del parent[key]
    entries = {**members(data), "network.json": json.dumps(doc).encode(), **replaced}
    return archive({name: content for name, content in entries.items() if content is not None})


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_the_hostile_corpus(saved, load, case):
    result = load(mutated(saved[case["file"]], case))
    if case["expect"] == "loads":
        assert not isinstance(result, Exception), result
        if case["file"] == "plain":
            trains(result[0])
        return
    message = refused(result, *case["expect"])
    assert not case.get("short") or len(message) < 400, message


def test_the_real_checkpoints_load_and_the_surgery_reproduces_them(saved, load):
    for name, data in saved.items():
        net, training = load(data)
        assert (training is None) == (name in ("plain", "lenet"))
        again = load(mutated(data, {"set": ["history"], "value": []}))[0]
        x = np.random.default_rng(0).random((2, 1, 28, 28) if "lenet" in name else (2, 2, 6, 6))
        np.testing.assert_array_equal(again.test(x), net.test(x))


# -- files that are no checkpoint, and archive surgery -----------------------------------------

EXPLOIT_COMMAND = "touch {marker}/ran"


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (EXPLOIT_COMMAND.format(marker=self.marker),)


def test_the_exploit_would_leave_a_marker(tmp_path):
    """The control: unpickling the exploit does run its command."""
    pickle.loads(pickle.dumps(Exploit(tmp_path)))
    assert (tmp_path / "ran").exists()


def test_files_that_are_not_checkpoints(saved, load, markers):
    data = saved["plain"]
    for content in (b"", data[:4], data[:-1], data[:len(data) // 2],
                    np.random.RandomState(0).bytes(5000), b"weights = [1, 2, 3]\n",
                    gzip.compress(data)):
        refused(load(content))
    for protocol in (2, pickle.HIGHEST_PROTOCOL):    # never unpickled; says how to convert
        refused(load(pickle.dumps(Exploit(markers), protocol=protocol)), "pickle",
                "can run any code", "ConvertCheckpoint.py")
    refused(load(pickle.dumps(Exploit(markers), protocol=0)))


def test_a_zip_of_a_directory_missing_files_devices_and_pipes(tmp_path, saved, load):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "network.json").write_bytes(members(saved["plain"])["network.json"])
    refused(load(archive([("folder/", b""), ("folder/network.json", b"{}")])), "no network.json")
    refused(load(Path(shutil.make_archive(str(tmp_path / "folder"), "zip", folder)).read_bytes()),
            "compressed")
    with pytest.raises(IsADirectoryError):
        checkpoint.read(folder)
    with pytest.raises(FileNotFoundError):
        checkpoint.read(tmp_path / "missing.ckpt")
    os.mkfifo(tmp_path / "pipe.ckpt")
    with hang_detector(5):           # refused before it is opened: no wait for a writer
        for path in ("/dev/zero", tmp_path / "pipe.ckpt"):
            with pytest.raises(checkpoint.CheckpointError, match="not a regular file"):
                checkpoint.read(path)


def test_a_file_larger_than_a_checkpoint_may_be_is_not_read(tmp_path):
    path = tmp_path / "sparse.ckpt"
    with open(path, "wb") as f:
        f.truncate(checkpoint.reader.MAX_FILE_BYTES + 1)        # sparse: no disk space used
    with hang_detector():
        assert traced_peak(lambda: checkpoint.read(path)) < 1_000_000
        with pytest.raises(checkpoint.CheckpointError, match="more than a checkpoint may have"):
            checkpoint.read(path)


def test_members_added_removed_duplicated_compressed_encrypted(saved, load):
    entries = list(members(saved["plain"]).items())
    arrays = [name for name, _ in entries if name.startswith("arrays/")]
    refused(load(archive(entries + [("arrays/999.npy", dict(entries)[arrays[0]])])),
            "unexpected members")
    refused(load(archive([e for e in entries if e[0] != arrays[-1]])), arrays[-1])
    refused(load(archive([e for e in entries if e[0] != "network.json"])), "no network.json")
    refused(load(archive(entries + [entries[1]])), "distinct members")
    for name in (arrays[0], "network.json"):
        refused(load(archive(entries, compress={name})), "compressed")
    swapped = [(n, dict(entries)[arrays[1] if n == arrays[0] else arrays[0]] if n in arrays[:2]
                else c) for n, c in entries]
    refused(load(archive(swapped)), "expected shape")
    data = bytearray(saved["plain"])                 # the "encrypted" flag, local and central
    data[data.index(b"PK\x03\x04") + 6] |= 1
    data[data.index(b"PK\x01\x02") + 8] |= 1
    refused(load(bytes(data)))
    long_name = "arrays/" + "x\n" * 20_000 + ".npy"
    for compress in ((), {long_name}):
        message = refused(load(archive(entries + [(long_name, b"")], compress=compress)))
        assert len(message) < 400 and "\n" not in message


def test_many_tiny_members_are_refused_before_zipfile_builds_them(tmp_path):
    # 150,000 central-directory entries in 7 MB: zipfile would build 150,000 objects
    # (about 9 times the file's size) before the member count is checked.
    n = 150_000
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 33, 0, 0, 0, 1, 0) + b"a"
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 33, 0, 0, 0, 1, 0, 0, 0,
                        0, 0, 0) + b"a"
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(entry) * n, len(local), 0)
    path = tmp_path / "many.ckpt"
    path.write_bytes(local + entry * n + end)
    with pytest.raises(checkpoint.CheckpointError, match="expected at most 100000 members"):
        checkpoint.read(path)
    assert traced_peak(lambda: checkpoint.read(path)) < 3 * path.stat().st_size


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


PROMISES = ["header-shape-2**40", "header-shape-overflow", "layer-fully-connected-10**6",
            "fully-connected-10**6-and-a-header-of-its-shape", "conv-10**14-weights",
            "batch-norm-10**10", "lstm-10**6", "loss-of-4-dimensions"]


def test_huge_promises_are_refused_before_allocating(saved, tmp_path):
    cases = {case["id"]: case for case in CORPUS}
    for name in PROMISES:
        path = tmp_path / "huge.ckpt"
        path.write_bytes(mutated(saved["plain"], cases[name]))
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.read(path)
        peak = traced_peak(lambda: checkpoint.read(path))
        assert peak < 2_000_000, f"{name}: {peak / 1e6:.1f} MB allocated before refusing"


def test_loading_under_an_address_space_limit(saved, tmp_path):
    """In a process that may map only 1 GB more than it has, loads succeed or are refused."""
    cases = {case["id"]: case for case in CORPUS}
    for name in PROMISES:
        (tmp_path / f"{name}.ckpt").write_bytes(mutated(saved["plain"], cases[name]))
    (tmp_path / "good.ckpt").write_bytes(saved["lenet_run"])
    script = textwrap.dedent(f"""
        import os, resource, sys
        sys.path.insert(0, {str(ROOT)!r})
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
    assert set(lines.values()) == {"refused"} and len(lines) == len(PROMISES)


# -- the fuzzer -------------------------------------------------------------------------------

def leaf_paths(value, path=()):
    """Paths to every value of a JSON document, parents last (not below 12 levels)."""
    if len(path) < 12 and isinstance(value, (dict, list)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            yield from leaf_paths(item, path + (key,))
    yield path


def random_value(rng):
    """A hostile JSON value of a random kind."""
    return rng.choice([
        lambda: rng.choice([0, 1, -1, 3, 27, 2**31, 2**63 - 1, 2**63, -2**63, 2**64, 10**30]),
        lambda: rng.choice([0.0, -0.0, 0.5, 1.5, -1e-3, 1e308, -1e308, 5e-324]),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice(["os.system", "__class__", "Adam", "Conv", "float32", "\x00", "\ud800",
                            "arrays/0.npy", "network.json", "x" * rng.randrange(1, 200_000)]),
        lambda: [rng.randrange(-5, 50) for _ in range(rng.randrange(0, 10))],
        lambda: list(range(rng.choice([100, 150_000]))),
        lambda: {"class": rng.choice(["os.system", "Adam", "Conv", "L2_Regularizer"]), "args": {}},
        lambda: {str(i): i for i in range(rng.choice([1, 70, 1000]))},
        lambda: 10 ** rng.randrange(19, 4000),
        lambda: rng.choice([[1], [3, 3], [2, 3, 3], [1] * 9, [0, 0], [-1, 2]])])()


def mutate_archive(rng, data):
    """A structural mutation of ``data``; returns (bytes, only member contents moved)."""
    entries = list(members(data).items())
    names = [n for n, _ in entries]
    arrays = [n for n in names if n.startswith("arrays/")]
    action = rng.randrange(7)
    if action == 0:                                   # bytes of the zip structures
        edited_bytes = bytearray(data)
        starts = [m.start() for m in re.finditer(b"PK(\x03\x04|\x01\x02|\x05\x06)", data)]
        for _ in range(rng.choice([1, 2, 3])):
            at = min(rng.choice(starts) + rng.randrange(46), len(data) - 1)
            edited_bytes[at] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, edited_bytes[at] ^ 4])
        return bytes(edited_bytes), False
    if action == 1:                                   # swap two members' contents
        a, b = rng.sample(arrays, 2)
        return archive([(n, dict(entries)[b if n == a else a] if n in (a, b) else c)
                        for n, c in entries]), True
    if action == 2:                                   # reorder the members
        rng.shuffle(entries)
        return archive(entries), True
    if action == 4:                                   # compress one
        return archive(entries, compress={rng.choice(names)}), False
    if action == 3:                                   # add one
        return archive(entries + [(rng.choice(["arrays/999.npy", "x.py", "arrays/", names[0]]),
                                   rng.choice(entries)[1])]), False
    doc = json.loads(dict(entries)["network.json"])   # network.json, 1 to 3 places
    for _ in range(rng.choice([1, 2, 3])):
        path = rng.choice([p for p in leaf_paths(doc) if p])
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = random_value(rng)
    return archive([(n, json.dumps(doc).encode() if n == "network.json" else c)
                    for n, c in entries]), False


def test_fuzz_truncations(saved, load):
    rng = random.Random(11)
    for name in ("plain", "run", "lenet"):
        data = saved[name]
        for cut in [rng.randrange(len(data)) for _ in range(100)] + list(range(len(data) - 30, len(data))):
            refused(load(data[:cut]))


def test_fuzz_flipped_bits_are_refused_or_change_nothing(saved, load):
    """zipfile's CRC catches a flipped bit in a member; one in a zip header field that no
    check reads (a timestamp, say) leaves every number as it was."""
    rng = random.Random(12)
    for name in ("plain", "run", "lenet_run"):
        data = saved[name]
        reference = load(data)[0]
        x = np.random.default_rng(0).random((2, 1, 28, 28) if "lenet" in name else (2, 2, 6, 6))
        for _ in range(150):
            flipped = bytearray(data)
            for _ in range(rng.choice([1, 1, 2, 8])):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            result = load(bytes(flipped))
            if not isinstance(result, Exception):
                np.testing.assert_array_equal(result[0].test(x), reference.test(x))
                assert result[0].loss == reference.loss


def test_fuzz_wrong_values_everywhere(saved, load):
    """Every value of the document replaced by a wrong one: refused or harmless."""
    data, rng = saved["run"], random.Random(5)
    doc = json.loads(members(data)["network.json"])
    outcomes = {"refused": 0, "loaded": 0}
    for path in [p for p in leaf_paths(doc) if p]:
        value = random_value(rng)
        result = load(edited(data, lambda d: walk(d, list(path))[0].__setitem__(path[-1], value)))
        outcomes["loaded" if isinstance(result, tuple) else "refused"] += 1
    assert outcomes["refused"] > 5 * outcomes["loaded"], outcomes


@pytest.mark.parametrize("name,seed,count", [("run", 21, 1200), ("plain", 22, 700),
                                             ("lenet_run", 23, 150)])
def test_fuzz_structural_mutations(saved, load, name, seed, count):
    """Each load is refused with CheckpointError, or loads a usable network."""
    rng, outcomes = random.Random(seed), {"refused": 0, "loaded": 0}
    for _ in range(count):
        mutated_bytes, contents_only = mutate_archive(rng, saved[name])
        result = load(mutated_bytes)
        outcomes["refused" if isinstance(result, Exception) else "loaded"] += 1
        if not isinstance(result, Exception) and contents_only and name != "lenet_run":
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
    lenet, cases = saved["lenet_run"], {row["id"]: row for row in CORPUS}
    files = {"truncated": lenet[:len(lenet) // 2], "random bytes": np.random.RandomState(1).bytes(3000),
             "text": b"hello\n", "gzip": gzip.compress(lenet),
             "pickle": pickle.dumps({"weights": [1, 2]}, protocol=4),
             "exploit pickle": pickle.dumps(Exploit(folder), protocol=4),
             "another architecture": saved["run"],
             "nested too deep": mutated(lenet, cases["nested-lists"]),
             "flipped byte": lenet[:1000] + bytes([lenet[1000] ^ 4]) + lenet[1001:],
             "huge shape": mutated(lenet, {**cases["header-shape-2**40"],
                                           "array": ["layers", 0, "state", "weights"]}),
             "no loss layer": edited(lenet, lambda d: d.__setitem__("loss_layer", None))}
    paths = {"missing": folder / "missing.ckpt", "directory": folder}
    for name, content in files.items():
        paths[name] = folder / (name.replace(" ", "-") + ".ckpt")
        paths[name].write_bytes(content)
    plain = tmp_path / "model-save.ckpt"
    plain.write_bytes(saved["lenet"])                  # model.save: no training state
    runs = [(mode, name, path) for name, path in paths.items() for mode in ("--evaluate", "--resume")]
    runs.append(("--resume", "model.save", plain))
    # A new run reads what it would replace: a bad file there is refused the same way.
    runs += [("--no-plot", name, paths[name]) for name in ("truncated", "exploit pickle",
                                                           "nested too deep")]
    commands = [[sys.executable, str(ROOT / "TrainLeNet.py"), mode, "--checkpoint", str(path),
                 "--data-dir", str(tiny_mnist)] for mode, _, path in runs]
    for (mode, name, path), result in zip(runs, run_all(commands)):
        what = f"{mode} {name}: status {result.returncode}, stderr {result.stderr!r}"
        assert result.returncode == 2 and "Traceback" not in result.stderr, what
        assert len(result.stderr.splitlines()) == 1, what
        assert result.stderr.startswith("TrainLeNet.py: error: ") and str(path) in result.stderr, what
    assert not (folder / "ran").exists()


def test_resume_refuses_hostile_settings_in_one_line(saved, tmp_path):
    """Settings are data of the file too: digits int() refuses, a NUL in a path, ..."""
    hostile = {"epochs": "²", "seed": "³", "batch_size": "٣", "data_dir": "a\x00b", "lr": "nan",
               "dataset": "x\ny", "validation": -1, "augment": 9, "subset": 0}
    paths = {}
    for name, value in hostile.items():
        paths[name] = tmp_path / f"{name}.ckpt"
        paths[name].write_bytes(edited(saved["lenet_run"], lambda d: d["training"]["settings"]
                                       .__setitem__(name, value)))
    commands = [[sys.executable, str(ROOT / "TrainLeNet.py"), "--resume", "--checkpoint", str(path)]
                for path in paths.values()]
    for name, result in zip(paths, run_all(commands)):
        what = f"{name}: status {result.returncode}, stderr {result.stderr!r}"
        assert result.returncode == 2 and "Traceback" not in result.stderr, what
        assert len(result.stderr.splitlines()) == 1 and f"its setting {name}=" in result.stderr, what


def test_resume_refuses_a_schedule_or_stopper_its_settings_do_not_make(saved, tmp_path):
    """The saved run holds ExponentialDecay(0.9) and EarlyStopping(2, 0.01): settings that
    say no early stopping (patience 0), or no decay (lr_decay 1), contradict it."""
    cases = {"patience 0": ({"lr_decay": 0.9, "patience": 0}, "early stopping"),
             "lr_decay 1": ({"lr_decay": 1.0, "patience": 0}, "schedule")}
    commands = []
    for name, (settings, _) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.ckpt"
        path.write_bytes(edited(saved["lenet_run"], lambda d, s=settings: d["training"]["settings"]
                                .update(s)))
        commands.append([sys.executable, str(ROOT / "TrainLeNet.py"), "--resume",
                         "--checkpoint", str(path)])
    for (name, (_, what)), result in zip(cases.items(), run_all(commands)):
        detail = f"{name}: status {result.returncode}, stderr {result.stderr!r}"
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, detail
        assert f"its {what} (" in result.stderr and "is not what its settings make" \
            in result.stderr, detail
