"""Write the format-compatibility checkpoints of this directory (one of each kind).

    .venv/bin/python tests/data/checkpoints/make_checkpoints.py

Run once with the code of the release whose files must stay readable (the checkpoint
code before the state-protocol rewrite, commit 49f326f); the files it wrote are committed
and tests/test_checkpoint_compat.py loads them with today's code. For each ``NAME.ckpt``:

* ``NAME.input.npy``: a fixed input;
* ``NAME.output.npy``: ``net.test(input)`` right after saving;
* ``NAME.trained.npy``: ``net.test(input)`` after two more training steps on a fixed
  batch (``NAME.batch.npz``, seed 7): this exercises the optimizer state in the file
  (moments, step counts, velocities), not only the parameters.

``lenet_run.ckpt`` is a ``TrainLeNet.py`` run interrupted mid-epoch 2 with early
stopping (patience 2), learning-rate decay and a subset, on synthetic IDX files.
``shipped.*.npy`` hold the outputs of ``trained/lenet_mnist.ckpt``; ``lenet_run.training.*``
what the old reader returned for the run (settings, data order, random state, schedule,
early stopping, Adam state).
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

import checkpoint                                                            # noqa: E402
import NeuralNetwork                                                         # noqa: E402
from Layers import (BatchNormalization, Conv, Dropout, Flatten, FullyConnected, GRU,  # noqa: E402
                    Initializers, LSTM, Pooling, ReLU, RNN, SoftMax, TanH)
from Models import LeNet                                                     # noqa: E402
from Optimization import Loss, Optimizers                                    # noqa: E402


class FixedBatch:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def next(self):
        return self.x, self.y


def one_hot(n, k, rng):
    y = np.zeros((n, k))
    y[np.arange(n), rng.integers(0, k, n)] = 1
    return y


def plain(rng):
    net = NeuralNetwork.NeuralNetwork(
        Optimizers.Adam(1e-3, regularizer={"type": "L2", "lambda": 1e-3}),
        Initializers.He(), Initializers.Constant(0.1))
    for layer in (FullyConnected.FullyConnected(4, 6), ReLU.ReLU(),
                  FullyConnected.FullyConnected(6, 3), SoftMax.SoftMax()):
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    return net, rng.random((5, 4)), one_hot(5, 3, rng)


def conv(rng):
    net = NeuralNetwork.NeuralNetwork(
        Optimizers.SgdWithMomentum(1e-2, 0.8, regularizer={"type": "L1", "lambda": 1e-4}),
        Initializers.Xavier(), Initializers.Constant(0.05))
    for layer in (Conv.Conv((1, 1), (1, 3, 3), 2), BatchNormalization.BatchNormalization(2),
                  ReLU.ReLU(), Pooling.Pooling((2, 2), (2, 2)), Dropout.Dropout(0.8),
                  Flatten.Flatten(), FullyConnected.FullyConnected(2 * 3 * 3, 4),
                  SoftMax.SoftMax()):
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    return net, rng.random((4, 1, 6, 6)), one_hot(4, 4, rng)


def recurrent(cls, output_size, optimizer):
    def make(rng):
        net = NeuralNetwork.NeuralNetwork(optimizer, Initializers.UniformFanOut(),
                                          Initializers.Constant(0.0))
        layer = cls(3, 4, output_size)
        if output_size is None:
            net.append_layer(layer)
            net.append_layer(TanH.TanH())
            net.loss_layer = Loss.L2Loss()
            return net, rng.random((2, 5, 3)), rng.random((2, 5, 4))
        layer.memorize = True
        net.append_layer(layer)
        net.loss_layer = Loss.L2Loss()
        return net, rng.random((2, 5, 3)), rng.random((2, 5, output_size))
    return make


KINDS = {
    "plain_adam_l2": plain,
    "conv_bn_dropout_momentum": conv,
    "rnn_sgd": recurrent(RNN.RNN, None, Optimizers.Sgd(1e-2)),
    "rnn_output_adam": recurrent(RNN.RNN, 2, Optimizers.Adam(1e-3, clip_norm=1.0)),
    "lstm_momentum": recurrent(LSTM.LSTM, None, Optimizers.SgdWithMomentum(1e-2)),
    "lstm_output_adam": recurrent(LSTM.LSTM, 2, Optimizers.Adam(1e-3)),
    "gru_adam": recurrent(GRU.GRU, None, Optimizers.Adam(2e-3)),
    "gru_output_sgd": recurrent(GRU.GRU, 3, Optimizers.Sgd(1e-2)),
}


def write(name, net, x, y):
    np.random.seed(7)
    net.data_layer = FixedBatch(x, y)
    net.train(3)                                   # moments, velocities, history of net.loss
    net.phase = "train"
    checkpoint.save(HERE / f"{name}.ckpt", net)
    np.save(HERE / f"{name}.input.npy", x)
    np.savez(HERE / f"{name}.batch.npz", x=x, y=y)
    forget_state(net)
    np.save(HERE / f"{name}.output.npy", net.test(x))
    after_training(net, x, y)
    np.save(HERE / f"{name}.trained.npy", net.test(x))


def after_training(net, x, y):
    """Two more steps from the saved state (the compatibility test repeats this)."""
    np.random.seed(7)
    net.data_layer = FixedBatch(x, y)
    forget_state(net)
    net.train(2)
    forget_state(net)


def forget_state(net):
    """memorize: start from zeros, as a loaded layer does (the hidden state is not saved)."""
    for layer in net.layers:
        if hasattr(layer, "memorize"):
            layer.state = None


def lenet():
    rng = np.random.default_rng(3)
    np.random.seed(3)
    net = LeNet.LeNet()
    x = rng.random((3, 1, 28, 28)).astype(np.float32)
    write("lenet_float32", net, x, one_hot(3, 10, rng))


def lenet_run():
    import TrainLeNet
    from Data.MNIST import FILES
    from Data.idx import write_idx
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for prefix, n in (("train", 300), ("t10k", 20)):
            labels = rng.integers(0, 10, n).astype(np.uint8)
            images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
            for i, label in enumerate(labels):
                images[i, 2 * label + 4:2 * label + 7] = 255
            names = [f for f in FILES if f.startswith(prefix)]
            write_idx(Path(tmp) / (names[0] + ".gz"), images)
            write_idx(Path(tmp) / (names[1] + ".gz"), labels)

        def ctrl_c(self, net, iteration, loss):
            self.requested = self.requested or iteration == 12
            return self.requested
        TrainLeNet.StopRequest.__call__ = ctrl_c
        path = HERE / "lenet_run.ckpt"
        path.unlink(missing_ok=True)
        code = TrainLeNet.main(["--data-dir", tmp, "--subset", "250", "--validation", "50",
                                "--epochs", "3", "--batch-size", "25", "--patience", "2",
                                "--lr-decay", "0.5", "--augment", "1", "--seed", "4",
                                "--no-plot", "--checkpoint", str(path)])
        assert code == 130, code
    net, training = checkpoint.read(path)
    x = np.random.default_rng(5).random((2, 1, 28, 28)).astype(np.float32)
    np.save(HERE / "lenet_run.input.npy", x)
    np.save(HERE / "lenet_run.output.npy", net.test(x))


def shipped():
    net = NeuralNetwork.load(ROOT / "trained" / "lenet_mnist.ckpt")
    x = np.random.default_rng(6).random((4, 1, 28, 28)).astype(np.float32)
    np.save(HERE / "shipped.input.npy", x)
    np.save(HERE / "shipped.output.npy", net.test(x))


def main():
    for seed, (name, make) in enumerate(KINDS.items()):
        np.random.seed(seed)
        net, x, y = make(np.random.default_rng(seed))
        write(name, net, x, y)
    lenet()
    lenet_run()
    shipped()




def run_reference():
    """``lenet_run.training.npz``/``.json``: what the old reader returned for the run."""
    import json
    net, training = checkpoint.read(HERE / "lenet_run.ckpt")
    stopper, schedule = training["early_stopping"], training["schedule"]
    np.savez(HERE / "lenet_run.training.npz", order=training["data"]["order"],
             rng_keys=training["rng"][1], loss=np.asarray(net.loss),
             best_weights=stopper._best_parameters[0]["weights"],
             moment=net.layers[0]._optimizers["weights"].r)
    facts = {"settings": training["settings"], "position": training["data"]["position"],
             "rng": [training["rng"][0], *map(float, training["rng"][2:])],
             "schedule": [type(schedule).__name__, schedule.factor, schedule.initial],
             "stopper": [stopper.patience, stopper.min_delta, stopper.best, stopper.best_epoch,
                         stopper.epoch],
             "history": net.history, "epoch_progress": list(net.epoch_progress),
             "adam_k": net.layers[0]._optimizers["weights"].k,
             "learning_rate": net.optimizer.learning_rate, "finished": training["finished"]}
    (HERE / "lenet_run.training.json").write_text(json.dumps(facts, indent=1))


if __name__ == "__main__":
    main()
    run_reference()
