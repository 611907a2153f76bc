"""Mistakes and numerics at the layers' and the network's boundaries (issues 20 and 21).

Each test failed on the code before its fix: a wrong dtype in backward computed silently
or failed deep inside NumPy; chunked inference carried a memorized state between
independent sequences; float16 became float32; clipping passed NaN on; huge inputs left
BatchNormalization's running variance infinite; and a newcomer's typical slips got
messages that pointed elsewhere.
"""
import numpy as np
import pytest

import NeuralNetwork
from Layers import (GRU, LSTM, RNN, BatchNormalization, Conv, Dropout, Flatten, FullyConnected,
                    Helpers, Initializers, Pooling, ReLU, Sigmoid, SoftMax, TanH)
from Layers.Base import BaseLayer
from Optimization import Loss, Optimizers


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(20)


# (id, factory, input shape): every layer of the framework
LAYERS = [
    ("FullyConnected", lambda: FullyConnected.FullyConnected(4, 3), (2, 4)),
    ("ReLU", ReLU.ReLU, (2, 4)),
    ("TanH", TanH.TanH, (2, 4)),
    ("Sigmoid", Sigmoid.Sigmoid, (2, 4)),
    ("SoftMax", SoftMax.SoftMax, (2, 4)),
    ("Flatten", Flatten.Flatten, (2, 2, 3)),
    ("Conv", lambda: Conv.Conv((1, 1), (2, 3, 3), 2), (2, 2, 4, 4)),
    ("Conv", lambda: Conv.Conv(1, (2, 3), 2), (2, 2, 5)),
    ("Pooling", lambda: Pooling.Pooling((2, 2), (2, 2)), (2, 1, 4, 4)),
    ("Dropout", lambda: Dropout.Dropout(0.5), (2, 4)),
    ("BatchNormalization", lambda: BatchNormalization.BatchNormalization(3), (4, 3)),
    ("BatchNormalization", lambda: BatchNormalization.BatchNormalization(2), (2, 2, 3, 3)),
    ("RNN", lambda: RNN.RNN(3, 4, 2), (5, 3)),
    ("LSTM", lambda: LSTM.LSTM(3, 4), (2, 5, 3)),
    ("GRU", lambda: GRU.GRU(3, 4), (2, 5, 3)),
]
BAD_ERRORS = {
    "complex": lambda shape: np.ones(shape, dtype=complex),
    "object": lambda shape: np.ones(shape, dtype=object),
    "string": lambda shape: np.full(shape, "1"),
}


@pytest.mark.parametrize("kind", sorted(BAD_ERRORS))
@pytest.mark.parametrize("name, factory, shape", LAYERS, ids=[f"{c[0]}-{len(c[2])}d" for c in LAYERS])
def test_backward_refuses_an_error_that_is_not_real_numbers(name, factory, shape, kind):
    layer = factory()
    out = layer.forward(np.random.normal(size=shape))
    with pytest.raises(TypeError, match=rf"^{name}\.backward: expected a real numeric error of "
                                        rf"shape \({out.shape[0]}, .*got an array of dtype"):
        layer.backward(BAD_ERRORS[kind](out.shape))


def test_conv_refuses_a_zero_size_spatial_axis():
    layer = Conv.Conv((1, 1), (2, 3, 3), 2)
    for shape in [(2, 2, 0, 5), (2, 2, 5, 0)]:
        with pytest.raises(ValueError, match=r"Conv\.forward: expected input of shape \(batch, 2, "
                                             r"y, x\) with every spatial size >= 1, got \(2, 2, "):
            layer.forward(np.zeros(shape))
    with pytest.raises(ValueError, match=r"spatial size >= 1, got \(2, 2, 0\)"):
        Conv.Conv(1, (2, 3), 2).forward(np.zeros((2, 2, 0)))


def network(recurrent=False):
    """A small classifier, or an LSTM with an output layer and an L2 loss."""
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-2), Initializers.He(),
                                      Initializers.Constant(0.1))
    if recurrent:
        net.append_layer(LSTM.LSTM(4, 5, 3))
        net.loss_layer = Loss.L2Loss()
    else:
        net.append_layer(FullyConnected.FullyConnected(4, 3))
        net.append_layer(SoftMax.SoftMax())
        net.loss_layer = Loss.CrossEntropyLoss()
    return net


