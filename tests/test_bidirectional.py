"""Bidirectional: both directions' states side by side, the layer contract, gradients (also
through LastStep), its optimizer and initialize, refusals, and PyTorch's numbers."""
import numpy as np
import pytest

import NeuralNetwork
from Layers import GRU, LSTM, RNN, Bidirectional, FullyConnected, Helpers, Initializers, LastStep
from Optimization import Constraints, Loss, Optimizers

CELLS = {"rnn": RNN.RNN, "lstm": LSTM.LSTM, "gru": GRU.GRU}


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(7)


def bidirectional(kind, input_size=4, hidden_size=5, **kwargs):
    layer = Bidirectional.Bidirectional(CELLS[kind](input_size, hidden_size, **kwargs))
    layer.initialize(Initializers.Xavier(), Initializers.UniformRandom())
    return layer


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_check_layer(kind):
    # sequence=False: unlike a one-way layer, the output at t reads the later steps too.
    Helpers.check_layer(bidirectional(kind, 3, 4), (2, 5, 3), sequence=False).assert_ok()


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_output_is_forward_states_then_backward_states(kind):
    layer = bidirectional(kind)
    x = np.random.normal(size=(3, 6, 4))
    y = layer.forward(x)
    assert y.shape == (3, 6, 10)
    forward, backward = CELLS[kind](4, 5), CELLS[kind](4, 5)
    forward.weights, backward.weights = layer.weights.copy(), layer.backward_weights.copy()
    np.testing.assert_array_equal(y[..., :5], forward.forward(x))
    np.testing.assert_array_equal(y[..., 5:], backward.forward(x[:, ::-1])[:, ::-1])
    # The backward direction's state at step 0 has read the whole sequence.
    np.testing.assert_array_equal(y[:, 0, 5:], backward.forward(x[:, ::-1])[:, -1])
    e = np.random.normal(size=y.shape)
    dx = layer.backward(e)
    expected = forward.backward(e[..., :5]) + backward.backward(e[:, ::-1, 5:])[:, ::-1]
    np.testing.assert_allclose(dx, expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(layer.gradient_weights, forward.gradient_weights)
    np.testing.assert_array_equal(layer.gradient_backward_weights, backward.gradient_weights)


def test_a_classic_two_dimensional_input_is_one_sequence():
    layer = bidirectional("lstm")
    x = np.random.normal(size=(6, 4))
    batch_of_one = layer.forward(x[None])[0]
    y = layer.forward(x)
    np.testing.assert_array_equal(y, batch_of_one)
    assert layer.backward(np.ones_like(y)).shape == x.shape


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_gradients_through_last_step(kind):
    layers = [bidirectional(kind, 3, 4), LastStep.LastStep(), FullyConnected.FullyConnected(8, 2),
              Loss.L2Loss()]
    x = np.random.normal(size=(2, 5, 3))
    label = np.random.normal(size=(2, 2))
    assert np.max(Helpers.gradient_check(layers, x, label)) <= 1e-5
    assert np.max(Helpers.gradient_check_weights(layers, x, label, False)) <= 1e-5


def test_the_backward_layer_is_a_fresh_layer_of_the_same_kind():
    np.random.seed(3)
    given = LSTM.LSTM(4, 5, dtype=np.float32)
    layer = Bidirectional.Bidirectional(given)
    assert layer.forward_layer is given
    twin = layer.backward_layer
    assert type(twin) is LSTM.LSTM and (twin.input_size, twin.hidden_size) == (4, 5)
    assert twin.output_size is None and twin.dtype == np.float32
    assert twin.weights.shape == given.weights.shape and not np.shares_memory(twin.weights,
                                                                             given.weights)
    assert not np.allclose(twin.weights, given.weights)        # its own numbers
    assert layer.forward(np.zeros((2, 3, 4))).dtype == np.float32
    assert repr(layer) == "Bidirectional(LSTM(4, 5))"


def test_optimizer_reaches_both_layers_each_with_its_own_state():
    layer = bidirectional("gru")
    optimizer = Optimizers.Adam(1e-2)
    layer.optimizer = optimizer
    assert layer.optimizer is optimizer and layer.forward_layer.optimizer is optimizer
    twin = layer.backward_layer.optimizer
    assert twin is not optimizer and twin.source is optimizer
    assert layer.parameter_optimizers() == {"weights": optimizer, "backward_weights": twin}
    before = {name: value.copy() for name, value in layer.parameters().items()}
    y = layer.forward(np.random.normal(size=(2, 3, 4)))
    layer.backward(np.ones_like(y))
    assert all(not np.allclose(layer.parameters()[name], before[name]) for name in before)
    layer.optimizer = None
    assert layer.backward_layer.optimizer is None and layer.parameter_optimizers() is None
    with pytest.raises(TypeError, match=r"Bidirectional\.optimizer: expected an object with "
                                        r"calculate_update"):
        layer.optimizer = "adam"


def test_a_given_layers_optimizer_becomes_both_layers():
    cell = LSTM.LSTM(4, 5)
    cell.optimizer = Optimizers.Sgd(0.1)
    layer = Bidirectional.Bidirectional(cell)
    assert layer.backward_layer.optimizer.source is cell.optimizer


def test_initialize_draws_both_layers():
    layer = Bidirectional.Bidirectional(LSTM.LSTM(4, 5))
    layer.initialize(Initializers.Constant(0.5), Initializers.Constant(0.0))
    for weights in (layer.weights, layer.backward_weights):
        np.testing.assert_array_equal(weights[:9], 0.5)
        np.testing.assert_array_equal(weights[9], [1.0] * 5 + [0.0] * 15)   # forget bias 1


def test_regularization_loss_counts_both_directions():
    layer = bidirectional("rnn")
    layer.optimizer = Optimizers.Sgd(0.1, regularizer=Constraints.L2_Regularizer(0.5))
    expected = 0.5 * (np.sum(layer.weights ** 2) + np.sum(layer.backward_weights ** 2))
    assert layer.calculate_regularization_loss() == pytest.approx(expected)


def test_skipping_the_input_gradient_keeps_the_gradients():
    layer = bidirectional("lstm")
    x = np.random.normal(size=(2, 3, 4))
    e = np.random.normal(size=(2, 3, 10))
    layer.forward(x)
    assert layer.backward(e, input_gradient=False) is None
    skipped = layer.gradient_weights.copy(), layer.gradient_backward_weights.copy()
    layer.forward(x)
    layer.backward(e)
    np.testing.assert_array_equal(skipped[0], layer.gradient_weights)
    np.testing.assert_array_equal(skipped[1], layer.gradient_backward_weights)


def test_in_a_network_it_trains_and_snapshots():
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-2), Initializers.Xavier(),
                                      Initializers.Constant(0.1))
    for layer in (Bidirectional.Bidirectional(GRU.GRU(2, 6)), LastStep.LastStep(),
                  FullyConnected.FullyConnected(12, 1)):
        net.append_layer(layer)
    net.loss_layer = Loss.L2Loss()
    # The sum of the first and last steps: needs both directions' memory.
    x = np.random.normal(size=(32, 5, 2))
    y = (x[:, 0, :1] + x[:, -1, :1])

    class Data:
        def next(self):
            return x, y
    net.data_layer = Data()
    twin = net.layers[0].backward_layer.optimizer
    assert twin is not None and twin.source is net.optimizer
    snapshot = net.snapshot()
    net.train(60)
    assert net.loss[-1] < 0.2 * net.loss[0]
    net.restore(snapshot)
    np.testing.assert_array_equal(net.layers[0].backward_weights, snapshot[0]["backward_weights"])


