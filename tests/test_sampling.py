"""CharModel generation (issue 25) and its edge cases (issue 26, items 7 and 8)."""
from pathlib import Path

import numpy as np
import pytest

import NeuralNetwork
from Data import Names
from Models import CharModel

SHIPPED = Path(__file__).resolve().parent.parent / "trained" / "names_lstm.ckpt"


@pytest.fixture(scope="module")
def shipped():
    return NeuralNetwork.load(SHIPPED)


def record_outputs(layer):
    """Make ``layer`` note every output of its forward in the returned list."""
    outputs, forward = [], layer.forward

    def spy(x):
        out = forward(x)
        outputs.append(out.copy())
        return out

    layer.forward = spy
    return outputs


@pytest.mark.parametrize("prefix", ["", "mc"])
def test_sampling_uses_the_probabilities_of_the_whole_name_read_at_once(prefix):
    # Generation carries the state: the probabilities each character was drawn from are
    # those that one forward pass over '.' + name (teacher forcing) gives at that step.
    net = NeuralNetwork.load(SHIPPED)
    # In float64: the step-wise and the whole-name products sum in different orders, which
    # in float32 already gives 7.7e-7 here and could pass 1e-6 on another CPU's kernels.
    for layer in net.trainable_layers():
        layer.weights = layer.weights.astype(np.float64)
    outputs = record_outputs(net.layers[-1])
    names = net.sample(20, prefix=prefix, seed=0)
    del net.layers[-1].forward
    stepwise = np.concatenate(outputs, axis=1)          # (20, steps, 27)
    assert stepwise.dtype == np.float64
    assert len(outputs) == max(len(name) for name in names) + 1 - len(prefix)
    for i, name in enumerate(names):
        whole = net.test(np.array([[Names.END] + Names.encode(name)]))[0]   # (len + 1, 27)
        np.testing.assert_allclose(stepwise[i, :len(name) + 1], whole, rtol=0, atol=1e-6)


def test_the_shipped_model_writes_names_of_the_right_length(shipped):
    train = Names.split(Names.corpus())[0]
    expected = np.mean([len(w) for w in train])
    names = shipped.sample(1000, temperature=1.0, seed=0, max_length=30)
    lengths = np.array([len(name) for name in names])
    assert abs(lengths.mean() - expected) <= 0.25 * expected, (lengths.mean(), expected)
    assert np.mean(lengths == 30) < 0.02


def test_sampling_puts_back_phase_memorize_and_state():
    net = NeuralNetwork.load(SHIPPED)
    lstm = net.layers[1]
    lstm.memorize = True
    net.phase = False
    net.layers[0].testing_phase = True                    # a mixed phase comes back too
    state = lstm.state = (np.ones((2, 128), np.float32), np.zeros((2, 128), np.float32))
    net.sample(3, seed=0)
    assert [layer.testing_phase for layer in net.layers] == [True, False, False, False]
    assert lstm.memorize is True and lstm.state is state


def test_a_tiny_temperature_picks_the_most_likely_character(shipped):
    greedy = shipped.sample(4, temperature=1e-310, seed=0)
    assert greedy == shipped.sample(4, temperature=1e-3, seed=1)
    assert len(set(greedy)) == 1 and len(greedy[0]) >= 2


def test_a_prefix_leads_every_name(shipped):
    names = shipped.sample(10, prefix="mc", seed=0, max_length=3)
    assert all(name.startswith("mc") and len(name) <= 3 for name in names)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"prefix": "mc.d"}, ValueError, r"expected prefix of letters a-z \(the end marker"),
    ({"prefix": "Mc"}, ValueError, r"expected prefix of letters a-z"),
    ({"prefix": ["m", "c"]}, TypeError, r"expected prefix as a str of letters a-z, got \['m'"),
    ({"prefix": "mc", "max_length": 2}, ValueError, r"expected max_length > len\(prefix\) = 2, "
                                                     r"got 2"),
    ({"max_length": 0}, ValueError, r"expected max_length >= 1, got 0"),
    ({"max_length": -3}, ValueError, r"expected max_length >= 1, got -3"),
    ({"max_length": 2.5}, TypeError, r"expected an integer max_length, got 2.5"),
    ({"max_length": None}, TypeError, r"expected an integer max_length, got None"),
    ({"temperature": None}, ValueError, r"expected temperature to be a positive finite number, "
                                        r"got None"),
    ({"temperature": 0}, ValueError, r"expected temperature to be a positive finite number"),
    ({"temperature": float("inf")}, ValueError, r"expected temperature to be a positive"),
    ({"seed": "x"}, TypeError, r"expected an integer seed, got 'x'"),
    ({"seed": -1}, ValueError, r"expected seed >= 0, got -1"),
])
def test_sample_refuses_bad_arguments_clearly(shipped, kwargs, error, message):
    with pytest.raises(error, match=r"^CharModel.sample: " + message):
        shipped.sample(2, **kwargs)


def test_labels_that_are_all_padding_are_refused_by_name(shipped):
    # Issue 26 item 7: no (-0.0, nan) with "Mean of empty slice", no ZeroDivisionError.
    tokens = np.array([[Names.END] + Names.encode("smith")] * 2)
    padding = np.zeros((2, 6, Names.VOCABULARY))
    with pytest.raises(ValueError, match=r"^NeuralNetwork.evaluate: expected labels with at "
                                         r"least one row that is not all zeros .*got 12 label "
                                         r"rows, all padding"):
        shipped.evaluate(tokens, padding)
    with pytest.raises(ValueError, match=r"^CharModel.test_loss: expected labels with at least "
                                         r"one character that is not padding .*got 2 names, "
                                         r"all padding"):
        shipped.test_loss(tokens, padding)
    with pytest.raises(TypeError, match=r"^CharModel.test_loss: expected labels with the "
                                        r"tokens, got None"):
        shipped.test_loss(tokens)
    labels = Names.labels(Names.pad(["smith", "li"])[1])
    labels[1] = 0                                       # one name all padding: still scored
    loss, accuracy = shipped.evaluate(Names.pad(["smith", "li"])[0], labels)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert np.isfinite(shipped.test_loss(Names.pad(["smith", "li"])[0], labels)[0])


def test_build_samples_without_training():
    net = CharModel.build(dtype=np.float64)
    names = net.sample(5, seed=0, max_length=4)
    assert len(names) == 5 and all(len(name) <= 4 for name in names)
