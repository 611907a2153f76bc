"""RNN, LSTM and GRU beyond NeuralNetworkTests.py's TestRNN/TestLSTM/TestGRU (gradients, memorize,
update): batching, the cells' steps are what runs, the state, float32, the LSTM and GRU
against PyTorch, clipping, truncated BPTT, sequence data."""
import importlib.util
import pickle
import tracemalloc

import numpy as np
import pytest

from Data.Sequences import AddingData, SequenceWindows, adding_problem, noisy_sine
from Layers import GRU, LSTM, RNN, FullyConnected, Initializers, Sigmoid, _recurrent
from Optimization import Loss, Optimizers

CELLS = {"rnn": RNN.RNN, "lstm": LSTM.LSTM, "gru": GRU.GRU}


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(21)


def cell(kind, output_size=None, **kwargs):
    layer = CELLS[kind](4, 5, output_size, **kwargs)
    layer.initialize(Initializers.Xavier(), Initializers.Constant(0.1))
    return layer


# (hidden, batch, atol of dx, rtol/atol of the summed gradient)
BATCHES = {"narrow": (5, 3, 1e-14, 1e-12, 1e-14), "wide": (40, 32, 1e-13, 1e-11, 1e-12)}


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("width", sorted(BATCHES))
def test_batch_equals_sequences_one_by_one(kind, width):
    hidden, batch, dx_atol, sum_rtol, sum_atol = BATCHES[width]
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


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("shape", [(6, 4), (3, 6, 4)])
def test_forward_and_backward_run_the_cells_own_steps(kind, shape, monkeypatch):
    # The code in RNN.py, LSTM.py and GRU.py is the code that runs: one call of step and of
    # step_backward per time step, and their results are the layer's.
    cls = CELLS[kind]
    calls = {"step": 0, "step_backward": 0}
    for name in calls:
        original = getattr(cls, name)

        def counted(self, *args, _name=name, _original=original):
            calls[_name] += 1
            return _original(self, *args)
        monkeypatch.setattr(cls, name, counted)
    layer = cell(kind)
    y = layer.forward(np.random.normal(size=shape))
    layer.backward(np.ones_like(y))
    assert calls == {"step": 6, "step_backward": 6}
    monkeypatch.setattr(cls, "step", lambda self, a_x, state: (state, (state[0],) * 4))
    with pytest.raises(Exception):      # a step that does nothing breaks the layer
        np.testing.assert_allclose(layer.forward(np.random.normal(size=shape)), y)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_a_step_gets_its_gates_as_contiguous_blocks(kind, monkeypatch):
    # Gate-major: the step's input part a_x is (gates, batch, hidden) and gate k's block is
    # x_t @ W_x[:, block k] + b: one contiguous array per gate, so the elementwise calls
    # of a step run over contiguous memory (bench/README.md: the LSTM step ran 1.2x faster).
    layer = cell(kind)
    x = np.random.normal(size=(3, 6, 4))
    w_x, _, b = layer._blocks()
    seen = []
    original = CELLS[kind].step

    def spy(self, a_x, state):
        seen.append(a_x.copy())
        assert a_x.shape == (layer._gates, 3, 5) and all(a.flags.c_contiguous for a in a_x)
        return original(self, a_x, state)
    monkeypatch.setattr(CELLS[kind], "step", spy)
    layer.forward(x)
    for t, a_x in enumerate(seen):
        expected = x[:, t] @ w_x + b[0]                    # (batch, gates * hidden)
        np.testing.assert_allclose(a_x, expected.reshape(3, layer._gates, 5).transpose(1, 0, 2),
                                   rtol=1e-13, atol=1e-15)


