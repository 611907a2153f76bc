"""The gradient-check suite: every layer's gradients, optimizers, network, end-to-end training.

Run it the classic ways (``python`` = the project's ``.venv/bin/python``)::

    python NeuralNetworkTests.py                 # every test here; exit status 1 on a failure
    python NeuralNetworkTests.py TestConv        # one group (several may be given)
    python NeuralNetworkTests.py Bonus           # the exercise's groups, OK/FAIL in a table
    python -m pytest NeuralNetworkTests.py -v    # the same tests through pytest

``make test`` runs this file and ``tests/``.

Layout mirrors ``Layers/``: one table of float64 central-difference gradient
checks for every layer configuration (``CASES``), then one test class per layer
named like the classic suite's groups (TestTanH, TestBatchNorm, TestRNN, ...),
which runs its rows of the table and checks exact values and properties; then
optimizers, the loss, the network and end-to-end training on Iris and the 8x8
digits.
"""
import _requirements  # noqa: F401 - first, before numpy: one line if this Python lacks it
import copy
import math
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from tabulate import tabulate

from Layers import *  # noqa: F401,F403 - the classic import must bind every module
from Layers import (GRU, LSTM, RNN, Attention, Base, BatchNormalization, Bidirectional, Conv,
                    Dropout, Embedding, Flatten, FullyConnected, Helpers, Initializers, LastStep,
                    Pooling, ReLU, Sigmoid, SoftMax, TanH)
from Optimization import *  # noqa: F401,F403
from Optimization import Constraints, Loss, Optimizers
import NeuralNetwork
from tests.reference import conv_reference

ROOT = Path(__file__).resolve().parent

TOLERANCE = 1e-5


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(1337)


# ---------------------------------------------------------------------------
# Gradient checks: one table, one helper
# ---------------------------------------------------------------------------

def bn_testing(channels):
    """BatchNormalization in the testing phase after one training batch."""
    layer = BatchNormalization.BatchNormalization(channels)
    shape = (6, channels) if channels == 4 else (4, channels, 3, 3)
    layer.forward(np.random.normal(1.0, 2.0, shape))
    layer.testing_phase = True
    return layer


def bn_with_params(channels):
    """Training-phase BatchNormalization with non-trivial gamma and beta."""
    layer = BatchNormalization.BatchNormalization(channels)
    layer.weights = np.random.uniform(0.5, 2.0, channels)
    layer.bias = np.random.normal(size=channels)
    return layer


def attending(mask=None):
    """Attention over random encoder states ``(3, 5, 4)`` (tests/test_attention.py also
    checks their gradient, ``memory_error``)."""
    layer = Attention.Attention()
    layer.memory, layer.mask = np.random.normal(size=(3, 5, 4)), mask
    return layer


# (id, layer factory, input shape, trainable)
CASES = [
    ("fc", lambda: FullyConnected.FullyConnected(4, 3), (5, 4), True),
    ("relu", ReLU.ReLU, (5, 6), False),
    ("tanh", TanH.TanH, (5, 6), False),
    ("sigmoid", Sigmoid.Sigmoid, (5, 6), False),
    ("flatten", Flatten.Flatten, (3, 2, 3, 4), False),
    ("conv2d", lambda: Conv.Conv((1, 1), (2, 3, 3), 3), (2, 2, 5, 6), True),
    ("conv2d-strided", lambda: Conv.Conv((2, 3), (2, 3, 3), 3), (2, 2, 7, 8), True),
    ("conv2d-even", lambda: Conv.Conv((1, 1), (2, 4, 2), 2), (2, 2, 6, 5), True),
    ("conv2d-even-strided", lambda: Conv.Conv((2, 2), (3, 2, 4), 2), (2, 3, 5, 7), True),
    ("conv2d-1x1", lambda: Conv.Conv(1, (3, 1, 1), 2), (2, 3, 4, 4), True),
    ("conv1d", lambda: Conv.Conv((1,), (2, 3), 3), (2, 2, 9), True),
    ("conv1d-strided-even", lambda: Conv.Conv([2], (3, 4), 2), (2, 3, 9), True),
    ("pool-subsampling", lambda: Pooling.Pooling((2, 2), (2, 2)), (2, 2, 6, 6), False),
    ("pool-uneven", lambda: Pooling.Pooling((2, 2), (2, 2)), (2, 2, 7, 5), False),
    ("pool-overlapping", lambda: Pooling.Pooling((1, 1), (2, 2)), (2, 2, 5, 6), False),
    ("pool-overlapping-3x3", lambda: Pooling.Pooling((2, 1), (3, 3)), (2, 1, 7, 6), False),
    ("bn-vector", lambda: bn_with_params(4), (6, 4), True),
    ("bn-image", lambda: bn_with_params(3), (4, 3, 3, 3), True),
    ("bn-vector-testing", lambda: bn_testing(4), (6, 4), True),
    ("bn-image-testing", lambda: bn_testing(3), (4, 3, 3, 3), True),
    # (Recurrent layers with an output layer: their class's test_gradient, which compares
    # values, since the sigmoid output makes some weight gradients too small for a relative check.)
    ("rnn", lambda: RNN.RNN(4, 5), (3, 6, 4), True),
    ("lstm", lambda: LSTM.LSTM(4, 5), (3, 6, 4), True),
    ("gru", lambda: GRU.GRU(4, 5), (3, 6, 4), True),
    # Sequences (batch, time, features): the per-step layers act on the last axis.
    ("laststep", LastStep.LastStep, (3, 4, 2), False),
    ("bidirectional-lstm", lambda: Bidirectional.Bidirectional(LSTM.LSTM(3, 4)), (2, 5, 3), True),
    ("sequence-fc", lambda: FullyConnected.FullyConnected(4, 3), (2, 5, 4), True),
    ("sequence-softmax", SoftMax.SoftMax, (2, 3, 4), False),
    # (The elementwise activations take any shape: TestSequenceLayers checks them per step.)
    ("sequence-lstm-laststep-fc", lambda: Stack(LSTM.LSTM(3, 4), LastStep.LastStep(),
                                                FullyConnected.FullyConnected(4, 2)),
     (2, 5, 3), False),
    # Decoder states (batch, T_dec, H) attending to the encoder states set beforehand.
    ("attention", attending, (3, 6, 4), False),
    ("attention-masked", lambda: attending(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1],
                                                     [0, 1, 0, 1, 0]], bool)), (3, 6, 4), False),
]


class Stack(Base.BaseLayer):
    """Layers run one after the other, as one layer: checks a chain's input gradient
    (a recurrent layer's dL/dh through LastStep's zeros)."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, error):
        for layer in reversed(self.layers):
            error = layer.backward(error)
        return error


def check_gradients(layer, input_shape, trainable, seed=None):
    """Run the float64 checks of input error, weights and bias for one layer."""
    x = np.random.normal(size=input_shape)
    out_shape = layer.forward(x).shape
    label = np.random.normal(size=out_shape)
    layers = [layer, Loss.L2Loss()]
    assert np.max(Helpers.gradient_check(layers, x, label, seed)) <= TOLERANCE
    if trainable:
        assert np.max(Helpers.gradient_check_weights(layers, x, label, False)) <= TOLERANCE
        if hasattr(layer, "bias"):
            assert np.max(Helpers.gradient_check_weights(layers, x, label, True)) <= TOLERANCE


_CLAIMED = set()


def gradient_test(prefix):
    """``test_gradient`` for a layer's test class: the rows of CASES whose id starts with
    ``prefix``, each through ``check_gradients``. So ``TestConv`` holds Conv's checks."""
    rows = [case for case in CASES if case[0].startswith(prefix)]
    _CLAIMED.update(case[0] for case in rows)

    @pytest.mark.parametrize("factory, input_shape, trainable", [case[1:] for case in rows],
                             ids=[case[0] for case in rows])
    def test_gradient(self, factory, input_shape, trainable):
        check_gradients(factory(), input_shape, trainable)
    return test_gradient


