"""Convolution layer (1-D and 2-D), computed with im2col."""
import math

import numpy as np

from .Base import TrainableLayer, check_shape, check_size
from ._windows import col2im, im2col, same_padding


class Conv(TrainableLayer):
    """Cross-correlation with "same" zero padding, then subsampling by the stride.

    For every kernel k and output position p (a 2-D sketch, 1-D drops ``y``)::

        out[b, k, p] = bias[k] + sum_{c, i, j} weights[k, c, i, j] * x_pad[b, c, s_y*p_y + i, s_x*p_x + j]

    The padding keeps the size before subsampling, so the output has
    ``ceil(in / stride)`` pixels per axis; an even kernel gets its extra padding
    row/column after.

    Args:
        stride_shape: one int (all axes) or a tuple/list of 1 or 2 ints.
        convolution_shape: ``(c, m)`` for 1-D or ``(c, m, n)`` for 2-D, ``c`` =
            input channels.
        num_kernels: number of kernels = output channels.
        dtype: float dtype of parameters and computation (default float64).

    Parameters:
        weights: ``(num_kernels, c, m[, n])``; bias: ``(num_kernels,)``; with
        ``gradient_weights`` and ``gradient_bias`` of the same shapes. Weights
        and bias are updated by two independent optimizer states.

    Shapes:
        forward: ``(batch, c, y, x) -> (batch, num_kernels, ceil(y/s_y), ceil(x/s_x))``
        (1-D: ``(batch, c, x) -> (batch, num_kernels, ceil(x/s))``).
    """

    _cache_fields = ("_cols", "_x_shape")
    _param_names = ("weights", "bias")

    def __init__(self, stride_shape, convolution_shape, num_kernels, dtype=np.float64):
        super().__init__(dtype)
        self.convolution_shape = check_shape("Conv", "convolution_shape", convolution_shape, (2, 3))
        self.num_kernels = check_size("Conv", "num_kernels", num_kernels)
        spatial = len(self.convolution_shape) - 1
        stride = check_shape("Conv", "stride_shape", stride_shape, (1, spatial))
        self.stride_shape = stride * spatial if len(stride) == 1 else stride
        self.weights = np.random.uniform(0.0, 1.0, (self.num_kernels, *self.convolution_shape)) \
            .astype(self.dtype)
        self.bias = np.random.uniform(0.0, 1.0, self.num_kernels).astype(self.dtype)
        self.gradient_weights = None
        self.gradient_bias = None
        self._cols = None       # im2col matrix of the last padded input
        self._x_shape = None    # shape of the last input (as an image)

    def __repr__(self):
        return f"Conv({self.stride_shape}, {self.convolution_shape}, {self.num_kernels})"

    def initialize(self, weights_initializer, bias_initializer):
        """Draw weights with ``fan_in = c*m*n`` and ``fan_out = num_kernels*m*n``."""
        c, *kernel = self.convolution_shape
        fan_in, fan_out = c * math.prod(kernel), self.num_kernels * math.prod(kernel)
        self.weights = self._check_initializer(weights_initializer, self.weights.shape,
                                               fan_in, fan_out, "weights")
        self.bias = self._check_initializer(bias_initializer, self.bias.shape,
                                            fan_in, fan_out, "bias")

    # 1-D layers run through the 2-D code with an image height of 1.
    def _kernel2d(self):
        return self.convolution_shape[1:] if len(self.convolution_shape) == 3 \
            else (1, self.convolution_shape[1])

    def _stride2d(self):
        return self.stride_shape if len(self.stride_shape) == 2 else (1, self.stride_shape[0])

    def forward(self, input_tensor):
        """``(batch, c, y, x)`` or ``(batch, c, x)`` -> ``(batch, num_kernels, out_y, out_x)`` or 1-D."""
        one_d = len(self.convolution_shape) == 2
        c = self.convolution_shape[0]
        expected = f"(batch, {c}, x)" if one_d else f"(batch, {c}, y, x)"
        x = self._input(input_tensor, (3,) if one_d else (4,), expected, self.dtype)
        if x.shape[1] != c:
            raise ValueError(f"Conv.forward: expected input of shape {expected} "
                             f"({c} channels), got {x.shape}")
        if one_d:
            x = x[:, :, np.newaxis, :]
        (ky, kx), stride = self._kernel2d(), self._stride2d()
        b, _, in_y, in_x = x.shape
        x_pad = np.pad(x, ((0, 0), (0, 0), same_padding(ky), same_padding(kx)))
        self._cols = im2col(x_pad, (ky, kx), stride)
        self._x_shape = x.shape
        out_y, out_x = -(-in_y // stride[0]), -(-in_x // stride[1])
        w = self.weights.reshape(self.num_kernels, -1)
        out = self._cols @ w.T + self.bias                      # (b * out_y * out_x, kernels)
        out = out.reshape(b, out_y, out_x, self.num_kernels).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(out[:, :, 0, :] if one_d else out)

    def backward(self, error_tensor):
        """dL/d(output) -> dL/d(input); sets the gradients, then updates if an optimizer is set."""
        if self._x_shape is None:
            raise RuntimeError("Conv.backward: called before forward")
        one_d = len(self.convolution_shape) == 2
        (ky, kx), stride = self._kernel2d(), self._stride2d()
        b, c, in_y, in_x = self._x_shape
        out_y, out_x = -(-in_y // stride[0]), -(-in_x // stride[1])
        out_shape = (b, self.num_kernels, out_x) if one_d else (b, self.num_kernels, out_y, out_x)
        e = self._error(error_tensor, out_shape, self.dtype)
        e = e.reshape(b, self.num_kernels, out_y, out_x).transpose(0, 2, 3, 1) \
            .reshape(-1, self.num_kernels)                      # (b * out_y * out_x, kernels)
        w = self.weights.reshape(self.num_kernels, -1)
        self.gradient_weights = (e.T @ self._cols).reshape(self.weights.shape)
        self.gradient_bias = e.sum(axis=0)
        # The error for the previous layer uses the weights of forward, before the update.
        (top, _), (left, _) = same_padding(ky), same_padding(kx)
        padded = (b, c, in_y + ky - 1, in_x + kx - 1)
        dx = col2im(e @ w, padded, (ky, kx), stride, (out_y, out_x))
        dx = dx[:, :, top:top + in_y, left:left + in_x]
        self._update()
        return np.ascontiguousarray(dx[:, :, 0, :] if one_d else dx)
