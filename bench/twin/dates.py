"""The PyTorch twin of ``Models.Seq2Seq.build()``: dates to ISO, with and without attention.

The same model, layer for layer (sizes from ``Models.Seq2Seq``: E = 32, H = 128)::

    Embedding(67, E) -> LSTM(E, H)                     encoder: memory (batch, T_enc, H), (h, c)
    Embedding(13, E) -> LSTM(E, H) from (h, c)         decoder, teacher-forced: s (batch, T_dec, H)
    a = softmax(s . memory, PAD masked), [a @ memory, s]   Luong dot attention (none with
                                                           --no-attention: s alone)
    Linear(2 H or H, 13)                               logits of y_1 .. y_11 (the date, END)

trained with the summed cross-entropy of each batch (``CrossEntropyLoss``'s sum, as ours),
Adam 1e-3 (no weight decay), batch 64, on the batches ``DatesData.next`` hands out after
``np.random.seed(SEED)``: the very batches of ``dates_ours.py``. Every source is padded to
``Dates.INPUT_STEPS`` and the encoder reads the padding (no ``pack_padded_sequence``), as
ours, in training and decoding alike.

Initial weights, ours' scheme: Embedding N(0, 1), Linear uniform on ±1/sqrt(fan_in) (torch's
defaults), LSTM weights and bias uniform on ±1/sqrt(H); ours has ONE bias per gate where
torch has two (``bias_ih + bias_hh``), so ``bias_hh`` is 0 and stays 0 (not trained: two
biases would each take an Adam step, twice ours on their sum). ``--same-weights`` copies
our model's initial weights instead (gates reordered from ours f, i, o, g to torch's
i, f, g, o): loss, gradients and Adam steps then agree with ours to round-off
(``tests/test_twin_dates.py``, in float64).

Per epoch: train loss (per sample, the mean over the epoch's batches as they trained),
validation loss (teacher-forced, per sample, batches of 256, as ``Seq2Seq.evaluate``) and
validation exact-match with greedy decoding (as ``Seq2Seq.exact_match``); test exact-match
at the end. Run from the repository root with a Python that has torch
(bench/requirements.txt):

    /tmp/torchenv/bin/python bench/twin/dates.py --epochs 3 --subset 8000 --log twin.json
"""
import time

import numpy as np
import torch
from torch import nn

from common import Log, Subset, arguments, batch_order, steps_per_epoch
from Data import Dates
from Data.Dates import END, PAD, START
from Models import Seq2Seq

IGNORE = -100          # torch's cross_entropy leaves these targets out


class Twin(nn.Module):
    def __init__(self, attention=True, embedding=Seq2Seq.EMBEDDING, hidden=Seq2Seq.HIDDEN):
        super().__init__()
        self.attention = attention
        self.source = nn.Embedding(Dates.INPUT_VOCABULARY, embedding)
        self.encoder = nn.LSTM(embedding, hidden, batch_first=True)
        self.target = nn.Embedding(Dates.OUTPUT_VOCABULARY, embedding)
        self.decoder = nn.LSTM(embedding, hidden, batch_first=True)
        self.output = nn.Linear(hidden * (2 if attention else 1), Dates.OUTPUT_VOCABULARY)
        for lstm in (self.encoder, self.decoder):      # one bias per gate, as ours
            with torch.no_grad():
                lstm.bias_hh_l0.zero_()
            lstm.bias_hh_l0.requires_grad_(False)

    def encode(self, tokens):
        """Source tokens (batch, T_enc) -> memory, mask (True where not PAD), final (h, c)."""
        memory, state = self.encoder(self.source(tokens))
        return memory, tokens != PAD, state

    def decode(self, memory, mask, state, inputs):
        """Decoder inputs (batch, T_dec) from ``state`` -> logits (batch, T_dec, 13), state."""
        s, state = self.decoder(self.target(inputs), state)
        if self.attention:
            scores = (s @ memory.transpose(1, 2)).masked_fill(~mask[:, None, :], float("-inf"))
            s = torch.cat([scores.softmax(-1) @ memory, s], dim=-1)
        return self.output(s), state


