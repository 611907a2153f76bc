"""The divergence guard of ``NeuralNetwork.step``: a NaN or infinite loss, running
statistic, parameter or optimizer state stops training with ``TrainingDiverged`` and puts
back the state of the last good step.

It copies nothing. Updates assign new arrays (``Layers/_layer.py``'s ``_update``, the
optimizers' out-of-place steps), so references to the arrays of after a finite forward
are a snapshot. A non-finite loss or running statistic puts back the state that gave the
last finite loss; a non-finite parameter or optimizer state after the update puts back
the state of before the update.

A layer written the course-sheet way (no ``learned_state``, no ``parameter_optimizers()``)
is guarded by the rule persistence saves it by (``_state.py``): its public float arrays,
its learned floats and the state of its ``optimizer`` property.
"""
import contextlib
import math

import numpy as np

from _state import is_float, is_float_array, own_optimizer, public_state
from Layers._layer import learned_state, restore_state


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the state of the last good step was put back."""


class Guard:
    """Keeps references to the layers' arrays of the last good step and checks each step."""

    def __init__(self):
        self.last_good = None       # layer and optimizer state that gave the last finite loss
        self.call_steps = 0         # steps of the current train call, for messages

    def __getstate__(self):
        # The references are no part of a copy or a pickle; the next step takes them anew.
        return {"last_good": None, "call_steps": self.call_steps}

    def step(self, layers, forward, backward, overall):
        """``forward()`` and ``backward()`` guarded; return ``forward``'s loss.
        ``overall``: the number of this iteration over all train calls, for messages."""
        self.call_steps += 1
        if self.last_good is None:
            self.last_good = _guard_state(layers)
        where = f"at iteration {self.call_steps} of this call (iteration {overall} overall)"
        loss = forward()
        broken = _non_finite(layers, forward_only=True)   # running statistics only
        if not math.isfinite(loss) or broken:
            _restore(layers, self.last_good)
            what = f"the loss became {loss}" if not math.isfinite(loss) else \
                f"{_became(*broken)} in forward (the loss was {loss})"
            raise TrainingDiverged(
                f"NeuralNetwork.train: {what} {where}; the parameters that gave the last "
                f"finite loss were kept (is the learning rate too large, or the input?)")
        self.last_good = _guard_state(layers)
        try:
            backward()
        except Exception:
            _restore(layers, self.last_good)   # a refusal half-way changes nothing
            raise
        broken = _non_finite(layers)
        if broken:
            _restore(layers, self.last_good)
            gradient = _non_finite_gradient(layers)     # the cause, if it was one
            what = _became(*broken) if gradient is None else \
                f"{_became(*gradient)} in backward, so {_became(*broken)}"
            raise TrainingDiverged(
                f"NeuralNetwork.train: {what} in the update {where}; the parameters and "
                f"optimizer state before it were kept (is the learning rate too large, or the "
                f"batch beyond what {np.asarray(broken[1]).dtype} holds?)")
        return loss


def _guard_state(layers):
    """References to every learned array and each parameter optimizer's state."""
    optimizers = [(optimizer, optimizer.state_dict()) for optimizer in _optimizers(layers)
                  if callable(getattr(optimizer, "state_dict", None))]
    return [dict(_layer_state(layer)) for layer in layers], optimizers


def _layer_state(layer):
    """``learned_state``, or for a layer without the framework's hooks ``public_state``."""
    state = learned_state(layer)
    if not state and not callable(getattr(layer, "parameter_optimizers", None)):
        state = public_state(layer)
    return state


def _restore(layers, state):
    """Put back a ``_guard_state``; refuse to pretend if something was changed in place."""
    layer_state, optimizers = state
    restore_state(layers, layer_state)
    for optimizer, optimizer_state in optimizers:
        # A state changed in place since is refused here, and named just below.
        with contextlib.suppress(ValueError):
            optimizer.load_state_dict(optimizer_state)
    broken = _non_finite(layers)
    if broken:
        raise TrainingDiverged(f"NeuralNetwork.train: {_became(*broken)} and could not be put "
                               f"back: a layer or optimizer wrote into it in place (updates "
                               f"must assign new arrays)")


def non_finite_state(layers):
    """``"<name> of layer <i> (<class>)"`` for the first learned array (``learned_state``)
    or optimizer state array (``"Adam's r of weights of layer 0 (FullyConnected)"``)
    holding NaN or inf, else None."""
    broken = _non_finite(layers)
    return None if broken is None else broken[0]


def _parameter_optimizers(layer):
    optimizers = getattr(layer, "parameter_optimizers", None)
    if callable(optimizers):
        return optimizers() or {}
    own = own_optimizer(layer)          # a course-sheet layer's one optimizer
    return {} if own is None else {"optimizer": own}


def _optimizers(layers):
    for layer in layers:
        yield from _parameter_optimizers(layer).values()


def _non_finite(layers, forward_only=False):
    """``(name, array)`` of the first non-finite float array, else None: the ``_state_fields``
    first (forward changes them), then, unless ``forward_only``, the parameters and the
    state of their optimizers (the update changes them)."""
    def arrays():
        for i, layer in enumerate(layers):
            for name in getattr(layer, "_state_fields", ()):
                yield f"{name} of layer {i} ({type(layer).__name__})", getattr(layer, name)
        if forward_only:
            return
        for i, layer in enumerate(layers):
            here = f"of layer {i} ({type(layer).__name__})"
            for name, value in _layer_state(layer).items():
                yield f"{name} {here}", value
            for name, optimizer in _parameter_optimizers(layer).items():
                if callable(getattr(optimizer, "state_dict", None)):
                    for field, value in optimizer.state_dict().items():
                        yield f"{type(optimizer).__name__}'s {field} of {name} {here}", value
    for name, value in arrays():
        if (is_float_array(value) or is_float(value)) and not np.isfinite(value).all():
            return name, value
    return None


def _non_finite_gradient(layers):
    """``(name, array)`` of the first gradient of a parameter holding NaN or inf, else None."""
    for i, layer in enumerate(layers):
        for name in (layer.parameters() if callable(getattr(layer, "parameters", None))
                     else _layer_state(layer)):
            value = getattr(layer, "gradient_" + name, None)
            if isinstance(value, np.ndarray) and not np.isfinite(value).all():
                return f"gradient_{name} of layer {i} ({type(layer).__name__})", value
    return None


def _became(name, value):
    """``"<name> became NaN"`` or ``"<name> overflowed to inf"``."""
    return f"{name} became NaN" if np.isnan(value).any() else f"{name} overflowed to inf"