@pytest.mark.parametrize("factory, input_shape, trainable",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_forward_and_backward_leave_their_arguments_alone(factory, input_shape, trainable):
    layer = factory()
    x = np.random.normal(size=input_shape)
    x_copy = x.copy()
    out = layer.forward(x)
    assert out is not x and not np.shares_memory(out, x)       # a new array, never a view
    e = np.random.normal(size=out.shape)
    e_copy = e.copy()
    dx = layer.backward(e)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(e, e_copy)
    assert dx.shape == x.shape


def test_gradient_stack_conv_bn_pool_fc():
    layers = [Conv.Conv((1, 1), (2, 3, 3), 3), BatchNormalization.BatchNormalization(3),
              ReLU.ReLU(), Pooling.Pooling((2, 2), (2, 2)), Flatten.Flatten(),
              FullyConnected.FullyConnected(18, 3), SoftMax.SoftMax(), Loss.CrossEntropyLoss()]
    x = np.random.normal(size=(3, 2, 4, 6))
    label = np.eye(3)[[0, 2, 1]]
    assert np.max(Helpers.gradient_check(layers, x, label)) <= TOLERANCE
    assert np.max(Helpers.gradient_check_weights(layers, x, label, False)) <= TOLERANCE
    # (The Conv bias is not checked here: BatchNormalization removes any per-channel
    # shift, so its true gradient is 0 and the relative difference is round-off.)
    np.testing.assert_allclose(layers[0].gradient_bias, 0, atol=1e-12)


def assert_gradients(layers, x, labels, parameters=()):
    """Backprop = central differences for the input and the named parameters of layers[0].

    Uses the shared core's metric with its absolute floor (``Helpers.relative_difference``),
    not the classic checkers' floor of 1e-15: where true gradients are tiny (saturated
    sigmoids, an LSTM's forget path) a relative difference measures only the central
    difference's own round-off, about 1e-11 for a loss of order 1. So: agreement to 1e-5
    relative, down to 1e-9 absolute.
    """
    x = np.array(x, dtype=np.float64)
    for name in ("input",) + tuple(parameters):
        Helpers.forward_loss(layers, x, labels)
        dx = Helpers.backprop(layers, labels)
        tensor = x if name == "input" else getattr(layers[0], name)
        analytical = dx if name == "input" else np.array(getattr(layers[0], "gradient_" + name))
        numerical = Helpers.numerical_gradient(tensor, lambda: Helpers.forward_loss(layers, x, labels))
        worst = np.max(Helpers.relative_difference(analytical, numerical))
        assert worst <= TOLERANCE, f"{name}: relative difference {worst:.2e}"


class NoOpBackward(ReLU.ReLU):
    def backward(self, error_tensor):
        return error_tensor


def test_gradient_checker_catches_a_wrong_backward():
    x = np.random.normal(size=(4, 5))
    label = np.random.normal(size=(4, 5))
    assert np.max(Helpers.gradient_check([NoOpBackward(), Loss.L2Loss()], x, label)) > 0.5


# ---------------------------------------------------------------------------
# One class per layer: exact values and properties
# ---------------------------------------------------------------------------

class RecordingInitializer:
    """Records the arguments of initialize and returns a recognisable array."""

    def __init__(self, value):
        self.value, self.calls = value, []

    def initialize(self, shape, fan_in, fan_out):
        self.calls.append((tuple(shape), fan_in, fan_out))
        return np.full(shape, self.value)


class TestBase:
    def test_defaults(self):
        layer = Base.BaseLayer()
        assert layer.trainable is False and layer.testing_phase is False

    def test_trainable_flags(self):
        assert FullyConnected.FullyConnected(2, 2).trainable
        assert Conv.Conv(1, (1, 3, 3), 2).trainable
        assert BatchNormalization.BatchNormalization(2).trainable
        for layer in (ReLU.ReLU(), TanH.TanH(), Sigmoid.Sigmoid(), SoftMax.SoftMax(),
                      Flatten.Flatten(), Pooling.Pooling(2, 2), Dropout.Dropout(0.5)):
            assert not layer.trainable
            assert isinstance(layer, Base.BaseLayer)

    def test_star_import_binds_every_module(self):
        namespace = {}
        exec("from Layers import *\nfrom Optimization import *", namespace)
        for name in ("FullyConnected", "ReLU", "TanH", "Sigmoid", "SoftMax", "Flatten", "Conv",
                     "Pooling", "Dropout", "BatchNormalization", "RNN", "LSTM", "GRU", "Initializers",
                     "Embedding", "LastStep",
                     "Base",
                     "Helpers", "Optimizers", "Constraints", "Loss"):
            assert name in namespace, name


class TestFullyConnected:
    test_gradient = gradient_test("fc")

    def test_forward_is_affine_with_bias_as_last_row(self):
        layer = FullyConnected.FullyConnected(4, 3)
        assert layer.weights.shape == (5, 3)
        x = np.random.normal(size=(6, 4))
        expected = np.hstack([x, np.ones((6, 1))]) @ layer.weights
        np.testing.assert_allclose(layer.forward(x), expected)

    def test_constructor_gives_positive_output_for_zero_input(self):
        layer = FullyConnected.FullyConnected(3, 5)
        assert np.all(layer.weights != 0)
        assert np.all(layer.forward(np.zeros((2, 3))) > 0)

    def test_initialize_shapes_and_fans(self):
        layer = FullyConnected.FullyConnected(4, 3)
        w_init, b_init = RecordingInitializer(0.5), RecordingInitializer(2.0)
        layer.initialize(w_init, b_init)
        assert w_init.calls == [((4, 3), 4, 3)]
        assert b_init.calls == [((1, 3), 1, 3)]
        np.testing.assert_array_equal(layer.weights[:-1], 0.5)
        np.testing.assert_array_equal(layer.weights[-1], 2.0)

    def test_backward_values(self):
        layer = FullyConnected.FullyConnected(4, 3)
        x, e = np.random.normal(size=(5, 4)), np.random.normal(size=(5, 3))
        layer.forward(x)
        dx = layer.backward(e)
        np.testing.assert_allclose(dx, e @ layer.weights[:-1].T)
        np.testing.assert_allclose(layer.gradient_weights, np.hstack([x, np.ones((5, 1))]).T @ e)

    def test_error_uses_weights_from_before_the_update(self):
        layer = FullyConnected.FullyConnected(4, 3)
        layer.optimizer = Optimizers.Sgd(1.0)
        before = layer.weights.copy()
        x, e = np.random.normal(size=(5, 4)), np.random.normal(size=(5, 3))
        layer.forward(x)
        dx = layer.backward(e)
        np.testing.assert_allclose(dx, e @ before[:-1].T)
        np.testing.assert_allclose(layer.weights, before - layer.gradient_weights)

    def test_update_reduces_the_loss(self):
        layer = FullyConnected.FullyConnected(3, 2)
        layer.optimizer = Optimizers.Sgd(1e-2)
        x, target = np.random.normal(size=(8, 3)), np.random.normal(size=(8, 2))
        loss = Loss.L2Loss()
        losses = []
        for _ in range(20):
            losses.append(loss.forward(layer.forward(x), target))
            layer.backward(loss.backward(target))
        assert losses[-1] < 0.5 * losses[0]

    def test_numpy_integer_sizes_and_integer_input(self):
        layer = FullyConnected.FullyConnected(np.int64(4), np.int32(3))
        out = layer.forward(np.arange(8).reshape(2, 4))
        assert out.dtype == np.float64 and out.shape == (2, 3)

    def test_wrong_feature_count(self):
        with pytest.raises(ValueError, match=r"FullyConnected\.forward: expected input of shape "
                                             r"\(batch, 4\) or \(batch, time, 4\), got \(2, 5\)"):
            FullyConnected.FullyConnected(4, 3).forward(np.zeros((2, 5)))

    def test_wrong_ndim_and_type(self):
        layer = FullyConnected.FullyConnected(4, 3)
        with pytest.raises(ValueError, match=r"FullyConnected.*\(batch, 4\).*\(4,\)"):
            layer.forward(np.zeros(4))
        with pytest.raises(TypeError, match="FullyConnected.*numeric array"):
            layer.forward("four numbers")
        with pytest.raises(ValueError, match="FullyConnected.*non-empty batch"):
            layer.forward(np.zeros((0, 4)))

    def test_bad_sizes(self):
        with pytest.raises(ValueError, match="FullyConnected.*input_size >= 1, got 0"):
            FullyConnected.FullyConnected(0, 3)
        with pytest.raises(TypeError, match="FullyConnected.*integer output_size"):
            FullyConnected.FullyConnected(3, 2.5)

    def test_backward_error_shape_checked(self):
        layer = FullyConnected.FullyConnected(4, 3)
        layer.forward(np.zeros((2, 4)))
        with pytest.raises(ValueError, match=r"FullyConnected\.backward.*\(2, 3\).*\(2, 4\)"):
            layer.backward(np.zeros((2, 4)))


class TestReLU:
    test_gradient = gradient_test("relu")

    def test_values(self):
        x = np.array([[-2.0, 0.0, 3.0]])
        layer = ReLU.ReLU()
        np.testing.assert_array_equal(layer.forward(x), [[0, 0, 3]])
        np.testing.assert_array_equal(layer.backward(np.array([[5.0, 5.0, 5.0]])), [[0, 0, 5]])


class TestTanH:
    test_gradient = gradient_test("tanh")

    def test_values_and_kept_activations(self):
        x = np.random.normal(size=(3, 4))
        layer = TanH.TanH()
        np.testing.assert_array_equal(layer.activations, None)
        np.testing.assert_allclose(layer.forward(x), np.tanh(x))
        np.testing.assert_allclose(layer.activations, np.tanh(x))

    def test_writing_into_the_output_does_not_change_backward(self):
        assert_output_is_not_the_cache(TanH.TanH)


def assert_output_is_not_the_cache(make):
    """backward of an activation is the same whether or not the caller wrote into its output."""
    x, e = np.random.normal(size=(3, 4)), np.random.normal(size=(3, 4))
    clean = make()
    clean.forward(x)
    expected = clean.backward(e)
    layer = make()
    layer.forward(x)[...] = 0.5
    np.testing.assert_array_equal(layer.backward(e), expected)


class TestSigmoid:
    test_gradient = gradient_test("sigmoid")

    def test_values_and_kept_activations(self):
        x = np.random.normal(size=(3, 4))
        layer = Sigmoid.Sigmoid()
        np.testing.assert_allclose(layer.forward(x), 1 / (1 + np.exp(-x)))
        np.testing.assert_allclose(layer.activations, 1 / (1 + np.exp(-x)))

    def test_stable_for_large_inputs(self):
        with np.errstate(all="raise"):
            out = Sigmoid.Sigmoid().forward(np.array([[-1000.0, 1000.0]]))
        np.testing.assert_allclose(out, [[0.0, 1.0]])

    def test_writing_into_the_output_does_not_change_backward(self):
        assert_output_is_not_the_cache(Sigmoid.Sigmoid)


class TestSoftMax:
    def test_gradient_with_cross_entropy(self):
        x = np.random.normal(size=(5, 4))
        label = np.eye(4)[np.random.randint(0, 4, 5)]
        layers = [FullyConnected.FullyConnected(4, 4), SoftMax.SoftMax(), Loss.CrossEntropyLoss()]
        assert np.max(Helpers.gradient_check(layers, x, label)) <= TOLERANCE
        assert np.max(Helpers.gradient_check_weights(layers, x, label, False)) <= TOLERANCE

    def test_rows_sum_to_one_and_order_is_kept(self):
        out = SoftMax.SoftMax().forward(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        assert out[0, 2] > out[0, 1] > out[0, 0]
        np.testing.assert_allclose(out[1], 1 / 3)

    def test_huge_inputs(self):
        with np.errstate(all="raise"):
            out = SoftMax.SoftMax().forward(np.full((2, 4), 10000.0))
        np.testing.assert_allclose(out, 0.25)

    def test_backward_is_the_full_jacobian(self):
        layer = SoftMax.SoftMax()
        y = layer.forward(np.random.normal(size=(2, 3)))
        e = np.random.normal(size=(2, 3))
        dx = layer.backward(e)
        for b in range(2):
            jacobian = np.diag(y[b]) - np.outer(y[b], y[b])
            np.testing.assert_allclose(dx[b], jacobian @ e[b])


class TestFlatten:
    test_gradient = gradient_test("flatten")

    def test_round_trip(self):
        x = np.random.normal(size=(3, 2, 4, 5))
        layer = Flatten.Flatten()
        out = layer.forward(x)
        assert out.shape == (3, 40)
        np.testing.assert_array_equal(layer.backward(out), x)

    def test_copies_in_both_directions(self):
        # CONTRACT.md and Base.py say so: a reshape would be a view, Flatten hands out a copy.
        x = np.random.normal(size=(3, 2, 4, 5))
        layer = Flatten.Flatten()
        out = layer.forward(x)
        assert not np.shares_memory(out, x)
        e = np.random.normal(size=out.shape)
        assert not np.shares_memory(layer.backward(e), e)


class TestConv:
    test_gradient = gradient_test("conv")

    @pytest.mark.parametrize("stride, kernel, input_shape", [
        ((1, 1), (3, 5, 3), (2, 3, 9, 7)),
        ((2, 3), (3, 3, 3), (2, 3, 10, 14)),
        ((3, 2), (2, 4, 2), (1, 2, 8, 7)),
        ((1,), (2, 3), (2, 2, 11)),
        ((3,), (2, 4), (2, 2, 10)),
    ])
    def test_forward_matches_reference(self, stride, kernel, input_shape):
        layer = Conv.Conv(stride, kernel, 4)
        x = np.random.normal(size=input_shape)
        out = layer.forward(x)
        expected_size = tuple(math.ceil(n / s) for n, s in zip(input_shape[2:], stride))
        assert out.shape == (input_shape[0], 4) + expected_size
        np.testing.assert_allclose(out, conv_reference(x, layer.weights, layer.bias, stride),
                                   atol=1e-12)

    def test_even_kernel_pads_after(self):
        layer = Conv.Conv((1, 1), (1, 2, 2), 1)
        layer.weights = np.ones((1, 1, 2, 2))
        layer.bias = np.zeros(1)
        x = np.arange(9.0).reshape(1, 1, 3, 3)
        # Extra padding after: output[i, j] sums x[i:i+2, j:j+2], zero beyond the edge.
        expected = np.array([[8, 12, 7], [20, 24, 13], [13, 15, 8]], dtype=float)
        np.testing.assert_array_equal(layer.forward(x)[0, 0], expected)

    def test_shapes_and_nonzero_initial_parameters(self):
        layer = Conv.Conv([1, 1], [3, 5, 7], np.int32(4))
        assert layer.weights.shape == (4, 3, 5, 7) and layer.bias.shape == (4,)
        assert np.all(layer.weights != 0) and np.all(layer.bias != 0)
        assert Conv.Conv(2, (3, 5, 7), 4).stride_shape == (2, 2)

    def test_initialize_fans(self):
        layer = Conv.Conv((1, 1), (3, 5, 7), 4)
        w_init, b_init = RecordingInitializer(0.25), RecordingInitializer(-1.0)
        layer.initialize(w_init, b_init)
        assert w_init.calls == [((4, 3, 5, 7), 3 * 5 * 7, 4 * 5 * 7)]
        assert b_init.calls[0][0] == (4,)
        np.testing.assert_array_equal(layer.weights, 0.25)
        np.testing.assert_array_equal(layer.bias, -1.0)

    def test_gradient_shapes(self):
        layer = Conv.Conv((2, 2), (3, 3, 3), 5)
        out = layer.forward(np.random.normal(size=(2, 3, 6, 6)))
        layer.backward(np.ones_like(out))
        assert layer.gradient_weights.shape == (5, 3, 3, 3)
        np.testing.assert_allclose(layer.gradient_bias, np.full(5, out[0, 0].size * 2))

    def test_weights_and_bias_have_independent_optimizer_states(self):
        layer = Conv.Conv((1, 1), (1, 3, 3), 2)
        optimizer = Optimizers.SgdWithMomentum(0.1, 0.9)
        layer.optimizer = optimizer
        assert layer.optimizer is optimizer
        x = np.random.normal(size=(2, 1, 4, 4))
        w0, b0 = layer.weights.copy(), layer.bias.copy()
        layer.forward(x)
        layer.backward(np.ones((2, 2, 4, 4)))
        # Each parameter moved by exactly -lr * its own gradient on the first step.
        np.testing.assert_allclose(layer.weights, w0 - 0.1 * layer.gradient_weights)
        np.testing.assert_allclose(layer.bias, b0 - 0.1 * layer.gradient_bias)
        assert optimizer.v.shape == (2, 1, 3, 3)

    def test_skipping_the_input_gradient_keeps_the_parameter_gradients(self):
        x = np.random.normal(size=(2, 2, 5, 5))
        e = np.random.normal(size=(2, 3, 5, 5))
        full, lean = Conv.Conv(1, (2, 3, 3), 3), Conv.Conv(1, (2, 3, 3), 3)
        lean.weights, lean.bias = full.weights.copy(), full.bias.copy()
        full.forward(x)
        lean.forward(x)
        assert full.backward(e) is not None
        assert lean.backward(e, input_gradient=False) is None
        np.testing.assert_array_equal(lean.gradient_weights, full.gradient_weights)
        np.testing.assert_array_equal(lean.gradient_bias, full.gradient_bias)

    def test_update_reduces_the_output(self):
        layer = Conv.Conv((1, 1), (2, 3, 3), 3)
        layer.initialize(Initializers.He(), Initializers.Constant(0.1))
        layer.optimizer = Optimizers.Sgd(1e-3)
        x = np.random.normal(size=(2, 2, 5, 5))
        energies = []
        for _ in range(10):
            out = layer.forward(x)
            energies.append(np.sum(out ** 2))
            layer.backward(out)   # gradient of 0.5 * sum(out**2)
        assert energies[-1] < energies[0]

    def test_wrong_channels(self):
        with pytest.raises(ValueError, match=r"Conv\.forward: expected input of shape "
                                             r"\(batch, 3, y, x\).*got \(2, 2, 5, 5\)"):
            Conv.Conv((1, 1), (3, 3, 3), 2).forward(np.zeros((2, 2, 5, 5)))

    def test_wrong_ndim(self):
        with pytest.raises(ValueError, match=r"Conv\.forward.*\(batch, 3, x\).*\(2, 3, 5, 5\)"):
            Conv.Conv((1,), (3, 3), 2).forward(np.zeros((2, 3, 5, 5)))

    def test_bad_constructor_arguments(self):
        with pytest.raises(ValueError, match="Conv.*convolution_shape"):
            Conv.Conv((1, 1), (3,), 2)
        with pytest.raises(ValueError, match="Conv.*stride_shape"):
            Conv.Conv((1, 1, 1), (3, 3, 3), 2)
        with pytest.raises(ValueError, match="Conv.*stride_shape"):
            Conv.Conv((1, 1), (3, 3), 2)
        with pytest.raises(ValueError, match="Conv.*num_kernels >= 1, got 0"):
            Conv.Conv(1, (3, 3, 3), 0)


class TestPooling:
    test_gradient = gradient_test("pool")

    def test_forward_matches_explicit_windows(self):
        layer = Pooling.Pooling((2, 1), (3, 2))
        x = np.random.normal(size=(2, 3, 8, 6))
        out = layer.forward(x)
        assert out.shape == (2, 3, 3, 5)
        for i in range(3):
            for j in range(5):
                window = x[:, :, 2 * i:2 * i + 3, j:j + 2]
                np.testing.assert_array_equal(out[:, :, i, j], window.max(axis=(2, 3)))

    def test_backward_routes_to_first_maximum_and_accumulates(self):
        layer = Pooling.Pooling((1, 1), (2, 2))
        x = np.array([[[[1.0, 1.0, 0.0],
                        [0.0, 5.0, 2.0],
                        [0.0, 0.0, 1.0]]]])
        out = layer.forward(x)
        np.testing.assert_array_equal(out[0, 0], [[5, 5], [5, 5]])
        dx = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
        expected = np.zeros((3, 3))
        expected[1, 1] = 10.0          # all four overlapping windows share the maximum
        np.testing.assert_array_equal(dx[0, 0], expected)

    def test_ties_go_to_the_first_position(self):
        layer = Pooling.Pooling((2, 2), (2, 2))
        layer.forward(np.ones((1, 1, 2, 2)))
        dx = layer.backward(np.array([[[[3.0]]]]))
        np.testing.assert_array_equal(dx[0, 0], [[3, 0], [0, 0]])

    def test_window_larger_than_input(self):
        with pytest.raises(ValueError, match=r"Pooling\.forward: expected input of at least "
                                             r"the pooling window \(3, 3\) in \(y, x\), got "
                                             r"\(1, 1, 2, 5\)"):
            Pooling.Pooling((1, 1), (3, 3)).forward(np.zeros((1, 1, 2, 5)))

    def test_wrong_ndim(self):
        with pytest.raises(ValueError, match=r"Pooling\.forward: expected input of shape "
                                             r"\(batch, channels, y, x\), got \(2, 4\)"):
            Pooling.Pooling(2, 2).forward(np.zeros((2, 4)))


class TestDropout:
    def test_gradient_under_fixed_seed(self):
        check_gradients(Dropout.Dropout(0.6), (6, 8), False, seed=7)

    def test_keeps_the_fraction_and_scales(self):
        layer = Dropout.Dropout(0.8)
        out = layer.forward(np.ones((1000, 100)))
        assert abs(np.mean(out > 0) - 0.8) < 0.01
        np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.8])
        assert abs(out.mean() - 1.0) < 0.02

    def test_testing_phase_is_identity(self):
        layer = Dropout.Dropout(0.5)
        layer.testing_phase = True
        x = np.random.normal(size=(4, 5))
        np.testing.assert_array_equal(layer.forward(x), x)
        np.testing.assert_array_equal(layer.backward(x), x)

    def test_backward_uses_the_same_scaled_mask(self):
        layer = Dropout.Dropout(0.5)
        out = layer.forward(np.ones((10, 50)))
        back = layer.backward(np.ones((10, 50)))
        np.testing.assert_array_equal(back, out)
        assert set(np.unique(back)) == {0.0, 2.0}

    def test_seed_reproduces_the_mask(self):
        layer = Dropout.Dropout(0.5)
        np.random.seed(3)
        a = layer.forward(np.ones((5, 5)))
        np.random.seed(3)
        np.testing.assert_array_equal(layer.forward(np.ones((5, 5))), a)

    @pytest.mark.parametrize("probability", [0, 1.5, -0.1, "half"])
    def test_bad_probability(self, probability):
        with pytest.raises(ValueError, match=r"Dropout: expected probability \(the keep probability\) to be a number in \(0, 1\]"):
            Dropout.Dropout(probability)

    def test_probability_one_is_identity(self):
        x = np.random.normal(size=(3, 4))
        np.testing.assert_array_equal(Dropout.Dropout(1).forward(x), x)


