"""A teacher's optimizer written the PyTorch/Keras way and a student's layers written the
course-sheet way save, load and resume bit-identically once registered; what would not
survive a round trip is refused at save (issue 25). Config values and resuming from Python
(issue 26, items 5 and 11). No framework file names the classes defined here."""
import json
import re
import zipfile

import numpy as np
import pytest

import NeuralNetwork
import checkpoint
import test_checkpoint as surgery
from Data.Datasets import IrisData
from Layers import FullyConnected, Initializers, SoftMax
from Layers.Base import BaseLayer
from Layers.Helpers import check_layer
from Optimization import Loss, Optimizers


# -- a teacher's RMSProp, the PyTorch/Keras way ------------------------------------------

class RMSProp:
    """``s <- decay s + (1 - decay) g**2;  w <- w - lr g / (sqrt(s) + eps)``.

    Its config leaves out ``regularizer`` (the default fills in, as Keras' ``cls(**config)``
    does), and its state is made at the first step, as PyTorch's is: ``{}`` before.
    """

    def __init__(self, learning_rate, decay=0.9, eps=1e-8, regularizer=None):
        self.learning_rate, self.decay, self.eps = learning_rate, decay, eps
        self.regularizer = regularizer
        self.state = {}

    def calculate_update(self, weight_tensor, gradient_tensor):
        g = np.asarray(gradient_tensor)
        s = self.state.get("s", np.zeros_like(g))
        self.state["s"] = s = self.decay * s + (1 - self.decay) * g * g
        return weight_tensor - self.learning_rate * g / (np.sqrt(s) + self.eps)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "decay": self.decay, "eps": self.eps}

    def state_dict(self):
        return {name: value.copy() for name, value in self.state.items()}

    def load_state_dict(self, state):
        unknown = set(state) - {"s"}
        if unknown:
            raise ValueError(f"RMSProp.load_state_dict: expected at most the entry 's', got "
                             f"{sorted(unknown)}")
        if "s" in state and (np.asarray(state["s"]) < 0).any():
            raise ValueError("RMSProp.load_state_dict: expected s >= 0")
        self.state = {name: np.array(value) for name, value in state.items()}


checkpoint.register(RMSProp)


# -- a student's layers, the course-sheet way (no framework hook) -------------------------

class SheetFullyConnected(BaseLayer):
    def __init__(self, input_size, output_size):
        super().__init__()
        self.trainable = True
        self.input_size, self.output_size = input_size, output_size
        self.weights = np.random.uniform(0, 1, (input_size + 1, output_size))
        self._optimizer = None
        self._gradient_weights = None

    @property
    def optimizer(self):
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer):
        self._optimizer = optimizer

    @property
    def gradient_weights(self):
        return self._gradient_weights

    def initialize(self, weights_initializer, bias_initializer):
        n, m = self.input_size, self.output_size
        self.weights = np.vstack([weights_initializer.initialize((n, m), n, m),
                                  bias_initializer.initialize((1, m), 1, m)])

    def forward(self, input_tensor):
        self.input_tensor = np.hstack([input_tensor, np.ones((len(input_tensor), 1))])
        return self.input_tensor @ self.weights

    def backward(self, error_tensor):
        self._gradient_weights = self.input_tensor.T @ error_tensor
        error = error_tensor @ self.weights[:-1].T
        if self._optimizer is not None:
            self.weights = self._optimizer.calculate_update(self.weights, self._gradient_weights)
        return error


class LeakyReLU(BaseLayer):
    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = alpha

    def forward(self, input_tensor):
        self.input_tensor = input_tensor
        return np.where(input_tensor > 0, input_tensor, self.alpha * input_tensor)

    def backward(self, error_tensor):
        return np.where(self.input_tensor > 0, error_tensor, self.alpha * error_tensor)


checkpoint.register(SheetFullyConnected)
checkpoint.register(LeakyReLU)


