"""ONNX export of Bidirectional(RNN/LSTM/GRU), alone and before LastStep -> FullyConnected
-> SoftMax, and of a Seq2Seq model's encoder (``onnx_export.export_encoder``), plain and
Bidirectional: float32 and float64, batch 1 and 7, checked by onnx.checker and run in ONNX
Runtime against the framework (1e-5 relative in float32, 1e-10 in float64, as in
tests/test_onnx.py).
"""
import os
import types

import numpy as np
import onnx
import pytest

import onnx_export
from Data import Dates
from Layers import Bidirectional, Embedding, FullyConnected, GRU, LastStep, LSTM, RNN, SoftMax
from Models import Seq2Seq
from tests.test_onnx import DTYPES, assert_close, export_and_compare, network, session_of

CELLS = [RNN.RNN, LSTM.LSTM, GRU.GRU]

# name -> layers(cell, dtype), input (batch, time 6, 3)
NETWORKS = {
    "Bidirectional": lambda cell, d: [Bidirectional.Bidirectional(cell(3, 4, dtype=d))],
    "Bidirectional, LastStep, FullyConnected, SoftMax": lambda cell, d: [
        Bidirectional.Bidirectional(cell(3, 4, dtype=d)), LastStep.LastStep(),
        FullyConnected.FullyConnected(8, 5, dtype=d), SoftMax.SoftMax()],
}


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list(NETWORKS))
def test_bidirectional_equals_net_test(name, cell, dtype, batch, tmp_path):
    net = network(NETWORKS[name](cell, dtype), dtype)    # both directions' weights random
    x = np.random.default_rng(batch).normal(size=(batch, 6, 3)).astype(dtype)
    export_and_compare(net, x, (None, 3), dtype, tmp_path)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_bidirectional_has_a_dynamic_time_axis_and_takes_one_classic_sequence(dtype, tmp_path):
    net = network([Bidirectional.Bidirectional(LSTM.LSTM(3, 4, dtype=dtype))], dtype)
    rng = np.random.default_rng(2)
    path = onnx_export.export(net, str(tmp_path / "batched.onnx"), (None, 3))
    for steps in (1, 9):
        x = rng.normal(size=(2, steps, 3)).astype(dtype)
        assert_close(session_of(path).run(["output"], {"input": x})[0], net.test(x), dtype)
    x = rng.normal(size=(5, 3)).astype(dtype)            # (time, input_size)
    export_and_compare(net, x, (3,), dtype, tmp_path)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_float32_is_one_native_operator_in_both_directions(cell, tmp_path):
    net = network([Bidirectional.Bidirectional(cell(3, 4, dtype=np.float32))], np.float32)
    model = onnx.load(onnx_export.export(net, str(tmp_path / "m.onnx"), (None, 3)))
    node, = [n for n in model.graph.node if n.op_type == cell.__name__]
    assert onnx.helper.get_attribute_value(
        next(a for a in node.attribute if a.name == "direction")) == b"bidirectional"
    assert not [n for n in model.graph.node if n.op_type == "Scan"]


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_float64_is_two_scans_the_second_backwards_in_time(cell, tmp_path):
    net = network([Bidirectional.Bidirectional(cell(3, 4, dtype=np.float64))], np.float64)
    model = onnx.load(onnx_export.export(net, str(tmp_path / "m.onnx"), (None, 3)))
    scans = [n for n in model.graph.node if n.op_type == "Scan"]
    directions = [[onnx.helper.get_attribute_value(a) for a in n.attribute
                   if a.name in ("scan_input_directions", "scan_output_directions")]
                  for n in scans]
    assert directions == [[[0], [0]], [[1], [1]]]
    assert not [n for n in model.graph.node if n.op_type == cell.__name__]


def test_bidirectional_refuses_an_input_shape_by_name(tmp_path):
    net = network([Bidirectional.Bidirectional(GRU.GRU(3, 4))], np.float64)
    with pytest.raises(ValueError, match=r"layer 0 Bidirectional\(GRU\(3, 4\)\): expected "
                       r"input of shape \(time, 3\) or \(batch, time, 3\), got \(batch, 6, 2\)"):
        net.export_onnx(tmp_path / "m.onnx", (6, 2))
    assert os.listdir(tmp_path) == []


# -- the encoder of an encoder-decoder ----------------------------------------------------


def seq2seq(bidirectional, dtype):
    """A small date translator whose encoder has random normal parameters (every gate and
    bias different, so a block in the wrong place shows)."""
    model = Seq2Seq.build(bidirectional=bidirectional, embedding=4, hidden=5, dtype=dtype)
    rng = np.random.default_rng(3)
    for layer in (model.encoder_embedding, model.encoder):
        for name, value in layer.parameters().items():
            setattr(layer, name, rng.normal(0, 0.7, value.shape).astype(dtype))
    return model


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["LSTM", "Bidirectional"])
def test_the_encoder_gives_the_memory_and_final_state_the_decoder_starts_from(
        bidirectional, dtype, batch, tmp_path):
    model = seq2seq(bidirectional, dtype)
    path = onnx_export.export_encoder(model, str(tmp_path / "encoder.onnx"))
    graph = onnx.load(path).graph
    onnx.checker.check_model(onnx.load(path), full_check=True)
    width = 10 if bidirectional else 5
    assert {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
            for o in graph.output} == {"memory": ["batch", "time", width],
                                       "h": ["batch", width], "c": ["batch", width]}
    rng = np.random.default_rng(batch)
    for steps in (1, 9):
        tokens = rng.integers(1, Dates.INPUT_VOCABULARY, (batch, steps))
        tokens[0, steps // 2 + 1:] = Dates.PAD           # padding is read, as ours reads it
        model.phase = True
        # _encode: exactly what the model's decoder and attention receive
        memory, _, (h, c) = model._encode(tokens)
        got = session_of(path).run(["memory", "h", "c"], {"input": tokens})
        for actual, expected in zip(got, (memory, h, c)):
            assert_close(actual, expected, dtype)


def test_export_encoder_refuses_a_model_without_a_recurrent_encoder(tmp_path):
    path = tmp_path / "encoder.onnx"
    with pytest.raises(TypeError, match=r"export_encoder: expected an encoder-decoder model "
                       r"whose encoder_embedding is an Embedding .* got NeuralNetwork with "
                       r"encoder_embedding None, encoder None"):
        onnx_export.export_encoder(network([LSTM.LSTM(3, 4)], np.float64), path)
    with_output_layer = types.SimpleNamespace(encoder_embedding=Embedding.Embedding(5, 3),
                                              encoder=LSTM.LSTM(3, 4, 2))
    with pytest.raises(TypeError, match=r"got SimpleNamespace with encoder_embedding "
                       r"Embedding\(5, 3\), encoder LSTM\(3, 4, 2\)"):
        onnx_export.export_encoder(with_output_layer, path)
    assert os.listdir(tmp_path) == []
