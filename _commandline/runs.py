"""A run: a new one or a saved one continued, trained until done or stopped, then saved."""
import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

import _files
import checkpoint
import NeuralNetwork
from _checks import plural
from .options import sibling
from .report import load_data, outputs, read_network, report


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


def check_place(task, parser, path, plot, overwrite):
    """Refuse, before any work, what ``_files.problem`` refuses: the checkpoint's place, and
    a log or figure next to it (an existing one only with --overwrite)."""
    for what, place in [("save the checkpoint", path)] + outputs(task, path, plot):
        refused = _files.problem(place, replace=overwrite or place == path)
        if refused:
            parser.error(f"cannot {what} {place}: {refused}")


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
    if run.path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        task.runs.mkdir(parents=True, exist_ok=True)
        run.path = task.runs / first_free([stamp] + [f"{stamp}-{n}" for n in range(2, 999)],
                                          lambda name: (task.runs / name).mkdir()) / task.run_file
    run.path.parent.mkdir(parents=True, exist_ok=True)
    if run.replaces and (finished or not run.finished):
        checkpoint.save(run.path, net, training)
        path = run.path
    else:
        names = [f"-{n}" if finished else f".interrupted{'' if n == 1 else f'-{n}'}"
                 for n in range(1 + finished, 999)]
        insert = first_free([""] * (not run.replaces) + names, lambda insert: _files.create(
            sibling(run.path, insert, run.path.suffix), lambda tmp: checkpoint.save(
                tmp, net, training)))
        if insert and not run.replaces:
            say(task, f"{run.path} changed while this run trained (another run saved there?); "
                      f"it is left as it is")
        path = sibling(run.path, insert, run.path.suffix)
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
    return report(task, args, run, net, data, path, time.perf_counter() - start)
