"""Helpers.check_layer: every layer of the framework passes; a gallery of broken layers fails.

The gallery's layers are written the way a student would write them, against the
contract of Layers/Base.py only (weights and bias kept apart, an optimizer
attribute), each with one deliberate mistake. Every mistake must be caught by
the right check with the right one-sentence hint.
"""
import re
from pathlib import Path

import numpy as np
import pytest

from Layers import (GRU, LSTM, RNN, BatchNormalization, Conv, Dropout, Flatten, FullyConnected,
                    Helpers, Initializers, Pooling, ReLU, Sigmoid, SoftMax, TanH)
from Layers.Base import BaseLayer
from Optimization import Optimizers
from tests.test_imports import graph as import_graph


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(15)


# ---------------------------------------------------------------------------
# Correct student layers
# ---------------------------------------------------------------------------

class Dense(BaseLayer):
    """``y = x @ weights + bias``; weights ``(input, output)``, bias ``(output,)``."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.trainable = True
        self.optimizer = None
        self.weights = np.random.uniform(-1, 1, (n_in, n_out))
        self.bias = np.random.uniform(-1, 1, n_out)

    def forward(self, x):
        self.x = x
        return x @ self.weights + self.bias

    def gradients(self, e):
        self.gradient_weights = self.x.T @ e
        self.gradient_bias = e.sum(axis=0)

    def step(self):
        if self.optimizer is not None:
            self.weights = self.optimizer.calculate_update(self.weights, self.gradient_weights)
            self.bias = self.optimizer.calculate_update(self.bias, self.gradient_bias)

    def backward(self, e):
        self.gradients(e)
        dx = e @ self.weights.T      # with the weights of forward, then the update
        self.step()
        return dx


class ElmanRNN(BaseLayer):
    """One sequence ``(time, n_in)``: ``h_t = tanh([x_t, h_{t-1}, 1] @ weights)``, outputs h_t.

    ``bptt_steps`` (the broken variant) stops the error after that many steps back.
    """

    def __init__(self, n_in, hidden, bptt_steps=None):
        super().__init__()
        self.trainable = True
        self.optimizer = None
        self.n_in, self.hidden, self.bptt_steps = n_in, hidden, bptt_steps
        self.weights = np.random.uniform(-0.7, 0.7, (n_in + hidden + 1, hidden))

    def forward(self, x):
        h = np.zeros(self.hidden)
        self.columns, self.h = [], []
        for x_t in x:
            column = np.concatenate([x_t, h, [1.0]])
            h = np.tanh(column @ self.weights)
            self.columns.append(column)
            self.h.append(h)
        return np.array(self.h)

    def backward(self, e):
        self.gradient_weights = np.zeros_like(self.weights)
        dx = np.zeros((len(e), self.n_in))
        carry = np.zeros(self.hidden)                # dL/dh_t through step t + 1
        for t in reversed(range(len(e))):
            da = (e[t] + carry) * (1 - self.h[t] ** 2)
            self.gradient_weights += np.outer(self.columns[t], da)
            d_column = self.weights @ da
            dx[t], carry = d_column[:self.n_in], d_column[self.n_in:-1]
            if self.bptt_steps is not None and len(e) - t >= self.bptt_steps:
                carry = np.zeros(self.hidden)        # the mistake: truncated BPTT
        if self.optimizer is not None:
            self.weights = self.optimizer.calculate_update(self.weights, self.gradient_weights)
        return dx


class CourseFC(BaseLayer):
    """The course sheets' layout: ``weights`` ``(input_size + 1, output_size)``, the bias
    the last row, ``forward(X) = [X, 1] @ weights``."""

    def __init__(self, input_size, output_size):
        super().__init__()
        self.trainable = True
        self.optimizer = None
        self.input_size, self.output_size = input_size, output_size
        self.weights = np.random.uniform(0, 1, (input_size + 1, output_size))

    def forward(self, x):
        self.x1 = np.hstack([x, np.ones((len(x), 1))])
        return self.x1 @ self.weights

    def backward(self, e):
        self.gradient_weights = self.x1.T @ e
        dx = e @ self.weights[:-1].T            # the bias row has no previous layer
        if self.optimizer is not None:
            self.weights = self.optimizer.calculate_update(self.weights, self.gradient_weights)
        return dx


# ---------------------------------------------------------------------------
# The gallery: one mistake each
# ---------------------------------------------------------------------------

class TransposedWeightGradient(Dense):
    def gradients(self, e):
        super().gradients(e)
        self.gradient_weights = e.T @ self.x


class MissingBiasSum(Dense):
    def gradients(self, e):
        super().gradients(e)
        self.gradient_bias = e


class MeanBiasGradient(Dense):
    def gradients(self, e):
        super().gradients(e)
        self.gradient_bias = e.mean(axis=0)


class UpdateBeforeError(Dense):
    def backward(self, e):
        self.gradients(e)
        self.step()
        return e @ self.weights.T


class IgnoresOptimizer(Dense):
    def step(self):
        pass


class WrongOptimizerCall(Dense):
    def step(self):
        if self.optimizer is not None:
            self.weights = self.optimizer.calculate_update(self.gradient_weights)


class ReturnsOutputError(Dense):
    def backward(self, e):
        self.gradients(e)
        return e


class ErrorWithBiasColumn(CourseFC):
    def backward(self, e):
        self.gradient_weights = self.x1.T @ e
        return e @ self.weights.T


class ErrorWithBiasColumnTransposed(ErrorWithBiasColumn):
    """Weights ``(output_size, input_size + 1)``, as some books write them."""

    def __init__(self, input_size, output_size):
        super().__init__(input_size, output_size)
        self.weights = np.ascontiguousarray(self.weights.T)

    def forward(self, x):
        self.x1 = np.hstack([x, np.ones((len(x), 1))])
        return self.x1 @ self.weights.T

    def backward(self, e):
        self.gradient_weights = e.T @ self.x1
        return e @ self.weights


class AppendsOne(BaseLayer):
    """No weights; backward hands back a column for the constant 1 it appended."""

    def forward(self, x):
        self.y = np.tanh(np.hstack([x, np.ones((len(x), 1))]))
        return self.y

    def backward(self, e):
        return e * (1 - self.y ** 2)


class NotMarkedTrainable(Dense):
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out)
        self.trainable = False


class ForgetsToReturn(BaseLayer):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, e):
        e * (1 - self.y ** 2)


class NoBaseLayer:
    def forward(self, x):
        return 3 * x

    def backward(self, e):
        return 3 * e


class InPlaceReLU(BaseLayer):
    def forward(self, x):
        x[x < 0] = 0
        self.positive = x > 0
        return x

    def backward(self, e):
        return e * self.positive


class InPlaceErrorReLU(BaseLayer):
    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)

    def backward(self, e):
        e[~self.positive] = 0
        return e


class IdentityBackwardSigmoid(BaseLayer):
    def forward(self, x):
        return 1 / (1 + np.exp(-x))

    def backward(self, e):
        return e


class DiagonalSoftMax(BaseLayer):
    def forward(self, x):
        z = np.exp(x - x.max(axis=1, keepdims=True))
        self.y = z / z.sum(axis=1, keepdims=True)
        return self.y

    def backward(self, e):
        return e * self.y * (1 - self.y)            # only dy_k/dx_k


class DropoutInTesting(BaseLayer):
    def forward(self, x):
        self.mask = (np.random.random_sample(x.shape) < 0.5) / 0.5
        return x * self.mask

    def backward(self, e):
        return e * self.mask


class UnseededDropout(DropoutInTesting):
    def forward(self, x):
        if self.testing_phase:
            self.mask = np.ones_like(x)
        else:
            self.mask = (np.random.default_rng().random(x.shape) < 0.5) / 0.5
        return x * self.mask


class StatisticsInTesting(BaseLayer):
    """Centres with the batch mean while training and a running mean while testing,
    which it also updates while testing."""

    def __init__(self):
        super().__init__()
        self.running_mean = 0.0

    def forward(self, x):
        self.running_mean = 0.8 * self.running_mean + 0.2 * x.mean(axis=0)
        return x - (self.running_mean if self.testing_phase else x.mean(axis=0))

    def backward(self, e):
        return e if self.testing_phase else e - e.mean(axis=0)



class CentersTheBatch(BaseLayer):
    def forward(self, x):
        return x - x.mean(axis=0)

    def backward(self, e):
        return e - e.mean(axis=0)


class AveragesTheError(BaseLayer):
    def forward(self, x):
        return 2 * x

    def backward(self, e):
        return 2 * e / len(e)


class LooksAhead(BaseLayer):
    """Each step's output sums the inputs from that step to the end: not causal."""

    def forward(self, x):
        return np.cumsum(x[::-1], axis=0)[::-1].copy()

    def backward(self, e):
        return np.cumsum(e, axis=0)


