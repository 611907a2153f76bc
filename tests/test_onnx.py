"""ONNX export (onnx_export/): each layer alone and in small networks, exported, checked
by onnx.checker, run in ONNX Runtime and compared with ``net.test``; the shipped LeNet on
every MNIST test image; refused exports leave no file.

"Within 1e-5 relative" (float32; 1e-10 for float64) is measured against the size of the
output: ``|onnx - ours| <= tol * (|ours| + max |ours|)``. A float32 sum is exact to about
1e-7 of its *terms*, not of its result, so an output that cancels to near zero carries
that absolute error: our own float32 RNN differs from its float64 result by 4e-5
relative at an output of 6e-4 (ONNX Runtime's by 5e-5), both within 1e-7 absolute.
"""
import os

import numpy as np
import onnx
import onnxruntime
import pytest

import NeuralNetwork
import onnx_export
from Layers import (BatchNormalization, Conv, Dropout, Flatten, FullyConnected, GRU, LSTM,
                    Pooling, ReLU, RNN, Sigmoid, SoftMax, TanH)
from Layers.Base import BaseLayer
from Optimization import Optimizers

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
DTYPES = [np.float32, np.float64]


def network(layers, dtype, seed=0):
    """A NeuralNetwork of ``layers`` with random normal parameters (every gate, bias row
    and running statistic different, so a block in the wrong place shows)."""
    rng = np.random.default_rng(seed)
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(0.1))
    for layer in layers:
        net.append_layer(layer)
        for name, value in getattr(layer, "parameters", dict)().items():
            setattr(layer, name, rng.normal(0, 0.7, value.shape).astype(dtype))
        if isinstance(layer, BatchNormalization.BatchNormalization):
            layer.running_mean = rng.normal(0, 1, layer.channels).astype(dtype)
            layer.running_var = rng.uniform(0.3, 2, layer.channels).astype(dtype)
    return net


def session_of(path):
    """An ONNX Runtime session on one thread (the test machine's cores are shared)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path, x):
    """The model at ``path``, checked by onnx.checker, run in ONNX Runtime on ``x``."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return session_of(path).run(["output"], {"input": x})[0]


def assert_close(actual, expected, dtype):
    tol = TOLERANCE[dtype]
    assert actual.dtype == expected.dtype == dtype
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * np.abs(expected).max())


def export_and_compare(net, x, input_shape, dtype, tmp_path):
    path = str(tmp_path / "model.onnx")
    onnx_export.export(net, path, input_shape, dtype=dtype)
    assert_close(run_onnx(path, x), net.test(x), dtype)
    return onnx.load(path)


