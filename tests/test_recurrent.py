"""RNN and LSTM beyond NeuralNetworkTests.py's TestRNN/TestLSTM (gradients, memorize, update):
batching, reused buffers, float32, clipping, truncated BPTT, sequence data."""
import pickle
import tracemalloc

import numpy as np
import pytest

from Data.Sequences import AddingData, SequenceWindows, adding_problem, noisy_sine
from Layers import LSTM, RNN, FullyConnected, Initializers, _recurrent
from Optimization import Loss, Optimizers

CELLS = {"rnn": RNN.RNN, "lstm": LSTM.LSTM}


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(21)


def cell(kind, output_size=None, **kwargs):
    layer = CELLS[kind](4, 5, output_size, **kwargs)
    layer.initialize(Initializers.Xavier(), Initializers.Constant(0.1))
    return layer


# (hidden, batch, atol of dx, rtol/atol of the summed gradient). A step of 40 units x 32
# sequences is above _recurrent.FEW, so its tanh takes the exp-based form while a single
# sequence takes np.tanh: the two must give the same numbers.
BATCHES = {"narrow": (5, 3, 1e-14, 1e-12, 1e-14), "wide": (40, 32, 1e-13, 1e-11, 1e-12)}


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("width", sorted(BATCHES))
def test_batch_equals_sequences_one_by_one(kind, width):
    hidden, batch, dx_atol, sum_rtol, sum_atol = BATCHES[width]
    assert (hidden * batch > _recurrent.FEW >= hidden) == (width == "wide")
    layer = CELLS[kind](4, hidden, 2)
    layer.initialize(Initializers.Xavier(), Initializers.Constant(0.1))
    x = np.random.normal(size=(batch, 6, 4))
    e = np.random.normal(size=(batch, 6, 2))
    batched, dx = layer.forward(x), layer.backward(e)
    grad = layer.gradient_weights.copy()
    total = np.zeros_like(grad)
    # Equal up to round-off: BLAS may sum a 1-row and a 3-row product in different orders.
    for b in range(batch):
        np.testing.assert_allclose(layer.forward(x[b]), batched[b], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.backward(e[b]), dx[b], rtol=1e-12, atol=dx_atol)
        total += layer.gradient_weights
    np.testing.assert_allclose(total, grad, rtol=sum_rtol, atol=sum_atol)


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 2e-7), (np.float64, 5e-16)])
def test_tanh_forms_agree(dtype, tolerance):
    x = np.concatenate([np.linspace(-60, 60, 3001), [0.0, 1e-6, -1e-6]]).astype(dtype)
    for size in (_recurrent.FEW, 3004):                 # np.tanh, then the exp-based form
        out = np.empty(size, dtype)
        with np.errstate(over="ignore"):
            np.testing.assert_allclose(_recurrent.tanh(x[:size], out), np.tanh(x[:size]),
                                       rtol=0, atol=tolerance)


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("output_size", [None, 2])
@pytest.mark.parametrize("shape", [(6, 4), (3, 6, 4), (1, 6, 4)])
def test_results_do_not_alias_the_reused_buffers(kind, output_size, shape):
    layer = CELLS[kind](4, 1 if output_size is None else 5, output_size)
    layer.optimizer = Optimizers.Sgd(1e-2)
    y = layer.forward(np.random.normal(size=shape))
    dx = layer.backward(np.random.normal(size=y.shape))
    state = [s.copy() for s in layer.state]
    kept = y.copy(), dx.copy()
    y2 = layer.forward(np.random.normal(size=shape))
    layer.backward(np.random.normal(size=y2.shape))
    np.testing.assert_array_equal(y, kept[0])
    np.testing.assert_array_equal(dx, kept[1])
    assert not all(np.array_equal(a, b) for a, b in zip(layer.state, state))


def test_buffers_are_not_pickled():
    layer = LSTM.LSTM(4, 32)
    empty = len(pickle.dumps(layer))
    layer.backward(np.ones_like(layer.forward(np.random.normal(size=(16, 50, 4)))))
    kept = layer.gradient_weights.nbytes + sum(s.nbytes for s in layer.state)
    assert len(pickle.dumps(layer)) < empty + kept + 1000   # buffers: > 200 kB
    restored = pickle.loads(pickle.dumps(layer))
    assert restored.forward(np.ones((2, 3, 4))).shape == (2, 3, 32)


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("shape", [(6, 4), (3, 6, 4)])
def test_skipping_the_input_gradient_keeps_gradients_and_update(kind, shape):
    # As the first layer of a NeuralNetwork, a recurrent layer skips dL/d(input).
    full, lean = cell(kind, 2), cell(kind, 2)
    lean.weights, lean.output_weights = full.weights.copy(), full.output_weights.copy()
    full.optimizer, lean.optimizer = Optimizers.Adam(1e-2), Optimizers.Adam(1e-2)
    assert lean.skips_input_gradient
    x = np.random.normal(size=shape)
    e = np.random.normal(size=full.forward(x).shape)
    lean.forward(x)
    assert full.backward(e).shape == shape
    assert lean.backward(e, input_gradient=False) is None
    for name in ("weights", "output_weights"):
        np.testing.assert_array_equal(getattr(lean, "gradient_" + name),
                                      getattr(full, "gradient_" + name))
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_float32(kind):
    layer = CELLS[kind](4, 5, 2, dtype=np.float32)
    layer.optimizer = Optimizers.Adam(1e-3)
    out = layer.forward(np.random.normal(size=(2, 3, 4)))
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert all(p.dtype == np.float32 for p in layer.parameters().values())


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_bad_input(kind):
    layer = CELLS[kind](4, 5)
    name = layer.__class__.__name__
    with pytest.raises(ValueError, match=rf"{name}\.forward: expected input of shape "
                                         r"\(time, 4\) or \(batch, time, 4\), got \(6, 3\)"):
        layer.forward(np.zeros((6, 3)))
    with pytest.raises(ValueError, match=rf"{name}\.forward: expected input of shape .*got \(4,\)"):
        layer.forward(np.zeros(4))
    with pytest.raises(ValueError, match=rf"{name}\.forward: expected at least one time step"):
        layer.forward(np.zeros((2, 0, 4)))
    with pytest.raises(ValueError, match=rf"{name}: expected hidden_size >= 1, got 0"):
        CELLS[kind](4, 0)