def test_a_step_called_by_itself_reads_the_current_weights():
    # Outside the time loops (a notebook plotting the gates calls step itself) the step
    # reads the weights as they are now, not a view the last forward took.
    layer = cell("lstm")
    layer.forward(np.random.normal(size=(2, 3, 4)))
    layer.weights = np.random.normal(size=layer.weights.shape)      # a new array
    x, h, c = np.random.normal(size=(2, 4)), np.random.normal(size=(2, 5)), np.zeros((2, 5))
    w_x, w_h, b = layer._blocks()
    a = (x @ w_x + b[0]).reshape(2, 4, 5).transpose(1, 0, 2)        # gate-major a_x
    (h_new, _), _ = layer.step(a, (h, c))
    pre = x @ w_x + h @ w_h + b[0]                                  # blocks f, i, o, g
    f, i, o, g = (pre[:, k * 5:(k + 1) * 5] for k in range(4))
    sig = lambda v: 1 / (1 + np.exp(-v))
    np.testing.assert_allclose(h_new, sig(o) * np.tanh(sig(i) * np.tanh(g)), rtol=1e-12)


def run(layer, x, e, first):
    """forward(first) to leave a state, then forward(x) and backward(e): every result."""
    layer.state = None
    layer.forward(first)
    y = layer.forward(x)
    dx = layer.backward(e)
    extra = [] if layer.output_size is None else [layer.gradient_output_weights]
    return [y, dx, layer.gradient_weights, *layer.state, *extra]