def memorizing_rnn():
    layer = RNN.RNN(3, 4)
    layer.memorize = True
    return layer


# (id, factory, input shape, keywords, {failed check: message pattern})
GALLERY = [
    ("transposed-weight-gradient", lambda: TransposedWeightGradient(4, 3), (5, 4), {},
     {"gradient: weights": r"gradient_weights is transposed"}),
    ("transposed-square-weight-gradient", lambda: TransposedWeightGradient(4, 4), (5, 4), {},
     {"gradient: weights": r"gradient_weights is the transpose of the true gradient"}),
    ("missing-bias-sum", lambda: MissingBiasSum(4, 3), (5, 4), {},
     {"gradient: bias": r"the bias gradient is missing the sum over the batch"}),
    ("mean-bias-gradient", lambda: MeanBiasGradient(4, 3), (5, 4), {},
     {"gradient: bias": r"gradient_bias is the mean over the batch, not the sum"}),
    ("update-before-error", lambda: UpdateBeforeError(4, 3), (5, 4), {},
     {"update: error before the step":
      r"backward computes dL/d\(input\) with the updated weights"}),
    ("ignores-optimizer", lambda: IgnoresOptimizer(4, 3), (5, 4), {},
     {"update: parameters stepped": r"backward does not update weights although an optimizer"}),
    ("wrong-optimizer-call", lambda: WrongOptimizerCall(4, 3), (5, 4), {},
     {"update: raised": r"forward or backward raised TypeError in the update checks"}),
    ("returns-output-error", lambda: ReturnsOutputError(4, 3), (5, 4), {},

     {"contract: backward shape": r"backward returns dL/d\(output\) instead of dL/d\(input\)\?"}),
    ("error-with-the-bias-column", lambda: ErrorWithBiasColumn(4, 3), (5, 4), {},
     {"contract: backward shape": r"backward returned shape \(5, 5\) for an input of shape "
                                  r"\(5, 4\): one column too many \(the bias's\): drop the "
                                  r"bias row of the weights \(weights\[:-1\]\) when computing the "
                                  r"error for the previous layer\."}),
    ("error-with-the-bias-column-square", lambda: ErrorWithBiasColumn(4, 5), (5, 4), {},
     {"contract: backward shape": r"one column too many \(the bias's\): drop the bias row"}),
    ("error-with-the-bias-column-transposed", lambda: ErrorWithBiasColumnTransposed(4, 3),
     (5, 4), {}, {"contract: backward shape": r"drop the bias column of the weights "
                                              r"\(weights\[:, :-1\]\)"}),
    ("error-with-a-column-for-the-one", AppendsOne, (5, 4), {},
     {"contract: backward shape": r"one column too many \(the bias's\?\): the constant 1"}),
    ("not-marked-trainable", lambda: NotMarkedTrainable(4, 3), (5, 4), {},
     {"contract: parameters": r"has parameters but trainable is False"}),
    ("backward-returns-none", ForgetsToReturn, (5, 6), {},
     {"contract: backward shape": r"backward must return dL/d\(input\), an array shaped like"}),
    ("no-testing-phase", NoBaseLayer, (5, 6), {},
     {"phase: testing": r"every layer has testing_phase: derive it from BaseLayer"}),
    ("input-modified-in-place", InPlaceReLU, (5, 6), {},

     {"contract: arguments left alone": r"forward modifies its input in place"}),
    ("error-modified-in-place", InPlaceErrorReLU, (5, 6), {},
     {"contract: arguments left alone": r"backward modifies its error argument in place"}),
    ("identity-backward", IdentityBackwardSigmoid, (5, 6), {},
     {"gradient: input": r"backward returns dL/d\(output\) instead of dL/d\(input\)\?"}),
    ("softmax-diagonal-jacobian", DiagonalSoftMax, (4, 5), {},
     {"gradient: input": r"backward applies only the diagonal of the Jacobian"}),
    ("dropout-in-testing", DropoutInTesting, (6, 8), {},
     {"phase: testing deterministic": r"randomness \(a dropout mask\?\) is applied although "
                                      r"testing_phase is True"}),
    ("unseeded-randomness", UnseededDropout, (6, 8), {},
     {"phase: training random": r"random numbers that np.random.seed does not reproduce"}),
    ("statistics-updated-in-testing", StatisticsInTesting, (6, 3), {"batch_dependent": True},
     {"phase: testing keeps its state": r"a testing-phase forward changes the layer"}),
    ("memorize-carries-state", memorizing_rnn, (5, 3), {"sequence": True},
     {"phase: training repeatable": r"carries state from one forward to the next",
      "phase: testing keeps its state": r"a testing-phase forward changes the layer"}),
    ("mixes-the-batch", CentersTheBatch, (5, 3), {},
     {"batch: one by one (training)": r"a sample's output depends on the other samples.*"
                                      r"pass batch_dependent=True",
      "batch: one by one (testing)": r"a sample's output depends on the other samples"}),
    ("averages-the-error", AveragesTheError, (5, 3), {},
     {"gradient: input": r"dL/d\(input\) is the mean over the batch, not the sum",
      "batch: one by one (training)": r"a sample's dL/d\(input\) depends on the other samples",
      "batch: one by one (testing)": r"a sample's dL/d\(input\) depends on the other samples"}),
    ("looks-ahead-in-time", LooksAhead, (6, 2), {"sequence": True},
     {"sequence: causal": r"the output at a step depends on later inputs"}),
    ("rnn-stops-bptt-early", lambda: ElmanRNN(3, 4, bptt_steps=2), (6, 3), {"sequence": True},
     {"gradient: input": r"right at the last step but wrong at earlier ones: backpropagation "
                         r"through time stops early",
      "gradient: weights": r"backpropagation through time stops early"}),
]


