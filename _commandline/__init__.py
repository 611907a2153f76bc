"""The machinery the command lines share (``TrainLeNet.py``, ``TrainSequences.py``).

A command line describes its task with a ``Task`` and calls ``main(task, argv)``. What a
user saved is safe by construction, from three ideas:

* A run writes nothing before it saves. Without ``--checkpoint`` it saves into a fresh
  directory ``<runs>/<time>/`` that ``mkdir`` makes (it refuses one that exists); a new
  file is created exclusively (``_files.create``: a hard link, which fails if anything is
  there, a link included), so a save never lands on a file that appeared meanwhile.
* A file that is there is replaced only if it is the run's own (``--resume``) or the user
  said so (``--overwrite``), never an unfinished run, by the one atomic writer under its
  one rule (``_files``). Unfinished work never replaces a finished model: it is created
  next to it. A save that fails (a full disk) creates a file in the temporary directory.
* What can be checked before work is (``runs.refuse``). A mistake is one line, status 2.

Exit status: 0 done; 1 a failure after work began (the work is saved and the message says
where); 2 a mistake on the command line or a refused file (nothing was done or written);
130 interrupted (saved; the message gives the command that continues). Only command lines
import this package: it is the top floor of the import tree.
"""
import signal
import sys

from . import runs
from .options import Setting, Task, choice, common_settings, directory, integer, number
from .runs import StopRequest

__all__ = ["Setting", "StopRequest", "Task", "choice", "common_settings", "directory", "integer",
           "main", "number", "script"]


def main(task, argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``) of ``task``; the exit status."""
    parser, args = task.parse(argv)
    try:
        with StopRequest() as stop:
            if args.export_onnx is not None:
                return runs.export_onnx(task, parser, args)
            if args.evaluate:
                return runs.evaluate(task, parser, args)
            run = (runs.resume if args.resume else runs.new_run)(task, parser, args)
            return 0 if run is None else runs.train(task, parser, args, run, stop)
    except KeyboardInterrupt:
        saved = getattr(args, "saved", None)
        print(f"\n{task.prog}: stopped at once by a second Ctrl-C; " +
              (f"the run was saved in {saved}" if saved else "nothing of this run was saved"),
              file=sys.stderr)
        return 130


def script(task, argv=None):
    """Run ``task`` as the script's ``__main__``, exiting with ``main``'s status. Outside
    main's StopRequest a signal is ignored (SIG_IGN, not a Python handler, which the
    interpreter resets while it shuts down): before it nothing needs saving, after it the
    work is saved."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(main(task, argv))
