"""Learning-rate schedules, early stopping, and the epoch features of NeuralNetwork.train."""

import numpy as np
import pytest

import NeuralNetwork
from Layers import FullyConnected, Helpers, Initializers, ReLU, SoftMax
from Optimization import Loss, Optimizers, Schedules


def iris_net(optimizer=None):
    net = NeuralNetwork.NeuralNetwork(optimizer or Optimizers.Adam(1e-2), Initializers.He(),
                                      Initializers.Constant(0.1))
    net.data_layer = Helpers.IrisData(25)
    net.loss_layer = Loss.CrossEntropyLoss()
    for layer in (FullyConnected.FullyConnected(4, 8), ReLU.ReLU(),
                  FullyConnected.FullyConnected(8, 3), SoftMax.SoftMax()):
        net.append_layer(layer)
    return net


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(3)


def test_exponential_decay():
    optimizer = Optimizers.Sgd(0.1)
    schedule = Schedules.ExponentialDecay(0.5)
    assert [schedule.step(optimizer, e) for e in (1, 2, 3)] == pytest.approx([0.05, 0.025, 0.0125])
    assert optimizer.learning_rate == pytest.approx(0.0125)


def test_step_decay():
    optimizer = Optimizers.Sgd(1.0)
    schedule = Schedules.StepDecay(every=2, factor=0.1)
    rates = [schedule.step(optimizer, e) for e in range(1, 6)]
    assert rates == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01])


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match=r"ExponentialDecay: expected factor to be a number in \[0.001, 1.0\]"):
        Schedules.ExponentialDecay(1.5)
    with pytest.raises(ValueError, match=r"StepDecay: expected factor to be a number in \[0.001, 1.0\]"):
        Schedules.StepDecay(1, 1e-300)            # the rate would underflow to 0 in epoch 2
    with pytest.raises(ValueError, match="StepDecay: expected every >= 1"):
        Schedules.StepDecay(0)
    with pytest.raises(ValueError, match="EarlyStopping: expected patience >= 1"):
        Schedules.EarlyStopping(0)


def test_schedule_reaches_every_layer_through_train():
    net = iris_net(Optimizers.Sgd(1e-2))
    net.train(epochs=3, schedule=Schedules.ExponentialDecay(0.5))
    assert net.optimizer.learning_rate == pytest.approx(1e-2 * 0.5 ** 3)
    assert net.layers[0].optimizer.learning_rate == pytest.approx(1e-2 * 0.5 ** 3)
    assert [h["learning_rate"] for h in net.history] == pytest.approx([1e-2, 5e-3, 2.5e-3])


class FakeNet:
    """Just enough of a network for EarlyStopping: one parameter array."""

    def __init__(self):
        self.w = np.zeros(2)

    def snapshot(self):
        return self.w.copy()

    def restore(self, snapshot):
        self.w = snapshot.copy()


def test_early_stopping_keeps_the_best():
    net, stopper = FakeNet(), Schedules.EarlyStopping(patience=2)
    decisions = []
    for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.4, 0.45, 0.41], start=1):
        net.w[:] = epoch
        decisions.append(stopper.update(net, loss))
    assert decisions == [False, False, False, False, False, True]
    assert stopper.best == 0.4 and stopper.best_epoch == 4
    stopper.restore(net)
    np.testing.assert_array_equal(net.w, [4, 4])


def test_train_with_validation_and_early_stopping():
    net = iris_net(Optimizers.Adam(5e-2))
    validation = net.data_layer.get_test_set()
    stopper = Schedules.EarlyStopping(patience=2)
    net.train(epochs=40, validation=validation, early_stopping=stopper)
    assert len(net.history) < 40                              # it stopped early
    assert len(net.history) == stopper.best_epoch + 2
    assert all({"validation_loss", "validation_accuracy"} <= set(h) for h in net.history)
    loss, _ = net.evaluate(*validation)
    assert loss == pytest.approx(stopper.best)                # the best weights were kept


def test_validation_needs_epochs():
    net = iris_net()
    with pytest.raises(ValueError, match="NeuralNetwork.train: expected epochs= with validation, schedule and early_stopping"):
        net.train(10, validation=net.data_layer.get_test_set())


def test_a_stopping_callback_then_resume_equals_an_uninterrupted_run():
    np.random.seed(0)
    straight = iris_net()
    np.random.seed(0)
    interrupted = iris_net()
    np.random.seed(1)
    straight.train(epochs=3)
    np.random.seed(1)
    interrupted.train(epochs=3, callback=lambda net, iteration, loss: iteration == 6)
    assert len(interrupted.loss) == 6 and interrupted.epoch_progress[0] == 2   # 4 steps/epoch
    interrupted.train(epochs=2)          # finishes epoch 2, then runs epoch 3
    assert len(interrupted.history) == 3
    np.testing.assert_array_equal(interrupted.layers[0].weights, straight.layers[0].weights)
    assert interrupted.loss == straight.loss and interrupted.history == straight.history


def test_progress_bar_writes_to_stderr(capsys):
    iris_net().train(epochs=1, progress=True)
    assert "epoch 1" in capsys.readouterr().err


def test_summary_table():
    text = iris_net().summary((4,))
    assert "FullyConnected(4, 8)" in text and "(8,)" in text
    assert text.strip().splitlines()[-1].split()[-1] == f"{5 * 8 + 9 * 3}"


def test_each_epoch_bar_ends_with_its_validation_numbers(capsys):
    from Layers import FullyConnected, SoftMax
    from Optimization import Loss, Optimizers
    import NeuralNetwork

    class Data:
        batch_size = 10

        def __len__(self):
            return 30

        def next(self):
            return np.random.rand(10, 4), np.eye(3)[np.random.randint(0, 3, 10)]

    np.random.seed(0)
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-2))
    net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(SoftMax.SoftMax())
    net.loss_layer, net.data_layer = Loss.CrossEntropyLoss(), Data()
    x, y = np.random.rand(8, 4), np.eye(3)[np.random.randint(0, 3, 8)]
    net.train(epochs=2, validation=(x, y), progress=True,
              early_stopping=Schedules.EarlyStopping(patience=1, min_delta=10.0))
    out, err = capsys.readouterr()
    last_of_epoch_1 = [line for line in err.replace("\r", "\n").splitlines()
                       if line.startswith("epoch 1")][-1]
    record = net.history[0]
    assert f"val_loss={record['validation_loss']:.4f}" in last_of_epoch_1
    assert f"val_acc={record['validation_accuracy']:.4f}" in last_of_epoch_1
    assert "early stopping after epoch 2: the validation loss has not improved" in out


def test_early_stopping_counts_its_epochs_in_words():
    stopper = Schedules.EarlyStopping(patience=1)
    stopper.epoch, stopper.best, stopper.best_epoch = 2, 0.5, 1
    assert "for 1 epoch;" in stopper.report()
    stopper.patience = 3
    assert "for 3 epochs;" in stopper.report()
