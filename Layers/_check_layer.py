"""``Helpers.check_layer``: the checks the framework's own layers pass, run on any layer.

    report = Helpers.check_layer(MyLayer(4, 3), (5, 4))   # input (batch, input_size)
    print(report)          # a table; a notebook renders the returned report by itself
    report.assert_ok()     # in a test: raises LayerCheckFailed naming what is wrong

The layer needs only the contract of ``Layers/Base.py``: ``forward``, ``backward``,
``testing_phase`` and, if it has parameters, ``weights`` (``bias``, or whatever its
``parameters()`` names) with ``gradient_weights`` (``gradient_bias``, ...), an
``optimizer`` attribute and ``trainable = True``. Every check runs on a deep copy:
the layer passed in keeps its parameters, statistics and optimizer, and NumPy's
global random state is put back afterwards. check_layer prints nothing.

The loss is a fixed random linear functional ``L = sum(output * R)``: backward
receives ``R`` as dL/d(output), so every output element contributes and any
output shape works.

The report's header names the layer with its constructor's arguments, read back from
the layer's attributes of the same names (as ``get_config`` does for a checkpoint):
``MyFC(input_size=4, output_size=3)``; an argument at its default is left out, and one
the layer does not keep under its own name shows as ``n_in=?``.

The report's rows, in order:
    contract  forward's output shape, backward's result shape, arguments left alone
    gradient  dL/d(input) and dL/d(each parameter) against central differences
    update    with an optimizer set, the error is computed before the step
    phase     training is repeatable (and reproducible under np.random.seed);
              testing is deterministic and updates no statistics
    batch     a batch gives the results of its samples run one by one
    sequence  (sequence=True) the output up to step t ignores later steps

Gradients compare ``_gradients.relative_difference`` (``|analytic - numeric| /
max(|analytic|, |numeric|, 1e-4)``) with ``tolerance``: a relative error, except
for entries below 1e-4, where the central difference's own round-off (about 1e-11
for a loss of order 1) would make a relative error meaningless; there it is an
absolute error of 1e-4 * 1e-5.
"""
import copy
import inspect
import random

import numpy as np

from ._check_report import Check, LayerCheckFailed, Report  # noqa: F401 - re-exported
from ._gradients import backprop, forward_loss, numerical_gradient, relative_difference
from ._recurrent import RecurrentLayer

LEARNING_RATE = 0.1     # of the plain step used by the update-order check


def check_layer(layer, input_shape, *, output_shape=None, sequence=None,
                batch_dependent=False, tokens=None, tolerance=1e-5, seed=0):
    """Run every check the framework's own layers pass on ``layer``; return a ``Report``.

    Args:
        layer: any object with ``forward`` and ``backward`` following ``Layers/Base.py``.
        input_shape: the shape of the random test input, e.g. ``(5, 4)`` for
            ``(batch, features)``; keep it small, every entry costs two forwards.
        output_shape: if given, the shape forward must return.
        sequence: the axis before the features is time. A 2-D input ``(time,
            features)`` is then ONE sequence (the classic recurrent layout): it is
            not split into samples; instead the output up to each step must not
            change when later steps are added. A 3-D ``(batch, time, features)``
            input gets both the batch and the sequence check. ``None`` (default):
            True for the framework's recurrent layers (RNN, LSTM, GRU), else False.
        batch_dependent: the training-phase output legitimately depends on the
            other samples of the batch (BatchNormalization): skip the one-by-one
            comparison while training (it still runs in the testing phase).
        tokens: the layer reads integer tokens in ``[0, tokens)`` (an Embedding): the
            input is drawn from them, has no gradient, and backward may return None
            (a first layer). ``None`` (default): the layer's ``vocabulary_size`` if it
            has one, else a float input.
        tolerance: largest accepted gradient error (see the module docstring).
        seed: seeds the test input, ``R`` and ``np.random`` before every forward.
    """
    if not all(callable(getattr(layer, m, None)) for m in ("forward", "backward")):
        raise TypeError(f"check_layer: expected a layer with forward and backward, "
                        f"got {type(layer).__name__}")
    shape = _shape("input_shape", input_shape)
    if sequence is None:
        sequence = isinstance(layer, RecurrentLayer)
    if tokens is None:
        tokens = getattr(layer, "vocabulary_size", None)
    if output_shape is not None:
        output_shape = _shape("output_shape", output_shape)
    if sequence and len(shape) not in (2, 3):
        raise ValueError(f"check_layer: expected input_shape (time, features) or (batch, time, "
                         f"features) with sequence=True, got {shape}")
    saved = np.random.get_state(), random.getstate()
    try:
        checker = _Checker(layer, shape, output_shape, sequence, batch_dependent, tokens,
                           tolerance, seed)
        return Report(f"{_describe(layer)}, input {shape}", checker.run())
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])


