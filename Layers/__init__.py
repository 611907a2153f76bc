"""The layers, one class per module: ``from Layers import *`` binds every module."""
from . import Base, Initializers
from . import (FullyConnected, ReLU, TanH, Sigmoid, SoftMax, Flatten, Conv, Pooling,
               Dropout, BatchNormalization, RNN, LSTM, GRU, Embedding, LastStep, Bidirectional,
               Attention)
from . import Helpers

__all__ = ["Base", "Initializers", "FullyConnected", "ReLU", "TanH", "Sigmoid", "SoftMax",
           "Flatten", "Conv", "Pooling", "Dropout", "BatchNormalization", "RNN", "LSTM",
           "GRU", "Embedding", "LastStep", "Bidirectional", "Attention", "Helpers"]

# Every layer class is saveable in checkpoints (module Layers.X defines class X).
import checkpoint as _checkpoint                                    # noqa: E402
for _name in __all__:
    _cls = getattr(globals()[_name], _name, None)
    if isinstance(_cls, type) and issubclass(_cls, Base.BaseLayer):
        _checkpoint.register(_cls, kind="layer")
del _name, _cls
