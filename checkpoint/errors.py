"""The two errors of persistence: a bad file, and a bad entry of a state."""


class CheckpointError(ValueError):
    """A file is not a valid checkpoint; the message names the file and the problem."""


class StateError(ValueError):
    """Raised by a ``load_state_dict``: ``key`` names the state entry that is wrong.

    A class's ``load_state_dict`` raises it (a ``ValueError``, so callers outside
    persistence need not know it) and the reader turns it into a ``CheckpointError``
    that names the place in the file, e.g. ``layers[1].state.running_var``.
    """

    def __init__(self, key, message):
        super().__init__(f"{key}: {message}" if key else message)
        self.key, self.reason = key, message
