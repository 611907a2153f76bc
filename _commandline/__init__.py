"""The machinery of the command lines (``TrainLeNet.py``, ``TrainSequences.py``): each describes
its task with a ``Task`` and calls ``main(task, argv)``. What a user saved is safe by
construction, from three ideas (docs/training.md tells them at length):

* A run writes nothing before it saves, and then into a fresh directory that ``mkdir``
  makes, or a file created exclusively (``_files.create``: never over anything, nor a link).
* A file that is there is replaced only if it is the run's own (``--resume``) or the user
  said so (``--overwrite``), never an unfinished run, by the one atomic writer (``_files``).
* What can be checked before work is (``refuse``): one line, exit status 2.

Exit status: 0 done; 1 a failure after work began (the work is saved, the message says
where); 2 a command-line mistake or a refused file (nothing written); 130 interrupted (saved,
with the command that continues). Only command lines import this top floor of the house.
"""
import argparse
import collections
import contextlib
import errno
import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from tabulate import tabulate

import _checks
import _files
import checkpoint
import NeuralNetwork
import onnx_export
from Optimization import Schedules


# A setting of a run, saved with it so that --resume needs none. ``parse`` turns the flag's
# text into the value (an argparse type; ``bool``: a --x/--no-x switch).
Setting = collections.namedtuple("Setting", "parse default help")


class Parser(argparse.ArgumentParser):
    def error(self, message):               # one line, exit status 2, no usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def flag_type(check, convert):
    """An argparse type: ``check`` the text, converted if it can be, with ``_checks``' message."""
    def parse(text):
        value = text
        with contextlib.suppress(ValueError):   # else _checks says what it expected
            value = convert(text)
        try:
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
                            "validation loss, ending on the best weights (0 = train all epochs)"),
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
    the result table), ``figures(net, data)`` (``{name: draw}``; ``draw(path)`` saves a PNG)."""
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
            f"(default: a new {self.runs.name}/<time>/; to evaluate or export: the shipped model)")
        add("--overwrite", action="store_true", help="let a new run replace the finished model "
            "in --checkpoint and its figures (an unfinished run is never replaced)")
        add("--resume", action="store_true", help="continue the run saved in --checkpoint")
        add("--evaluate", action="store_true", help="only report the test results")
        add("--export-onnx", type=file_path, metavar="PATH", help="only write the model as ONNX")
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


class StopRequest:
    """Turns Ctrl-C / SIGTERM into 'stop after this step'; a second one stops at once."""
    signals, requested = (signal.SIGINT, signal.SIGTERM), False

    def __enter__(self):
        self._previous = [signal.signal(s, self._handle) for s in self.signals]
        return self

    def __exit__(self, *exc):
        for s, handler in zip(self.signals, self._previous):
            signal.signal(s, handler)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __call__(self, net, iteration, loss):
        return self.requested


def again(task, path):
    """The command line that continues the run saved in ``path``, to copy."""
    return shlex.join([sys.executable, str(task.script), *task.words, "--resume",
                       "--checkpoint", str(path)])


def say(task, text):
    print(f"{task.prog}: {text}", file=sys.stderr)


def read_network(task, parser, path):
    """``(network, training)`` of ``path``; any bad file ends in one line and status 2."""
    try:
        net, training = checkpoint.read(path)
    except checkpoint.CheckpointError as err:          # it names the file
        parser.error(f"cannot load {err}")
    except OSError as err:
        parser.error(f"cannot load {path}: {err.strerror or err}")
    if not isinstance(net, task.model) or net.loss_layer is None:
        parser.error(f"cannot load {path}: " + ("its network has no loss layer" if isinstance(
            net, task.model) else f"it holds a {type(net).__name__}, not a {task.model.__name__}"))
    return net, training


def load_data(task, parser, s):
    """The task's data layer, with training and test samples; refused in one line."""
    try:
        data = task.load_data(s)
    except (OSError, ValueError) as err:        # files not found, corrupt, bad settings
        parser.error(str(err))
    for split, n in (("training", len(data)), ("test", len(data.get_test_set()[0]))):
        if n == 0:
            parser.error(f"the {split} set from {task.source(data)} holds 0 {task.unit}")
    return data