class TestBatchNorm:
    test_gradient = gradient_test("bn")

    def test_training_output_is_normalized(self):
        layer = BatchNormalization.BatchNormalization(4)
        out = layer.forward(np.random.normal(3.0, 5.0, size=(200, 4)))
        np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-10)
        np.testing.assert_allclose(out.var(axis=0), 1, atol=1e-8)

    def test_image_statistics_are_per_channel(self):
        layer = BatchNormalization.BatchNormalization(3)
        x = np.random.normal(size=(8, 3, 4, 5)) * np.array([1, 10, 100])[:, None, None] + 7
        out = layer.forward(x)
        assert out.shape == x.shape
        np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-10)
        np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-8)

    def test_running_statistics_first_batch_then_decay(self):
        layer = BatchNormalization.BatchNormalization(2)
        a = np.random.normal(1.0, 2.0, (50, 2))
        b = np.random.normal(-1.0, 3.0, (50, 2))
        layer.forward(a)
        np.testing.assert_allclose(layer.running_mean, a.mean(axis=0))
        np.testing.assert_allclose(layer.running_var, a.var(axis=0))
        layer.forward(b)
        np.testing.assert_allclose(layer.running_mean, 0.8 * a.mean(0) + 0.2 * b.mean(0))
        np.testing.assert_allclose(layer.running_var, 0.8 * a.var(0) + 0.2 * b.var(0))

    def test_testing_phase_uses_running_statistics(self):
        layer = BatchNormalization.BatchNormalization(2)
        a = np.random.normal(1.0, 2.0, (50, 2))
        layer.forward(a)
        layer.testing_phase = True
        x = np.random.normal(size=(5, 2))
        expected = (x - a.mean(0)) / np.sqrt(a.var(0) + layer.epsilon)
        np.testing.assert_allclose(layer.forward(x), expected)
        np.testing.assert_allclose(layer.running_mean, a.mean(axis=0))  # not updated

    def test_reformat_round_trip(self):
        layer = BatchNormalization.BatchNormalization(3)
        x = np.random.normal(size=(2, 3, 4, 5))
        flat = layer.reformat(x)
        assert flat.shape == (40, 3)
        np.testing.assert_array_equal(flat[:, 1], x[:, 1].ravel())
        np.testing.assert_array_equal(layer.reformat(flat), x)

    def test_reformat_changes_nothing_forward_and_backward_read(self):
        x, e = np.random.normal(size=(2, 3, 4, 5)), np.random.normal(size=(2, 3, 4, 5))
        clean = BatchNormalization.BatchNormalization(3)
        clean.forward(x)
        expected = clean.backward(e)
        layer = BatchNormalization.BatchNormalization(3)
        layer.forward(x)
        layer.reformat(np.zeros((1, 3, 2, 2)))          # another image shape, in between
        np.testing.assert_array_equal(layer.backward(e), expected)
        assert layer.reformat(layer.reformat(x)).shape == x.shape

    def test_initialize_sets_ones_and_zeros(self):
        layer = BatchNormalization.BatchNormalization(3)
        layer.weights[:] = 5
        layer.initialize(Initializers.Constant(7), Initializers.Constant(7))
        np.testing.assert_array_equal(layer.weights, 1)
        np.testing.assert_array_equal(layer.bias, 0)
        assert layer.epsilon < 1e-10

    def test_compute_bn_gradients_matches_central_differences(self):
        # The helper is checked on its own: against the numbers of a forward pass
        # written out here, not against the layer it is meant to check.
        rng = np.random.default_rng(0)
        x, dy = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
        gamma, beta, eps = rng.normal(size=3), rng.normal(size=3), 1e-11

        def loss():
            mean, var = x.mean(axis=0), x.var(axis=0)
            return np.sum(dy * (gamma * (x - mean) / np.sqrt(var + eps) + beta))
        expected = Helpers.numerical_gradient(x, loss)
        got = Helpers.compute_bn_gradients(dy, x, gamma, x.mean(0), x.var(0), eps)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)

    def test_backward_matches_compute_bn_gradients(self):
        layer = bn_with_params(4)
        x, e = np.random.normal(size=(10, 4)), np.random.normal(size=(10, 4))
        layer.forward(x)
        expected = Helpers.compute_bn_gradients(e, x, layer.weights, x.mean(0), x.var(0),
                                                layer.epsilon)
        np.testing.assert_allclose(layer.backward(e), expected)

    def test_update_moves_gamma_and_beta_without_regularizer(self):
        layer = BatchNormalization.BatchNormalization(2)
        layer.optimizer = Optimizers.Sgd(0.5, regularizer=Constraints.L2_Regularizer(10.0))
        layer.forward(np.random.normal(size=(6, 2)))
        layer.backward(np.ones((6, 2)))
        np.testing.assert_allclose(layer.bias, -0.5 * 6)
        np.testing.assert_allclose(layer.weights, 1 - 0.5 * layer.gradient_weights)
        assert layer.calculate_regularization_loss() == 0.0

    def test_wrong_channels(self):
        with pytest.raises(ValueError, match=r"BatchNormalization\.forward.*\(batch, 3.*\(4, 2\)"):
            BatchNormalization.BatchNormalization(3).forward(np.zeros((4, 2)))