def copy_weights(twin, ours):
    """Our Seq2Seq's parameters into the twin: the same function to round-off."""
    hidden = ours.decoder.hidden_size
    gates = np.concatenate([np.arange(hidden) + k * hidden for k in (1, 0, 3, 2)])  # i f g o
    pairs = [(twin.source.weight, ours.encoder_embedding.weights),
             (twin.target.weight, ours.decoder_embedding.weights),
             (twin.output.weight, ours.output_layer.weights[:-1].T),
             (twin.output.bias, ours.output_layer.weights[-1])]
    for lstm, layer in ((twin.encoder, ours.encoder), (twin.decoder, ours.decoder)):
        w, n = layer.weights[:, gates], layer.input_size    # rows [W_x; W_h; b]
        pairs += [(lstm.weight_ih_l0, w[:n].T), (lstm.weight_hh_l0, w[n:-1].T),
                  (lstm.bias_ih_l0, w[-1]), (lstm.bias_hh_l0, np.zeros(4 * hidden))]
    with torch.no_grad():
        for parameter, value in pairs:
            parameter.copy_(torch.as_tensor(np.ascontiguousarray(value)))


def batch_loss(model, tokens, labels):
    """Summed cross-entropy of one teacher-forced batch: tokens (batch, T_enc), one-hot
    labels (batch, 11, 13) from ``DatesData``."""
    targets = np.where(labels.any(-1), labels.argmax(-1), IGNORE)
    logits, _ = model.decode(*model.encode(torch.from_numpy(tokens)),
                             torch.from_numpy(Dates.decoder_inputs(labels)))
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                       torch.from_numpy(targets).reshape(-1),
                                       ignore_index=IGNORE, reduction="sum")


@torch.no_grad()
def validation_loss(model, tokens, labels, batch=256):
    total = sum(batch_loss(model, tokens[i:i + batch], labels[i:i + batch]).item()
                for i in range(0, len(tokens), batch))
    return total / len(tokens)


@torch.no_grad()
def greedy(model, tokens):
    """The most likely token at each step, fed back; END after the first END."""
    memory, mask, state = model.encode(tokens)
    y = torch.full((len(tokens), 1), START)
    ended = torch.zeros(len(tokens), dtype=torch.bool)
    outputs = []
    for _ in range(Dates.TARGET_STEPS):
        logits, state = model.decode(memory, mask, state, y)
        y = torch.where(ended, END, logits[:, 0].argmax(-1))[:, None]
        outputs.append(y[:, 0])
        ended |= y[:, 0] == END
    return torch.stack(outputs, dim=1).numpy()


def translate(model, texts):
    """Greedy translations of the texts, padded to ``Dates.INPUT_STEPS`` (``Dates.sources``)
    as in training and as ``Seq2Seq.translate`` pads them."""
    outputs = greedy(model, torch.from_numpy(Dates.sources(texts)))
    return [Dates.decode_target(out) for out in outputs]


def exact_match(model, pairs):
    """The fraction of ``(text, iso)`` pairs greedily translated exactly right."""
    answers = translate(model, [text for text, _ in pairs])
    return float(np.mean([a == iso for a, (_, iso) in zip(answers, pairs)]))


def main():
    args = arguments(__doc__.splitlines()[0], twin=True)
    torch.set_num_threads(args.threads)
    data = Subset(args.subset)
    torch.manual_seed(args.seed)
    model = Twin(attention=not args.no_attention)
    if args.same_weights:
        np.random.seed(args.seed)
        copy_weights(model, Seq2Seq.build(attention=not args.no_attention))
    batch_order(args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=Seq2Seq.LEARNING_RATE)
    validation = data.get_validation_set()
    log = Log(f"torch {torch.__version__}", args)
    for _ in range(args.epochs):
        start, total, samples = time.perf_counter(), 0.0, 0
        for _ in range(steps_per_epoch(data)):
            tokens, labels = data.next()
            optimizer.zero_grad()
            loss = batch_loss(model, tokens, labels)
            loss.backward()
            optimizer.step()
            total, samples = total + loss.item(), samples + len(tokens)
        log.epoch(total / samples, validation_loss(model, *validation),
                  exact_match(model, data.validation_pairs), time.perf_counter() - start)
    log.test(exact_match(model, data.test_pairs))


if __name__ == "__main__":
    main()