@pytest.mark.parametrize("factory, shape, keywords, expected", [g[1:] for g in GALLERY],
                         ids=[g[0] for g in GALLERY])
def test_gallery_of_broken_layers_is_caught(factory, shape, keywords, expected):
    report = Helpers.check_layer(factory(), shape, **keywords)
    assert {c.name for c in report.failures} == set(expected), str(report)
    for name, pattern in expected.items():
        assert report[name].hint
        with pytest.raises(Helpers.LayerCheckFailed, match=f"{re.escape(name)}: [^\n]*{pattern}"):
            report.assert_ok()


# ---------------------------------------------------------------------------
# Every correct layer passes
# ---------------------------------------------------------------------------

def batch_norm(channels):
    layer = BatchNormalization.BatchNormalization(channels)
    layer.weights = np.random.uniform(0.5, 2.0, channels)
    layer.bias = np.random.normal(size=channels)
    return layer


def recurrent(cls, output_size=None):
    layer = cls(4, 5, output_size)
    layer.initialize(Initializers.Xavier(), Initializers.Constant(0.1))
    return layer


BN = {"batch_dependent": True}
SEQ = {"sequence": True}
# (id, factory, input shape, keywords, parameter names)
CORRECT = [
    ("fc", lambda: FullyConnected.FullyConnected(4, 3), (5, 4), {}, ["weights"]),
    ("relu", ReLU.ReLU, (5, 6), {}, []),
    ("tanh", TanH.TanH, (5, 6), {}, []),
    ("sigmoid", Sigmoid.Sigmoid, (5, 6), {}, []),
    ("softmax", SoftMax.SoftMax, (4, 5), {}, []),
    ("flatten", Flatten.Flatten, (3, 2, 3, 4), {}, []),
    ("conv2d", lambda: Conv.Conv((1, 1), (2, 3, 3), 3), (2, 2, 5, 6), {}, ["weights", "bias"]),
    ("conv2d-strided-even", lambda: Conv.Conv((2, 2), (3, 2, 4), 2), (2, 3, 5, 7), {},
     ["weights", "bias"]),
    ("conv1d", lambda: Conv.Conv((2,), (2, 3), 3), (2, 2, 9), {}, ["weights", "bias"]),
    ("pooling", lambda: Pooling.Pooling((2, 2), (2, 2)), (2, 2, 6, 6), {}, []),
    ("pooling-overlapping", lambda: Pooling.Pooling((1, 1), (2, 2)), (2, 2, 5, 6), {}, []),
    ("dropout", lambda: Dropout.Dropout(0.6), (6, 8), {}, []),
    ("bn-vector", lambda: batch_norm(4), (6, 4), BN, ["weights", "bias"]),
    ("bn-image", lambda: batch_norm(3), (4, 3, 3, 3), BN, ["weights", "bias"]),
    ("rnn-2d", lambda: recurrent(RNN.RNN), (6, 4), SEQ, ["weights"]),
    ("rnn-3d", lambda: recurrent(RNN.RNN), (3, 6, 4), SEQ, ["weights"]),
    ("rnn-output-2d", lambda: recurrent(RNN.RNN, 3), (6, 4), SEQ, ["weights", "output_weights"]),
    ("rnn-output-3d", lambda: recurrent(RNN.RNN, 3), (3, 6, 4), SEQ,
     ["weights", "output_weights"]),
    ("lstm-2d", lambda: recurrent(LSTM.LSTM), (6, 4), SEQ, ["weights"]),
    ("lstm-3d", lambda: recurrent(LSTM.LSTM), (3, 6, 4), SEQ, ["weights"]),
    ("lstm-output-2d", lambda: recurrent(LSTM.LSTM, 3), (6, 4), SEQ,
     ["weights", "output_weights"]),
    ("lstm-output-3d", lambda: recurrent(LSTM.LSTM, 3), (3, 6, 4), SEQ,
     ["weights", "output_weights"]),
    ("lstm-3d-as-batch", lambda: recurrent(LSTM.LSTM), (3, 6, 4), {}, ["weights"]),
    ("gru-2d", lambda: recurrent(GRU.GRU), (6, 4), SEQ, ["weights"]),
    ("gru-output-3d", lambda: recurrent(GRU.GRU, 3), (3, 6, 4), SEQ,
     ["weights", "output_weights"]),
    ("student-dense", lambda: Dense(4, 3), (5, 4), {}, ["weights", "bias"]),
    ("course-fc", lambda: CourseFC(4, 3), (5, 4), {}, ["weights"]),
    ("student-rnn", lambda: ElmanRNN(3, 4), (6, 3), SEQ, ["weights"]),
]


