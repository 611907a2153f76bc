"""Batch normalization for vectors and images."""
import numpy as np

import _checks
from _checks import StateError
from ._layer import TrainableLayer


class BatchNormalization(TrainableLayer):
    """Normalize each channel over the batch, then scale and shift::

        x_hat = (x - mean) / sqrt(var + epsilon)
        y     = weights * x_hat + bias            (weights = gamma, bias = beta)

    Training uses the batch's mean and (biased) variance; the testing phase uses
    the running statistics. The FIRST training batch sets them; every later one
    updates them as ``running = 0.8 * running + 0.2 * batch`` (0.8 weighs the
    OLD value). Before any training batch the running statistics are mean 0,
    variance 1.

    Images ``(batch, channels, y, x)`` get per-channel statistics over batch
    and pixels: forward and backward turn them into ``(batch*y*x, channels)`` rows
    and back (``reformat`` is the same map for callers; it changes nothing that
    forward or backward read).

    gamma and beta are not regularized: the optimizer's regularizer does not
    act on them and they add nothing to the regularization loss.

    Args:
        channels: number of features (vectors) or channels (images).
        dtype: float dtype of parameters and computation (default float64);
            afterwards the dtype of ``weights`` (see ``_layer``).

    Parameters:
        weights (gamma, ones) and bias (beta, zeros): ``(channels,)``;
        gradient_weights, gradient_bias likewise.

    Reference: Ioffe & Szegedy, "Batch Normalization", ICML 2015.
    """

    _cache_fields = ("_x_hat", "_inv_std", "_trained", "_image_shape", "_reformat_shape")
    _param_names = ("weights", "bias")
    _regularized = ()                   # gamma and beta: see Base
    # Learned besides the parameters: kept by checkpoints and NeuralNetwork.snapshot.
    _state_fields = ("running_mean", "running_var", "_has_running")
    epsilon = 1e-11
    momentum = 0.8   # weight of the old running value

    def __init__(self, channels, dtype=np.float64):
        super().__init__()
        dtype = _checks.float_dtype("BatchNormalization", dtype)
        self.channels = _checks.size("BatchNormalization", "channels", channels)
        self.weights = np.ones(self.channels, dtype=dtype)
        self.bias = np.zeros(self.channels, dtype=dtype)
        self.running_mean = np.zeros(self.channels, dtype=dtype)
        self.running_var = np.ones(self.channels, dtype=dtype)
        self._has_running = False
        self.gradient_weights = None
        self.gradient_bias = None
        self._image_shape = None    # (b, c, y, x) of the last forward's image, else None
        self._reformat_shape = None     # the last image shape reformat saw (its own)
        self._x_hat = None      # normalized input of the last forward, (n, channels)
        self._inv_std = None    # 1 / sqrt(var + epsilon) used by the last forward
        self._trained = None    # whether the last forward used batch statistics

    def __repr__(self):
        return f"BatchNormalization({self.channels})"

    def check_state(self, state):
        """A variance is never negative (its square root is taken)."""
        if (np.asarray(state["running_var"]) < 0).any():
            raise StateError("running_var", "expected values >= 0 (a variance), got negative ones")

    def initialize(self, weights_initializer=None, bias_initializer=None):
        """gamma = ones, beta = zeros, whatever initializers are passed."""
        self.weights = np.ones(self.channels, dtype=self.dtype)
        self.bias = np.zeros(self.channels, dtype=self.dtype)

    def _parameter_shapes(self):
        return {"weights": (self.channels,), "bias": (self.channels,)}

    def reformat(self, tensor):
        """``(b, c, y, x) -> (b*y*x, c)``; a 2-D tensor goes back to the image shape last
        given to ``reformat`` or ``forward``. (Forward and backward keep their own shape:
        calling this changes nothing they read.)"""
        t = np.asarray(tensor)
        if t.ndim == 4:
            self._reformat_shape = t.shape
            return _rows(t)
        if t.ndim == 2 and self._reformat_shape is not None \
                and t.shape == _rows_shape(self._reformat_shape):
            return _image(t, self._reformat_shape)
        raise ValueError(f"BatchNormalization.reformat: expected (batch, channels, y, x), or "
                         f"(batch*y*x, channels) of the last image "
                         f"{self._reformat_shape}, got {t.shape}")

    def forward(self, input_tensor):
        """``(batch, channels)`` or ``(batch, channels, y, x)`` -> same shape."""
        self._check_parameters()
        x = self._input(input_tensor, (2, 4), f"(batch, {self.channels}) or "
                        f"(batch, {self.channels}, y, x)", self.dtype)
        if x.shape[1] != self.channels:
            raise ValueError(f"BatchNormalization.forward: expected input of shape "
                             f"(batch, {self.channels}[, y, x]), got {x.shape}")
        image, x_shape = x.ndim == 4, x.shape
        self._image_shape = x.shape if image else None
        if image:
            self._reformat_shape = x.shape
            x = _rows(x)
        if self.testing_phase:
            mean, var = self.running_mean, self.running_var
        else:
            mean, var = x.mean(axis=0), x.var(axis=0)
            if self._has_running:
                self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
                self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            else:
                self.running_mean, self.running_var = mean.copy(), var.copy()
                self._has_running = True
        self._trained = not self.testing_phase
        self._inv_std = 1.0 / np.sqrt(var + self.dtype(self.epsilon))
        self._x_hat = (x - mean) * self._inv_std
        y = self.weights * self._x_hat + self.bias
        return np.ascontiguousarray(_image(y, x_shape)) if image else y

    def backward(self, error_tensor):
        """dL/d(output) -> dL/d(input), same layout as forward; sets the gradients."""
        if self._x_hat is None:
            raise RuntimeError("BatchNormalization.backward: called before forward")
        if self._image_shape is None:
            e = self._error(error_tensor, self._x_hat.shape, self.dtype)
        else:
            e = _rows(self._error(error_tensor, self._image_shape, self.dtype))
        self.gradient_weights = np.sum(e * self._x_hat, axis=0)
        self.gradient_bias = e.sum(axis=0)
        if self._trained:
            dx = input_gradient(e, self._x_hat, self.weights, self._inv_std)
        else:   # fixed statistics: a plain per-channel affine map
            dx = e * (self.weights * self._inv_std)
        self._update()
        if self._image_shape is None:
            return dx
        return np.ascontiguousarray(_image(dx, self._image_shape))


def _rows(image):
    """``(b, c, y, x) -> (b*y*x, c)``: one row per pixel, one column per channel."""
    return image.transpose(0, 2, 3, 1).reshape(-1, image.shape[1])


def _rows_shape(image_shape):
    b, c, y, x = image_shape
    return (b * y * x, c)


def _image(rows, image_shape):
    """``(b*y*x, c) -> (b, c, y, x)``, the inverse of ``_rows``."""
    b, c, y, x = image_shape
    return rows.reshape(b, y, x, c).transpose(0, 3, 1, 2)


def input_gradient(dy, x_hat, gamma, inv_std):
    """dL/dx of training-mode batch normalization, ``(n, channels)`` arrays.

    ``dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))``, means
    over the batch axis: the mean and variance depend on every sample.
    """
    return (gamma * inv_std) * (dy - dy.mean(axis=0) - x_hat * np.mean(dy * x_hat, axis=0))
