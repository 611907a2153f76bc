"""Ready-made networks built from the framework's layers."""
from . import LeNet, RowMNIST, CharModel

__all__ = ["LeNet", "RowMNIST", "CharModel"]