@pytest.mark.parametrize("factory, shape, keywords, parameters", [c[1:] for c in CORRECT],
                         ids=[c[0] for c in CORRECT])
def test_every_correct_layer_passes(factory, shape, keywords, parameters):
    report = Helpers.check_layer(factory(), shape, **keywords).assert_ok()
    for name in ["input"] + parameters:       # the gradients were checked, not skipped
        assert report[f"gradient: {name}"].status == "pass"
    assert not any(c.name.startswith("gradient") and c.name[10:] not in ["input"] + parameters
                   for c in report.checks)
    if parameters:
        assert report["update: error before the step"].status == "pass"


def test_batch_normalization_mixes_the_batch_unless_told():
    report = Helpers.check_layer(batch_norm(4), (6, 4))
    assert [c.name for c in report.failures] == ["batch: one by one (training)"]
    assert "batch_dependent=True" in report.failures[0].hint
    assert report["batch: one by one (testing)"].status == "pass"


def test_a_classic_recurrent_input_is_not_split_into_samples():
    report = Helpers.check_layer(recurrent(RNN.RNN), (6, 4), sequence=True)
    assert report["batch: one by one"].status == "skip"
    assert report["sequence: causal"].status == "pass"
    # The framework's recurrent layers are recognised: sequence=None means True for them.
    assert Helpers.check_layer(recurrent(RNN.RNN), (6, 4))["sequence: causal"].status == "pass"
    # With sequence=False the time axis is taken for a batch, which an RNN mixes.
    report = Helpers.check_layer(recurrent(RNN.RNN), (6, 4), sequence=False)
    assert [c.name for c in report.failures] == ["batch: one by one (training)",
                                                 "batch: one by one (testing)"]
    assert all("pass sequence=True" in c.hint for c in report.failures)


