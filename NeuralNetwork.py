"""NeuralNetwork: a stack of layers, a data layer, a loss layer and an optimizer.

Usage::

    net = NeuralNetwork(Optimizers.Adam(1e-3), Initializers.He(), Initializers.Constant(0.1))
    net.data_layer = Helpers.IrisData(50)       # anything with next() -> (input, label)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(SoftMax.SoftMax())
    net.train(1000)                             # mean loss per sample of the call
    probabilities = net.test(inputs)

Epoch-based training (validation, schedules, early stopping, resumable progress)
lives in ``Optimization/Trainer.py``; ``train(epochs=...)`` hands over to it.
"""
import math

import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from Layers.Base import linked_copy
from Optimization import Trainer


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
        layers: the layers, input first.
        loss: one value per training iteration, as the classic framework kept it:
            the loss layer's value for the batch (a sum over its samples) plus the
            regularization loss. Everything else reports the loss per sample.
        data_layer: object with ``next() -> (input, label)``.
        loss_layer: object with ``forward(prediction, label)`` and ``backward(label)``.
        history: one dict per epoch of ``train(epochs=...)`` (per-sample losses).
        epoch_progress: ``(steps, loss sum, samples)`` of an epoch a callback
            interrupted; the next ``train(epochs=...)`` finishes it first.
        input_shape: shape of one sample; when set, other inputs are refused.
    """

    def __init__(self, optimizer, weights_initializer=None, bias_initializer=None):
        self._optimizer = optimizer
        self.weights_initializer = weights_initializer
        self.bias_initializer = bias_initializer
        self.layers = []
        self.loss = []
        self.data_layer = None
        self.loss_layer = None
        self.history = []
        self.epoch_progress = (0, 0.0, 0)
        self._label = None
        self._batch_loss = None     # the loss layer's value of the last forward
        self._call_steps = 0        # steps of the current train call, for messages
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
        self._batch_loss = self.loss_layer.forward(x, self._label)
        return self._batch_loss + self.regularization_loss()

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
              schedule=None, early_stopping=None, progress=None, callback=None):
        """Run training steps; return the mean loss per sample of this call.

        ``train(iterations)`` runs that many forward/backward steps (quietly,
        unless ``progress=True``). ``train(epochs=E, batch_size=B)`` sets the data
        layer's batch size to ``B`` (if given) and runs ``E`` passes over its
        ``len(data_layer)`` training samples with ``Optimization.Trainer``, which
        also takes ``validation``, ``schedule``, ``early_stopping``, ``progress``
        (default: bars where a person watches) and ``callback`` (see
        ``Trainer.train_epochs``). Each step's classic loss goes to ``self.loss``.

        The returned loss is the loss layer's value divided by the batch size,
        averaged over the call, without the regularization term: the unit of
        ``evaluate`` and ``history``.

        If the loss becomes NaN or infinite, training stops with
        ``TrainingDiverged`` naming the iteration, and the layer state that gave
        the last finite loss (parameters and BatchNormalization's running
        statistics) is put back.
        """
        if iterations is not None and epochs is not None:
            raise ValueError("NeuralNetwork.train: give iterations or epochs, not both")
        self.phase = False
        self._call_steps = 0
        if epochs is not None:
            return Trainer.train_epochs(self, _count("epochs", epochs),
                                        None if batch_size is None else
                                        _count("batch_size", batch_size, minimum=1),
                                        validation, schedule, early_stopping, progress, callback)
        if iterations is None:
            raise ValueError("NeuralNetwork.train: expected iterations or epochs=")
        if validation is not None or early_stopping is not None or schedule is not None:
            raise ValueError("NeuralNetwork.train: validation, schedule and early_stopping "
                             "need epochs=")
        loss_sum, samples = 0.0, 0
        for _ in tqdm(range(_count("iterations", iterations)), desc="train",
                      disable=not progress, dynamic_ncols=True):
            loss, batch = self.step()
            loss_sum, samples = loss_sum + loss, samples + batch
            if callback is not None and callback(self, len(self.loss), loss):
                break
        return loss_sum / samples if samples else float("nan")

    def step(self):
        """One forward/backward step with the divergence guard.

        Returns:
            ``(loss, batch size)``: the loss layer's value for the batch (without
            regularization) and the number of samples in it. ``self.loss`` gets
            the classic value (with regularization).
        """
        self._call_steps += 1
        loss = self.forward()
        if not math.isfinite(loss):
            if self._last_good is not None:
                self.restore(self._last_good)
            hint = ""
            if isinstance(self._batch_loss, float) and not math.isfinite(self._batch_loss):
                hint = (f" ({type(self.loss_layer).__name__} gave {self._batch_loss}: is the "
                        f"last layer a SoftMax for a cross-entropy loss, and the learning rate "
                        f"small enough?)")
            raise TrainingDiverged(
                f"NeuralNetwork.train: the loss became {loss} at iteration {self._call_steps} "
                f"of this call (iteration {len(self.loss) + 1} overall); the parameters that "
                f"gave the last finite loss were kept{hint}")
        self._last_good = self.snapshot()
        self.backward()
        self.loss.append(loss)
        return float(self._batch_loss), len(self._label)

    def evaluate(self, input_tensor, label_tensor, batch_size=256):
        """Per-sample loss (without regularization) and accuracy on a labelled set."""
        prediction = self.test(input_tensor, batch_size)
        loss = self.loss_layer.forward(prediction, label_tensor) / len(prediction)
        accuracy = np.mean(np.argmax(prediction, axis=1) == np.argmax(label_tensor, axis=1))
        return float(loss), float(accuracy)

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