@pytest.mark.parametrize("batch_size, error, message", [
    (-1, ValueError, r"NeuralNetwork\.test: expected batch_size >= 1, got -1"),
    (0, ValueError, r"NeuralNetwork\.test: expected batch_size >= 1, got 0"),
    (2.5, TypeError, r"NeuralNetwork\.test: expected an integer batch_size, got 2\.5"),
])
def test_test_and_evaluate_refuse_a_bad_batch_size(batch_size, error, message):
    net, x = network(), np.random.normal(size=(6, 4))
    with pytest.raises(error, match=message):
        net.test(x, batch_size=batch_size)
    with pytest.raises(error, match=message):
        net.evaluate(x, np.eye(3)[[0, 1, 2, 0, 1, 2]], batch_size=batch_size)
    assert net.test(x, batch_size=4).shape == (6, 3)


def test_test_refuses_a_0d_input():
    with pytest.raises(ValueError, match=r"NeuralNetwork\.test: expected an input batch, an array "
                                         r"with the batch axis first, got a 0-d float"):
        network().test(1.5)


class FixedData:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def next(self):
        return self.x, self.y


def test_chunked_inference_is_independent_of_the_memorized_state():
    net = network(recurrent=True)
    net.layers[0].memorize = True
    net.data_layer = FixedData(np.random.normal(size=(8, 6, 4)), np.random.uniform(size=(8, 6, 3)))
    net.train(2)
    state = [s.copy() for s in net.layers[0].state]
    x = np.random.normal(size=(23, 6, 4))
    whole = net.test(x)
    np.testing.assert_array_equal(net.test(x, batch_size=5), whole)
    fresh = LSTM.LSTM(4, 5, 3)                        # from zeros: the samples are independent
    fresh.weights, fresh.output_weights = net.layers[0].weights, net.layers[0].output_weights
    fresh.testing_phase = True
    np.testing.assert_allclose(whole, fresh.forward(x), rtol=1e-13)
    assert net.layers[0].memorize
    for kept, now in zip(state, net.layers[0].state):       # training state untouched
        np.testing.assert_array_equal(kept, now)
    labels = np.eye(3)[np.random.randint(3, size=(300, 6))]
    loss, _ = net.evaluate(np.random.normal(size=(300, 6, 4)), labels)
    assert np.isfinite(loss)
    net.train(1)                                       # and training continues from it


def test_sigmoid_keeps_float16():
    layer = Sigmoid.Sigmoid()
    out = layer.forward(np.array([[-2.0, 0.0, 3.0]], dtype=np.float16))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-np.array([[-2.0, 0.0, 3.0]]))), rtol=1e-3)
    assert layer.backward(np.ones((1, 3), np.float16)).dtype == np.float16


@pytest.mark.parametrize("gradient", [[np.nan, 1.0], [np.inf, 1.0], [-np.inf, np.nan]])
def test_clip_gradients_refuses_a_gradient_that_is_not_finite(gradient):
    with pytest.raises(ValueError, match=r"clip_gradients: expected a finite gradient, got"):
        Optimizers.clip_gradients(np.array(gradient), 1.0)
    with pytest.raises(ValueError, match=r"clip_gradients"):
        Optimizers.Adam(1e-3, clip_norm=1.0).calculate_update(np.zeros(2), np.array(gradient))


def test_huge_inputs_through_batch_normalization_stop_and_restore():
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-3), Initializers.He(),
                                      Initializers.Constant(0.1))
    for layer in (FullyConnected.FullyConnected(4, 3), BatchNormalization.BatchNormalization(3),
                  SoftMax.SoftMax()):
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    labels = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    net.data_layer = FixedData(np.random.normal(size=(6, 4)), labels)
    net.train(2)
    net.data_layer = FixedData(np.random.normal(size=(6, 4)) * 1e300, labels)
    with pytest.raises(NeuralNetwork.TrainingDiverged,
                       match=r"running_var of layer 1 \(BatchNormalization\) overflowed to inf "
                             r"in forward .*at iteration 1 of this call"), \
            np.errstate(over="ignore", invalid="ignore"):
        net.train(3)
    assert NeuralNetwork.non_finite_state(net.layers) is None     # the last good state is back
    assert np.abs(net.layers[0].weights).max() < 10
    assert len(net.loss) == 2
    net.data_layer = FixedData(np.random.normal(size=(6, 4)), labels)
    assert np.isfinite(net.train(1))