def test_float32_layers_skip_the_gradients_with_a_reason():
    report = Helpers.check_layer(FullyConnected.FullyConnected(4, 3, dtype=np.float32), (5, 4))
    assert report.ok
    assert report["gradient: input"].status == "skip"
    assert "dtype=np.float64" in report["gradient: weights"].detail


def test_forward_that_raises_is_reported_not_raised():
    report = Helpers.check_layer(FullyConnected.FullyConnected(4, 3), (5, 5))
    assert [c.name for c in report.failures] == ["contract: forward"]
    assert "forward raised ValueError: FullyConnected.forward" in report.failures[0].hint
    assert report.checks[-1].status == "skip"


def test_output_shape_keyword():
    layer = FullyConnected.FullyConnected(4, 3)
    assert Helpers.check_layer(layer, (5, 4), output_shape=(5, 3)).ok
    report = Helpers.check_layer(layer, (5, 4), output_shape=[5, 2])
    assert report["contract: output shape"].hint == "forward should return (5, 2)."


def test_the_layer_and_the_global_generator_are_left_alone():
    layer = FullyConnected.FullyConnected(4, 3)
    layer.optimizer = Optimizers.Adam(1e-3)
    norm = batch_norm(4)
    weights, state = layer.weights.copy(), np.random.get_state()
    Helpers.check_layer(layer, (5, 4))
    Helpers.check_layer(norm, (6, 4), batch_dependent=True)
    np.testing.assert_array_equal(layer.weights, weights)
    assert layer.gradient_weights is None and layer.optimizer.k == 0
    np.testing.assert_array_equal(norm.running_mean, 0)
    np.testing.assert_array_equal(norm.running_var, 1)
    np.testing.assert_array_equal(np.random.get_state()[1], state[1])


