"""LeNet: the classic convolutional network for 28x28 digits, built from our layers.

Architecture (``(channels, y, x)`` per sample)::

    input                               (1, 28, 28)
    Conv 5x5, 6 kernels, same padding   (6, 28, 28)   ReLU
    max pool 2x2, stride 2              (6, 14, 14)
    Conv 5x5, 16 kernels, same padding  (16, 14, 14)  ReLU
    max pool 2x2, stride 2              (16, 7, 7)
    Flatten                             (784,)
    FullyConnected 120, ReLU, 84, ReLU, 10, SoftMax

The cross-entropy loss, float32 unless ``dtype`` says otherwise, and by default
(``build()``, ``LeNet()``, ``default_optimizer()``) Adam with ``LEARNING_RATE``
5e-4 and an L2 regularizer of weight ``L2_WEIGHT`` 4e-4. ``TrainLeNet.py``, which
trained the shipped ``trained/lenet_mnist.ckpt``, has defaults of its own: Adam
with learning rate 1e-3 (``--lr``) multiplied by 0.8 after every epoch
(``--lr-decay``), and the same L2 weight (``--l2``).

Reference: LeCun et al., "Gradient-based learning applied to document
recognition", Proc. IEEE 1998.
"""
import numpy as np

import NeuralNetwork
from Layers import Conv, Flatten, FullyConnected, Initializers, Pooling, ReLU, SoftMax
from Optimization import Loss, Optimizers

LEARNING_RATE = 5e-4
L2_WEIGHT = 4e-4


def layers(dtype=np.float32):
    """The LeNet layers, input first, with parameters in ``dtype``."""
    return [
        Conv.Conv((1, 1), (1, 5, 5), 6, dtype=dtype), ReLU.ReLU(),
        Pooling.Pooling((2, 2), (2, 2)),
        Conv.Conv((1, 1), (6, 5, 5), 16, dtype=dtype), ReLU.ReLU(),
        Pooling.Pooling((2, 2), (2, 2)),
        Flatten.Flatten(),
        FullyConnected.FullyConnected(16 * 7 * 7, 120, dtype=dtype), ReLU.ReLU(),
        FullyConnected.FullyConnected(120, 84, dtype=dtype), ReLU.ReLU(),
        FullyConnected.FullyConnected(84, 10, dtype=dtype), SoftMax.SoftMax(),
    ]


def default_optimizer(learning_rate=LEARNING_RATE, l2=L2_WEIGHT):
    """Adam (``mu`` 0.9, ``rho`` 0.999) with an L2 regularizer (none if ``l2`` is 0)."""
    regularizer = {"type": "L2", "lambda": l2} if l2 else None
    return Optimizers.Adam(learning_rate, 0.9, 0.999, regularizer=regularizer)


class LeNet(NeuralNetwork.NeuralNetwork):
    """LeNet as a ``NeuralNetwork``: He-initialized weights, biases 0.1, Adam, cross-entropy.

    ``LeNet().train(epochs=10, batch_size=64)`` trains on MNIST when no data
    layer was set (``Data.MNIST.MNISTData``); ``save(path)`` writes a data-only
    checkpoint that ``LeNet.load(path)`` or ``NeuralNetwork.load`` reads back.
    Inputs must be ``(batch, 1, 28, 28)`` images; others are refused by name.

    Args:
        dtype: float dtype of parameters and computation (default float32).
        optimizer: defaults to ``default_optimizer()``.
    """

    def __init__(self, dtype=np.float32, optimizer=None):
        super().__init__(optimizer or default_optimizer(), Initializers.He(),
                         Initializers.Constant(0.1))
        self.dtype = np.dtype(dtype).type
        self.loss_layer = Loss.CrossEntropyLoss()
        self.input_shape = (1, 28, 28)
        for layer in layers(self.dtype):
            self.append_layer(layer)

    def train(self, iterations=None, *, epochs=None, batch_size=None, **kwargs):
        """``NeuralNetwork.train``; with no data layer set, MNIST's training set is used."""
        if self.data_layer is None:
            from Data.MNIST import MNISTData
            self.data_layer = MNISTData(batch_size or 64, dtype=self.dtype)
        return super().train(iterations, epochs=epochs, batch_size=batch_size, **kwargs)

    @staticmethod
    def load(filename, data_layer=None):
        """Read a LeNet checkpoint written by ``save`` (see ``NeuralNetwork.load``)."""
        import checkpoint
        net = NeuralNetwork.load(filename, data_layer)
        if not isinstance(net, LeNet):
            raise checkpoint.CheckpointError(f"{filename}: holds a {type(net).__name__}, "
                                             f"not a LeNet (use NeuralNetwork.load)")
        return net


def build(dtype=np.float32):
    """A LeNet ``NeuralNetwork`` (see the module docstring), float32 by default."""
    return LeNet(dtype=dtype)
