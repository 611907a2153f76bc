"""Weight initializers.

Each has ``initialize(weights_shape, fan_in, fan_out) -> array of weights_shape``.
``fan_in`` is the number of inputs feeding one output unit, ``fan_out`` the number
of outputs one input feeds (for Conv: ``c*m*n`` and ``num_kernels*m*n``).
Random draws come from NumPy's global generator, so ``np.random.seed`` reproduces them.
Checkpoints save one by its constructor arguments, read back from same-named attributes.
"""
import numpy as np

import _checks


class Constant:
    """Every entry equals ``value`` (default 0.1)."""

    def __init__(self, value=0.1):
        self.value = _checks.number("Constant", "value", value)

    def initialize(self, weights_shape, fan_in=None, fan_out=None):
        return np.full(weights_shape, self.value)

    def __repr__(self):
        return f"Constant({self.value})"


class UniformRandom:
    """Uniform on [0, 1)."""

    def initialize(self, weights_shape, fan_in=None, fan_out=None):
        return np.random.uniform(0.0, 1.0, weights_shape)

    def __repr__(self):
        return "UniformRandom()"


class UniformFanOut:
    """Uniform on ``[-1/sqrt(fan_out), 1/sqrt(fan_out)]``.

    The recurrent layers' default: their cell's fan_out is ``hidden_size``, which
    makes this the usual RNN/LSTM/GRU initialisation (PyTorch's, for one).
    """

    def initialize(self, weights_shape, fan_in, fan_out):
        limit = 1.0 / np.sqrt(fan_out)
        return np.random.uniform(-limit, limit, weights_shape)

    def __repr__(self):
        return "UniformFanOut()"


class Xavier:
    """Normal with std ``sqrt(2 / (fan_in + fan_out))``.

    Reference: Glorot & Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", AISTATS 2010.
    """

    def initialize(self, weights_shape, fan_in, fan_out):
        return np.random.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), weights_shape)

    def __repr__(self):
        return "Xavier()"


class He:
    """Normal with std ``sqrt(2 / fan_in)``, suited to ReLU networks.

    Reference: He et al., "Delving Deep into Rectifiers", ICCV 2015.
    """

    def initialize(self, weights_shape, fan_in, fan_out=None):
        return np.random.normal(0.0, np.sqrt(2.0 / fan_in), weights_shape)

    def __repr__(self):
        return "He()"
