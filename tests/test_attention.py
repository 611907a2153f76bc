"""Attention: values by hand, central-difference gradients of both inputs (decoder states
and memory), the padding mask, check_layer, PyTorch in float64, dtype, bad input."""
import numpy as np
import pytest

import NeuralNetwork
from Layers import Attention, FullyConnected, Helpers
from Layers._gradients import numerical_gradient, relative_difference
from Optimization import Optimizers

TOLERANCE = 1e-5      # the relative error of the other gradient checks
MASK = np.array([[True, True, True, True, True],
                 [True, True, False, False, False],       # padded at the end
                 [False, True, True, False, True]])       # and anywhere


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(28)


def attention(memory, mask=None):
    layer = Attention.Attention()
    layer.memory, layer.mask = memory, mask
    return layer


def problem(mask=None, batch=3, t_dec=4, t_enc=5, h=3):
    """Decoder states, encoder states and dL/dy of one random problem."""
    q = np.random.normal(size=(batch, t_dec, h))
    memory = np.random.normal(size=(batch, t_enc, h))
    r = np.random.normal(size=(batch, t_dec, 2 * h))
    return q, memory, r


def loss(layer, q, r):
    """``L = sum(y * r)``, so ``dL/dy = r``."""
    return float(np.sum(layer.forward(q) * r))


# -- values ---------------------------------------------------------------------------------

def test_one_step_by_hand():
    layer = attention(np.array([[[2.0, 0.0], [0.0, 3.0]]]))
    y = layer.forward(np.array([[[1.0, 0.0]]]))       # scores q . k = [2, 0]
    a0 = np.exp(2) / (np.exp(2) + 1)
    np.testing.assert_allclose(layer.alignment, [[[a0, 1 - a0]]], rtol=1e-15)
    np.testing.assert_allclose(y, [[[2 * a0, 3 * (1 - a0), 1.0, 0.0]]], rtol=1e-15)


def test_weights_are_a_softmax_over_the_encoder_steps_and_the_output_is_context_then_query():
    q, memory, _ = problem()
    layer = attention(memory)
    y = layer.forward(q)
    a = layer.alignment
    assert a.shape == (3, 4, 5) and y.shape == (3, 4, 6)
    np.testing.assert_allclose(a.sum(axis=2), 1, rtol=1e-14)
    np.testing.assert_allclose(y[..., :3], np.einsum("btu,buh->bth", a, memory), rtol=1e-13)
    np.testing.assert_array_equal(y[..., 3:], q)


def test_huge_scores_do_not_overflow():
    layer = attention(np.full((1, 3, 2), 1e3))
    y = layer.forward(np.full((1, 2, 2), 1e3))        # scores 2e6: exp would overflow unshifted
    np.testing.assert_allclose(layer.alignment, 1 / 3, rtol=1e-15)
    assert np.all(np.isfinite(y))


def test_alignment_is_a_copy():
    q, memory, r = problem()
    layer = attention(memory)
    layer.forward(q)
    dq = layer.backward(r)
    layer.alignment[:] = 0                          # what a plotting script might do
    np.testing.assert_array_equal(layer.backward(r), dq)


# -- gradients ------------------------------------------------------------------------------

@pytest.mark.parametrize("mask", [None, MASK], ids=["no mask", "mask"])
def test_gradients_of_both_inputs_match_central_differences(mask):
    q, memory, r = problem()
    layer = attention(memory, mask)
    layer.forward(q)
    dq = layer.backward(r)
    dmemory = layer.memory_error
    numeric_q = numerical_gradient(q, lambda: loss(layer, q, r))
    numeric_memory = numerical_gradient(memory, lambda: loss(layer, q, r))   # read in forward
    assert np.max(relative_difference(dq, numeric_q)) <= TOLERANCE
    assert np.max(relative_difference(dmemory, numeric_memory)) <= TOLERANCE
    assert np.any(dmemory) and np.any(dq - r[..., 3:])          # neither is trivial


def test_the_gradient_check_fails_without_the_softmax_term():
    """The check above can fail: dropping the softmax's Jacobian (ds = da) is caught."""
    q, memory, r = problem()
    layer = attention(memory)
    layer.forward(q)
    a, dc = layer.alignment, r[..., :3]
    wrong = r[..., 3:] + (a * (dc @ memory.transpose(0, 2, 1))) @ memory
    numeric = numerical_gradient(q, lambda: loss(layer, q, r))
    assert np.max(relative_difference(wrong, numeric)) > 1e-2


