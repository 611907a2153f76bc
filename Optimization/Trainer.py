"""The epoch trainer: passes over a data layer, validation, history, schedules, early stopping.

``NeuralNetwork.train(epochs=...)`` delegates to ``train_epochs`` (and the classic
``train(iterations)`` to ``train_steps``). The trainer
receives the network and never imports it; it uses

* ``net.step()``: one training step, returning ``(loss of the batch, batch size)``
  with the loss layer's value (summed over the batch, no regularization);
* ``net.evaluate(input, label)``: ``(loss per sample, accuracy)`` in the testing phase,
  which it leaves the network in; the trainer sets ``net.phase = False`` right after;
* ``net.snapshot()``/``restore()`` through ``Schedules.EarlyStopping``;
* ``net.history`` (one dict per finished epoch) and ``net.epoch_progress``
  (``(steps, loss sum, samples)`` of an epoch a callback interrupted), which it
  reads and keeps up to date through ``net.record_progress`` and
  ``net.record_epoch``, so that an interrupted run can be resumed exactly.

Progress goes where it fits: tqdm bars where a person watches (a terminal, a
notebook), one plain line per epoch when the output goes to a file or a pipe
(no carriage returns in a log), nothing with ``progress=False``.

Every loss it reports is per sample (the loss layer's sum divided by the batch
size), the unit of ``evaluate``: the return value, the progress bars and
``history``. ``net.loss`` keeps the classic per-iteration values (the batch's sum
plus the regularization loss).
"""
import math
import sys
import time

import numpy as np

from tabulate import tabulate
from tqdm.auto import tqdm

import _checks

WHERE = "NeuralNetwork.train"
# The names an epoch's numbers have in the bar and the plain lines.
SHORT = {"train_loss": "loss", "validation_loss": "val_loss", "validation_accuracy": "val_acc"}


