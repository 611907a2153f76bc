"""Converters of the recurrent layers RNN, LSTM and GRU, with their optional output layer,
and of Bidirectional.

float32: the ONNX RNN, LSTM and GRU operators, on (time, batch, features) input (ONNX
Runtime refuses the batch-first ``layout=1``): a Transpose before and after, and a 2-D
classic sequence is a batch of one. Our ``weights`` rows [W_x; W_h; b] with column
blocks per gate become ONNX's ``W = W_x^T``, ``R = W_h^T`` (row blocks per gate) and
``B = [Wb, Rb]``:

    RNN   one block; Wb = b, Rb = 0.
    LSTM  our gate order f, i, o, g becomes ONNX's i, o, f, c (our blocks 1, 2, 0, 3);
          Wb = b, Rb = 0. ONNX's default activations (sigmoid, tanh, tanh) are ours.
    GRU   our r, z, n becomes ONNX's z, r, h (our blocks 1, 0, 2); Wb = b_x, Rb = b_h,
          and ``linear_before_reset=1``: the reset gate scales the recurrent product
          with its bias, ``r * (h W_h,n + b_h,n)``, PyTorch's equation and ours.

float64: ONNX Runtime's CPU provider has no double kernel for these operators, so the
cell's own equations run in a Scan over the time axis: the input's part ``x @ W_x + b``
for all steps in one MatMul before the Scan, then per step ``h @ W_h`` (+ ``b_h`` for
the GRU) and the gates, in our gate order.

Bidirectional(RNN/LSTM/GRU): in float32 the same operator with
``direction="bidirectional"``: ``W``, ``R`` and ``B`` stack the forward layer's and the
backward layer's on their first axis, and the output ``Y`` (time, 2, batch, n) becomes
(batch, time, 2 n), forward features first, as the layer concatenates them (ONNX's
reverse direction writes each state at its step, as the layer flips it back). In float64
two Scans, the second with ``scan_input_directions=[1]`` and ``scan_output_directions=[1]``:
it reads time backwards and writes each state back at its step; a Concat joins them.

The optional output layer is MatMul + Add + Sigmoid on every step. Every sequence
starts from a zero state (``memorize`` is not exported). ``sequence_and_state`` gives the
final states as well (ONNX's ``Y_h``, ``Y_c``; a Scan's state outputs), for
``export_encoder``.
"""
from typing import NamedTuple

import numpy as np

from Layers import GRU, LSTM, RNN, Bidirectional
from .graph import Graph, features, register

RECURRENT_LAYERS = (RNN.RNN, LSTM.LSTM, GRU.GRU)

# Our column blocks in ONNX's gate order (see the module docstring).
ONNX_GATE_ORDER = {RNN.RNN: (0,), LSTM.LSTM: (1, 2, 0, 3), GRU.GRU: (1, 0, 2)}


@register(RNN.RNN)
@register(LSTM.LSTM)
@register(GRU.GRU)
@register(Bidirectional.Bidirectional)
def recurrent(layer, graph, x):
    cell = _directions(layer)[0]
    n_in, out = cell.input_size, getattr(layer, "output_size", None)
    features(graph, x, n_in, (2, 3), f"(time, {n_in}) or (batch, time, {n_in})")
    classic = len(x.shape) == 2                      # one sequence: a batch of one
    seq = x.to(graph.node("Unsqueeze", [x, graph.ints([0])]), (1, *x.shape)) if classic else x
    h, _ = sequence_and_state(layer, graph, seq, final_state=False)
    if out is not None:                               # y_t = sigmoid([h_t, 1] @ output_weights)
        w = layer.output_weights
        h = h.to(graph.node("Sigmoid", [graph.node("Add", [
            graph.node("MatMul", [h, graph.constant(w[:-1], "output_weights")]),
            graph.constant(w[-1], "output_bias")])]), (*h.shape[:-1], out))
    if classic:
        h = h.to(graph.node("Squeeze", [h, graph.ints([0])]), h.shape[1:])
    return h


