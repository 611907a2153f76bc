"""Export a network to ONNX, the field's exchange format, for inference.

``export(net, path, input_shape=None)``
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

``export_encoder(model, path)`` writes the encoder of an encoder-decoder (a ``Seq2Seq``:
its ``encoder_embedding`` and ``encoder``): the memory ``"memory"`` that the attention
reads and the final state ``"h"`` (and ``"c"`` for an LSTM) that the decoder starts from.

Where the converters are: ``graph.py`` holds the graph under construction and
the registry, ``feedforward.py`` the converters of the feed-forward layers and of
Embedding and LastStep, ``recurrent.py`` those of RNN, LSTM, GRU and Bidirectional.
Each module's docstring says how its layers map to standard operators, the recurrent layers'
gate orders and bias layouts included. A float64 network exports in float64:
ONNX Runtime's CPU provider has no double kernel for Conv, RNN, LSTM and GRU, and
those become other standard operators that have one (an im2col for Conv, a Scan
of the cell's equations for the recurrent layers), computing the same sums.
"""
import os

import numpy as np

import _checks
import _files
from Layers import Bidirectional
from . import feedforward, recurrent
from .graph import CONVERTERS, OPSET, Graph, Tensor, register

__all__ = ["export", "export_encoder", "register", "CONVERTERS", "Graph", "Tensor", "OPSET"]


def export(net, path, input_shape=None, *, dtype=None):
    """Write ``net`` in its testing phase to ``path`` as an ONNX model; return ``path``.

    Args:
        net: a built network (``layers`` non-empty), e.g. a ``NeuralNetwork`` or LeNet.
        path: file to write (str or path-like); replaced atomically, and only where the
            rule of docs/checkpoints.md allows (a regular file you could write).
        input_shape: shape of one sample without the batch axis (None entries: dynamic
            axes); by default ``net.input_shape`` or what the first layer fixes.
        dtype: float dtype of a network without parameters (default float64); otherwise
            the first parameter's dtype is the model's input dtype.

    Raises ``TypeError`` for a layer without a converter and ``ValueError`` for an input
    shape that does not fit; nothing is written then. The model's input is ``"input"``
    (int64 tokens for an Embedding first), its output ``"output"``.
    """
    import onnx.numpy_helper                # (Graph.constant's; binds onnx)

    owner = "export_onnx"
    _check_path(path, owner)
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
    source = Tensor("input", (_first_axis(first, shape), *shape),
                    np.int64 if _is_embedding(first) else float_type)
    graph = Graph(onnx)
    x = source
    for position, layer in enumerate(layers):
        x = CONVERTERS[type(layer)](layer, graph, _enter(graph, position, layer, x,
                                                         float_type, owner))
    return _write(graph, type(net).__name__, layers, source, {"output": x}, path, owner)


def export_encoder(model, path):
    """Write the encoder of an encoder-decoder model (a ``Seq2Seq``) as an ONNX model.

    The graph is ``encoder_embedding`` then ``encoder`` (an RNN, LSTM or GRU with
    ``output_size=None``, or a ``Bidirectional`` one), in the encoder's dtype:

        input   int64 source tokens             (batch, time), both axes dynamic
        memory  the encoder's states            (batch, time, H)
        h       its final state                 (batch, H)
        c       its final cell state, LSTM only (batch, H)

    what ``Seq2Seq`` hands its decoder and attention. ``H`` is the hidden size, twice it
    for a Bidirectional encoder, whose final state is ``[h_fwd(T), h_bwd(1)]``: each
    direction's state after its last step, side by side. PAD tokens are read like any
    other (the framework's encoder reads them too). Return ``path``; refusals as ``export``.
    """
    import onnx.numpy_helper

    owner = "export_encoder"
    _check_path(path, owner)
    embedding, encoder = (getattr(model, name, None)
                          for name in ("encoder_embedding", "encoder"))
    if not (_is_embedding(embedding) and type(encoder) in ENCODERS
            and getattr(encoder, "output_size", None) is None):
        _checks.fail(owner, "an encoder-decoder model whose encoder_embedding is an "
                     "Embedding and encoder an RNN, LSTM or GRU with output_size=None, "
                     "or a Bidirectional one", _checks.Described(
                         f"{type(model).__name__} with encoder_embedding {embedding!r}, "
                         f"encoder {encoder!r}"), TypeError)
    source = Tensor("input", ("batch", "time"), np.int64)
    graph = Graph(onnx)
    x = CONVERTERS[type(embedding)](embedding, graph, _enter(graph, 0, embedding, source,
                                                             encoder.dtype, owner))
    memory, final = recurrent.sequence_and_state(
        encoder, graph, _enter(graph, 1, encoder, x, encoder.dtype, owner))
    outputs = {"memory": memory, **dict(zip(("h", "c"), final))}
    return _write(graph, f"{type(model).__name__}_encoder", [embedding, encoder], source,
                  outputs, path, owner)


