"""Ready-made networks built from the framework's layers."""
from . import LeNet

__all__ = ["LeNet"]