def iris_net(optimizer, layers):
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.He(), Initializers.Constant(0.1))
    for layer in layers:
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    return net


def sheet_layers():
    return [SheetFullyConnected(4, 8), LeakyReLU(0.1), FullyConnected.FullyConnected(8, 3),
            SoftMax.SoftMax()]


def framework_layers():
    return [FullyConnected.FullyConnected(4, 8), LeakyReLU(0.1),
            FullyConnected.FullyConnected(8, 3), SoftMax.SoftMax()]


def resume_from_python(tmp_path, optimizer, layers):
    """``a.train(epochs=2); a.save(p); a.train(epochs=4)`` against
    ``b = NeuralNetwork.load(p, IrisData(50)); b.train(epochs=4)`` (issue 26, item 11)."""
    np.random.seed(0)
    data = IrisData(50)                    # its train/test split is drawn here
    a = iris_net(optimizer(), layers())
    a.data_layer = data
    a.train(epochs=2)
    path = tmp_path / "a.ckpt"
    a.save(path)
    a.train(epochs=4)
    np.random.seed(0)
    data = IrisData(50)                    # the same split; load puts back the rest
    np.random.seed(12345)                  # whatever the random state is now
    b = NeuralNetwork.load(path, data)
    b.train(epochs=4)
    return a, b


def assert_same_run(a, b):
    assert a.loss == b.loss and a.history == b.history
    for x, y in zip(a.layers, b.layers):
        for name in ("weights", "bias"):
            if isinstance(getattr(x, name, None), np.ndarray):
                np.testing.assert_array_equal(getattr(x, name), getattr(y, name))
    x = IrisData(50, random=False).get_test_set()[0]
    np.testing.assert_array_equal(a.test(x), b.test(x))


# -- issue 25: the teacher's optimizer -----------------------------------------------------

def test_the_teachers_rmsprop_resumes_bit_identically(tmp_path):
    a, b = resume_from_python(tmp_path, lambda: RMSProp(1e-2, 0.8), framework_layers)
    assert type(b.optimizer) is RMSProp and b.optimizer.get_config()["decay"] == 0.8
    assert_same_run(a, b)


def test_rmsprop_state_is_lazy_and_its_config_lacks_the_regularizer(tmp_path):
    net = iris_net(RMSProp(1e-2), framework_layers())
    net.save(tmp_path / "fresh.ckpt")                  # state {} before the first step
    doc = json.loads(zipfile.ZipFile(tmp_path / "fresh.ckpt").read("network.json"))
    assert doc["optimizer"]["args"] == {"learning_rate": 1e-2, "decay": 0.9, "eps": 1e-8}
    assert doc["layers"][0]["optimizer"]["state"]["weights"] == {}
    loaded = NeuralNetwork.load(tmp_path / "fresh.ckpt")
    assert loaded.layers[0].optimizer.state == {} and loaded.optimizer.regularizer is None
    net.data_layer = IrisData(50)
    net.train(2)
    net.save(tmp_path / "trained.ckpt")                # state {"s": array} after
    loaded = NeuralNetwork.load(tmp_path / "trained.ckpt")
    np.testing.assert_array_equal(loaded.layers[0].optimizer.state["s"],
                                  net.layers[0].optimizer.state["s"])


def edited(path, edit, arrays=None):
    """The checkpoint at ``path`` with its document edited (and arrays replaced)."""
    edited_path = path.with_suffix(".edited")
    edited_path.write_bytes(surgery.edited(path.read_bytes(), edit, arrays))
    return edited_path


def trained_and_saved(optimizer, path):
    """An iris network with ``optimizer``, trained 2 epochs and saved to ``path``."""
    np.random.seed(0)
    net = iris_net(optimizer, framework_layers())
    net.data_layer = IrisData(50)
    net.train(2)
    net.save(path)
    return net


