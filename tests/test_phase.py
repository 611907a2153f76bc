"""The classic phase contract (issue 25): ``test`` leaves the testing phase, ``train`` sets
the training phase, and where the framework tests in the middle of training it trains on
with dropout and batch statistics."""
import numpy as np
import pytest

import NeuralNetwork
from Layers import BatchNormalization, Dropout, FullyConnected, Helpers, Initializers, ReLU, SoftMax
from Optimization import Loss, Optimizers


class SpyDropout(Dropout.Dropout):
    """A Dropout that notes, for every forward, its phase and whether it dropped a unit."""

    def __init__(self, probability):
        super().__init__(probability)
        self.seen = []

    def forward(self, input_tensor):
        out = super().forward(input_tensor)
        self.seen.append((self.testing_phase, bool((out == 0).any())))
        return out


def course_network(dropout=Dropout.Dropout):
    """BatchNormalization + FC + ReLU + FC + Dropout + SoftMax on iris, as the course's
    third exercise builds it: BN is layer 0, Dropout layer 4."""
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(5e-3, 0.98, 0.999), Initializers.He(),
                                      Initializers.Constant(0.1))
    net.data_layer = Helpers.IrisData(50)
    net.loss_layer = Loss.CrossEntropyLoss()
    net.append_layer(BatchNormalization.BatchNormalization(4))
    net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(ReLU.ReLU())
    net.append_layer(FullyConnected.FullyConnected(3, 3))
    net.append_layer(dropout(0.3))
    net.append_layer(SoftMax.SoftMax())
    return net


def test_test_leaves_batch_normalization_and_dropout_in_the_testing_phase():
    net = course_network()
    net.train(100)
    assert not net.layers[0].testing_phase and not net.layers[4].testing_phase
    data, _ = net.data_layer.get_test_set()
    net.test(data)
    assert net.layers[0].testing_phase
    assert net.layers[4].testing_phase
    net.train(1)                                      # train() sets the training phase
    assert not any(layer.testing_phase for layer in net.layers)


def test_evaluate_leaves_the_testing_phase_too():
    net = course_network()
    net.evaluate(*net.data_layer.get_test_set())
    assert net.phase == "test"


def test_validation_between_epochs_leaves_the_next_epoch_training_with_dropout():
    net = course_network(SpyDropout)
    spy = net.layers[4]
    np.random.seed(0)
    net.train(epochs=2, batch_size=50, validation=net.data_layer.get_test_set(), progress=False)
    # IrisData has 100 training samples: 2 steps per epoch, then one validation forward.
    assert [phase for phase, _ in spy.seen] == [False, False, True, False, False, True]
    assert all(dropped for phase, dropped in spy.seen if not phase)   # dropout was active
    assert net.phase == "train" and not net.layers[0].testing_phase    # ends in training


@pytest.mark.parametrize("epochs", [None, 1])
def test_a_callback_that_tests_does_not_stop_training_in_the_training_phase(epochs):
    net = course_network(SpyDropout)
    spy = net.layers[4]
    x = net.data_layer.get_test_set()[0]

    def peek(net, iteration, loss):
        net.test(x)                                   # leaves the testing phase
        return False

    np.random.seed(0)
    if epochs is None:
        net.train(3, callback=peek)
    else:
        net.train(epochs=epochs, batch_size=25, callback=peek, progress=False)
    steps = [seen for seen in spy.seen[0::2]]          # a step, then the callback's test
    assert len(steps) == 3 if epochs is None else len(steps) == 4
    assert all(phase is False and dropped for phase, dropped in steps)
    assert all(phase is True for phase, _ in spy.seen[1::2])
    assert net.phase == "train"
