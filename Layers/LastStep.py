"""The last time step of a sequence: where a many-to-one model reads its answer."""
import numpy as np

from ._layer import Layer


class LastStep(Layer):
    """``y = x[:, -1]``: ``(batch, time, features) -> (batch, features)``.

    Put it after a recurrent layer built with ``output_size=None`` to classify a
    whole sequence by its last hidden state h_T (the state that has read every
    step). Backward puts the error at the last step and zeros at the others:
    earlier steps still get their gradient through the recurrence (BPTT).
    """

    _cache_fields = ("_shape",)

    def __init__(self):
        super().__init__()
        self._shape = None

    def forward(self, input_tensor):
        """``(batch, time, features) -> (batch, features)``."""
        x = self._input(input_tensor, (3,), "(batch, time, features)")
        if x.shape[1] == 0:
            raise ValueError(f"LastStep.forward: expected at least one time step, got {x.shape}")
        self._shape = x.shape
        return x[:, -1].copy()

    def backward(self, error_tensor):
        """``(batch, features) -> (batch, time, features)``, zeros except at the last step."""
        shape = self._shape
        e = self._error(error_tensor, None if shape is None else (shape[0], shape[2]))
        dx = np.zeros(shape, dtype=np.result_type(e.dtype, np.float16))
        dx[:, -1] = e
        return dx
