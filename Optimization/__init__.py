"""Optimizers, regularizers (Constraints), the loss and learning-rate schedules."""
from . import Constraints, Loss, Optimizers, Schedules

__all__ = ["Optimizers", "Constraints", "Loss", "Schedules"]
