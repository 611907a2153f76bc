"""Converters of the feed-forward layers and of the sequence layers' Embedding and LastStep.

FullyConnected   ``[x, 1] @ weights``: Gemm(x, weights[:-1], weights[-1]) for 2-D input,
                 MatMul + Add per step for (batch, time, features).
Conv             Conv with explicit ``pads`` (an even kernel's extra row/column after, as
                 the layer pads) and ``strides``; 1-D and 2-D.
Pooling          MaxPool, no padding ("valid").
ReLU, TanH, Sigmoid, SoftMax   Relu, Tanh, Sigmoid, Softmax(axis=-1).
Flatten          Flatten(axis=1).    Dropout: Identity (the testing phase).
BatchNormalization   BatchNormalization with the running mean and variance and the
                 layer's epsilon, for (batch, channels) and image input.
Embedding        Gather(weights, tokens) on axis 0, int64 tokens (batch, time).
LastStep         Gather of index -1 on the time axis (a scalar index drops the axis).

ONNX Runtime's CPU provider has no double kernel for Conv, so a float64 Conv is an
im2col of standard operators that have one: Pad, one strided Slice per kernel offset
(each ``(batch, c, out_y, out_x)``: the input pixels that offset touches), Concat of
them along the channels, Reshape to ``(batch, m * n * c, pixels)``, one MatMul by the
weights as a ``(num_kernels, m * n * c)`` matrix, Reshape, Add of the bias. (No
Transpose before the MatMul: ONNX Runtime would fuse the two into its FusedMatMul,
which has no double kernel either.)
"""
import itertools
import math

import numpy as np

from Layers import (BatchNormalization, Conv, Dropout, Embedding, Flatten, FullyConnected,
                    LastStep, Pooling, ReLU, Sigmoid, SoftMax, TanH)
from Layers._windows import same_padding
from .graph import Tensor, features, refuse, register

# Layers whose input is int64 tokens rather than floats.
TOKEN_LAYERS = (Embedding.Embedding,)


# -- layers without parameters -------------------------------------------------------


def _elementwise(op, **attributes):
    def convert(layer, graph, x):
        return x.to(graph.node(op, [x], **attributes))
    return convert


register(ReLU.ReLU)(_elementwise("Relu"))
register(TanH.TanH)(_elementwise("Tanh"))
register(Sigmoid.Sigmoid)(_elementwise("Sigmoid"))
register(SoftMax.SoftMax)(_elementwise("Softmax", axis=-1))
register(Dropout.Dropout)(_elementwise("Identity"))     # the testing phase


@register(Flatten.Flatten)
def flatten(layer, graph, x):
    rest = x.shape[1:]
    size = math.prod(rest) if all(isinstance(n, int) for n in rest) else None
    return x.to(graph.node("Flatten", [x], axis=1), (x.shape[0], size))


@register(Pooling.Pooling)
def pooling(layer, graph, x):
    if len(x.shape) != 4:
        refuse(graph, x, "(batch, channels, y, x)")
    out = [None if not isinstance(n, int) else (n - p) // s + 1
           for n, p, s in zip(x.shape[2:], layer.pooling_shape, layer.stride_shape)]
    if any(n is not None and n < 1 for n in out):
        refuse(graph, x, f"(batch, channels, y, x) of at least {layer.pooling_shape}")
    y = graph.node("MaxPool", [x], kernel_shape=list(layer.pooling_shape),
                   strides=list(layer.stride_shape))
    return x.to(y, (*x.shape[:2], *out))


# -- layers with parameters ----------------------------------------------------------


@register(FullyConnected.FullyConnected)
def fully_connected(layer, graph, x):
    features(graph, x, layer.input_size, (2, 3), f"(batch, {layer.input_size})")
    w = graph.constant(layer.weights[:-1], "weights")
    b = graph.constant(layer.weights[-1], "bias")
    if len(x.shape) == 2:
        y = graph.node("Gemm", [x, w, b])
    else:
        y = graph.node("Add", [graph.node("MatMul", [x, w]), b])
    return x.to(y, (*x.shape[:-1], layer.output_size))