class RecurrentChecks:
    """What TestRNN, TestLSTM and TestGRU check on their cell (``cell_class``)."""

    cell_class = None

    def cell(self, output_size=None):
        layer = self.cell_class(4, 5, output_size)
        layer.initialize(Initializers.Xavier(), Initializers.Constant(0.1))
        return layer

    @pytest.mark.parametrize("output_size", [None, 3])
    @pytest.mark.parametrize("shape", [(6, 4), (3, 6, 4)], ids=["2d-classic", "3d-batched"])
    def test_gradient(self, output_size, shape):
        layer = self.cell(output_size)
        x = np.random.normal(size=shape)
        labels = np.random.normal(size=layer.forward(x).shape)
        names = ("weights",) if output_size is None else ("weights", "output_weights")
        assert_gradients([layer, Loss.L2Loss()], x, labels, parameters=names)

    def test_gradient_with_memorized_state(self):
        layer = self.cell()
        layer.memorize = True
        layer.forward(np.random.normal(size=(3, 4)))          # leaves a non-zero state behind
        state = layer.state

        class KeepState:                                      # every forward starts from `state`
            def forward(self, x):
                layer.state = state
                return layer.forward(x)

            def backward(self, e):
                return layer.backward(e)

        x = np.random.normal(size=(5, 4))
        labels = np.random.normal(size=(5, 5))
        assert_gradients([KeepState(), Loss.L2Loss()], x, labels)

    def test_classic_shapes(self):
        layer = self.cell_class(input_size=10, hidden_size=64)
        assert layer.weights.shape == (10 + 64 + layer._bias_rows, layer._gates * 64)
        assert layer.forward(np.random.rand(7, 10)).shape == (7, 64)
        layer = self.cell_class(10, 64, np.int32(3))
        assert layer.forward(np.random.rand(2, 7, 10)).shape == (2, 7, 3)
        assert layer.backward(np.ones((2, 7, 3))).shape == (2, 7, 10)
        assert layer.gradient_weights.shape == layer.weights.shape
        assert layer.gradient_output_weights.shape == (65, 3)

    def test_memorize(self):
        layer = self.cell()
        first, second = np.random.normal(size=(4, 4)), np.random.normal(size=(3, 4))
        whole = layer.forward(np.vstack([first, second]))
        stateless = layer.forward(second)
        layer.forward(first)
        np.testing.assert_allclose(layer.forward(second), stateless)   # memorize False: zeros
        layer.memorize = True
        layer.state = None                                  # start the stream from zeros
        layer.forward(first)
        np.testing.assert_allclose(layer.forward(second), whole[4:], rtol=1e-12)
        assert not np.allclose(stateless, whole[4:])

    def test_update_reduces_the_loss_and_reaches_every_matrix(self):
        layer = self.cell(2)
        layer.optimizer = Optimizers.Adam(3e-2)
        before = {k: v.copy() for k, v in layer.parameters().items()}
        x, target = np.random.normal(size=(4, 6, 4)), np.random.uniform(size=(4, 6, 2))
        loss = Loss.L2Loss()
        losses = []
        for _ in range(60):
            losses.append(loss.forward(layer.forward(x), target))
            layer.backward(loss.backward(target))
        assert losses[-1] < 0.5 * losses[0]
        assert all(not np.allclose(before[k], v) for k, v in layer.parameters().items())

    def test_regularization_loss_is_the_norm_of_weights(self):
        # As for every layer: norm(weights), here the cell's matrix. The output layer's
        # weights are regularized by the update but not counted, as in the classic network.
        layer = self.cell(2)
        regularizer = Constraints.L2_Regularizer(0.1)
        net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-3, regularizer=regularizer))
        net.append_layer(layer)
        expected = 0.1 * np.sum(layer.weights ** 2)
        assert layer.calculate_regularization_loss() == pytest.approx(expected, rel=1e-12)
        assert net.regularization_loss() == pytest.approx(expected, rel=1e-12)


class TestRNN(RecurrentChecks):
    cell_class = RNN.RNN
    test_gradient_table = gradient_test("rnn")


class TestLSTM(RecurrentChecks):
    cell_class = LSTM.LSTM
    test_gradient_table = gradient_test("lstm")

    def test_forward_runs_the_textbook_step(self, monkeypatch):
        # tests/test_recurrent.py checks every cell and PyTorch's numbers; here: LSTM.step
        # is what forward runs, once per time step, not decoration.
        calls = []
        step = LSTM.LSTM.step
        monkeypatch.setattr(LSTM.LSTM, "step", lambda self, *a: calls.append(1) or step(self, *a))
        self.cell(2).forward(np.random.normal(size=(2, 5, 4)))
        assert len(calls) == 5


class TestGRU(RecurrentChecks):
    cell_class = GRU.GRU
    test_gradient_table = gradient_test("gru")

    def test_weights_layout(self):
        layer = GRU.GRU(3, 4, 2)
        assert layer.weights.shape == (3 + 4 + 2, 3 * 4)      # rows [x, h, b_x, b_h]
        stub = RecordingInitializer(0.5)
        layer.initialize(Initializers.Constant(1.0), stub)
        assert stub.calls[0] == ((2, 12), 1, 4)                 # both bias rows at once
        np.testing.assert_array_equal(layer.weights[-2:], 0.5)

    def test_reset_gate_scales_the_recurrent_part_and_its_bias(self):
        # n = tanh(a_x,n + r * (h_prev W_h,n + b_h,n)), by hand: r = sigmoid(0) = 1/2, z ~ 0.
        layer = GRU.GRU(1, 1)
        layer.weights = np.array([[0.0, 0.0, 1.0],       # W_x: x feeds n only
                                  [0.0, 0.0, 3.0],       # W_h: h_prev feeds n only
                                  [0.0, -50.0, 0.0],     # b_x: z = sigmoid(-50), h_t = n
                                  [0.0, 0.0, 2.0]])      # b_h: the recurrent bias of n
        h1 = np.tanh(0.5 + 0.5 * (3 * 0.0 + 2))
        h2 = np.tanh(0.25 + 0.5 * (3 * h1 + 2))
        np.testing.assert_allclose(layer.forward(np.array([[0.5], [0.25]]))[:, 0], [h1, h2],
                                   rtol=1e-12)


class TestLastStep:
    test_gradient = gradient_test("laststep")

    def test_takes_the_last_step_and_puts_the_error_back_there(self):
        layer = LastStep.LastStep()
        x = np.random.normal(size=(2, 3, 4))
        np.testing.assert_array_equal(layer.forward(x), x[:, 2])
        e = np.random.normal(size=(2, 4))
        dx = layer.backward(e)
        np.testing.assert_array_equal(dx[:, 2], e)
        np.testing.assert_array_equal(dx[:, :2], 0)

    def test_check_layer(self):
        Helpers.check_layer(LastStep.LastStep(), (3, 4, 2)).assert_ok()

    def test_refuses_what_is_not_a_sequence(self):
        with pytest.raises(ValueError, match=r"LastStep.forward: expected input of shape "
                                             r"\(batch, time, features\), got \(2, 3\)"):
            LastStep.LastStep().forward(np.zeros((2, 3)))


class TestBidirectional:
    # (tests/test_bidirectional.py: check_layer, both directions' weights, PyTorch's numbers)
    test_gradient = gradient_test("bidirectional")


class TestSequenceLayers:
    """FullyConnected, the activations and SoftMax on ``(batch, time, features)``."""
    test_gradient = gradient_test("sequence")

    @pytest.mark.parametrize("layer", [FullyConnected.FullyConnected(4, 3), ReLU.ReLU(),
                                       TanH.TanH(), Sigmoid.Sigmoid(), SoftMax.SoftMax(),
                                       Dropout.Dropout(0.5)],
                             ids=["fc", "relu", "tanh", "sigmoid", "softmax", "dropout"])
    def test_each_step_is_the_2d_layer(self, layer):
        x = np.random.normal(size=(2, 3, 4))
        e = np.random.normal(size=x.shape if not isinstance(layer, FullyConnected.FullyConnected)
                             else (2, 3, 3))
        np.random.seed(5)
        y, dx = layer.forward(x), layer.backward(e)
        np.random.seed(5)   # Dropout: the same mask, drawn in the same order
        y2 = layer.forward(x.reshape(6, 4)).reshape(y.shape)
        np.testing.assert_allclose(y, y2, rtol=1e-14)
        np.testing.assert_allclose(dx, layer.backward(e.reshape(6, -1)).reshape(dx.shape),
                                   rtol=1e-14)

    def test_fully_connected_check_layer_on_a_sequence(self):
        Helpers.check_layer(FullyConnected.FullyConnected(2, 3), (3, 4, 2)).assert_ok()


class TestAttention:
    """The table's rows; everything else is in tests/test_attention.py."""
    test_gradient = gradient_test("attention")


