"""NeuralNetwork: a stack of layers, a data layer, a loss layer and an optimizer::

    net = NeuralNetwork(Optimizers.Adam(1e-3), Initializers.He(), Initializers.Constant(0.1))
    net.data_layer = Helpers.IrisData(50)       # anything with next() -> (input, label)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(SoftMax.SoftMax())
    net.train(1000)                             # mean loss per sample of the call
    probabilities = net.test(inputs)

Epoch-based training (validation, schedules, early stopping, resumable progress) is
``Optimization/Trainer.py``; checkpoints are the ``checkpoint`` package, through the state
protocol: ``get_config()``, ``state_dict()``/``load_state_dict()`` and ``from_config``.
"""
import contextlib
import math
import os

import numpy as np
from tabulate import tabulate

import _checks
import checkpoint
import onnx_export
from Layers.Base import learned_state, linked_copy, restore_state, snapshot_state
from Optimization import Trainer


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the state of the last good step was put back."""


@checkpoint.register
class NeuralNetwork:
    """A feed-forward stack trained by backpropagation.

    Args:
        optimizer: the optimizer every trainable layer gets a linked copy of
            (own state, shared hyperparameters, see ``Optimizers.Optimizer.fork``).
        weights_initializer, bias_initializer: given to ``initialize`` of every trainable
            layer appended (if both are given; else it keeps its constructor's draw).

    Members:
        layers: the layers, input first. data_layer: ``next() -> (input, label)``.
        loss_layer: ``forward(prediction, label)`` and ``backward(label)``.
        loss: one value per training iteration, as the classic framework kept it (and
            ``forward`` returns): the loss layer's sum over the batch plus the
            regularization loss. Everything else reports the loss per sample.
        history: one dict per epoch of ``train(epochs=...)``. epoch_progress:
            ``(steps, loss sum, samples)`` of an epoch a callback interrupted.
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
        return "\n".join([f"{type(self).__name__}(optimizer={self._optimizer!r}, loss_layer="
                          f"{self.loss_layer!r})"] + [f"  ({i}) {layer!r}" for i, layer in
                                                        enumerate(self.layers)])

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
        """True in the testing phase, False while training; set it with a bool or
        'train'/'training'/'test'/'testing' to set every layer's ``testing_phase``."""
        return bool(self.layers) and all(layer.testing_phase for layer in self.layers)

    @phase.setter
    def phase(self, value):
        if isinstance(value, str):
            names = {"train": False, "training": False, "test": True, "testing": True}
            if value.lower() not in names:
                _checks.fail("NeuralNetwork.phase", "'train' or 'test' (or a bool)", value)
            value = names[value.lower()]
        for layer in self.layers:
            layer.testing_phase = bool(value)

    def trainable_layers(self):
        return [layer for layer in self.layers if getattr(layer, "trainable", False)]

    def append_layer(self, layer):
        """Append ``layer``; a trainable one gets its optimizer copy and is initialized."""
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            _checks.fail("NeuralNetwork.append_layer", "a layer with forward and backward",
                         _checks.Described(type(layer).__name__), TypeError)
        if getattr(layer, "trainable", False):
            layer.optimizer = linked_copy(self._optimizer)
            if self.weights_initializer is not None and self.bias_initializer is not None:
                layer.initialize(self.weights_initializer, self.bias_initializer)
        self.layers.append(layer)

    def regularization_loss(self):
        """Sum of ``regularizer.norm(weights)`` over the trainable layers."""
        return sum(layer.calculate_regularization_loss() for layer in self.trainable_layers()
                   if hasattr(layer, "calculate_regularization_loss"))

    def forward(self):
        """Draw a batch, run every layer; return the loss layer's value plus the regularization loss."""
        if self.data_layer is None or self.loss_layer is None:
            raise RuntimeError("NeuralNetwork.forward: set data_layer and loss_layer first")
        x, self._label = self.data_layer.next()
        _checks.finite("NeuralNetwork.forward", x)
        _checks.finite("NeuralNetwork.forward", self._label, what="label batch")
        _checks.sample_shape(f"{type(self).__name__}.forward", x, self.input_shape)
        for layer in self.layers:
            x = layer.forward(x)
        self._batch_loss = self.loss_layer.forward(x, self._label)
        return self._batch_loss + self.regularization_loss()

    def backward(self):
        """Propagate the error from the loss layer down; layers update themselves.
        The first layer's input error has no consumer: one that can skip it is asked to."""
        error = self.loss_layer.backward(self._label)
        for layer in reversed(self.layers[1:]):
            error = layer.backward(error)
        if self.layers and getattr(self.layers[0], "skips_input_gradient", False):
            self.layers[0].backward(error, input_gradient=False)
        elif self.layers:
            self.layers[0].backward(error)

    def train(self, iterations=None, *, epochs=None, batch_size=None, validation=None,
              schedule=None, early_stopping=None, progress=None, callback=None):
        """Run training steps; return the mean loss per sample of this call.

        ``train(iterations)`` runs that many steps (quietly unless ``progress=True``).
        ``train(epochs=E, batch_size=B)`` hands over to ``Trainer.train_epochs``:
        ``E`` more passes over the data layer's samples (never a total), with ``validation``,
        ``schedule``, ``early_stopping``, ``progress`` and ``callback`` (see there).
        The loss per sample is the loss layer's value over the batch size, without
        the regularization term: the unit of ``evaluate`` and ``history``. A NaN
        or infinite loss raises ``TrainingDiverged`` naming the iteration, after
        putting back the layer state that gave the last finite loss.
        """
        if (iterations is None) == (epochs is None):
            _checks.fail("NeuralNetwork.train", "iterations or epochs=, one of them",
                         _checks.Described(f"iterations={iterations}, epochs={epochs}"))
        if schedule is not None and not callable(getattr(schedule, "step", None)):
            _checks.fail("NeuralNetwork.train", "schedule as an object with step(optimizer, "
                         "epoch), e.g. Schedules.ExponentialDecay(0.9) (to scale the learning "
                         "rate once, set net.optimizer.learning_rate)", schedule, TypeError)
        self.phase = False
        self._call_steps = 0
        if epochs is None:
            return Trainer.train_steps(self, iterations, validation, schedule, early_stopping,
                                       progress, callback)
        return Trainer.train_epochs(self, epochs, batch_size, validation, schedule,
                                    early_stopping, progress, callback)

    def step(self):
        """One forward/backward step with the divergence guard; appends the classic loss.

        Returns ``(loss, batch size)``: the loss layer's value for the batch
        (without regularization) and the number of samples in it.

        The guard copies nothing: updates assign new arrays (``Layers.Base._update``,
        ``Optimizers``), so references to the arrays of after a finite forward are a
        snapshot. A non-finite loss or running statistic puts back the state that gave
        the last finite loss; a non-finite parameter or optimizer state after the
        update puts back the state of before the update.
        """
        self._call_steps += 1
        if self._last_good is None:
            self._last_good = self._guard_state()
        where = (f"at iteration {self._call_steps} of this call (iteration "
                 f"{len(self.loss) + 1} overall)")
        loss = self.forward()
        broken = _non_finite(self.layers, forward_only=True)   # running statistics only
        if not math.isfinite(loss) or broken:
            self._restore_guarded(self._last_good)
            what = f"the loss became {loss}" if not math.isfinite(loss) else \
                f"{_became(*broken)} in forward (the loss was {loss})"
            raise TrainingDiverged(
                f"NeuralNetwork.train: {what} {where}; the parameters that gave the last "
                f"finite loss were kept (is the learning rate too large, or the input?)")
        self._last_good = self._guard_state()
        try:
            self.backward()
        except Exception:
            self._restore_guarded(self._last_good)   # a refusal half-way changes nothing
            raise
        broken = _non_finite(self.layers)
        if broken:
            self._restore_guarded(self._last_good)
            gradient = _non_finite_gradient(self.layers)     # the cause, if it was one
            what = _became(*broken) if gradient is None else \
                f"{_became(*gradient)} in backward, so {_became(*broken)}"
            raise TrainingDiverged(
                f"NeuralNetwork.train: {what} in the update {where}; the parameters and "
                f"optimizer state before it were kept (is the learning rate too large, or the "
                f"batch beyond what {broken[1].dtype} holds?)")
        self.loss.append(loss)
        return float(self._batch_loss), len(self._label)

    def __getstate__(self):
        # The guard's references to the arrays of before the last step are no part of a
        # copy or a pickle; the next step takes them anew.
        return {**self.__dict__, "_last_good": None}

    def _guard_state(self):
        """References to every learned array and each parameter optimizer's state."""
        optimizers = [(optimizer, optimizer.state_dict()) for optimizer in _optimizers(self.layers)
                      if callable(getattr(optimizer, "state_dict", None))]
        return snapshot_state(self.layers, copy=False), optimizers

    def _restore_guarded(self, state):
        """Put back a ``_guard_state``; refuse to pretend if something was changed in place."""
        layers, optimizers = state
        self.restore(layers)
        for optimizer, optimizer_state in optimizers:
            # A state changed in place since is refused here, and named just below.
            with contextlib.suppress(ValueError):
                optimizer.load_state_dict(optimizer_state)
        broken = _non_finite(self.layers)
        if broken:
            raise TrainingDiverged(f"NeuralNetwork.train: {_became(*broken)} and could not be put "
                                   f"back: a layer or optimizer wrote into it in place (updates "
                                   f"must assign new arrays)")

    # The trainer's doors: it records an epoch's progress through these, never by assignment.
    def record_progress(self, steps, loss_sum, samples):
        """Note how far the current epoch got: steps done, their loss sum and samples."""
        self.epoch_progress = (int(steps), float(loss_sum), int(samples))

    def record_epoch(self, record):
        """Append a finished epoch's ``record`` to ``history``; the next epoch starts at 0."""
        self.history.append(dict(record))
        self.epoch_progress = (0, 0.0, 0)

    def evaluate(self, input_tensor, label_tensor=None, batch_size=256):
        """Loss per sample (no regularization) and accuracy per non-padding label row:
        ``evaluate(x, y)``, inputs and labels as two arguments. Like ``test`` it leaves
        the network in the testing phase. Labels that are all padding (every row all
        zeros) have no accuracy and are refused with a ``ValueError``."""
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
        prediction = self.test(input_tensor, batch_size)
        loss = self.loss_layer.forward(prediction, labels) / len(prediction)
        right = np.argmax(prediction, axis=-1) == np.argmax(labels, axis=-1)
        return float(loss), float(np.mean(right[counted]))

    def snapshot(self):
        """A copy of what every layer has learned (``Base.learned_state``), for ``restore``."""
        return snapshot_state(self.layers)

    def restore(self, snapshot):
        """Put back the layer state taken by ``snapshot``."""
        restore_state(self.layers, snapshot)

    def save(self, filename):
        """Write a checkpoint of this network to ``filename`` (see ``save``)."""
        save(filename, self)

    def export_onnx(self, path, input_shape=None):
        """Write this network in its testing phase as an ONNX model (``onnx_export.export``)."""
        return onnx_export.export(self, path, input_shape)

    # -- the state protocol (checkpoints) ------------------------------------------------

    def get_config(self):
        """The network's own settings as plain data (a plain network has none; the layers,
        optimizer, initializers and loss are saved as objects of their own)."""
        return {}

    @classmethod
    def from_config(cls, config, *, layers, optimizer, weights_initializer=None,
                    bias_initializer=None, loss_layer=None):
        """A network of ``cls`` with its config and already built ``layers``, as they are.

        The layers keep their parameters (nothing is initialized); the caller gives
        them their optimizers. A ``dtype`` in ``config`` (a model's) is accepted and unused.
        """
        unknown = set(config) - {"dtype"}
        if unknown:
            raise TypeError(f"{cls.__name__}.from_config: unknown config entries {sorted(unknown)}")
        net = cls.__new__(cls)
        NeuralNetwork.__init__(net, optimizer, weights_initializer, bias_initializer)
        net.layers = list(layers)
        net.loss_layer = loss_layer
        return net

    def state_dict(self):
        """``loss`` (float64 array), ``history`` (one dict per epoch), ``epoch_progress``."""
        return {"loss": np.asarray(self.loss, np.float64),
                "history": [dict(record) for record in self.history],
                "epoch_progress": list(self.epoch_progress)}

    def load_state_dict(self, state):
        """Put back a ``state_dict()``; ``epoch_progress`` must be one an epoch can reach."""
        steps, loss_sum, samples = state["epoch_progress"]
        if not (0 <= steps <= samples and (steps == 0) == (samples == 0)
                and math.isfinite(loss_sum) and (samples or loss_sum == 0)):
            raise checkpoint.StateError("epoch_progress", f"expected (steps, loss sum, samples) of "
                                        f"an epoch, steps <= samples, got {state['epoch_progress']}")
        self.loss = np.asarray(state["loss"], np.float64).tolist()
        self.history = [dict(record) for record in state["history"]]
        self.epoch_progress = (int(steps), float(loss_sum), int(samples))

    def summary(self, input_shape):
        """A tabulate table of the layers, the output shape of one sample of
        ``input_shape`` (no batch axis, e.g. ``(1, 28, 28)``) and the parameter counts."""
        phases = [layer.testing_phase for layer in self.layers]
        self.phase = True       # no running statistics are touched, no dropout drawn
        x, rows = np.zeros((1, *input_shape)), []
        try:
            for layer in self.layers:
                x = layer.forward(x)
                count = sum(p.size for p in getattr(layer, "parameters", dict)().values())
                rows.append([repr(layer), str(tuple(x.shape[1:])), count])
        finally:
            for layer, phase in zip(self.layers, phases):
                layer.testing_phase = phase
        rows.append(["total", "", sum(row[2] for row in rows)])
        return tabulate(rows, headers=["layer", "output shape", "parameters"], intfmt=",")

    def test(self, input_tensor, batch_size=None):
        """Run ``input_tensor`` through every layer in the testing phase; return the output.

        With ``batch_size``, in chunks of that many samples (bounded memory, the same
        result; not for a classic 2-D RNN input, whose first axis is time).

        The network is left in the testing phase (the classic contract: ``test`` sets the
        testing phase, ``train`` the training phase; code that tests in the middle of
        training sets ``net.phase = False`` again, as the epoch trainer does after validation).

        The samples are independent: a recurrent layer with ``memorize`` on starts every
        sequence here from zeros, and its memorized (training) state is left as it was.
        """
        owner = f"{type(self).__name__}.test"
        if batch_size is not None:
            batch_size = _checks.size(owner, "batch_size", batch_size)
        if np.ndim(input_tensor) == 0:
            _checks.fail(owner, "an input batch, an array with the batch axis first",
                         _checks.Described(f"a 0-d {type(input_tensor).__name__}"))
        _checks.finite("NeuralNetwork.test", input_tensor)
        _checks.sample_shape(f"{type(self).__name__}.test", input_tensor, self.input_shape)
        memorized = [(layer, layer.state) for layer in self.layers
                     if getattr(layer, "memorize", False)]
        self.phase = True
        for layer, _ in memorized:
            layer.memorize = False
        try:
            outputs = []
            step = batch_size or max(len(input_tensor), 1)
            for start in range(0, max(len(input_tensor), 1), step):
                x = input_tensor[start:start + step]
                for layer in self.layers:
                    x = layer.forward(x)
                outputs.append(x)
        finally:                            # memorize and the state it carried come back
            for layer, state in memorized:
                layer.memorize, layer.state = True, state
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


def non_finite_state(layers):
    """``"<name> of layer <i> (<class>)"`` for the first learned array (``Base.learned_state``)
    or optimizer state array (``"Adam's r of weights of layer 0 (FullyConnected)"``)
    holding NaN or inf, else None."""
    broken = _non_finite(layers)
    return None if broken is None else broken[0]


def _optimizers(layers):
    for layer in layers:
        optimizers = getattr(layer, "parameter_optimizers", None)
        yield from (optimizers() or {}).values() if callable(optimizers) else ()


def _non_finite(layers, forward_only=False):
    """``(name, array)`` of the first non-finite float array, else None: the ``_state_fields``
    first (forward changes them), then, unless ``forward_only``, the parameters and the
    state of their optimizers (the update changes them)."""
    def arrays():
        for i, layer in enumerate(layers):
            for name in getattr(layer, "_state_fields", ()):
                yield f"{name} of layer {i} ({type(layer).__name__})", getattr(layer, name)
        if forward_only:
            return
        for i, layer in enumerate(layers):
            here = f"of layer {i} ({type(layer).__name__})"
            for name, value in learned_state(layer).items():
                yield f"{name} {here}", value
            optimizers = getattr(layer, "parameter_optimizers", None)
            for name, optimizer in ((optimizers() or {}) if callable(optimizers) else {}).items():
                if callable(getattr(optimizer, "state_dict", None)):
                    for field, value in optimizer.state_dict().items():
                        yield f"{type(optimizer).__name__}'s {field} of {name} {here}", value
    for name, value in arrays():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
            return name, value
    return None


def _non_finite_gradient(layers):
    """``(name, array)`` of the first gradient of a parameter holding NaN or inf, else None."""
    for i, layer in enumerate(layers):
        for name in (layer.parameters() if callable(getattr(layer, "parameters", None)) else ()):
            value = getattr(layer, "gradient_" + name, None)
            if isinstance(value, np.ndarray) and not np.isfinite(value).all():
                return f"gradient_{name} of layer {i} ({type(layer).__name__})", value
    return None


def _became(name, value):
    """``"<name> became NaN"`` or ``"<name> overflowed to inf"``."""
    return f"{name} became NaN" if np.isnan(value).any() else f"{name} overflowed to inf"


def save(filename, net):
    """Write ``net`` to ``filename`` as a data-only checkpoint, atomically (see
    ``checkpoint.save``): not its data layer, but that layer's state (order, position)."""
    if isinstance(filename, NeuralNetwork) and isinstance(net, (str, bytes, os.PathLike)):
        _checks.fail("NeuralNetwork.save", "save(filename, net), the file name first (or "
                     "net.save(filename))", _checks.Described(
                         f"save({type(filename).__name__}, {net!r}): the arguments are swapped"),
                     TypeError)
    checkpoint.save(filename, net)


def load(filename, data_layer=None):
    """Read a network saved by ``save`` and attach ``data_layer``. Nothing in the file is
    run; a bad file raises ``checkpoint.CheckpointError`` naming the file and the problem.
    Where the file holds the saved data layer's state, ``data_layer`` gets it back and NumPy's
    global random state is set as it was at the save: training resumes bit-identically.
    It is built as the first class of its lineage registered here: a LeNet's file gives a
    plain ``NeuralNetwork`` with the same layers if ``Models.LeNet`` was never imported."""
    return checkpoint.load(filename, data_layer)
