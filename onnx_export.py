"""Export a network to ONNX, the field's exchange format, for inference.

``export(net, path, input_shape=None)`` (``net.export_onnx(path, input_shape)``)
writes the network *in its testing phase* as a standard ONNX model (opset 17,
which ONNX Runtime 1.20 runs) whose first axis is dynamic: any batch size, or
any sequence length for a classic recurrent network. The graph is built with
``onnx.helper`` one layer at a time, checked with ``onnx.checker`` and shape
inference in memory, and only then written, atomically (a temporary file in the
same directory, renamed into place): a refused export writes nothing. The model's
input is ``"input"``, its output ``"output"``, and every edge carries its shape
(viewers such as Netron show them).

``input_shape`` is the shape of one sample without the batch axis, e.g. ``(1, 28,
28)``. By default it is ``net.input_shape``, else what the first layer fixes:
``(input_size,)`` for FullyConnected (and for a recurrent layer: the classic 2-D
input ``(time, input_size)``, whose first axis, time, is the dynamic one),
``(None,)`` for Embedding and ``(c, y, x)`` with dynamic ``y`` and ``x`` for Conv
(float32 only: the float64 Conv needs sizes). ``None`` marks a dynamic axis, as
the time axis of ``(None, features)``, the batched 3-D input of a recurrent layer.

Every layer class maps to standard operators through a converter in
``CONVERTERS``; a layer of any other class (a subclass too: it may compute
something else) is refused with a ``TypeError`` naming it and its position.
``register`` adds a converter for a layer of your own::

    @onnx_export.register(Scale)
    def scale(layer, graph, x):            # x: Tensor(name, shape, dtype) of the input
        return x.to(graph.node("Mul", [x.name, graph.constant(layer.weights)]))

``graph.node(op, inputs, outputs=1, **attributes)`` adds an operator and returns
its output's name, ``graph.constant(array)`` adds a weight (float arrays in the
layer's dtype), ``graph.ints(values)`` an int64 one; ``x.to(name, shape)`` is the
result (same shape and dtype unless given). Where a trainable layer's dtype differs
from its input's, a Cast comes first, as the framework casts on entry.

How the layers map
------------------
FullyConnected   ``[x, 1] @ weights``: Gemm(x, weights[:-1], weights[-1]) for 2-D input,
                 MatMul + Add for (batch, time, features).
Conv             Conv with explicit ``pads`` (an even kernel's extra row/column after, as
                 the layer pads) and ``strides``; 1-D and 2-D.
Pooling          MaxPool, no padding ("valid").
ReLU, TanH, Sigmoid, SoftMax   Relu, Tanh, Sigmoid, Softmax(axis=-1).
Flatten          Flatten(axis=1).    Dropout: Identity (the testing phase).
BatchNormalization   BatchNormalization with the running mean and variance and the
                 layer's epsilon, for (batch, channels) and image input.
Embedding        Gather(weights, tokens) with int64 tokens.  LastStep: Gather index -1, axis 1.
RNN, LSTM, GRU   the ONNX RNN, LSTM and GRU operators, on (time, batch, features) input
                 (ONNX Runtime refuses the batch-first ``layout=1``): a Transpose before and
                 after, and a 2-D classic sequence is a batch of one. Our ``weights`` rows
                 [W_x; W_h; b] with column blocks per gate become ONNX's ``W = W_x^T``,
                 ``R = W_h^T`` (rows blocks per gate) and ``B = [Wb, Rb]``:

                 RNN   one block; Wb = b, Rb = 0.
                 LSTM  our gate order f, i, o, g becomes ONNX's i, o, f, c (blocks 1, 2, 0, 3);
                       Wb = b, Rb = 0. The default activations (sigmoid, tanh, tanh) are ours.
                 GRU   our r, z, n becomes ONNX's z, r, h (blocks 1, 0, 2); Wb = b_x, Rb = b_h,
                       and ``linear_before_reset=1``: the reset gate scales the recurrent
                       product with its bias, ``r * (h W_h,n + b_h,n)``, PyTorch's equation.

                 The optional output layer is MatMul + Add + Sigmoid on every step.
                 Every sequence starts from a zero state (``memorize`` is not exported).

float64 networks export in float64. ONNX Runtime's CPU provider has no double
kernel for Conv, RNN, LSTM or GRU, so in float64 these become other standard
operators that have one, computing the same sums:

Conv     im2col: Pad, one strided Slice per kernel offset (each ``(batch, c, out_y,
         out_x)``: the input pixels that offset touches), Concat of them along the
         channels, Reshape to ``(batch, m * n * c, pixels)``, then one MatMul by the
         weights as a ``(num_kernels, m * n * c)`` matrix, Reshape, Add of the bias.
         (No Transpose before the MatMul: ONNX Runtime would fuse the two into its
         FusedMatMul, which has no double kernel either.)
RNN, LSTM, GRU   the cell's equations in a Scan over the time axis: the input's part
         ``x @ W_x + b`` for all steps in one MatMul before the Scan, then per step
         ``h @ W_h`` (+ ``b_h`` for the GRU) and the gates, with our own gate order.
"""
import itertools
import math
import os
import uuid
from typing import NamedTuple

