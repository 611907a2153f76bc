"""A run, new or continued, trained until done or stopped, saved and reported; and the
other two modes, --evaluate and --export-onnx."""
import argparse
import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

import _files
import checkpoint
import NeuralNetwork
import onnx_export
from _checks import plural
from .options import sibling


class StopRequest:
    """Turns Ctrl-C / SIGTERM into 'stop after this step'; a second one stops at once."""

    def __enter__(self):
        self.requested = False
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT,
                                                                      signal.SIGTERM)}
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
    """One invocation's run. ``path``: where it saves (None: a fresh run directory, made at
    the first save); ``replaces``: the file there is the run's to replace (its own, or a
    model and --overwrite); ``finished``: that file is a finished model, which unfinished
    work never replaces; ``saved``: where this invocation last saved."""

    def __init__(self, s, path, net=None, training=None, replaces=False):
        self.s, self.path, self.net, self.training = s, path, net, training
        self.finished = replaces and (training is None or training["finished"])
        self.replaces, self.saved = replaces, None


def command(task, *args):
    """A command line that works when copied: this interpreter, relative paths where short."""
    def short(path):
        path = Path(os.path.abspath(path))        # not resolve(): .venv/bin/python is a link
        return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return " ".join(shlex.quote(p) for p in [short(sys.executable), short(task.script),
                                             *task.words, *map(str, args)])


def read_network(task, parser, path):
    """``(network, training)`` of ``path``; any bad file ends in one line and status 2."""
    try:
        net, training = checkpoint.read(path)
    except (checkpoint.CheckpointError, OSError) as err:   # a CheckpointError names the file
        parser.error(f"cannot load {err}" if isinstance(err, checkpoint.CheckpointError) else
                     f"cannot load {path}: {err.strerror or err}")
    if not isinstance(net, task.model):
        parser.error(f"cannot load {path}: it holds a {type(net).__name__}, not a "
                     f"{task.model.__name__}")
    if net.loss_layer is None:
        parser.error(f"cannot load {path}: its network has no loss layer")
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


def check_place(task, parser, path, plot, overwrite):
    """Refuse, before any work, what ``_files.problem`` refuses: the checkpoint's place, and
    its log ``<stem>.log`` and figures ``<stem>_<name>.png`` (existing: with --overwrite)."""
    for what, place in [("save the checkpoint", path)] + outputs(task, path, plot):
        refused = problem(place, overwrite or place == path)
        if refused:
            parser.error(f"cannot {what} {place}: {refused}")


def problem(path, overwrite):
    """``_files.problem``, which --overwrite lets replace an existing file."""
    refused = _files.problem(path, replace=overwrite)
    return f"{refused}; --overwrite replaces it" if refused == f"{path} exists" else refused


def outputs(task, path, plot):
    return [("write the log", sibling(path, "", ".log"))] + \
        [("write the figure", sibling(path, f"_{n}", ".png")) for n in task.figure_names if plot]


def new_run(task, parser, args):
    s, path = task.settings_of(args), args.checkpoint
    s.plot = args.plot is not False
    if s.patience and getattr(s, "validation", None) == 0:
        parser.error("--patience needs validation samples (--validation > 0)")
    if path is None:
        return Run(s, None)
    if path.is_dir():
        parser.error(f"--checkpoint {path} is a directory; give a file name")
    check_place(task, parser, path, s.plot, args.overwrite)
    if path.exists():
        try:
            _, training = checkpoint.read(path)
        except (checkpoint.CheckpointError, OSError) as err:
            parser.error(f"--checkpoint {path} exists and is not a checkpoint this run may "
                         f"replace ({err}); choose another path")
        if training is not None and not training["finished"]:
            parser.error(f"{path} holds an unfinished run; continue it with: "
                         f"{command(task, '--resume', '--checkpoint', path)} (or choose "
                         f"another path)")
        if not args.overwrite:
            what = "the model of a finished run" if training else "a network saved without " \
                "a training run"
            parser.error(f"{path} holds {what}; --overwrite replaces it (or choose another "
                         f"path)")
    return Run(s, path, replaces=path.exists())


