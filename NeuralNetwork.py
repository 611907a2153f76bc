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
import os
import pickle
import tempfile

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
        self._last_good = None      # parameters that gave the last finite loss

    def __repr__(self):
        lines = [f"{type(self).__name__}(optimizer={self._optimizer!r}, "
                 f"loss_layer={self.loss_layer!r})"]
        lines += [f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)

    # -- pickling: the data layer stays out ------------------------------------

    def __getstate__(self):
        state = self.__dict__.copy()
        state["data_layer"] = None
        state["_label"] = None
        state["_last_good"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update({"history": [], "_label": None, "_last_good": None,
                              "_epoch_progress": (0, 0.0, 0)})
        self.__dict__.update(state)

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
        ``TrainingDiverged`` naming the iteration, and the parameters that gave
        the last finite loss are put back.
        """
        n_epochs, per_epoch = self._plan(iterations, epochs, batch_size)
        if (validation is not None or early_stopping is not None) and epochs is None:
            raise ValueError("NeuralNetwork.train: validation and early_stopping need epochs=")
        if early_stopping is not None and validation is None:
            raise ValueError("NeuralNetwork.train: early_stopping needs validation=(input, label)")
        self.phase = False
        losses = []
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
                    stop = True
                    break
            bar.close()
            if epochs is not None and not stop:
                self._epoch_progress = (0, 0.0, 0)
                stop = self._end_of_epoch(loss_sum / max(samples, 1),
                                          validation, schedule, early_stopping)
            if stop:
                break
        if early_stopping is not None:
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

    def _parameter_layers(self):
        return [layer for layer in self.trainable_layers() if hasattr(layer, "parameters")]

    def snapshot(self):
        """A copy of every trainable layer's parameters (for ``restore``)."""
        return [{name: p.copy() for name, p in layer.parameters().items()}
                for layer in self._parameter_layers()]

    def restore(self, snapshot):
        """Put back parameters taken by ``snapshot``."""
        for layer, params in zip(self._parameter_layers(), snapshot):
            for name, value in params.items():
                setattr(layer, name, value.copy())

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
        outputs = []
        step = batch_size or max(len(input_tensor), 1)
        for start in range(0, max(len(input_tensor), 1), step):
            x = input_tensor[start:start + step]
            for layer in self.layers:
                x = layer.forward(x)
            outputs.append(x)
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


def _check_finite(where, batch):
    """Refuse a batch with NaN or inf: layers would pass it on silently (IEEE arithmetic)."""
    x = np.asarray(batch)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{where}: expected a finite input batch, got {np.isnan(x).sum()} NaN "
                         f"and {np.isinf(x).sum()} infinite entries in shape {x.shape}")


def _count(name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"NeuralNetwork.train: expected {name} to be an integer >= {minimum}, "
                         f"got {value!r}")
    return int(value)


def save(filename, net):
    """Pickle ``net`` (without its data layer) to ``filename``.

    The file is written next to its destination and moved into place in one
    step, so an interrupted save never leaves a half-written file behind.
    """
    directory = os.path.dirname(os.path.abspath(filename))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pickle", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(net, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())      # mkstemp makes 0600; a save gets the usual mode
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_NUMPY_2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


class UnsafeCheckpoint(pickle.UnpicklingError):
    """A checkpoint asked for something other than the framework's classes and arrays."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only this framework's classes and NumPy arrays, dtypes and scalars.

    A pickle can name any importable callable (``os.system``, ``subprocess.run``,
    ...) and have it called on load. This unpickler resolves only classes defined
    in the framework's own modules and the handful of NumPy functions that
    rebuild arrays, so loading a file from someone else cannot run code.
    Subclasses may narrow ``PACKAGES`` (``()`` admits NumPy data only).
    """

    PACKAGES = ("Layers", "Optimization", "Models", "NeuralNetwork")
    NUMPY = {("numpy", "ndarray"), ("numpy", "dtype"),
             ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
             ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
             ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module, name):
        if (module, name) in self.NUMPY:
            # NumPy 2 renamed numpy.core to numpy._core: read files of either version.
            old, new = ("numpy.core.", "numpy._core.") if _NUMPY_2 else ("numpy._core.", "numpy.core.")
            if module.startswith(old):
                module = new + module[len(old):]
            return super().find_class(module, name)
        if module.split(".")[0] in self.PACKAGES and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj
        if module == "numpy" and "." not in name:
            obj = getattr(np, name, None)
            if isinstance(obj, type) and issubclass(obj, np.generic):   # np.float32, ...
                return obj
        raise UnsafeCheckpoint(f"refusing to load {module}.{name}: the file may hold only the "
                               f"framework's classes and NumPy arrays; it is corrupt or was "
                               f"made to run code")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(filename, data_layer):
    """Load a network saved by ``save`` and attach ``data_layer`` to it.

    Safe on files from others: only the framework's classes and NumPy arrays are
    admitted (``UnsafeCheckpoint`` otherwise), nothing in the file is executed.
    """
    with open(filename, "rb") as f:
        net = RestrictedUnpickler(f).load()
    if not isinstance(net, NeuralNetwork):
        raise UnsafeCheckpoint(f"NeuralNetwork.load: expected a saved NeuralNetwork in "
                               f"{filename}, got {type(net).__name__}")
    net.data_layer = data_layer
    return net