def test_the_optimizer_decides_what_state_it_holds_and_arrays_are_still_checked(tmp_path):
    path = tmp_path / "r.ckpt"
    trained_and_saved(RMSProp(1e-2), path)

    def put(doc, key, value):
        doc["layers"][0]["optimizer"]["state"]["weights"][key] = value
    with pytest.raises(checkpoint.CheckpointError, match=re.escape(
            "layers[0].optimizer.state.weights: invalid state (RMSProp.load_state_dict: "
            "expected at most the entry 's', got ['t']")):
        checkpoint.read(edited(path, lambda d: put(d, "t", 1.0)))
    reference = json.loads(zipfile.ZipFile(path).read("network.json"))
    member = reference["layers"][0]["optimizer"]["state"]["weights"]["s"]
    with pytest.raises(checkpoint.CheckpointError, match=re.escape(
            f"layers[0].optimizer.state.weights.s: {member}: expected shape (5, 8), "
            f"got (2, 8)")):
        checkpoint.read(edited(path, lambda d: None, {member: np.ones((2, 8))}))
    # The parameter's dtype or float32 (an optimizer may keep either); nothing else.
    with pytest.raises(checkpoint.CheckpointError,
                       match="expected dtype float64 or float32, got float16"):
        checkpoint.read(edited(path, lambda d: None, {member: np.ones((5, 8), np.float16)}))
    with pytest.raises(checkpoint.CheckpointError, match="RMSProp.load_state_dict: expected s >= 0"):
        checkpoint.read(edited(path, lambda d: None, {member: -np.ones((5, 8))}))


class PlainSgd:
    """A teacher's optimizer with no state at all: no state_dict, no load_state_dict."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def calculate_update(self, weight_tensor, gradient_tensor):
        return weight_tensor - self.learning_rate * gradient_tensor


checkpoint.register(PlainSgd)


def test_an_optimizer_without_state_takes_only_an_empty_one(tmp_path):
    path = tmp_path / "p.ckpt"
    net = trained_and_saved(PlainSgd(1e-2), path)
    x = net.data_layer.get_test_set()[0]
    np.testing.assert_array_equal(checkpoint.read(path)[0].test(x), net.test(x))

    def put(doc):
        doc["layers"][0]["optimizer"]["state"]["weights"]["velocity"] = 1.0
    with pytest.raises(checkpoint.CheckpointError, match=re.escape(
            "layers[0].optimizer.state.weights: invalid state (PlainSgd: expected an empty "
            "state, got ['velocity'])")):
        checkpoint.read(edited(path, put))


def test_a_missing_config_entry_without_a_default_is_still_refused(tmp_path):
    class Forgetful(RMSProp):
        def get_config(self):
            return {"decay": self.decay}
    checkpoint.register(Forgetful)
    net = iris_net(Forgetful(1e-2), framework_layers())
    with pytest.raises(ValueError, match=re.escape("optimizer.args: expected the keys "
                                                   "['learning_rate'], missing ['learning_rate']")):
        net.save(tmp_path / "f.ckpt")
    assert not (tmp_path / "f.ckpt").exists()


class NoneFirstLayer(SheetFullyConnected):
    """``weights = None`` in the constructor, made by initialize: saved like any array."""

    def __init__(self, input_size, output_size):
        super().__init__(input_size, output_size)
        self.weights = None


def test_weights_that_initialize_makes_are_saved(tmp_path):
    checkpoint.register(NoneFirstLayer)
    np.random.seed(0)
    net = iris_net(Optimizers.Adam(1e-2), [NoneFirstLayer(4, 3), SoftMax.SoftMax()])
    net.data_layer = IrisData(50)
    net.train(3)
    net.save(tmp_path / "n.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "n.ckpt")
    x = net.data_layer.get_test_set()[0]
    np.testing.assert_array_equal(loaded.test(x), net.test(x))


# -- issue 25: the student's layers --------------------------------------------------------

def test_the_course_sheet_layers_pass_check_layer():
    np.random.seed(0)
    check_layer(SheetFullyConnected(4, 3), input_shape=(5, 4))
    check_layer(LeakyReLU(0.1), input_shape=(5, 4))


def test_course_sheet_layers_save_load_and_resume_bit_identically(tmp_path):
    a, b = resume_from_python(tmp_path, lambda: Optimizers.Adam(1e-2), sheet_layers)
    assert type(b.layers[0]) is SheetFullyConnected and b.layers[1].alpha == 0.1
    assert b.layers[0].optimizer.source is b.optimizer        # Adam's moments came back
    assert_same_run(a, b)


def test_a_course_sheet_layer_saved_mid_run_gives_identical_outputs(tmp_path):
    np.random.seed(1)
    net = iris_net(Optimizers.Adam(1e-2), sheet_layers())
    net.data_layer = IrisData(50)
    net.train(7)
    net.save(tmp_path / "s.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "s.ckpt")
    np.testing.assert_array_equal(loaded.layers[0].weights, net.layers[0].weights)
    assert not hasattr(loaded.layers[0], "input_tensor")     # the last batch is not saved
    x = net.data_layer.get_test_set()[0]
    np.testing.assert_array_equal(loaded.test(x), net.test(x))
    doc = json.loads(zipfile.ZipFile(tmp_path / "s.ckpt").read("network.json"))
    assert set(doc["layers"][0]["state"]) == {"weights"}
    assert set(doc["layers"][0]["optimizer"]["state"]["optimizer"]) == {"v", "r", "k"}


def test_the_cache_of_the_last_batch_is_not_saved(tmp_path):
    from Layers import TanH
    np.random.seed(0)
    net = iris_net(Optimizers.Adam(1e-2), [SheetFullyConnected(4, 3), TanH.TanH(),
                                           SoftMax.SoftMax()])
    net.data_layer = IrisData(50)
    net.train(2)
    assert isinstance(net.layers[1].activations, np.ndarray)    # public, None at first
    net.save(tmp_path / "t.ckpt")
    doc = json.loads(zipfile.ZipFile(tmp_path / "t.ckpt").read("network.json"))
    assert [set(layer["state"]) for layer in doc["layers"]] == [{"weights"}, set(), set()]


class LazySheetLayer(SheetFullyConnected):
    """Makes its weights in initialize only, and its constructor has no attribute for
    them: nothing tells them from the cache of a batch but the course's contract."""

    def __init__(self, input_size, output_size):
        super().__init__(input_size, output_size)
        del self.weights