# name -> (layers(dtype), shape of one sample); None in a shape: a dynamic axis (time).
LAYERS = {
    "FullyConnected": (lambda d: [FullyConnected.FullyConnected(5, 4, dtype=d)], (5,)),
    "ReLU": (lambda d: [ReLU.ReLU()], (6,)),
    "TanH": (lambda d: [TanH.TanH()], (2, 3)),
    "Sigmoid": (lambda d: [Sigmoid.Sigmoid()], (6,)),
    "SoftMax": (lambda d: [SoftMax.SoftMax()], (6,)),
    "Dropout": (lambda d: [Dropout.Dropout(0.5)], (2, 3, 4)),
    "Flatten": (lambda d: [Flatten.Flatten()], (2, 3, 4)),
    "Conv 2-D 3x3": (lambda d: [Conv.Conv(1, (2, 3, 3), 4, dtype=d)], (2, 7, 6)),
    "Conv 2-D even 4x2": (lambda d: [Conv.Conv(1, (2, 4, 2), 3, dtype=d)], (2, 7, 6)),
    "Conv 2-D strided (2, 3)": (lambda d: [Conv.Conv((2, 3), (2, 3, 4), 3, dtype=d)], (2, 9, 10)),
    "Conv 1-D even 4, stride 2": (lambda d: [Conv.Conv(2, (2, 4), 3, dtype=d)], (2, 9)),
    "Conv 1-D 5": (lambda d: [Conv.Conv(1, (3, 5), 2, dtype=d)], (3, 11)),
    "Pooling 2x2": (lambda d: [Pooling.Pooling(2, 2)], (3, 8, 8)),
    "Pooling overlapping, odd": (lambda d: [Pooling.Pooling((1, 2), (3, 2))], (2, 7, 9)),
    "BatchNormalization vector": (
        lambda d: [BatchNormalization.BatchNormalization(4, dtype=d)], (4,)),
    "BatchNormalization image": (
        lambda d: [BatchNormalization.BatchNormalization(3, dtype=d)], (3, 5, 4)),
}
for _cls in (RNN.RNN, LSTM.LSTM, GRU.GRU):
    for _out in (None, 3):
        _name = f"{_cls.__name__}{'' if _out is None else ' + output layer'}"
        _make = (lambda c, o: lambda d: [c(4, 5, o, dtype=d)])(_cls, _out)
        LAYERS[f"{_name}, classic (time, features)"] = (_make, (4,))
        LAYERS[f"{_name}, batched (batch, 6, features)"] = (_make, (6, 4))
        LAYERS[f"{_name}, batched, dynamic time"] = (_make, (None, 4))

NETWORKS = {
    "MLP with dropout": (lambda d: [
        FullyConnected.FullyConnected(6, 8, dtype=d), ReLU.ReLU(), Dropout.Dropout(0.7),
        FullyConnected.FullyConnected(8, 5, dtype=d), TanH.TanH(),
        FullyConnected.FullyConnected(5, 3, dtype=d), SoftMax.SoftMax()], (6,)),
    "MLP with BatchNormalization": (lambda d: [
        FullyConnected.FullyConnected(6, 8, dtype=d),
        BatchNormalization.BatchNormalization(8, dtype=d), Sigmoid.Sigmoid(),
        FullyConnected.FullyConnected(8, 3, dtype=d), SoftMax.SoftMax()], (6,)),
    "CNN 2-D": (lambda d: [
        Conv.Conv(1, (1, 3, 3), 4, dtype=d), BatchNormalization.BatchNormalization(4, dtype=d),
        ReLU.ReLU(), Pooling.Pooling(2, 2), Conv.Conv(2, (4, 4, 4), 6, dtype=d), TanH.TanH(),
        Flatten.Flatten(), FullyConnected.FullyConnected(6 * 3 * 3, 5, dtype=d),
        SoftMax.SoftMax()], (1, 12, 12)),
    "LeNet-shaped, small": (lambda d: [
        Conv.Conv(1, (1, 5, 5), 3, dtype=d), ReLU.ReLU(), Pooling.Pooling(2, 2),
        Conv.Conv(1, (3, 5, 5), 4, dtype=d), ReLU.ReLU(), Pooling.Pooling(2, 2), Flatten.Flatten(),
        FullyConnected.FullyConnected(4 * 4 * 4, 10, dtype=d), SoftMax.SoftMax()], (1, 16, 16)),
    "CNN 1-D": (lambda d: [
        Conv.Conv(1, (2, 3), 4, dtype=d), ReLU.ReLU(), Conv.Conv(2, (4, 4), 3, dtype=d),
        Flatten.Flatten(), FullyConnected.FullyConnected(3 * 5, 2, dtype=d)], (2, 10)),
    "LSTM, GRU, RNN stacked, classic": (lambda d: [
        LSTM.LSTM(4, 6, dtype=d), GRU.GRU(6, 5, dtype=d), RNN.RNN(5, 3, 2, dtype=d)], (4,)),
    "LSTM, GRU, RNN stacked, batched": (lambda d: [
        LSTM.LSTM(4, 6, dtype=d), GRU.GRU(6, 5, dtype=d), RNN.RNN(5, 3, 2, dtype=d)], (5, 4)),
}