def resume(task, parser, args):
    """The saved run, with --epochs applied; None if it finished and there is nothing to do.
    Its settings are data of the file: each is checked as its flag would be."""
    path = args.checkpoint
    net, training = read_network(task, parser, path)
    if training is None:
        parser.error(f"cannot resume {path}: it holds a network saved without its training run "
                     f"(model.save); only a checkpoint written by {task.prog} can be resumed")
    saved = {"plot": True, **training["settings"]}   # runs saved before --plot plotted
    for name, setting in task.settings.items():
        value, given, flag = saved.get(name), getattr(args, name), "--" + name.replace("_", "-")
        try:
            ok = value is None and (setting.default is None or name == "lr") or (
                isinstance(value, bool) if setting.parse is bool else
                setting.parse(str(value)) == value)
        except (argparse.ArgumentTypeError, ValueError):   # ValueError: int("²"), a NUL in a path
            ok = False
        if not ok:
            parser.error(f"cannot resume {path}: its setting {name}={value!r} is invalid")
        if name != "epochs" and given is not None and (name == "lr" or given != value):
            parser.error(f"{flag} {given} contradicts the run saved in {path} (" + (
                "its optimizer's learning rate" if name == "lr" else f"{flag} {value}") +
                "); leave it out to continue the run as it was")
    saved["lr"] = None                      # older runs kept it; the optimizer holds it
    for name, kept, made in zip(("schedule", "early stopping"), (training["schedule"],
                                training["early_stopping"]), task.controls(
                                    argparse.Namespace(**saved))):
        if described(kept) != described(made):
            parser.error(f"cannot resume {path}: its {name} ({described(kept)}) is not what "
                         f"its settings make ({described(made)})")
    s, done = task.settings_of(args, saved), len(net.history)
    s.plot = saved["plot"] if args.plot is None else args.plot    # figures change no training
    if training["finished"] and s.epochs <= done:
        print(f"{path}: the run finished ({plural(done, 'epoch')}); nothing to resume "
              f"(give --epochs N > {done} to train further)")
        return None
    if s.epochs < done:
        parser.error(f"--epochs {s.epochs} is fewer than the {plural(done, 'epoch')} "
                     f"{path} has done")
    if training["finished"] and s.patience:
        parser.error(f"cannot extend {path}: early stopping ended it on its best epoch's "
                     f"weights, so it cannot continue exactly; start a new run")
    check_place(task, parser, path, s.plot, overwrite=True)
    if not args.quiet:
        print(f"resuming {path}: {plural(done, 'epoch')} and "
              f"{plural(net.epoch_progress[0], 'step')} done")
    return Run(s, path, net, training, replaces=True)


def described(control):
    """A schedule or stopper as its class and config, to compare with what settings make."""
    return None if control is None else f"{type(control).__name__}{checkpoint.config_of(control)}"


def setup(task, parser, run, quiet):
    """``(net, data, schedule, early_stopping)`` of a new run, or of the resumed one."""
    s, training, data = run.s, run.training, load_data(task, parser, run.s)
    if training is None:
        np.random.seed(s.seed)
        net, s.source = task.build(s), task.source(data)
        if not quiet:
            print(task.describe(data, s, net))
        return (net, data, *task.controls(s))
    order = training["data"]["order"]
    if (task.source(data), len(data)) != (s.source, len(order)):
        parser.error(f"cannot resume {run.path}: it trained on {len(order)} {task.unit} from "
                     f"{s.source}, now there are {len(data)} from {task.source(data)}")
    try:
        data.load_state_dict(training["data"])
    except (TypeError, ValueError) as err:
        parser.error(f"cannot resume {run.path}: {err}")
    np.random.set_state(training["rng"])
    return run.net, data, training["schedule"], training["early_stopping"]


def save(task, run, net, data, schedule, stopper, finished):
    """Save the run by the package docstring's ideas and return where."""
    training = {"settings": {k: v for k, v in vars(run.s).items() if k != "lr"},
                "data": data.state_dict(), "rng": np.random.get_state(),
                "schedule": schedule, "early_stopping": stopper, "finished": finished}

    def write(where):
        checkpoint.save(where, net, training)
    try:
        if run.path is None:
            runs, stamp = task.runs, time.strftime("%Y%m%d-%H%M%S")
            runs.mkdir(parents=True, exist_ok=True)
            run.path = runs / first_free([stamp] + [f"{stamp}-{n}" for n in range(2, 999)],
                                         lambda name: (runs / name).mkdir()) / task.run_file
        run.path.parent.mkdir(parents=True, exist_ok=True)
        path = run.path
        if run.replaces and (finished or not run.finished):
            write(path)
        else:                                       # a new file, beside what is there
            inserts = [f"-{n}" if finished else f".interrupted{'' if n == 1 else f'-{n}'}"
                       for n in range(1 + finished, 999)]
            insert = first_free([""] * (not run.replaces) + inserts, lambda insert: _files.create(
                sibling(path, insert, path.suffix), write))
            if insert and not run.replaces:
                say(task, f"{path} changed while this run trained (another run saved there?); "
                          f"it is left as it is")
            path = sibling(path, insert, path.suffix)
    except OSError as err:                  # a full disk: a new file where there is room
        name = f"{Path(task.script).stem}-{os.getpid()}-{(run.path or Path(task.run_file)).name}"
        path = Path(tempfile.gettempdir()) / _files.fit(name)
        say(task, f"cannot save {run.path} ({err.strerror or err}); saving to {path} instead")
        _files.create(path, write)
    if path == run.path:
        run.replaces, run.finished = True, finished
    run.saved = path
    return path


