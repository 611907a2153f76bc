"""Fully connected layer. What a student implements: ``forward`` ``(batch, input_size) ->
(batch, output_size)``, ``backward`` the reverse, and ``weights`` ``(input_size + 1,
output_size)`` with the bias as the last row, updated in ``backward``."""
import numpy as np

import _checks
from ._layer import TrainableLayer, stack_bias


class FullyConnected(TrainableLayer):
    """``y = [x, 1] @ weights``: an affine map with the bias as the last weight row.

    A 2-D input ``(batch, input_size)`` is the classic case. A 3-D input
    ``(batch, time, input_size)`` is a sequence: the same map is applied at every
    step, on the last axis (as ``torch.nn.Linear`` does), giving
    ``(batch, time, output_size)``; backward sums the weight gradient over batch
    and time.

    Args:
        input_size: features per input row.
        output_size: features per output row.
        dtype: float dtype of parameters and computation (default float64);
            afterwards the dtype of ``weights`` (see ``_layer``).

    Parameters:
        weights: ``(input_size + 1, output_size)``, the LAST ROW is the bias.
        gradient_weights: same shape, dL/d(weights) of the last ``backward``.
    """

    _cache_fields = ("_x",)

    skips_input_gradient = True

    def __init__(self, input_size, output_size, dtype=np.float64):
        super().__init__()
        dtype = _checks.float_dtype("FullyConnected", dtype)
        self.input_size = _checks.size("FullyConnected", "input_size", input_size)
        self.output_size = _checks.size("FullyConnected", "output_size", output_size)
        # Non-zero random weights and a positive bias, so that a zero input
        # already gives a positive output before initialize is called.
        self.weights = np.random.uniform(0.0, 1.0, (self.input_size + 1, self.output_size)) \
            .astype(dtype, copy=False)
        self.gradient_weights = None
        self._x = None

    def __repr__(self):
        return f"FullyConnected({self.input_size}, {self.output_size})"

    def initialize(self, weights_initializer, bias_initializer):
        """Draw weights ``(input_size, output_size)`` and bias ``(1, output_size)``."""
        n_in, n_out = self.input_size, self.output_size
        w = self._initialized(weights_initializer, (n_in, n_out), n_in, n_out, "weights")
        b = self._initialized(bias_initializer, (1, n_out), 1, n_out, "bias")
        self.weights = stack_bias(w, b)

    def _parameter_shapes(self):
        return {"weights": (self.input_size + 1, self.output_size)}

    def forward(self, input_tensor):
        """``(batch, input_size) -> (batch, output_size)``, or per step
        ``(batch, time, input_size) -> (batch, time, output_size)``."""
        self._check_parameters()
        n = self.input_size
        expected = f"(batch, {n}) or (batch, time, {n})"
        # 3-D is a sequence; more axes are an image batch that needs flattening.
        image = np.ndim(input_tensor) >= 4
        x = self._input(input_tensor, (2, 3), f"(batch, {n})" if image else expected,
                        self.dtype, hint="; an image batch? put a Flatten layer before this "
                                         "one" if image else "")
        if x.shape[-1] != n:
            raise ValueError(f"FullyConnected.forward: expected input of shape {expected}, "
                             f"got {x.shape}")
        self._x = x
        return x @ self.weights[:-1] + self.weights[-1]

    def backward(self, error_tensor, input_gradient=True):
        """``(batch, [time,] output_size) -> (batch, [time,] input_size)``; updates the
        weights if an optimizer is set.

        With ``input_gradient=False`` the error for the previous layer is not computed
        and None is returned.
        """
        x = self._x
        e = self._error(error_tensor, None if x is None else (*x.shape[:-1], self.output_size),
                        self.dtype)
        rows_x, rows_e = x.reshape(-1, self.input_size), e.reshape(-1, self.output_size)
        gradient = np.empty_like(self.weights)
        np.matmul(rows_x.T, rows_e, out=gradient[:-1])
        np.sum(rows_e, axis=0, out=gradient[-1])
        self.gradient_weights = gradient
        # The error for the previous layer uses the weights of forward, before the update.
        dx = e @ self.weights[:-1].T if input_gradient else None
        self._update()
        return dx