# Encoders ``export_encoder`` takes: a recurrent layer or a Bidirectional one.
ENCODERS = (*recurrent.RECURRENT_LAYERS, Bidirectional.Bidirectional)


def _check_path(path, owner):
    if not isinstance(path, (str, os.PathLike)):
        _checks.fail(owner, "a file path (str or os.PathLike)", path, TypeError)
    _files.check(path, owner)               # refused before any work: the one rule


def _enter(graph, position, layer, x, float_type, owner):
    """Point ``graph`` at layer ``position`` (names, error messages, dtype); return ``x``
    cast to a trainable layer's dtype, as the framework casts on entry."""
    graph.scope = f"{position}_{type(layer).__name__}"
    graph.owner = f"{owner}: layer {position} {layer!r}"
    trainable = getattr(layer, "trainable", False)
    x = _cast(graph, x, getattr(layer, "dtype", None) if trainable else None)
    graph.dtype = x.dtype if x.dtype != np.int64 else getattr(layer, "dtype", float_type)
    return x


def _write(graph, name, layers, source, outputs, path, owner):
    """The model of ``graph`` with input ``source`` and ``outputs`` (name -> Tensor),
    shapes inferred and checked, written atomically to ``path``; return ``path``."""
    import onnx
    import onnx.checker
    import onnx.shape_inference

    for output, x in outputs.items():
        _name_the_output(graph, x.name, output)
    model = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, name,
                               [graph.value_info(source.name, source.dtype,
                                                 list(source.shape))],
                               [graph.value_info(output, x.dtype, list(x.shape))
                                for output, x in outputs.items()],
                               graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="NumPy layer framework (onnx_export)",
        doc_string="\n".join(f"({i}) {layer!r}" for i, layer in enumerate(layers)))
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    try:
        # The shapes of every edge, for viewers such as Netron; strict: a clash is an error.
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        _checks.fail(owner, "converters that build a valid ONNX model (is one of them "
                     "yours?)", _checks.Described(str(err).strip()))
    _files.write_atomically(path, model.SerializeToString(), owner)
    return path


def _name_the_output(graph, name, output="output"):
    """Call the network's output ``output``: rename it where the last node makes it."""
    producer = next((n for n in reversed(graph.nodes) if name in n.output), None)
    if producer is None or any(name in n.input for n in graph.nodes):
        graph.nodes.append(graph.onnx.helper.make_node("Identity", [name], [output],
                                                       name=output))
    else:
        producer.output[list(producer.output).index(name)] = output


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
        elif type(first) is feedforward.Conv.Conv:
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
    classic = type(first) in recurrent.RECURRENT_LAYERS and len(shape) == 1
    return "time" if classic else "batch"


def _is_embedding(layer):
    return type(layer) in feedforward.TOKEN_LAYERS


def _cast(graph, x, dtype):
    """``x`` in a trainable layer's dtype: the framework casts the input on entry."""
    if dtype is None or x.dtype == np.int64 or np.dtype(dtype) == np.dtype(x.dtype):
        return x
    to = graph.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return x.to(graph.node("Cast", [x.name], to=to), dtype=np.dtype(dtype).type)