class TestEmbedding:
    def test_lookup_rows_and_gradient_of_the_rows_used(self):
        layer = Embedding.Embedding(5, 3)
        assert layer.weights.shape == (5, 3) and layer.trainable
        tokens = np.array([[1, 4, 1], [0, 1, 2]])
        np.testing.assert_array_equal(layer.forward(tokens), layer.weights[tokens])
        e = np.random.normal(size=(2, 3, 3))
        assert layer.backward(e) is None
        expected = np.zeros((5, 3))
        expected[1] = e[0, 0] + e[0, 2] + e[1, 1]     # token 1 three times
        expected[4], expected[0], expected[2] = e[0, 1], e[1, 0], e[1, 2]
        np.testing.assert_allclose(layer.gradient_weights, expected, rtol=1e-15)

    def test_gradient_check_of_the_weights(self):
        tokens = np.array([[1, 4, 1, 3], [0, 1, 2, 2]])
        layers = [Embedding.Embedding(5, 3), Loss.L2Loss()]
        label = np.random.normal(size=(2, 4, 3))
        assert np.max(Helpers.gradient_check_weights(layers, tokens, label, False)) <= TOLERANCE

    def test_update_and_regularizer(self):
        layer = Embedding.Embedding(4, 2)
        layer.optimizer = Optimizers.Sgd(0.5, regularizer={"type": "L2", "lambda": 0.1})
        before = layer.weights.copy()
        layer.forward(np.array([[2]]))
        layer.backward(np.ones((1, 1, 2)))
        expected = before - 0.5 * 0.1 * before
        expected[2] -= 0.5
        np.testing.assert_allclose(layer.weights, expected, rtol=1e-14)
        assert layer.calculate_regularization_loss() == pytest.approx(0.1 * np.sum(layer.weights ** 2))

    def test_first_layer_protocol_and_dtype(self):
        layer = Embedding.Embedding(4, 2, dtype=np.float32)
        assert layer.skips_input_gradient
        assert layer.forward(np.array([[1, 2]])).dtype == np.float32
        assert layer.backward(np.ones((1, 2, 2)), input_gradient=False) is None
        assert layer.gradient_weights.dtype == np.float32

    def test_initialize_fans(self):
        layer = Embedding.Embedding(6, 4)
        w_init = RecordingInitializer(0.5)
        layer.initialize(w_init, RecordingInitializer(1.0))
        assert w_init.calls == [((6, 4), 1, 4)]
        np.testing.assert_array_equal(layer.weights, 0.5)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="Embedding: expected vocabulary_size >= 1, got 0"):
            Embedding.Embedding(0, 3)
        with pytest.raises(ValueError, match=r"Embedding.forward: expected integer tokens of shape "
                                             r"\(batch, time\) in \[0, 3\), got tokens from 0 to 3"):
            Embedding.Embedding(3, 2).forward(np.array([[0, 3]]))


class TestInitializers:
    def test_constant(self):
        np.testing.assert_array_equal(Initializers.Constant().initialize((2, 3), 2, 3), 0.1)
        np.testing.assert_array_equal(Initializers.Constant(0.7).initialize((4,), 1, 4), 0.7)

    def test_uniform_random(self):
        w = Initializers.UniformRandom().initialize((200, 200), 200, 200)
        assert w.shape == (200, 200) and w.min() >= 0 and w.max() < 1
        assert abs(w.mean() - 0.5) < 0.01

    @pytest.mark.parametrize("initializer, std", [
        (Initializers.Xavier(), math.sqrt(2 / (300 + 200))),
        (Initializers.He(), math.sqrt(2 / 300)),
    ])
    def test_normal_std(self, initializer, std):
        w = initializer.initialize((300, 200), 300, 200)
        assert w.shape == (300, 200)
        assert abs(w.std() / std - 1) < 0.02 and abs(w.mean()) < 0.01 * std * 10


class StubInitializer:
    """A classic suite's stub: records fan_in and fan_out, returns a fixed small array."""

    def __init__(self):
        self.fans = []

    def initialize(self, shape, fan_in, fan_out):
        self.fans.append((fan_in, fan_out))
        return np.ones((1, 3, 3, 3))


# (layer factory, the weights shape forward needs, fans of the first initialize call)
STUBBED = [
    (lambda: FullyConnected.FullyConnected(4, 3), (5, 3), (4, 3), (5, 4)),
    (lambda: Conv.Conv(1, (2, 3, 3), 4), (4, 2, 3, 3), (18, 36), (2, 2, 5, 5)),
    (lambda: Conv.Conv(1, (2, 3), 4), (4, 2, 3), (6, 12), (2, 2, 5)),
    (lambda: RNN.RNN(4, 5), (10, 5), (9, 5), (6, 4)),
    (lambda: LSTM.LSTM(4, 5, 2), (10, 20), (9, 5), (6, 4)),
    (lambda: GRU.GRU(4, 5), (11, 15), (9, 5), (6, 4)),
]


@pytest.mark.parametrize("factory, shape, fans, input_shape", STUBBED,
                         ids=["fc", "conv2d", "conv1d", "rnn", "lstm", "gru"])
def test_initialize_keeps_what_the_initializer_returns_and_forward_refuses_it(
        factory, shape, fans, input_shape):
    layer = factory()
    name = type(layer).__name__
    stub = StubInitializer()
    with pytest.warns(UserWarning) as caught:
        layer.initialize(stub, Initializers.Constant(0.1))
    # One warning for the weights, and one more for an output layer's (the LSTM's) weights.
    kinds = ["weights"] + (["output weights"] if getattr(layer, "output_weights", None)
                           is not None else [])
    assert [str(w.message).split(" initializer to return shape ")[0] for w in caught] == \
        [f"{name}.initialize: expected the {kind}" for kind in kinds]
    assert all(str(w.message).endswith("got (1, 3, 3, 3); it is kept, and forward will "
                                       "refuse it") for w in caught)
    assert stub.fans[0] == fans
    expected = str(shape).replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=rf"{name}\.forward: expected weights of shape "
                                         rf"{expected}, got \(1, 3, 3, 3\)"):
        layer.forward(np.random.normal(size=input_shape))


def test_a_stub_bias_initializer_is_kept_too():
    conv = Conv.Conv(1, (2, 3, 3), 4)
    with pytest.warns(UserWarning, match=r"Conv\.initialize: expected the bias initializer to "
                                         r"return shape \(4,\), got \(1, 3, 3, 3\)"):
        conv.initialize(Initializers.He(), StubInitializer())
    with pytest.raises(ValueError, match=r"Conv\.forward: expected bias of shape \(4,\)"):
        conv.forward(np.zeros((1, 2, 5, 5)))


def test_an_initializer_may_leave_out_axes_of_length_one():
    layer = FullyConnected.FullyConnected(3, 2)

    class FlatBias:
        def initialize(self, shape, fan_in, fan_out):
            return np.full(shape[-1], 0.5)                   # (2,) where (1, 2) was asked

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.initialize(Initializers.Constant(1.0), FlatBias())
    np.testing.assert_array_equal(layer.weights, [[1, 1], [1, 1], [1, 1], [0.5, 0.5]])


# ---------------------------------------------------------------------------
# Bad input at the boundary: every layer names itself, what it expected and what came
# ---------------------------------------------------------------------------

# (layer factory, a wrong number of dimensions)
BOUNDARY = [
    (lambda: FullyConnected.FullyConnected(4, 3), (2, 4, 1)),
    (ReLU.ReLU, None), (TanH.TanH, None), (Sigmoid.Sigmoid, None), (Flatten.Flatten, None),
    (SoftMax.SoftMax, (2, 3, 1, 1)),        # (2, 3, 1) is a sequence of one class per step
    (lambda: Conv.Conv(1, (2, 3, 3), 2), (2, 2, 5)),
    (lambda: Conv.Conv(1, (2, 3), 2), (2, 2, 5, 5)),
    (lambda: Pooling.Pooling(2, 2), (2, 2, 5)),
    (lambda: Dropout.Dropout(0.5), None),
    (lambda: BatchNormalization.BatchNormalization(2), (2, 2, 5)),
]


@pytest.mark.parametrize("factory, wrong_shape", BOUNDARY)
def test_bad_input_names_the_layer(factory, wrong_shape):
    layer = factory()
    name = type(layer).__name__
    with pytest.raises(TypeError, match=rf"{name}\.forward: expected a numeric array .* got str"):
        layer.forward("not an array")
    with pytest.raises(TypeError, match=rf"{name}\.forward: expected a numeric array .*dtype object"):
        layer.forward(np.array([[object()]]))
    with pytest.raises(ValueError, match=rf"{name}\.forward: expected a non-empty batch"):
        layer.forward(_empty_like_valid(layer))
    if wrong_shape is not None:
        with pytest.raises(ValueError, match=rf"{name}\.forward: expected input of shape .*"
                                             rf"got \({wrong_shape[0]}, "):
            layer.forward(np.zeros(wrong_shape))


def _empty_like_valid(layer):
    """An empty batch with otherwise valid dimensions for ``layer``."""
    shapes = {"FullyConnected": (0, 4), "SoftMax": (0, 3), "Pooling": (0, 2, 4, 4),
              "BatchNormalization": (0, 2)}
    if isinstance(layer, Conv.Conv):
        return np.zeros((0, 2, 5, 5) if len(layer.convolution_shape) == 3 else (0, 2, 5))
    return np.zeros(shapes.get(type(layer).__name__, (0, 3)))


def test_backward_before_forward_is_a_clear_error():
    for layer in (FullyConnected.FullyConnected(2, 2), ReLU.ReLU(), Conv.Conv(1, (1, 3, 3), 1),
                  Pooling.Pooling(2, 2), BatchNormalization.BatchNormalization(2),
                  Dropout.Dropout(0.5)):
        with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward: called before"):
            layer.backward(np.zeros((1, 2)))


# ---------------------------------------------------------------------------
# dtype contract
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("factory, input_shape", [
    (lambda: FullyConnected.FullyConnected(4, 3, dtype=np.float32), (5, 4)),
    (lambda: Conv.Conv((2, 2), (2, 3, 3), 3, dtype=np.float32), (2, 2, 6, 6)),
    (lambda: Conv.Conv((1,), (2, 3), 3, dtype=np.float32), (2, 2, 6)),
    (lambda: BatchNormalization.BatchNormalization(2, dtype=np.float32), (4, 2, 3, 3)),
])
def test_float32_layers_stay_float32_through_update(factory, input_shape):
    layer = factory()
    layer.optimizer = Optimizers.Adam(1e-3, regularizer={"type": "L2", "lambda": 1e-3})
    layer.initialize(Initializers.He(), Initializers.Constant(0.1))
    out = layer.forward(np.random.normal(size=input_shape))   # float64 in: cast on entry
    assert out.dtype == np.float32
    dx = layer.backward(np.ones(out.shape, dtype=np.float64))
    assert dx.dtype == np.float32
    for name, value in layer.parameters().items():
        assert value.dtype == np.float32, name
        assert getattr(layer, "gradient_" + name).dtype == np.float32, name
    assert layer.optimizer.v.dtype == np.float32


def test_float32_network_never_upcasts():
    optimizer = Optimizers.Adam(1e-3, regularizer={"type": "L2", "lambda": 1e-3})
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.He(), Initializers.Constant(0.1))
    net.data_layer = Helpers.DigitData(16)          # float64 batches, cast on entry
    net.loss_layer = Loss.CrossEntropyLoss()
    f32 = np.float32
    for layer in (Conv.Conv(1, (1, 3, 3), 4, dtype=f32), BatchNormalization.BatchNormalization(4, dtype=f32),
                  ReLU.ReLU(), Pooling.Pooling(2, 2), Flatten.Flatten(),
                  FullyConnected.FullyConnected(64, 10, dtype=f32), Dropout.Dropout(0.9),
                  SoftMax.SoftMax()):
        net.append_layer(layer)
    seen = []
    for layer in net.layers:                         # record every output and error dtype
        layer.forward = _recording(layer.forward, seen)
        layer.backward = _recording(layer.backward, seen)
    net.train(2)
    assert seen and all(dtype == np.float32 for dtype in seen)
    for layer in net.trainable_layers():
        assert all(p.dtype == np.float32 for p in layer.parameters().values())
    assert net.test(net.data_layer.get_test_set()[0]).dtype == np.float32


