"""Optimizers, regularizers (Constraints), the loss, learning-rate schedules, the epoch trainer."""
from . import Constraints, Loss, Optimizers, Schedules, Trainer

__all__ = ["Optimizers", "Constraints", "Loss", "Schedules", "Trainer"]
