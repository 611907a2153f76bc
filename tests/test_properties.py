"""Property-based tests: random shapes against simple references, random bad input.

Conv is compared with scipy.signal.correlate on explicitly padded input, Pooling with
explicit windows; random layer stacks go through the gradient checker; random bad
input must always give the documented ValueError/TypeError naming the layer.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from Layers import (Conv, FullyConnected, Initializers, Pooling, ReLU, Sigmoid, SoftMax,
                    TanH)
from Optimization import Loss
from NeuralNetworkTests import assert_gradients
from tests.reference import conv_reference, pooling_reference

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,  # same examples in CI
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_cases(draw):
    dims = draw(st.sampled_from([1, 2]))
    channels = draw(st.integers(1, 3))
    kernels = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(dims))
    size = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    batch = draw(st.integers(1, 3))
    return dims, channels, kernels, kernel, size, stride, batch


@SETTINGS
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv_matches_scipy(case, seed):
    dims, channels, kernels, kernel, size, stride, batch = case
    rng = np.random.default_rng(seed)
    layer = Conv.Conv(stride, (channels, *kernel), kernels)
    x = rng.normal(size=(batch, channels, *size))
    out = layer.forward(x)
    assert out.shape == (batch, kernels) + tuple(math.ceil(n / s) for n, s in zip(size, stride))
    np.testing.assert_allclose(out, conv_reference(x, layer.weights, layer.bias, stride),
                               atol=1e-10)
    # backward is the adjoint of forward: <conv(x), e> is linear in x with gradient dx
    e = rng.normal(size=out.shape)
    dx = layer.backward(e)
    probe = rng.normal(size=x.shape)
    lhs = np.sum((layer.forward(x + probe) - layer.forward(x)) * e)
    np.testing.assert_allclose(lhs, np.sum(dx * probe), rtol=1e-8, atol=1e-8)


@st.composite
def pooling_cases(draw):
    pool = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    size = (draw(st.integers(pool[0], 10)), draw(st.integers(pool[1], 10)))
    return pool, stride, size, draw(st.integers(1, 3)), draw(st.integers(1, 3))


@SETTINGS
@given(pooling_cases(), st.integers(0, 2**32 - 1))
def test_pooling_matches_explicit_windows(case, seed):
    pool, stride, size, batch, channels = case
    rng = np.random.default_rng(seed)
    # few distinct values, so that ties are common
    x = rng.integers(0, 4, size=(batch, channels, *size)).astype(float)
    layer = Pooling.Pooling(stride, pool)
    out = layer.forward(x)
    out_y, out_x = ((n - p) // s + 1 for n, p, s in zip(size, pool, stride))
    assert out.shape == (batch, channels, out_y, out_x)
    e = rng.normal(size=out.shape)
    dx = layer.backward(e)
    expected_out, expected_dx = pooling_reference(x, e, pool, stride)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_allclose(dx, expected_dx)


LAYERS = {"relu": ReLU.ReLU, "tanh": TanH.TanH, "sigmoid": Sigmoid.Sigmoid}


@SETTINGS
@given(st.lists(st.sampled_from(sorted(LAYERS)), min_size=1, max_size=3),
       st.lists(st.integers(1, 5), min_size=4, max_size=4), st.integers(1, 4),
       st.integers(0, 2**32 - 1))
def test_random_stacks_pass_the_gradient_check(activations, widths, batch, seed):
    np.random.seed(seed)
    layers, width = [], widths[0]
    for name, out in zip(activations, widths[1:]):
        layers += [FullyConnected.FullyConnected(width, out), LAYERS[name]()]
        width = out
    layers += [FullyConnected.FullyConnected(width, 3), SoftMax.SoftMax(), Loss.CrossEntropyLoss()]
    for layer in layers[:-2:2]:
        layer.initialize(Initializers.Xavier(), Initializers.Constant(0.0))
    x = np.random.normal(size=(batch, widths[0]))
    labels = np.eye(3)[np.random.randint(0, 3, batch)]
    # Stacked sigmoids can make an input's gradient tiny: compare to 1e-5 relative down
    # to the absolute floor of 1e-9 (NeuralNetworkTests.assert_gradients says why).
    assert_gradients(layers, x, labels, parameters=("weights",))


BAD_INPUTS = st.one_of(
    st.text(max_size=5),
    st.none(),
    st.builds(lambda n: np.zeros((0,) + (2,) * n), st.integers(0, 3)),              # empty batch
    st.builds(lambda n: np.zeros((1,) * n), st.sampled_from([1, 5, 6])),           # wrong ndim
    st.builds(lambda c: np.zeros((2, c, 6, 6)), st.integers(3, 5)),                # wrong channels
    st.builds(lambda: np.array([["a", "b"]])),
)


@SETTINGS
@given(BAD_INPUTS, st.sampled_from(["fc", "conv", "pool"]))
def test_bad_input_always_gives_the_documented_error(bad, kind):
    # Pooling takes any channel count: a 4-D zero array is only bad for it when empty.
    assume(not (kind == "pool" and isinstance(bad, np.ndarray) and bad.ndim == 4
                and bad.shape[0] > 0))
    layer = {"fc": lambda: FullyConnected.FullyConnected(2, 2),
             "conv": lambda: Conv.Conv(1, (2, 3, 3), 2),
             "pool": lambda: Pooling.Pooling(2, (3, 3))}[kind]()
    name = type(layer).__name__
    with pytest.raises((ValueError, TypeError), match=rf"^{name}\.forward: expected"):
        layer.forward(bad)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6))
def test_pooling_window_larger_than_input_is_refused(pool_y, pool_x, in_y, in_x):
    layer = Pooling.Pooling(1, (pool_y, pool_x))
    x = np.zeros((1, 1, in_y, in_x))
    if pool_y > in_y or pool_x > in_x:
        with pytest.raises(ValueError, match=r"^Pooling\.forward: expected input of at least the pooling window"):
            layer.forward(x)
    else:
        assert layer.forward(x).shape == (1, 1, in_y - pool_y + 1, in_x - pool_x + 1)


@SETTINGS
@given(st.integers(1, 4), st.integers(0, 3), st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_input_is_refused_by_the_network(batch, column, value):
    import NeuralNetwork
    from Optimization import Optimizers
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-3))
    net.append_layer(FullyConnected.FullyConnected(4, 2))
    x = np.ones((batch, 4))
    x[batch - 1, column] = value
    with pytest.raises(ValueError, match="NeuralNetwork.test: expected a finite input batch"):
        net.test(x)