def test_one_lstm_and_one_sigmoid():
    # The steps in LSTM.py are the only LSTM (no second copy behind a switch), and the layer,
    # the LSTM and the GRU share Sigmoid.sigmoid (no scipy expit, no copy in the shell).
    assert importlib.util.find_spec("Layers._recurrent_kernels") is None
    assert not hasattr(LSTM.LSTM(2, 3), "fused")
    assert LSTM.sigmoid is GRU.sigmoid is Sigmoid.sigmoid
    assert not hasattr(_recurrent, "sigmoid") and not hasattr(GRU, "expit")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_sigmoid_keeps_the_dtype_and_is_exact_to_round_off(dtype):
    a = np.linspace(-800, 800, 20001).astype(dtype)
    exact = 1 / (1 + np.exp(-a.astype(np.longdouble)))
    with np.errstate(all="raise"):                        # no overflow on the way
        s = Sigmoid.sigmoid(a)
    assert s.dtype == dtype
    np.testing.assert_array_less(np.abs(s - exact), np.finfo(dtype).eps)
    block = a.reshape(1, -1)[:, ::2].copy()
    assert Sigmoid.sigmoid(block, out=block) is block      # in place, as the cells use it
    np.testing.assert_array_equal(block, s.reshape(1, -1)[:, ::2])


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_a_training_step_allocates_no_arrays_of_the_sequences_size(kind):
    # Everything of a sequence's size (caches, backward factors, dL/da) lives in buffers
    # that the next call of the same shapes reuses: fresh ones cost page faults.
    layer = CELLS[kind](8, 64, dtype=np.float32)
    x = np.random.normal(size=(16, 40, 8)).astype(np.float32)
    e = np.ones((16, 40, 64), np.float32)
    layer.backward(e + 0 * layer.forward(x), input_gradient=False)   # buffers allocated
    one_step = 16 * layer._gates * 64 * 4                  # bytes of a (batch, gates hidden)
    tracemalloc.start()
    try:
        y = layer.forward(x)
        layer.backward(e, input_gradient=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The output and the weight gradient are new; nothing else of the size of 40 steps.
    assert peak < y.nbytes + layer.weights.nbytes + 20 * one_step


def test_lstm_matches_torch():
    # The same equations as torch.nn.LSTM. Our gate blocks are f, i, o, g; PyTorch's
    # i, f, g, o, and its two biases add up to our one bias row.
    torch = pytest.importorskip("torch")
    layer = LSTM.LSTM(4, 5)
    layer.memorize = True
    x = np.random.normal(size=(3, 6, 4))
    h0, c0 = np.random.normal(size=(3, 5)), np.random.normal(size=(3, 5))
    e = np.random.normal(size=(3, 6, 5))
    reference = torch.nn.LSTM(4, 5, batch_first=True).double()
    w_x, w_h, b = layer._blocks()
    order = np.concatenate([np.arange(5, 10), np.arange(5), np.arange(15, 20), np.arange(10, 15)])
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_x[:, order].T), ("weight_hh_l0", w_h[:, order].T),
                            ("bias_ih_l0", b[0, order]), ("bias_hh_l0", np.zeros(20))):
            getattr(reference, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    layer.state = (h0, c0)
    y = layer.forward(x)
    dx = layer.backward(e)
    x_t = torch.from_numpy(x).requires_grad_()
    y_t, (h_t, c_t) = reference(x_t, (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    (y_t * torch.from_numpy(e)).sum().backward()
    back = np.argsort(order)                                  # PyTorch's blocks -> ours
    grad = np.vstack([reference.weight_ih_l0.grad.numpy().T, reference.weight_hh_l0.grad.numpy().T,
                      reference.bias_ih_l0.grad.numpy()[None]])[:, back]
    for name, ours, theirs in (("y", y, y_t.detach().numpy()), ("h", layer.state[0], h_t[0].detach().numpy()),
                               ("c", layer.state[1], c_t[0].detach().numpy()),
                               ("dx", dx, x_t.grad.numpy()), ("dW", layer.gradient_weights, grad)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_state_is_batch_first_and_none_resets(kind):
    layer = cell(kind)
    layer.memorize = True
    x = np.random.normal(size=(3, 6, 4))
    y = layer.forward(x)
    assert len(layer.state) == (2 if kind == "lstm" else 1)
    assert all(s.shape == (3, 5) for s in layer.state)
    np.testing.assert_array_equal(layer.state[0], y[:, -1])    # h of the last step
    assert not np.allclose(layer.forward(x), y)                # continued from the state
    layer.state = None
    np.testing.assert_array_equal(layer.forward(x), y)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_memorize_refuses_a_batch_that_does_not_fit_the_state(kind):
    layer = cell(kind)
    layer.memorize = True
    layer.forward(np.random.normal(size=(3, 6, 4)))
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}\.forward: memorize is on and the state "
                                         r"holds 3 sequences: expected input of shape "
                                         r"\(3, time, 4\), got \(2, 6, 4\); set layer.state "
                                         r"= None to start new sequences"):
        layer.forward(np.zeros((2, 6, 4)))
    with pytest.raises(ValueError, match=r"got \(6, 4\)"):            # classic: one sequence
        layer.forward(np.zeros((6, 4)))
    layer.state = tuple(s.T for s in layer.state)                     # (hidden, batch): refused
    with pytest.raises(ValueError, match=rf"{name}\.forward: expected state as .* of shape "
                                         r"\(batch, 5\), got shapes \[\(5, 3\)"):
        layer.forward(np.zeros((3, 6, 4)))
    layer.memorize = False                                            # not used: no check
    assert layer.forward(np.zeros((2, 6, 4))).shape == (2, 6, 5)


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


def test_cache_and_buffers_are_not_pickled():
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


def test_gru_matches_torch():
    # GRU follows torch.nn.GRU's equations; its weights hold PyTorch's four arrays as
    # [weight_ih.T; weight_hh.T; bias_ih; bias_hh] (see GRU's docstring).
    torch = pytest.importorskip("torch")
    layer = GRU.GRU(4, 5)
    layer.memorize = True
    x, h0 = np.random.normal(size=(3, 6, 4)), np.random.normal(size=(3, 5))
    e = np.random.normal(size=(3, 6, 5))
    reference = torch.nn.GRU(4, 5, batch_first=True).double()
    w_x, w_h, b = layer._blocks()
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_x.T), ("weight_hh_l0", w_h.T),
                            ("bias_ih_l0", b[0]), ("bias_hh_l0", b[1])):
            getattr(reference, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    layer.state = (h0,)
    y = layer.forward(x)
    dx = layer.backward(e)
    x_t = torch.from_numpy(x).requires_grad_()
    y_t, h_t = reference(x_t, torch.from_numpy(h0)[None])
    (y_t * torch.from_numpy(e)).sum().backward()
    grad = np.vstack([reference.weight_ih_l0.grad.numpy().T, reference.weight_hh_l0.grad.numpy().T,
                      reference.bias_ih_l0.grad.numpy(), reference.bias_hh_l0.grad.numpy()])
    for name, ours, theirs in (("y", y, y_t.detach().numpy()), ("h", layer.state[0], h_t[0].detach().numpy()),
                               ("dx", dx, x_t.grad.numpy()), ("dW", layer.gradient_weights, grad)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14, err_msg=name)
