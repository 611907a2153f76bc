"""The state protocol: classes of your own become saveable with one call; persistence
reads no private attribute and names no model; save never writes what load refuses;
a checkpoint's state is checked against its own settings."""
import ast
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

import checkpoint
import test_checkpoint as surgery
import NeuralNetwork
from Data.Datasets import IrisData
from Layers import FullyConnected, Initializers, ReLU, SoftMax
from Layers._layer import TrainableLayer
from Models import LeNet
from Optimization import Loss, Optimizers, Schedules

ROOT = Path(__file__).resolve().parent.parent


# -- an optimizer and a schedule of our own, with state of their own ---------------------

@checkpoint.register
class RootMeanSquare(Optimizers.Optimizer):
    """``s <- decay s + (1 - decay) g**2; w <- w - lr g / (sqrt(s) + 1e-8)``."""

    def __init__(self, learning_rate, decay=0.9, regularizer=None, clip_norm=None):
        super().__init__(learning_rate, regularizer, clip_norm)
        self.decay = decay
        self._reset()

    def _reset(self):
        self.square = None

    def _step(self, w, g):
        if self.square is None:
            self.square = np.zeros_like(g)
        self.square = self.decay * self.square + (1 - self.decay) * g * g
        return w - self.learning_rate * g / (np.sqrt(self.square) + 1e-8)


class WarmRestarts(Schedules.Schedule):
    """``lr = lr_0 * factor ** (epoch % period)``; counts its restarts (state of its own)."""

    def __init__(self, period, factor=0.5):
        super().__init__()
        self.period, self.factor, self.restarts = period, factor, 0

    def rate(self, epoch):
        self.restarts += epoch % self.period == 0
        return self.initial * self.factor ** (epoch % self.period)


checkpoint.register(WarmRestarts)


def iris_network():
    optimizer = RootMeanSquare(1e-2, 0.8, regularizer={"type": "L2", "lambda": 1e-3})
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.Xavier(), Initializers.Constant(0.1))
    for layer in (FullyConnected.FullyConnected(4, 8), ReLU.ReLU(),
                  FullyConnected.FullyConnected(8, 3), SoftMax.SoftMax()):
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    return net


def run(cut=None):
    """Three epochs on Iris from seed 0; with ``cut``, stop after that many steps."""
    data = IrisData(16, random=False)
    np.random.seed(0)
    net = iris_network()
    net.data_layer = data
    schedule = WarmRestarts(2)
    net.train(epochs=3, schedule=schedule, progress=False,
              callback=None if cut is None else lambda n, iteration, loss: iteration == cut)
    return net, data, schedule


def test_an_optimizer_and_schedule_of_your_own_resume_bit_identically(tmp_path):
    straight, _, _ = run()
    net, data, schedule = run(cut=11)                 # in the second of 7-step epochs
    assert len(net.history) == 1 and schedule.restarts == 0 and schedule.initial == 1e-2
    path = tmp_path / "cut.ckpt"
    checkpoint.save(path, net, {"settings": {"epochs": 3}, "data": data.state_dict(),
                                "rng": np.random.get_state(), "schedule": schedule,
                                "early_stopping": None, "finished": False})
    doc = json.loads(zipfile.ZipFile(path).read("network.json"))
    assert doc["optimizer"]["class"] == "RootMeanSquare"
    assert set(doc["layers"][0]["optimizer"]["state"]["weights"]) == {"square"}
    assert doc["training"]["schedule"]["restarts"] == 0

    resumed, training = checkpoint.read(path)
    assert type(resumed.optimizer) is RootMeanSquare and resumed.optimizer.decay == 0.8
    data = IrisData(16, random=False)
    data.load_state_dict(training["data"])
    np.random.set_state(training["rng"])
    resumed.data_layer = data
    resumed.train(epochs=3 - len(resumed.history), schedule=training["schedule"], progress=False)
    assert training["schedule"].restarts == 1
    for a, b in zip(straight.layers, resumed.layers):
        for name, value in a.state_dict().items():
            np.testing.assert_array_equal(value, b.state_dict()[name])
        if a.trainable:
            for name, opt in a.parameter_optimizers().items():
                np.testing.assert_array_equal(opt.square,
                                              b.parameter_optimizers()[name].square)
    assert straight.loss == resumed.loss and straight.history == resumed.history


def test_register_refuses_a_taken_name_and_what_it_cannot_place():
    class Adam(Optimizers.Sgd):
        pass
    with pytest.raises(ValueError, match="'Adam' is taken by Optimization.Optimizers.Adam"):
        checkpoint.register(Adam)
    with pytest.raises(TypeError, match="cannot tell what kind of class"):
        checkpoint.register(type("Nothing", (), {}))
    assert checkpoint.register(RootMeanSquare) is RootMeanSquare            # again: harmless