def refuse(parser, what, place, why=None):
    """End in one line, before any work, if nothing may be written at ``place``: what
    ``_files.problem`` refuses or, if something is there, ``why(place)`` (None: it may go)."""
    refused = _files.problem(place) or (os.path.lexists(place) and why and why(place))
    if refused:
        parser.error(f"cannot {what} {place}: {refused}")


def held(task, path, overwrite, run=True):
    """Why the file at ``path`` may not be replaced, or None. An unfinished run never is, nor
    by a ``run`` a file that is not a checkpoint; anything else only with --overwrite."""
    try:
        training = checkpoint.read(path)[1]
        kind = "holds " + ("a network saved without a training run" if training is None else
                           "the model of a finished run")
    except (checkpoint.CheckpointError, OSError) as err:
        if run:
            return (f"it exists and is not a checkpoint this run may replace ({err}); choose "
                    f"another path")
        training, kind = None, "exists"
    if training and not training["finished"]:
        return "it holds an unfinished run, which is never replaced; continue it with: " + \
            again(task, path)
    return None if overwrite else f"{path} {kind}; --overwrite replaces it"


def sibling(path, insert, suffix):
    """``<stem><insert><suffix>`` next to ``path``, the name shortened by ``_files.fit``."""
    return path.with_name(_files.fit(path.stem + insert, _files.NAME_MAX - len(suffix)) + suffix)


def places(task, path, plot):
    """What a run writes: the checkpoint, its log and figures next to it."""
    return [("save the checkpoint", path), ("write the log", sibling(path, "", ".log"))] + [
        ("write the figure", sibling(path, f"_{n}", ".png")) for n in task.figure_names if plot]


def new_run(task, parser, args, stop):
    """A new run: its places checked, its network built, trained; the exit status."""
    s, path = task.settings_of(args), args.checkpoint
    if s.patience and getattr(s, "validation", None) == 0:
        parser.error("--patience needs validation samples (--validation > 0)")
    for what, place in places(task, path, s.plot) if path else ():
        refuse(parser, what, place, lambda p: held(task, p, args.overwrite, run=p == path))
    there = "model" if path is not None and os.path.lexists(path) else None   # --overwrite
    data = load_data(task, parser, s)
    np.random.seed(s.seed)
    net, s.source = task.build(s), task.source(data)
    if not args.quiet:
        print(task.describe(data, s, net))
    return train(task, args, stop, s, net, data, task.controls(s), path, there)


def resume(task, parser, args, stop):
    """Continue the run saved in --checkpoint exactly; the exit status."""
    path = args.checkpoint
    net, training = read_network(task, parser, path)
    if training is None:
        parser.error(f"cannot resume {path}: it holds a network saved without its training run "
                     f"(model.save); only a checkpoint written by {task.prog} can be resumed")
    s, done = saved_settings(task, parser, args, path, net, training), len(net.history)
    if training["finished"] and s.epochs <= done:
        print(f"{path}: the run finished ({_checks.plural(done, 'epoch')}); nothing to resume "
              f"(give --epochs N > {done} to train further)")
        return 0
    if s.epochs < done:
        parser.error(f"--epochs {s.epochs} is fewer than the {_checks.plural(done, 'epoch')} "
                     f"{path} has done")
    if training["finished"] and s.patience:
        parser.error(f"cannot extend {path}: early stopping ended it on its best epoch's "
                     f"weights, so it cannot continue exactly; start a new run")
    for what, place in places(task, path, s.plot):
        refuse(parser, what, place)             # the run's own files: replaced
    if not args.quiet:
        print(f"resuming {path}: {_checks.plural(done, 'epoch')} and "
              f"{_checks.plural(net.epoch_progress[0], 'step')} done")
    data, order = load_data(task, parser, s), training["data"]["order"]
    if (task.source(data), len(data)) != (s.source, len(order)):
        parser.error(f"cannot resume {path}: it trained on {len(order)} {task.unit} from "
                     f"{s.source}, now there are {len(data)} from {task.source(data)}")
    try:
        data.load_state_dict(training["data"])
    except (TypeError, ValueError) as err:
        parser.error(f"cannot resume {path}: {err}")
    np.random.set_state(training["rng"])
    return train(task, args, stop, s, net, data, (training["schedule"],
                 training["early_stopping"]), path, "model" if training["finished"] else "run")


