"""A run: a new one or the continuation of a saved one, trained until done or stopped, saved.

Nothing a user saved is lost or replaced: a new run refuses a path that holds a model
unless ``--overwrite`` says so, never replaces an unfinished run, and checks the path
again when it saves (``Run.owned``); a save that cannot go where it was asked goes
next to it or to the system's temporary directory, and says where.
"""
import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

import checkpoint
import NeuralNetwork
from _checks import plural
from . import paths
from .arguments import flag, given
from .loading import read_network
from .report import figure_paths, report


class StopRequest:
    """Turns Ctrl-C / SIGTERM into 'stop after this step'; a second one stops at once
    (``KeyboardInterrupt``, reported by ``main``)."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle)
                          for s in (signal.SIGINT, signal.SIGTERM)}
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
    """What one invocation trains: the settings, the network, where it is saved.

    ``owned`` is the fingerprint of the file at ``path`` that this run may replace
    (None: no file); a file that differs at save time was written by someone else.
    ``replaces_finished``: ``path`` holds a finished model, which only a finished
    run may replace. ``saved`` is where this invocation last saved, if it did.
    """

    def __init__(self, settings, path, net=None, training=None, replaces_finished=False):
        self.settings, self.path = settings, path
        self.net, self.training = net, training
        self.replaces_finished = replaces_finished
        self.owned = paths.fingerprint(path)
        self.saved = None


def command(task, *args):
    """A command line that works when copied: this interpreter, relative paths where short."""
    def short(path):
        path = Path(os.path.abspath(path))        # not resolve(): .venv/bin/python is a link
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    parts = [short(sys.executable), short(task.script), *task.words, *map(str, args)]
    return " ".join(shlex.quote(p) for p in parts)


# -- a new run, or the continuation of a saved one -----------------------------------------

def new_run(task, parser, args):
    settings = {name: s.default for name, s in task.settings.items()}
    settings.update(given(task, args))
    settings["plot"] = args.plot is not False
    if settings["patience"] and settings.get("validation") == 0:
        parser.error("--patience needs validation samples (--validation > 0)")
    path = args.checkpoint if args.checkpoint is not None else new_run_path(task)
    if path.is_dir():
        parser.error(f"--checkpoint {path} is a directory; give a file name")
    replaces_finished = False
    if os.path.lexists(path) and not path.is_symlink():
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
            what = "a network saved without a training run" if training is None else \
                "the model of a finished run"
            parser.error(f"{path} holds {what}; --overwrite replaces it (or choose another "
                         f"path)")
        replaces_finished = True
    run = Run(settings, path, replaces_finished=replaces_finished)
    check_place(task, parser, run, args.overwrite)
    return run


def new_run_path(task):
    """``<runs>/<date-time>[-n]/<run_file>``, a directory no other run uses."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = task.runs / (stamp if n == 1 else f"{stamp}-{n}")
        if not folder.exists():
            return folder / task.run_file
    raise SystemExit(f"{task.prog}: error: no free run directory in {task.runs}")


def resume(task, parser, args):
    """The saved run, with --epochs applied; None if it finished and there is nothing to do."""
    path = args.checkpoint
    net, training = read_network(task, parser, path)
    if training is None:
        parser.error(f"cannot resume {path}: it holds a network saved without its training run "
                     f"(model.save); only a checkpoint written by {task.prog} can be resumed")
    saved = dict(training["settings"])
    saved.setdefault("plot", True)          # runs saved before the setting existed plotted
    for name, setting in task.settings.items():
        value = saved.get(name)
        try:
            ok = value is None and setting.default is None or setting.parse(str(value)) == value
        except (argparse.ArgumentTypeError, ValueError):   # ValueError: int("²"), a NUL in a path
            ok = False
        if not ok:
            parser.error(f"cannot resume {path}: its setting {name}={value!r} is invalid")
    for name, kept, made in zip(("schedule", "early stopping"), (training["schedule"],
                                training["early_stopping"]), task.controls(saved)):
        if _described(kept) != _described(made):
            parser.error(f"cannot resume {path}: its {name} ({_described(kept)}) is not what "
                         f"its settings make ({_described(made)})")
    settings = dict(saved)
    for name, value in given(task, args).items():
        if name != "epochs" and value != saved[name]:
            parser.error(f"{flag(name)} {value} contradicts the run saved in {path} "
                         f"({flag(name)} {saved[name]}); leave it out to continue the run as "
                         f"it was")
    if args.plot is not None:               # figures do not change the training
        settings["plot"] = args.plot
    done = len(net.history)
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    if training["finished"] and settings["epochs"] <= done:
        print(f"{path}: the run finished ({plural(done, 'epoch')}); nothing to resume "
              f"(give --epochs N > {done} to train further)")
        return None
    if settings["epochs"] < done:
        parser.error(f"--epochs {settings['epochs']} is fewer than the {plural(done, 'epoch')} "
                     f"{path} has done")
    if training["finished"] and saved["patience"]:
        parser.error(f"cannot extend {path}: early stopping ended it on its best epoch's "
                     f"weights, so it cannot continue exactly; start a new run")
    if not args.quiet:
        print(f"resuming {path}: {plural(done, 'epoch')} and "
              f"{plural(net.epoch_progress[0], 'step')} done")
    run = Run(settings, path, net, training, replaces_finished=training["finished"])
    check_place(task, parser, run, overwrite=True)
    return run


def _described(control):
    """A schedule or stopper as its class and config, for comparing what a file holds."""
    return None if control is None else f"{type(control).__name__}{checkpoint.config_of(control)}"


