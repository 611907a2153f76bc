"""The layers, one class per module: ``from Layers import *`` binds every module."""
from . import Base, Initializers
from . import (FullyConnected, ReLU, TanH, Sigmoid, SoftMax, Flatten, Conv, Pooling,
               Dropout, BatchNormalization, RNN, LSTM, GRU, Embedding, LastStep, Bidirectional,
               Attention)
from . import Helpers

__all__ = ["Base", "Initializers", "FullyConnected", "ReLU", "TanH", "Sigmoid", "SoftMax",
           "Flatten", "Conv", "Pooling", "Dropout", "BatchNormalization", "RNN", "LSTM",
           "GRU", "Embedding", "LastStep", "Bidirectional", "Attention", "Helpers"]

