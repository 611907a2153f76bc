"""ConvertCheckpoint.py against forged and damaged pickles (issue 20, item 7): no
memory-corruption primitive, one line and exit status 2 for every refusal, damaged
files refused where their shapes or values show it, old recurrent layers converted."""
import copyreg
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ConvertCheckpoint
import NeuralNetwork
from Layers import FullyConnected, Initializers, LSTM, RNN, SoftMax
from Layers._recurrent import RecurrentLayer
from Optimization import Loss, Optimizers

ROOT = Path(__file__).resolve().parent.parent
CORE = "numpy._core" if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else "numpy.core"


def network():
    np.random.seed(3)
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-3, regularizer={"type": "L2",
                                                                         "lambda": 1e-3}),
                                      Initializers.Xavier(), Initializers.Constant(0.1))
    for layer in (RNN.RNN(4, 5, 6), LSTM.LSTM(6, 3, 4), FullyConnected.FullyConnected(4, 3),
                  SoftMax.SoftMax()):
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    x, y = np.random.random((2, 4)), np.eye(3)[[0, 2]]

    class Data:
        def next(self):
            return x, y
    net.data_layer = Data()
    net.train(3)
    net.data_layer = None
    return net


class OldLayout(pickle.Pickler):
    """Pickles recurrent layers as earlier versions did: ``output_weights`` a plain
    attribute, no inner FullyConnected."""

    def reducer_override(self, obj):
        if isinstance(obj, RecurrentLayer):
            state = obj.__getstate__()
            fc = state.pop("_fc", None)
            state.pop("_sigmoid", None)
            if fc is not None:
                state["output_weights"] = fc.weights
                state["gradient_output_weights"] = None
            return copyreg.__newobj__, (type(obj),), state
        return NotImplemented


def old_pickle(net):
    import io
    buffer = io.BytesIO()
    OldLayout(buffer).dump(net)
    return buffer.getvalue()


def convert(tmp_path, data, name="x"):
    """``(exit status, stderr line or None, network or None)`` of converting ``data``."""
    old, new = tmp_path / f"{name}.pkl", tmp_path / f"{name}.ckpt"
    old.write_bytes(data)
    try:
        status = ConvertCheckpoint.main([str(old), str(new)])
        return status, None, NeuralNetwork.load(new)
    except SystemExit as exit_info:
        assert not new.exists(), "a refusal wrote a file"
        return exit_info.code, None, None


def outputs(net):
    x = np.random.default_rng(0).random((3, 4))
    return net.test(x)


def test_old_recurrent_layers_with_an_output_size_convert(tmp_path):
    net = network()
    status, _, converted = convert(tmp_path, old_pickle(net))
    assert status == 0
    np.testing.assert_array_equal(outputs(converted), outputs(net))
    for a, b in zip(net.trainable_layers(), converted.trainable_layers()):
        for name, opt in a.parameter_optimizers().items():
            np.testing.assert_array_equal(opt.r, b.parameter_optimizers()[name].r)


class Reduce:
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def global_ref(module, name):
    """A pickle that calls ``module.name`` with no arguments (names need not exist)."""
    return (b"\x80\x04c" + module.encode() + b"\n" + name.encode() + b"\n)R.")


def forged():
    """Hand-made hostile pickles, each a way to crash, run code or exhaust memory."""
    net = network()
    wrong_shape = old_pickle(net).replace(b"\x85", b"\x85", 1)
    cases = {
        "object scalar (a pointer)": pickle.dumps(Reduce(np.core.multiarray.scalar,
                                                         np.dtype("O"), b"A" * 8)),
        "object dtype": pickle.dumps(np.dtype("O")),
        "structured dtype": pickle.dumps(np.dtype([("a", "O")])),
        "object array": pickle.dumps(np.array([1, "x"], dtype=object)),
        "os.system": pickle.dumps(Reduce(os.system, "echo ran > marker")),
        "eval": global_ref("builtins", "eval"),
        "a module that does not exist": global_ref("Layers.NoSuchModule", "X"),
        "a function of the framework": global_ref("NeuralNetwork", "load"),
        "a huge array": pickle.dumps(Reduce(np.core.multiarray._reconstruct, np.ndarray,
                                            (10**12,), b"b")),
        "frombuffer of objects": pickle.dumps(Reduce(np.frombuffer, b"A" * 8, np.dtype("O"))),
        "empty file": b"",
        "not a network": pickle.dumps(np.zeros(3)),
        "layers not a list": pickle.dumps(Reduce(dict, {"layers": 3})),
        "weights of text": old_pickle(net).replace(b"output_weights", b"output_weightz", 1),
        "a shape that differs": wrong_shape.replace(b"input_size", b"hidden_size", 1),
    }
    lying = network()
    lying.layers[0].weights = lying.layers[0].weights[:-1]       # one row short
    cases["a parameter of the wrong shape"] = old_pickle(lying)
    nan = network()
    nan.layers[2].weights[0, 0] = np.nan
    cases["NaN weights"] = old_pickle(nan)
    negative = network()
    negative.optimizer.learning_rate = 1e-3
    negative.optimizer._hyper["learning_rate"] = -1.0
    cases["a negative learning rate"] = old_pickle(negative)
    return cases


def test_the_pointer_scalar_is_refused_in_a_process_of_its_own(tmp_path):
    """An object-dtype scalar from raw bytes (the pointer primitive) is refused at its dtype."""
    path = tmp_path / "forged.pkl"
    path.write_bytes(forged()["object scalar (a pointer)"])
    result = subprocess.run([sys.executable, str(ROOT / "ConvertCheckpoint.py"), str(path),
                             str(tmp_path / "out.ckpt")], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "dtype object" in result.stderr or "not a number" in result.stderr, result.stderr


def test_forged_pickles_end_in_one_line_and_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused = 0
    cases = forged()
    for name, data in cases.items():
        status, _, _ = convert(tmp_path, data, "forged")
        err = capsys.readouterr().err
        assert status == 2, (name, status)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, name
        assert err.startswith("ConvertCheckpoint.py: error: cannot convert"), name
        assert not (tmp_path / "marker").exists()
        refused += 1
    with capsys.disabled():
        print(f"\nforged pickles refused: {refused} of {len(cases)}")


def test_damaged_pickles_are_refused_where_it_shows(tmp_path, capsys):
    """Random damage to a trusted pickle: one line and status 2, or a conversion. What
    converts with other outputs was damaged where nothing can tell: inside raw numbers."""
    net = network()
    data = old_pickle(net)
    expected = outputs(net)
    rng = random.Random(0)
    counts = {"refused": 0, "same": 0, "different": 0}
    for i in range(60):               # 60, as the report this answers damaged 60
        damaged = bytearray(data)
        if i % 3 == 0:
            damaged = damaged[:rng.randrange(len(damaged))]
        else:
            for _ in range(1 + i % 4):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        status, _, converted = convert(tmp_path, bytes(damaged), name=f"d{i}")
        err = capsys.readouterr().err
        if status == 2:
            assert len(err.splitlines()) == 1 and "Traceback" not in err, err
            counts["refused"] += 1
        else:
            assert status == 0
            same = np.array_equal(outputs(converted), expected)
            counts["same" if same else "different"] += 1
    with capsys.disabled():
        print(f"\ndamaged pickles (60): {counts}")
    assert counts["refused"] >= 40, counts