def check_place(task, parser, run, overwrite):
    """Refuse, before any data is read or trained, a checkpoint or figure that could not be
    written, and figures that would replace files the run did not write."""
    trouble = paths.problem(run.path)
    if trouble:
        parser.error(f"cannot save the checkpoint {run.path}: {trouble}")
    if not run.settings["plot"]:
        return
    for figure in figure_paths(task, run.path).values():
        trouble = paths.problem(figure, replace=overwrite)
        if trouble:
            parser.error(f"cannot write the figure {figure}: {trouble}"
                         f"{'' if overwrite else '; --overwrite replaces it'}")


# -- training --------------------------------------------------------------------------------

def setup(task, parser, run, data, quiet):
    """The network, schedule and early stopping of a new run, or those saved for a resume."""
    s = run.settings
    if run.net is None:
        np.random.seed(s["seed"])
        net, schedule, stopper = task.build(s)
        s["source"] = task.source(data)
        if not quiet:
            print(task.describe(data, s))
            print(task.summary(net))
    else:
        net, training = run.net, run.training
        if task.source(data) != s.get("source") or len(data) != len(training["data"]["order"]):
            parser.error(f"cannot resume {run.path}: it trained on "
                         f"{len(training['data']['order'])} {task.unit} from {s.get('source')}, "
                         f"now there are {len(data)} from {task.source(data)}")
        data.set_state(training["data"])
        np.random.set_state(training["rng"])
        schedule, stopper = training["schedule"], training["early_stopping"]
    net.data_layer = data
    return net, schedule, stopper


class Saver:
    """Saves the run where it may go, re-checking the place first (see the module docstring)."""

    def __init__(self, task, run, net, data, schedule, stopper):
        self.task, self.run, self.net, self.data = task, run, net, data
        self.schedule, self.stopper = schedule, stopper

    def __call__(self, finished):
        """Save and return where; unfinished work never goes over a finished model, and
        nothing goes over a file that changed since the run started (another run's)."""
        run = self.run
        training = {"settings": run.settings, "data": self.data.state(),
                    "rng": np.random.get_state(), "schedule": self.schedule,
                    "early_stopping": self.stopper, "finished": finished}
        path = run.path
        if paths.fingerprint(path) != run.owned:
            path = aside(path, finished)
            self.say(f"{run.path} changed while this run trained (another run saved there?); "
                     f"it is left as it is")
        elif not finished and run.replaces_finished:
            path = aside(path, finished)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.save(path, self.net, training)
        except OSError as err:
            fallback = paths.fallback(path, self.task.script)
            self.say(f"cannot save {path} ({err.strerror or err}); saving to {fallback} instead")
            checkpoint.save(fallback, self.net, training)
            path = fallback
        if path == run.path:
            run.owned, run.replaces_finished = paths.fingerprint(path), finished
        run.saved = path
        return path

    def say(self, text):
        print(f"{self.task.prog}: {text}", file=sys.stderr)


def aside(path, finished):
    """A free name next to ``path``: ``name.interrupted[-n].ckpt`` for unfinished work,
    ``name-n.ckpt`` for a finished model."""
    for n in range(1 if not finished else 2, 10000):
        insert = (f".interrupted{'' if n == 1 else f'-{n}'}" if not finished else f"-{n}")
        candidate = paths.sibling(path, insert)
        if not os.path.lexists(candidate):
            return candidate
    raise OSError(f"no free file name next to {path}")


def train(task, parser, args, run, data, stop):
    """Train the run to its end (or a stop request), save it and report; the exit status."""
    net, schedule, stopper = setup(task, parser, run, data, args.quiet)
    save = Saver(task, run, net, data, schedule, stopper)
    remaining = run.settings["epochs"] - len(net.history)
    validation = task.validation_set(data, run.settings)
    start = time.perf_counter()
    try:
        if remaining > 0:
            net.train(epochs=remaining, validation=validation, schedule=schedule,
                      early_stopping=stopper, progress=not args.quiet, callback=stop)
    except NeuralNetwork.TrainingDiverged as err:
        return failed(task, save, f"{err}", "the last good parameters")
    except Exception as err:                    # noqa: BLE001 - whatever failed, keep the work
        return failed(task, save, f"{type(err).__name__}: {err}", "the trained state")
    if stop.requested:
        try:
            path = save(finished=False)
        except Exception as err:                # noqa: BLE001
            print(f"{task.prog}: interrupted, and the run could not be saved anywhere: {err}",
                  file=sys.stderr)
            return 1
        print(f"\nInterrupted after {plural(len(net.history), 'epoch')} and "
              f"{plural(net.epoch_progress[0], 'step')}; saved {path}.\n"
              f"Continue with: {command(task, '--resume', '--checkpoint', path)}")
        return 130
    try:
        path = save(finished=True)
    except Exception as err:                    # noqa: BLE001
        print(f"{task.prog}: the trained model could not be saved anywhere: {err}",
              file=sys.stderr)
        return 1
    status = report(task, args, run, net, data, path, time.perf_counter() - start)
    return 1 if path != run.path else status    # finished, but not where it was asked for


def failed(task, save, reason, what):
    try:
        path = save(finished=False)
    except Exception as err:                    # noqa: BLE001
        print(f"{task.prog}: {reason}; saving {what} failed too: {err}", file=sys.stderr)
        return 1
    print(f"{task.prog}: {reason}; {what} saved in {path}; inspect it, or continue with: "
          f"{command(task, '--resume', '--checkpoint', path)}", file=sys.stderr)
    return 1