def interactive():
    """True in a Jupyter kernel or when stderr is a terminal: where a person watches."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def report_mode(progress):
    """``"bars"``, ``"lines"`` or ``None`` (silent) for ``progress`` True/None/False."""
    if progress is not None and not progress:
        return None
    return "bars" if interactive() else "lines"


def say(text):
    """One plain line on stderr, after what is already on stdout (a log keeps the order)."""
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)


def steps_per_epoch(data_layer, batch_size=None):
    """``ceil(len(data_layer) / batch_size)``; sets ``data_layer.batch_size`` if given."""
    if batch_size is not None:
        data_layer.batch_size = batch_size
    try:
        return math.ceil(len(data_layer) / data_layer.batch_size)
    except (TypeError, AttributeError):
        _checks.fail(WHERE, "a data layer with len() (training samples) and batch_size for "
                     "epochs=", _checks.Described(type(data_layer).__name__), TypeError)


def asks_to_stop(net, callback, loss):
    """The callback's answer after a step (False without one). A callback may call
    ``net.test``, which leaves the testing phase: the training phase is set again."""
    if callback is None:
        return False
    stop = callback(net, len(net.loss), loss)
    net.phase = False
    return bool(stop)


def train_steps(net, iterations, validation=None, schedule=None, early_stopping=None,
                progress=False, callback=None):
    """The classic ``train(iterations)``: that many steps; the mean loss per sample.

    Quiet unless ``progress`` is true (a bar, or one line at the end when the
    output is not watched); ``callback`` as for ``train_epochs``.
    """
    if validation is not None or early_stopping is not None or schedule is not None:
        _checks.fail(WHERE, "epochs= with validation, schedule and early_stopping",
                     _checks.Described(f"iterations={iterations}"))
    mode = report_mode(progress) if progress else None
    loss_sum, samples, steps = 0.0, 0, 0
    for _ in tqdm(range(_checks.size(WHERE, "iterations", iterations, minimum=0)),
                  desc="train", disable=mode != "bars", dynamic_ncols=True):
        loss, batch = net.step()
        loss_sum, samples, steps = loss_sum + loss, samples + batch, steps + 1
        if asks_to_stop(net, callback, loss):
            break
    mean = loss_sum / samples if samples else float("nan")
    if mode == "lines":
        say(f"train: {steps} iterations, loss={mean:.4f}")
    return mean


def train_epochs(net, epochs, batch_size=None, validation=None, schedule=None,
                 early_stopping=None, progress=None, callback=None):
    """Run ``epochs`` passes over ``net.data_layer``; return the mean loss per sample.

    Args:
        net: the network (``NeuralNetwork.train`` passes itself).
        epochs: number of epochs; an epoch a callback interrupted is finished
            first and counts as the first of them.
        batch_size: set on the data layer before training, if given.
        validation: ``(input, label)`` evaluated after every epoch; its loss per
            sample and accuracy go to ``net.history`` and the progress bar.
        schedule: e.g. ``Schedules.ExponentialDecay(0.9)``, stepped after every epoch.
        early_stopping: ``Schedules.EarlyStopping`` watching the validation loss.
            A run it stops, or that ends, is left with the best parameters it saw;
            a run a callback interrupts keeps its current ones (for an exact resume).
        progress: True or None (default): a tqdm bar per epoch where a person
            watches (a terminal, a notebook), else one plain line per epoch on
            stderr; False: nothing at all.
        callback: ``callback(net, iteration, loss)`` after every step; a true result
            stops training after that step. It may test the network: the training
            phase is set again after it.
    """
    epochs = _checks.size(WHERE, "epochs", epochs, minimum=0)
    if early_stopping is not None and validation is None:
        _checks.fail(WHERE, "validation=(input, label) with early_stopping", None)
    per_epoch = steps_per_epoch(net.data_layer, None if batch_size is None else
                                _checks.size(WHERE, "batch_size", batch_size))
    mode = report_mode(progress)
    total = len(net.history) + epochs
    total_loss, total_samples = 0.0, 0
    interrupted = stopped = False
    for _ in range(epochs):
        epoch = len(net.history) + 1
        done, loss_sum, samples = net.epoch_progress
        started = time.perf_counter()
        # Updated by hand, not iterated: tqdm closes an iterated bar when the loop ends,
        # before the epoch's validation numbers could be added to it.
        bar = tqdm(initial=done, total=per_epoch, desc=f"epoch {epoch}/{total}",
                   disable=mode != "bars", leave=True, dynamic_ncols=True)
        for step in range(done, per_epoch):
            loss, batch = net.step()
            bar.update()
            loss_sum, samples = loss_sum + loss, samples + batch
            total_loss, total_samples = total_loss + loss, total_samples + batch
            net.record_progress(step + 1, loss_sum, samples)
            if mode == "bars" and ((step + 1) % 10 == 0 or step + 1 == per_epoch):
                bar.set_postfix(loss=f"{loss_sum / samples:.4f}", refresh=False)
            if asks_to_stop(net, callback, loss):
                interrupted = True
                break
        if interrupted:
            bar.close()
            break
        record = _end_of_epoch(net, epoch, loss_sum / max(samples, 1), validation, schedule)
        numbers = {short: f"{record[k]:.4f}" for k, short in SHORT.items() if k in record}
        bar.set_postfix(numbers)
        bar.close()
        if mode == "lines":
            say(f"epoch {epoch}/{total}: " + " ".join(f"{k}={v}" for k, v in numbers.items())
                + f" ({time.perf_counter() - started:.1f} s)")
        if early_stopping is not None and early_stopping.update(net, record["validation_loss"]):
            stopped = True
            break
    if early_stopping is not None and not interrupted:
        early_stopping.restore(net)
        if stopped and mode is not None:
            tqdm.write(early_stopping.report())
    return total_loss / total_samples if total_samples else float("nan")


def _end_of_epoch(net, epoch, train_loss, validation, schedule):
    """Validate, record the epoch in ``net.history`` and step the schedule."""
    record = {"epoch": epoch, "train_loss": float(train_loss),
              "learning_rate": getattr(net.optimizer, "learning_rate", None)}
    if validation is not None:
        record["validation_loss"], record["validation_accuracy"] = net.evaluate(*validation)
        net.phase = False       # evaluate leaves the testing phase; the next epoch trains
    net.record_epoch(record)
    if schedule is not None:
        schedule.step(net.optimizer, epoch)
    return record


def evaluate(net, input_tensor, label_tensor=None, batch_size=256):
    """``(loss per sample, accuracy)`` over the label rows that are not all zeros
    (padding), like ``test`` in the testing phase."""
    if label_tensor is None:
        got = (f"one {type(input_tensor).__name__} of {len(input_tensor)}"
               if isinstance(input_tensor, (tuple, list)) else "no labels")
        _checks.fail("NeuralNetwork.evaluate", "evaluate(x, y), the inputs and the labels as "
                     "two arguments (for a pair, evaluate(*data))",
                     _checks.Described(got), TypeError)
    labels = np.asarray(label_tensor)
    counted = labels.any(axis=-1)           # all-zero rows are padded steps
    if not counted.any():
        _checks.fail("NeuralNetwork.evaluate", "labels with at least one row that is not "
                     "all zeros (all-zero rows are padding, left out of the accuracy)",
                     _checks.Described(f"{counted.size} label rows, all padding"))
    prediction = net.test(input_tensor, batch_size)
    loss = net.loss_layer.forward(prediction, labels) / len(prediction)
    right = np.argmax(prediction, axis=-1) == np.argmax(labels, axis=-1)
    return float(loss), float(np.mean(right[counted]))


def summary(net, input_shape):
    """A table of the layers, the output shape of one sample of ``input_shape`` (no
    batch axis) and the parameter counts; every layer's phase is left as it was."""
    phases = [layer.testing_phase for layer in net.layers]
    net.phase = True       # no running statistics are touched, no dropout drawn
    x, rows = np.zeros((1, *input_shape)), []
    try:
        for layer in net.layers:
            x = layer.forward(x)
            count = sum(p.size for p in getattr(layer, "parameters", dict)().values())
            rows.append([repr(layer), str(tuple(x.shape[1:])), count])
    finally:
        for layer, phase in zip(net.layers, phases):
            layer.testing_phase = phase
    rows.append(["total", "", sum(row[2] for row in rows)])
    return tabulate(rows, headers=["layer", "output shape", "parameters"], intfmt=",")


def check_schedule(schedule):
    """Refuse a schedule that is not one (a number meant as a learning rate, say)."""
    if schedule is not None and not callable(getattr(schedule, "step", None)):
        _checks.fail("NeuralNetwork.train", "schedule as an object with step(optimizer, "
                     "epoch), e.g. Schedules.ExponentialDecay(0.9) (to scale the learning "
                     "rate once, set net.optimizer.learning_rate)", schedule, TypeError)
