"""The graph under construction, the converter registry and the shape refusals.

A converter is ``convert(layer, graph, x) -> Tensor``: it adds the layer's operators to
``graph`` (``Graph.node``, ``Graph.constant``, ``Graph.ints``) and returns the tensor
they compute, with its shape. ``register(LayerClass)`` puts it in ``CONVERTERS``.
"""
import itertools
from typing import NamedTuple

import numpy as np

import _checks

OPSET = 17
CONVERTERS = {}


def register(layer_class):
    """Decorator: ``@register(MyLayer)`` over ``convert(layer, graph, x) -> Tensor``; the
    export then converts every layer whose class is exactly ``MyLayer``."""
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


def refuse(graph, x, expected):
    """The template's error for a layer's input shape (unknown sizes shown as ?)."""
    shown = "(" + ", ".join("?" if n is None else str(n) for n in x.shape) + ")"
    _checks.fail(graph.owner, f"input of shape {expected}", _checks.Described(shown))


def features(graph, x, size, ranks, expected):
    """Refuse an input whose rank or last axis does not fit the layer."""
    if len(x.shape) not in ranks or x.shape[-1] not in (size, None):
        refuse(graph, x, expected)
