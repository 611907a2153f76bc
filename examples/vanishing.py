"""The vanishing gradient, measured: how much the loss still feels the input t steps back.

    python examples/vanishing.py             # trains both cells, writes examples/output/vanishing_gradient.png
    python examples/vanishing.py --refresh   # ... and replaces the README's examples/vanishing_gradient.png

An Elman RNN and an LSTM learn the adding problem (``Data/Sequences.py``): the
target is the sum of two marked values, one in each half of the sequence, read
from the last hidden state. Before and after training we take a fixed batch of
test sequences and ask each layer's own ``backward`` for dL/dx_t, the error it
returns for the input of every step t, and plot its norm against the distance
from the output, T - t. Nothing here is a formula: the curves are what
backpropagation through time delivers.

The model, optimizer and data are those of ``AddingProblem.py`` (a linear
read-out of the last hidden state, Adam with gradient clipping), smaller: 16
hidden units and batches of 32, so both cells train in a few seconds.
"""
import argparse
import copy
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]        # the repository, and AddingProblem
import _requirements  # noqa: E402,F401 - before numpy: one line if this Python lacks it
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from Data.Sequences import AddingData  # noqa: E402
from Layers import LSTM, RNN  # noqa: E402
from AddingProblem import LastStepRegressor  # noqa: E402

LENGTH = 50           # steps per sequence: the first marker is 25-49 steps from the output
HIDDEN = 16
BATCH = 32
ITERATIONS = 2000
LEARNING_RATE = 1e-2
CLIP = 1.0
PROBE = 256           # test sequences whose gradients are measured
CELLS = {"Elman RNN": RNN.RNN, "LSTM": LSTM.LSTM}
COMMITTED = HERE / "vanishing_gradient.png"          # the README's figure: --refresh
OUTPUT = HERE / "output" / "vanishing_gradient.png"  # a run's figure, git-ignored
COLORS = {"Elman RNN": "tab:red", "LSTM": "tab:blue"}


def input_gradient_norms(model, x, y):
    """``||dL/dx_t||`` for every step, from the layers' backward, without any update.

    Args:
        model: a ``LastStepRegressor``; it is left as it is (copies do the work).
        x: sequences ``(batch, time, 2)``; y: targets ``(batch, 1)``.
    Returns:
        ``(time,)``, entry d for the input d steps before the last one (T - t),
        averaged over the batch. L is the mean squared error of the batch.
    """
    recurrent, head = copy.deepcopy(model.recurrent), copy.deepcopy(model.head)
    recurrent.optimizer = head.optimizer = None         # measure only: no update
    h = recurrent.forward(x)                            # (batch, time, hidden)
    loss = copy.deepcopy(model.loss)
    loss.forward(head.forward(h[:, -1]), y)
    dh = np.zeros(h.shape)
    dh[:, -1] = head.backward(loss.backward(y) / len(x))   # only the last step feeds the loss
    dx = recurrent.backward(dh)                         # (batch, time, 2), full BPTT
    return np.linalg.norm(dx, axis=2).mean(axis=0)[::-1]


def train(name, data, probe, iterations=ITERATIONS, hidden=HIDDEN, seed=0):
    """Train one cell; return its losses and gradient norms before and after.

    Returns:
        dict with ``name``, ``losses`` (training MSE per batch), ``before`` and
        ``after`` (``input_gradient_norms`` on ``probe``), ``test_mse``, ``seconds``.
    """
    np.random.seed(seed)
    model = LastStepRegressor(CELLS[name](2, hidden), hidden, LEARNING_RATE, CLIP)
    before = input_gradient_norms(model, *probe)
    start = time.perf_counter()
    losses = [model.step(*data.next()) for _ in range(iterations)]
    seconds = time.perf_counter() - start
    test_x, test_y = data.get_test_set()
    return {"name": name, "hidden": hidden, "losses": np.array(losses), "before": before,
            "after": input_gradient_norms(model, *probe), "test_mse": model.mse(test_x, test_y),
            "seconds": seconds}


