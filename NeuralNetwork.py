"""NeuralNetwork: a stack of layers, a data layer, a loss layer and an optimizer.

Usage::

    net = NeuralNetwork(Optimizers.Adam(1e-3), Initializers.He(), Initializers.Constant(0.1))
    net.data_layer = Helpers.IrisData(50)       # anything with next() -> (input, label)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(SoftMax.SoftMax())
    net.train(1000)                             # returns the mean loss of the call
    probabilities = net.test(inputs)
"""
import math

import numpy as np
from tabulate import tabulate
from tqdm import tqdm

from Layers.Base import linked_copy


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the parameters of the last good step were restored."""


class NeuralNetwork:
    """A feed-forward stack trained by backpropagation.

    Args:
        optimizer: the optimizer every trainable layer gets a linked copy of
            (own state, shared hyperparameters, see ``Optimizers.Optimizer.fork``).
        weights_initializer, bias_initializer: passed to ``initialize`` of every
            trainable layer appended.

    Members:
        layers: the layers, input first. loss: one loss value per training
        iteration. data_layer: object with ``next() -> (input, label)``.
        loss_layer: object with ``forward(prediction, label)`` and ``backward(label)``.
    """

    def __init__(self, optimizer, weights_initializer=None, bias_initializer=None):
        self._optimizer = optimizer
        self.weights_initializer = weights_initializer
        self.bias_initializer = bias_initializer
        self.layers = []
        self.loss = []
        self.data_layer = None
        self.loss_layer = None
        self.history = []           # one dict per epoch of train(epochs=...)
        # Progress of an epoch that a stopping callback interrupted: steps, loss sum, samples.
        self._epoch_progress = (0, 0.0, 0)
        self._label = None
        self._last_good = None      # layer state that gave the last finite loss
        self.input_shape = None     # shape of one sample, checked on entry when set

    def __repr__(self):
        lines = [f"{type(self).__name__}(optimizer={self._optimizer!r}, "
                 f"loss_layer={self.loss_layer!r})"]
        lines += [f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)

    # -- optimizer and phase ---------------------------------------------------

    @property
    def optimizer(self):
        """The network's optimizer; setting it gives every trainable layer a linked copy."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer):
        self._optimizer = optimizer
        for layer in self.trainable_layers():
            layer.optimizer = linked_copy(optimizer)

    @property
    def phase(self):
        """True in the testing phase, False while training (mirrors ``testing_phase``).

        Setting it accepts a bool or one of 'train'/'training'/'test'/'testing'
        and sets ``testing_phase`` on every layer.
        """
        return bool(self.layers) and all(layer.testing_phase for layer in self.layers)

    @phase.setter
    def phase(self, value):
        if isinstance(value, str):
            names = {"train": False, "training": False, "test": True, "testing": True}
            if value.lower() not in names:
                raise ValueError(f"NeuralNetwork.phase: expected 'train' or 'test' (or a bool), "
                                 f"got {value!r}")
            value = names[value.lower()]
        for layer in self.layers:
            layer.testing_phase = bool(value)

    def trainable_layers(self):
        return [layer for layer in self.layers if getattr(layer, "trainable", False)]

    def append_layer(self, layer):
        """Append ``layer``; a trainable one gets its optimizer copy and is initialized."""
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            raise TypeError(f"NeuralNetwork.append_layer: expected a layer with forward and "
                            f"backward, got {type(layer).__name__}")
        if getattr(layer, "trainable", False):
            layer.optimizer = linked_copy(self._optimizer)
            if self.weights_initializer is not None and self.bias_initializer is not None:
                layer.initialize(self.weights_initializer, self.bias_initializer)
        self.layers.append(layer)

    # -- one step ----------------------------------------------------------------

    def regularization_loss(self):
        """Sum of ``regularizer.norm(weights)`` over the trainable layers."""
        return sum(layer.calculate_regularization_loss() for layer in self.trainable_layers()
                   if hasattr(layer, "calculate_regularization_loss"))

    def forward(self):
        """Draw a batch from the data layer, run every layer and return the loss.

        The loss is the loss layer's value plus the regularization loss.
        """
        if self.data_layer is None or self.loss_layer is None:
            raise RuntimeError("NeuralNetwork.forward: set data_layer and loss_layer first")
        x, self._label = self.data_layer.next()
        _check_finite("NeuralNetwork.forward", x)
        _check_finite("NeuralNetwork.forward", self._label, what="label batch")
        self._check_input_shape("forward", x)
        for layer in self.layers:
            x = layer.forward(x)
        return self.loss_layer.forward(x, self._label) + self.regularization_loss()

    def backward(self):
        """Propagate the error from the loss layer down; layers update themselves.

        The first layer's input error has no consumer: a layer that can skip it
        (``skips_input_gradient``) is asked to.
        """
        error = self.loss_layer.backward(self._label)
        for layer in reversed(self.layers[1:]):
            error = layer.backward(error)
        if self.layers:
            first = self.layers[0]
            if getattr(first, "skips_input_gradient", False):
                first.backward(error, input_gradient=False)
            else:
                first.backward(error)

    def train(self, iterations=None, *, epochs=None, batch_size=None, validation=None,
              schedule=None, early_stopping=None, progress=False, callback=None):
        """Run training steps and return the mean loss of this call.

        ``train(iterations)`` runs that many forward/backward steps.
        ``train(epochs=E, batch_size=B)`` sets the data layer's batch size to
        ``B`` (if given) and runs ``E`` passes over its ``len(data_layer)``
        training samples. Each step's loss is appended to ``self.loss``.

        Between epochs (``epochs=`` only):
            validation: ``(input, label)`` evaluated after every epoch; the
                per-sample loss and the accuracy go to ``self.history``.
            schedule: e.g. ``Schedules.ExponentialDecay(0.9)``;
                ``schedule.step(self.optimizer, epoch)`` after every epoch.
            early_stopping: ``Schedules.EarlyStopping`` watching the validation
                loss; training stops when it says so and ends with the best
                parameters it saw.
        Any mode:
            progress: show a tqdm progress bar per epoch with the running loss.
            callback: ``callback(net, iteration, loss)`` after every step; a
                true result stops training after that step. A later
                ``train(epochs=...)`` first finishes the interrupted epoch, so an
                interrupted run can be resumed exactly (TrainLeNet.py does).

        If the loss becomes NaN or infinite, training stops with
        ``TrainingDiverged`` naming the iteration, and the layer state that gave
        the last finite loss (parameters and BatchNormalization's running
        statistics) is put back. With early stopping, a finished run ends on the
        best parameters; a run a callback interrupted keeps its current ones.
        """
        n_epochs, per_epoch = self._plan(iterations, epochs, batch_size)
        if (validation is not None or early_stopping is not None) and epochs is None:
            raise ValueError("NeuralNetwork.train: validation and early_stopping need epochs=")
        if early_stopping is not None and validation is None:
            raise ValueError("NeuralNetwork.train: early_stopping needs validation=(input, label)")
        self.phase = False
        losses = []
        interrupted = False
        for epoch in range(1, n_epochs + 1):
            # An epoch that a stopping callback interrupted is finished first.
            done, loss_sum, samples = self._epoch_progress if epochs is not None else (0, 0.0, 0)
            bar = tqdm(range(done, per_epoch), initial=done, total=per_epoch, leave=True,
                       desc=f"epoch {len(self.history) + 1}" if epochs else "train",
                       disable=not progress, dynamic_ncols=True)
            stop = False
            for step in bar:
                loss = self._step(len(losses) + 1)
                losses.append(loss)
                loss_sum, samples = loss_sum + loss, samples + len(self._label)
                if epochs is not None:
                    self._epoch_progress = (step + 1, loss_sum, samples)
                if progress and (step + 1) % 10 == 0:
                    bar.set_postfix(loss=f"{loss_sum / samples:.4f}/sample")
                if callback is not None and callback(self, len(self.loss), loss):
                    stop = interrupted = True
                    break
            bar.close()
            if epochs is not None and not stop:
                self._epoch_progress = (0, 0.0, 0)
                stop = self._end_of_epoch(loss_sum / max(samples, 1),
                                          validation, schedule, early_stopping)
            if stop:
                break
        # An interrupted run keeps its current weights so that it can be resumed exactly;
        # only a finished one ends on the best weights early stopping saw.
        if early_stopping is not None and not interrupted:
            early_stopping.restore(self)
        return float(np.mean(losses)) if losses else float("nan")

    def _step(self, step):
        """One forward/backward step with the divergence guard; returns the loss."""
        loss = self.forward()
        if not math.isfinite(loss):
            if self._last_good is not None:
                self.restore(self._last_good)
            raise TrainingDiverged(
                f"NeuralNetwork.train: the loss became {loss} at iteration {step} of this "
                f"call (iteration {len(self.loss) + 1} overall); the parameters that gave "
                f"the last finite loss were kept")
        self._last_good = self.snapshot()
        self.backward()
        self.loss.append(loss)
        return loss

    def _end_of_epoch(self, train_loss, validation, schedule, early_stopping):
        """Record the epoch in ``history``, step the schedule; True means stop early."""
        epoch = len(self.history) + 1
        record = {"epoch": epoch, "train_loss": train_loss,
                  "learning_rate": getattr(self.optimizer, "learning_rate", None)}
        stop = False
        if validation is not None:
            record["validation_loss"], record["validation_accuracy"] = self.evaluate(*validation)
            self.phase = False
            if early_stopping is not None:
                stop = early_stopping.update(self, record["validation_loss"])
        self.history.append(record)
        if schedule is not None:
            schedule.step(self.optimizer, epoch)
        return stop

    def evaluate(self, input_tensor, label_tensor, batch_size=256):
        """Per-sample loss (without regularization) and accuracy on a labelled set."""
        prediction = self.test(input_tensor, batch_size)
        loss = self.loss_layer.forward(prediction, label_tensor) / len(prediction)
        accuracy = np.mean(np.argmax(prediction, axis=1) == np.argmax(label_tensor, axis=1))
        return float(loss), float(accuracy)

    def _plan(self, iterations, epochs, batch_size):
        """``(number of epochs, steps per epoch)``; iteration mode is one 'epoch'."""
        if iterations is not None and epochs is not None:
            raise ValueError("NeuralNetwork.train: give iterations or epochs, not both")
        if epochs is None:
            if iterations is None:
                raise ValueError("NeuralNetwork.train: expected iterations or epochs=")
            return 1, _count("iterations", iterations)
        epochs = _count("epochs", epochs)
        if batch_size is not None:
            self.data_layer.batch_size = _count("batch_size", batch_size, minimum=1)
        try:
            n = len(self.data_layer)
            per_epoch = math.ceil(n / self.data_layer.batch_size)
        except (TypeError, AttributeError):
            raise TypeError("NeuralNetwork.train: epochs= needs a data layer with len() "
                            f"(training samples) and batch_size, got "
                            f"{type(self.data_layer).__name__}") from None
        return epochs, per_epoch

    def snapshot(self):
        """A copy of every layer's ``layer_state`` (for ``restore``), one dict per layer."""
        return [{name: _copy(value) for name, value in layer_state(layer).items()}
                for layer in self.layers]

    def restore(self, snapshot):
        """Put back the layer state taken by ``snapshot``."""
        for layer, state in zip(self.layers, snapshot):
            for name, value in state.items():
                setattr(layer, name, _copy(value))

    def save(self, filename):
        """Write a checkpoint of this network to ``filename`` (see ``save``)."""
        save(filename, self)

    def _check_input_shape(self, where, x):
        shape = np.shape(x)[1:]
        if self.input_shape is not None and tuple(shape) != tuple(self.input_shape):
            raise ValueError(f"{type(self).__name__}.{where}: expected input of shape "
                             f"(batch, {', '.join(map(str, self.input_shape))}), "
                             f"got {np.shape(x)}")

    def summary(self, input_shape):
        """A table of the layers: output shape for one sample of ``input_shape``, parameters.

        Args:
            input_shape: shape of one sample, without the batch axis, e.g. ``(1, 28, 28)``.
        Returns:
            the table as a string (tabulate), ending with the total parameter count.
        """
        testing = [layer.testing_phase for layer in self.layers]
        self.phase = True       # no running statistics are touched, no dropout drawn
        x = np.zeros((1, *input_shape))
        rows, total = [], 0
        try:
            for layer in self.layers:
                x = layer.forward(x)
                count = sum(p.size for p in layer.parameters().values()) \
                    if hasattr(layer, "parameters") else 0
                total += count
                rows.append([repr(layer), str(tuple(x.shape[1:])), f"{count:,}"])
        finally:
            for layer, phase in zip(self.layers, testing):
                layer.testing_phase = phase
        rows.append(["total", "", f"{total:,}"])
        return tabulate(rows, headers=["layer", "output shape", "parameters"],
                        colalign=("left", "left", "right"))

    def test(self, input_tensor, batch_size=None):
        """Run ``input_tensor`` through every layer in the testing phase; return the output.

        With ``batch_size`` the input goes through in chunks of that many samples,
        which bounds the memory of evaluating a whole test set; in the testing
        phase samples are computed independently, so the result is the same. (Not
        for a classic 2-D RNN input, whose first axis is time.)
        """
        self.phase = True
        _check_finite("NeuralNetwork.test", input_tensor)
        self._check_input_shape("test", input_tensor)
        outputs = []
        step = batch_size or max(len(input_tensor), 1)
        for start in range(0, max(len(input_tensor), 1), step):
            x = input_tensor[start:start + step]
            for layer in self.layers:
                x = layer.forward(x)
            outputs.append(x)
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


