"""The machinery the command lines share (``TrainLeNet.py``, ``TrainSequences.py``).

A command line describes its task with a ``Task`` (settings, data, network, results,
figures) and calls ``main(task, argv)``. Three ideas keep what a user saved safe:

* a run writes nothing until it saves. A new run without ``--checkpoint`` saves into a
  fresh directory ``<runs>/<time>/`` that it creates itself (``mkdir`` refuses one that
  exists); a new file is created exclusively (``_files.create``: a hard link, which
  fails if anything is there and follows no link), so it never lands on a file that
  appeared while the run trained;
* a file that is there already is replaced only when it is the run's own
  (``--resume``) or the user said so (``--overwrite``, a finished model), and only by the
  one atomic writer and its one rule (``_files.write_atomically``, ``_files.refusal``);
  unfinished work never replaces a finished model: it goes next to it;
* everything that can be checked before work is (``options``): names that fit, places
  that take a file, flags in range. A mistake is one line and exit status 2.

Exit status: 0 done; 1 a failure after work began (the work is saved and the message
says where); 2 a mistake on the command line or a refused file (nothing was done or
written); 130 interrupted (saved; the message gives the command that continues).

Only command lines import this package: it sits on the top floor of the import tree.
"""
import signal
import sys

from . import runs
from .options import Setting, Task, choice, common_settings, directory, integer, number
from .report import evaluate, export_onnx
from .runs import StopRequest

__all__ = ["Setting", "StopRequest", "Task", "choice", "common_settings", "directory", "integer",
           "main", "number", "script"]


def main(task, argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``) of ``task``; the exit status."""
    parser, args = task.parse(argv)
    run = None
    try:
        with StopRequest() as stop:
            if args.export_onnx is not None:
                return export_onnx(task, parser, args)
            if args.evaluate:
                return evaluate(task, parser, args)
            run = runs.resume(task, parser, args) if args.resume else \
                runs.new_run(task, parser, args)
            return 0 if run is None else runs.train(task, parser, args, run, stop)
    except KeyboardInterrupt:
        saved = None if run is None else run.saved
        print(f"\n{task.prog}: stopped at once by a second Ctrl-C; " +
              (f"the run was saved in {saved}" if saved else "nothing of this run was saved"),
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
