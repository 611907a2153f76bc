"""The encoder-decoder (Models/Seq2Seq.py): central-difference gradients of every parameter
through teacher forcing (with and without attention, LSTM or Bidirectional encoder, padded
sources), the recurrent layers' state door it relies on, decoding (greedy against teacher
forcing, beam search against exhaustive search), a short training run on dates, bad input.

The model takes two inputs (the source and the decoder's teacher-forced tokens), so it is
no single-input layer for ``check_layer``: its layers pass check_layer in their own tests,
and the whole model gets the same central-difference comparison here, on every parameter.
"""
import itertools
import time

import numpy as np
import pytest

from Data import Dates, Names
from Layers import LSTM, Bidirectional, Embedding
from Layers._gradients import numerical_gradient, relative_difference
from Models import Seq2Seq
from Optimization import Optimizers

TOLERANCE = 1e-5      # the relative error of the other gradient checks
END, START = Dates.END, Dates.START


class FixedData:
    """A data layer that serves one batch again and again."""

    def __init__(self, tokens, labels):
        self.tokens, self.labels = tokens, labels

    def next(self):
        return self.tokens, self.labels


def tiny(attention=True, bidirectional=False, vocabulary=(6, 5), embedding=3, hidden=4,
         seed=0, scale=1.0):
    """A float64 Seq2Seq with small random weights (times ``scale``) and no optimizer."""
    np.random.seed(seed)
    encoder = LSTM.LSTM(embedding, hidden)
    if bidirectional:
        encoder = Bidirectional.Bidirectional(encoder)
    net = Seq2Seq.Seq2Seq(Optimizers.Sgd(0.1), Embedding.Embedding(vocabulary[0], embedding),
                          encoder, Embedding.Embedding(vocabulary[1], embedding),
                          LSTM.LSTM(embedding, hidden * (2 if bidirectional else 1)),
                          attention=attention)
    for layer in net.trainable_layers():
        layer.optimizer = None                  # backward computes gradients, no step
        for array in layer.parameters().values():
            array *= scale
    return net


# Sources padded with PAD (0) at the end, and a target with a padded step (-1).
TOKENS = np.array([[2, 3, 1, 4, 5], [1, 5, 2, 0, 0], [3, 0, 0, 0, 0]])
TARGETS = np.array([[2, 3, 4, 0], [4, 2, 0, -1], [3, 3, 2, 0]])


# -- the recurrent layers' door for the state -------------------------------------------------

def test_lstm_state_error_and_gradient_initial_state_match_central_differences():
    """An LSTM that starts from a given state and whose final state feeds on: backward with
    ``state_error`` = dL/d(final state) gives dL/d(weights), dL/dx and dL/d(initial state)."""
    np.random.seed(1)
    layer = LSTM.LSTM(3, 4)
    layer.memorize = True
    x = np.random.normal(size=(2, 5, 3))
    start = tuple(np.random.normal(size=(2, 4)) for _ in range(2))
    r, r_h, r_c = (np.random.normal(size=s) for s in ((2, 5, 4), (2, 4), (2, 4)))

    def loss():
        layer.state = start
        y = layer.forward(x)
        h, c = layer.state
        return np.sum(y * r) + np.sum(h * r_h) + np.sum(c * r_c)

    loss()
    dx = layer.backward(r, state_error=(r_h, r_c))
    analytic = [layer.gradient_weights, dx, *layer.gradient_initial_state]
    numeric = [numerical_gradient(a, loss) for a in (layer.weights, x, *start)]
    for a, n in zip(analytic, numeric):
        assert relative_difference(a, n).max() < TOLERANCE



# -- gradients of the whole model -------------------------------------------------------------

@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_gradient_matches_central_differences(attention, bidirectional):
    """float64, teacher forcing, padded sources (masked attention) and a padded target step:
    dL/d(every parameter, embeddings included) against central differences. Without the
    state door the encoder's gradients would miss the path through the decoder's initial
    state (without attention: all of them)."""
    net = tiny(attention, bidirectional)
    net.data_layer = FixedData(TOKENS, Names.labels(TARGETS, np.float64, 5))
    net.forward()
    net.backward()
    checked = 0
    for layer in net.trainable_layers():
        for name, parameter in layer.parameters().items():
            analytic = getattr(layer, "gradient_" + name)
            numeric = numerical_gradient(parameter, net.forward)
            assert np.abs(numeric).max() > 1e-3, f"{layer!r} {name} does not reach the loss"
            worst = relative_difference(analytic, numeric).max()
            assert worst < TOLERANCE, f"{layer!r} {name}: {worst:.2e}"
            checked += 1
    assert checked == 6 if bidirectional else 5


