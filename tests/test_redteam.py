"""Red-team variations of issues 25 and 26 that their examples do not cover.

One test per hole. Two tests drew their data split after the network's weights while the
resumed side drew it first (a different split, whatever the checkpoint held): they draw it
first now. The get_config test asked for a refusal where the default config applies.
"""
import numpy as np
import pytest

import NeuralNetwork
import checkpoint
from Data.Datasets import IrisData, RandomData
from Data.Sequences import AddingData
from Layers import FullyConnected, Initializers, SoftMax
from Layers.Base import BaseLayer
from Optimization import Loss, Optimizers

from test_checkpoint_own_classes import LeakyReLU, RMSProp, SheetFullyConnected


class Batches:
    """A data layer that serves one batch, again and again."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def next(self):
        return self.x, self.y


def network(optimizer, layers, data=None):
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.He(), Initializers.Constant(0.1))
    for layer in layers:
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.data_layer = data
    return net


def saved_or_refused(net, path):
    """The network loaded back from ``path``, or None if ``save`` refused clearly."""
    try:
        net.save(path)
    except (TypeError, ValueError):
        return None
    return NeuralNetwork.load(path)


# -- issue 26 item 3: the divergence guard, with another layer -----------------------------

@pytest.mark.parametrize("optimizer", [lambda: Optimizers.Adam(1e-2),
                                       lambda: Optimizers.SgdWithMomentum(1e-2, 0.9)])
def test_an_overflowing_batch_through_a_course_sheet_layer_is_caught_and_undone(optimizer,
                                                                             tmp_path):
    """A course-sheet FullyConnected: an overflow leaves inf/NaN weights or moments silently."""
    np.random.seed(0)
    net = network(optimizer(), [SheetFullyConnected(3, 2), SoftMax.SoftMax()])
    rng = np.random.default_rng(1)
    normal = Batches(rng.random((8, 3)), np.eye(2)[rng.integers(0, 2, 8)])
    net.data_layer = normal
    net.train(2)
    weights = net.layers[0].weights.copy()
    weights[0] = weights[0].mean()          # equal logits: no saturation, the gradient is x/2
    net.layers[0].weights = weights
    x = np.zeros((4, 3))
    x[:, 0] = 1.7e308                       # the gradient itself overflows (on purpose: quiet)
    net.data_layer = Batches(x, np.eye(2)[[0] * 4])
    with pytest.raises(NeuralNetwork.TrainingDiverged), np.errstate(over="ignore",
                                                                    invalid="ignore"):
        net.train(1)
    np.testing.assert_array_equal(net.layers[0].weights, weights)
    net.data_layer = normal
    net.train(10)
    assert (net.layers[0].weights != weights).all()
    net.save(tmp_path / "after.ckpt")


# -- issue 25: what a course-sheet layer learned ------------------------------------------

class PReLU(BaseLayer):
    """A teacher's PReLU: one learned slope, a Python float, with its gradient."""

    def __init__(self):
        super().__init__()
        self.trainable = True
        self.optimizer = None
        self.alpha = 0.25

    def initialize(self, weights_initializer, bias_initializer):
        pass

    def forward(self, input_tensor):
        self.input_tensor = input_tensor
        return np.where(input_tensor > 0, input_tensor, self.alpha * input_tensor)

    def backward(self, error_tensor):
        self.gradient_alpha = float(np.sum(error_tensor * np.minimum(self.input_tensor, 0)))
        error = np.where(self.input_tensor > 0, error_tensor, self.alpha * error_tensor)
        if self.optimizer is not None:
            self.alpha = float(self.optimizer.calculate_update(self.alpha, self.gradient_alpha))
        return error


checkpoint.register(PReLU)


def test_a_learned_scalar_of_a_course_sheet_layer_survives_or_is_refused(tmp_path):
    """A PReLU's learned float slope comes back as its constructor's 0.25, silently."""
    np.random.seed(0)
    net = network(Optimizers.Sgd(1e-2), [FullyConnected.FullyConnected(4, 6), PReLU(),
                                         FullyConnected.FullyConnected(6, 3), SoftMax.SoftMax()],
                  IrisData(50))
    net.train(20)
    assert net.layers[1].alpha != 0.25
    loaded = saved_or_refused(net, tmp_path / "p.ckpt")
    if loaded is not None:
        assert loaded.layers[1].alpha == net.layers[1].alpha


class PlainLayer:
    """A layer that is not a BaseLayer and has no state protocol (register accepts it)."""

    def __init__(self):
        self.trainable = False
        self.testing_phase = False

    def forward(self, input_tensor):
        return input_tensor

    def backward(self, error_tensor):
        return error_tensor


