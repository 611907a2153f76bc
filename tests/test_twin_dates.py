"""The PyTorch twin of the date translator (bench/twin/dates.py) is our Seq2Seq: started from
our initial weights, it gives the same loss, gradients and greedy translations (float64),
both reading every source padded to Data.Dates.INPUT_STEPS.
Skipped where torch is absent (it is a benchmark-only dependency)."""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from Data import Dates
from Models import Seq2Seq

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "twin"))
import dates  # noqa: E402


def twins(attention):
    np.random.seed(0)
    ours = Seq2Seq.build(attention=attention, dtype=np.float64)
    twin = dates.Twin(attention).double()
    dates.copy_weights(twin, ours)
    return ours, twin


@pytest.mark.parametrize("attention", [True, False])
def test_same_loss_and_gradients(attention):
    ours, twin = twins(attention)
    tokens, targets = Dates.pad(Dates.examples(32, seed=3))   # padded: the mask matters
    labels = Dates.labels(targets)
    ours.data_layer = SimpleNamespace(next=lambda: (tokens, labels))
    loss = ours.forward()
    ours.backward()                 # the gradients are of the weights before the update
    twin_loss = dates.batch_loss(twin, tokens, labels)
    twin_loss.backward()
    assert loss == pytest.approx(twin_loss.item(), rel=1e-12)

    n = Seq2Seq.HIDDEN
    gates = np.concatenate([np.arange(n) + k * n for k in (1, 0, 3, 2)])   # ours f i o g
    pairs = [(ours.encoder_embedding.gradient_weights, twin.source.weight.grad),
             (ours.decoder_embedding.gradient_weights, twin.target.weight.grad),
             (ours.output_layer.gradient_weights[:-1].T, twin.output.weight.grad),
             (ours.output_layer.gradient_weights[-1], twin.output.bias.grad)]
    for layer, lstm in ((ours.encoder, twin.encoder), (ours.decoder, twin.decoder)):
        g, m = layer.gradient_weights[:, gates], layer.input_size
        pairs += [(g[:m].T, lstm.weight_ih_l0.grad), (g[m:-1].T, lstm.weight_hh_l0.grad),
                  (g[-1], lstm.bias_ih_l0.grad)]
    for mine, theirs in pairs:
        theirs = theirs.numpy()
        assert np.abs(mine - theirs).max() <= 1e-9 * np.abs(theirs).max()


def test_same_training_and_greedy_translations():
    """Thirty Adam steps on one batch, then greedy decoding: the same translations."""
    ours, twin = twins(True)
    pairs = Dates.examples(64, seed=4)
    tokens, targets = Dates.pad(pairs)
    labels = Dates.labels(targets)
    ours.data_layer = SimpleNamespace(next=lambda: (tokens, labels))
    optimizer = torch.optim.Adam(twin.parameters(), lr=Seq2Seq.LEARNING_RATE)
    for _ in range(30):
        loss = ours.forward()
        ours.backward()
        optimizer.zero_grad()
        twin_loss = dates.batch_loss(twin, tokens, labels)
        twin_loss.backward()
        optimizer.step()
    assert loss == pytest.approx(twin_loss.item(), rel=1e-9)
    mine, _ = ours.greedy(tokens)
    theirs = dates.greedy(twin, torch.from_numpy(tokens))
    translations = [Dates.decode_target(t) for t in mine]
    assert len(set(translations)) > 1          # the outputs depend on the source by now
    assert translations == [Dates.decode_target(t) for t in theirs]
    assert dates.exact_match(twin, pairs) == ours.exact_match(pairs)
    # Both pad every source to INPUT_STEPS: a short text is read with the same padding,
    # whatever the other texts, by both (here the padding changes the answer).
    texts = ["9/6/44", "1/2/03", "27-SEP-94", "Tue, 27 Sep 1994"]
    assert dates.translate(twin, texts) == ours.translate(texts)
    bare = [Dates.decode_target(dates.greedy(twin, torch.tensor([Dates.encode(t)]))[0])
            for t in texts]
    assert bare != ours.translate(texts)