import numpy as np

import _checks
from Layers import (BatchNormalization, Conv, Dropout, Flatten, FullyConnected, GRU, LSTM,
                    Pooling, ReLU, RNN, Sigmoid, SoftMax, TanH)
from Layers._windows import same_padding

try:                    # the sequence layers (issue: sequence learning) are on their way to main
    from Layers import Embedding, LastStep
except ImportError:
    Embedding = LastStep = None

OPSET = 17
CONVERTERS = {}


def register(layer_class):
    """Decorator: ``@register(MyLayer)`` over ``convert(layer, graph, x) -> Tensor``."""
    def add(convert):
        CONVERTERS[layer_class] = convert
        return convert
    return add


class Tensor(NamedTuple):
    """A value of the graph: its name, its shape (ints; a str names a dynamic axis, None is
    unknown) and its NumPy dtype."""
    name: str
    shape: tuple
    dtype: type

    def to(self, name, shape=None, dtype=None):
        """The tensor ``name`` computed from this one: same shape and dtype unless given."""
        return Tensor(name, self.shape if shape is None else tuple(shape),
                      dtype or self.dtype)


class Graph:
    """The graph being built: nodes, initializers (the weights) and fresh names.

    Converters use ``node`` and ``constant`` only, so ``onnx`` is imported by ``export``
    alone (it adds a fifth to ``import NeuralNetwork``'s time otherwise). ``scope``
    prefixes the names (the layer's position and class), ``owner`` names the layer in
    error messages, ``dtype`` is the float dtype of the layer being converted: float
    constants are stored in it.
    """

    def __init__(self, onnx, parent=None):
        self.onnx = onnx
        self.nodes = []
        self.initializers = parent.initializers if parent else []
        self._count = parent._count if parent else itertools.count()
        self._ints = parent._ints if parent else {}
        self.scope = parent.scope if parent else "input"
        self.dtype = parent.dtype if parent else np.float64
        self.owner = parent.owner if parent else "export_onnx"      # for error messages

    def name(self, hint):
        return f"{self.scope}/{hint}_{next(self._count)}"

    def constant(self, array, hint="const"):
        """Add ``array`` as an initializer (a float one in ``dtype``); return its name."""
        array = np.asarray(array)
        array = np.array(array, self.dtype if array.dtype.kind == "f" else array.dtype,
                         order="C")                  # (ascontiguousarray makes 0-d 1-d)
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, values):
        """An int64 constant (shapes, axes, indices), shared by equal values."""
        values = tuple(int(v) for v in values)
        if values not in self._ints:
            self._ints[values] = self.constant(np.array(values, np.int64), "ints")
        return self._ints[values]

    def node(self, op, inputs, outputs=1, **attributes):
        """Add an ``op`` node on ``inputs`` (names or Tensors); return its output name (a
        list of names for ``outputs`` > 1)."""
        name = self.name(op)
        names = [name] if outputs == 1 else [f"{name}:{i}" for i in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(
            op, [getattr(i, "name", i) for i in inputs], names, name=name, **attributes))
        return names[0] if outputs == 1 else names

    def value_info(self, name, dtype, shape):
        return self.onnx.helper.make_tensor_value_info(
            name, self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape)

    def subgraph(self, inputs, outputs, name):
        """This graph's nodes as a subgraph (a Scan body); ``inputs``/``outputs`` are
        ``(name, dtype)`` pairs. Weights stay in the outer graph and are read from there."""
        info = [self.value_info(n, d, None) for n, d in inputs]
        return self.onnx.helper.make_graph(self.nodes, name, info,
                                           [self.value_info(n, d, None) for n, d in outputs])