class StudentSgd:
    """A student's classic optimizer: calculate_update only (register accepts it)."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def calculate_update(self, weight_tensor, gradient_tensor):
        return weight_tensor - self.learning_rate * gradient_tensor


class KeptAsP(BaseLayer):
    """Keeps its constructor argument ``probability`` as ``self.p``."""

    def __init__(self, probability):
        super().__init__()
        self.p = probability

    def forward(self, input_tensor):
        return input_tensor

    def backward(self, error_tensor):
        return error_tensor


checkpoint.register(PlainLayer)
checkpoint.register(StudentSgd)
checkpoint.register(KeptAsP)


@pytest.mark.parametrize("make", [
    lambda: network(Optimizers.Adam(), [FullyConnected.FullyConnected(4, 3), PlainLayer()]),
    lambda: network(StudentSgd(1e-2), [FullyConnected.FullyConnected(4, 3)])])
def test_a_registered_class_without_get_config_saves_by_its_default_config(make, tmp_path):
    """A registered layer or optimizer without get_config (or state_dict): save raised a raw
    AttributeError ('StudentSgd' object has no attribute 'state_dict'). The default config,
    the constructor's arguments read back from same-named attributes, applies to any class,
    and an object without state_dict has an empty state: it saves, loads and trains on alike
    (or, if ever refused, with a TypeError naming get_config)."""
    np.random.seed(0)
    net = make()
    rng = np.random.default_rng(0)
    net.data_layer = Batches(rng.random((6, 4)), np.eye(3)[rng.integers(0, 3, 6)])
    net.append_layer(SoftMax.SoftMax())
    net.train(2)
    try:
        net.save(tmp_path / "x.ckpt")
    except TypeError as err:
        assert "get_config" in str(err)
        return
    loaded = NeuralNetwork.load(tmp_path / "x.ckpt", net.data_layer)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
    assert vars(loaded.optimizer) == vars(net.optimizer) or type(net.optimizer) is not StudentSgd
    net.train(3)
    loaded.train(3)
    assert loaded.loss == net.loss


def test_a_constructor_argument_kept_under_another_name_is_a_clear_type_error(tmp_path):
    """``__init__(self, probability)`` keeping ``self.p``: save raises a bare AttributeError."""
    net = network(Optimizers.Adam(), [FullyConnected.FullyConnected(4, 3), KeptAsP(0.5)])
    with pytest.raises(TypeError, match=r"KeptAsP.*probability"):
        net.save(tmp_path / "x.ckpt")


# -- issue 25: a teacher's optimizer in float16 ------------------------------------------

def test_the_teachers_rmsprop_on_a_float16_network_resumes_bit_identically(tmp_path):
    """RMSProp on float16 layers: the resumed run differs from the uninterrupted one."""
    def build():
        return network(RMSProp(1e-2), [FullyConnected.FullyConnected(4, 8, dtype=np.float16),
                                       LeakyReLU(0.1),
                                       FullyConnected.FullyConnected(8, 3, dtype=np.float16),
                                       SoftMax.SoftMax()])
    np.random.seed(0)
    data = IrisData(50)             # its split drawn first, as b's below (not after build's draws)
    a = build()
    a.data_layer = data
    a.train(epochs=2, progress=False)
    a.save(tmp_path / "h.ckpt")
    a.train(epochs=3, progress=False)
    np.random.seed(0)
    b = NeuralNetwork.load(tmp_path / "h.ckpt", IrisData(50))
    b.train(epochs=3, progress=False)
    assert a.loss == b.loss
    np.testing.assert_array_equal(a.layers[0].weights, b.layers[0].weights)


# -- issue 26 item 5: a registered network subclass --------------------------------------

class TemperedNet(NeuralNetwork.NeuralNetwork):
    """A network subclass with a constructor argument of its own, used by ``test``."""

    def __init__(self, optimizer, weights_initializer=None, bias_initializer=None,
                 temperature=1.0):
        super().__init__(optimizer, weights_initializer, bias_initializer)
        self.temperature = temperature

    def test(self, input_tensor, batch_size=None):
        return super().test(input_tensor, batch_size) ** (1 / self.temperature)


checkpoint.register(TemperedNet)


def test_a_registered_network_subclass_keeps_its_own_argument_or_is_refused(tmp_path):
    """TemperedNet(temperature=3) saves, and loads without ``temperature`` at all."""
    np.random.seed(0)
    net = TemperedNet(Optimizers.Adam(), Initializers.He(), Initializers.Constant(0.1),
                      temperature=3.0)
    net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(SoftMax.SoftMax())
    net.loss_layer = Loss.CrossEntropyLoss()
    loaded = saved_or_refused(net, tmp_path / "t.ckpt")
    if loaded is not None:
        x = np.random.default_rng(0).random((5, 4))
        np.testing.assert_array_equal(loaded.test(x), net.test(x))


# -- issue 26 item 11: a data layer whose state is plain Python --------------------------

class ListOrderData:
    """A student's data layer: its epoch's order is a Python list."""

    def __init__(self, batch_size):
        self.iris = IrisData(batch_size)
        self.batch_size, self.order, self.position = batch_size, [], 0

    def __len__(self):
        return len(self.iris)

    def next(self):
        if self.position >= len(self.order):
            self.order, self.position = np.random.permutation(len(self)).tolist(), 0
        index = self.order[self.position:self.position + self.batch_size]
        self.position += len(index)
        x, y = self.iris._train
        return x[index], y[index]

    def get_test_set(self):
        return self.iris.get_test_set()

    def state_dict(self):
        return {"order": list(self.order), "position": self.position}

    def load_state_dict(self, state):
        self.order, self.position = list(state["order"]), int(state["position"])


def test_a_data_layer_state_held_in_a_list_resumes_exactly_or_is_refused(tmp_path):
    """A data layer whose state_dict holds a list: save drops it silently, resume differs."""
    np.random.seed(0)
    data = ListOrderData(50)        # its split drawn first, as b's below (not after the weights)
    a = network(Optimizers.Adam(1e-2), [FullyConnected.FullyConnected(4, 3), SoftMax.SoftMax()],
                data)
    a.train(4)
    try:
        a.save(tmp_path / "l.ckpt")
    except (TypeError, ValueError):
        return
    a.train(5)
    np.random.seed(0)
    data = ListOrderData(50)                   # the same split
    np.random.seed(7)
    b = NeuralNetwork.load(tmp_path / "l.ckpt", data)
    b.train(5)
    assert a.loss == b.loss


# -- issue 26 item 10: batch_size set after construction, on the other data layers -------

@pytest.mark.parametrize("make", [lambda: RandomData(4, 10, 3), lambda: AddingData(10, 6)])
@pytest.mark.parametrize("value, error", [(0, ValueError), (-2, ValueError), (2.5, TypeError)])
def test_a_bad_batch_size_set_later_is_refused_by_the_other_data_layers(make, value, error):
    """RandomData/AddingData took any batch_size after construction (raw NumPy errors later)."""
    data = make()
    with pytest.raises(error, match=rf"{type(data).__name__}: expected .*batch_size"):
        data.batch_size = value
    assert data.batch_size == 10


# -- issue 26 item 10: zero classes, at the loss ------------------------------------------

def test_cross_entropy_over_zero_classes_is_refused():
    """CrossEntropyLoss with 0 classes returned a loss of -0.0 without a word."""
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.forward: expected at least 1 class"):
        Loss.CrossEntropyLoss().forward(np.zeros((2, 0)), np.zeros((2, 0)))



def test_a_data_layer_state_a_checkpoint_cannot_hold_is_refused_naming_the_entry(tmp_path):
    """A state entry that is neither numbers nor a list of them (a name) was dropped silently."""
    class NamedOrderData(ListOrderData):
        def state_dict(self):
            return {**super().state_dict(), "split": "iris-50"}

    net = network(Optimizers.Adam(1e-2), [FullyConnected.FullyConnected(4, 3), SoftMax.SoftMax()],
                  NamedOrderData(50))
    net.train(1)
    with pytest.raises(TypeError, match=r"'split' of NamedOrderData\.state_dict\(\) \(str\)"):
        net.save(tmp_path / "n.ckpt")
    assert not (tmp_path / "n.ckpt").exists()


# -- issue 29: one state protocol for data layers -----------------------------------------

def test_data_layers_keep_one_state_protocol_with_its_checks():
    """ArrayData had state()/set_state() beside state_dict()/load_state_dict()."""
    from Data.base import ArrayData
    assert not hasattr(ArrayData, "state") and not hasattr(ArrayData, "set_state")
    data = IrisData(50)
    data.next()
    state = data.state_dict()
    with pytest.raises(ValueError, match=r"^IrisData.load_state_dict: expected position in "
                                         r"\[0, \d+\], got -1$"):
        data.load_state_dict(dict(state, position=-1))
    with pytest.raises(TypeError, match=r"^IrisData.load_state_dict: expected an integer "
                                        r"position, got True$"):
        data.load_state_dict(dict(state, position=True))
    from Data.Sequences import SequenceWindows
    windows = SequenceWindows(np.zeros((20, 1)), np.zeros((20, 1)), 5)
    with pytest.raises(ValueError, match=r"^SequenceWindows.load_state_dict: expected start in "
                                         r"\[0, 20\], got 21$"):
        windows.load_state_dict({"start": 21, "wrapped": False})