def run(length=LENGTH, iterations=ITERATIONS, hidden=HIDDEN, seed=0):
    """Both cells on the same data and probe batch; returns ``(results, baseline MSE)``."""
    data = AddingData(BATCH, length, test_size=1000, seed=seed + 1)
    test_x, test_y = data.get_test_set()
    probe = test_x[:PROBE], test_y[:PROBE]
    baseline = float(np.mean((test_y - test_y.mean()) ** 2))    # predicting the mean
    results = [train(name, data, probe, iterations, hidden, seed) for name in CELLS]
    return results, baseline


def far_to_near(norms, steps=5):
    """How much weaker the gradient is far from the output than near it.

    The mean norm of the ``steps`` farthest inputs over that of the ``steps``
    nearest: averaging a few steps keeps one noisy step from deciding.
    """
    return float(np.mean(norms[-steps:]) / np.mean(norms[:steps]))


def figure(results, baseline, path=None):
    """Learning curves (left) and gradient norm by distance from the output (right).

    Args:
        results, baseline: what ``run`` returns.
        path: where to save a PNG; None only draws (a notebook shows the figure).
    Returns:
        the matplotlib Figure.
    """
    fig, (curves, reach) = plt.subplots(1, 2, figsize=(11, 4.2))
    window = 50
    for r in results:
        color = COLORS[r["name"]]
        smooth = np.convolve(r["losses"], np.ones(window) / window, mode="valid")
        curves.plot(r["losses"], color=color, lw=0.4, alpha=0.25)
        curves.plot(np.arange(window - 1, len(r["losses"])), smooth, color=color,
                    label=f"{r['name']} (test MSE {r['test_mse']:.4f})")
    curves.axhline(baseline, color="gray", ls=":", label=f"predicting the mean ({baseline:.3f})")
    curves.set_yscale("log")
    curves.set_xlabel("training batch")
    curves.set_ylabel(f"mean squared error ({window}-batch average)")
    curves.set_title("Learning the adding problem")
    curves.legend(loc="lower left")

    length = len(results[0]["after"])
    # adding_problem puts the first marker in the first half: T - t from length // 2 up.
    reach.axvspan(length - length // 2, length - 1, color="0.93", zorder=0)
    reach.text(length - 1.5, 0.97, "the first marked value\nlies in this range", color="0.4",
               ha="right", va="top", fontsize=8.5, transform=reach.get_xaxis_transform())

    for r in results:
        color, distance = COLORS[r["name"]], np.arange(len(r["after"]))
        reach.plot(distance, r["before"], color=color, ls="--", lw=1.2,
                   label=f"{r['name']}, before training")
        reach.plot(distance, r["after"], color=color, lw=2.2,
                   label=f"{r['name']}, after training (far / near {far_to_near(r['after']):.0e})")
    reach.set_yscale("log")
    reach.set_xlabel("distance from the output, T - t (steps)")
    reach.set_ylabel(f"‖dL/dx_t‖, mean over {PROBE} sequences")
    reach.set_title("How far back the loss gradient reaches")
    reach.legend(loc="lower left", fontsize=8.5)
    fig.suptitle(f"The vanishing gradient: Elman RNN vs LSTM on sequences of {length} steps, "
                 f"{results[0]['hidden']} hidden units", fontweight="bold")

    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the PNG (default: {os.path.relpath(OUTPUT, HERE.parent)}, "
                             f"not tracked by git)")
    parser.add_argument("--refresh", action="store_true",
                        help=f"write the committed figure, {os.path.relpath(COMMITTED, HERE.parent)}, "
                             f"that the README shows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.refresh and args.output is not None:
        parser.error("--refresh writes the committed figure; give either it or --output")
    args.output = COMMITTED if args.refresh else args.output or OUTPUT
    args.output.parent.mkdir(parents=True, exist_ok=True)
    plt.switch_backend("Agg")                           # a file, never a window
    results, baseline = run(seed=args.seed)
    for r in results:
        print(f"{r['name']:9s}  test MSE {r['test_mse']:.4f}  far/near before "
              f"{far_to_near(r['before']):.1e}  after {far_to_near(r['after']):.1e}  "
              f"({r['seconds']:.1f} s)")
    plt.close(figure(results, baseline, args.output))
    print("wrote", args.output)


if __name__ == "__main__":
    main()