def sample_input(shape, batch, dtype, rng):
    """A batch of ``batch`` samples; the classic recurrent sequence is ``batch`` steps long."""
    shape = tuple(6 if n is None else n for n in shape)
    return rng.normal(0, 1, (batch, *shape)).astype(dtype)


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(LAYERS) + list(NETWORKS))
def test_export_equals_net_test(name, dtype, batch, tmp_path):
    make, shape = {**LAYERS, **NETWORKS}[name]
    net = network(make(dtype), dtype)
    x = sample_input(shape, batch, dtype, np.random.default_rng(1))
    export_and_compare(net, x, shape, dtype, tmp_path)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_export_writes_the_networks_dtype_with_a_dynamic_batch(dtype, tmp_path):
    net = network(NETWORKS["CNN 2-D"][0](dtype), dtype)
    path = tmp_path / "cnn.onnx"
    assert onnx_export.export(net, path, (1, 12, 12)) == path
    model = onnx.load(path)
    (source,), (output,) = model.graph.input, model.graph.output
    element = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    assert source.type.tensor_type.elem_type == output.type.tensor_type.elem_type == element
    assert [d.dim_param or d.dim_value for d in source.type.tensor_type.shape.dim] \
        == ["batch", 1, 12, 12]
    for batch in (1, 3, 7):
        x = np.random.default_rng(batch).random((batch, 1, 12, 12)).astype(dtype)
        assert_close(run_onnx(str(path), x), net.test(x), dtype)


def operators(model):
    return {node.op_type for node in model.graph.node}


@pytest.mark.parametrize("cls", [RNN.RNN, LSTM.LSTM, GRU.GRU])
def test_float32_recurrent_layers_run_the_onnx_operators(cls, tmp_path):
    net = network([cls(3, 4, dtype=np.float32)], np.float32)
    x = np.random.default_rng(0).random((2, 5, 3)).astype(np.float32)
    model = export_and_compare(net, x, (5, 3), np.float32, tmp_path)
    assert cls.__name__ in operators(model) and "Scan" not in operators(model)
    if cls is GRU.GRU:
        node, = [n for n in model.graph.node if n.op_type == "GRU"]
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes["linear_before_reset"] == 1


@pytest.mark.parametrize("cls", [RNN.RNN, LSTM.LSTM, GRU.GRU])
def test_float64_recurrent_layers_run_a_scan_of_the_cell(cls, tmp_path):
    net = network([cls(3, 4, dtype=np.float64)], np.float64)
    x = np.random.default_rng(0).random((2, 5, 3))
    model = export_and_compare(net, x, (5, 3), np.float64, tmp_path)
    assert "Scan" in operators(model) and cls.__name__ not in operators(model)


def test_float32_conv_is_the_onnx_conv_and_float64_an_im2col(tmp_path):
    for dtype, present, absent in [(np.float32, "Conv", "Slice"), (np.float64, "Slice", "Conv")]:
        net = network([Conv.Conv(1, (1, 3, 3), 2, dtype=dtype)], dtype)
        x = np.random.default_rng(0).random((2, 1, 5, 5)).astype(dtype)
        model = export_and_compare(net, x, (1, 5, 5), dtype, tmp_path)
        assert present in operators(model) and absent not in operators(model)


@pytest.mark.parametrize("cls", [RNN.RNN, LSTM.LSTM, GRU.GRU])
def test_recurrent_export_starts_every_sequence_from_zeros(cls, tmp_path):
    """The exported model has no state: like a fresh layer, or ``memorize`` off."""
    net = network([cls(3, 4, dtype=np.float64)], np.float64)
    x = np.random.default_rng(0).random((6, 3))
    expected = net.test(x)
    net.layers[0].memorize = True
    net.test(x)                                     # leaves a state behind
    onnx_export.export(net, tmp_path / "m.onnx")
    np.testing.assert_allclose(run_onnx(str(tmp_path / "m.onnx"), x), expected, rtol=1e-10)


