"""Data-only checkpoints: round trips of every layer, atomic saves, the converter, bounded reads.

The hostile-file tests and the fuzzer are in test_checkpoint_hostile.py.
"""
import gzip
import io
import json
import os
import pickle
import subprocess
import sys
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import ConvertCheckpoint
import NeuralNetwork
import checkpoint
from Data.idx import IDXError, read_idx, write_idx
from Layers import (GRU, LSTM, RNN, Base, BatchNormalization, Conv, Dropout, Flatten,
                    FullyConnected, Initializers, Pooling, ReLU, Sigmoid, SoftMax, TanH)
from Layers._layer import learned_state
from Models import LeNet
from Optimization import Loss, Optimizers, Schedules

ROOT = Path(__file__).resolve().parent.parent


class Batches:
    def __init__(self, shape, classes):
        self.shape, self.classes = shape, classes

    def next(self):
        return np.random.rand(4, *self.shape), np.eye(self.classes)[np.random.randint(0, self.classes, 4)]


# -- archive surgery, for the tests that hand-make files --------------------------------------

def members(data):
    """``{name: bytes}`` of a checkpoint's bytes, in archive order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def archive(entries, compress=()):
    """A checkpoint's bytes of ``entries`` (``[(name, bytes)]`` or a dict), stored as save
    stores them (names in ``compress`` deflated)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                   # zipfile warns of duplicate names
        with zipfile.ZipFile(buffer, "w") as zf:
            for name, content in getattr(entries, "items", lambda: entries)():
                zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), content,
                            zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED)
    return buffer.getvalue()


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def edited(data, edit=None, arrays=None):
    """``data`` with ``edit(document)`` applied (the document as a dict) and the members of
    ``arrays`` (name -> array) replaced."""
    entries = members(data)
    doc = json.loads(entries["network.json"])
    if edit is not None:
        edit(doc)
    entries["network.json"] = json.dumps(doc).encode()
    entries.update({name: npy(array) for name, array in (arrays or {}).items()})
    return archive(entries)


def every_layer_network(optimizer):
    """A network using every registered layer class, trained a few steps."""
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.Xavier(), Initializers.Constant(0.2))
    for layer in (Conv.Conv((1, 1), (2, 3, 3), 3), BatchNormalization.BatchNormalization(3),
                  ReLU.ReLU(), Pooling.Pooling((2, 2), (2, 2)), Conv.Conv(2, (3, 3, 3), 2), TanH.TanH(),
                  Flatten.Flatten(), Dropout.Dropout(0.7), FullyConnected.FullyConnected(2, 6),
                  BatchNormalization.BatchNormalization(6), Sigmoid.Sigmoid(),
                  FullyConnected.FullyConnected(6, 3), SoftMax.SoftMax()):
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.data_layer = Batches((2, 4, 4), 3)
    net.train(5)
    return net


def assert_same(a, b):
    assert [type(x) for x in a.layers] == [type(y) for y in b.layers]
    for x, y in zip(a.layers, b.layers):
        sx, sy = learned_state(x), learned_state(y)
        assert sx.keys() == sy.keys()
        for name in sx:
            np.testing.assert_array_equal(sx[name], sy[name])
            assert np.asarray(sx[name]).dtype == np.asarray(sy[name]).dtype
        for name, opt in getattr(x, "_optimizers", {}).items() or {}:
            other = y._optimizers[name]
            for field in ("v", "r", "k"):
                if hasattr(opt, field):
                    np.testing.assert_array_equal(getattr(opt, field), getattr(other, field))
    assert a.loss == b.loss and a.history == b.history
    assert repr(a.optimizer) == repr(b.optimizer)


@pytest.mark.parametrize("optimizer", [
    Optimizers.Adam(1e-3, 0.8, 0.99, regularizer={"type": "L2", "lambda": 1e-3}),
    Optimizers.SgdWithMomentum(1e-2, 0.5, regularizer={"type": "L1", "lambda": 1e-4}, clip_norm=2.0),
    Optimizers.Sgd(1e-2)], ids=["Adam", "Momentum", "Sgd"])
