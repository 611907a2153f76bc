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
"""
import math

import _checks


class _Schedule:
    """Sets ``optimizer.learning_rate = rate(epoch)`` from the rate at the first step."""

    def __init__(self):
        self.initial = None

    def step(self, optimizer, epoch):
        """Set the learning rate for the epoch after ``epoch`` (epochs count from 1)."""
        if self.initial is None:
            self.initial = optimizer.learning_rate
        optimizer.learning_rate = self.rate(epoch)
        return optimizer.learning_rate


def _positive(name, value, maximum=math.inf):
    return _checks.number(name, "factor", value, 0, maximum, low_open=True)


class ExponentialDecay(_Schedule):
    """``lr(epoch) = lr_0 * factor ** epoch``, e.g. ``factor=0.9`` takes 10 % off per epoch."""

    def __init__(self, factor):
        super().__init__()
        self.factor = _positive("ExponentialDecay", factor, 1.0)

    def rate(self, epoch):
        return self.initial * self.factor ** epoch

    def __repr__(self):
        return f"ExponentialDecay({self.factor})"


class StepDecay(_Schedule):
    """``lr(epoch) = lr_0 * factor ** (epoch // every)``: drop by ``factor`` every ``every`` epochs."""

    def __init__(self, every, factor=0.1):
        super().__init__()
        self.every = _checks.size("StepDecay", "every", every)
        self.factor = _positive("StepDecay", factor, 1.0)

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
                f"on {self.best:.4f} (epoch {self.best_epoch}) for {self.patience} epochs; "
                f"the weights of epoch {self.best_epoch} are back")

    def restore(self, net):
        """Put the parameters of the best epoch back (if any epoch was recorded)."""
        if self._best_parameters is not None:
            net.restore(self._best_parameters)