def first_free(names, create):
    """The first of ``names`` that ``create`` makes (it raises FileExistsError when taken)."""
    for name in names:
        try:
            create(name)
            return name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name like {names[-1]}")


def say(task, text):
    print(f"{task.prog}: {text}", file=sys.stderr)


def train(task, parser, args, run, stop):
    """Train the run to its end (or a stop request), save it and report; the exit status."""
    net, data, schedule, stopper = setup(task, parser, run, args.quiet)
    net.data_layer, start, failure = data, time.perf_counter(), None
    try:
        if run.s.epochs > len(net.history):
            net.train(epochs=run.s.epochs - len(net.history), schedule=schedule,
                      validation=task.validation_set(data, run.s), early_stopping=stopper,
                      progress=not args.quiet, callback=stop)
    except NeuralNetwork.TrainingDiverged as err:
        failure = f"{err}; the last good parameters"
    except Exception as err:                    # noqa: BLE001 - whatever failed, keep the work
        failure = f"{type(err).__name__}: {err}; the trained state"
    try:
        path = save(task, run, net, data, schedule, stopper, not (failure or stop.requested))
    except Exception as err:                    # noqa: BLE001
        say(task, f"{failure or 'the run'} could not be saved: {err}")
        return 1
    again = command(task, "--resume", "--checkpoint", path)
    if failure:
        say(task, f"{failure} saved in {path}; inspect it, or continue with: {again}")
        return 1
    if stop.requested:
        print(f"\nInterrupted after {plural(len(net.history), 'epoch')} and "
              f"{plural(net.epoch_progress[0], 'step')}; saved {path}.\nContinue with: {again}")
        return 130
    rows = [["epochs", len(net.history)], [f"training {task.unit}", len(data)],
            ["wall time", f"{time.perf_counter() - start:.0f} s"]] + ([[
                "validation accuracy", f"{net.history[-1]['validation_accuracy']:.2%}"]] if
                net.history and "validation_accuracy" in net.history[-1] else [])
    rows += task.results(net, data)
    print(tabulate(rows + [["checkpoint", str(path)]], headers=["result", ""]))
    if path != run.path:                # saved beside: the places next to it are unchecked
        return 1
    import matplotlib
    if not args.show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    (_, log), *figures = outputs(task, path, run.s.plot)
    try:
        headers, epochs = task.epochs(net, data, run.s)
        _files.write_atomically(log, (tabulate(epochs, headers, floatfmt=".4f") + "\n\n" +
                                      tabulate(rows, tablefmt="plain") + "\n").encode(), task.prog)
        draws = task.figures(net, data)
        for name, (_, figure) in zip(task.figure_names, figures):
            drawn = draws[name](figure)
            if not args.show:
                plt.close(drawn)
    except Exception as err:                    # noqa: BLE001 - the model is saved already
        say(task, f"the log or figures failed ({type(err).__name__}: {err}); the model is "
                  f"saved in {path}")
        return 1
    if args.show:
        plt.show()
    if figures and not args.quiet:
        print("figures: " + ", ".join(str(figure) for _, figure in figures))
    return 0


def evaluate(task, parser, args):
    """Print the test results of --checkpoint (the shipped model by default)."""
    path = args.checkpoint or task.shipped
    net, _ = read_network(task, parser, path)
    data, start = load_data(task, parser, task.settings_of(args)), time.perf_counter()
    rows = task.results(net, data)
    print(tabulate([["checkpoint", str(path)], [f"test {task.unit}",
                                                len(data.get_test_set()[0])], *rows,
                    ["time", f"{time.perf_counter() - start:.1f} s"]]))
    return 0


def export_onnx(task, parser, args):
    """Write --checkpoint (the shipped model by default) as ONNX to --export-onnx, by the
    rule of a run: never over the checkpoint being read (by inode: another name or a hard
    link is the same file), never over an unfinished run."""
    path, target = args.checkpoint or task.shipped, args.export_onnx
    net, _ = read_network(task, parser, path)
    refused = problem(target, args.overwrite)
    if not refused and target.exists():
        try:
            unfinished = not checkpoint.read(target)[1]["finished"]
        except (checkpoint.CheckpointError, OSError, TypeError):    # TypeError: no run in it
            unfinished = False
        if os.path.samefile(target, path):
            refused = f"it is the checkpoint being exported ({path}); choose another path"
        elif unfinished:
            refused = (f"it holds an unfinished run, which is never replaced; continue it "
                       f"with --resume --checkpoint {target} (or choose another path)")
    if refused:
        parser.error(f"cannot write {target}: {refused}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        onnx_export.export(net, str(target))
    except (ValueError, TypeError, OSError) as err:
        parser.error(f"cannot export {path} to {target}: {err}")
    if not args.quiet:
        print(f"exported {path} to {target}")
    return 0