def test_every_layer_round_trips(tmp_path, optimizer):
    np.random.seed(0)
    net = every_layer_network(optimizer)
    net.save(tmp_path / "net.ckpt")
    rng = np.random.get_state()
    loaded = NeuralNetwork.load(tmp_path / "net.ckpt")
    assert all((a == b).all() if isinstance(a, np.ndarray) else a == b
               for a, b in zip(rng, np.random.get_state()))     # loading drew nothing
    assert_same(net, loaded)
    x = np.random.rand(3, 2, 4, 4)
    np.testing.assert_array_equal(loaded.test(x), net.test(x))
    # Training goes on identically: same moments, same linked learning rate.
    loaded.data_layer = net.data_layer
    net.phase = loaded.phase = False
    state = np.random.get_state()
    net.train(2)
    np.random.set_state(state)
    loaded.train(2)
    assert_same(net, loaded)
    loaded.optimizer.learning_rate *= 0.5
    assert all(layer.optimizer.learning_rate == loaded.optimizer.learning_rate
               for layer in loaded.trainable_layers())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recurrent_and_lenet_round_trip(tmp_path, dtype):
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-2))
    net.append_layer(LSTM.LSTM(3, 4, 5, dtype=dtype))
    net.append_layer(RNN.RNN(5, 2, dtype=dtype))
    net.append_layer(GRU.GRU(2, 3, 2, dtype=dtype))
    net.layers[1].memorize = True
    net.layers[2].memorize = True
    x = np.random.rand(2, 4, 3).astype(dtype)
    for layer in net.layers:                           # optimizer moments to save too
        x = layer.forward(x)
    for layer in reversed(net.layers):
        x = layer.backward(np.ones_like(x))
    net.save(tmp_path / "rnn.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "rnn.ckpt")
    assert_same(net, loaded)
    assert loaded.layers[1].memorize and loaded.layers[0].weights.dtype == dtype
    assert loaded.layers[2].memorize and loaded.layers[2].output_weights.dtype == dtype
    x = np.random.rand(2, 4, 3)
    for layer in loaded.layers + net.layers:         # the hidden state is not saved
        layer.state = None
    np.testing.assert_array_equal(loaded.layers[2].forward(loaded.layers[1].forward(
        loaded.layers[0].forward(x))), net.layers[2].forward(net.layers[1].forward(
            net.layers[0].forward(x))))
    lenet = LeNet.LeNet(dtype=dtype)
    lenet.save(tmp_path / "lenet.ckpt")
    again = LeNet.LeNet.load(tmp_path / "lenet.ckpt")
    assert isinstance(again, LeNet.LeNet) and again.dtype == dtype
    assert_same(lenet, again)


def test_the_same_network_gives_the_same_bytes(tmp_path):
    net = LeNet.LeNet()
    net.save(tmp_path / "a.ckpt")
    net.save(tmp_path / "b.ckpt")
    assert (tmp_path / "a.ckpt").read_bytes() == (tmp_path / "b.ckpt").read_bytes()


@pytest.mark.parametrize("layer", [FullyConnected.FullyConnected(5, 7),
                                   Conv.Conv((1, 2), (3, 4, 5), 6), Conv.Conv(2, (3, 4), 6),
                                   BatchNormalization.BatchNormalization(4),
                                   RNN.RNN(3, 5, 2), LSTM.LSTM(3, 5), GRU.GRU(3, 5, 2)], ids=repr)
def test_shapes_from_the_arguments_agree_with_the_layers(layer):
    args = {a: getattr(layer, a) for a in checkpoint.constructor_args(type(layer))}
    shapes = type(layer).parameter_shapes_for(args)
    assert shapes == {k: v.shape for k, v in layer.parameters().items()}


def test_a_layer_of_your_own_is_saved_once_registered(tmp_path):
    class MyLayer(ReLU.ReLU):
        pass

    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1.0))
    net.append_layer(MyLayer())
    with pytest.raises(TypeError, match=r"cannot save a layer of type MyLayer \(layers\[0\]\): register it "
                                        r"with checkpoint.register\(MyLayer\)"):
        net.save(tmp_path / "x.ckpt")
    assert list(tmp_path.iterdir()) == []
    checkpoint.register(MyLayer)
    net.save(tmp_path / "x.ckpt")
    assert type(NeuralNetwork.load(tmp_path / "x.ckpt").layers[0]) is MyLayer


def test_the_temporary_file_gets_its_mode_from_the_umask(tmp_path):
    code = ("import os, sys; sys.path.insert(0, sys.argv[1]); os.umask(0o027)\n"
            "from Models import LeNet\nLeNet.LeNet().save(sys.argv[2])\n"
            "print(oct(os.stat(sys.argv[2]).st_mode & 0o777))")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path / "m.ckpt")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0o640"
    source = "".join(p.read_text() for p in (ROOT / "checkpoint").glob("*.py"))
    assert "os.umask(" not in source and "mkstemp" not in source


