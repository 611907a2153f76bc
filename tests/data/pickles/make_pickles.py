"""Write trained networks as the last pickle release saved them (commit 1dae96a).

    python tests/data/pickles/make_pickles.py [OUT_DIR [--shipped]]

Run it with the code of that release on the path (the directory three levels up
from this file): tests/test_checkpoint_convert.py copies it into ``git archive
1dae96a`` and runs it there, and the files it wrote once are committed here for
clones without that history. The release had these layers: FullyConnected, ReLU,
TanH, Sigmoid, SoftMax, Flatten, Conv (1-D and 2-D), Pooling, Dropout,
BatchNormalization (vector and image), RNN, LSTM (no GRU); and these optimizers: Sgd,
SgdWithMomentum, Adam. Each kind of network below is trained three steps with each
optimizer, then written as ``NAME.pkl`` by that release's ``NeuralNetwork.save``, with
``NAME.npz`` holding

* ``input``: a fixed input; ``output``: ``net.test(input)`` after the save;
* ``x``, ``y``: a fixed batch; ``trained``: ``net.test(input)`` after two more training
  steps on it (seed 7), which exercises the optimizer state in the file (moments,
  step counts, velocities), not only the parameters.

``--shipped`` also writes ``lenet_mnist.npz``: the outputs of the release's own trained
LeNet (``trained/lenet_mnist.pkl``, float32, Adam) on a fixed input.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import NeuralNetwork                                                          # noqa: E402
from Layers import (BatchNormalization, Conv, Dropout, Flatten, FullyConnected,  # noqa: E402
                    Initializers, LSTM, Pooling, ReLU, RNN, Sigmoid, SoftMax, TanH)
from Optimization import Loss, Optimizers                                     # noqa: E402

OPTIMIZERS = {
    "sgd": lambda: Optimizers.Sgd(1e-2),
    "momentum": lambda: Optimizers.SgdWithMomentum(1e-2, 0.8,
                                                   regularizer={"type": "L2", "lambda": 1e-3}),
    "adam": lambda: Optimizers.Adam(1e-2, 0.85, 0.99, regularizer={"type": "L1", "lambda": 1e-4},
                                    clip_norm=1.0),
}


class FixedBatch:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def next(self):
        return self.x, self.y


def one_hot(rng, n, k):
    return np.eye(k)[rng.integers(0, k, n)]


# BatchNormalization follows a nonlinearity: right after a bias its mean removal makes
# the bias's gradient exactly 0 in theory, round-off (1e-17) in practice, which Adam turns
# into steps of the learning rate's size; two versions of the code would then differ by
# 1e-10 for no fault of the conversion.
def dense(rng):
    layers = (FullyConnected.FullyConnected(4, 6), TanH.TanH(),
              BatchNormalization.BatchNormalization(6), Dropout.Dropout(0.7),
              FullyConnected.FullyConnected(6, 5), Sigmoid.Sigmoid(),
              FullyConnected.FullyConnected(5, 3), ReLU.ReLU(),
              FullyConnected.FullyConnected(3, 3), SoftMax.SoftMax())
    return layers, Loss.CrossEntropyLoss(), rng.random((6, 4)), one_hot(rng, 6, 3)


def conv2d(rng):
    layers = (Conv.Conv((1, 1), (2, 3, 3), 3), ReLU.ReLU(),
              BatchNormalization.BatchNormalization(3), Conv.Conv((2, 1), (3, 2, 2), 2),
              Pooling.Pooling((1, 2), (2, 2)), Flatten.Flatten(),
              FullyConnected.FullyConnected(2 * 1 * 3, 3), SoftMax.SoftMax())
    return layers, Loss.CrossEntropyLoss(), rng.random((4, 2, 4, 6)), one_hot(rng, 4, 3)


def conv1d(rng):
    layers = (Conv.Conv(2, (2, 3), 3), TanH.TanH(), Flatten.Flatten(),
              FullyConnected.FullyConnected(3 * 4, 3), SoftMax.SoftMax())
    return layers, Loss.CrossEntropyLoss(), rng.random((4, 2, 8)), one_hot(rng, 4, 3)


def recurrent(cls, output_size):
    """Without an output layer: one classic sequence ``(time, 3)``; with one: a batch of
    two sequences ``(2, time, 3)`` and ``memorize`` on."""
    def make(rng):
        layer = cls(3, 4, output_size)
        if output_size is None:
            return (layer, TanH.TanH()), Loss.L2Loss(), rng.random((5, 3)), rng.random((5, 4))
        layer.memorize = True
        return (layer,), Loss.L2Loss(), rng.random((2, 5, 3)), rng.random((2, 5, output_size))
    return make


NETWORKS = {"dense": dense, "conv2d": conv2d, "conv1d": conv1d,
            "rnn": recurrent(RNN.RNN, None), "rnn_output": recurrent(RNN.RNN, 2),
            "lstm": recurrent(LSTM.LSTM, None), "lstm_output": recurrent(LSTM.LSTM, 2)}


def forget_state(net):
    """memorize: start from zeros, as a converted layer does (the hidden state is not kept)."""
    for layer in net.layers:
        if hasattr(layer, "memorize"):
            layer.state = None


def write(out, name, make, optimizer, seed):
    np.random.seed(seed)
    rng = np.random.default_rng(seed)
    net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.Xavier(), Initializers.Constant(0.1))
    layers, net.loss_layer, x, y = make(rng)
    for layer in layers:
        net.append_layer(layer)
    net.data_layer = FixedBatch(x, y)
    net.train(3)
    NeuralNetwork.save(str(out / f"{name}.pkl"), net)
    data = {"input": rng.random(x.shape), "x": x, "y": y}
    forget_state(net)
    data["output"] = net.test(data["input"])
    np.random.seed(7)
    forget_state(net)
    net.train(2)
    forget_state(net)
    data["trained"] = net.test(data["input"])
    np.savez(out / f"{name}.npz", **data)


def shipped(out):
    net = NeuralNetwork.load(str(HERE.parents[2] / "trained" / "lenet_mnist.pkl"), None)
    x = np.random.default_rng(6).random((4, 1, 28, 28)).astype(np.float32)
    np.savez(out / "lenet_mnist.npz", input=x, output=net.test(x))


def main(argv):
    out = Path(argv[0]) if argv else HERE
    seed = 0
    for kind, make in NETWORKS.items():
        for optimizer, build in OPTIMIZERS.items():
            write(out, f"{kind}_{optimizer}", make, build(), seed)
            seed += 1
    if "--shipped" in argv[1:]:
        shipped(out)


if __name__ == "__main__":
    main(sys.argv[1:])
