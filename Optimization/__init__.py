"""Optimizers, regularizers (Constraints) and the loss."""
from . import Constraints, Loss, Optimizers

__all__ = ["Optimizers", "Constraints", "Loss"]
