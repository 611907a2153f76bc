"""ConvertCheckpoint.py against forged and damaged pickles (issue 20, item 7): no
memory-corruption primitive, one line and exit status 2 for every refusal, damaged
files refused where their shapes or values show it, old recurrent layers converted; and
(issue 25) trained networks of every kind that the last pickle release had, with each of
its optimizers, pickled by that release's own code, convert to the same outputs."""
import copyreg
import io
import os
import shutil
import pickle
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import ConvertCheckpoint
import NeuralNetwork
from Layers import FullyConnected, Initializers, LSTM, RNN, SoftMax
from Layers._recurrent import RecurrentLayer
from Optimization import Loss, Optimizers

ROOT = Path(__file__).resolve().parent.parent
PICKLES = ROOT / "tests" / "data" / "pickles"
RELEASE = "1dae96aae57e4eeb373b5e9190256dd6820953d1"   # the last to pickle (make_pickles.py)
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
    moments = network()
    adam = moments.layers[2].parameter_optimizers()["weights"]
    adam.v = adam.v[:-1]
    cases["an Adam moment of the wrong shape"] = old_pickle(moments)
    moments = network()
    moments.layers[0].parameter_optimizers()["weights"].r[0, 0] = np.nan
    cases["a NaN moment"] = old_pickle(moments)
    moments = network()
    moments.layers[1].parameter_optimizers()["weights"].s = np.ones(3)
    cases["a state entry that Adam does not hold"] = old_pickle(moments)
    negative = network()
    negative.optimizer.learning_rate = 1e-3
    negative.optimizer.__dict__["learning_rate"] = -1.0       # past the check on assignment
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


# -- trained networks pickled by the release itself (issue 25) -----------------------------

def converted_outputs(tmp_path, pickle_file, data):
    """Convert ``pickle_file``; return its ``test(input)`` and the same after the two
    training steps that make_pickles.py took from the saved state (seed 7)."""
    new = tmp_path / (pickle_file.stem + ".ckpt")
    assert ConvertCheckpoint.main([str(pickle_file), str(new)]) == 0
    net = NeuralNetwork.load(new)
    before = net.test(data["input"])

    class FixedBatch:
        def next(self):
            return data["x"], data["y"]
    net.data_layer = FixedBatch()
    np.random.seed(7)                          # Dropout's masks, as the release drew them
    for layer in net.layers:                   # memorize starts from zeros, as it did there
        if hasattr(layer, "memorize"):
            layer.state = None
    net.train(2)
    return before, net.test(data["input"])


def assert_converts(tmp_path, directory, name):
    data = np.load(directory / f"{name}.npz")
    before, after = converted_outputs(tmp_path, directory / f"{name}.pkl", data)
    # The references were computed by the old code (maybe on another machine): the last
    # bits of a product depend on the BLAS kernel, so float64 agrees to 1e-12, not exactly.
    np.testing.assert_allclose(before, data["output"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(after, data["trained"], rtol=1e-12, atol=1e-15)


def committed():
    return sorted(p.stem for p in PICKLES.glob("*.pkl"))


def test_every_kind_with_every_optimizer_is_there():
    sys.path.insert(0, str(PICKLES))
    try:
        import make_pickles
    finally:
        sys.path.remove(str(PICKLES))
    assert committed() == sorted(f"{kind}_{opt}" for kind in make_pickles.NETWORKS
                                 for opt in make_pickles.OPTIMIZERS)
    assert len(committed()) == 21


@pytest.mark.parametrize("name", committed())
def test_a_trained_pickle_of_the_release_converts_to_the_same_outputs(tmp_path, name):
    assert_converts(tmp_path, PICKLES, name)


def release_tree(tmp_path):
    """The pickle release's code, from this clone's git history, in ``tmp_path``."""
    git = shutil.which("git")
    if git is None or subprocess.run([git, "cat-file", "-e", f"{RELEASE}^{{commit}}"],
                                     cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip(f"commit {RELEASE} is not in this clone's history")
    archive = subprocess.run([git, "archive", "--format=tar", RELEASE], cwd=ROOT,
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # the "data" filter where Python has it (3.12 warns without one)
        tar.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter")
                                    else {}))
    script = tmp_path / "tests" / "data" / "pickles" / "make_pickles.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(PICKLES / "make_pickles.py", script)
    return script


def test_pickles_made_now_by_the_release_from_git_history_convert(tmp_path):
    """The same, with pickles that the release's code writes here and now (this machine's
    kernels on both sides), plus the release's own shipped LeNet (float32)."""
    script = release_tree(tmp_path / "release")
    out = tmp_path / "made"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # the release's modules
    result = subprocess.run([sys.executable, str(script), str(out), "--shipped"], env=env,
                            cwd=script.parent, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    made = sorted(p.stem for p in out.glob("*.pkl"))
    assert made == committed()
    for name in made:
        assert_converts(tmp_path, out, name)
    data = np.load(out / "lenet_mnist.npz")
    before, _ = converted_outputs(tmp_path, tmp_path / "release" / "trained" / "lenet_mnist.pkl",
                                  {"input": data["input"], "x": data["input"],
                                   "y": np.eye(10)[[0, 1, 2, 3]]})
    # float32, computed by two versions of the code: agreement to float32 round-off.
    np.testing.assert_allclose(before, data["output"], rtol=1e-5, atol=1e-7)
