"""Token embedding: a learned vector per token, looked up by index."""
import numpy as np

import _checks
from ._layer import TrainableLayer


class Embedding(TrainableLayer):
    """``y[b, t] = weights[tokens[b, t]]``: row ``k`` of ``weights`` is token ``k``'s vector.

    The lookup equals a product with one-hot rows, ``y = onehot(tokens) @ weights``,
    without building them; so the gradient of row ``k`` is the sum of the errors
    of every position that holds token ``k``::

        dL/d(weights)[k] = sum over (b, t) with tokens[b, t] == k of dL/dy[b, t]

    Args:
        vocabulary_size: number of distinct tokens; tokens are 0 .. vocabulary_size - 1.
        embedding_size: features of each token's vector.
        dtype: float dtype of parameters and computation (default float64);
            afterwards the dtype of ``weights`` (see ``_layer``).

    Parameters:
        weights: ``(vocabulary_size, embedding_size)``, row ``k`` is token ``k``'s
            vector (the layout of ``torch.nn.Embedding.weight``, and of an ONNX
            ``Gather`` on axis 0). No bias. Drawn from N(0, 1) at construction,
            as PyTorch does.
        gradient_weights: same shape, dL/d(weights) of the last ``backward``.

    Tokens are integers: an integer array, or a float array whose entries are
    whole numbers (what a float data pipeline gives); anything else, and tokens
    outside ``[0, vocabulary_size)``, are refused with a ValueError/TypeError.
    The tokens are an index, not a quantity: there is no dL/d(input), and
    ``backward`` returns None (this is a first layer).
    """

    _cache_fields = ("_tokens",)
    skips_input_gradient = True

    def __init__(self, vocabulary_size, embedding_size, dtype=np.float64):
        super().__init__()
        dtype = _checks.float_dtype("Embedding", dtype)
        self.vocabulary_size = _checks.size("Embedding", "vocabulary_size", vocabulary_size)
        self.embedding_size = _checks.size("Embedding", "embedding_size", embedding_size)
        self.weights = np.random.standard_normal(
            (self.vocabulary_size, self.embedding_size)).astype(dtype, copy=False)
        self.gradient_weights = None
        self._tokens = None

    def __repr__(self):
        return f"Embedding({self.vocabulary_size}, {self.embedding_size})"

    def initialize(self, weights_initializer, bias_initializer=None):
        """Draw ``weights`` ``(vocabulary_size, embedding_size)`` with fan_in 1 and fan_out
        ``embedding_size`` (one token selects one row); there is no bias to draw."""
        self.weights = self._initialized(weights_initializer,
                                         (self.vocabulary_size, self.embedding_size),
                                         1, self.embedding_size, "weights")

    def _parameter_shapes(self):
        return {"weights": (self.vocabulary_size, self.embedding_size)}

    def forward(self, input_tensor):
        """Tokens ``(batch, time)`` -> vectors ``(batch, time, embedding_size)``."""
        self._check_parameters()
        tokens = self._tokens_of(input_tensor)
        self._tokens = tokens
        return self.weights[tokens]

    def backward(self, error_tensor, input_gradient=True):
        """``(batch, time, embedding_size)`` -> None; sets ``gradient_weights`` and updates.

        ``input_gradient`` is accepted for the first-layer protocol (see ``_layer``);
        tokens have no gradient either way.
        """
        tokens = self._tokens
        e = self._error(error_tensor, None if tokens is None else
                        (*tokens.shape, self.embedding_size), self.dtype)
        # dL/dW[v] = sum of the error rows at the positions of token v. A plain fancy-index
        # += would keep one of the repeated rows; np.add.at sums them but is 4x slower than
        # summing each run of a sorted copy in one np.add.reduceat (bench/README.md).
        order = np.argsort(tokens, axis=None, kind="stable")
        sorted_tokens = tokens.reshape(-1)[order]
        starts = np.flatnonzero(np.diff(sorted_tokens, prepend=-1))    # where a token's run starts
        gradient = np.zeros_like(self.weights)
        gradient[sorted_tokens[starts]] = np.add.reduceat(
            e.reshape(-1, self.embedding_size)[order], starts)
        self.gradient_weights = gradient
        self._update()
        return None

    def _tokens_of(self, input_tensor):
        """The tokens as an int64 ``(batch, time)`` array, or a clear error."""
        expected = f"integer tokens of shape (batch, time) in [0, {self.vocabulary_size})"
        try:
            x = np.asarray(input_tensor)
        except (TypeError, ValueError) as err:
            raise TypeError(f"Embedding.forward: expected {expected}, got "
                            f"{type(input_tensor).__name__} ({err})") from None
        if x.dtype.kind not in "iuf":
            raise TypeError(f"Embedding.forward: expected {expected}, got an array of "
                            f"dtype {x.dtype}")
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"Embedding.forward: expected {expected}, got shape {x.shape}")
        if x.dtype.kind == "f":
            wrong = x[~np.isfinite(x) | (x != np.round(x))]
            if wrong.size:
                raise ValueError(f"Embedding.forward: expected {expected}, got non-integer "
                                 f"values such as {wrong.flat[0].item()!r}")
        if x.size and (x.min() < 0 or x.max() >= self.vocabulary_size):
            raise ValueError(f"Embedding.forward: expected {expected}, got tokens from "
                             f"{x.min():g} to {x.max():g}")
        return x.astype(np.int64)
