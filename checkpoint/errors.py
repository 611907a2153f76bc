"""The two errors of persistence: a bad file, and a bad entry of a state (``StateError``,
which the classes raise, lives in ``_checks``)."""
from _checks import StateError  # noqa: F401


class CheckpointError(ValueError):
    """A file is not a valid checkpoint; the message names the file and the problem."""