class BiasOptimizerLayer(SheetFullyConnected):
    """Keeps a second optimizer of its own for the bias row, as the Conv sheet does."""

    @property
    def optimizer(self):
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer):
        import copy
        self._optimizer, self._bias_optimizer = optimizer, copy.deepcopy(optimizer)

    def backward(self, error_tensor):
        self._gradient_weights = self.input_tensor.T @ error_tensor
        error = error_tensor @ self.weights[:-1].T
        if self._optimizer is not None:
            w = self._optimizer.calculate_update(self.weights[:-1], self._gradient_weights[:-1])
            b = self._bias_optimizer.calculate_update(self.weights[-1:],
                                                      self._gradient_weights[-1:])
            self.weights = np.vstack([w, b])
        return error


@pytest.mark.parametrize("cls, fragment", [
    (LazySheetLayer, "cannot save layers[0] (LazySheetLayer): its weights would be lost"),
    (BiasOptimizerLayer, "cannot save layers[0] (BiasOptimizerLayer): the state of its "
                         "optimizer in '_bias_optimizer' would be lost")])
def test_a_layer_whose_learned_arrays_would_be_lost_is_refused(tmp_path, cls, fragment):
    checkpoint.register(cls)
    np.random.seed(0)
    net = iris_net(Optimizers.Adam(1e-2), [cls(4, 3), SoftMax.SoftMax()])
    net.data_layer = IrisData(50)
    net.train(3)
    with pytest.raises(TypeError, match=re.escape(fragment)):
        net.save(tmp_path / "lost.ckpt")
    assert list(tmp_path.iterdir()) == []