def test_training_steps_update_every_layer():
    """With an optimizer, ``NeuralNetwork.train`` runs the overridden forward/backward and
    every trainable layer moves."""
    net = tiny()
    net.optimizer = Optimizers.Sgd(0.1)
    net.data_layer = FixedData(TOKENS, Names.labels(TARGETS, np.float64, 5))
    before = [p.copy() for layer in net.trainable_layers() for p in layer.parameters().values()]
    first = net.forward()
    net.train(5)
    after = [p for layer in net.trainable_layers() for p in layer.parameters().values()]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))
    assert net.loss[-1] < first


# -- decoding -----------------------------------------------------------------------------------

def test_greedy_reads_its_own_choices_like_teacher_forcing():
    """Greedy decoding one step at a time gives the probabilities of one teacher-forced pass
    over its own outputs, and its attention weights."""
    net = tiny(seed=3, scale=3.0)
    outputs, alignment = net.greedy(TOKENS)
    steps = net.test(TOKENS)                            # the SoftMax of each greedy step
    forced = net.probabilities(TOKENS, np.concatenate([np.full((3, 1), START),
                                                       outputs[:, :-1]], axis=1))
    assert steps.shape == forced.shape == (3, outputs.shape[1], 5)
    assert outputs.shape[1] > 2 and alignment.shape == (3, outputs.shape[1], 5)
    alive = (np.cumsum(outputs == END, axis=1) - (outputs == END)) == 0   # up to the END
    np.testing.assert_allclose(steps[alive], forced[alive], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(alignment[alive], net.attention.alignment[alive], atol=1e-15)
    np.testing.assert_allclose(alignment[2, :, 1:], 0)          # source 2 is one real token


def exhaustive_best(net, tokens, length, vocabulary):
    """The best output of every source by trying every output: sequences that end at their
    first END, or run ``length`` tokens without one. Returns (outputs, scores, count)."""
    candidates = []
    for n in range(1, length + 1):
        for body in itertools.product(range(1, vocabulary), repeat=n - 1):
            candidates.append(list(body) + [END])
    candidates += [list(body) for body in itertools.product(range(1, vocabulary),
                                                            repeat=length)]
    padded = np.array([c + [END] * (length - len(c)) for c in candidates])
    scores = np.stack([net.log_probability(np.repeat(tokens[i:i + 1], len(padded), axis=0),
                                           padded) for i in range(len(tokens))])
    best = scores.argmax(axis=1)
    return padded[best], scores.max(axis=1), len(candidates)


def peaky(attention, seed, end_shift):
    """A tiny model over three output tokens whose weights are large enough for peaked
    probabilities, with END made rarer (its bias lowered), and 12 sources for it."""
    net = tiny(attention, vocabulary=(6, 3), seed=seed, scale=3.0)
    net.output_layer.weights[-1, END] -= end_shift
    return net, np.random.default_rng(seed).integers(1, 6, size=(12, 4))


# Models chosen (seed, END's shift) so that greedy misses the best output of several sources
# and the best outputs end at different lengths: ended and running hypotheses compete.
@pytest.mark.parametrize("attention, seed, end_shift", [(True, 9, 1.0), (False, 4, 1.5)])
def test_beam_search_is_exhaustive_when_wide_and_greedy_when_narrow(attention, seed,
                                                                   end_shift):
    """Three output tokens (END, START, one more), at most 4 steps: 31 possible outputs.
    Beam width >= 31 finds the exhaustive best; width 1 is greedy decoding."""
    net, tokens = peaky(attention, seed, end_shift)
    best, best_scores, count = exhaustive_best(net, tokens, 4, 3)
    assert count == 31
    assert len(set((best != END).sum(axis=1))) >= 2      # best outputs of different lengths
    greedy, _ = net.greedy(tokens, max_length=4)
    greedy = np.pad(greedy, ((0, 0), (0, 4 - greedy.shape[1])), constant_values=END)
    # The test has teeth: greedy misses the best output of some sources.
    assert (net.log_probability(tokens, greedy) < best_scores - 1e-9).any()
    for width in (count, 40):
        outputs, scores, alignment = net.beam_search(tokens, width, max_length=4)
        outputs = np.pad(outputs, ((0, 0), (0, 4 - outputs.shape[1])), constant_values=END)
        np.testing.assert_array_equal(outputs, best)
        np.testing.assert_allclose(scores, best_scores, rtol=1e-12)
    one, one_scores, _ = net.beam_search(tokens, 1, max_length=4)
    one = np.pad(one, ((0, 0), (0, 4 - one.shape[1])), constant_values=END)
    np.testing.assert_array_equal(one, greedy)
    np.testing.assert_allclose(one_scores, net.log_probability(tokens, greedy), rtol=1e-12)


def test_beam_alignment_is_that_of_its_output():
    """The attention weights beam search hands out are those of its best output, read by
    teacher forcing."""
    net, tokens = peaky(True, 9, 1.0)
    outputs, _, alignment = net.beam_search(tokens, 5, max_length=4)
    net.log_probability(tokens, outputs)
    np.testing.assert_allclose(alignment, net.attention.alignment, atol=1e-15)


# -- dates ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained():
    """A small attention model after 300 steps on 2000 dates (about 5 s on a quiet machine)."""
    np.random.seed(0)
    data = Dates.DatesData(32, seed=0, sizes=(2000, 100, 200))
    net = Seq2Seq.build(embedding=16, hidden=32, dtype=np.float64, learning_rate=0.01)
    net.data_layer = data
    before = net.evaluate(*data.get_test_set())[0], net.exact_match(data.test_pairs)
    start = time.perf_counter()
    net.train(300)
    return net, data, before, time.perf_counter() - start


def test_a_short_training_run_learns_to_translate_dates(trained):
    net, data, (loss_before, match_before), seconds = trained
    loss_after, step_accuracy = net.evaluate(*data.get_test_set())
    match = net.exact_match(data.test_pairs)
    print(f"300 steps in {seconds:.1f} s: test loss {loss_before:.2f} -> {loss_after:.2f}, "
          f"exact match {match_before:.3f} -> {match:.3f}")
    assert loss_after < loss_before / 10
    assert match_before < 0.01 and match > 0.5        # chance: about one in 73 000 dates
    assert net.exact_match(data.test_pairs, beam_width=1) == match
    assert net.exact_match(data.test_pairs, beam_width=3) >= match


def test_translate_gives_strings_and_alignments_independent_of_the_batch(trained):
    net = trained[0]
    texts = ["27 Sep 1994", "9/27/94", "tuesday, september 27, 1994"]
    answers, alignments = net.translate(texts, return_alignment=True)
    assert all(isinstance(a, str) for a in answers)
    for text, answer, a in zip(texts, answers, alignments):
        assert a.shape == (len(answer) + 1, len(text))          # + END's row
        np.testing.assert_allclose(a.sum(axis=1), 1)
        alone, a_alone = net.translate(text, return_alignment=True)     # a str in, a str out
        assert alone == answer
        np.testing.assert_allclose(a_alone, a, rtol=1e-12)
    assert net.translate(texts, beam_width=2) == [net.translate(t, beam_width=2)
                                                   for t in texts]


def test_translate_reads_the_sources_padded_as_in_training(trained):
    """The encoder reads the padding and training pads every source to INPUT_STEPS, so
    translate must too: its translations and attention weights are those of greedy decoding
    on ``Dates.sources`` (padded), not on the bare text (the state after fewer PAD)."""
    net = trained[0]
    texts = ["9/6/44", "27-SEP-94", "Tue, 27 Sep 1994", "wednesday, september 27, 1995"]
    answers, alignments = net.translate(texts, return_alignment=True)
    outputs, alignment = net.greedy(Dates.sources(texts))
    assert answers == [Dates.decode_target(row) for row in outputs]
    for i, (text, a) in enumerate(zip(texts, alignments)):
        np.testing.assert_allclose(a, alignment[i, :len(a), :len(text)], rtol=1e-12)
        np.testing.assert_allclose(alignment[i, :, len(text):], 0)      # PAD is masked
    bare, bare_alignment = net.greedy(np.array([Dates.encode(texts[0])]))
    steps = min(len(alignments[0]), bare.shape[1])
    assert np.abs(bare_alignment[0, :steps] - alignments[0][:steps]).max() > 1e-6   # teeth


# -- bad input --------------------------------------------------------------------------------

def test_bad_input_is_refused_naming_the_model():
    net = tiny(vocabulary=(Dates.INPUT_VOCABULARY, Dates.OUTPUT_VOCABULARY))
    with pytest.raises(ValueError, match=r"Seq2Seq.translate: expected dates written with "
                                         r"the characters of Data.Dates.INPUT_CHARS .*got "
                                         r"'\.', '\?', '€' in text 1, '27\.9\.1994 €\?'"):
        net.translate(["27 Sep 1994", "27.9.1994 €?"])
    long = "wednesday,  september 27, 1995"
    with pytest.raises(ValueError, match=rf"Seq2Seq.translate: expected dates of at most "
                                         rf"Data.Dates.INPUT_STEPS = {Dates.INPUT_STEPS} "
                                         rf"characters, got 30 in text 1, '{long}'"):
        net.translate(["27 Sep 1994", long])
    with pytest.raises(ValueError, match=r"Seq2Seq.translate: expected beam width >= 1, got 0"):
        net.translate("27 Sep 1994", beam_width=0)
    with pytest.raises(TypeError, match=r"Seq2Seq.translate: expected an integer beam width, "
                                        r"got 1.5"):
        net.translate("27 Sep 1994", beam_width=1.5)
    with pytest.raises(ValueError, match=r"Seq2Seq.beam_search: expected beam width >= 1, "
                                         r"got 0"):
        net.beam_search(TOKENS, 0)
    with pytest.raises(TypeError, match=r"Seq2Seq.translate: expected a date as a non-empty "
                                        r"str \(text 0\), got 27"):
        net.translate([27])
    with pytest.raises(ValueError, match=r"Seq2Seq: expected sources with at least one token "
                                         r"that is not PAD, got only PAD in source\(s\) \[1\]"):
        net.greedy(np.array([[3, 4], [0, 0]]))
    with pytest.raises(ValueError, match=r"Seq2Seq.translate: expected return_alignment=False "
                                         r"for a model without attention"):
        tiny(attention=False).translate("1/2/03", return_alignment=True)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoder_decoder_size_mismatch_is_refused(bidirectional):
    """The decoder starts from the encoder's final state: it must have the encoder's size
    (2 * hidden for a Bidirectional encoder)."""
    encoder = LSTM.LSTM(3, 4)
    if bidirectional:
        encoder = Bidirectional.Bidirectional(encoder)
    size = 8 if bidirectional else 4
    with pytest.raises(ValueError, match=rf"Seq2Seq: expected a decoder of hidden_size {size}, "
                                         rf"the size of the encoder's states .*got encoder "):
        Seq2Seq.Seq2Seq(Optimizers.Sgd(0.1), Embedding.Embedding(6, 3), encoder,
                        Embedding.Embedding(5, 3), LSTM.LSTM(3, 4 if bidirectional else 8))


def test_layers_that_do_not_chain_are_refused():
    def model(encoder_embedding=None, encoder=None, decoder_embedding=None, decoder=None):
        return Seq2Seq.Seq2Seq(Optimizers.Sgd(0.1),
                               encoder_embedding or Embedding.Embedding(6, 3),
                               encoder or LSTM.LSTM(3, 4),
                               decoder_embedding or Embedding.Embedding(5, 3),
                               decoder or LSTM.LSTM(3, 4))
    with pytest.raises(ValueError, match=r"Seq2Seq: expected the encoder's input_size 3, the "
                                         r"encoder embedding's size, got encoder LSTM\(2, 4\)"):
        model(encoder=LSTM.LSTM(2, 4))
    with pytest.raises(ValueError, match=r"Seq2Seq: expected the decoder's input_size 2"):
        model(decoder_embedding=Embedding.Embedding(5, 2))
    with pytest.raises(TypeError, match=r"Seq2Seq: expected decoder as an LSTM, got GRU"):
        from Layers import GRU
        model(decoder=GRU.GRU(3, 4))
    with pytest.raises(ValueError, match=r"Seq2Seq: expected an encoder LSTM with "
                                         r"output_size=None"):
        model(encoder=LSTM.LSTM(3, 4, output_size=2))
    with pytest.raises(TypeError, match=r"Seq2Seq: expected encoder_embedding as an Embedding"):
        model(encoder_embedding=LSTM.LSTM(3, 4))