def test_every_layer_of_the_framework_is_in_the_one_table():
    """The framework's classes are listed once, in checkpoint/framework.py (issue 27), not
    registered by their modules: a layer of ``Layers.__all__`` without a row is caught."""
    import Layers
    from Layers.Base import BaseLayer
    listed = {(module, name) for module, name, _ in checkpoint.framework.FRAMEWORK}
    layers = [name for name in Layers.__all__ if isinstance(getattr(getattr(Layers, name), name,
                                                                    None), type)
              and issubclass(getattr(getattr(Layers, name), name), BaseLayer)]
    assert len(layers) >= 17 and all((f"Layers.{name}", name) in listed for name in layers)
    assert set(checkpoint.classes("layer")) >= set(layers) and checkpoint.classes("loss")["L2Loss"] is Loss.L2Loss


def test_register_does_not_guess_a_loss_by_counting_arguments():
    """forward(prediction, label) is a layer's shape too (Attention's memory, a two-input
    layer): the kind of a loss is said, never guessed (issue 27)."""
    class Hinge:
        def forward(self, prediction_tensor, label_tensor):
            return 0.0

        def backward(self, label_tensor):
            return label_tensor

    checkpoint.register(Hinge)
    assert checkpoint.classes("layer")["Hinge"] is Hinge and "Hinge" not in checkpoint.classes("loss")

    class Hinge2(Hinge):
        pass

    checkpoint.register(Hinge2, kind="loss")
    assert checkpoint.classes("loss")["Hinge2"] is Hinge2


class Scale(TrainableLayer):
    """A layer written the way README's "Adding a layer" says: nothing for checkpoints."""

    def __init__(self, features, dtype=np.float64):
        super().__init__()
        self.features = features
        self.weights = np.random.uniform(0.5, 1.5, features).astype(dtype)

    def _parameter_shapes(self):
        return {"weights": (self.features,)}

    def forward(self, x):
        self._check_parameters()
        self._x = x
        return x * self.weights

    def backward(self, e):
        self.gradient_weights = np.sum(e * self._x, axis=0)
        dx = e * self.weights
        self._update()
        return dx