# -- export --------------------------------------------------------------------------


def export(net, path, input_shape=None, *, dtype=None):
    """Write ``net`` in its testing phase to ``path`` as an ONNX model; return ``path``.

    Args:
        net: a built network (``layers`` non-empty), e.g. a ``NeuralNetwork`` or LeNet.
        path: file to write (str or path-like); replaced atomically.
        input_shape: shape of one sample without the batch axis (None entries: dynamic
            axes); by default ``net.input_shape`` or what the first layer fixes.
        dtype: float dtype of a network without parameters (default float64); otherwise
            the first parameter's dtype is the model's input dtype.

    Raises ``TypeError`` for a layer without a converter and ``ValueError`` for an input
    shape that does not fit; nothing is written then. The model's input is ``"input"``
    (int64 tokens for an Embedding first), its output ``"output"``.
    """
    import onnx
    import onnx.checker
    import onnx.numpy_helper
    import onnx.shape_inference

    owner = "export_onnx"
    if not isinstance(path, (str, os.PathLike)):
        _checks.fail(owner, "a file path (str or os.PathLike)", path, TypeError)
    layers = list(getattr(net, "layers", None) or [])
    if not layers:
        _checks.fail(owner, "a built network (with layers)", _checks.Described(
            f"{type(net).__name__} without layers"))
    for position, layer in enumerate(layers):
        if type(layer) not in CONVERTERS:
            _checks.fail(owner, "layers that have an ONNX converter (add one with "
                         "onnx_export.register)", _checks.Described(
                             f"{type(layer).__name__} at position {position} ({layer!r})"),
                         TypeError)
    float_type = _float_type(layers, dtype)
    shape = _sample_shape(net, layers, input_shape)
    first = layers[0]
    x = Tensor("input", (_first_axis(first, shape), *shape),
               np.int64 if _is_embedding(first) else float_type)
    graph = Graph(onnx)
    source = x
    for position, layer in enumerate(layers):
        graph.scope = f"{position}_{type(layer).__name__}"
        graph.owner = f"{owner}: layer {position} {layer!r}"
        trainable = getattr(layer, "trainable", False)
        x = _cast(graph, x, getattr(layer, "dtype", None) if trainable else None)
        graph.dtype = x.dtype if x.dtype != np.int64 else getattr(layer, "dtype", float_type)
        x = CONVERTERS[type(layer)](layer, graph, x)
    _name_the_output(graph, x.name)
    model = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, type(net).__name__,
                               [graph.value_info("input", source.dtype, list(source.shape))],
                               [graph.value_info("output", x.dtype, list(x.shape))],
                               graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="NumPy layer framework (onnx_export.py)",
        doc_string="\n".join(f"({i}) {layer!r}" for i, layer in enumerate(layers)))
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    # The shapes of every edge, for viewers such as Netron; strict: a clash is an error.
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    _write_atomically(model.SerializeToString(), os.fspath(path))
    return path


def _name_the_output(graph, name):
    """Call the network's output ``"output"``: rename it where the last node makes it."""
    producer = next((n for n in reversed(graph.nodes) if name in n.output), None)
    if producer is None or any(name in n.input for n in graph.nodes):
        graph.nodes.append(graph.onnx.helper.make_node("Identity", [name], ["output"],
                                                       name="output"))
    else:
        producer.output[list(producer.output).index(name)] = "output"


def _float_type(layers, dtype):
    """The model's float dtype: the first parameter's, else ``dtype`` (default float64)."""
    for layer in layers:
        if getattr(layer, "trainable", False):
            dtype = layer.dtype
            break
    dtype = np.dtype(dtype or np.float64).type
    if dtype not in (np.float32, np.float64):
        _checks.fail("export_onnx", "a float32 or float64 network", np.dtype(dtype).name,
                     TypeError)
    return dtype