@pytest.mark.parametrize("layer, error, message", [
    (FullyConnected.FullyConnected(3, 4), TypeError,
     r"Bidirectional: expected an RNN, LSTM or GRU layer, got FullyConnected"),
    (LSTM.LSTM(3, 4, 2), ValueError,
     r"Bidirectional: expected a LSTM built with output_size=None \(hidden states out\), "
     r"got output_size=2"),
])
def test_refuses_a_layer_it_cannot_run(layer, error, message):
    with pytest.raises(error, match=message):
        Bidirectional.Bidirectional(layer)


def test_refuses_a_memorizing_layer_and_a_wrong_input():
    cell = GRU.GRU(3, 4)
    cell.memorize = True
    with pytest.raises(ValueError, match=r"Bidirectional: expected a GRU with memorize=False"):
        Bidirectional.Bidirectional(cell)
    layer = Bidirectional.Bidirectional(GRU.GRU(3, 4))
    with pytest.raises(ValueError, match=r"Bidirectional\.forward: expected input of shape "
                                         r"\(batch, time, 3\) or \(time, 3\), got \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"Bidirectional\.backward: expected error of shape "
                                         r"\(2, 5, 8\)"):
        layer.forward(np.zeros((2, 5, 3)))
        layer.backward(np.zeros((2, 5, 4)))