def test_a_new_layer_needs_only_register(tmp_path):
    checkpoint.register(Scale)
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-2))
    net.append_layer(Scale(3, dtype=np.float32))
    x = np.random.default_rng(0).random((2, 3))
    net.layers[0].optimizer.calculate_update(net.layers[0].weights, np.ones(3))
    net.save(tmp_path / "s.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "s.ckpt")
    assert checkpoint.config_of(loaded.layers[0]) == {"features": 3, "dtype": "float32"}
    np.testing.assert_array_equal(loaded.test(x), net.test(x))


# -- persistence reads no private attribute of another module's object, names no model ----

def checkpoint_sources():
    return {p.name: p.read_text() for p in sorted((ROOT / "checkpoint").glob("*.py"))}


def test_persistence_reads_no_private_attribute_and_names_no_model():
    for name, source in checkpoint_sources().items():
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and \
                    not node.attr.startswith("__"):
                owner = node.value
                # Only this package's own objects: self, or a module of the package.
                assert isinstance(owner, ast.Name) and owner.id == "self", \
                    f"checkpoint/{name}:{node.lineno} reads .{node.attr}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) > 1:
                key = node.args[1]
                assert not (isinstance(key, ast.Constant) and str(key.value).startswith("_")), \
                    f"checkpoint/{name}:{node.lineno} {node.func.id} of a private attribute"
        # The one table of the framework's classes names the models; nothing else does.
        if name != "framework.py":
            assert not re.search(r"LeNet|Models", source), f"checkpoint/{name} names a model"


def test_persistence_imports_no_framework_module():
    framework = {"Layers", "Optimization", "Data", "Models", "NeuralNetwork", "TrainLeNet"}
    for name, source in checkpoint_sources().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            assert not framework & {m.split(".")[0] for m in modules}, f"checkpoint/{name}"


# -- item 5 of issue 20: save never writes what load refuses ---------------------------------

def test_a_float16_network_round_trips(tmp_path):
    np.random.seed(0)
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-3))
    net.append_layer(FullyConnected.FullyConnected(4, 3, dtype=np.float16))
    net.append_layer(SoftMax.SoftMax())
    net.layers[0].optimizer.calculate_update(net.layers[0].weights, np.ones((5, 3), np.float16))
    net.save(tmp_path / "half.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "half.ckpt")
    assert loaded.layers[0].weights.dtype == np.float16
    # The moments of a float16 parameter are float32, in the file and after loading.
    assert loaded.layers[0].optimizer.v.dtype == loaded.layers[0].optimizer.r.dtype == np.float32
    np.testing.assert_array_equal(loaded.layers[0].optimizer.r, net.layers[0].optimizer.r)
    x = np.random.default_rng(0).random((2, 4)).astype(np.float16)
    np.testing.assert_array_equal(loaded.test(x), net.test(x))


def test_a_lenet_converted_to_float64_round_trips(tmp_path):
    np.random.seed(0)
    net = LeNet.LeNet()
    for layer in net.trainable_layers():              # the documented way: assign the weights
        for name, value in layer.parameters().items():
            setattr(layer, name, value.astype(np.float64))
    net.save(tmp_path / "l64.ckpt")
    loaded = LeNet.LeNet.load(tmp_path / "l64.ckpt")
    assert loaded.dtype is np.float64 and loaded.layers[0].weights.dtype == np.float64
    x = np.random.default_rng(0).random((2, 1, 28, 28))
    np.testing.assert_array_equal(loaded.test(x), net.test(x))


def test_a_network_load_would_refuse_is_not_written(tmp_path):
    np.random.seed(0)
    net = LeNet.LeNet()
    net.layers[0].weights = net.layers[0].weights.astype(np.float64)   # half converted
    with pytest.raises(ValueError, match="would not load, so it was not written: .*"
                                         "layer 3 is Conv"):
        net.save(tmp_path / "mixed.ckpt")
    assert list(tmp_path.iterdir()) == []


# -- item 13 of issue 20: a checkpoint's state is checked against its own settings ---------

def resealed(data, edit):
    return surgery.edited(data, edit)


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    return (ROOT / "tests" / "data" / "checkpoints" / "lenet_run.ckpt").read_bytes()


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d.__setitem__("loss_layer", "L2Loss"), "expected the loss CrossEntropyLoss"),
    (lambda d: d["training"]["early_stopping"].update(epoch=9), "training.early_stopping.epoch"),
    (lambda d: d["training"]["early_stopping"].update(patience=0),
     "training.early_stopping: invalid arguments"),
    (lambda d: d.__setitem__("epoch_progress", [10**9, 1e300, 1]), "epoch_progress"),
    (lambda d: d.__setitem__("epoch_progress", [0, 5.0, 0]), "epoch_progress"),
    (lambda d: d["training"].__setitem__("schedule", {"class": "StepDecay", "initial": 1e-3,
                                                      "args": {"every": 1, "factor": 1e-300}}),
     "training.schedule: invalid arguments"),
    (lambda d: d["layers"][7]["args"].__setitem__("output_size", 121), "layers[7]"),
    (lambda d: d["layers"].pop(), "not a valid LeNet"),
], ids=["L2Loss", "stopper-past-patience", "patience-0", "epoch-progress", "progress-no-samples",
        "step-decay-1e-300", "architecture", "a-layer-short"])
def test_a_state_that_contradicts_its_settings_is_refused(tmp_path, lenet_run, edit, fragment):
    path = tmp_path / "edited.ckpt"
    path.write_bytes(resealed(lenet_run, edit))
    with pytest.raises(checkpoint.CheckpointError, match=re.escape(fragment)):
        checkpoint.read(path)


def test_data_layers_hand_over_their_position():
    from Data.Sequences import SequenceWindows
    inputs, targets = np.arange(20.0).reshape(10, 2), np.arange(10.0).reshape(10, 1)
    a, b = SequenceWindows(inputs, targets, 3), SequenceWindows(inputs, targets, 3)
    a.next()
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.next()[0], b.next()[0])
    with pytest.raises(ValueError, match="expected start in"):
        b.load_state_dict({"start": 11, "wrapped": False})
    iris = IrisData(10, random=False)
    assert iris.get_config() == {"batch_size": 10}
    iris.next()
    other = IrisData(10, random=False)
    other.load_state_dict(iris.state_dict())
    np.testing.assert_array_equal(iris.next()[0], other.next()[0])


def test_the_learning_rate_lives_in_one_place_also_after_loading(tmp_path):
    """Issue 27: every parameter's optimizer reads its hyperparameters from the network's
    (``source``); the file stores the rate once, and a loaded network's decay reaches every
    parameter, the biases' own copies included."""
    net = LeNet.build()
    net.save(tmp_path / "l.ckpt")
    text = zipfile.ZipFile(tmp_path / "l.ckpt").read("network.json").decode()
    assert text.count('"learning_rate"') == 1
    loaded = NeuralNetwork.load(tmp_path / "l.ckpt")
    loaded.optimizer.learning_rate *= 0.5
    copies = [o for layer in loaded.trainable_layers() for o in layer.parameter_optimizers().values()]
    assert len(copies) == 7 and all(o.source is loaded.optimizer for o in copies)   # 2 biases
    assert {o.learning_rate for o in copies} == {loaded.optimizer.learning_rate}
    assert len({id(o) for o in copies} | {id(loaded.optimizer)}) == 8
