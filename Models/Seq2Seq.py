"""An encoder-decoder that translates human-written dates to ISO, with Luong attention.

Architecture (``build``; the vocabularies of ``Data/Dates.py``)::

    source tokens '27 Sep 1994', PAD after     (batch, T_enc)
    Embedding(67 -> E)                          (batch, T_enc, E)
    encoder LSTM(E -> H)                        (batch, T_enc, H)    the memory, and the
                                                                     final state (h, c)
    decoder input START y_1 .. y_{T-1}          (batch, T_dec)       teacher forcing
    Embedding(13 -> E)                          (batch, T_dec, E)
    decoder LSTM(E -> H), starting from the     (batch, T_dec, H)    s_t
        encoder's final state
    Attention over the memory, PAD masked       (batch, T_dec, 2 H)  [context_t, s_t]
    FullyConnected(2 H -> 13), SoftMax          (batch, T_dec, 13)   p(y_t | y_<t, source)

trained with the summed cross-entropy against the target ``y_1 .. y_T`` (the ISO date,
then END), Adam with learning rate 1e-3. ``attention=False`` gives the plain
encoder-decoder: FullyConnected(H -> 13) reads ``s_t`` itself, and everything the decoder
knows of the source passes through the encoder's final state.

``bidirectional=True`` reads the source with ``Bidirectional(LSTM(E -> H))``: the memory
has ``2 H`` features and the decoder starts from both directions' final states side by
side, ``h_0 = [h_fwd(T), h_bwd(1)]``, ``c_0`` likewise, so the decoder is an LSTM of ``2 H``
(the dot attention compares decoder and encoder states, which need one size).

Backward follows the arrows back: the SoftMax/FullyConnected error goes into the
attention, which splits it into dL/d(decoder states) and dL/d(memory); the decoder's BPTT
ends in dL/d(its initial state) (``gradient_initial_state``), which is dL/d(the encoder's
final state) and enters the encoder's BPTT at its last step (``backward(..., state_error=)``),
together with dL/d(memory) at every step.

Padding. Every source is padded with PAD at the end to one length, ``Dates.INPUT_STEPS``
(29, the longest date a format writes), in training batches, validation, test and
``translate`` alike (``Dates.sources``). The attention gives PAD steps weight 0; the encoder
still reads them (as a PyTorch twin without ``pack_padded_sequence`` does), so its final
state, which starts the decoder, is the state after the padding. With one fixed length that
state is the same in training and in decoding, and a translation never depends on the other
texts of the call. (Padded only to each batch's longest, a short source was nearly always
read with 20-odd PAD after it in training, and decoded unpadded it was off the training
distribution: 1.5 points of exact-match lost, ``bench/README.md``.)

Decoding: ``greedy`` picks the most likely token at each step; ``beam_search`` keeps the
``width`` best hypotheses by summed log-probability. Both feed the model its own choice of
the step before and stop at END or after ``max_length`` tokens; ``translate`` works on
strings and hands out the attention weights for plotting.

Training runs through ``NeuralNetwork.train``: ``forward``/``backward`` are overridden for
the two inputs (the decoder's input is the label batch shifted, ``Dates.decoder_inputs``), so
the divergence guard, the epoch trainer and its validation (``evaluate``, teacher-forced)
work as for any network. ``save``/``NeuralNetwork.load`` keep ``layers`` in the order above
and ``attention``; ``from_config`` gives each layer its role back.
"""
import numpy as np

import _checks
import NeuralNetwork
from Data import Dates
from Data.Dates import END, PAD, START
from Layers import LSTM, Attention, Bidirectional, Embedding, FullyConnected, SoftMax
from Optimization import Loss, Optimizers

from .RowMNIST import linear_like_torch

LEARNING_RATE = 1e-3
EMBEDDING, HIDDEN = 32, 128


