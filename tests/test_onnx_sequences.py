"""ONNX export of the sequence layers: Embedding (int64 tokens), LastStep, and
FullyConnected and SoftMax per step on (batch, time, features), alone and in token
models, float32 and float64, batch 1 and 7, against ``net.test`` in ONNX Runtime.
"""
import os

import numpy as np
import onnx
import pytest

import NeuralNetwork
import onnx_export
from Layers import Embedding, FullyConnected, GRU, LastStep, LSTM, ReLU, RNN, SoftMax, TanH
from Models import CharModel, RowMNIST  # noqa: F401  (their checkpoints load as themselves)
from tests.test_onnx import DTYPES, assert_close, export_and_compare, network, run_onnx

# name -> (layers(dtype), shape of one sample); None: the dynamic time axis
PER_STEP = {
    "FullyConnected per step": (lambda d: [FullyConnected.FullyConnected(5, 4, dtype=d)],
                                (6, 5)),
    "SoftMax per step": (lambda d: [SoftMax.SoftMax()], (6, 5)),
    "LastStep": (lambda d: [LastStep.LastStep()], (6, 5)),
    "LastStep, dynamic time": (lambda d: [LastStep.LastStep()], (None, 5)),
    "LSTM, LastStep, FullyConnected, SoftMax": (lambda d: [
        LSTM.LSTM(5, 6, dtype=d), LastStep.LastStep(),
        FullyConnected.FullyConnected(6, 3, dtype=d), SoftMax.SoftMax()], (None, 5)),
}

# name -> layers(dtype) whose input is int64 tokens (batch, time), vocabulary of 11
TOKEN_MODELS = {
    "Embedding": lambda d: [Embedding.Embedding(11, 4, dtype=d)],
    "Embedding, LSTM, LastStep, FullyConnected, SoftMax": lambda d: [
        Embedding.Embedding(11, 4, dtype=d), LSTM.LSTM(4, 6, dtype=d), LastStep.LastStep(),
        FullyConnected.FullyConnected(6, 3, dtype=d), SoftMax.SoftMax()],
    "Embedding, GRU, FullyConnected and SoftMax per step": lambda d: [
        Embedding.Embedding(11, 5, dtype=d), GRU.GRU(5, 6, dtype=d), ReLU.ReLU(),
        FullyConnected.FullyConnected(6, 11, dtype=d), SoftMax.SoftMax()],
    "Embedding, RNN with output layer, TanH per step": lambda d: [
        Embedding.Embedding(11, 3, dtype=d), RNN.RNN(3, 4, 2, dtype=d), TanH.TanH()],
}


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(PER_STEP))
def test_per_step_layers_and_last_step(name, dtype, batch, tmp_path):
    make, shape = PER_STEP[name]
    net = network(make(dtype), dtype)
    x = np.random.default_rng(1).normal(size=(batch, 6, 5)).astype(dtype)
    export_and_compare(net, x, shape, dtype, tmp_path)


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(TOKEN_MODELS))
def test_token_models_take_int64_tokens_of_any_length(name, dtype, batch, tmp_path):
    net = network(TOKEN_MODELS[name](dtype), dtype)
    path = str(tmp_path / "model.onnx")
    onnx_export.export(net, path)                             # input_shape: (None,), time dynamic
    source = onnx.load(path).graph.input[0].type.tensor_type
    assert [d.dim_param for d in source.shape.dim] == ["batch", "time"]
    assert source.elem_type == onnx.TensorProto.INT64
    rng = np.random.default_rng(batch)
    for steps in (1, 6):
        tokens = rng.integers(0, 11, (batch, steps))
        assert_close(run_onnx(path, tokens), net.test(tokens), dtype)


@pytest.mark.parametrize("layers, shape, message", [
    (lambda: [Embedding.Embedding(5, 3)], (4, 2),
     r"layer 0 Embedding\(5, 3\): expected input of shape \(batch, time\) of int64 "
     r"tokens, got \(batch, 4, 2\)"),
    (lambda: [LastStep.LastStep()], (4,),
     r"layer 0 LastStep\(\): expected input of shape \(batch, time, features\), "
     r"got \(batch, 4\)"),
])
def test_a_sequence_layer_refuses_an_input_shape_by_name(layers, shape, message, tmp_path):
    net = network(layers(), np.float64)
    with pytest.raises(ValueError, match=message):
        onnx_export.export(net, tmp_path / "model.onnx", shape)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["rowmnist_gru", "rowmnist_lstm", "names_lstm"])
def test_shipped_sequence_models_export(name, tmp_path):
    """The shipped row-MNIST and surname models run in ONNX Runtime as in net.test."""
    net = NeuralNetwork.load(f"trained/{name}.ckpt")
    path = onnx_export.export(net, tmp_path / f"{name}.onnx")
    rng = np.random.default_rng(0)
    first = net.layers[0]
    x = rng.integers(0, first.vocabulary_size, (5, 7)) if isinstance(first, Embedding.Embedding) \
        else rng.random((5, 28, 28)).astype(np.float32)
    assert_close(run_onnx(path, x), net.test(x), np.float32)