def _describe(layer):
    """``MyFC(input_size=4, output_size=3)``: the class and its constructor's arguments
    (see the module docstring)."""
    cls = type(layer)
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]   # no self
    except (TypeError, ValueError):            # a constructor Python cannot describe
        parameters = []
    args = []
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        try:
            value = getattr(layer, p.name)
        except Exception:          # noqa: BLE001 - not kept, or a property that raises
            if p.default is p.empty:
                args.append(f"{p.name}=?")
            continue
        if p.default is p.empty or not _equal(value, p.default):
            args.append(f"{p.name}={_short(value)}")
    return f"{cls.__name__}({', '.join(args)})"


def _equal(value, default):
    try:
        return bool(value == default)
    except Exception:              # noqa: BLE001 - an array's ==, or a student's __eq__
        return False


def _short(value):
    """A short text for an argument's value: ``float32`` for a dtype, ``array(4, 3)``."""
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _shape(name, value):
    """``value`` as a tuple of positive ints, else a ValueError naming ``name``."""
    try:
        shape = tuple(int(n) for n in value)
        valid = len(shape) > 0 and all(n >= 1 and n == m for n, m in zip(shape, value))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"check_layer: expected {name} as a tuple of positive integers, "
                         f"got {value!r}")
    return shape


def _bias_hint(weights, features):
    """Where the extra column of dL/d(input) comes from, by the layout of ``weights``."""
    shape = np.shape(weights) if isinstance(weights, np.ndarray) else ()
    if len(shape) == 2 and shape[0] == features + 1:
        return ("(the bias's): drop the bias row of the weights (weights[:-1]) when computing "
                "the error for the previous layer.")
    if len(shape) == 2 and shape[1] == features + 1:
        return ("(the bias's): drop the bias column of the weights (weights[:, :-1]) when "
                "computing the error for the previous layer.")
    return ("(the bias's?): the constant 1 appended to the input has no previous layer, so "
            "leave its column out of the error for the previous layer.")


class _LinearLoss:
    """``L = sum(output * R)`` with ``R`` passed as the label: ``dL/d(output) = R``."""

    def forward(self, prediction, r):
        return float(np.sum(prediction * r))

    def backward(self, r):
        return r.copy()        # a layer that scribbles on its error must not change R


class _PlainStep:
    """The optimizer of the update-order check: ``w <- w - learning_rate * g``."""

    learning_rate = LEARNING_RATE

    def calculate_update(self, weights, gradient):
        return np.asarray(weights) - self.learning_rate * np.asarray(gradient)


