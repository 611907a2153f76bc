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

import _checks
import NeuralNetwork
from Layers import Conv, Flatten, FullyConnected, Initializers, Pooling, ReLU, SoftMax
from Optimization import Loss, Optimizers

LEARNING_RATE = 5e-4
L2_WEIGHT = 4e-4


def architecture(dtype=np.float32):
    """The LeNet layers, input first, as ``(class, keyword arguments)``."""
    conv, fc = Conv.Conv, FullyConnected.FullyConnected
    relu = (ReLU.ReLU, {})
    pool = (Pooling.Pooling, {"stride_shape": (2, 2), "pooling_shape": (2, 2)})
    return [
        (conv, {"stride_shape": (1, 1), "convolution_shape": (1, 5, 5), "num_kernels": 6,
                "dtype": dtype}), relu, pool,
        (conv, {"stride_shape": (1, 1), "convolution_shape": (6, 5, 5), "num_kernels": 16,
                "dtype": dtype}), relu, pool,
        (Flatten.Flatten, {}),
        (fc, {"input_size": 16 * 7 * 7, "output_size": 120, "dtype": dtype}), relu,
        (fc, {"input_size": 120, "output_size": 84, "dtype": dtype}), relu,
        (fc, {"input_size": 84, "output_size": 10, "dtype": dtype}), (SoftMax.SoftMax, {}),
    ]


def layers(dtype=np.float32):
    """The LeNet layers, input first, with parameters in ``dtype``."""
    return [cls(**kwargs) for cls, kwargs in architecture(dtype)]


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

    def get_config(self):
        """``{"dtype": ...}``: the dtype its layers compute in (a LeNet whose weights were
        converted, e.g. to float64, saves as what it became)."""
        return {"dtype": np.dtype(self.layers[0].dtype).name if self.layers else
                np.dtype(self.dtype).name}

    @classmethod
    def from_config(cls, config, *, layers, optimizer, weights_initializer=None,
                    bias_initializer=None, loss_layer=None):
        """A LeNet of already built ``layers``; they must be LeNet's, in ``config["dtype"]``,
        and the loss a cross-entropy (see ``NeuralNetwork.from_config``)."""
        dtype = config.get("dtype") or np.float32
        expected = [(layer_cls, _plain(kwargs)) for layer_cls, kwargs in architecture(dtype)]
        found = [(type(layer), _plain({k: getattr(layer, k) for k in kwargs}))
                 for layer, (_, kwargs) in zip(layers, expected)] + \
            [(type(layer), {}) for layer in layers[len(expected):]]
        if found != expected:
            wrong = next((i for i, (a, b) in enumerate(zip(found, expected)) if a != b),
                         min(len(found), len(expected)))
            got = (f"{found[wrong][0].__name__}({found[wrong][1]})" if wrong < len(found)
                   else "no layer")
            raise ValueError(f"LeNet.from_config: expected the {len(expected)} layers of LeNet in "
                             f"{np.dtype(dtype).name}; layer {wrong} is {got}")
        if loss_layer is not None and not isinstance(loss_layer, Loss.CrossEntropyLoss):
            raise ValueError(f"LeNet.from_config: expected the loss CrossEntropyLoss, "
                             f"got {type(loss_layer).__name__}")
        net = super().from_config({}, layers=layers, optimizer=optimizer, loss_layer=loss_layer,
                                  weights_initializer=weights_initializer,
                                  bias_initializer=bias_initializer)
        net.dtype = np.dtype(dtype).type
        net.input_shape = (1, 28, 28)
        return net

    def train(self, iterations=None, *, epochs=None, batch_size=None, **kwargs):
        """``NeuralNetwork.train``; with no data layer set, MNIST's training set is used."""
        if self.data_layer is None:
            from Data.MNIST import MNISTData
            self.data_layer = MNISTData(batch_size or 64, dtype=self.dtype)
        return super().train(iterations, epochs=epochs, batch_size=batch_size, **kwargs)

    @staticmethod
    def load(filename, data_layer=None):
        """Read a LeNet checkpoint written by ``save`` (see ``NeuralNetwork.load``)."""
        net = NeuralNetwork.load(filename, data_layer)
        if not isinstance(net, LeNet):
            raise _checks.CheckpointError(f"{filename}: holds a {type(net).__name__}, "
                             f"not a LeNet (use NeuralNetwork.load)")
        return net


def _plain(value):
    """Arguments as comparable data: tuples as lists, dtypes by name."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, type) or isinstance(value, np.dtype):
        return np.dtype(value).name
    return value


def build(dtype=np.float32):
    """A LeNet ``NeuralNetwork`` (see the module docstring), float32 by default."""
    return LeNet(dtype=dtype)
