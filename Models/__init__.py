"""Ready-made networks built from the framework's layers."""
from . import LeNet, RowMNIST, CharModel, Seq2Seq

__all__ = ["LeNet", "RowMNIST", "CharModel", "Seq2Seq"]
