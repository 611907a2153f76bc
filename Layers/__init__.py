"""The layers, one class per module: ``from Layers import *`` binds every module."""
from . import Base, Initializers
from . import (FullyConnected, ReLU, TanH, Sigmoid, SoftMax, Flatten, Conv, Pooling,
               Dropout, BatchNormalization, RNN, LSTM, GRU, Embedding, LastStep)
from . import Helpers

__all__ = ["Base", "Initializers", "FullyConnected", "ReLU", "TanH", "Sigmoid", "SoftMax",
           "Flatten", "Conv", "Pooling", "Dropout", "BatchNormalization", "RNN", "LSTM",
           "GRU", "Embedding", "LastStep", "Helpers"]
from . import Attention                                             # noqa: E402
__all__.append("Attention")

# Every layer class is saveable in checkpoints (module Layers.X defines class X).
import checkpoint as _checkpoint                                    # noqa: E402
for _name in __all__:
    _cls = getattr(globals()[_name], _name, None)
    if isinstance(_cls, type) and issubclass(_cls, Base.BaseLayer):
        _checkpoint.register(_cls, kind="layer")
del _name, _cls