def _sample_shape(net, layers, input_shape):
    """One sample's shape: the argument, ``net.input_shape``, or the first layer's.

    Dynamic axes are named: a None at axis 1 (after the batch) is ``"time"``; a Conv
    first without an ``input_shape`` gets ``(c, "y", "x")`` (``(c, "x")`` in 1-D).
    """
    if input_shape is None:
        input_shape = getattr(net, "input_shape", None)
    first = layers[0]
    if input_shape is None:
        if _is_embedding(first):
            input_shape = (None,)
        elif type(first) is Conv.Conv:
            c, *kernel = first.convolution_shape
            return (c, *("y", "x")[2 - len(kernel):])
        elif hasattr(first, "input_size"):
            input_shape = (first.input_size,)
        else:
            _checks.fail("export_onnx", "input_shape, the shape of one sample (the first "
                         "layer does not fix it)", None)
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)):
        _checks.fail("export_onnx", "input_shape as a tuple of ints (None: a dynamic axis)",
                     input_shape, TypeError)
    return tuple(("time" if axis == 0 else f"axis_{axis + 1}") if n is None
                 else _checks.size("export_onnx", "input_shape entry", n)
                 for axis, n in enumerate(input_shape))


def _first_axis(first, shape):
    """The dynamic first axis' name: time for one classic sequence, else batch."""
    recurrent = type(first) in (RNN.RNN, LSTM.LSTM, GRU.GRU)
    return "time" if recurrent and len(shape) == 1 else "batch"


def _is_embedding(layer):
    return Embedding is not None and type(layer) is Embedding.Embedding


def _cast(graph, x, dtype):
    """``x`` in a trainable layer's dtype: the framework casts the input on entry."""
    if dtype is None or x.dtype == np.int64 or np.dtype(dtype) == np.dtype(x.dtype):
        return x
    to = graph.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return x.to(graph.node("Cast", [x.name], to=to), dtype=np.dtype(dtype).type)


def _write_atomically(data, path):
    """Write ``data`` to a new temporary file next to ``path``, then rename it into place.

    As ``checkpoint.py`` saves: O_EXCL (never an existing file), mode 0666 less the umask,
    flushed to disk before the rename; on any failure the temporary file is removed.
    """
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}-"
                                        f"{uuid.uuid4().hex[:12]}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _refuse(graph, x, expected):
    """The template's error for a layer's input shape (unknown sizes shown as ?)."""
    shown = "(" + ", ".join("?" if n is None else str(n) for n in x.shape) + ")"
    _checks.fail(graph.owner, f"input of shape {expected}", _checks.Described(shown))


def _features(graph, x, size, ranks, expected):
    """Refuse an input whose rank or last axis does not fit the layer."""
    if len(x.shape) not in ranks or x.shape[-1] not in (size, None):
        _refuse(graph, x, expected)


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
        _refuse(graph, x, "(batch, channels, y, x)")
    out = [None if not isinstance(n, int) else (n - p) // s + 1
           for n, p, s in zip(x.shape[2:], layer.pooling_shape, layer.stride_shape)]
    if any(n is not None and n < 1 for n in out):
        _refuse(graph, x, f"(batch, channels, y, x) of at least {layer.pooling_shape}")
    y = graph.node("MaxPool", [x], kernel_shape=list(layer.pooling_shape),
                   strides=list(layer.stride_shape))
    return x.to(y, (*x.shape[:2], *out))


# -- layers with parameters ----------------------------------------------------------