# -- PyTorch's bidirectional layers ------------------------------------------------------

def to_torch(kind, weights, n_in, n):
    """Our ``weights`` -> PyTorch's (weight_ih, weight_hh, bias_ih, bias_hh) of one direction.

    LSTM: our gate blocks f, i, o, g are PyTorch's i, f, g, o, and our one bias row is
    its two biases' sum (bias_hh = 0). GRU: rows [W_x; W_h; b_x; b_h] (GRU's docstring).
    RNN: one block, one bias row.
    """
    w_x, w_h, b = weights[:n_in], weights[n_in:n_in + n], weights[n_in + n:]
    order = np.arange(weights.shape[1])
    if kind == "lstm":
        order = np.concatenate([np.arange(n, 2 * n), np.arange(n), np.arange(3 * n, 4 * n),
                                np.arange(2 * n, 3 * n)])
    b_h = b[1] if kind == "gru" else np.zeros(weights.shape[1])
    return w_x[:, order].T, w_h[:, order].T, b[0, order], b_h[order], order


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_matches_torch_bidirectional(kind):
    torch = pytest.importorskip("torch")
    n_in, n = 4, 5
    layer = bidirectional(kind, n_in, n)
    x = np.random.normal(size=(3, 7, n_in))
    e = np.random.normal(size=(3, 7, 2 * n))
    reference = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        n_in, n, batch_first=True, bidirectional=True).double()
    orders = {}
    with torch.no_grad():
        for suffix, weights in (("", layer.weights), ("_reverse", layer.backward_weights)):
            *arrays, orders[suffix] = to_torch(kind, weights, n_in, n)
            for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), arrays):
                getattr(reference, f"{name}_l0{suffix}").copy_(
                    torch.from_numpy(np.ascontiguousarray(value)))
    y = layer.forward(x)
    dx = layer.backward(e)
    x_t = torch.from_numpy(x).requires_grad_()
    y_t = reference(x_t)[0]
    (y_t * torch.from_numpy(e)).sum().backward()
    expected = {"y": y_t.detach().numpy(), "dx": x_t.grad.numpy()}
    for suffix, ours in (("", "gradient_weights"), ("_reverse", "gradient_backward_weights")):
        grads = [getattr(reference, f"{name}_l0{suffix}").grad.numpy()
                 for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        rows = [grads[0].T, grads[1].T, grads[2][None]] + ([grads[3][None]] if kind == "gru" else [])
        expected[ours] = np.vstack(rows)[:, np.argsort(orders[suffix])]    # PyTorch's -> ours
        if kind != "gru":          # our one bias row stands for both of PyTorch's biases
            np.testing.assert_allclose(grads[2], grads[3], rtol=1e-12, atol=1e-14)
    for name, theirs in expected.items():
        ours = {"y": y, "dx": dx}.get(name)
        ours = getattr(layer, name) if ours is None else ours
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)