def layer_state(layer):
    """What a layer has learned: its parameters and the attributes it lists in ``_state_fields``.

    For example BatchNormalization's running mean and variance. A dict name -> array
    (or bool); these are what ``snapshot``/``restore`` and checkpoints keep.
    """
    state = dict(layer.parameters()) if callable(getattr(layer, "parameters", None)) else {}
    for name in getattr(layer, "_state_fields", ()):
        state[name] = getattr(layer, name)
    return state


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _check_finite(where, batch, what="input batch"):
    """Refuse a batch with NaN or inf: layers would pass it on silently (IEEE arithmetic)."""
    x = np.asarray(batch)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{where}: expected a finite {what}, got {np.isnan(x).sum()} NaN "
                         f"and {np.isinf(x).sum()} infinite entries in shape {x.shape}")


def _count(name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"NeuralNetwork.train: expected {name} to be an integer >= {minimum}, "
                         f"got {value!r}")
    return int(value)


def save(filename, net):
    """Write ``net`` to ``filename`` as a data-only checkpoint (``checkpoint.save``).

    The data layer is not saved. The file is written next to its destination and
    renamed into place, so an interrupted save leaves the previous file intact.
    """
    import checkpoint
    checkpoint.save(filename, net)


def load(filename, data_layer=None):
    """Read a network saved by ``save`` and attach ``data_layer`` to it.

    Loading runs no code from the file; a bad file raises
    ``checkpoint.CheckpointError`` (a ``ValueError``) naming the file and the problem.
    """
    import checkpoint
    return checkpoint.load(filename, data_layer)