def _same(a, b):
    """Equal up to round-off: a batch and one sample may take different BLAS kernels.

    The tolerance is the square root of the machine epsilon of the arrays' dtype
    (1.5e-8 in float64, 3.5e-4 in float32): far above round-off, far below a bug.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    dtype = np.result_type(a, b)
    rtol = np.sqrt(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)
    return np.allclose(a, b, rtol=rtol, atol=0.01 * rtol)


def _worst(analytic, numeric):
    """Detail text for the worst entry, and its error."""
    errors = relative_difference(analytic, numeric)
    index = np.unravel_index(np.argmax(errors), errors.shape)
    text = (f"worst at {list(map(int, index))}: analytic {analytic[index]:.6g}, "
            f"numeric {numeric[index]:.6g}, error {errors[index]:.1e}")
    return text, errors[index]


def _parameter_names(layer):
    """Names of the parameter arrays: ``parameters()`` if the layer has it, else weights/bias."""
    parameters = getattr(layer, "parameters", None)
    if callable(parameters):
        return list(parameters())
    return [n for n in ("weights", "bias") if isinstance(getattr(layer, n, None), np.ndarray)]


class _Checker:
    """Runs the checks on deep copies of one layer and collects the rows."""

    def __init__(self, layer, shape, output_shape, sequence, batch_dependent, tokens, tolerance,
                 seed):
        self.layer, self.output_shape = layer, output_shape
        self.sequence, self.batch_dependent = sequence, batch_dependent
        self.tokens, self.tolerance, self.seed = tokens, tolerance, seed
        self.rng = np.random.default_rng(seed)
        draw = self.rng.standard_normal if tokens is None else \
            (lambda size: self.rng.integers(0, tokens, size))
        self.x = draw(shape)
        self.other_x = draw(shape)                          # for the checks of state
        self.r = None                                       # dL/d(output), set by contract()
        self.names = _parameter_names(layer)
        self.random = False          # whether the training-phase output depends on np.random
        self.bptt_early = False      # set when the input gradient shows BPTT stopping early
        self.misshapen = False       # set when a parameter gradient has the wrong shape
        # A (time, features) sequence has no batch axis to sum or split over.
        self.has_batch = not (sequence and len(shape) == 2)

    def run(self):
        contract, usable = self.contract()
        if not usable:
            return contract + [Check("other checks", "skip", "forward/backward do not keep "
                                     "the contract (see above)")]
        phase = self._guard("phase", self.phases)
        repeatable = all(c.status == "pass" for c in phase if c.name.startswith("phase: train"))
        gradient = self._guard("gradient", lambda: self.gradients(repeatable))
        update = self._guard("update", self.update)
        batch = self._guard("batch", lambda: self.batches(phase))
        return contract + gradient + update + phase + batch


    def _guard(self, group, checks):
        """Run one group of checks; an exception from the layer becomes one failed row."""
        try:
            return checks()
        except Exception as err:   # a student's layer: report, do not crash
            return [Check(f"{group}: raised", "FAIL", f"{type(err).__name__}: {err}",
                          f"forward or backward raised {type(err).__name__} in the {group} "
                          f"checks, although the contract checks passed.")]

    # -- helpers --------------------------------------------------------------

    def copy(self, testing=False):
        """A deep copy of the layer in the training (or testing) phase, without optimizer."""
        layer = copy.deepcopy(self.layer)
        if hasattr(layer, "testing_phase"):
            layer.testing_phase = testing
        if getattr(layer, "optimizer", None) is not None:
            layer.optimizer = None
        return layer

    def forward(self, layer, x, seed=None):
        """``layer.forward`` on a copy of ``x`` after seeding ``np.random`` and ``random``."""
        seed = self.seed if seed is None else seed
        np.random.seed(seed)
        random.seed(seed)
        return np.array(layer.forward(x.copy()))   # a copy: the layer may reuse its buffer

    def loss(self, layers, x):
        return forward_loss(layers, x.copy(), self.r, self.seed)

    # -- contract ------------------------------------------------------------

    def contract(self):
        """Rows of the contract checks, and whether the other checks can run."""
        layer, x = self.copy(), self.x.copy()
        try:
            out = layer.forward(x)
        except Exception as err:   # a student's layer: report, do not crash
            return [Check("contract: forward", "FAIL", f"input {x.shape}",
                          f"forward raised {type(err).__name__}: {err}")], False
        if not isinstance(out, np.ndarray):
            return [Check("contract: forward", "FAIL", f"got {type(out).__name__}",
                          "forward must return a NumPy array.")], False
        rows = [self._output_row(x, out)]
        self.r = self.rng.standard_normal(out.shape)
        changed_by_forward = not np.array_equal(x, self.x)
        error = self.r.copy()
        try:
            dx = layer.backward(error)
        except Exception as err:
            return rows + [Check("contract: backward", "FAIL", f"error {out.shape}",
                                 f"backward raised {type(err).__name__}: {err}")], False
        rows.append(self._backward_row(layer, x, out, dx))
        rows.append(self._arguments_row(changed_by_forward, not np.array_equal(x, self.x),
                                        not np.array_equal(error, self.r)))
        if self.names:
            detail = ", ".join(f"{n} {np.shape(getattr(layer, n))}" for n in self.names)
            trainable = getattr(layer, "trainable", False)
            rows.append(Check("contract: parameters", "pass" if trainable else "FAIL", detail,
                              "" if trainable else "the layer has parameters but trainable is "
                              "False, so a NeuralNetwork never gives it an optimizer."))
        usable = rows[0].status == "pass" and rows[1].status == "pass"
        return rows, usable

    def _output_row(self, x, out):
        name, detail = "contract: output shape", f"{x.shape} -> {out.shape}, {out.dtype}"
        if self.output_shape is not None and out.shape != self.output_shape:
            return Check(name, "FAIL", detail, f"forward should return {self.output_shape}.")
        if out.ndim == 0 or out.shape[0] != x.shape[0]:
            return Check(name, "FAIL", detail, "forward must keep the first axis (the batch, or "
                         "the time of one sequence) in front and unchanged.")
        return Check(name, "pass", detail)

    def _backward_row(self, layer, x, out, dx):
        name = "contract: backward shape"
        if self.tokens is not None and dx is None:
            return Check(name, "pass", "returns None: integer tokens have no gradient")
        if not isinstance(dx, np.ndarray):
            return Check(name, "FAIL", f"got {type(dx).__name__}",
                         "backward must return dL/d(input), an array shaped like the input.")
        detail = f"returns {dx.shape}, input {x.shape}"
        if dx.shape == x.shape:
            return Check(name, "pass", detail)
        # [x, 1] @ weights: error @ weights.T has a column for the constant 1 too.
        bias_column = dx.ndim == x.ndim and dx.shape[:-1] == x.shape[:-1] \
            and dx.shape[-1] == x.shape[-1] + 1
        if dx.shape == out.shape and not (bias_column and not np.array_equal(dx, self.r)):
            return Check(name, "FAIL", detail, "backward returns dL/d(output) instead of "
                         "dL/d(input)?")
        if bias_column:
            return Check(name, "FAIL", detail, f"backward returned shape {dx.shape} for an "
                         f"input of shape {x.shape}: one column too many "
                         + _bias_hint(getattr(layer, "weights", None), x.shape[-1]))
        return Check(name, "FAIL", detail, "backward must return dL/d(input), an array shaped "
                     "like forward's input.")

    def _arguments_row(self, by_forward, by_backward, error_changed):
        name = "contract: arguments left alone"
        if by_forward:
            return Check(name, "FAIL", "the input changed during forward", "forward modifies "
                         "its input in place (x[x < 0] = 0, x *= ...): compute on a new array.")
        if by_backward:
            return Check(name, "FAIL", "the input changed during backward", "backward modifies "
                         "the input kept from forward in place: keep a copy or compute anew.")
        if error_changed:
            return Check(name, "FAIL", "the error changed during backward", "backward modifies "
                         "its error argument in place (e *= mask): compute on a new array.")
        return Check(name, "pass", "input and error unchanged")

    # -- gradients -----------------------------------------------------------

    def gradients(self, repeatable):
        """dL/d(input) and each dL/d(parameter) against central differences, in float64."""
        names = ["input"] + self.names

        rows = [f"gradient: {n}" for n in names]
        dtype = self.forward(self.copy(), self.x).dtype
        if dtype != np.float64:
            why = (f"the layer computes in {dtype}; central differences need float64 "
                   f"(build it with dtype=np.float64)")
            return [Check(r, "skip", why) for r in rows]
        if not repeatable:
            return [Check(r, "skip", "forward does not repeat itself (see phase), so central "
                          "differences mean nothing") for r in rows]
        checks = [Check("gradient: input", "skip", "integer tokens have no gradient")
                  if self.tokens is not None else self._input_gradient()]
        return checks + [self._parameter_gradient(n) for n in self.names]

    def _input_gradient(self):
        layer = self.copy()
        layers = [layer, _LinearLoss()]
        self.loss(layers, self.x)
        analytic = np.asarray(backprop(layers, self.r), dtype=np.float64)
        x = self.x.copy()
        numeric = numerical_gradient(x, lambda: self.loss(layers, x))
        detail, error = _worst(analytic, numeric)
        if error <= self.tolerance:
            return Check("gradient: input", "pass", detail)
        return Check("gradient: input", "FAIL", detail, self._input_hint(analytic, numeric))

    def _input_hint(self, analytic, numeric):
        """One sentence on the likely mistake behind a wrong dL/d(input)."""
        if analytic.shape == self.r.shape and np.allclose(analytic, self.r):
            return "backward returns dL/d(output) instead of dL/d(input)?"
        common = self._common_hint("dL/d(input)", analytic, numeric)
        if common:
            return common
        if self.sequence:
            axis = analytic.ndim - 2                                  # time
            others = tuple(a for a in range(analytic.ndim) if a != axis)
            per_step = relative_difference(analytic, numeric).max(axis=others)
            if per_step[-1] <= self.tolerance:
                self.bptt_early = True
                return ("dL/d(input) is right at the last step but wrong at earlier ones: "
                        "backpropagation through time stops early (dL/dh_t must also come "
                        "back from step t + 1)?")
        if analytic.shape == self.r.shape:
            diagonal = self._jacobian_diagonal()
            if np.all(relative_difference(analytic, self.r * diagonal) <= self.tolerance):
                return ("backward applies only the diagonal of the Jacobian (dy_k/dx_k), but "
                        "each output also depends on the other inputs: apply the full "
                        "Jacobian, summing over every output of the sample.")
        return ("dL/d(input) disagrees with central differences: re-derive backward "
                "operation by operation from forward's equations.")

    def _jacobian_diagonal(self):
        """``dy_k / dx_k`` for every entry, by central differences (input and output alike)."""
        layer, x = self.copy(), self.x.copy()
        jacobian = numerical_gradient(x, lambda: self.forward(layer, x))
        return jacobian.reshape(x.size, x.size).diagonal().reshape(x.shape)

    def _common_hint(self, what, analytic, numeric):
        """Zero, a flipped sign or a constant factor, the slips any gradient can have."""
        if not np.any(analytic) and np.any(numeric):
            return f"{what} is all zeros: the error does not reach it."
        if np.all(relative_difference(analytic, -numeric) <= self.tolerance):
            return f"{what} has the wrong sign."
        factor = np.sum(analytic * numeric) / max(np.sum(numeric * numeric), 1e-300)
        if np.all(relative_difference(analytic, factor * numeric) <= self.tolerance):
            if self.has_batch and abs(factor * self.x.shape[0] - 1) < 1e-6:
                return f"{what} is the mean over the batch, not the sum (the loss sums)."
            return f"{what} is {factor:.4g} times the true one: a constant factor is off."
        return ""

    def _parameter_gradient(self, name):
        row = f"gradient: {name}"
        layer = self.copy()
        parameter = np.array(getattr(layer, name), dtype=np.float64)
        setattr(layer, name, parameter)
        layers = [layer, _LinearLoss()]
        self.loss(layers, self.x)
        backprop(layers, self.r)
        gradient = getattr(layer, "gradient_" + name, None)
        if gradient is None:
            return Check(row, "FAIL", f"gradient_{name} is None",
                         f"backward must set gradient_{name}.")

        def loss():
            setattr(layer, name, parameter)   # through the attribute, so properties work too
            return self.loss(layers, self.x)
        numeric = numerical_gradient(parameter, loss)
        gradient = np.asarray(gradient, dtype=np.float64)
        if gradient.shape != parameter.shape:
            self.misshapen = True
            return Check(row, "FAIL", f"gradient_{name} has shape {gradient.shape}, {name} "
                         f"{parameter.shape}", self._shape_hint(name, gradient, numeric))
        detail, error = _worst(gradient, numeric)
        if error <= self.tolerance:
            return Check(row, "pass", detail)
        return Check(row, "FAIL", detail, self._parameter_hint(name, gradient, numeric))

    def _shape_hint(self, name, gradient, numeric):
        if gradient.ndim == 2 and gradient.T.shape == numeric.shape:
            return (f"gradient_{name} is transposed: x.T @ error gives (input, output), "
                    f"error.T @ x its transpose.")
        if self.has_batch and gradient.shape == self.x.shape[:1] + numeric.shape:
            return f"the {name} gradient is missing the sum over the batch."
        return f"gradient_{name} must have the shape of {name}."

    def _parameter_hint(self, name, gradient, numeric):
        if gradient.ndim == 2 and gradient.shape[0] == gradient.shape[1] \
                and np.all(relative_difference(gradient.T, numeric) <= self.tolerance):
            return (f"gradient_{name} is the transpose of the true gradient: x.T @ error, "
                    f"not error.T @ x?")
        common = self._common_hint(f"gradient_{name}", gradient, numeric)
        if common:
            return common
        if self.bptt_early:
            return (f"gradient_{name} misses what flows back through earlier time steps: "
                    f"backpropagation through time stops early?")
        return (f"gradient_{name} disagrees with central differences: re-derive dL/d{name} "
                f"from forward's input and the incoming error.")

    # -- update order --------------------------------------------------------

    def update(self):
        """With an optimizer set: the same dL/d(input), then ``w - lr * gradient_w``."""
        if not self.names:
            return []
        rows = ("update: error before the step", "update: parameters stepped")
        if self.misshapen:
            return [Check(r, "skip", "a parameter gradient has the wrong shape (see gradient)")
                    for r in rows]
        if not hasattr(self.layer, "optimizer"):
            return [Check(r, "skip", "the layer has no optimizer attribute") for r in rows]
        plain, stepped = self.copy(), self.copy()
        stepped.optimizer = _PlainStep()
        before = {n: np.array(getattr(stepped, n)) for n in self.names}
        self.forward(plain, self.x)
        self.forward(stepped, self.x)
        dx = plain.backward(self.r.copy())
        dx_stepped = stepped.backward(self.r.copy())
        if self.tokens is not None:
            order = Check(rows[0], "skip", "integer tokens have no dL/d(input)")
        elif _same(dx_stepped, dx):
            order = Check(rows[0], "pass", "dL/d(input) is the same with and without optimizer")
        else:
            order = Check(rows[0], "FAIL", "dL/d(input) changes when an optimizer is set",
                          "backward computes dL/d(input) with the updated weights: compute the "
                          "error for the previous layer first, then call the optimizer.")
        return [order, self._stepped(rows[1], plain, stepped, before)]

    def _stepped(self, row, plain, stepped, before):
        for n in self.names:
            after = getattr(stepped, n)
            if _same(after, before[n]):
                return Check(row, "FAIL", f"{n} unchanged", f"backward does not update {n} "
                             f"although an optimizer is set: end with {n} = "
                             f"optimizer.calculate_update({n}, gradient_{n}).")
            expected = before[n] - LEARNING_RATE * np.asarray(getattr(plain, "gradient_" + n))
            if not _same(after, expected):
                return Check(row, "FAIL", f"{n} is not w - lr * gradient_{n}",
                             f"the update of {n} does not use gradient_{n}: call "
                             f"optimizer.calculate_update({n}, gradient_{n}) once.")
        return Check(row, "pass", "each parameter moved by -lr * its gradient: "
                     + ", ".join(self.names))

    # -- phases --------------------------------------------------------------

    def _repeatable(self, testing):
        """forward(x), forward(other x), forward(x) under one seed: the same output twice?"""
        layer = self.copy(testing)
        first = self.forward(layer, self.x)
        self.forward(layer, self.other_x)
        return _same(first, self.forward(layer, self.x))

    def _seed_independent(self, testing):
        """Fresh copies under two different seeds: the same output?"""
        a = self.forward(self.copy(testing), self.x, self.seed)
        return _same(a, self.forward(self.copy(testing), self.x, self.seed + 1))

    def phases(self):
        """Training: reproducible under one seed, no state carried; testing: the same."""
        rows = []
        reproducible = _same(self.forward(self.copy(), self.x), self.forward(self.copy(), self.x))
        self.random = not self._seed_independent(False)
        if not reproducible:
            rows.append(Check("phase: training random", "FAIL", "two runs under one seed differ",
                              "forward draws random numbers that np.random.seed does not "
                              "reproduce: draw them from np.random, the global generator."))
        else:
            rows.append(Check("phase: training random", "pass",
                              "random: output depends on np.random, so every check runs under "
                              "a fixed seed" if self.random else "deterministic"))
        if not reproducible:
            rows.append(Check("phase: training repeatable", "skip", "not reproducible (above)"))
        elif self._repeatable(False):
            rows.append(Check("phase: training repeatable", "pass", "forward(x) after another "
                              "input gives the same output"))
        else:
            rows.append(Check("phase: training repeatable", "FAIL", "forward(x) changed after "
                              "another input", "the layer carries state from one forward to the "
                              "next (memorize, or an attribute that accumulates?)."))
        if not hasattr(self.layer, "testing_phase"):
            return rows + [Check("phase: testing", "FAIL", "no testing_phase attribute",
                                 "every layer has testing_phase: derive it from BaseLayer.")]
        if self._seed_independent(True):
            rows.append(Check("phase: testing deterministic", "pass", "the same under any seed"))
        else:
            rows.append(Check("phase: testing deterministic", "FAIL", "output depends on the "
                              "seed", "randomness (a dropout mask?) is applied although "
                              "testing_phase is True."))
        if self._repeatable(True):
            rows.append(Check("phase: testing keeps its state", "pass", "forward(x) after "
                              "another input gives the same output"))
        else:
            rows.append(Check("phase: testing keeps its state", "FAIL", "forward(x) changed "
                              "after another input", "a testing-phase forward changes the layer: "
                              "update statistics (running mean/variance) only while training."))
        return rows

    # -- batches and sequences -----------------------------------------------

    def batches(self, phase):
        """One-by-one rows for both phases, and the sequence row if ``sequence``."""
        if not self.has_batch:
            return [Check("batch: one by one", "skip", "(time, features) is one sequence: "
                          "its first axis is time, not a batch"), self._causal()]
        testing_ok = all(c.status == "pass" for c in phase if c.name.startswith("phase: test"))
        rows = []
        for testing in (False, True):
            name = f"batch: one by one ({'testing' if testing else 'training'})"
            if self.x.shape[0] == 1:
                rows.append(Check(name, "skip", "a batch of one sample"))
            elif not testing and self.batch_dependent:
                rows.append(Check(name, "skip", "batch_dependent=True: training mixes samples"))
            elif not testing and self.random:
                rows.append(Check(name, "skip", "random while training: compared in testing"))
            elif testing and not testing_ok:
                rows.append(Check(name, "skip", "the testing phase failed its checks"))
            else:
                rows.append(self._one_by_one(name, testing))
        return rows + ([self._causal()] if self.sequence else [])

    def _one_by_one(self, name, testing):
        layer = self.copy(testing)
        y = self.forward(layer, self.x)
        dx = layer.backward(self.r.copy())
        for i in range(self.x.shape[0]):
            single = self.copy(testing)
            if not _same(self.forward(single, self.x[i:i + 1]), y[i:i + 1]):
                should = "" if testing else \
                    " (If it should, like BatchNormalization, pass batch_dependent=True.)"
                return Check(name, "FAIL", f"sample {i} alone gives another output",
                             "a sample's output depends on the other samples: a sum, mean or "
                             "max over the batch axis in forward?" + should + self._time_hint())
            dx_single = single.backward(self.r[i:i + 1].copy())
            if self.tokens is None and not _same(dx_single, dx[i:i + 1]):
                return Check(name, "FAIL", f"sample {i} alone gets another dL/d(input)",
                             "a sample's dL/d(input) depends on the other samples: a sum or "
                             "mean over the batch axis in backward?" + self._time_hint())
        what = "outputs" if self.tokens is not None else "outputs and dL/d(input)"
        return Check(name, "pass", f"{self.x.shape[0]} samples: {what} equal")

    def _time_hint(self):
        """For a 2-D input: the first axis may be time, as in the classic recurrent layout."""
        if self.x.ndim != 2:
            return ""
        return (" (If the first axis is time, one sequence as in the classic recurrent layout, "
                "pass sequence=True.)")

    def _causal(self):
        """The output up to step t does not change when later steps are appended."""
        layer = self.copy()
        y = self.forward(layer, self.x)
        steps = self.x.shape[-2]
        for t in range(1, steps):
            prefix = self.x[..., :t, :]
            if not _same(self.forward(self.copy(), prefix), y[..., :t, :]):
                return Check("sequence: causal", "FAIL", f"the first {t} steps alone give "
                             f"another output", "the output at a step depends on later inputs: "
                             "a recurrent layer runs forward in time (is the time axis the one "
                             "before the features?).")
        return Check("sequence: causal", "pass", f"the output of the first t steps does not "
                     f"change when later steps follow (t = 1..{steps - 1})")