def _recording(method, seen):
    def wrapped(tensor, **kwargs):
        out = method(tensor, **kwargs)
        if out is not None:
            seen.append(out.dtype)
        return out
    return wrapped


def test_parameter_free_layers_keep_float32():
    x = np.random.normal(size=(4, 6)).astype(np.float32)
    for layer in (ReLU.ReLU(), TanH.TanH(), Sigmoid.Sigmoid(), SoftMax.SoftMax(),
                  Flatten.Flatten(), Dropout.Dropout(0.5)):
        out = layer.forward(x)
        assert out.dtype == np.float32, type(layer).__name__
        assert layer.backward(np.ones_like(out)).dtype == np.float32


def test_default_initialization_follows_the_global_seed():
    np.random.seed(11)
    a = FullyConnected.FullyConnected(3, 2).weights, Conv.Conv(1, (1, 3, 3), 2).weights
    np.random.seed(11)
    b = FullyConnected.FullyConnected(3, 2).weights, Conv.Conv(1, (1, 3, 3), 2).weights
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_bad_dtype_keyword():
    with pytest.raises(TypeError, match="FullyConnected: expected a floating dtype"):
        FullyConnected.FullyConnected(2, 2, dtype=np.int32)


# (id, layer factory taking dtype=, input shape) for every trainable layer type
TRAINABLE = [
    ("fc", lambda dtype: FullyConnected.FullyConnected(4, 3, dtype=dtype), (5, 4)),
    ("conv2d", lambda dtype: Conv.Conv((2, 1), (2, 3, 3), 3, dtype=dtype), (2, 2, 5, 4)),
    ("conv1d", lambda dtype: Conv.Conv(1, (2, 3), 3, dtype=dtype), (2, 2, 6)),
    ("bn", lambda dtype: BatchNormalization.BatchNormalization(2, dtype=dtype), (4, 2, 3, 3)),
    ("rnn", lambda dtype: RNN.RNN(4, 5, 2, dtype=dtype), (6, 4)),
    ("rnn-hidden", lambda dtype: RNN.RNN(4, 5, dtype=dtype), (3, 6, 4)),
    ("lstm", lambda dtype: LSTM.LSTM(4, 5, 2, dtype=dtype), (3, 6, 4)),
    ("gru", lambda dtype: GRU.GRU(4, 5, 2, dtype=dtype), (3, 6, 4)),
]


@pytest.mark.parametrize("old, new", [(np.float64, np.float32), (np.float32, np.float64)])
@pytest.mark.parametrize("factory, input_shape", [case[1:] for case in TRAINABLE],
                         ids=[case[0] for case in TRAINABLE])
def test_assigning_weights_of_another_dtype_converts_the_layer(factory, input_shape, old, new):
    layer = factory(old)
    layer.optimizer = Optimizers.Adam(1e-3, regularizer={"type": "L2", "lambda": 1e-3})
    x = np.random.normal(size=input_shape).astype(old)
    layer.backward(np.ones_like(layer.forward(x)))          # the optimizer has state in `old`
    layer.weights = layer.weights.astype(new)
    assert layer.dtype is new
    for _ in range(2):                                      # the update path, twice
        out = layer.forward(x)                              # input in the old dtype: cast
        dx = layer.backward(np.ones(out.shape, dtype=old))
        assert out.dtype == new and dx.dtype == new
    for name, value in layer.parameters().items():
        assert value.dtype == new, name
        assert getattr(layer, "gradient_" + name).dtype == new, name
    for optimizer in layer._optimizers.values():
        assert optimizer.v.dtype == new and optimizer.r.dtype == new
    layer.testing_phase = True                              # BN: running statistics follow
    assert layer.forward(x).dtype == new


@pytest.mark.parametrize("factory", [case[1] for case in TRAINABLE],
                         ids=[case[0] for case in TRAINABLE])
def test_dtype_is_read_from_the_weights_not_kept_twice(factory):
    layer = factory(np.float32)
    assert layer.dtype is np.float32 and "dtype" not in vars(layer)
    with pytest.raises(AttributeError):
        layer.dtype = np.float64
    layer.weights = layer.weights.astype(np.float64)
    assert layer.dtype is np.float64


def test_an_assigned_integer_bias_is_computed_in_the_layer_dtype():
    conv = Conv.Conv(1, (1, 3, 3), 1, dtype=np.float32)
    conv.bias = np.array([2])
    out = conv.forward(np.zeros((1, 1, 4, 4)))
    assert out.dtype == np.float32 and conv.bias.dtype == np.float32
    np.testing.assert_array_equal(out, 2)


# ---------------------------------------------------------------------------
# Optimizers, regularizers, loss
# ---------------------------------------------------------------------------

class TestOptimizers:
    def test_sgd(self):
        optimizer = Optimizers.Sgd(1.0)
        np.testing.assert_almost_equal(optimizer.calculate_update(1.0, 1.0), 0.0)
        np.testing.assert_allclose(optimizer.calculate_update(np.array([1.0, 2.0]),
                                                              np.array([0.5, -1.0])), [0.5, 3.0])

    def test_momentum(self):
        optimizer = Optimizers.SgdWithMomentum(1.0, 0.9)
        w = optimizer.calculate_update(1.0, 1.0)
        np.testing.assert_almost_equal(w, 0.0)
        np.testing.assert_almost_equal(optimizer.calculate_update(w, 0.5), -1.4)

    def test_adam(self):
        optimizer = Optimizers.Adam(1.0, 0.01, 0.02)
        w = optimizer.calculate_update(1.0, 0.5)
        np.testing.assert_almost_equal(w, 0.0)
        np.testing.assert_almost_equal(optimizer.calculate_update(w, 0.5), -0.99999998)

    def test_adam_bias_correction_third_step(self):
        mu, rho, lr = 0.9, 0.999, 0.1
        optimizer = Optimizers.Adam(lr, mu, rho)
        w, v, r = np.array([1.0, -2.0]), 0.0, 0.0
        expected = w.copy()
        for k, g in enumerate([np.array([0.3, -1.0]), np.array([0.1, 2.0]),
                               np.array([-0.5, 0.5])], start=1):
            v, r = mu * v + (1 - mu) * g, rho * r + (1 - rho) * g * g
            expected = expected - lr * (v / (1 - mu ** k)) / (np.sqrt(r / (1 - rho ** k)) + 1e-8)
            w = optimizer.calculate_update(w, g)
        np.testing.assert_allclose(w, expected)

    def test_keywords(self):
        assert Optimizers.Adam(learning_rate=0.01, mu=0.8, rho=0.9).mu == 0.8
        assert Optimizers.SgdWithMomentum(learning_rate=0.1, momentum_rate=0.5).momentum_rate == 0.5
        assert Optimizers.Sgd(learning_rate=0.3).learning_rate == 0.3

    @pytest.mark.parametrize("make", [
        lambda r: Optimizers.Sgd(2.0, regularizer=r),
        lambda r: Optimizers.SgdWithMomentum(2.0, 0.9, regularizer=r),
        lambda r: Optimizers.Adam(2.0, 0.9, 0.999, regularizer=r),
    ])
    def test_regularizer_is_decoupled_and_uses_old_weights(self, make):
        w, g = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, -0.5])
        plain = make(None).calculate_update(w, g)
        l2 = make(Constraints.L2_Regularizer(0.1)).calculate_update(w, g)
        l1 = make({"type": "L1", "lambda": 0.1}).calculate_update(w, g)
        np.testing.assert_allclose(l2, plain - 2.0 * 0.1 * w)
        np.testing.assert_allclose(l1, plain - 2.0 * 0.1 * np.sign(w))

    def test_classic_sgd_with_l2_values(self):
        optimizer = Optimizers.Sgd(2)
        optimizer.add_regularizer(Constraints.L2_Regularizer(2))
        np.testing.assert_allclose(optimizer.calculate_update(np.array([1.0, 2.0, 3.0]),
                                                              np.array([0.5, 0.5, 0.5])),
                                   [-4.0, -7.0, -10.0])

    def test_regularizer_stays_out_of_the_moments(self):
        optimizer = Optimizers.SgdWithMomentum(1.0, 0.5, regularizer={"type": "L2", "lambda": 0.1})
        optimizer.calculate_update(np.array([1.0]), np.array([1.0]))
        np.testing.assert_allclose(optimizer.v, [-1.0])

    @pytest.mark.parametrize("lr", [0, -1, float("nan"), float("inf"), "0.1", None])
    def test_bad_learning_rate(self, lr):
        with pytest.raises(ValueError, match="Sgd: expected learning_rate to be a positive "
                                             "finite number"):
            Optimizers.Sgd(lr)

    def test_bad_learning_rate_on_assignment(self):
        optimizer = Optimizers.Adam(1e-3)
        with pytest.raises(ValueError, match="Adam: expected learning_rate"):
            optimizer.learning_rate = -1e-3

    def test_bad_regularizer(self):
        with pytest.raises(ValueError, match="Adam: expected regularizer type 'L2' or 'L1', "
                                             "got 'L3'"):
            Optimizers.Adam(1e-3, regularizer={"type": "L3", "lambda": 0.1})
        with pytest.raises(ValueError, match="Sgd: expected the regularizer dict to give 'lambda'"):
            Optimizers.Sgd(1e-3, regularizer={"type": "L2"})
        with pytest.raises(TypeError, match="Sgd: expected a regularizer object or a dict"):
            Optimizers.Sgd(1e-3, regularizer="L2")
        with pytest.raises(ValueError, match=r"SgdWithMomentum: expected momentum_rate to be a number in \[0, 1\)"):
            Optimizers.SgdWithMomentum(1e-3, 1.5)

    def test_parameter_copy_has_own_state_and_reads_the_hyperparameters(self):
        optimizer = Optimizers.Adam(1e-3)
        twin = optimizer.parameter_copy()
        twin.calculate_update(np.zeros(2), np.ones(2))
        assert twin.k == 1 and optimizer.k == 0 and twin.source is optimizer
        assert "learning_rate" not in vars(twin)        # stored once, in the network's optimizer
        optimizer.learning_rate = 5e-4
        optimizer.add_regularizer(Constraints.L1_Regularizer(0.1))
        assert twin.learning_rate == 5e-4 and isinstance(twin.regularizer, Constraints.L1_Regularizer)
        assert twin.parameter_copy().source is optimizer
        independent = copy.deepcopy(optimizer)
        optimizer.learning_rate = 1.0
        assert independent.learning_rate == 5e-4

    def test_float32_weights_stay_float32(self):
        for optimizer in (Optimizers.Sgd(0.1), Optimizers.SgdWithMomentum(0.1, 0.9),
                          Optimizers.Adam(0.1, regularizer={"type": "L1", "lambda": 0.1})):
            w = np.ones(3, dtype=np.float32)
            for _ in range(2):
                w = optimizer.calculate_update(w, np.ones(3, dtype=np.float64))
            assert w.dtype == np.float32

    def test_clip_gradients(self):
        g = np.array([3.0, 4.0])
        np.testing.assert_allclose(Optimizers.clip_gradients(g, 1.0), [0.6, 0.8])
        np.testing.assert_array_equal(Optimizers.clip_gradients(g, 5.0), g)
        np.testing.assert_allclose(np.linalg.norm(Optimizers.clip_gradients(g * 10)), 5.0)
        np.testing.assert_allclose(Optimizers.Sgd(1.0, clip_norm=1.0).calculate_update(
            np.zeros(2), g), [-0.6, -0.8])