# -- issue 26, item 5 --------------------------------------------------------------------

def test_an_unregistered_network_subclass_is_refused():
    class MyNet(NeuralNetwork.NeuralNetwork):
        def test(self, input_tensor, batch_size=None):
            return 2 * super().test(input_tensor, batch_size)
    net = MyNet(Optimizers.Sgd(1e-2))
    with pytest.raises(TypeError, match=re.escape("cannot save a network of type MyNet: "
                                                  "register it with checkpoint.register(MyNet)")):
        checkpoint.save("never.ckpt", net)


class Activation(BaseLayer):
    """A layer with a string argument."""

    def __init__(self, kind="relu"):
        super().__init__()
        if kind not in ("relu", "tanh"):
            raise ValueError(f"Activation: expected kind 'relu' or 'tanh', got {kind!r}")
        self.kind = kind

    def forward(self, input_tensor):
        self.output = np.tanh(input_tensor) if self.kind == "tanh" else \
            np.maximum(input_tensor, 0)
        return self.output

    def backward(self, error_tensor):
        return error_tensor * (1 - self.output ** 2 if self.kind == "tanh" else self.output > 0)


class BetaAdam(Optimizers.Adam):
    """Adam with PyTorch's ``betas=(mu, rho)``, a tuple argument."""

    def __init__(self, learning_rate=1e-3, betas=(0.9, 0.999), regularizer=None, clip_norm=None):
        if not (isinstance(betas, tuple) and len(betas) == 2):
            raise TypeError(f"BetaAdam: expected betas as a tuple of two, got {betas!r}")
        super().__init__(learning_rate, betas[0], betas[1], regularizer, clip_norm)
        self.betas = betas


checkpoint.register(Activation)
checkpoint.register(BetaAdam)


def test_a_config_holds_strings_and_tuples(tmp_path):
    np.random.seed(0)
    net = iris_net(BetaAdam(1e-2, betas=(0.8, 0.99)),
                   [FullyConnected.FullyConnected(4, 3), Activation(kind="tanh"),
                    SoftMax.SoftMax()])
    net.data_layer = IrisData(50)
    net.train(3)
    net.save(tmp_path / "c.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "c.ckpt")
    assert loaded.layers[1].kind == "tanh"
    assert loaded.optimizer.betas == (0.8, 0.99)              # lists come back as tuples
    x = net.data_layer.get_test_set()[0]
    np.testing.assert_array_equal(loaded.test(x), net.test(x))


# -- issue 26, item 11: resuming from Python ----------------------------------------------

def test_load_without_a_data_layer_leaves_the_random_state_alone(tmp_path):
    np.random.seed(0)
    net = iris_net(RMSProp(1e-2), framework_layers())
    net.data_layer = IrisData(50)
    net.train(epochs=1)
    net.save(tmp_path / "n.ckpt")
    doc = json.loads(zipfile.ZipFile(tmp_path / "n.ckpt").read("network.json"))
    assert set(doc["data"]) == {"state", "rng"} and doc["data"]["state"]["position"] == 100
    state = np.random.get_state()
    NeuralNetwork.load(tmp_path / "n.ckpt")
    assert all(np.array_equal(a, b) for a, b in zip(state, np.random.get_state()))


def test_a_data_layer_that_refuses_the_saved_state_is_named(tmp_path):
    np.random.seed(0)
    net = iris_net(RMSProp(1e-2), framework_layers())
    net.data_layer = IrisData(50)
    net.train(epochs=1)
    net.save(tmp_path / "n.ckpt")
    from Data.Datasets import DigitData
    with pytest.raises(checkpoint.CheckpointError, match=re.escape(
            "data.state: DigitData refuses the saved data state (DigitData.load_state_dict: "
            "expected an order that permutes")):
        NeuralNetwork.load(tmp_path / "n.ckpt", DigitData(50))