@pytest.mark.parametrize("mask", [None, np.array([[True, False, True, True, False]])],
                         ids=["no mask", "mask"])
def test_check_layer(mask):
    # One sample: the memory belongs to the batch, and check_layer's one-by-one comparison
    # splits only the input; the next test splits both.
    report = Helpers.check_layer(attention(np.random.normal(size=(1, 5, 3)), mask), (1, 4, 3),
                                 sequence=True)
    report.assert_ok()
    assert "gradient: input" in str(report) and "sequence: causal" in str(report)


def test_each_sample_attends_to_its_own_memory_only():
    q, memory, r = problem()
    layer = attention(memory, MASK)
    y, dq = layer.forward(q), layer.backward(r)
    dmemory = layer.memory_error
    for i in range(3):
        single = attention(memory[i:i + 1], MASK[i:i + 1])
        np.testing.assert_allclose(single.forward(q[i:i + 1]), y[i:i + 1], rtol=1e-14)
        np.testing.assert_allclose(single.backward(r[i:i + 1]), dq[i:i + 1], rtol=1e-13)
        np.testing.assert_allclose(single.memory_error, dmemory[i:i + 1], rtol=1e-13)


# -- the mask -------------------------------------------------------------------------------

def test_padded_steps_get_zero_weight_and_zero_gradient():
    q, memory, r = problem()
    layer = attention(memory, MASK)
    layer.forward(q)
    layer.backward(r)
    padded = ~MASK
    assert np.all(layer.alignment.transpose(0, 2, 1)[padded] == 0)
    assert np.all(layer.memory_error[padded] == 0)
    assert np.all(layer.alignment.transpose(0, 2, 1)[MASK] > 0)
    np.testing.assert_allclose(layer.alignment.sum(axis=2), 1, rtol=1e-14)


def test_the_output_does_not_depend_on_what_the_padding_holds():
    q, memory, r = problem()
    layer = attention(memory, MASK)
    y, dq = layer.forward(q), layer.backward(r)
    dmemory = layer.memory_error
    for junk in (1e6, np.nan, np.inf):
        other = memory.copy()
        other[~MASK] = junk
        layer = attention(other, MASK)
        np.testing.assert_array_equal(layer.forward(q), y)
        np.testing.assert_array_equal(layer.backward(r), dq)
        np.testing.assert_array_equal(layer.memory_error, dmemory)


def test_an_all_true_mask_is_no_mask():
    q, memory, r = problem()
    plain, masked = attention(memory), attention(memory, np.ones((3, 5), bool))
    np.testing.assert_allclose(masked.forward(q), plain.forward(q), rtol=1e-15)
    np.testing.assert_allclose(masked.backward(r), plain.backward(r), rtol=1e-15)
    np.testing.assert_allclose(masked.memory_error, plain.memory_error, rtol=1e-15)


# -- against PyTorch ------------------------------------------------------------------------

@pytest.mark.parametrize("mask", [None, MASK], ids=["no mask", "mask"])
def test_matches_torch_in_float64(mask):
    torch = pytest.importorskip("torch")
    q, memory, r = problem(batch=3, t_dec=6, t_enc=5, h=4)
    q_t = torch.tensor(q, requires_grad=True)
    memory_t = torch.tensor(memory, requires_grad=True)
    scores = torch.bmm(q_t, memory_t.transpose(1, 2))
    if mask is not None:
        scores = scores.masked_fill(~torch.from_numpy(mask)[:, None, :], float("-inf"))
    a = torch.softmax(scores, dim=2)
    y_t = torch.cat([torch.bmm(a, memory_t), q_t], dim=2)
    (y_t * torch.from_numpy(r)).sum().backward()

    layer = attention(memory, mask)
    close = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.forward(q), y_t.detach().numpy(), **close)
    np.testing.assert_allclose(layer.alignment, a.detach().numpy(), **close)
    np.testing.assert_allclose(layer.backward(r), q_t.grad.numpy(), **close)
    np.testing.assert_allclose(layer.memory_error, memory_t.grad.numpy(), **close)


# -- dtype, copies, checkpoints -------------------------------------------------------------

