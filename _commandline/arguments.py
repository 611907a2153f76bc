"""The parser: a task's settings as flags, the flags every trainer has, one-line errors."""
import argparse
from pathlib import Path
from typing import Callable, NamedTuple

import _checks
from . import paths


class Setting(NamedTuple):
    """A setting of a run, saved in its checkpoint so that ``--resume`` needs none.

    ``parse`` turns the flag's text into the value (an argparse type). ``--help`` adds
    "(default: ...)" to ``help``, unless the default is None: then ``help`` says what
    leaving the flag out does.
    """
    parse: Callable
    default: object
    help: str


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


def file_path(text):
    """A path whose names fit the file system (checked before anything reads or writes it)."""
    part = paths.too_long(text)
    if part is not None:
        raise argparse.ArgumentTypeError(
            f"expected file and directory names of at most {paths.NAME_MAX} bytes, got one of "
            f"{len(part.encode(errors='surrogateescape'))} bytes")
    return Path(text)


def directory(text):
    """An existing directory, as an absolute path without links."""
    path = file_path(text)
    try:
        resolved = path.resolve(strict=True)
    except RuntimeError:                       # Python < 3.13: a loop of symbolic links
        raise argparse.ArgumentTypeError(f"{text} is a loop of symbolic links") from None
    except OSError as err:
        raise argparse.ArgumentTypeError(f"{text} is not a readable directory "
                                         f"({err.strerror or err})") from None
    if not resolved.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a readable directory")
    return str(resolved)


def flag(name):
    return "--" + name.replace("_", "-")


def parse_args(task, argv):
    """``(parser, args)``; a setting not given on the command line is None in ``args``."""
    parser = Parser(prog=task.prog, description=task.description)
    for name, setting in task.settings.items():
        shown = "" if setting.default is None else f" (default: {setting.default})"
        # default=None: --resume must tell a flag given now from the saved value.
        parser.add_argument(flag(name), type=setting.parse, default=None,
                            help=setting.help + shown)
    parser.add_argument("--checkpoint", type=file_path, default=None,
                        help=f"where the run is saved, figures next to it (default: a new "
                             f"directory {task.runs_shown}/<time>/; for --evaluate and "
                             f"--export-onnx the shipped model)")
    parser.add_argument("--overwrite", action="store_true",
                        help="let a new run replace the model saved in --checkpoint and its "
                             "figures (without it an existing file is never replaced; an "
                             "unfinished run is never replaced: resume it)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run saved in --checkpoint, with its saved settings")
    parser.add_argument("--evaluate", action="store_true",
                        help="only report the test results of --checkpoint")
    parser.add_argument("--export-onnx", type=file_path, default=None, metavar="PATH",
                        help="only write --checkpoint as an ONNX model to PATH")
    parser.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None,
                        help="write the PNG figures next to the checkpoint (default: yes; "
                             "a resumed run keeps its choice)")
    parser.add_argument("--show", action="store_true", help="also show the figures in windows")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the result (or the error): no progress, no summary")
    args = parser.parse_args(argv)
    modes = [f for f, on in (("--resume", args.resume), ("--evaluate", args.evaluate),
                             ("--export-onnx", args.export_onnx is not None)) if on]
    if len(modes) > 1:
        parser.error(f"{modes[0]} and {modes[1]} exclude each other")
    if args.resume and args.checkpoint is None:
        parser.error("--resume needs --checkpoint PATH (the file an earlier run saved)")
    if modes and args.checkpoint is not None and not args.checkpoint.is_file():
        parser.error(f"no checkpoint at {args.checkpoint} (train one first, or give --checkpoint)")
    return parser, args


def given(task, args):
    """The settings given on this command line (not their defaults)."""
    return {name: getattr(args, name) for name in task.settings
            if getattr(args, name) is not None}
