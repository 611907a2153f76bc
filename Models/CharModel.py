"""A character-level language model that writes surnames.

Architecture (per name of T characters, ``Data/Names.py``)::

    tokens '.' + name                       (T,)        integers 0..26
    Embedding(27 -> 32)                     (T, 32)
    LSTM(32 -> 128, output_size=None)       (T, 128)    h_t: what the model has read
    FullyConnected(128 -> 27), SoftMax      (T, 27)     p(next character | characters so far)

trained with the summed cross-entropy against ``name + '.'`` (padding masked by
all-zero label rows), Adam with learning rate 1e-3, float32 by default. The
initial weights follow PyTorch's defaults (``nn.Embedding``: N(0, 1); ``nn.LSTM``:
uniform on ``±1/sqrt(128)``; ``nn.Linear``: uniform on ``±1/sqrt(128)``).

``sample`` writes new names; ``test_loss`` gives nats per character and the
perplexity ``exp(nats)`` (a uniform guess among 27 characters scores ln 27 = 3.30).
"""
import numpy as np

import _checks
import NeuralNetwork
from Data import Names
from Layers import GRU, LSTM, RNN, Embedding, FullyConnected, SoftMax
from Optimization import Loss, Optimizers

from .RowMNIST import check_architecture, linear_like_torch

LEARNING_RATE = 1e-3
EMBEDDING, HIDDEN = 32, 128


class CharModel(NeuralNetwork.NeuralNetwork):
    """A ``NeuralNetwork`` over character tokens ``(batch, time)``: build it with ``build``.

    The constructor is NeuralNetwork's (it adds no layers); ``sample`` and
    ``test_loss`` work on any such stack that ends in a per-step SoftMax over the
    27 characters and whose recurrent layers have ``memorize``. A checkpoint holds
    ``build``'s architecture only (``from_config``); save other stacks as a
    ``NeuralNetwork``.
    """

    def __init__(self, optimizer, weights_initializer=None, bias_initializer=None):
        super().__init__(optimizer, weights_initializer, bias_initializer)
        self.loss_layer = Loss.CrossEntropyLoss()

    @classmethod
    def from_config(cls, config, *, layers, optimizer, weights_initializer=None,
                    bias_initializer=None, loss_layer=None):
        """``NeuralNetwork.from_config`` for ``build``'s architecture only: an Embedding of
        the 27 tokens of ``Data.Names`` (any width E), an LSTM, GRU or RNN (any hidden size
        H, no output layer), FullyConnected back to the 27 tokens, SoftMax, and
        ``CrossEntropyLoss``; ValueError otherwise (nats per character of another
        vocabulary or another loss would be another quantity)."""
        v = Names.VOCABULARY
        check_architecture(
            cls.__name__, layers, loss_layer,
            ((Embedding.Embedding,), (LSTM.LSTM, GRU.GRU, RNN.RNN),
             (FullyConnected.FullyConnected,), (SoftMax.SoftMax,)),
            lambda embedding, cell, fc, softmax: (
                embedding.vocabulary_size == v and cell.input_size == embedding.embedding_size
                and cell.output_size is None and fc.input_size == cell.hidden_size
                and fc.output_size == v),
            f"Embedding({v}, E) -> LSTM, GRU or RNN(E, H) -> FullyConnected(H, {v}) -> "
            f"SoftMax()")
        return super().from_config(config, layers=layers, optimizer=optimizer,
                                   weights_initializer=weights_initializer,
                                   bias_initializer=bias_initializer, loss_layer=loss_layer)

    def test_loss(self, tokens=None, labels=None, batch_size=1024):
        """``(nats per character, perplexity)`` on ``tokens``/``labels`` (default: the data
        layer's test set). Each name counts ``len(name) + 1`` characters, the end included;
        padded steps (all-zero label rows) are left out, and labels that are all padding
        (no character to score) are a ``ValueError``."""
        if tokens is None:
            tokens, labels = self.data_layer.get_test_set()
        if labels is None:
            _checks.fail("CharModel.test_loss", "labels with the tokens", None, TypeError)
        labels = np.asarray(labels)
        characters = int(labels.any(axis=-1).sum())
        if characters == 0:
            _checks.fail("CharModel.test_loss", "labels with at least one character that is "
                         "not padding (an all-zero row is a padded step)",
                         _checks.Described(f"{labels.shape[0]} names, all padding"))
        prediction = self.test(tokens, batch_size)
        nats = self.loss_layer.forward(prediction, labels) / characters
        return nats, float(np.exp(nats))

    def sample(self, n, temperature=1.0, prefix="", seed=None, max_length=30):
        """``n`` new names, each drawn a character at a time until '.' or ``max_length``.

        Generation carries each name's recurrent state from one character to the next:
        the layers' ``forward`` runs one step at a time in the testing phase with
        ``memorize`` on (``test`` would start every call from zeros: it treats samples
        as independent sequences). The model's phase, ``memorize`` and recurrent
        state are put back afterwards.

        Args:
            n: how many names.
            temperature: a positive finite number; the probabilities are raised to
                ``1 / temperature`` and renormalized (softmax of logits / temperature):
                below 1 the likely characters win more often (a tiny temperature picks
                the most likely one), above 1 the names get wilder.
            prefix: a str of letters a-z every name starts with (returned with them).
            seed: an integer >= 0 seeding a generator of its own; None draws from
                NumPy's global one.
            max_length: an integer > ``len(prefix)``: the longest name returned.
        Returns:
            a list of ``n`` strings without the end marker.
        """
        owner = "CharModel.sample"
        n = _checks.size(owner, "n", n)
        temperature = _checks.number(owner, "temperature", temperature, low=0, low_open=True)
        if not isinstance(prefix, str):
            _checks.fail(owner, "prefix as a str of letters a-z", prefix, TypeError)
        if not set(prefix) <= set(Names.ALPHABET[1:]):
            _checks.fail(owner, "prefix of letters a-z (the end marker '.' would end the "
                         "name)", prefix)
        max_length = _checks.size(owner, "max_length", max_length)
        if max_length <= len(prefix):
            _checks.fail(owner, f"max_length > len(prefix) = {len(prefix)}", max_length)
        if seed is not None:
            seed = _checks.size(owner, "seed", seed, minimum=0)
        uniform = np.random.random if seed is None else np.random.default_rng(seed).random
        recurrent = [layer for layer in self.layers if hasattr(layer, "memorize")]
        saved = [(layer.memorize, layer.state) for layer in recurrent]
        phases = [layer.testing_phase for layer in self.layers]
        tokens = np.tile([Names.END] + Names.encode(prefix), (n, 1))    # (n, 1 + len(prefix))
        names = [prefix] * n
        alive = np.ones(n, dtype=bool)
        try:
            self.phase = True
            for layer in recurrent:             # carry the state from one step to the next
                layer.memorize, layer.state = True, None
            for _ in range(max_length - len(prefix)):
                x = tokens
                for layer in self.layers:
                    x = layer.forward(x)
                drawn = draw(x[:, -1], temperature, uniform(n))     # x: (n, steps, 27)
                for i in np.flatnonzero(alive & (drawn != Names.END)):
                    names[i] += Names.ALPHABET[drawn[i]]
                alive &= drawn != Names.END
                if not alive.any():
                    break
                tokens = drawn[:, None]         # the next step reads the drawn character
        finally:
            for layer, phase in zip(self.layers, phases):
                layer.testing_phase = phase
            for layer, (memorize, state) in zip(recurrent, saved):
                layer.memorize, layer.state = memorize, state
        return names


