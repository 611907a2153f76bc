"""Row-by-row MNIST: a recurrent network reads a digit one pixel row per time step.

Architecture (per sample)::

    input                                   (28, 28)    28 rows of 28 pixels = (time, features)
    LSTM(28 -> 128, output_size=None)       (28, 128)   h_t after each row
    LastStep                                (128,)      h_28: the state after the whole image
    FullyConnected(128 -> 10), SoftMax      (10,)

``build(cell="gru")`` puts a GRU in place of the LSTM. Cross-entropy, Adam with
learning rate 1e-3, float32 by default. The initial weights follow PyTorch's
defaults (``torch.nn.LSTM``/``GRU``: uniform on ``±1/sqrt(128)``, our recurrent
layers' own default; ``torch.nn.Linear``: uniform on ``±1/sqrt(fan_in)`` for weights
and bias), so a run compares with the same model in PyTorch.
"""
import numpy as np

import NeuralNetwork
from Layers import GRU, LSTM, FullyConnected, LastStep, SoftMax
from Optimization import Loss, Optimizers

LEARNING_RATE = 1e-3
HIDDEN = 128
CLASSES = 10
CELLS = {"lstm": LSTM.LSTM, "gru": GRU.GRU}


def linear_like_torch(layer):
    """Give a FullyConnected ``torch.nn.Linear``'s default initial weights, bias included:
    uniform on ``±1/sqrt(input_size)`` (NumPy's global generator)."""
    limit = 1.0 / np.sqrt(layer.input_size)
    layer.weights = np.random.uniform(-limit, limit, layer.weights.shape).astype(layer.dtype)
    return layer


def check_architecture(model, layers, loss_layer, classes, fits, expected):
    """Refuse (ValueError naming ``model``) other layers than a model's, or another loss.

    ``classes`` holds a tuple of accepted classes per layer, ``fits(*layers)`` says whether
    their sizes chain and match the data, ``expected`` describes the architecture for the
    message. The loss must be ``CrossEntropyLoss``: the models report nats and accuracy of it.
    """
    layers = list(layers)
    right = len(layers) == len(classes) and all(type(layer) in accepted
                                                for layer, accepted in zip(layers, classes))
    if not (right and fits(*layers)):
        got = " -> ".join(map(repr, layers)) or "no layers"
        raise ValueError(f"{model}.from_config: expected the layers {expected}, got {got}")
    if type(loss_layer) is not Loss.CrossEntropyLoss:
        got = None if loss_layer is None else type(loss_layer).__name__
        raise ValueError(f"{model}.from_config: expected the loss CrossEntropyLoss, got {got}")


class RowMNIST(NeuralNetwork.NeuralNetwork):
    """A ``NeuralNetwork`` that takes images as ``(batch, 28, 28)``: build it with ``build``.

    A class of its own so that checkpoints say what they hold and refuse other
    inputs by name; the constructor is NeuralNetwork's (it adds no layers).
    """

    INPUT_SHAPE = (28, 28)

    def __init__(self, optimizer, weights_initializer=None, bias_initializer=None):
        super().__init__(optimizer, weights_initializer, bias_initializer)
        self.input_shape = self.INPUT_SHAPE
        self.loss_layer = Loss.CrossEntropyLoss()

    @classmethod
    def from_config(cls, config, *, layers, optimizer, weights_initializer=None,
                    bias_initializer=None, loss_layer=None):
        """``NeuralNetwork.from_config`` for ``build``'s architecture only: an LSTM or GRU
        over rows of 28 pixels (any hidden size), LastStep, FullyConnected to the 10
        classes, SoftMax, and ``CrossEntropyLoss`` (ValueError otherwise). The network
        refuses inputs other than ``(batch, 28, 28)``."""
        rows = cls.INPUT_SHAPE[1]
        check_architecture(
            cls.__name__, layers, loss_layer,
            (tuple(CELLS.values()), (LastStep.LastStep,), (FullyConnected.FullyConnected,),
             (SoftMax.SoftMax,)),
            lambda cell, last, fc, softmax: (cell.input_size == rows and cell.output_size is None
                                             and fc.input_size == cell.hidden_size
                                             and fc.output_size == CLASSES),
            f"LSTM or GRU({rows}, H) -> LastStep() -> FullyConnected(H, {CLASSES}) -> SoftMax()")
        net = super().from_config(config, layers=layers, optimizer=optimizer,
                                  weights_initializer=weights_initializer,
                                  bias_initializer=bias_initializer, loss_layer=loss_layer)
        net.input_shape = cls.INPUT_SHAPE
        return net


def build(cell="lstm", dtype=np.float32, learning_rate=LEARNING_RATE):
    """The row-MNIST classifier with an ``"lstm"`` or ``"gru"`` cell (module docstring)."""
    if cell not in CELLS:
        raise ValueError(f"RowMNIST.build: expected cell 'lstm' or 'gru', got {cell!r}")
    net = RowMNIST(Optimizers.Adam(learning_rate))
    net.append_layer(CELLS[cell](28, HIDDEN, output_size=None, dtype=dtype))
    net.append_layer(LastStep.LastStep())
    net.append_layer(linear_like_torch(FullyConnected.FullyConnected(HIDDEN, CLASSES,
                                                                     dtype=dtype)))
    net.append_layer(SoftMax.SoftMax())
    return net