def saved_settings(task, parser, args, path, net, training):
    """The settings of the run saved in ``path`` (the learning rate: its optimizer's), then the
    flags given now. They are data of a file: each is checked as its flag would be, a flag
    given now (but --epochs and --plot) must agree with it, and so must the saved schedule and
    early stopping with what they make (runs saved before --plot plotted)."""
    saved = {"plot": True, "lr": getattr(net.optimizer, "learning_rate", None),
             **training["settings"]}
    for name, setting in task.settings.items():
        value, given, flag = saved.get(name), getattr(args, name), "--" + name.replace("_", "-")
        try:
            ok = value is None and setting.default is None or (
                isinstance(value, bool) if setting.parse is bool else
                setting.parse(str(value)) == value)
        except (argparse.ArgumentTypeError, ValueError):   # ValueError: int("²"), a NUL in a path
            ok = False
        if not ok:
            parser.error(f"cannot resume {path}: its setting {name}={value!r} is invalid")
        if name not in ("epochs", "plot") and given not in (None, value):
            parser.error(f"{flag} {given} contradicts the run saved in {path} ({flag} {value}); "
                         f"leave it out to continue the run as it was")
    for name, kept, made in zip(("schedule", "early stopping"), (training["schedule"],
                                training["early_stopping"]), task.controls(
                                    argparse.Namespace(**saved))):
        if repr(kept) != repr(made):            # their repr is their configuration
            parser.error(f"cannot resume {path}: its {name} ({kept!r}) is not what its "
                         f"settings make ({made!r})")
    return task.settings_of(args, saved)


def first_free(names, create):
    """The first of ``names`` that ``create`` makes (it raises FileExistsError when taken)."""
    for name in names:
        with contextlib.suppress(FileExistsError):
            create(name)
            return name
    raise FileExistsError(f"no free name like {names[-1]}")


def save(task, net, training, path, there):
    """Save by the package docstring's ideas; where it was saved. ``there``: what was at
    ``path`` as the run began (None, a finished "model", or the run's own unfinished "run")."""
    finished = training["finished"]

    def write(where):
        checkpoint.save(where, net, training)
    try:
        if path is None:                        # a fresh run directory, made now
            stamp = time.strftime("%Y%m%d-%H%M%S")
            task.runs.mkdir(parents=True, exist_ok=True)
            path = first_free([task.runs / (stamp + f"-{n}" * (n > 1)) for n in range(1, 999)],
                              Path.mkdir) / task.run_file
        path.parent.mkdir(parents=True, exist_ok=True)
        if there == "run" or there == "model" and finished:
            write(path)                         # unfinished work never replaces a model
            return path
        asides = [sibling(path, f"-{n}" if finished else ".interrupted" + f"-{n}" * (n > 1),
                          path.suffix) for n in range(1 + finished, 999)]
        saved = first_free([path] * (not there) + asides, lambda p: _files.create(p, write))
        if saved != path and not there:
            say(task, f"{path} changed while this run trained (another run saved there?); it "
                      f"is left as it is")
        return saved
    except OSError as err:                      # a full disk: a new file where there is room
        name = f"{Path(task.script).stem}-{os.getpid()}-{(path or Path(task.run_file)).name}"
        saved = Path(tempfile.gettempdir()) / _files.fit(name)
        say(task, f"cannot save {path} ({err.strerror or err}); saving to {saved} instead")
        _files.create(saved, write)
        return saved