def test_report_renders_as_a_table_and_in_a_notebook():
    report = Helpers.check_layer(DiagonalSoftMax(), (4, 5))
    text = str(report)
    assert text.startswith("check_layer(DiagonalSoftMax(), input (4, 5)): 9 passed, 1 failed")
    assert "gradient: input" in text and "FAIL" in text and repr(report) == text
    page = report._repr_html_()
    assert page.startswith("<p><b>check_layer(") and "<table>" in page and "FAIL" in page
    assert Helpers.check_layer(ReLU.ReLU(), (3, 4)).assert_ok().ok


class RaisingProperty(Dense):
    @property
    def n_out(self):
        raise RuntimeError("not set yet")


@pytest.mark.parametrize("factory, title", [
    (lambda: CourseFC(4, 3), "CourseFC(input_size=4, output_size=3)"),
    (lambda: ElmanRNN(3, 4), "ElmanRNN(n_in=3, hidden=4)"),           # bptt_steps: default
    (lambda: ElmanRNN(3, 4, 2), "ElmanRNN(n_in=3, hidden=4, bptt_steps=2)"),
    (lambda: Dense(4, 3), "Dense(n_in=?, n_out=?)"),                  # not kept by those names
    (lambda: RaisingProperty(4, 3), "RaisingProperty(n_in=?, n_out=?)"),
    (DiagonalSoftMax, "DiagonalSoftMax()"),
    (NoBaseLayer, "NoBaseLayer()"),
    (lambda: FullyConnected.FullyConnected(4, 3, dtype=np.float32),
     "FullyConnected(input_size=4, output_size=3, dtype=float32)"),
    (lambda: RNN.RNN(4, 5, 3), "RNN(input_size=4, hidden_size=5, output_size=3)"),
])
def test_the_header_shows_the_constructor_arguments(factory, title):
    shape = (6, 3) if title.startswith("ElmanRNN") else \
        (6, 4) if title.startswith("RNN") else (5, 4)
    report = Helpers.check_layer(factory(), shape, sequence=title.startswith(("ElmanRNN", "RNN")))
    assert report.summary().startswith(f"check_layer({title}, input {shape}): ")


