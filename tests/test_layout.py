"""Memory layout: Conv hands on batch-first views of batch-last memory.

Conv computes in a ``(channels, y, x, batch)`` layout and returns a batch-first
*view* of it; the activations, Dropout and Pooling keep that layout, so the next
Conv gets its input without a transposing copy. These tests pin down that the values never
depend on the layout (bit for bit, forward and backward) and that the layout
really survives the Conv -> ReLU -> Pooling -> Conv chain.
"""
import numpy as np
import pytest

from Layers import Conv, Dropout, Initializers, Pooling, ReLU, Sigmoid, TanH

LAYERS = {
    "conv": lambda: Conv.Conv((1, 1), (3, 3, 3), 4),
    "conv-strided": lambda: Conv.Conv((2, 1), (3, 2, 3), 2),
    "relu": ReLU.ReLU,
    "tanh": TanH.TanH,
    "sigmoid": Sigmoid.Sigmoid,
    "dropout": lambda: Dropout.Dropout(0.5),
    "pool": lambda: Pooling.Pooling((2, 2), (2, 2)),
    "pool-overlapping": lambda: Pooling.Pooling((1, 2), (3, 2)),
}


def batch_last(a):
    """The same values as ``a``, stored batch-last like a Conv output."""
    return np.ascontiguousarray(np.moveaxis(a, 0, -1)).transpose(3, 0, 1, 2)


def batch_is_fastest(a):
    return a.strides[0] == a.itemsize


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_values_do_not_depend_on_the_input_layout(name):
    rng = np.random.default_rng(0)
    np.random.seed(0)
    layer_c = LAYERS[name]()
    np.random.seed(0)
    layer_bl = LAYERS[name]()
    # few distinct values, so that pooling meets ties
    x = rng.integers(-3, 4, (5, 3, 7, 6)).astype(np.float64)
    assert not batch_is_fastest(x) and batch_is_fastest(batch_last(x))
    np.random.seed(1)                                   # the same dropout mask for both
    out_c = layer_c.forward(x)
    np.random.seed(1)
    out_bl = layer_bl.forward(batch_last(x))
    np.testing.assert_array_equal(out_c, out_bl)
    assert batch_is_fastest(out_bl)
    e = rng.normal(size=out_c.shape)
    dx = layer_bl.backward(batch_last(e))
    np.testing.assert_array_equal(layer_c.backward(e), dx)
    assert batch_is_fastest(dx)
    if hasattr(layer_c, "gradient_weights"):
        np.testing.assert_array_equal(layer_c.gradient_weights, layer_bl.gradient_weights)
        np.testing.assert_array_equal(layer_c.gradient_bias, layer_bl.gradient_bias)


def test_conv_relu_pool_chain_stays_batch_last():
    conv1, relu, pool = Conv.Conv(1, (1, 5, 5), 6), ReLU.ReLU(), Pooling.Pooling(2, 2)
    conv2 = Conv.Conv(1, (6, 5, 5), 4)
    for conv in (conv1, conv2):
        conv.initialize(Initializers.He(), Initializers.Constant(0.1))
    x = np.random.default_rng(1).random((8, 1, 12, 12))
    forward = [conv1.forward(x)]
    for layer in (relu, pool):
        forward.append(layer.forward(forward[-1]))
    assert all(batch_is_fastest(a) for a in forward)
    out = conv2.forward(forward[-1])
    backward = [conv2.backward(np.ones_like(out))]
    for layer in (pool, relu):
        backward.append(layer.backward(backward[-1]))
    assert all(batch_is_fastest(a) for a in backward)
    assert [a.shape for a in backward] == [(8, 6, 6, 6), (8, 6, 12, 12), (8, 6, 12, 12)]