def test_mixed_dtypes_are_cast_where_the_framework_casts(tmp_path):
    net = network([FullyConnected.FullyConnected(4, 5, dtype=np.float32), ReLU.ReLU()],
                  np.float32)
    net.append_layer(FullyConnected.FullyConnected(5, 2, dtype=np.float64))
    net.layers[2].weights = np.random.default_rng(2).normal(size=(6, 2))
    x = np.random.default_rng(3).random((7, 4)).astype(np.float32)
    onnx_export.export(net, tmp_path / "m.onnx")
    model = onnx.load(tmp_path / "m.onnx")
    ops = [node.op_type for node in model.graph.node]
    assert "Cast" in ops and ops.index("Relu") < ops.index("Cast")   # float32 up to the ReLU
    actual, expected = run_onnx(str(tmp_path / "m.onnx"), x), net.test(x)
    assert actual.dtype == expected.dtype == np.float64
    # The float32 layers run in ONNX Runtime's kernels and in NumPy's BLAS, whose float32
    # round-off differs with the processor (Prescott: 1e-7), and the float64 layer carries it on.
    tol = TOLERANCE[np.float32]
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * np.abs(expected).max())


def test_default_input_shape_comes_from_the_network_or_its_first_layer(tmp_path):
    net = network([FullyConnected.FullyConnected(3, 2), SoftMax.SoftMax()], np.float64)
    onnx_export.export(net, tmp_path / "fc.onnx")
    dims = onnx.load(tmp_path / "fc.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3]
    net = network([LSTM.LSTM(3, 2)], np.float64)     # classic: one sequence, time dynamic
    onnx_export.export(net, tmp_path / "lstm.onnx")
    dims = onnx.load(tmp_path / "lstm.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["time", 3]
    net = network([ReLU.ReLU()], np.float64)
    net.input_shape = (2, 5)
    onnx_export.export(net, tmp_path / "relu.onnx")
    dims = onnx.load(tmp_path / "relu.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 2, 5]


def test_a_conv_network_without_input_shape_has_dynamic_image_sizes(tmp_path):
    net = network(NETWORKS["LeNet-shaped, small"][0](np.float32), np.float32)
    assert net.input_shape is None
    onnx_export.export(net, tmp_path / "cnn.onnx")
    dims = onnx.load(tmp_path / "cnn.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 1, "y", "x"]
    x = np.random.default_rng(0).random((3, 1, 16, 16)).astype(np.float32)
    assert_close(run_onnx(str(tmp_path / "cnn.onnx"), x), net.test(x), np.float32)
    net = network(NETWORKS["LeNet-shaped, small"][0](np.float64), np.float64)
    with pytest.raises(ValueError, match=r"layer 0 Conv.*with known sizes .*give input_shape"
                                         r"\), got \(batch, 1, y, x\)"):
        onnx_export.export(net, tmp_path / "cnn64.onnx")
    assert os.listdir(tmp_path) == ["cnn.onnx"]


# -- the shipped LeNet ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_test_images():
    from Data.MNIST import load_mnist
    (_, _, images, labels), _ = load_mnist()
    return (images[:, np.newaxis] / np.float32(255)).astype(np.float32), labels


def test_shipped_lenet_in_onnx_runtime_predicts_like_the_framework(mnist_test_images, tmp_path):
    net = NeuralNetwork.load("trained/lenet_mnist.ckpt")
    images, labels = mnist_test_images
    assert len(images) == 10_000
    path = tmp_path / "lenet.onnx"
    onnx_export.export(net, path)
    session = session_of(path)
    ours = net.test(images, batch_size=2000)
    theirs = session.run(["output"], {"input": images})[0]
    assert theirs.dtype == ours.dtype == np.float32
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)
    # The same digit, except on a near-tie that float32 rounding of another kernel may flip.
    differ = theirs.argmax(axis=1) != ours.argmax(axis=1)
    top_two = np.sort(ours[differ], axis=1)[:, -2:]
    assert np.all(top_two[:, 1] - top_two[:, 0] < 2e-5), np.flatnonzero(differ)
    assert np.mean(ours.argmax(axis=1) == labels) > 0.99


def test_shipped_lenet_in_float64_runs_its_im2col_conv_within_1e_10(mnist_test_images,
                                                                    tmp_path):
    net = NeuralNetwork.load("trained/lenet_mnist.ckpt")
    for layer in net.trainable_layers():      # a float64 LeNet: its weights' dtype (CONTRACT)
        layer.weights = layer.weights.astype(np.float64)
    x = mnist_test_images[0][:200].astype(np.float64)
    onnx_export.export(net, tmp_path / "lenet64.onnx", (1, 28, 28))
    assert_close(run_onnx(str(tmp_path / "lenet64.onnx"), x), net.test(x), np.float64)


# -- refusals ------------------------------------------------------------------------


class Scale(BaseLayer):
    """A user's own layer: ``y = 2 x``."""

    def forward(self, input_tensor):
        return 2 * input_tensor

    def backward(self, error_tensor):
        return 2 * error_tensor


def test_the_file_is_written_like_any_other_and_the_network_is_left_alone(tmp_path):
    net = network(NETWORKS["MLP with BatchNormalization"][0](np.float64), np.float64)
    net.phase = "train"
    before = [layer.weights.copy() for layer in net.trainable_layers()]
    umask = os.umask(0o022)
    os.umask(umask)
    onnx_export.export(net, tmp_path / "model.onnx")
    assert os.stat(tmp_path / "model.onnx").st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["model.onnx"]
    assert not any(layer.testing_phase for layer in net.layers)
    assert all((w == layer.weights).all() for w, layer in zip(before, net.trainable_layers()))


def test_a_long_name_is_written_and_a_missing_directory_named(tmp_path):
    net = network([FullyConnected.FullyConnected(3, 2)], np.float64)
    name = "m" * 245 + ".onnx"                       # 250 bytes: the longest names go too
    onnx_export.export(net, tmp_path / name)
    assert os.listdir(tmp_path) == [name]
    with pytest.raises(FileNotFoundError, match=r"export_onnx: cannot write .*nowhere/m.onnx"):
        onnx_export.export(net, tmp_path / "nowhere" / "m.onnx")
    assert os.listdir(tmp_path) == [name]


def test_a_layer_without_converter_is_refused_by_name_and_nothing_is_written(tmp_path):
    net = network([FullyConnected.FullyConnected(3, 2), Scale(), SoftMax.SoftMax()], np.float64)
    with pytest.raises(TypeError, match=r"export_onnx: .*ONNX converter.*got Scale at "
                                        r"position 1"):
        onnx_export.export(net, tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == []


def test_a_refused_export_leaves_an_existing_file_alone(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the user's old model")

    class MyReLU(ReLU.ReLU):            # a subclass may compute something else: refused too
        pass

    net = network([MyReLU()], np.float64)
    with pytest.raises(TypeError, match="MyReLU at position 0"):
        onnx_export.export(net, path, (3,))
    assert path.read_bytes() == b"the user's old model"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_a_failed_write_leaves_no_temporary_file_and_the_old_model(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    net = network([FullyConnected.FullyConnected(3, 2)], np.float64)

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx_export.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        onnx_export.export(net, path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.onnx"]


def test_a_registered_converter_exports_a_users_layer(tmp_path, monkeypatch):
    monkeypatch.setitem(onnx_export.CONVERTERS, Scale, None)

    @onnx_export.register(Scale)
    def scale(layer, graph, x):
        return x.to(graph.node("Mul", [x, graph.constant(np.array(2.0))]))

    net = network([FullyConnected.FullyConnected(3, 2), Scale()], np.float64)
    x = np.random.default_rng(0).random((4, 3))
    export_and_compare(net, x, (3,), np.float64, tmp_path)


def test_a_converter_that_builds_an_invalid_model_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(onnx_export.CONVERTERS, Scale, None)

    @onnx_export.register(Scale)
    def scale(layer, graph, x):                     # Mul of a float by an int64 constant
        return x.to(graph.node("Mul", [x, graph.ints([2])]))

    net = network([FullyConnected.FullyConnected(3, 2), Scale()], np.float64)
    with pytest.raises(ValueError, match=r"export_onnx: expected converters that build a "
                                         r"valid ONNX model .*got .*Mul"):
        onnx_export.export(net, tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("layers, shape, message", [
    (lambda: [FullyConnected.FullyConnected(5, 3)], (4,),
     r"FullyConnected\(5, 3\).*expected input of shape \(batch, 5\), got \(batch, 4\)"),
    (lambda: [Conv.Conv(1, (2, 3, 3), 4)], (3, 8, 8),
     r"Conv.*expected input of shape \(batch, 2, y, x\), got \(batch, 3, 8, 8\)"),
    (lambda: [Flatten.Flatten(), Pooling.Pooling(2, 2)], (3, 8, 8),
     r"Pooling.*expected input of shape \(batch, channels, y, x\), got \(batch, 192\)"),
    (lambda: [Pooling.Pooling(2, 4)], (1, 8, 3),
     r"Pooling.*of at least \(4, 4\), got \(batch, 1, 8, 3\)"),
    (lambda: [LSTM.LSTM(3, 2)], (5, 4),
     r"LSTM\(3, 2\).*expected input of shape \(time, 3\) or \(batch, time, 3\)"),
    (lambda: [ReLU.ReLU()], None, r"expected input_shape"),
    (lambda: [ReLU.ReLU()], (0, 2), r"input_shape entry >= 1, got 0"),
])
def test_an_input_shape_that_does_not_fit_is_refused_by_layer(layers, shape, message,
                                                              tmp_path):
    net = network(layers(), np.float64)
    with pytest.raises(ValueError, match=message):
        onnx_export.export(net, tmp_path / "model.onnx", shape)
    assert os.listdir(tmp_path) == []


def test_other_bad_calls_are_refused(tmp_path):
    net = network([FullyConnected.FullyConnected(3, 2)], np.float64)
    with pytest.raises(TypeError, match="export_onnx: expected a file path"):
        onnx_export.export(net, 42)
    with pytest.raises(TypeError, match="expected input_shape as a tuple"):
        onnx_export.export(net, tmp_path / "m.onnx", "3")
    empty = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(0.1))
    with pytest.raises(ValueError, match="expected a built network"):
        onnx_export.export(empty, tmp_path / "m.onnx")
    half = network([FullyConnected.FullyConnected(3, 2, dtype=np.float16)], np.float16)
    with pytest.raises(TypeError, match="expected a float32 or float64 network, got 'float16'"):
        onnx_export.export(half, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_the_network_exports_itself_as_the_exporter_does(tmp_path):
    """net.export_onnx is the Python API of the last release (issue 26 speaks of it): it
    stays, as a door that imports the exporter only when asked."""
    np.random.seed(0)
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-3))
    for layer in (FullyConnected.FullyConnected(4, 3), SoftMax.SoftMax()):
        net.append_layer(layer)
    x = np.random.rand(5, 4)
    net.export_onnx(tmp_path / "a.onnx"), onnx_export.export(net, tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert_close(run_onnx(str(tmp_path / "a.onnx"), x), net.test(x), np.float64)
    with pytest.raises(PermissionError, match="nothing was written"):
        os.mkfifo(tmp_path / "fifo")
        net.export_onnx(tmp_path / "fifo")