def train(task, args, stop, s, net, data, controls, path, there):
    """Train to the end (or a stop request), save by ``save``'s rule and report; the status."""
    (schedule, stopper), start, failure = controls, time.perf_counter(), None
    net.data_layer, wanted = data, path
    try:
        if s.epochs > len(net.history):
            net.train(epochs=s.epochs - len(net.history), schedule=schedule,
                      validation=task.validation_set(data, s), early_stopping=stopper,
                      progress=not args.quiet, callback=stop)
    except NeuralNetwork.TrainingDiverged as err:   # the guard put back the last good step
        failure = f"{err}; the last good parameters"
    except Exception as err:                    # noqa: BLE001 - whatever failed, keep the work
        failure = f"{type(err).__name__}: {err}; the trained state"
    training = {"settings": {k: v for k, v in vars(s).items() if k != "lr"},
                "data": data.state_dict(), "rng": np.random.get_state(), "schedule": schedule,
                "early_stopping": stopper, "finished": not (failure or stop.requested)}
    try:
        args.saved = path = save(task, net, training, path, there)
    except Exception as err:                    # noqa: BLE001
        say(task, f"{failure or 'the run'} could not be saved: {err}")
        return 1
    if failure:
        say(task, f"{failure} saved in {path}; inspect it, or continue with: {again(task, path)}")
        return 1
    if stop.requested:
        print(f"\nInterrupted after {_checks.plural(len(net.history), 'epoch')} and "
              f"{_checks.plural(net.epoch_progress[0], 'step')}; saved {path}.\nContinue with: "
              f"{again(task, path)}")
        return 130
    rows = [["epochs", len(net.history)], [f"training {task.unit}", len(data)],
            ["wall time", f"{time.perf_counter() - start:.0f} s"]]
    if net.history and "validation_accuracy" in net.history[-1]:
        rows.append(["validation accuracy", f"{net.history[-1]['validation_accuracy']:.2%}"])
    rows += task.results(net, data)
    print(tabulate(rows + [["checkpoint", str(path)]], headers=["result", ""]))
    if path.name != (wanted or Path(task.run_file)).name:   # saved aside or in the temporary
        return 1                                            # directory: its places unchecked
    if not args.show:
        plt.switch_backend("Agg")
    _, (_, log), *figures = places(task, path, s.plot)
    try:
        headers, epochs = task.epochs(net, data, s)
        _files.write_atomically(log, (tabulate(epochs, headers, floatfmt=".4f") + "\n\n" +
                                      tabulate(rows, tablefmt="plain") + "\n").encode(), task.prog)
        draws = task.figures(net, data)
        for name, (_, figure) in zip(task.figure_names, figures):
            draws[name](figure)
    except Exception as err:                    # noqa: BLE001 - the model is saved already
        say(task, f"the log or figures failed ({type(err).__name__}: {err}); the model is "
                  f"saved in {path}")
        plt.close("all")                        # none left open for the next run's backend
        return 1
    plt.show() if args.show else plt.close("all")
    if figures and not args.quiet:
        print("figures: " + ", ".join(str(figure) for _, figure in figures))
    return 0


def evaluate(task, parser, args):
    """--evaluate prints the test results of --checkpoint (the shipped model by default);
    --export-onnx writes it as ONNX by a run's rule, never over the file it reads (by inode)."""
    path, target = args.checkpoint or task.shipped, args.export_onnx
    net, _ = read_network(task, parser, path)
    if target is None:
        data, start = load_data(task, parser, task.settings_of(args)), time.perf_counter()
        rows = [["checkpoint", str(path)], [f"test {task.unit}", len(data.get_test_set()[0])]]
        rows += task.results(net, data) + [["time", f"{time.perf_counter() - start:.1f} s"]]
        print(tabulate(rows))
        return 0
    refuse(parser, "write", target, lambda p: f"it is the checkpoint being exported ({path}); "
           f"choose another path" if os.path.samefile(p, path) else
           held(task, p, args.overwrite, run=False))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        onnx_export.export(net, str(target))
    except (ValueError, TypeError, OSError) as err:
        parser.error(f"cannot export {path} to {target}: {err}")
    if not args.quiet:
        print(f"exported {path} to {target}")
    return 0


def main(task, argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``) of ``task``; the exit status."""
    parser, args = task.parse(argv)
    try:
        with StopRequest() as stop:
            if args.evaluate or args.export_onnx is not None:
                return evaluate(task, parser, args)
            return (resume if args.resume else new_run)(task, parser, args, stop)
    except KeyboardInterrupt:
        saved = getattr(args, "saved", None)
        print(f"\n{task.prog}: stopped at once by a second Ctrl-C; " +
              (f"the run was saved in {saved}" if saved else "nothing of this run was saved"),
              file=sys.stderr)
        return 130


def script(task, argv=None):
    """Run ``task`` as the script's ``__main__``. Outside main's StopRequest a signal is ignored
    (a Python handler is reset as the interpreter shuts down): nothing needs saving there."""
    for s in StopRequest.signals:
        signal.signal(s, signal.SIG_IGN)
    sys.exit(main(task, argv))