class TestConstraints:
    def test_l2(self):
        r = Constraints.L2_Regularizer(0.5)
        w = np.array([[1.0, -2.0], [3.0, 0.0]])
        np.testing.assert_allclose(r.calculate_gradient(w), 0.5 * w)
        np.testing.assert_allclose(r.norm(w), 0.5 * 14)

    def test_l1(self):
        r = Constraints.L1_Regularizer(0.5)
        w = np.array([[1.0, -2.0], [3.0, 0.0]])
        np.testing.assert_allclose(r.calculate_gradient(w), [[0.5, -0.5], [0.5, 0.0]])
        np.testing.assert_allclose(r.norm(w), 0.5 * 6)

    def test_bad_alpha(self):
        with pytest.raises(ValueError, match="L2_Regularizer: expected the regularization weight alpha to be a finite number >= 0"):
            Constraints.L2_Regularizer(-1)


class TestCrossEntropyLoss:
    def test_forward_sums_over_the_batch(self):
        p = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
        y = np.array([[1, 0, 0], [0, 1, 0]])
        expected = -(np.log(0.5 + np.finfo(float).eps) + np.log(0.8 + np.finfo(float).eps))
        np.testing.assert_allclose(Loss.CrossEntropyLoss().forward(p, y), expected)

    def test_zero_probability_is_finite(self):
        loss = Loss.CrossEntropyLoss()
        value = loss.forward(np.array([[0.0, 1.0]]), np.array([[1, 0]]))
        np.testing.assert_allclose(value, -np.log(np.finfo(float).eps))

    def test_backward_is_minus_label_over_prediction(self):
        loss = Loss.CrossEntropyLoss()
        p = np.array([[0.5, 0.25, 0.25], [0.3, 0.7, 0.0]])
        y = np.array([[0, 1, 0], [0, 1, 0]])
        loss.forward(p, y)
        np.testing.assert_array_equal(loss.backward(y), [[0, -4, 0], [0, -1 / 0.7, 0]])

    def test_zero_probability_of_the_right_class_gives_a_finite_error(self):
        # The slope of the forward's -log(p + eps) at p = 0: -1 / eps, not inf or NaN.
        loss = Loss.CrossEntropyLoss()
        p = np.array([[0.0, 1.0], [0.0, 1.0]])
        y = np.array([[1, 0], [0, 1]])
        loss.forward(p, y)
        with np.errstate(all="raise"):
            error = loss.backward(y)
        np.testing.assert_array_equal(error, [[-1 / np.finfo(float).eps, 0], [0, -1]])

    def test_softmax_then_backward_is_prediction_minus_label(self):
        # The right class 100 below the other three: its probability is about 1e-44.
        x = np.zeros((3, 4))
        x[[0, 1, 2], [2, 0, 3]] = -100.0
        y = (x < 0).astype(float)
        softmax, loss = SoftMax.SoftMax(), Loss.CrossEntropyLoss()
        p = softmax.forward(x)
        loss.forward(p, y)
        error = softmax.backward(loss.backward(y))
        np.testing.assert_array_equal(error[y == 0], p[y == 0])     # 1/3 each
        np.testing.assert_allclose(error[y == 1], -1.0, rtol=1e-15)
        np.testing.assert_allclose(error, p - y, rtol=1e-15, atol=0)

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match="CrossEntropyLoss.forward: expected prediction and "
                                             "label of the same shape"):
            Loss.CrossEntropyLoss().forward(np.ones((2, 3)) / 3, np.eye(2))


# ---------------------------------------------------------------------------
# NeuralNetwork
# ---------------------------------------------------------------------------

def iris_network(optimizer, hidden=None, extra=()):
    """4 -> [hidden ->] 3 classifier on IrisData(50) with He/constant initialization."""
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.He(), Initializers.Constant(0.1))
    net.data_layer = Helpers.IrisData(50)
    net.loss_layer = Loss.CrossEntropyLoss()
    if hidden:
        net.append_layer(FullyConnected.FullyConnected(4, hidden))
        for layer in extra:
            net.append_layer(layer)
        net.append_layer(ReLU.ReLU())
        net.append_layer(FullyConnected.FullyConnected(hidden, 3))
    else:
        net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(SoftMax.SoftMax())
    return net


def accuracy_on_test_set(net):
    data, labels = net.data_layer.get_test_set()
    return Helpers.calculate_accuracy(net.test(data), labels)


class TestNeuralNetwork:
    @pytest.mark.parametrize("batch_size", [None, 2])
    def test_test_leaves_the_testing_phase(self, batch_size):
        # The classic contract (issue 25): test() sets the testing phase and leaves it.
        net = iris_network(Optimizers.Sgd(1e-2), hidden=8)
        net.phase = False
        net.test(np.random.normal(size=(5, 4)), batch_size=batch_size)
        assert net.phase == "test"

    def test_append_layer_gives_each_layer_its_own_linked_optimizer(self):
        optimizer = Optimizers.Adam(1e-3)
        net = iris_network(optimizer, hidden=8)
        fc1, fc2 = net.layers[0], net.layers[2]
        assert fc1.optimizer is not optimizer and fc1.optimizer is not fc2.optimizer
        net.train(3)
        assert fc1.optimizer.k == 3 and optimizer.k == 0
        assert fc1.optimizer.v.shape == (5, 8) and fc2.optimizer.v.shape == (9, 3)

    def test_first_layer_skips_only_its_input_gradient(self):
        net = iris_network(Optimizers.Sgd(1e-2), hidden=8)
        calls = []
        for layer in net.layers:
            layer.backward = (lambda method: lambda e, **kw: calls.append(kw) or method(e, **kw))(
                layer.backward)
        net.forward()
        net.backward()
        assert calls[-1] == {"input_gradient": False}
        assert all(kw == {} for kw in calls[:-1])

    def test_append_layer_initializes(self):
        net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1), Initializers.Constant(0.3),
                                          Initializers.Constant(0.7))
        net.append_layer(FullyConnected.FullyConnected(2, 2))
        np.testing.assert_array_equal(net.layers[0].weights, [[0.3, 0.3], [0.3, 0.3], [0.7, 0.7]])

    def test_learning_rate_change_reaches_every_layer(self):
        optimizer = Optimizers.Sgd(1e-2)
        net = iris_network(optimizer, hidden=8)
        net.train(1)
        net.optimizer.learning_rate *= 0.5
        fc = net.layers[0]
        assert fc.optimizer.learning_rate == pytest.approx(5e-3)
        before = fc.weights.copy()
        net.forward()
        net.backward()
        np.testing.assert_allclose(fc.weights, before - 5e-3 * fc.gradient_weights)

    def test_setting_the_network_optimizer_reaches_every_layer(self):
        net = iris_network(Optimizers.Sgd(1e-2), hidden=8)
        adam = Optimizers.Adam(1e-3)
        net.optimizer = adam
        assert all(isinstance(layer.optimizer, Optimizers.Adam) for layer in net.trainable_layers())
        adam.learning_rate = 2e-3
        assert net.layers[2].optimizer.learning_rate == 2e-3

    def test_loss_includes_regularization(self):
        optimizer = Optimizers.Sgd(1e-3, regularizer={"type": "L2", "lambda": 0.01})
        net = iris_network(optimizer, hidden=6, extra=[BatchNormalization.BatchNormalization(6)])
        np.random.seed(5)
        x, y = net.data_layer.next()
        out = x
        for layer in net.layers:
            out = layer.forward(out)
        data_loss = Loss.CrossEntropyLoss().forward(out, y)
        penalty = 0.01 * (np.sum(net.layers[0].weights ** 2) + np.sum(net.layers[3].weights ** 2))
        net.data_layer._position = len(net.data_layer._order)   # restart the epoch
        np.random.seed(5)
        assert net.forward() == pytest.approx(data_loss + penalty)
        assert net.regularization_loss() == pytest.approx(penalty)

    def test_phase_property(self):
        net = iris_network(Optimizers.Sgd(1e-3), hidden=4, extra=[Dropout.Dropout(0.5)])
        net.phase = "test"
        assert net.phase == "test" and all(layer.testing_phase for layer in net.layers)
        net.phase = False
        assert net.phase == "train" and not any(layer.testing_phase for layer in net.layers)
        net.test(net.data_layer.get_test_set()[0])      # runs in the testing phase and
        assert all(layer.testing_phase for layer in net.layers)   # leaves it (classic)
        net.train(1)
        assert not any(layer.testing_phase for layer in net.layers)
        with pytest.raises(ValueError, match="NeuralNetwork.phase: expected 'train' or 'test'"):
            net.phase = "validate"

    def test_train_returns_the_mean_per_sample_and_records_each_classic_loss(self):
        net = iris_network(Optimizers.Sgd(1e-3, regularizer={"type": "L2", "lambda": 1e-2}))
        mean = net.train(5)
        batch = net.data_layer.batch_size
        regularization = [net.regularization_loss()]           # of the final weights: close
        assert len(net.loss) == 5                              # classic: batch sum + penalty
        assert mean == pytest.approx(np.mean(net.loss) / batch, rel=1e-3)
        assert np.mean(net.loss) > batch * mean > np.mean(net.loss) - 2 * regularization[0]
        net.train(2)
        assert len(net.loss) == 7

    def test_train_history_and_evaluate_agree_on_the_unit(self):
        class WholeSet:                                        # one fixed batch per step
            def __init__(self, x, y):
                self.x, self.y, self.batch_size = x, y, len(x)

            def __len__(self):
                return len(self.x)

            def next(self):
                return self.x, self.y

        np.random.seed(0)
        net = iris_network(Optimizers.Sgd(1e-12))              # the weights barely move
        x, y = net.data_layer.get_test_set()
        net.data_layer = WholeSet(x, y)
        returned = net.train(epochs=1, validation=(x, y), progress=False)
        evaluated, _ = net.evaluate(x, y)
        record = net.history[-1]
        assert returned == pytest.approx(evaluated, rel=1e-9)
        assert record["train_loss"] == pytest.approx(evaluated, rel=1e-9)
        assert record["validation_loss"] == pytest.approx(evaluated, rel=1e-12)
        assert net.train(1) == pytest.approx(evaluated, rel=1e-9)
        assert net.loss[-1] == pytest.approx(len(x) * evaluated, rel=1e-9)   # the classic sum

    def test_train_by_epochs(self):
        net = iris_network(Optimizers.Sgd(1e-3))
        net.train(epochs=2, batch_size=30)
        assert net.data_layer.batch_size == 30
        assert len(net.loss) == 2 * math.ceil(100 / 30)
        with pytest.raises(ValueError, match="NeuralNetwork.train: expected epochs >= 0, got -1"):
            net.train(epochs=-1)

    def test_test_returns_probabilities(self):
        net = iris_network(Optimizers.Sgd(1e-3))
        out = net.test(net.data_layer.get_test_set()[0])
        assert out.shape == (50, 3)
        np.testing.assert_allclose(out.sum(axis=1), 1)

    def test_test_in_chunks_equals_test_at_once(self):
        net = iris_network(Optimizers.Adam(1e-2), hidden=8,
                           extra=[BatchNormalization.BatchNormalization(8), Dropout.Dropout(0.5)])
        net.train(30)
        data, _ = net.data_layer.get_test_set()
        np.testing.assert_allclose(net.test(data, batch_size=7), net.test(data), rtol=1e-12)

    def test_nan_loss_stops_and_keeps_the_last_good_parameters(self):
        net = iris_network(Optimizers.Sgd(1e-3))
        net.train(2)
        good = net.layers[0].weights.copy()

        class Diverging(Loss.CrossEntropyLoss):
            """The loss of the second call of the next train() is NaN."""
            calls = 0

            def forward(self, prediction, label):
                Diverging.calls += 1
                return float("nan") if self.calls == 2 else super().forward(prediction, label)

        net.loss_layer = Diverging()
        with pytest.raises(NeuralNetwork.TrainingDiverged,
                           match="loss became nan at iteration 2 of this call "
                                 r"\(iteration 4 overall\)"):
            net.train(5)
        np.testing.assert_array_equal(net.layers[0].weights, good)   # from before step 3
        assert len(net.loss) == 3 and all(np.isfinite(net.loss))

    def test_non_finite_input_is_refused(self):
        net = iris_network(Optimizers.Sgd(1e-3))
        data, _ = net.data_layer.get_test_set()
        bad = data.copy()
        bad[3, 1] = np.nan
        with pytest.raises(ValueError, match=r"NeuralNetwork.test: expected a finite input batch, "
                                             r"got 1 NaN and 0 infinite entries in shape \(50, 4\)"):
            net.test(bad)

    def test_save_and_load(self, tmp_path):
        net = iris_network(Optimizers.Adam(1e-2), hidden=8)
        net.train(20)
        data, _ = net.data_layer.get_test_set()
        expected = net.test(data)
        path = tmp_path / "net.ckpt"
        NeuralNetwork.save(path, net)
        assert net.data_layer is not None                      # the live network keeps it
        assert path.read_bytes()[:4] == b"PK\x03\x04"          # a zip of JSON and .npy files
        other = Helpers.IrisData(10)
        loaded = NeuralNetwork.load(path, other)
        assert loaded.data_layer is other
        assert NeuralNetwork.load(path).data_layer is None     # the data layer is optional
        np.testing.assert_array_equal(loaded.test(data), expected)
        loaded.train(2)                                        # optimizer state came along
        assert loaded.layers[0].optimizer.k == 22

    def test_failed_save_keeps_the_previous_file(self, tmp_path):
        net = iris_network(Optimizers.Sgd(1e-2))
        path = tmp_path / "net.ckpt"
        NeuralNetwork.save(path, net)
        previous = path.read_bytes()
        net.layers.append(NoOpBackward())                      # not a class a checkpoint names
        with pytest.raises(TypeError, match="cannot save a layer of type NoOpBackward"):
            NeuralNetwork.save(path, net)
        assert path.read_bytes() == previous
        assert os.listdir(tmp_path) == ["net.ckpt"]            # no temporary file left
        assert len(NeuralNetwork.load(path, None).layers) == 2  # and it still loads

    def test_append_non_layer(self):
        net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1))
        with pytest.raises(TypeError, match="NeuralNetwork.append_layer: expected a layer"):
            net.append_layer("ReLU")

    def test_repr_lists_the_layers(self):
        text = repr(iris_network(Optimizers.Sgd(1e-3), hidden=4))
        assert "FullyConnected(4, 4)" in text and "SoftMax()" in text


