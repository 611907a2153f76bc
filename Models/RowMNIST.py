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

import checkpoint
import NeuralNetwork
from Layers import GRU, LSTM, FullyConnected, LastStep, SoftMax
from Optimization import Loss, Optimizers

LEARNING_RATE = 1e-3
HIDDEN = 128
CELLS = {"lstm": LSTM.LSTM, "gru": GRU.GRU}


def linear_like_torch(layer):
    """Give a FullyConnected ``torch.nn.Linear``'s default initial weights, bias included:
    uniform on ``±1/sqrt(input_size)`` (NumPy's global generator)."""
    limit = 1.0 / np.sqrt(layer.input_size)
    layer.weights = np.random.uniform(-limit, limit, layer.weights.shape).astype(layer.dtype)
    return layer


@checkpoint.register
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
    def from_config(cls, config, **parts):
        """``NeuralNetwork.from_config``, refusing inputs other than ``(batch, 28, 28)``."""
        net = super().from_config(config, **parts)
        net.input_shape = cls.INPUT_SHAPE
        return net


def build(cell="lstm", dtype=np.float32, learning_rate=LEARNING_RATE):
    """The row-MNIST classifier with an ``"lstm"`` or ``"gru"`` cell (module docstring)."""
    if cell not in CELLS:
        raise ValueError(f"RowMNIST.build: expected cell 'lstm' or 'gru', got {cell!r}")
    net = RowMNIST(Optimizers.Adam(learning_rate))
    net.append_layer(CELLS[cell](28, HIDDEN, output_size=None, dtype=dtype))
    net.append_layer(LastStep.LastStep())
    net.append_layer(linear_like_torch(FullyConnected.FullyConnected(HIDDEN, 10, dtype=dtype)))
    net.append_layer(SoftMax.SoftMax())
    return net