def sequence_and_state(layer, graph, seq, final_state=True):
    """The states of an RNN, LSTM or GRU without its output layer, or of a Bidirectional
    one, on ``seq`` (batch, time, input_size): ``(states, final)``.

    ``states`` is the Tensor (batch, time, width), width the hidden size (twice it for a
    Bidirectional: forward, then backward features); ``final`` the list of final-state
    Tensors (batch, width), ``[h, c]`` for an LSTM and ``[h]`` otherwise, each direction's
    state after its last step (the backward one's after the sequence's first step) side by
    side; ``[]`` with ``final_state=False``.
    """
    layers = _directions(layer)
    width = len(layers) * layers[0].hidden_size
    if seq.dtype == np.float64:
        runs = [_scan(one, graph, seq.name, seq.dtype, reverse=bool(backward))
                for backward, one in enumerate(layers)]
        # per output (states, final h, final c): one name per direction
        per_output = list(zip(*([h, *final] for h, final in runs)))
        h, *final = [parts[0] if len(parts) == 1 else graph.node("Concat", parts, axis=-1)
                     for parts in per_output[:None if final_state else 1]]
    else:
        h, final = _onnx_operator(layers, graph, seq.name, width, final_state)
    batch = seq.shape[0]
    return seq.to(h, (batch, seq.shape[1], width)), [seq.to(s, (batch, width)) for s in final]


def _directions(layer):
    """``[layer]``, or a Bidirectional's ``[forward_layer, backward_layer]``."""
    if type(layer) is Bidirectional.Bidirectional:
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


def _onnx_weights(layer):
    """ONNX's ``W`` (1, gates n, input), ``R`` (1, gates n, n) and ``B`` (1, 2 gates n) of
    one direction, in its gate order (the module docstring)."""
    n_in, n = layer.input_size, layer.hidden_size
    order = ONNX_GATE_ORDER[type(layer)]
    w = layer.weights

    def onnx_blocks(rows):          # (rows, gates * n) -> (1, gates * n, rows), ONNX's order
        return np.concatenate([rows[:, g * n:(g + 1) * n] for g in order], axis=1).T[None]

    biases = w[n_in + n:]                             # b (RNN, LSTM) or [b_x; b_h] (GRU)
    recurrent_bias = biases[1:2] if len(biases) == 2 else np.zeros_like(biases[:1])
    bias = np.concatenate([onnx_blocks(biases[:1]), onnx_blocks(recurrent_bias)], axis=1)
    return onnx_blocks(w[:n_in]), onnx_blocks(w[n_in:n_in + n]), bias.reshape(1, -1)


def _onnx_operator(layers, graph, seq, width, final_state):
    """The ONNX RNN/LSTM/GRU operator on ``seq`` (batch, time, input_size), one direction
    or both: the states (batch, time, width) and the final states (batch, width), ``[]``
    without ``final_state``."""
    cls, n = type(layers[0]), layers[0].hidden_size
    w, r, b = (np.concatenate(parts) for parts in zip(*map(_onnx_weights, layers)))
    attributes = {"linear_before_reset": 1} if cls is GRU.GRU else {}
    count = (3 if cls is LSTM.LSTM else 2) if final_state else 1   # Y, Y_h, Y_c
    outputs = graph.node(cls.__name__, [
        graph.node("Transpose", [seq], perm=[1, 0, 2]),            # (time, batch, input)
        graph.constant(w, "W"), graph.constant(r, "R"), graph.constant(b, "B")],
        outputs=count, hidden_size=n,
        direction="bidirectional" if len(layers) == 2 else "forward", **attributes)
    y, *final = outputs if count > 1 else [outputs]
    # Y (time, directions, batch, n) -> (batch, time, directions * n), forward first
    y = graph.node("Reshape", [graph.node("Transpose", [y], perm=[2, 0, 1, 3]),
                               graph.ints([0, 0, width])])
    # Y_h, Y_c (directions, batch, n) -> (batch, directions * n)
    return y, [graph.node("Reshape", [graph.node("Transpose", [s], perm=[1, 0, 2]),
                                      graph.ints([0, width])]) for s in final]


def _scan(layer, graph, seq, dtype, reverse=False):
    """The cell's equations in a Scan over time (float64, see the module docstring):
    ``(states (batch, time, n), final states [h, (c)] each (batch, n))``. ``reverse``
    reads time backwards and writes each step's state back in its place."""
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
                               body.name("step").replace("/", "_"))
    *final, h = graph.node("Scan", [zeros] * len(states) + [a_x], outputs=len(states) + 1,
                           body=body_graph, num_scan_inputs=1, scan_input_axes=[1],
                           scan_output_axes=[1], scan_input_directions=[int(reverse)],
                           scan_output_directions=[int(reverse)])
    return h, final


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