@register(FullyConnected.FullyConnected)
def fully_connected(layer, graph, x):
    _features(graph, x, layer.input_size, (2, 3), f"(batch, {layer.input_size})")
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
        _refuse(graph, x, f"(batch, {c}) or (batch, {c}, y, x)")
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
        _refuse(graph, x, expected)
    pads = [same_padding(k) for k in kernel]
    out = [-(-n // s) if isinstance(n, int) else None
           for n, s in zip(x.shape[2:], layer.stride_shape)]
    shape = (x.shape[0], layer.num_kernels, *out)
    if x.dtype == np.float64:
        if None in out:
            _refuse(graph, x, expected + " with known sizes (the float64 Conv needs them: "
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


# -- recurrent layers ----------------------------------------------------------------

# Our column blocks in ONNX's gate order (see the module docstring).
ONNX_GATE_ORDER = {RNN.RNN: (0,), LSTM.LSTM: (1, 2, 0, 3), GRU.GRU: (1, 0, 2)}


@register(RNN.RNN)
@register(LSTM.LSTM)
@register(GRU.GRU)
def recurrent(layer, graph, x):
    n_in, n, out = layer.input_size, layer.hidden_size, layer.output_size
    _features(graph, x, n_in, (2, 3), f"(time, {n_in}) or (batch, time, {n_in})")
    classic = len(x.shape) == 2                      # one sequence: a batch of one
    seq = graph.node("Unsqueeze", [x, graph.ints([0])]) if classic else x.name
    if x.dtype == np.float64:
        h = _scan(layer, graph, seq, x.dtype)
    else:
        h = _onnx_operator(layer, graph, seq)
    if out is not None:                               # y_t = sigmoid([h_t, 1] @ output_weights)
        w = layer.output_weights
        h = graph.node("Sigmoid", [graph.node("Add", [
            graph.node("MatMul", [h, graph.constant(w[:-1], "output_weights")]),
            graph.constant(w[-1], "output_bias")])])
    if classic:
        h = graph.node("Squeeze", [h, graph.ints([0])])
    return x.to(h, (*x.shape[:-1], n if out is None else out))


def _onnx_operator(layer, graph, seq):
    """The ONNX RNN/LSTM/GRU operator on ``seq`` (batch, time, input_size) -> (batch, time,
    hidden_size), weights converted to its layout and gate order."""
    n_in, n = layer.input_size, layer.hidden_size
    order = ONNX_GATE_ORDER[type(layer)]
    w = layer.weights

    def onnx_blocks(rows):          # (rows, gates * n) -> (1, gates * n, rows), ONNX's order
        return np.concatenate([rows[:, g * n:(g + 1) * n] for g in order], axis=1).T[None]

    biases = w[n_in + n:]                             # b (RNN, LSTM) or [b_x; b_h] (GRU)
    recurrent_bias = biases[1:2] if len(biases) == 2 else np.zeros_like(biases[:1])
    bias = np.concatenate([onnx_blocks(biases[:1]), onnx_blocks(recurrent_bias)], axis=1)
    attributes = {"linear_before_reset": 1} if type(layer) is GRU.GRU else {}
    y = graph.node(type(layer).__name__, [
        graph.node("Transpose", [seq], perm=[1, 0, 2]),            # (time, batch, input)
        graph.constant(onnx_blocks(w[:n_in]), "W"),
        graph.constant(onnx_blocks(w[n_in:n_in + n]), "R"),
        graph.constant(bias.reshape(1, -1), "B")], hidden_size=n, **attributes)
    y = graph.node("Squeeze", [y, graph.ints([1])])   # (time, 1 direction, batch, n) ->
    return graph.node("Transpose", [y], perm=[1, 0, 2])            # (batch, time, n)


def _scan(layer, graph, seq, dtype):
    """The cell's equations in a Scan over time (float64, see the module docstring)."""
    n_in, n = layer.input_size, layer.hidden_size
    w = layer.weights
    a_x = graph.node("Add", [graph.node("MatMul", [seq, graph.constant(w[:n_in], "W_x")]),
                             graph.constant(w[n_in + n], "b_x")])   # (batch, time, gates n)
    batch = graph.node("Shape", [seq], start=0, end=1)
    zeros = graph.node("ConstantOfShape", [graph.node("Concat", [batch, graph.ints([n])],
                                                      axis=0)],
                       value=graph.onnx.numpy_helper.from_array(np.zeros(1, dtype)))
    body = Graph(graph.onnx, parent=graph)
    cell = _LSTM_CELL if type(layer) is LSTM.LSTM else \
        _GRU_CELL if type(layer) is GRU.GRU else _RNN_CELL
    states = [body.name(s) for s in cell.states]
    a_x_t = body.name("a_x_t")
    new_states = cell.step(layer, body, a_x_t, states, dtype)
    h_t = body.node("Identity", [new_states[0]])
    body_graph = body.subgraph([(s, dtype) for s in states] + [(a_x_t, dtype)],
                               [(s, dtype) for s in new_states] + [(h_t, dtype)],
                               f"{graph.scope}_step")
    outputs = graph.node("Scan", [zeros] * len(states) + [a_x], outputs=len(states) + 1,
                         body=body_graph, num_scan_inputs=1, scan_input_axes=[1],
                         scan_output_axes=[1])
    return outputs[-1]


class _Cell(NamedTuple):
    states: tuple       # names of the state arrays, h first
    step: object        # (layer, body, a_x_t, states, dtype) -> new states


def _split(body, a, gates, n):
    """The ``gates`` column blocks of ``a`` (batch, gates * n)."""
    return body.node("Split", [a, body.ints([n] * gates)], outputs=gates, axis=1)


def _recurrent_part(layer, body, h_prev):
    n_in, n = layer.input_size, layer.hidden_size
    return body.node("MatMul", [h_prev, body.constant(layer.weights[n_in:n_in + n], "W_h")])


def _rnn_step(layer, body, a_x_t, states, dtype):
    """h = tanh(a_x + h_prev W_h)."""
    h_prev, = states
    return [body.node("Tanh", [body.node("Add", [a_x_t, _recurrent_part(layer, body, h_prev)])])]


def _lstm_step(layer, body, a_x_t, states, dtype):
    """a = a_x + h_prev W_h; f, i, o, g gates; c = f c_prev + i g; h = o tanh(c)."""
    h_prev, c_prev = states
    a = body.node("Add", [a_x_t, _recurrent_part(layer, body, h_prev)])
    a_f, a_i, a_o, a_g = _split(body, a, 4, layer.hidden_size)
    f, i, o = (body.node("Sigmoid", [g]) for g in (a_f, a_i, a_o))
    g = body.node("Tanh", [a_g])
    c = body.node("Add", [body.node("Mul", [f, c_prev]), body.node("Mul", [i, g])])
    return [body.node("Mul", [o, body.node("Tanh", [c])]), c]


def _gru_step(layer, body, a_x_t, states, dtype):
    """r, z = sigmoid(a_x + a_h); n = tanh(a_x,n + r a_h,n); h = (1 - z) n + z h_prev."""
    h_prev, = states
    k = layer.hidden_size
    a_h = body.node("Add", [_recurrent_part(layer, body, h_prev),
                            body.constant(layer.weights[layer.input_size + k + 1], "b_h")])
    x_r, x_z, x_n = _split(body, a_x_t, 3, k)
    h_r, h_z, h_n = _split(body, a_h, 3, k)
    r = body.node("Sigmoid", [body.node("Add", [x_r, h_r])])
    z = body.node("Sigmoid", [body.node("Add", [x_z, h_z])])
    n = body.node("Tanh", [body.node("Add", [x_n, body.node("Mul", [r, h_n])])])
    keep = body.node("Sub", [body.constant(np.ones((), dtype), "one"), z])
    return [body.node("Add", [body.node("Mul", [keep, n]), body.node("Mul", [z, h_prev])])]


_RNN_CELL = _Cell(("h",), _rnn_step)
_LSTM_CELL = _Cell(("h", "c"), _lstm_step)
_GRU_CELL = _Cell(("h",), _gru_step)


# -- sequence layers -----------------------------------------------------------------


def embedding(layer, graph, x):
    """Row t of ``weights`` for token t: Gather on axis 0, int64 tokens (batch, time)."""
    if len(x.shape) != 2:
        _refuse(graph, x, "(batch, time) of int64 tokens")
    y = graph.node("Gather", [graph.constant(layer.weights, "weights"), x], axis=0)
    return Tensor(y, (*x.shape, layer.embedding_size), graph.dtype)


def last_step(layer, graph, x):
    """``x[:, -1]``: Gather of index -1 on the time axis, which a scalar index drops."""
    if len(x.shape) != 3:
        _refuse(graph, x, "(batch, time, features)")
    y = graph.node("Gather", [x, graph.constant(np.array(-1, np.int64), "last")], axis=1)
    return x.to(y, (x.shape[0], x.shape[2]))


if Embedding is not None:
    register(Embedding.Embedding)(embedding)
    register(LastStep.LastStep)(last_step)