def test_a_later_save_removes_what_a_killed_save_left(tmp_path):
    path = tmp_path / "net.ckpt"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    leftover = tmp_path / f".net.ckpt.{dead}-0123456789ab.tmp"
    leftover.write_bytes(b"half a checkpoint")
    alive = tmp_path / f".net.ckpt.{os.getppid()}-0123456789ab.tmp"   # a save in progress
    alive.write_bytes(b"being written")
    other = tmp_path / f".other.ckpt.{dead}-0123456789ab.tmp"          # another file's
    other.write_bytes(b"not ours")
    NeuralNetwork.save(path, LeNet.LeNet())
    assert not leftover.exists() and alive.exists() and other.exists()


def test_saves_from_many_threads_leave_one_valid_file(tmp_path):
    path = tmp_path / "net.ckpt"
    nets = [LeNet.LeNet() for _ in range(4)]
    errors = []

    def save(net):
        try:
            for _ in range(3):
                net.save(path)
        except Exception as err:                # noqa: BLE001 - collected for the assert
            errors.append(err)

    threads = [threading.Thread(target=save, args=(net,)) for net in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert os.listdir(tmp_path) == ["net.ckpt"]
    loaded = LeNet.LeNet.load(path)
    assert any(np.array_equal(loaded.layers[0].weights, n.layers[0].weights) for n in nets)


def test_a_flipped_byte_is_reported(tmp_path):
    path = tmp_path / "net.ckpt"
    LeNet.LeNet().save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError, match="Bad CRC-32 for file 'arrays/"):
        LeNet.LeNet.load(path)


def test_old_pickles_are_refused_and_the_converter_reads_trusted_ones(tmp_path):
    np.random.seed(1)
    old = every_layer_network(Optimizers.Adam(1e-3))
    old.trainer_state = {"order": np.arange(3)}
    old.data_layer = None                                      # the old format left it out
    pickled = tmp_path / "old.pkl"
    pickled.write_bytes(pickle.dumps(old))
    with pytest.raises(checkpoint.CheckpointError, match=r"this is a pickle .*refused.* "
                                                         r"ConvertCheckpoint.py"):
        NeuralNetwork.load(pickled)
    new = tmp_path / "new.ckpt"
    assert ConvertCheckpoint.main([str(pickled), str(new)]) == 0
    assert_same(old, NeuralNetwork.load(new))
    with pytest.raises(SystemExit) as exit_info:              # never over an existing file
        ConvertCheckpoint.main([str(pickled), str(new)])
    assert exit_info.value.code == 2


def test_the_shipped_model_is_a_checkpoint_and_reads_mnist():
    from Data.MNIST import MNISTData
    model = LeNet.LeNet.load(ROOT / "trained" / "lenet_mnist.ckpt")
    assert zipfile.is_zipfile(ROOT / "trained" / "lenet_mnist.ckpt")
    x, y = MNISTData(64, dtype=np.float32).get_test_set()
    _, accuracy = model.evaluate(x[:2000], y[:2000])
    assert accuracy > 0.98
    assert not list((ROOT / "trained").glob("*.pkl"))


def test_divergence_restores_batchnorm_statistics_too():
    np.random.seed(2)
    net = every_layer_network(Optimizers.Sgd(1e-3))
    bn = net.layers[1]
    calls = []
    original = Loss.CrossEntropyLoss.forward

    def diverging(self, p, y):
        calls.append(1)
        return float("nan") if len(calls) == 3 else original(self, p, y)

    Loss.CrossEntropyLoss.forward = diverging
    try:
        good = None
        net.train(1)
        good = (bn.running_mean.copy(), bn.running_var.copy())
        net.train(1)
        good = (bn.running_mean.copy(), bn.running_var.copy())
        batches = net.data_layer
        net.data_layer = Batches((2, 4, 4), 3)
        net.data_layer.next = lambda: (np.full((4, 2, 4, 4), 50.0), batches.next()[1])
        with pytest.raises(NeuralNetwork.TrainingDiverged):
            net.train(1)
    finally:
        Loss.CrossEntropyLoss.forward = original
    np.testing.assert_array_equal(bn.running_mean, good[0])
    np.testing.assert_array_equal(bn.running_var, good[1])


