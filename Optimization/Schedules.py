"""Learning-rate schedules and early stopping, applied between epochs.

Both plug into ``NeuralNetwork.train(epochs=..., schedule=..., early_stopping=...)``
and work just as well in a hand-written loop::

    schedule = Schedules.ExponentialDecay(0.9)
    stopper = Schedules.EarlyStopping(patience=3)
    for epoch in range(1, 21):
        net.train(iterations_per_epoch)
        schedule.step(net.optimizer, epoch)       # lr = lr_0 * 0.9 ** epoch
        if stopper.update(net, validation_loss(net)):
            break
    stopper.restore(net)                          # the best weights seen

Both keep their state for checkpoints (``state_dict``, ``load_state_dict``; the config is
their constructor's arguments, read back from same-named attributes); one of your own derives from
``Schedule`` (a ``rate(epoch)`` method, its arguments kept under their own names)
and is saveable after ``checkpoint.register(MySchedule)``.
"""
import math

import _checks

MIN_FACTOR = 1e-3     # a smaller decay factor sends the rate to 0 within a few epochs


class Schedule:
    """Sets ``optimizer.learning_rate = rate(epoch)`` from the rate at the first step.

    State (``state_dict``): ``initial``, the learning rate at the first step (None
    before it), and any other public attribute a subclass keeps that is not one of its
    constructor's arguments (those are its config).
    """

    def __init__(self):
        self.initial = None

    def state_dict(self):
        args = _checks.constructor_args(type(self))
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in args}

    def load_state_dict(self, state):
        initial = state.get("initial")
        if initial is not None and not (isinstance(initial, (int, float)) and
                                        0 < initial < math.inf):
            raise _checks.StateError("initial", f"expected a learning rate > 0 or null, "
                                                   f"got {initial!r}")
        if set(state) != set(self.state_dict()):
            raise _checks.StateError(None, f"{type(self).__name__}.load_state_dict: expected "
                                              f"the entries {sorted(self.state_dict())}, "
                                              f"got {sorted(state)}")
        for key, value in state.items():
            setattr(self, key, value)

    def step(self, optimizer, epoch):
        """Set the learning rate for the epoch after ``epoch`` (epochs count from 1)."""
        if self.initial is None:
            self.initial = optimizer.learning_rate
        optimizer.learning_rate = self.rate(epoch)
        return optimizer.learning_rate


def _factor(name, value):
    return _checks.number(name, "factor", value, MIN_FACTOR, 1.0)


class ExponentialDecay(Schedule):
    """``lr(epoch) = lr_0 * factor ** epoch``, e.g. ``factor=0.9`` takes 10 % off per epoch."""

    def __init__(self, factor):
        super().__init__()
        self.factor = _factor("ExponentialDecay", factor)

    def rate(self, epoch):
        return self.initial * self.factor ** epoch

    def __repr__(self):
        return f"ExponentialDecay({self.factor})"


class StepDecay(Schedule):
    """``lr(epoch) = lr_0 * factor ** (epoch // every)``: drop by ``factor`` every ``every`` epochs."""

    def __init__(self, every, factor=0.1):
        super().__init__()
        self.every = _checks.size("StepDecay", "every", every)
        self.factor = _factor("StepDecay", factor)

    def rate(self, epoch):
        return self.initial * self.factor ** (epoch // self.every)

    def __repr__(self):
        return f"StepDecay(every={self.every}, factor={self.factor})"


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs.

    ``update(net, loss)`` records the loss of one epoch and keeps a copy of the
    parameters whenever the loss improves on the best by more than ``min_delta``;
    it returns True when training should stop. ``restore(net)`` puts the best
    parameters back.
    """

    def __init__(self, patience=3, min_delta=0.0):
        self.patience = _checks.size("EarlyStopping", "patience", patience)
        self.min_delta = _checks.number("EarlyStopping", "min_delta", min_delta, 0)
        self.best = math.inf
        self.best_epoch = 0
        self.epoch = 0
        self._best_parameters = None

    def __repr__(self):
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta})"

    def state_dict(self):
        """``best`` (None before any epoch), ``best_epoch``, ``epoch`` and ``best_state``,
        the network snapshot of the best epoch (``net.snapshot()``, or None)."""
        return {"best": None if math.isinf(self.best) else self.best,
                "best_epoch": self.best_epoch, "epoch": self.epoch,
                "best_state": self._best_parameters}

    def load_state_dict(self, state):
        """Put back a ``state_dict()``, consistent with itself and with ``patience``."""
        def count(key, low, high):
            try:
                return _checks.size(None, key, state.get(key), low, high)
            except (TypeError, ValueError) as err:
                raise _checks.StateError(key, str(err)) from None
        epoch = count("epoch", 0, 2**62)
        best_epoch = count("best_epoch", 0, epoch)
        # It stops as soon as ``patience`` epochs brought nothing better.
        count("epoch", best_epoch, best_epoch + self.patience)
        best = state.get("best")
        if (best is None) != (best_epoch == 0) or (best is not None and not math.isfinite(best)):
            raise _checks.StateError("best", f"expected a finite loss with a best epoch, "
                                                f"null without one, got {best!r}")
        if (state.get("best_state") is None) != (best_epoch == 0):
            raise _checks.StateError("best_state", "expected the parameters of the best epoch "
                                                      "exactly when there is one")
        if set(state) != set(self.state_dict()):
            raise _checks.StateError(None, f"expected the entries {sorted(self.state_dict())}")
        self.best, self.best_epoch, self.epoch = (math.inf if best is None else float(best),
                                                  best_epoch, epoch)
        self._best_parameters = state["best_state"]

    def update(self, net, loss):
        """Record one epoch's validation loss; True means stop."""
        self.epoch += 1
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch = float(loss), self.epoch
            self._best_parameters = net.snapshot()
        return self.epoch - self.best_epoch >= self.patience

    def report(self):
        """One sentence: when training stopped and why."""
        return (f"early stopping after epoch {self.epoch}: the validation loss has not improved "
                f"on {self.best:.4f} (epoch {self.best_epoch}) for {_checks.plural(self.patience, 'epoch')}; "
                f"the weights of epoch {self.best_epoch} are back")

    def restore(self, net):
        """Put the parameters of the best epoch back (if any epoch was recorded)."""
        if self._best_parameters is not None:
            net.restore(self._best_parameters)
