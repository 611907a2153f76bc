"""The machinery the command lines share (``TrainLeNet.py``, ``TrainSequences.py``): a command
line describes its task with a ``Task`` and calls ``main(task, argv)``. What a user saved is
safe by construction, from three ideas (docs/training.md tells them at length):

* A run writes nothing before it saves, and then into a fresh directory that ``mkdir``
  makes, or at ``--checkpoint`` a file created exclusively (``_files.create``: never over
  anything, a link included). A save that fails (a full disk) goes to a new temporary file.
* A file that is there is replaced only if it is the run's own (``--resume``) or the user
  said so (``--overwrite``), and never an unfinished run, by the one atomic writer under its
  one rule (``_files``). Unfinished work never replaces a finished model: it goes beside it.
* What can be checked before work is (``runs.refuse``): one line, exit status 2.

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
