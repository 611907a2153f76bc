"""The layer contract: what a student implements for every layer.

A layer derives from ``BaseLayer`` and implements

``forward(input_tensor) -> output_tensor``
    ``(batch, ...)`` in, a new array out; the input is never modified. Whatever
    ``backward`` needs (the input, an activation) it keeps in an attribute.
``backward(error_tensor) -> error_tensor``
    dL/d(output), shaped like the last output, in; dL/d(input), shaped like the last
    input, out.

Members: ``trainable`` (False here), ``testing_phase`` (False while training; Dropout
and BatchNormalization act differently when True).

A *trainable* layer sets ``trainable = True`` and also has ``weights``,
``gradient_weights`` (dL/d(weights) of the last ``backward``, same shape), an
``optimizer`` property and ``initialize(weights_initializer, bias_initializer)``.
When an optimizer is set, ``backward`` first computes the error for the previous layer
with the weights ``forward`` used, then updates:
``weights = optimizer.calculate_update(weights, gradient_weights)``.

That is all a layer needs to train in ``NeuralNetwork``, pass ``Helpers.check_layer``
and be saved (``checkpoint.register(MyLayer)``). The framework's own layers add input
checks, dtypes and one optimizer state per parameter from ``Layers/_layer.py``.
"""


class BaseLayer:
    """Parent of every layer: the two flags of the contract."""

    def __init__(self):
        self.trainable = False
        self.testing_phase = False
