"""Convolution layer (1-D and 2-D), computed with im2col in a batch-last layout."""
import math

import numpy as np

import _checks
from ._layer import TrainableLayer
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
        dtype: float dtype of parameters and computation (default float64);
            afterwards the dtype of ``weights`` (see ``_layer``).

    Parameters:
        weights: ``(num_kernels, c, m[, n])``; bias: ``(num_kernels,)``; with
        ``gradient_weights`` and ``gradient_bias`` of the same shapes. Weights
        and bias are updated by two independent optimizer states.

    Shapes:
        forward: ``(batch, c, y, x) -> (batch, num_kernels, ceil(y/s_y), ceil(x/s_x))``
        (1-D: ``(batch, c, x) -> (batch, num_kernels, ceil(x/s))``). The output and
        the input error are batch-first views of batch-last memory (see ``_layer``).
    """

    _cache_fields = ("_x_pad", "_cols", "_x_shape")
    _param_names = ("weights", "bias")
    _regularized = ("weights", "bias")  # the bias decays too, as in the classic framework
    skips_input_gradient = True

    def __init__(self, stride_shape, convolution_shape, num_kernels, dtype=np.float64):
        super().__init__()
        dtype = _checks.float_dtype("Conv", dtype)
        self.convolution_shape = _checks.shape("Conv", "convolution_shape", convolution_shape, (2, 3))
        self.num_kernels = _checks.size("Conv", "num_kernels", num_kernels)
        spatial = len(self.convolution_shape) - 1
        stride = _checks.shape("Conv", "stride_shape", stride_shape, (1, 2, 3))
        if len(stride) not in (1, spatial):
            raise ValueError(_stride_message(stride, self.convolution_shape))
        self.stride_shape = stride * spatial if len(stride) == 1 else stride
        self.weights = np.random.uniform(0.0, 1.0, (self.num_kernels, *self.convolution_shape)) \
            .astype(dtype, copy=False)
        self.bias = np.random.uniform(0.0, 1.0, self.num_kernels).astype(dtype, copy=False)
        self.gradient_weights = None
        self.gradient_bias = None
        self._x_pad = None      # last input, padded, batch-last: (c, y, x, batch)
        self._cols = None       # its im2col matrix (ky * kx * c, out_y * out_x * batch)
        self._x_shape = None    # shape of the last input (as an image)

    def __repr__(self):
        return f"Conv({self.stride_shape}, {self.convolution_shape}, {self.num_kernels})"

    def initialize(self, weights_initializer, bias_initializer):
        """Draw weights with ``fan_in = c*m*n`` and ``fan_out = num_kernels*m*n``."""
        c, *kernel = self.convolution_shape
        fan_in, fan_out = c * math.prod(kernel), self.num_kernels * math.prod(kernel)
        shapes = self._parameter_shapes()
        self.weights = self._initialized(weights_initializer, shapes["weights"],
                                         fan_in, fan_out, "weights")
        self.bias = self._initialized(bias_initializer, shapes["bias"], fan_in, fan_out, "bias")

    def _parameter_shapes(self):
        return {"weights": (self.num_kernels, *self.convolution_shape),
                "bias": (self.num_kernels,)}

    # 1-D layers run through the 2-D code with an image height of 1.
    def _kernel2d(self):
        return self.convolution_shape[1:] if len(self.convolution_shape) == 3 \
            else (1, self.convolution_shape[1])

    def _stride2d(self):
        return self.stride_shape if len(self.stride_shape) == 2 else (1, self.stride_shape[0])

    def _geometry(self, in_y, in_x):
        """Kernel, stride, output size and padding of the 2-D computation."""
        (ky, kx), (sy, sx) = self._kernel2d(), self._stride2d()
        return (ky, kx), (sy, sx), (-(-in_y // sy), -(-in_x // sx)), \
            (same_padding(ky), same_padding(kx))

    def forward(self, input_tensor):
        """``(batch, c, y, x)`` or ``(batch, c, x)`` -> ``(batch, num_kernels, out_y, out_x)`` or 1-D."""
        self._check_parameters()
        one_d = len(self.convolution_shape) == 2
        c = self.convolution_shape[0]
        expected = f"(batch, {c}, x)" if one_d else f"(batch, {c}, y, x)"
        x = self._input(input_tensor, (3,) if one_d else (4,), expected, self.dtype)
        if x.shape[1] != c:
            raise ValueError(f"Conv.forward: expected input of shape {expected} "
                             f"({c} channels), got {x.shape}")
        if 0 in x.shape[2:]:
            raise ValueError(f"Conv.forward: expected input of shape {expected} with every "
                             f"spatial size >= 1, got {x.shape}")
        if one_d:
            x = x[:, :, np.newaxis, :]
        b, _, in_y, in_x = x.shape
        kernel, stride, (out_y, out_x), ((top, bottom), (left, right)) = \
            self._geometry(in_y, in_x)
        # Batch-last padded copy (channels, y, x, batch); its zero border is kept between calls.
        padded = (c, in_y + top + bottom, in_x + left + right, b)
        if self._x_pad is None or self._x_pad.shape != padded or self._x_pad.dtype != x.dtype:
            self._x_pad = np.zeros(padded, self.dtype)
            self._cols = None
        self._x_pad[:, top:top + in_y, left:left + in_x, :] = x.transpose(1, 2, 3, 0)
        self._cols = im2col(self._x_pad, kernel, stride, (out_y, out_x), out=self._cols)
        self._x_shape = x.shape
        out = self._kernel_matrix() @ self._cols               # (kernels, out_y * out_x * b)
        out += self.bias[:, np.newaxis]
        # A batch-first view of the batch-last result: the next layers keep this memory layout.
        out = out.reshape(self.num_kernels, out_y, out_x, b).transpose(3, 0, 1, 2)
        return out[:, :, 0, :] if one_d else out

    def _kernel_matrix(self):
        """Weights as ``(num_kernels, ky * kx * c)``, columns ordered like im2col's rows."""
        w = self.weights.reshape(self.num_kernels, self.convolution_shape[0], *self._kernel2d())
        return w.transpose(0, 2, 3, 1).reshape(self.num_kernels, -1)

    def backward(self, error_tensor, input_gradient=True):
        """dL/d(output) -> dL/d(input); sets the gradients, then updates if an optimizer is set.

        With ``input_gradient=False`` dL/d(input) is not computed and None is returned.
        """
        if self._x_shape is None:
            raise RuntimeError("Conv.backward: called before forward")
        one_d = len(self.convolution_shape) == 2
        b, c, in_y, in_x = self._x_shape
        kernel, stride, (out_y, out_x), ((top, _), (left, _)) = self._geometry(in_y, in_x)
        k = self.num_kernels
        out_shape = (b, k, out_x) if one_d else (b, k, out_y, out_x)
        e = self._error(error_tensor, out_shape, self.dtype).reshape(b, k, out_y * out_x)
        e = np.ascontiguousarray(e.transpose(1, 2, 0)).reshape(k, -1)   # (kernels, pixels * b)
        w = self._kernel_matrix()
        # (cols @ e.T).T rather than e @ cols.T: OpenBLAS is faster with the long axis inside.
        dw = (self._cols @ e.T).T.reshape(k, *kernel, c).transpose(0, 3, 1, 2)
        self.gradient_weights = np.ascontiguousarray(dw).reshape(self.weights.shape)
        self.gradient_bias = e.sum(axis=1)
        dx = None
        if input_gradient:
            # The error for the previous layer uses the weights of forward, before the update.
            dx = col2im(w.T @ e, self._x_pad.shape, kernel, stride, (out_y, out_x))
            dx = dx[:, top:top + in_y, left:left + in_x, :].transpose(3, 0, 1, 2)
            dx = dx[:, :, 0, :] if one_d else dx      # a batch-first view, batch-last in memory
        self._update()
        return dx


def _stride_message(stride, convolution_shape):
    """What a stride that does not fit ``convolution_shape`` probably means.

    The PyTorch habit ``Conv((1, 1), (3, 3), 4)`` gives a kernel shape without the
    channels, which reads here as a 1-D convolution over 3 channels.
    """
    one_d = len(convolution_shape) == 2
    layout = "(channels, x)" if one_d else "(channels, y, x)"
    message = (f"Conv: expected stride_shape of {'1 integer' if one_d else '1 or 2 integers'} "
               f"for convolution_shape {convolution_shape}, which is channels-first: {layout}, "
               f"got {stride}")
    if one_d and len(stride) == 2:
        kernel = ", ".join(map(str, convolution_shape))
        message += (f"; a {'x'.join(map(str, convolution_shape))} kernel is convolution_shape "
                    f"(channels, {kernel}), "
                    f"e.g. Conv({stride}, (1, {kernel}), n) for one input channel")
    return message
