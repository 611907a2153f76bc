"""The two errors of persistence: a bad file (``CheckpointError``) and a bad entry of a state
(``StateError``). Both live in ``_checks``, below the classes that raise them."""
from _checks import CheckpointError, StateError  # noqa: F401