class Seq2Seq(NeuralNetwork.NeuralNetwork):
    """An encoder-decoder over token sequences (module docstring); ``build`` makes the dates one.

    Args:
        optimizer: as for ``NeuralNetwork`` (every trainable layer gets a ``parameter_copy``).
        encoder_embedding: an ``Embedding`` of the source tokens (PAD = 0 is padding).
        encoder: an ``LSTM(E, H, output_size=None)`` or ``Bidirectional`` of one, E the
            encoder embedding's size, ``memorize`` off.
        decoder_embedding: an ``Embedding`` of the output tokens (END = 0, START = 1).
        decoder: an ``LSTM(E', H', output_size=None)``, E' the decoder embedding's size and
            H' the encoder's output size (H, or 2 H for a Bidirectional one). The model turns
            its ``memorize`` on: that is how it starts from the encoder's final state.
        attention: True puts ``Attention`` between the decoder and the output layer.
        weights_initializer, bias_initializer: as for ``NeuralNetwork`` (both given: every
            trainable layer is initialized with them).

    Members besides NeuralNetwork's: the layers by role, ``encoder_embedding``, ``encoder``,
    ``decoder_embedding``, ``decoder``, ``attention`` (None without), ``output_layer`` (the
    FullyConnected) and ``softmax``; ``layers`` lists them in that order, for the optimizer,
    the phase and the snapshots. The loss is ``CrossEntropyLoss``.
    """

    def __init__(self, optimizer, encoder_embedding, encoder, decoder_embedding, decoder,
                 attention=True, weights_initializer=None, bias_initializer=None):
        super().__init__(optimizer, weights_initializer, bias_initializer)
        _check_architecture(encoder_embedding, encoder, decoder_embedding, decoder)
        if not isinstance(attention, (bool, np.bool_)):
            _checks.fail("Seq2Seq", "attention as True or False", attention, TypeError)
        self.loss_layer = Loss.CrossEntropyLoss()
        self.encoder_embedding, self.encoder = encoder_embedding, encoder
        self.decoder_embedding, self.decoder = decoder_embedding, decoder
        decoder.memorize = True                 # forward starts from decoder.state
        self.attention = Attention.Attention() if attention else None
        features = decoder.hidden_size * (2 if attention else 1)
        self.output_layer = linear_like_torch(FullyConnected.FullyConnected(
            features, decoder_embedding.vocabulary_size, dtype=decoder.dtype))
        self.softmax = SoftMax.SoftMax()
        for layer in (encoder_embedding, encoder, decoder_embedding, decoder, self.attention,
                      self.output_layer, self.softmax):
            if layer is not None:
                self.append_layer(layer)
        self._memory_shape = None

    # -- teacher forcing: training and evaluation ----------------------------------------

    def probabilities(self, tokens, decoder_tokens):
        """p(y_t | y_<t, source) with teacher forcing.

        Args:
            tokens: source tokens ``(batch, T_enc)``, PAD at the end (``Dates.sources``).
            decoder_tokens: the decoder's input ``(batch, T_dec)``: START, then the target
                but its last token (``Dates.decoder_inputs(labels)``).
        Returns:
            ``(batch, T_dec, output vocabulary)``, each row a SoftMax.
        """
        return self._decode(*self._encode(tokens), decoder_tokens)

    def forward(self):
        """One training batch ``(tokens, labels)`` from the data layer, teacher-forced; the
        summed cross-entropy plus the regularization loss (as ``NeuralNetwork.forward``)."""
        if self.data_layer is None:
            raise RuntimeError("Seq2Seq.forward: set data_layer first")
        tokens, self._label = self.data_layer.next()
        _checks.finite("Seq2Seq.forward", self._label, what="label batch")
        p = self.probabilities(tokens, Dates.decoder_inputs(self._label))
        self._batch_loss = self.loss_layer.forward(p, self._label)
        return self._batch_loss + self.regularization_loss()

    def backward(self):
        """Backpropagate the last ``forward``'s loss through decoder and encoder; every
        trainable layer updates itself (the module docstring follows the error's path)."""
        e = self.softmax.backward(self.loss_layer.backward(self._label))
        e = self.output_layer.backward(e)
        if self.attention is not None:
            e = self.attention.backward(e)
            d_memory = self.attention.memory_error
        else:
            d_memory = np.zeros(self._memory_shape, self.decoder.dtype)
        self.decoder_embedding.backward(self.decoder.backward(e), input_gradient=False)
        d_state = self.decoder.gradient_initial_state
        self.encoder_embedding.backward(self._encoder_backward(d_memory, d_state),
                                        input_gradient=False)

    def evaluate(self, input_tensor, label_tensor=None, batch_size=256):
        """Teacher-forced loss per sample and per-step accuracy on the label rows that are
        not padding, the units of training (the epoch trainer's validation). Exact match of
        decoded dates: ``exact_match``. Leaves the testing phase set, as ``test`` does."""
        owner = "Seq2Seq.evaluate"
        if label_tensor is None:
            _checks.fail(owner, "evaluate(tokens, labels)", _checks.Described("no labels"),
                         TypeError)
        batch_size = _checks.size(owner, "batch_size", batch_size)
        tokens, labels = np.asarray(input_tensor), np.asarray(label_tensor)
        self.phase = True
        loss, right, counted = 0.0, 0, 0
        for start in range(0, len(tokens), batch_size):
            y = labels[start:start + batch_size]
            p = self.probabilities(tokens[start:start + batch_size], Dates.decoder_inputs(y))
            loss += self.loss_layer.forward(p, y)
            real = y.any(axis=-1)
            right += int((p.argmax(axis=-1) == y.argmax(axis=-1))[real].sum())
            counted += int(real.sum())
        if counted == 0:
            _checks.fail(owner, "labels with at least one row that is not all zeros",
                         _checks.Described("only padding"))
        return loss / len(tokens), right / counted

    def test(self, input_tensor, batch_size=None):
        """The SoftMax outputs of greedy decoding, ``(batch, steps, output vocabulary)``: at
        each step the model reads its own previous choice (there is no label to force).
        ``batch_size`` is accepted for NeuralNetwork's signature; the batch runs at once."""
        return self._greedy(input_tensor, Dates.TARGET_STEPS)[1]

    def get_config(self):
        """``{"attention": bool}``: the layers themselves are saved as ``layers``, in order."""
        return {"attention": self.attention is not None}

    @classmethod
    def from_config(cls, config, *, layers, optimizer, weights_initializer=None,
                    bias_initializer=None, loss_layer=None):
        """A Seq2Seq of built ``layers`` in the order of ``layers`` (encoder_embedding,
        encoder, decoder_embedding, decoder, attention if ``config["attention"]``,
        output_layer, softmax); ValueError/TypeError naming Seq2Seq for others."""
        attention = config.get("attention", True)
        roles = [FullyConnected.FullyConnected, SoftMax.SoftMax]
        if attention:
            roles.insert(0, Attention.Attention)
        got = [type(layer).__name__ for layer in layers]
        if len(layers) != 4 + len(roles) or not all(
                type(layer) is role for layer, role in zip(layers[4:], roles)):
            _checks.fail("Seq2Seq.from_config", f"four layers, then "
                         f"{[role.__name__ for role in roles]}", _checks.Described(str(got)))
        _check_architecture(*layers[:4])
        output, decoder = layers[-2], layers[3]
        if (output.input_size, output.output_size) != (
                decoder.hidden_size * (2 if attention else 1), layers[2].vocabulary_size):
            _checks.fail("Seq2Seq.from_config", "an output layer from the decoder's features "
                         "to the output vocabulary", _checks.Described(repr(output)))
        if type(loss_layer) is not Loss.CrossEntropyLoss:
            _checks.fail("Seq2Seq.from_config", "the loss CrossEntropyLoss",
                         _checks.Described(type(loss_layer).__name__))
        net = super().from_config({}, layers=layers, optimizer=optimizer, loss_layer=loss_layer,
                                  weights_initializer=weights_initializer,
                                  bias_initializer=bias_initializer)
        (net.encoder_embedding, net.encoder, net.decoder_embedding, net.decoder), rest = \
            layers[:4], layers[4:]
        net.attention = rest[0] if attention else None
        net.output_layer, net.softmax = rest[-2:]
        net.decoder.memorize = True
        net._memory_shape = None
        return net

    # -- decoding ----------------------------------------------------------------------------

    def greedy(self, tokens, max_length=Dates.TARGET_STEPS):
        """The most likely token at every step, fed back as the next input.

        Args:
            tokens: source tokens ``(batch, T_enc)`` (see the module docstring on padding).
            max_length: the most output tokens, END included.
        Returns:
            ``(outputs, alignment)``: output tokens ``(batch, steps)``, END from a
            sequence's first END on, ``steps <= max_length`` (it stops when every sequence
            has ended); the attention weights ``(batch, steps, T_enc)`` (None without
            attention).
        """
        outputs, _, alignment = self._greedy(tokens, max_length)
        return outputs, alignment

    def beam_search(self, tokens, width, max_length=Dates.TARGET_STEPS):
        """The best output by beam search of ``width`` hypotheses per source.

        A hypothesis' score is the sum of the log-probabilities of its tokens (no length
        normalization: the dates' answers all have one length). Each step extends every
        hypothesis by every token and keeps the ``width`` best per source. A hypothesis
        ends at END and stays in the beam with its score (it extends only by END, at no
        cost), so finished and running ones compete; one that reaches ``max_length``
        tokens without END ends there. The search stops when the best hypothesis of every
        source has ended: a running one can only lose score (log p <= 0), so none can
        overtake it. With a width of at least the number of hypotheses of ``max_length``
        tokens nothing is ever dropped and the result is the exhaustive best; width 1 is
        ``greedy``.

        Returns:
            ``(outputs, scores, alignment)``: the best hypothesis' tokens ``(batch,
            steps)`` (END after its END), its score ``(batch,)``, its attention weights
            ``(batch, steps, T_enc)`` (None without attention).
        """
        width = _checks.size("Seq2Seq.beam_search", "beam width", width)
        max_length = _checks.size("Seq2Seq.beam_search", "max_length", max_length)
        self.phase = True
        memory, mask, state = self._encode(tokens)
        n, k, v = len(memory), width, self.decoder_embedding.vocabulary_size
        rows = np.arange(n)[:, None]

        def beams(a):                               # (n, ...) -> (n * k, ...), k copies each
            return np.repeat(a, k, axis=0)

        memory, mask, state = beams(memory), beams(mask), tuple(beams(s) for s in state)
        scores = np.full((n, k), -np.inf)
        scores[:, 0] = 0                            # one hypothesis to start: START alone
        history = np.zeros((n, k, 0), np.int64)
        alignment = np.zeros((n, k, 0, memory.shape[1]))
        ended = np.zeros((n, k), bool)
        y = np.full((n * k, 1), START)
        for _ in range(max_length):
            p = self._decode(memory, mask, state, y)[:, 0].reshape(n, k, v)
            with np.errstate(divide="ignore"):      # p = 0 gives log p = -inf: never chosen
                log_p = np.log(p.astype(np.float64))
            log_p[ended] = -np.inf
            log_p[ended, END] = 0                   # an ended hypothesis stays as it is
            total = (scores[:, :, None] + log_p).reshape(n, k * v)
            best = np.argsort(-total, axis=1, kind="stable")[:, :k]     # ties: lower index
            parent, token = np.divmod(best, v)
            scores = total[rows, best]
            history = np.concatenate([history[rows, parent], token[:, :, None]], axis=2)
            if self.attention is not None:
                a = self.attention.alignment[:, 0].reshape(n, k, -1)
                alignment = np.concatenate([alignment[rows, parent], a[rows, parent][:, :, None]],
                                           axis=2)
            ended = ended[rows, parent] | (token == END)
            state = tuple(s.reshape(n, k, -1)[rows, parent].reshape(n * k, -1)
                          for s in self.decoder.state)
            y = token.reshape(n * k, 1)
            if ended[:, 0].all():
                break
        return (history[:, 0], scores[:, 0],
                alignment[:, 0] if self.attention is not None else None)

    def log_probability(self, tokens, outputs):
        """The summed log-probability of ``outputs`` ``(batch, steps)`` given the sources,
        up to and including each one's first END (all steps if it has none): the score that
        ``beam_search`` maximizes, computed by teacher forcing."""
        outputs = np.asarray(outputs, dtype=np.int64)
        inputs = np.concatenate([np.full((len(outputs), 1), START), outputs[:, :-1]], axis=1)
        self.phase = True
        p = self.probabilities(tokens, inputs)
        with np.errstate(divide="ignore"):
            log_p = np.log(np.take_along_axis(p, outputs[:, :, None], axis=2)[:, :, 0]
                           .astype(np.float64))
        after_end = np.cumsum(outputs == END, axis=1) - (outputs == END) > 0
        return np.where(after_end, 0.0, log_p).sum(axis=1)

    def translate(self, texts, beam_width=None, return_alignment=False,
                  max_length=Dates.TARGET_STEPS):
        """Human-written dates -> their ISO form as the model reads them.

        The texts are padded to ``Dates.INPUT_STEPS`` as in training (module docstring)
        and decoded in one batch.

        Args:
            texts: a str, or a list of str, written with ``Data.Dates.INPUT_CHARS``, each
                at most ``Data.Dates.INPUT_STEPS`` characters.
            beam_width: None for greedy decoding, else the width of ``beam_search``.
            return_alignment: also return the attention weights of each translation.
            max_length: the most output tokens, END included.
        Returns:
            the translation (a str, or a list of str like ``texts``); with
            ``return_alignment``, ``(translations, alignments)``, each alignment an array
            ``(output tokens, input characters)``: row ``t`` is where output token ``t``
            looked, up to and including END (for an ISO date: 10 characters, then END).
        """
        owner = "Seq2Seq.translate"
        single = isinstance(texts, str)
        texts = [texts] if single else texts
        if not isinstance(texts, (list, tuple)):
            _checks.fail(owner, "a str or a list of str", _checks.Described(
                type(texts).__name__), TypeError)
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text:
                _checks.fail(owner, f"a date as a non-empty str (text {i})", text,
                             TypeError if not isinstance(text, str) else ValueError)
            unknown = sorted(set(text) - set(Dates.INPUT_CHARS))
            if unknown:
                _checks.fail(owner, f"dates written with the characters of Data.Dates."
                             f"INPUT_CHARS {Dates.INPUT_CHARS!r}", _checks.Described(
                                 f"{', '.join(map(repr, unknown))} in text {i}, {text!r}"))
            if len(text) > Dates.INPUT_STEPS:
                _checks.fail(owner, f"dates of at most Data.Dates.INPUT_STEPS = "
                             f"{Dates.INPUT_STEPS} characters", _checks.Described(
                                 f"{len(text)} in text {i}, {text!r}"))
        if beam_width is not None:
            beam_width = _checks.size(owner, "beam width", beam_width)
        if return_alignment and self.attention is None:
            _checks.fail(owner, "return_alignment=False for a model without attention "
                         "(it has no attention weights)", return_alignment)
        if not texts:
            return ([], []) if return_alignment else []
        tokens = Dates.sources(texts)
        if beam_width is None:
            outputs, alignment = self.greedy(tokens, max_length)
        else:
            outputs, _, alignment = self.beam_search(tokens, beam_width, max_length)
        translations = [Dates.decode_target(row) for row in outputs]
        alignments = [None] * len(texts)
        if return_alignment:
            for i, (text, row) in enumerate(zip(texts, outputs)):
                ends = np.flatnonzero(row == END)
                steps = ends[0] + 1 if ends.size else len(row)
                alignments[i] = alignment[i, :steps, :len(text)].copy()  # PAD columns are 0
        if single:
            translations, alignments = translations[0], alignments[0]
        return (translations, alignments) if return_alignment else translations

    def exact_match(self, pairs, beam_width=None):
        """The fraction of ``(text, iso)`` pairs translated exactly right."""
        texts = [text for text, _ in pairs]
        answers = self.translate(texts, beam_width)
        return float(np.mean([a == iso for a, (_, iso) in zip(answers, pairs)]))

    # -- the pieces ------------------------------------------------------------------------

    def _encode(self, tokens):
        """Source tokens -> the memory ``(batch, T_enc, H)``, the mask (True at tokens that are
        not PAD) and the encoder's final state ``(h, c)``, each ``(batch, H)``."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] == 0:
            _checks.fail("Seq2Seq", "source tokens of shape (batch, T_enc)",
                         _checks.Described(f"shape {tokens.shape}"))
        mask = tokens != PAD
        empty = np.flatnonzero(~mask.any(axis=1))
        if empty.size:
            _checks.fail("Seq2Seq", "sources with at least one token that is not PAD",
                         _checks.Described(f"only PAD in source(s) {empty.tolist()}"))
        memory = self.encoder.forward(self.encoder_embedding.forward(tokens))
        self._memory_shape = memory.shape
        if isinstance(self.encoder, Bidirectional.Bidirectional):
            # h_fwd after the last step and h_bwd after the first, side by side
            ahead, back = self.encoder.forward_layer.state, self.encoder.backward_layer.state
            state = tuple(np.concatenate([a, b], axis=1) for a, b in zip(ahead, back))
        else:
            state = self.encoder.state
        return memory, mask, state

    def _decode(self, memory, mask, state, decoder_tokens):
        """The decoder from ``state`` over ``decoder_tokens`` ``(batch, steps)``, attention,
        output layer: the SoftMax ``(batch, steps, vocabulary)``. The decoder's ``state``
        afterwards is its state after the last step (decoding carries it on)."""
        self.decoder.state = state
        s = self.decoder.forward(self.decoder_embedding.forward(decoder_tokens))
        if self.attention is not None:
            self.attention.memory, self.attention.mask = memory, mask
            s = self.attention.forward(s)
        return self.softmax.forward(self.output_layer.forward(s))

    def _encoder_backward(self, d_memory, d_state):
        """dL/d(memory) at every step and dL/d(final state) -> dL/d(encoder input)."""
        encoder = self.encoder
        if not isinstance(encoder, Bidirectional.Bidirectional):
            return encoder.backward(d_memory, state_error=d_state)
        # Bidirectional.backward, with each direction's half of dL/d(final state) too.
        n = encoder.forward_layer.hidden_size
        dx_ahead = encoder.forward_layer.backward(d_memory[..., :n],
                                                  state_error=tuple(d[:, :n] for d in d_state))
        dx_back = encoder.backward_layer.backward(d_memory[..., ::-1, n:],
                                                  state_error=tuple(d[:, n:] for d in d_state))
        return dx_ahead + dx_back[..., ::-1, :]

    def _greedy(self, tokens, max_length):
        """``greedy``, with the SoftMax of every step ``(batch, steps, vocabulary)`` too."""
        max_length = _checks.size("Seq2Seq.greedy", "max_length", max_length)
        self.phase = True
        memory, mask, state = self._encode(tokens)
        y = np.full((len(memory), 1), START)
        ended = np.zeros(len(memory), bool)
        outputs, probabilities, alignment = [], [], []
        for _ in range(max_length):
            p = self._decode(memory, mask, state, y)[:, 0]
            state = self.decoder.state
            y = np.where(ended, END, p.argmax(axis=1))[:, None]
            outputs.append(y[:, 0])
            probabilities.append(p)
            if self.attention is not None:
                alignment.append(self.attention.alignment[:, 0])
            ended |= y[:, 0] == END
            if ended.all():
                break
        return (np.stack(outputs, axis=1), np.stack(probabilities, axis=1),
                np.stack(alignment, axis=1) if alignment else None)


def _check_architecture(encoder_embedding, encoder, decoder_embedding, decoder):
    """Refuse layers that do not chain (ValueError/TypeError naming Seq2Seq)."""
    owner = "Seq2Seq"
    for name, layer in (("encoder_embedding", encoder_embedding),
                        ("decoder_embedding", decoder_embedding)):
        if not isinstance(layer, Embedding.Embedding):
            _checks.fail(owner, f"{name} as an Embedding", _checks.Described(
                type(layer).__name__), TypeError)
    bidirectional = isinstance(encoder, Bidirectional.Bidirectional)
    cell = encoder.forward_layer if bidirectional else encoder
    for name, layer in (("encoder", cell), ("decoder", decoder)):
        if type(layer) is not LSTM.LSTM:
            what = "an LSTM or Bidirectional(LSTM)" if name == "encoder" else "an LSTM"
            _checks.fail(owner, f"{name} as {what}", _checks.Described(
                type(layer).__name__), TypeError)
        if layer.output_size is not None:
            _checks.fail(owner, f"an {name} LSTM with output_size=None (its states are "
                         f"what the model uses)", _checks.Described(
                             f"output_size={layer.output_size}"))
    if cell.memorize:
        _checks.fail(owner, "an encoder with memorize=False (every source starts from "
                     "zeros)", _checks.Described("memorize=True"))
    for name, embedding, layer in (("encoder", encoder_embedding, cell),
                                   ("decoder", decoder_embedding, decoder)):
        if layer.input_size != embedding.embedding_size:
            _checks.fail(owner, f"the {name}'s input_size {embedding.embedding_size}, the "
                         f"{name} embedding's size", _checks.Described(f"{name} {layer!r}"))
    size = cell.hidden_size * (2 if bidirectional else 1)
    if decoder.hidden_size != size:
        _checks.fail(owner, f"a decoder of hidden_size {size}, the size of the encoder's "
                     f"states (the decoder starts from its final state, and the dot "
                     f"attention compares their states)", _checks.Described(
                         f"encoder {encoder!r}, decoder {decoder!r}"))


def build(attention=True, bidirectional=False, embedding=EMBEDDING, hidden=HIDDEN,
          dtype=np.float32, learning_rate=LEARNING_RATE):
    """The date translator of the module docstring, untrained. The initial weights are
    PyTorch's defaults (Embedding N(0, 1), LSTM and Linear uniform on ``±1/sqrt(fan)``)."""
    encoder = LSTM.LSTM(embedding, hidden, dtype=dtype)
    if bidirectional:
        encoder = Bidirectional.Bidirectional(encoder)
    decoder_size = hidden * (2 if bidirectional else 1)
    return Seq2Seq(Optimizers.Adam(learning_rate),
                   Embedding.Embedding(Dates.INPUT_VOCABULARY, embedding, dtype=dtype), encoder,
                   Embedding.Embedding(Dates.OUTPUT_VOCABULARY, embedding, dtype=dtype),
                   LSTM.LSTM(embedding, decoder_size, dtype=dtype), attention=attention)
