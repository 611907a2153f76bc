"""What the two date-translator runs share: the command line, the data and the log.

``dates.py`` (PyTorch) and ``dates_ours.py`` (this framework) train the same model on the
same batches and write the same figures, so that their curves can be laid side by side.
This file imports neither library's model, only ``Data.Dates`` and NumPy.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from Data import Dates  # noqa: E402

BATCH = 64


def arguments(description, twin=False):
    """The options of both runs (``twin``: and the twin's own); a mistake is one line and
    exit status 2 (argparse)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-attention", action="store_true",
                        help="the plain encoder-decoder (the output layer reads s_t alone)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    parser.add_argument("--seed", type=int, default=0,
                        help="initial weights and batch order (the splits are always seed 0)")
    parser.add_argument("--subset", type=int, default=None,
                        help="train on the first N training examples only (quick runs)")
    parser.add_argument("--log", default=None, help="write the figures to this JSON file")
    if twin:
        parser.add_argument("--same-weights", action="store_true",
                            help="start from our model's initial weights (Seq2Seq.build after "
                                 "np.random.seed(SEED)) instead of torch's draw of the scheme")
    else:
        parser.add_argument("--beam", type=int, default=3,
                            help="also the test exact-match with beam search of this width "
                                 "(0: greedy only)")
    args = parser.parse_args()
    for name in ("epochs", "threads", "subset"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name}: expected an integer >= 1, got {value}")
    if getattr(args, "beam", 0) < 0:
        parser.error(f"--beam: expected an integer >= 0, got {args.beam}")
    if args.subset is not None and args.subset > Dates.SIZES[0]:
        parser.error(f"--subset: expected at most {Dates.SIZES[0]}, got {args.subset}")
    return args


class Subset(Dates.DatesData):
    """``DatesData`` (float32 labels, splits of seed 0) training on its first ``subset``
    examples; validation and test stay whole."""

    def __init__(self, subset=None):
        super().__init__(BATCH, dtype=np.float32)
        if subset is not None:
            self.train_pairs = self.train_pairs[:subset]
            self._train = tuple(a[:subset] for a in self._train)


def batch_order(seed):
    """Both runs draw their batches with ``DatesData.next``, whose permutation of each
    epoch comes from NumPy's global generator: seeded here, after the model is built,
    it gives the two runs the same batches in the same order."""
    np.random.seed(seed)


def steps_per_epoch(data):
    return -(-len(data) // data.batch_size)


class Log:
    """Prints one line per epoch and keeps the figures in a JSON file (rewritten after
    every epoch, so that an interrupted run keeps what it did)."""

    def __init__(self, library, args):
        self.path = args.log
        self.run = {"library": library, "attention": not args.no_attention,
                    "seed": args.seed, "subset": args.subset, "threads": args.threads,
                    "batch": BATCH, "same_weights": getattr(args, "same_weights", False),
                    "epochs": []}
        print(f"{library}: attention={not args.no_attention} seed={args.seed} "
              f"subset={args.subset} threads={args.threads} batch={BATCH}"
              + (" same_weights" if self.run["same_weights"] else ""), flush=True)
        print(f"{'epoch':>5} {'train_loss':>10} {'val_loss':>9} {'val_exact':>9} "
              f"{'seconds':>8}", flush=True)

    def epoch(self, train_loss, validation_loss, validation_exact, seconds):
        row = {"epoch": len(self.run["epochs"]) + 1, "train_loss": train_loss,
               "validation_loss": validation_loss, "validation_exact_match": validation_exact,
               "seconds": seconds}
        self.run["epochs"].append(row)
        print(f"{row['epoch']:>5} {train_loss:>10.4f} {validation_loss:>9.4f} "
              f"{validation_exact:>9.4f} {seconds:>8.1f}", flush=True)
        self._write()

    def test(self, exact, beam=None):
        """The test split's exact-match, greedy (and with beam search of ``beam``'s width:
        ``{"width": k, "exact_match": figure}``)."""
        self.run["test_exact_match"] = exact
        line = f"test exact-match (greedy): {exact:.4f}"
        if beam is not None:
            self.run["test_exact_match_beam"] = beam
            line += f"; beam width {beam['width']}: {beam['exact_match']:.4f}"
        print(line, flush=True)
        self._write()

    def _write(self):
        if self.path:
            Path(self.path).write_text(json.dumps(self.run, indent=1) + "\n")