@pytest.mark.parametrize("layer, shape, error, pattern", [
    (object(), (2, 3), TypeError, "expected a layer with forward and backward, got object"),
    (ReLU.ReLU(), (2, 0), ValueError, r"expected input_shape as a tuple of positive integers"),
    (ReLU.ReLU(), 5, ValueError, r"expected input_shape as a tuple of positive integers"),
    (ReLU.ReLU(), (2.5, 3), ValueError, r"expected input_shape as a tuple of positive integers"),
    (ReLU.ReLU(), (2, 3, 4, 5), ValueError,
     r"expected input_shape \(time, features\) or \(batch, time, features\) with sequence=True"),

])
def test_bad_arguments(layer, shape, error, pattern):
    with pytest.raises(error, match=f"check_layer: {pattern}"):
        Helpers.check_layer(layer, shape, sequence=len(np.atleast_1d(shape)) == 4)


def test_the_readme_shows_what_its_example_prints():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Check a layer you wrote"):]
    code = re.search(r"^```python\n(.*?)^```", section, flags=re.S | re.M).group(1)
    shown = re.search(r"^```text\n(.*?)^```", section, flags=re.S | re.M).group(1)
    namespace = {"__name__": "__readme__"}
    exec(compile(code, "README.md check_layer block", "exec"), namespace)
    # A line starting with "..." in the README stands for rows it leaves out.
    pattern = "".join("(?:.*\n)*?" if line.startswith("...") else re.escape(line) + "\n"
                      for line in shown.splitlines())
    assert re.fullmatch(pattern, str(namespace["report"]) + "\n"), str(namespace["report"])


# ---------------------------------------------------------------------------
# The gradient-checking tools: one core at the bottom (tests/test_imports.py: no circle)
# ---------------------------------------------------------------------------

def test_the_gradient_core_imports_nothing_of_the_project_and_the_tools_import_it():
    edges = import_graph()
    assert edges["Layers._gradients"] == set()
    assert "Layers._gradients" in edges["Layers._check_layer"]
    assert "Layers.Helpers" not in edges["Layers._check_layer"]        # the old circle
    assert {"Layers._gradients", "Layers._check_layer"} <= edges["Layers.Helpers"]