def test_early_stopping_keeps_the_statistics_of_the_best_epoch():
    np.random.seed(3)
    net = every_layer_network(Optimizers.Sgd(1e-3))
    stopper = Schedules.EarlyStopping(patience=1)
    stopper.update(net, 1.0)
    best = net.layers[1].running_mean.copy()
    net.train(3)
    assert not np.array_equal(net.layers[1].running_mean, best)
    stopper.update(net, 2.0)
    stopper.restore(net)
    np.testing.assert_array_equal(net.layers[1].running_mean, best)


class TestIDXLimits:
    def test_a_gzip_bomb_is_read_only_as_far_as_the_header_promises(self, tmp_path):
        path = tmp_path / "bomb-idx1-ubyte.gz"
        header = bytes([0, 0, 8, 1]) + np.asarray([10], ">u4").tobytes()
        with gzip.open(path, "wb") as f:                       # 10 labels, then 200 MB of zeros
            f.write(header + bytes(10))
            for _ in range(200):
                f.write(bytes(1 << 20))
        assert path.stat().st_size < 1 << 20
        import tracemalloc
        tracemalloc.start()
        with pytest.raises(IDXError, match="trailing data"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 8 << 20                                  # nowhere near 200 MB

    def test_dimensions_that_overflow_are_refused_before_reading(self, tmp_path):
        path = tmp_path / "huge-idx3-ubyte"
        path.write_bytes(bytes([0, 0, 0x0E, 4]) + np.full(4, 2**32 - 1, ">u4").tobytes())
        with pytest.raises(IDXError, match="need .* bytes of data, more than an IDX file may hold"):
            read_idx(path)

    @pytest.mark.parametrize("labels, message", [
        (np.array([1, 2, 10] * 10, np.uint8), "expected labels 0 to 9, got values from 1 to 10"),
        (np.array([1, -1, 2] * 10, np.int8), "expected labels 0 to 9, got values from -1 to 2"),
        (np.array([1.0, 2.5, 3.0] * 10, np.float32), "expected integer labels"),
    ])
    def test_bad_labels_are_refused_naming_the_file(self, tmp_path, labels, message):
        from Data import MNIST
        for name in MNIST.FILES:
            data = np.zeros((30, 28, 28), np.uint8) if "images" in name else np.zeros(30, np.uint8)
            write_idx(tmp_path / name, data)
        write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
        with pytest.raises(IDXError, match=f"train-labels-idx1-ubyte: {message}"):
            MNIST.load_mnist(tmp_path)

    def test_images_of_the_wrong_size_are_refused_naming_the_file(self, tmp_path):
        from Data import MNIST
        for name in MNIST.FILES:
            data = np.zeros((30, 32, 32), np.uint8) if "images" in name else np.zeros(30, np.uint8)
            write_idx(tmp_path / name, data)
        with pytest.raises(IDXError, match=r"train-images-idx3-ubyte: expected 28x28 uint8 images"):
            MNIST.load_mnist(tmp_path)


def test_data_imports_neither_the_network_nor_the_layers():
    code = ("import sys; import Data.MNIST, Data.Datasets, Data.Sequences, Data.idx; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('NeuralNetwork', 'Layers')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stderr
    helpers = (ROOT / "Layers" / "Helpers.py").read_text()
    assert "importlib" not in helpers and "__getattr__" not in helpers   # a plain re-export


def test_lenet_load_refuses_another_network(tmp_path):
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1.0))
    net.append_layer(FullyConnected.FullyConnected(2, 2))
    net.save(tmp_path / "small.ckpt")
    with pytest.raises(checkpoint.CheckpointError, match="small.ckpt: holds a NeuralNetwork, "
                                                         "not a LeNet"):
        LeNet.LeNet.load(tmp_path / "small.ckpt")


def test_the_recurrent_default_initializer_round_trips(tmp_path):
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-2), Initializers.UniformFanOut(),
                                      Initializers.UniformFanOut())
    net.append_layer(GRU.GRU(3, 4))
    net.save(tmp_path / "gru.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "gru.ckpt")
    assert isinstance(loaded.weights_initializer, Initializers.UniformFanOut)
    assert_same(net, loaded)


def test_a_name_of_250_bytes_saves(tmp_path):
    """The temporary file's name stays under the file system's 255 bytes (issue 20, item 1)."""
    path = tmp_path / ("n" * 245 + ".ckpt")
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1.0))
    net.append_layer(ReLU.ReLU())
    net.save(path)
    assert NeuralNetwork.load(path).layers[0].__class__ is ReLU.ReLU
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