def draw(p, temperature, u):
    """One index per row of probabilities ``p`` ``(n, classes)``, drawn from ``p ** (1 /
    temperature)`` renormalized, by the inverse CDF at the uniform numbers ``u`` ``(n,)``."""
    logp = np.log(np.maximum(p.astype(np.float64), np.finfo(np.float64).tiny))
    # The largest logit is subtracted before dividing: at a tiny temperature the most
    # likely class gets exp(0) = 1 and the others exp(-inf) = 0, never inf - inf.
    with np.errstate(over="ignore"):        # -x / 1e-310 overflows to -inf, as it should
        weights = np.exp((logp - logp.max(axis=1, keepdims=True)) / temperature)
    cdf = np.cumsum(weights, axis=1)
    drawn = (cdf <= u[:, None] * cdf[:, -1:]).sum(axis=1)   # first k with cdf_k > u * sum
    return np.minimum(drawn, p.shape[1] - 1)


def build(dtype=np.float32, learning_rate=LEARNING_RATE, cell=LSTM.LSTM):
    """The character model of the module docstring, untrained."""
    net = CharModel(Optimizers.Adam(learning_rate))
    net.append_layer(Embedding.Embedding(Names.VOCABULARY, EMBEDDING, dtype=dtype))
    net.append_layer(cell(EMBEDDING, HIDDEN, output_size=None, dtype=dtype))
    net.append_layer(linear_like_torch(FullyConnected.FullyConnected(HIDDEN, Names.VOCABULARY,
                                                                     dtype=dtype)))
    net.append_layer(SoftMax.SoftMax())
    return net
