"""The machinery the command lines share (``TrainLeNet.py``, ``TrainSequences.py``): a command
line describes its task with a ``Task`` and calls ``main(task, argv)``. What a user saved is
safe by construction, from three ideas (docs/training.md tells them at length):

* A run writes nothing before it saves, and then into a fresh directory that ``mkdir``
  makes, or at ``--checkpoint`` a file created exclusively (``_files.create``: never over
  anything, a link included).
* A file that is there is replaced only if it is the run's own (``--resume``) or the user
  said so (``--overwrite``), never an unfinished run, by the one atomic writer (``_files``).
* What can be checked before work is (``runs.refuse``): one line, exit status 2.

Exit status: 0 done; 1 a failure after work began (the work is saved and the message says
where); 2 a mistake on the command line or a refused file (nothing was done or written);
130 interrupted (saved; the message gives the command that continues). Only command lines
import this package: it is the top floor of the import tree.
"""
import argparse
import errno
import os
import signal
import sys
from pathlib import Path
from typing import Callable, NamedTuple

import _checks
import _files
from Optimization import Schedules

from . import runs
from .runs import StopRequest


class Setting(NamedTuple):
    """A setting of a run, saved with it so that ``--resume`` needs none. ``parse`` turns
    the flag's text into the value (an argparse type; ``bool``: a ``--x/--no-x`` switch)."""
    parse: Callable
    default: object
    help: str


class Parser(argparse.ArgumentParser):
    def error(self, message):               # one line, exit status 2, no usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def flag_type(check, convert):
    """An argparse type: ``convert`` the text (if it can), then ``check`` it with
    ``_checks``' message."""
    def parse(text):
        try:
            try:
                value = convert(text)
            except ValueError:
                value = text
            return check(value)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def integer(low, high=None):
    return flag_type(lambda v: _checks.size(None, "value", v, low, high), int)


def number(low, high, low_open=True):
    return flag_type(lambda v: _checks.number(None, "value", v, low, high, low_open), float)


def choice(*names):
    return flag_type(lambda v: v if v in names else _checks.fail(
        None, f"one of {', '.join(names)}", v), str)


def file_path(text):
    """A path whose names fit the file system."""
    longest = max((len(os.fsencode(part)) for part in Path(text).parts), default=0)
    if longest > _files.NAME_MAX:
        raise argparse.ArgumentTypeError(f"expected file and directory names of at most "
                                         f"{_files.NAME_MAX} bytes, got one of {longest} bytes")
    return Path(text)


def directory(text):
    """A readable directory, as an absolute path without links."""
    try:
        os.listdir(file_path(text))
    except OSError as err:
        why = "is a loop of symbolic links" if err.errno == errno.ELOOP else \
            f"is not a readable directory ({err.strerror or err})"
        raise argparse.ArgumentTypeError(f"{text} {why}") from None
    return os.path.realpath(text)


def common_settings(epochs, lr_decay=1.0, batch_size=64, lr=1e-3):
    """The settings every trainer has, with the task's defaults. ``lr`` is not saved with
    the run: the checkpoint's optimizer holds the learning rate."""
    return {
        "epochs": Setting(integer(1), epochs, "the total number of epochs of the run, counted "
                          "from its start; with --resume the run continues up to it (in "
                          "Python, train(epochs=N) runs N more)"),
        "batch_size": Setting(integer(1), batch_size, "samples per step"),
        "lr": Setting(number(0, 1), lr, "Adam learning rate"),
        "lr_decay": Setting(number(0, 1), lr_decay, "multiply the learning rate by this after "
                                                    "every epoch (1 = constant)"),
        "patience": Setting(integer(0), 0, "stop after this many epochs without a better "
                                           "validation loss and end on the best weights "
                                           "(0 = train all epochs)"),
        "seed": Setting(integer(0, 2**32 - 1), 0, "seed of initialization and shuffling"),
        "plot": Setting(bool, True, "write the PNG figures (a resumed run keeps its choice)"),
    }


