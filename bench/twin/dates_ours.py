"""Our ``Models.Seq2Seq.build()`` on the dates, with the figures and log of its twin ``dates.py``.

The model is built after ``np.random.seed(SEED)``, then the global generator is seeded
again for the batch order, so ``DatesData.next`` hands out the twin's batches. Training
is ``NeuralNetwork.train(epochs=1, batch_size=64, validation=...)`` once per epoch: its
``history`` gives the train loss (per sample) and the teacher-forced validation loss;
``Seq2Seq.exact_match`` (greedy) the validation and test exact-match, and at the end the
test exact-match with beam search of width ``--beam`` (default 3; 0 skips it). Run from
the repository root:

    .venv/bin/python bench/twin/dates_ours.py --epochs 3 --subset 8000 --log ours.json

(``TrainSequences.py`` has no dates task yet; when it has, it is the way to train the
shipped model, and this stays the side-by-side run.)
"""
import time

import numpy as np
from threadpoolctl import threadpool_limits

from common import BATCH, Log, Subset, arguments, batch_order
from Models import Seq2Seq


def main():
    args = arguments(__doc__.splitlines()[0])
    threadpool_limits(args.threads)
    data = Subset(args.subset)
    np.random.seed(args.seed)
    net = Seq2Seq.build(attention=not args.no_attention)
    batch_order(args.seed)
    net.data_layer = data
    validation = data.get_validation_set()
    log = Log(f"ours (numpy {np.__version__})", args)
    for _ in range(args.epochs):
        start = time.perf_counter()
        net.train(epochs=1, batch_size=BATCH, validation=validation, progress=False)
        record = net.history[-1]
        log.epoch(record["train_loss"], record["validation_loss"],
                  net.exact_match(data.validation_pairs), time.perf_counter() - start)
    beam = None
    if args.beam:
        beam = {"width": args.beam, "exact_match": net.exact_match(data.test_pairs, args.beam)}
    log.test(net.exact_match(data.test_pairs), beam)


if __name__ == "__main__":
    main()