def test_gradient_clipping_bounds_the_step():
    big = np.full((3, 4), 100.0)
    clipped = Optimizers.Sgd(1.0, clip_norm=1.0).calculate_update(np.zeros((3, 4)), big)
    np.testing.assert_allclose(np.linalg.norm(clipped), 1.0)
    np.testing.assert_allclose(clipped, -big / np.linalg.norm(big))
    small = np.full((3, 4), 0.01)
    np.testing.assert_array_equal(Optimizers.clip_gradients(small, 5.0), small)


def test_sequence_data():
    x, y = adding_problem(500, 20, np.random.default_rng(0))
    assert x.shape == (500, 20, 2) and y.shape == (500, 1)
    np.testing.assert_array_equal(x[..., 1].sum(axis=1), 2)
    assert np.all(x[:, :10, 1].sum(axis=1) == 1)           # one marker in each half
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(axis=1))
    np.random.seed(3)
    a = AddingData(8, 20).next()[0]
    np.random.seed(3)
    np.testing.assert_array_equal(AddingData(8, 20).next()[0], a)
    s, t = noisy_sine(100, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(s[1:], t[:-1])


def test_sequence_windows_cover_the_sequence_in_order():
    inputs = np.arange(20.0).reshape(10, 2)
    windows = SequenceWindows(inputs, inputs * 2, 3)
    assert len(windows) == 3
    got = [windows.next() for _ in range(4)]
    np.testing.assert_array_equal(np.vstack([g[0] for g in got[:3]]), inputs[:9])
    assert windows.wrapped and np.array_equal(got[3][0], inputs[:3])
    with pytest.raises(ValueError, match="SequenceWindows: expected window <= 10"):
        SequenceWindows(inputs, inputs, 11)


def truncated_bptt_peak_bytes(length, window):
    """Peak memory of training an LSTM on one sequence of ``length`` in windows."""
    inputs, targets = noisy_sine(length, rng=np.random.default_rng(0))
    data = SequenceWindows(inputs, targets, window)
    lstm = LSTM.LSTM(1, 16)
    lstm.memorize = True
    lstm.optimizer = Optimizers.Adam(1e-3)
    head = FullyConnected.FullyConnected(16, 1)
    head.optimizer = Optimizers.Adam(1e-3)
    loss = Loss.L2Loss()
    tracemalloc.start()
    for _ in range(len(data)):
        x, y = data.next()
        out = head.forward(lstm.forward(x))
        loss.forward(out, y)
        lstm.backward(head.backward(loss.backward(y)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_truncated_bptt_memory_grows_with_the_window_not_the_sequence():
    short, long = truncated_bptt_peak_bytes(400, 20), truncated_bptt_peak_bytes(4000, 20)
    wide = truncated_bptt_peak_bytes(4000, 200)
    assert long < 1.3 * short                 # 10x the sequence, about the same memory
    assert wide > 3 * long                    # 10x the window, several times the memory


def test_truncated_bptt_learns_the_sine():
    np.random.seed(0)
    inputs, targets = noisy_sine(3000, noise=0.02, rng=np.random.default_rng(0))
    data = SequenceWindows(inputs, targets, 25)
    lstm = LSTM.LSTM(1, 16, 1)
    lstm.memorize = True
    lstm.optimizer = Optimizers.Adam(1e-2, clip_norm=5.0)
    loss = Loss.L2Loss()
    scaled = (targets + 1.5) / 3                               # into the sigmoid's (0, 1)
    errors = []
    for _ in range(3 * len(data)):
        x, _ = data.next()
        if data.wrapped:
            lstm.state = None
        y = scaled[data._start - data.window:data._start]
        errors.append(loss.forward(lstm.forward(x), y) / len(x))
        lstm.backward(loss.backward(y))
    assert np.mean(errors[-20:]) < 0.2 * np.mean(errors[:5])