class Task:
    """A task a command line trains. Attributes: prog, script, words (its name in messages,
    its file, the words before the flags); settings (``{name: Setting}``, ``lr_decay`` is
    ``--lr-decay``); model (the class a checkpoint must hold); shipped (read by --evaluate
    and --export-onnx by default); runs, run_file (without --checkpoint a run saves
    ``runs/<time>/run_file``); unit (what the data holds); figure_names (``<stem>_<name>.png``).

    Hooks, on the settings ``s`` (an ``argparse.Namespace``): ``load_data(s)`` (OSError or
    ValueError for what is not there), ``source(data)`` (the same on every machine),
    ``build(s)`` (NumPy is seeded), ``describe(data, s, net)``, ``validation_set(data, s)``
    (or None), ``epochs(net, data, s)`` (the log's table), ``results(net, data)`` (rows of
    the result table), ``figures(net, data)`` (``{name: draw}``; ``draw(path)`` saves a PNG).
    """
    prog = script = description = model = shipped = runs = run_file = None
    words, unit, settings, figure_names = (), "samples", {}, ()

    def parse(self, argv):
        """``(parser, args)``; a setting not given on the command line is None in ``args``
        (--resume tells a flag given now from the saved value)."""
        parser = Parser(prog=self.prog, description=self.description)
        add = parser.add_argument
        for name, s in self.settings.items():
            kind = {"action": argparse.BooleanOptionalAction} if s.parse is bool else \
                {"type": s.parse}
            add("--" + name.replace("_", "-"), **kind, default=None,
                help=s.help + ("" if s.default is None else f" (default: {s.default})"))
        add("--checkpoint", type=file_path, help=f"where the run is saved, figures next to it "
            f"(default: a new directory {self.runs.name}/<time>/; for --evaluate and "
            f"--export-onnx the shipped model)")
        add("--overwrite", action="store_true", help="let a new run replace the finished model "
            "in --checkpoint and its figures (an unfinished run is never replaced)")
        add("--resume", action="store_true", help="continue the run saved in --checkpoint")
        add("--evaluate", action="store_true", help="only report the test results")
        add("--export-onnx", type=file_path, metavar="PATH", help="only write the model as "
            "ONNX to PATH")
        add("--show", action="store_true", help="also show the figures in windows")
        add("--quiet", action="store_true", help="print only the result (or the error)")
        args = parser.parse_args(argv)
        modes = [f for f, on in (("--resume", args.resume), ("--evaluate", args.evaluate),
                                 ("--export-onnx", args.export_onnx is not None)) if on]
        if len(modes) > 1:
            parser.error(f"{modes[0]} and {modes[1]} exclude each other")
        if args.resume and args.checkpoint is None:
            parser.error("--resume needs --checkpoint PATH (the file an earlier run saved)")
        if modes and args.checkpoint is not None and not args.checkpoint.is_file():
            parser.error(f"no checkpoint at {args.checkpoint} (train one first)")
        return parser, args

    def settings_of(self, args, saved=None):
        """The run's settings: ``saved`` (or the defaults), then the flags given now."""
        values = {n: s.default for n, s in self.settings.items()} if saved is None else saved
        given = {n: getattr(args, n) for n in self.settings if getattr(args, n) is not None}
        return argparse.Namespace(**{**values, **given})

    def controls(self, s):
        """``(schedule, early_stopping)`` that the settings make."""
        return (Schedules.ExponentialDecay(s.lr_decay) if s.lr_decay < 1 else None,
                Schedules.EarlyStopping(s.patience) if s.patience else None)

    def epochs(self, net, data, s):
        keys = [k for k in ("epoch", "train_loss", "validation_loss", "validation_accuracy")
                if net.history and k in net.history[0]]
        return [k.replace("_", " ") for k in keys], [[h[k] for k in keys] for h in net.history]


def main(task, argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``) of ``task``; the exit status."""
    parser, args = task.parse(argv)
    try:
        with StopRequest() as stop:
            if args.evaluate or args.export_onnx is not None:
                return runs.evaluate(task, parser, args)
            return (runs.resume if args.resume else runs.new_run)(task, parser, args, stop)
    except KeyboardInterrupt:
        saved = getattr(args, "saved", None)
        print(f"\n{task.prog}: stopped at once by a second Ctrl-C; " +
              (f"the run was saved in {saved}" if saved else "nothing of this run was saved"),
              file=sys.stderr)
        return 130


def script(task, argv=None):
    """Run ``task`` as the script's ``__main__``, exiting with ``main``'s status. Outside
    main's StopRequest a signal is ignored (SIG_IGN: a Python handler is reset as the
    interpreter shuts down): before it nothing needs saving, after it the work is saved."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(main(task, argv))
