"""NeuralNetwork: a stack of layers trained by backpropagation. What a student implements::

    net = NeuralNetwork(Optimizers.Adam(1e-3), Initializers.He(), Initializers.Constant(0.1))
    net.data_layer = Helpers.IrisData(50)       # anything with next() -> (input, label)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.append_layer(FullyConnected.FullyConnected(4, 3))   # its own optimizer copy
    net.append_layer(SoftMax.SoftMax())
    net.train(1000)             # forward() -> loss, backward(): the layers update themselves
    probabilities = net.test(inputs)            # (batch, 3), in the testing phase

After ``test`` come the framework's additions: the divergence guard (``step``), epochs
(``Optimization/Trainer.py``) and the doors persistence uses (``checkpoint``).
"""
import numpy as np

import _checks
from Layers._layer import parameter_copy, restore_state, snapshot_state
from Optimization import Trainer
from Optimization._guard import Guard, TrainingDiverged, non_finite_state  # noqa: F401


class NeuralNetwork:
    """Args: ``optimizer`` (each trainable layer gets its ``parameter_copy()``: own state,
    this optimizer's hyperparameters), ``weights_initializer`` and ``bias_initializer``
    (given to ``initialize`` of each trainable layer appended, if both are given).

    Members: ``layers``, ``data_layer``, ``loss_layer``, ``loss`` (one value per training
    iteration, regularization included), ``history`` (one dict per epoch),
    ``epoch_progress`` (an interrupted epoch's ``(steps, loss sum, samples)``) and
    ``input_shape`` (one sample's shape; when set, other inputs are refused).
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
        self.input_shape = None
        self._label = self._batch_loss = None     # the last forward's labels and loss value
        self._guard = Guard()

    def __repr__(self):
        head = f"{type(self).__name__}(optimizer={self._optimizer!r}, loss_layer={self.loss_layer!r})"
        return "\n".join([head] + [f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers)])

    @property
    def optimizer(self):
        """The network's optimizer; setting it gives every trainable layer a copy of it."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer):
        self._optimizer = optimizer
        for layer in self.trainable_layers():
            layer.optimizer = parameter_copy(optimizer)

    @property
    def phase(self):
        """``'test'`` when every layer is in the testing phase, else ``'train'``. Set it
        with ``'train'``/``'test'`` or a bool (True: testing, the classic meaning) to set
        every layer's ``testing_phase``."""
        return "test" if self.layers and all(layer.testing_phase for layer in self.layers) \
            else "train"

    @phase.setter
    def phase(self, value):
        names = {"train": False, "training": False, "test": True, "testing": True}
        if isinstance(value, str) and value.lower() not in names:
            _checks.fail("NeuralNetwork.phase", "'train' or 'test' (or a bool)", value)
        for layer in self.layers:
            layer.testing_phase = names[value.lower()] if isinstance(value, str) else bool(value)

    def append_layer(self, layer):
        """Append ``layer``; a trainable one gets its optimizer copy and is initialized."""
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            _checks.fail("NeuralNetwork.append_layer", "a layer with forward and backward",
                         _checks.Described(type(layer).__name__), TypeError)
        if getattr(layer, "trainable", False):
            layer.optimizer = parameter_copy(self._optimizer)
            if self.weights_initializer is not None and self.bias_initializer is not None:
                layer.initialize(self.weights_initializer, self.bias_initializer)
        self.layers.append(layer)

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
        """``train(iterations)``: that many ``step()``s in the training phase, each loss kept
        in ``loss``; ``train(epochs=E, batch_size=B, ...)``: ``E`` more passes (``Trainer``).
        Returns the mean loss per sample; a NaN or infinite loss raises ``TrainingDiverged``."""
        if (iterations is None) == (epochs is None):
            _checks.fail("NeuralNetwork.train", "iterations or epochs=, one of them",
                         _checks.Described(f"iterations={iterations}, epochs={epochs}"))
        Trainer.check_schedule(schedule)
        self.phase = False
        self._guard.call_steps = 0
        if epochs is None:
            return Trainer.train_steps(self, iterations, validation, schedule, early_stopping,
                                       progress, callback)
        return Trainer.train_epochs(self, epochs, batch_size, validation, schedule,
                                    early_stopping, progress, callback)

    def test(self, input_tensor, batch_size=None):
        """The last layer's output for ``input_tensor``, in the testing phase, which it leaves
        set (the classic contract). ``batch_size``: in chunks (not for a 2-D RNN input,
        whose first axis is time). A recurrent layer with ``memorize`` starts each sample
        from zeros here; its memorized state is left as it was."""
        owner = f"{type(self).__name__}.test"
        if batch_size is not None:
            batch_size = _checks.size(owner, "batch_size", batch_size)
        if np.ndim(input_tensor) == 0:
            _checks.fail(owner, "an input batch, an array with the batch axis first",
                         _checks.Described(f"a 0-d {type(input_tensor).__name__}"))
        _checks.finite("NeuralNetwork.test", input_tensor)
        _checks.sample_shape(owner, input_tensor, self.input_shape)
        memorized = [(layer, layer.state) for layer in self.layers
                     if getattr(layer, "memorize", False)]
        self.phase = True
        for layer, _ in memorized:
            layer.memorize = False
        try:
            outputs, n = [], max(len(input_tensor), 1)
            for start in range(0, n, batch_size or n):
                x = input_tensor[start:start + (batch_size or n)]
                for layer in self.layers:
                    x = layer.forward(x)
                outputs.append(x)
        finally:                            # memorize and the state it carried come back
            for layer, state in memorized:
                layer.memorize, layer.state = True, state
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    # -- what the framework adds ------------------------------------------------------------
    def trainable_layers(self):
        return [layer for layer in self.layers if getattr(layer, "trainable", False)]

    def regularization_loss(self):
        """Sum of ``regularizer.norm(weights)`` over the trainable layers."""
        return sum(layer.calculate_regularization_loss() for layer in self.trainable_layers()
                   if hasattr(layer, "calculate_regularization_loss"))

    def step(self):
        """A guarded forward/backward (``_guard``): ``(loss layer's value, batch size)``."""
        loss = self._guard.step(self.layers, self.forward, self.backward, len(self.loss) + 1)
        self.loss.append(loss)
        return float(self._batch_loss), len(self._label)

    def evaluate(self, input_tensor, label_tensor=None, batch_size=256):
        """``(loss per sample, accuracy)`` in the testing phase (``Trainer.evaluate``)."""
        return Trainer.evaluate(self, input_tensor, label_tensor, batch_size)

    def snapshot(self):
        """A copy of what every layer has learned, for ``restore``."""
        return snapshot_state(self.layers)

    def restore(self, snapshot):
        restore_state(self.layers, snapshot)

    def record_progress(self, steps, loss_sum, samples):       # the trainer's doors
        self.epoch_progress = (int(steps), float(loss_sum), int(samples))

    def record_epoch(self, record):
        self.history.append(dict(record))
        self.epoch_progress = (0, 0.0, 0)

    def summary(self, input_shape):
        """A table of the layers, their output shapes and parameter counts (``Trainer.summary``)."""
        return Trainer.summary(self, input_shape)

    def get_config(self):   # persistence's doors: a subclass's own constructor arguments
        return _checks.own_config(self, NeuralNetwork)

    @classmethod
    def from_config(cls, config, *, layers, optimizer, weights_initializer=None,
                    bias_initializer=None, loss_layer=None):
        """Built ``layers`` (optimizers the caller's); ``get_config``'s entries as attributes."""
        own = set(_checks.constructor_args(cls)) - set(_checks.constructor_args(NeuralNetwork))
        unknown = set(config) - {"dtype"} - own
        if unknown:
            raise TypeError(f"{cls.__name__}.from_config: unknown config entries {sorted(unknown)}")
        net = cls.__new__(cls)      # not __init__: a subclass's may build layers of its own
        NeuralNetwork.__init__(net, optimizer, weights_initializer, bias_initializer)
        vars(net).update({k: config[k] for k in own & set(config)}, layers=list(layers), loss_layer=loss_layer)
        return net

    def state_dict(self):
        return {"loss": np.asarray(self.loss, np.float64), "history": [dict(r) for r in self.history],
                "epoch_progress": list(self.epoch_progress)}

    def load_state_dict(self, state):
        """Put back a ``state_dict()``; ``epoch_progress`` must be one an epoch can reach."""
        steps, loss_sum, samples = state["epoch_progress"]
        if not (0 <= steps <= samples and (steps == 0) == (samples == 0)
                and np.isfinite(loss_sum) and (samples or loss_sum == 0)):
            raise _checks.StateError("epoch_progress", f"expected (steps, loss sum, samples) of an "
                                     f"epoch, steps <= samples, got {state['epoch_progress']}")
        self.loss = np.asarray(state["loss"], np.float64).tolist()
        self.history = [dict(record) for record in state["history"]]
        self.epoch_progress = (int(steps), float(loss_sum), int(samples))

    def save(self, filename):
        save(filename, self)

    def export_onnx(self, path, input_shape=None):
        """This network in its testing phase as an ONNX model (``onnx_export.export``)."""
        import onnx_export      # as save does checkpoint: the workshop only when asked for
        return onnx_export.export(self, path, input_shape)


def save(filename, net):
    """Write ``net`` to ``filename`` as a data-only checkpoint (``checkpoint.save``)."""
    import checkpoint       # the core's one door to persistence (which imports no core module)
    if isinstance(filename, NeuralNetwork) and not isinstance(net, NeuralNetwork):
        _checks.fail("NeuralNetwork.save", "save(filename, net), the file name first (or net.save(filename))",
                     _checks.Described(f"save({type(filename).__name__}, {net!r}): the "
                                       f"arguments are swapped"), TypeError)
    checkpoint.save(filename, net)


def load(filename, data_layer=None):
    """Read a network saved by ``save``, with ``data_layer`` (``checkpoint.load``)."""
    import checkpoint
    return checkpoint.load(filename, data_layer)