def test_a_refused_gradient_mid_network_changes_nothing():
    net = network()
    net.data_layer = FixedData(np.random.normal(size=(6, 4)), np.eye(3)[[0, 1, 2, 0, 1, 2]])
    net.train(1)
    net.optimizer = Optimizers.Sgd(1e-2, clip_norm=1.0)
    before = net.snapshot()
    net.layers[0].backward = lambda e, **kw: Optimizers.clip_gradients(np.array([np.nan]))
    with pytest.raises(ValueError, match="clip_gradients"):
        net.train(1)
    for kept, now in zip(before, net.snapshot()):
        for name in kept:
            np.testing.assert_array_equal(kept[name], now[name])


# -- messages that name the likely mistake (issue 21, item 5) --------------------------

def test_conv_with_a_pytorch_kernel_shape_says_convolution_shape_is_channels_first():
    with pytest.raises(ValueError, match=r"Conv: expected stride_shape of 1 integer for "
                                         r"convolution_shape \(3, 3\), which is channels-first: "
                                         r"\(channels, x\), got \(1, 1\); a 3x3 kernel is "
                                         r"convolution_shape \(channels, 3, 3\), e\.g\. "
                                         r"Conv\(\(1, 1\), \(1, 3, 3\), n\)"):
        Conv.Conv((1, 1), (3, 3), 4)
    with pytest.raises(ValueError, match=r"stride_shape of 1 or 2 integers for convolution_shape "
                                         r"\(3, 3, 3\), which is channels-first: \(channels, y, x\)"):
        Conv.Conv((1, 1, 1), (3, 3, 3), 4)


@pytest.mark.parametrize("cls", [RNN.RNN, LSTM.LSTM, GRU.GRU])
def test_check_layer_knows_the_classic_recurrent_layout(cls):
    report = Helpers.check_layer(cls(3, 4), (5, 3))
    assert report.ok, str(report)
    assert report["batch: one by one"].status == "skip"
    assert report["sequence: causal"].status == "pass"


class TimeMixer(BaseLayer):
    """Each row is mixed with the one before: right for a sequence, wrong for a batch."""

    def forward(self, x):
        self._shape = x.shape
        return x + np.vstack([np.zeros_like(x[:1]), x[:-1]])

    def backward(self, e):
        return e + np.vstack([e[1:], np.zeros_like(e[:1])])


def test_check_layer_hints_sequence_for_an_unknown_layer_mixing_the_first_axis():
    report = Helpers.check_layer(TimeMixer(), (5, 3))
    assert not report.ok
    assert "pass sequence=True" in report["batch: one by one (training)"].hint
    assert Helpers.check_layer(TimeMixer(), (5, 3), sequence=True).ok


def test_train_with_a_number_as_schedule_says_what_a_schedule_is():
    net = network()
    net.data_layer = FixedData(np.random.normal(size=(6, 4)), np.eye(3)[[0, 1, 2, 0, 1, 2]])
    with pytest.raises(TypeError, match=r"NeuralNetwork\.train: expected schedule as an object "
                                        r"with step\(optimizer, epoch\), e\.g\. Schedules\."
                                        r"ExponentialDecay\(0\.9\) .*got 0\.9"):
        net.train(2, schedule=0.9)
    assert net.loss == []


def test_save_with_swapped_arguments_gives_the_order(tmp_path):
    path = tmp_path / "net.ckpt"
    with pytest.raises(TypeError, match=r"NeuralNetwork\.save: expected save\(filename, net\), "
                                        r"the file name first .*the arguments are swapped"):
        NeuralNetwork.save(network(), str(path))
    with pytest.raises(TypeError, match=r"the arguments are swapped"):
        NeuralNetwork.save(network(), path)
    assert not path.exists()


def test_evaluate_with_a_pair_says_it_takes_two_arguments():
    x, y = np.random.normal(size=(6, 4)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    with pytest.raises(TypeError, match=r"NeuralNetwork\.evaluate: expected evaluate\(x, y\), "
                                        r"the inputs and the labels as two arguments .*got one "
                                        r"tuple of 2"):
        network().evaluate((x, y))
    assert len(network().evaluate(x, y)) == 2