@register(BatchNormalization.BatchNormalization)
def batch_normalization(layer, graph, x):
    c = layer.channels
    if len(x.shape) not in (2, 4) or x.shape[1] not in (c, None):
        refuse(graph, x, f"(batch, {c}) or (batch, {c}, y, x)")
    arrays = (layer.weights, layer.bias, layer.running_mean, layer.running_var)
    inputs = [graph.constant(a, n) for a, n in
              zip(arrays, ("gamma", "beta", "running_mean", "running_var"))]
    return x.to(graph.node("BatchNormalization", [x, *inputs], epsilon=float(layer.epsilon)))


@register(Conv.Conv)
def conv(layer, graph, x):
    c, *kernel = layer.convolution_shape
    spatial = len(kernel)
    expected = f"(batch, {c}, x)" if spatial == 1 else f"(batch, {c}, y, x)"
    if len(x.shape) != 2 + spatial or x.shape[1] not in (c, None):
        refuse(graph, x, expected)
    pads = [same_padding(k) for k in kernel]
    out = [-(-n // s) if isinstance(n, int) else None
           for n, s in zip(x.shape[2:], layer.stride_shape)]
    shape = (x.shape[0], layer.num_kernels, *out)
    if x.dtype == np.float64:
        if None in out:
            refuse(graph, x, expected + " with known sizes (the float64 Conv needs them: "
                    "give input_shape)")
        return x.to(_conv_im2col(layer, graph, x, pads, out), shape)
    y = graph.node("Conv", [x, graph.constant(layer.weights, "weights"),
                            graph.constant(layer.bias, "bias")],
                   kernel_shape=list(kernel), strides=list(layer.stride_shape),
                   pads=[p[0] for p in pads] + [p[1] for p in pads])
    return x.to(y, shape)


def _conv_im2col(layer, graph, x, pads, out):
    """Conv as Pad, strided Slices, Concat and MatMul (for float64, see the docstring)."""
    kernel, stride = layer.convolution_shape[1:], layer.stride_shape
    spatial, k = len(kernel), layer.num_kernels
    axes = list(range(2, 2 + spatial))
    padded = graph.node("Pad", [x, graph.ints([0, 0] + [p[0] for p in pads] +
                                              [0, 0] + [p[1] for p in pads])])
    patches = []
    for offset in itertools.product(*map(range, kernel)):
        ends = [o + s * (n - 1) + 1 for o, s, n in zip(offset, stride, out)]
        patches.append(graph.node("Slice", [padded, graph.ints(offset), graph.ints(ends),
                                            graph.ints(axes), graph.ints(stride)]))
    # (batch, offsets * c, *out) with rows ordered (offset, channel) -> (batch, rows, pixels)
    cols = graph.node("Reshape", [graph.node("Concat", patches, axis=1), graph.ints([0, 0, -1])])
    w = layer.weights.transpose(0, *axes, 1).reshape(k, -1)       # columns (offset, channel)
    y = graph.node("MatMul", [graph.constant(w, "weights"), cols])  # (batch, k, pixels)
    y = graph.node("Reshape", [y, graph.ints([0, k, *out])])
    return graph.node("Add", [y, graph.constant(layer.bias.reshape(k, *[1] * spatial), "bias")])


@register(Embedding.Embedding)
def embedding(layer, graph, x):
    """Row t of ``weights`` for token t: Gather on axis 0, int64 tokens (batch, time)."""
    if len(x.shape) != 2:
        refuse(graph, x, "(batch, time) of int64 tokens")
    y = graph.node("Gather", [graph.constant(layer.weights, "weights"), x], axis=0)
    return Tensor(y, (*x.shape, layer.embedding_size), graph.dtype)


@register(LastStep.LastStep)
def last_step(layer, graph, x):
    """``x[:, -1]``: Gather of index -1 on the time axis, which a scalar index drops."""
    if len(x.shape) != 3:
        refuse(graph, x, "(batch, time, features)")
    y = graph.node("Gather", [x, graph.constant(np.array(-1, np.int64), "last")], axis=1)
    return x.to(y, (x.shape[0], x.shape[2]))