def test_float32_stays_float32():
    q, memory, r = problem(mask=None)
    layer = attention(memory.astype(np.float32), MASK)
    y = layer.forward(q.astype(np.float32))
    dq = layer.backward(r.astype(np.float32))
    assert y.dtype == dq.dtype == layer.memory_error.dtype == layer.alignment.dtype \
        == np.float32
    layer.memory = memory                              # float64 memory: the input's dtype wins
    assert layer.forward(q.astype(np.float32)).dtype == np.float32


def test_forward_leaves_its_arguments_alone_and_returns_new_arrays():
    q, memory, r = problem()
    copies = [a.copy() for a in (q, memory, r, MASK)]
    layer = attention(memory, MASK)
    y = layer.forward(q)
    layer.backward(r)
    for before, after in zip(copies, (q, memory, r, MASK)):
        np.testing.assert_array_equal(before, after)
    assert not np.shares_memory(y, q)


def test_a_network_holding_attention_saves_and_loads(tmp_path):
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(0.1))
    net.append_layer(Attention.Attention())
    net.append_layer(FullyConnected.FullyConnected(6, 2))
    net.layers[0].memory = np.zeros((1, 2, 3))          # a batch's input, not saved
    net.save(tmp_path / "net.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "net.ckpt")
    assert type(loaded.layers[0]) is Attention.Attention and loaded.layers[0].memory is None
    np.testing.assert_array_equal(loaded.layers[1].weights, net.layers[1].weights)


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("memory, mask, error, message", [
    (None, None, ValueError, r"Attention.forward: expected attention.memory = the encoder "
                             r"states \(batch, T_enc, hidden\) = \(3, T_enc, 4\) like the decoder "
                             r"states, set before forward, got None"),
    (np.zeros((3, 5, 2)), None, ValueError, r"Attention.forward: expected memory of shape "
                                            r"\(batch, T_enc, hidden\) = \(3, T_enc, 4\) like the "
                                            r"decoder states, got \(3, 5, 2\) \(decoder states "
                                            r"\(3, 2, 4\)\)"),
    (np.zeros((2, 5, 4)), None, ValueError, r"memory of shape .* = \(3, T_enc, 4\) .* got "
                                            r"\(2, 5, 4\)"),
    (np.zeros((3, 0, 4)), None, ValueError, r"memory of shape .* got \(3, 0, 4\)"),
    (np.zeros((3, 4)), None, ValueError, r"memory of shape .* got \(3, 4\)"),
    (np.full((3, 5, 4), "a"), None, TypeError, r"Attention.forward: expected memory, a numeric "
                                               r"array .* got an array of dtype <U1"),
    (np.zeros((3, 5, 4)), np.ones((3, 4), bool), ValueError,
     r"Attention.forward: expected mask of shape \(batch, T_enc\) = \(3, 5\), got \(3, 4\)"),
    (np.zeros((3, 5, 4)), np.ones((3, 5)), TypeError,
     r"Attention.forward: expected a boolean mask \(True at real encoder steps\), got an "
     r"array of dtype float64"),
    (np.zeros((3, 5, 4)), np.array([[1, 1, 0, 0, 0], [0] * 5, [0] * 5], bool), ValueError,
     r"Attention.forward: expected at least one unmasked encoder step per sequence, got a "
     r"mask that is all False for sequence\(s\) \[1, 2\]"),
], ids=["no memory", "hidden size", "batch", "no encoder step", "2-D memory", "strings",
        "mask shape", "float mask", "all masked"])
def test_bad_memory_and_mask(memory, mask, error, message):
    with pytest.raises(error, match=message):
        attention(memory, mask).forward(np.zeros((3, 2, 4)))


def test_bad_decoder_states_and_error():
    layer = attention(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"Attention.forward: expected input of shape "
                                         r"\(batch, T_dec, hidden\), got \(2, 4\)"):
        layer.forward(np.zeros((2, 4)))
    with pytest.raises(RuntimeError, match="Attention.backward: called before forward"):
        layer.backward(np.zeros((2, 3, 8)))
    layer.forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"Attention.backward: expected error of shape "
                                         r"\(2, 3, 8\) \(the last output\), got \(2, 3, 4\)"):
        layer.backward(np.zeros((2, 3, 4)))
