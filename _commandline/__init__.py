"""The machinery the command lines share (``TrainLeNet.py``, ``TrainSequences.py``).

A command line describes its task with a ``Task`` (settings, data, network, results,
figures) and calls ``main(task, argv)``. The rest is here, the same for every task:

* ``arguments``  the parser: settings as flags checked by ``_checks``, one-line errors;
* ``paths``      names that fit the file system, places checked before a run (and the
                 checkpoint's again when it saves), files written atomically;
* ``loading``    the checkpoint and the data a run reads, refused in one line;
* ``runs``       a new run or a saved one continued exactly, Ctrl-C / SIGTERM, saving
                 without losing or replacing what a user saved;
* ``report``     the result table, the figures, ``--evaluate`` and ``--export-onnx``.

Exit status: 0 done; 1 a failure after work began (the work is saved and the message
says where); 2 a mistake on the command line or a refused file (nothing was done or
written); 130 interrupted (saved; the message gives the command that continues).

Only command lines import this package: it sits on the top floor of the import tree.
"""
import signal
import sys

from . import runs
from .arguments import Setting, choice, directory, integer, number, parse_args
from .report import evaluate, export_onnx
from .loading import load_data
from .runs import StopRequest
from .task import Task, common_settings

__all__ = ["Setting", "StopRequest", "Task", "choice", "common_settings", "directory", "integer",
           "main", "number", "script"]


def main(task, argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``) of ``task``; the exit status."""
    parser, args = parse_args(task, argv)
    run = None
    try:
        with StopRequest() as stop:
            if args.export_onnx is not None:
                return export_onnx(task, parser, args)
            if args.evaluate:
                return evaluate(task, parser, args)
            run = runs.resume(task, parser, args) if args.resume else \
                runs.new_run(task, parser, args)
            if run is None:
                return 0
            data = load_data(task, parser, run.settings)
            return runs.train(task, parser, args, run, data, stop)
    except KeyboardInterrupt:
        saved = None if run is None else run.saved
        print(f"\n{task.prog}: stopped at once by a second Ctrl-C; "
              + (f"the run was saved in {saved}" if saved else
                 "nothing of this run was saved" + ("" if run is None or run.net is None else
                                                    f" ({run.path} holds its last save)")),
              file=sys.stderr)
        return 130


def script(task, argv=None):
    """Run ``task`` as the script's ``__main__`` and exit with the status of ``main``.

    Outside main's StopRequest a signal is ignored: before it there is no work to save,
    after it the work is saved and the process is ending. SIG_IGN, not a Python handler:
    the interpreter puts its own handlers back to the default while it shuts down, so a
    late SIGTERM would still kill the process and change its exit status.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(main(task, argv))