# ---------------------------------------------------------------------------
# Data layers and helpers
# ---------------------------------------------------------------------------

class TestData:
    def test_iris_split_and_scaling(self):
        data = Helpers.IrisData(50)
        x, y = data.next()
        assert x.shape == (50, 4) and y.shape == (50, 3)
        test_x, test_y = data.get_test_set()
        assert len(data) == 100 and test_x.shape == (50, 4)
        np.testing.assert_array_equal(test_y.sum(axis=1), 1)
        full = np.vstack([data._train[0], test_x])
        np.testing.assert_allclose(full.max(axis=0), 1.0)

    def test_an_epoch_visits_every_sample_once(self):
        data = Helpers.IrisData(30)
        seen = np.vstack([data.next()[0] for _ in range(4)])   # 30 + 30 + 30 + 10
        assert seen.shape == (100, 4)
        assert len(np.unique(seen, axis=0)) == len(np.unique(data._train[0], axis=0))

    def test_digits(self):
        data = Helpers.DigitData(16)
        x, y = data.next()
        assert x.shape == (16, 1, 8, 8) and y.shape == (16, 10)
        assert 0 <= x.min() and x.max() <= 1
        test_x, _ = data.get_test_set()
        assert len(data) + len(test_x) == 1797 and len(test_x) == 599

    def test_random_data(self):
        x, y = Helpers.RandomData(7, 5, 3).next()
        assert x.shape == (5, 7) and y.shape == (5, 3)
        np.testing.assert_array_equal(y.sum(axis=1), 1)

    def test_seed_reproduces_shuffling(self):
        np.random.seed(4)
        a = Helpers.IrisData(10).next()[0]
        np.random.seed(4)
        np.testing.assert_array_equal(Helpers.IrisData(10).next()[0], a)

    def test_accuracy_and_shuffle(self):
        results = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        labels = np.array([[1, 0], [0, 1], [0, 1]])
        assert Helpers.calculate_accuracy(results, labels) == pytest.approx(2 / 3)
        x, y = Helpers.shuffle_data(np.arange(10), np.arange(10) * 2)
        np.testing.assert_array_equal(y, 2 * x)
        assert sorted(x) == list(range(10))

    def test_bad_batch_size(self):
        with pytest.raises(ValueError, match="IrisData: expected batch_size >= 1, got 0"):
            Helpers.IrisData(0)


# ---------------------------------------------------------------------------
# End-to-end training
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, make, iterations", [
    ("sgd", lambda: Optimizers.Sgd(1e-3), 4000),
    ("momentum", lambda: Optimizers.SgdWithMomentum(5e-4, 0.9), 1000),
    ("adam", lambda: Optimizers.Adam(1e-2, 0.9, 0.999), 500),
    ("adam-l2", lambda: Optimizers.Adam(1e-2, regularizer={"type": "L2", "lambda": 4e-4}), 500),
    ("adam-l1", lambda: Optimizers.Adam(1e-2, regularizer=Constraints.L1_Regularizer(4e-4)), 500),
])
def test_iris_training(name, make, iterations):
    net = iris_network(make(), hidden=8)
    net.train(iterations)
    assert accuracy_on_test_set(net) > 0.9
    assert np.mean(net.loss[-10:]) < np.mean(net.loss[:10])


@pytest.mark.parametrize("name, extra", [
    ("dropout", lambda: [Dropout.Dropout(0.7)]),
    ("batchnorm", lambda: [BatchNormalization.BatchNormalization(16)]),
])
def test_iris_training_with(name, extra):
    net = iris_network(Optimizers.Adam(1e-2), hidden=16, extra=extra())
    net.train(600)
    assert accuracy_on_test_set(net) > 0.9


def test_digits_with_a_small_cnn():
    optimizer = Optimizers.Adam(5e-3, 0.9, 0.999, regularizer={"type": "L2", "lambda": 1e-3})
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.He(), Initializers.Constant(0.1))
    net.data_layer = Helpers.DigitData(64)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.append_layer(Conv.Conv((1, 1), (1, 3, 3), 8))
    net.append_layer(BatchNormalization.BatchNormalization(8))
    net.append_layer(ReLU.ReLU())
    net.append_layer(Pooling.Pooling((2, 2), (2, 2)))
    net.append_layer(Flatten.Flatten())
    net.append_layer(FullyConnected.FullyConnected(8 * 4 * 4, 32))
    net.append_layer(Dropout.Dropout(0.8))
    net.append_layer(ReLU.ReLU())
    net.append_layer(FullyConnected.FullyConnected(32, 10))
    net.append_layer(SoftMax.SoftMax())
    net.train(epochs=8, batch_size=64)
    assert accuracy_on_test_set(net) > 0.9


def test_every_gradient_case_runs_in_a_layer_class():
    assert _CLAIMED == {case[0] for case in CASES}


# ---------------------------------------------------------------------------
# The classic ways of running this file (see the module docstring)
# ---------------------------------------------------------------------------

# The groups of the exercise's bonus table, in its order: (test class, what it covers).
BONUS = [("TestTanH", "TanH"), ("TestSigmoid", "Sigmoid"),
         ("TestConstraints", "L1, L2 regularizers"), ("TestDropout", "Dropout"),
         ("TestBatchNorm", "BatchNormalization"), ("TestRNN", "Elman RNN"), ("TestLSTM", "LSTM"),
         ("TestNeuralNetwork", "NeuralNetwork")]
# Group names of the classic suites and of earlier versions of this file.
ALIASES = {"TestNeuralNetwork3": ["TestNeuralNetwork"], "TestBatchNormalization": ["TestBatchNorm"],
           "TestActivations": ["TestReLU", "TestTanH", "TestSigmoid"]}


class _Tally:
    """A pytest plugin counting the passed tests of one run and all that ran, naming failures."""

    def __init__(self):
        self.passed = self.ran = 0
        self.failed = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.ran += 1
            self.passed += report.passed
            if report.failed:
                self.failed.append(report.nodeid.split("::", 1)[-1].replace("::", "."))


def _groups():
    return sorted(name for name, value in globals().items()
                  if name.startswith("Test") and isinstance(value, type))


def main(argv):
    """``python NeuralNetworkTests.py [GROUP[.test] ...] [pytest options]``, or ``... Bonus``.

    Without a group every test of this file runs; ``TestConv`` runs one group,
    ``TestConv.test_gradient`` one test. Returns the exit status: 0 when every
    selected test passed.
    """
    names = [arg for arg in argv if re.fullmatch(r"Bonus|Test\w*(\.\w+)?", arg)]
    options = [arg for arg in argv if arg not in names]
    if names == ["Bonus"]:
        return bonus(options)
    nodes = []
    for name in names:
        group, _, test = name.partition(".")
        for cls in ALIASES.get(group, [group]):
            if cls not in _groups():
                print(f"NeuralNetworkTests.py: expected a test group, one of "
                      f"{', '.join(_groups())} or Bonus, got {name!r}", file=sys.stderr)
                return 2
            nodes.append(f"{ROOT / 'NeuralNetworkTests.py'}::{cls}" + (f"::{test}" if test else ""))
    return int(pytest.main(["-q", *options, *(nodes or [str(ROOT / "NeuralNetworkTests.py")])]))


def bonus(options=()):
    """Run each group of ``BONUS`` and print the classic table; 1 if any group failed.

    pytest's own terminal output (progress dots, summaries) is switched off: the
    table is the report, and a failed test is named below it.
    """
    rows, failed = [], []
    for group, covers in BONUS:
        tally = _Tally()
        status = pytest.main(["-p", "no:terminal", *options,
                              f"{ROOT / 'NeuralNetworkTests.py'}::{group}"], plugins=[tally])
        rows.append([group, covers, f"{tally.passed} of {tally.ran}",
                     "OK" if status == 0 else "FAIL"])
        failed += tally.failed
    print(tabulate(rows, headers=["group", "covers", "passed", "result"], tablefmt="github"))
    if failed:
        print(f"failed: {', '.join(failed)}\ndetails: python NeuralNetworkTests.py "
              f"{' '.join(failed)}")
    return 0 if all(row[-1] == "OK" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
