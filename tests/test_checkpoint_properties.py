"""A property over every layer class the framework ships and every kind of class that
``checkpoint.register`` accepts: after save -> load the outputs are identical and training
goes on identically, or save refuses (issue 25). A layer whose trained arrays would not
survive the round trip is refused at save."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import NeuralNetwork
import checkpoint
import test_checkpoint as surgery
import test_checkpoint_own_classes as own
from Data.Datasets import IrisData
from Layers import (GRU, LSTM, RNN, Attention, BatchNormalization, Bidirectional, Conv, Dropout,
                    Embedding, Flatten, FullyConnected, Initializers, LastStep, Pooling, ReLU,
                    Sigmoid, SoftMax, TanH)
from Data import Dates
from Models import CharModel, LeNet, RowMNIST, Seq2Seq
from Optimization import Constraints, Loss, Optimizers, Schedules


def tokens(shape):
    return np.random.randint(0, 7, shape)


# name -> (factory, input maker); every layer class the framework registers is here, and
# so are the course-sheet layers of test_checkpoint_own_classes (refused or kept).
LAYERS = {
    "FullyConnected": (lambda: FullyConnected.FullyConnected(4, 3), lambda: np.random.rand(5, 4)),
    "Conv": (lambda: Conv.Conv((1, 2), (2, 3, 3), 3), lambda: np.random.rand(2, 2, 5, 6)),
    "Pooling": (lambda: Pooling.Pooling((2, 2), (2, 2)), lambda: np.random.rand(2, 2, 4, 4)),
    "Flatten": (Flatten.Flatten, lambda: np.random.rand(2, 2, 3)),
    "BatchNormalization": (lambda: BatchNormalization.BatchNormalization(3),
                           lambda: np.random.rand(6, 3)),
    "Dropout": (lambda: Dropout.Dropout(0.7), lambda: np.random.rand(4, 5)),
    "ReLU": (ReLU.ReLU, lambda: np.random.randn(4, 5)),
    "TanH": (TanH.TanH, lambda: np.random.randn(4, 5)),
    "Sigmoid": (Sigmoid.Sigmoid, lambda: np.random.randn(4, 5)),
    "SoftMax": (SoftMax.SoftMax, lambda: np.random.randn(4, 5)),
    "RNN": (lambda: RNN.RNN(3, 4, 2), lambda: np.random.rand(2, 5, 3)),
    "LSTM": (lambda: LSTM.LSTM(3, 4, 2), lambda: np.random.rand(2, 5, 3)),
    "GRU": (lambda: GRU.GRU(3, 4, 2), lambda: np.random.rand(2, 5, 3)),
    "Embedding": (lambda: Embedding.Embedding(7, 3), lambda: tokens((2, 5))),
    "LastStep": (LastStep.LastStep, lambda: np.random.rand(2, 5, 3)),
    "Attention": (Attention.Attention, lambda: np.random.rand(2, 5, 3)),
    "Bidirectional": (lambda: Bidirectional.Bidirectional(LSTM.LSTM(3, 4)),
                      lambda: np.random.rand(2, 5, 3)),
    "SheetFullyConnected": (lambda: own.SheetFullyConnected(4, 3), lambda: np.random.rand(5, 4)),
    "LeakyReLU": (lambda: own.LeakyReLU(0.2), lambda: np.random.randn(4, 5)),
    "LazySheetLayer": (lambda: own.LazySheetLayer(4, 3), lambda: np.random.rand(5, 4)),
    "BiasOptimizerLayer": (lambda: own.BiasOptimizerLayer(4, 3), lambda: np.random.rand(5, 4)),
    "NoneFirstLayer": (lambda: own.NoneFirstLayer(4, 3), lambda: np.random.rand(5, 4)),
    "Activation": (lambda: own.Activation("tanh"), lambda: np.random.randn(4, 5)),
}
# Attention's memory (the encoder states) is an input of each call, not learned: both the
# layer and its loaded twin are given the same one before every forward.
MEMORY = np.random.default_rng(0).random((2, 4, 3))
checkpoint.register(own.LazySheetLayer)
checkpoint.register(own.BiasOptimizerLayer)
checkpoint.register(own.NoneFirstLayer)

OPTIMIZERS = {
    "Sgd": lambda reg: Optimizers.Sgd(1e-2, regularizer=reg),
    "SgdWithMomentum": lambda reg: Optimizers.SgdWithMomentum(1e-2, 0.5, regularizer=reg,
                                                              clip_norm=3.0),
    "Adam": lambda reg: Optimizers.Adam(1e-2, 0.8, 0.99, regularizer=reg),
    "RMSProp": lambda reg: own.RMSProp(1e-2, 0.8),
    "BetaAdam": lambda reg: own.BetaAdam(1e-2, (0.8, 0.9), regularizer=reg),
}
REGULARIZERS = {"none": lambda: None, "L2_Regularizer": lambda: Constraints.L2_Regularizer(1e-3),
                "L1_Regularizer": lambda: Constraints.L1_Regularizer(1e-3)}
INITIALIZERS = {"Constant": lambda: Initializers.Constant(0.3),
                "UniformRandom": Initializers.UniformRandom,
                "UniformFanOut": Initializers.UniformFanOut,
                "Xavier": Initializers.Xavier, "He": Initializers.He}


def test_the_tables_cover_every_registered_class():
    for kind, table in (("layer", LAYERS), ("optimizer", OPTIMIZERS),
                        ("regularizer", REGULARIZERS), ("initializer", INITIALIZERS),
                        ("network", NETWORKS), ("loss", LOSSES)):
        missing = set(checkpoint.classes(kind)) - set(table)
        # Classes that other test modules register for their own tests only.
        missing = {n for n in missing if checkpoint.classes(kind)[n].__module__.split(".")[0]
                   in ("Layers", "Optimization", "Models", "NeuralNetwork")}
        assert not missing, f"{kind}: no round trip for {sorted(missing)}"


def step(layer, x):
    """One forward and backward with a fixed error: trainable layers update themselves."""
    remember(layer)
    y = layer.forward(x)
    error = np.cos(np.arange(y.size)).reshape(y.shape)
    layer.backward(error)
    return y


def remember(layer):
    if isinstance(layer, Attention.Attention):
        layer.memory = MEMORY


def arrays(layer):
    found = {name: value for name, value in vars(layer).items()
             if isinstance(value, np.ndarray) and not name.startswith("_")}
    if callable(getattr(layer, "state_dict", None)):
        found.update({k: v for k, v in layer.state_dict().items() if isinstance(v, np.ndarray)})
    return found


@pytest.mark.parametrize("name", sorted(LAYERS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), steps=st.integers(0, 3), optimizer=st.sampled_from(sorted(OPTIMIZERS)),
       regularizer=st.sampled_from(sorted(REGULARIZERS)),
       initializer=st.sampled_from(sorted(INITIALIZERS)), testing=st.booleans())
def test_a_layer_round_trips_or_is_refused(tmp_path, name, seed, steps, optimizer, regularizer,
                                           initializer, testing):
    factory, make_input = LAYERS[name]
    np.random.seed(seed)
    net = NeuralNetwork.NeuralNetwork(OPTIMIZERS[optimizer](REGULARIZERS[regularizer]()),
                                      INITIALIZERS[initializer](), Initializers.Constant(0.1))
    net.append_layer(factory())
    layer = net.layers[0]
    if name in ("LazySheetLayer", "NoneFirstLayer"):
        layer.initialize(INITIALIZERS[initializer](), Initializers.Constant(0.1))
    for _ in range(steps):
        step(layer, make_input())
    layer.testing_phase = testing
    path = tmp_path / f"{name}.ckpt"
    path.unlink(missing_ok=True)          # tmp_path is shared by hypothesis' examples
    try:
        net.save(path)
    except (TypeError, ValueError) as err:
        # Refused: only a layer whose learned arrays or optimizer state would be lost.
        assert name in ("LazySheetLayer", "BiasOptimizerLayer"), err
        assert "would be lost" in str(err) and not path.exists(), err
        return
    # Its weights are made by initialize and its constructor has no attribute for them.
    assert name != "LazySheetLayer", "saved a layer whose weights would not come back"
    loaded = NeuralNetwork.load(path)
    twin = loaded.layers[0]
    assert type(twin) is type(layer) and twin.testing_phase == layer.testing_phase
    before = arrays(layer)
    for key, value in arrays(twin).items():
        np.testing.assert_array_equal(value, before[key])
    x = make_input()
    remember(layer), remember(twin)
    np.testing.assert_array_equal(loaded.test(x), net.test(x))
    # Training goes on identically (the optimizer's state came back too).
    if not (name == "BiasOptimizerLayer" and steps):
        for one in (layer, twin):
            one.testing_phase = False
        state = np.random.get_state()
        expected = step(layer, x)
        np.random.set_state(state)
        np.testing.assert_array_equal(step(twin, x), expected)
        after = arrays(layer)
        for key, value in arrays(twin).items():
            if key in after:
                np.testing.assert_array_equal(value, after[key])


# -- the other kinds: losses, schedules, stoppers, networks ---------------------------------

LOSSES = {"CrossEntropyLoss": Loss.CrossEntropyLoss, "L2Loss": Loss.L2Loss}


def small_lenet():
    return LeNet.LeNet()


NETWORKS = {
    "NeuralNetwork": lambda: NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-2)),
    "LeNet": small_lenet,
    "RowMNIST": lambda: RowMNIST.build(),
    "CharModel": lambda: CharModel.build(),
    "Seq2Seq": lambda: Seq2Seq.build(bidirectional=True, embedding=4, hidden=8),
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_networks_and_losses_round_trip(tmp_path, network, loss):
    np.random.seed(0)
    net = NETWORKS[network]()
    if network == "NeuralNetwork":
        for layer in (FullyConnected.FullyConnected(4, 3), SoftMax.SoftMax()):
            net.append_layer(layer)
    net.loss_layer = LOSSES[loss]()
    try:
        net.save(tmp_path / "n.ckpt")
    except ValueError as err:                 # a model that refuses another loss
        assert network != "NeuralNetwork" and loss != "CrossEntropyLoss", err
        assert "would not load" in str(err) and not (tmp_path / "n.ckpt").exists()
        return
    loaded = NeuralNetwork.load(tmp_path / "n.ckpt")
    assert type(loaded) is type(net) and type(loaded.loss_layer) is type(net.loss_layer)
    shape = {"NeuralNetwork": (2, 4), "LeNet": (2, 1, 28, 28), "RowMNIST": (2, 28, 28)}
    if network in shape:
        x = np.random.rand(*shape[network])
    else:
        x = np.random.randint(0, 5, (2, 4))              # CharModel, Seq2Seq: token indices
    np.testing.assert_array_equal(loaded.test(x), net.test(x))


@pytest.mark.parametrize("schedule", [Schedules.ExponentialDecay(0.9), Schedules.StepDecay(2, 0.5)],
                         ids=["ExponentialDecay", "StepDecay"])
def test_schedules_and_early_stopping_round_trip_in_a_run(tmp_path, schedule):
    np.random.seed(0)
    net = NeuralNetwork.NeuralNetwork(own.RMSProp(1e-2), Initializers.He(),
                                      Initializers.Constant(0.1))
    for layer in own.sheet_layers():
        net.append_layer(layer)
    net.loss_layer = Loss.CrossEntropyLoss()
    data = IrisData(50)
    net.data_layer = data
    stopper = Schedules.EarlyStopping(patience=2)
    net.train(epochs=2, schedule=schedule, early_stopping=stopper,
              validation=data.get_test_set(), progress=False)
    checkpoint.save(tmp_path / "run.ckpt", net,
                    {"settings": {}, "data": data.state_dict(), "rng": np.random.get_state(),
                     "schedule": schedule, "early_stopping": stopper, "finished": False})
    loaded, training = checkpoint.read(tmp_path / "run.ckpt")
    for kind, obj in (("schedule", schedule), ("early_stopping", stopper)):
        again = training[kind]
        assert type(again) is type(obj) and checkpoint.config_of(again) == checkpoint.config_of(obj)
        for key, value in obj.state_dict().items():
            if key != "best_state":
                assert again.state_dict()[key] == value
    x = data.get_test_set()[0]
    np.testing.assert_array_equal(loaded.test(x), net.test(x))


# -- Seq2Seq: a network whose layers are attributes, a Bidirectional encoder (issue 28) -------

@pytest.mark.parametrize("attention, bidirectional", [(True, True), (False, True), (True, False)])
def test_a_seq2seq_comes_back_translating_identically(tmp_path, attention, bidirectional):
    np.random.seed(0)
    net = Seq2Seq.build(attention=attention, bidirectional=bidirectional, embedding=4, hidden=8)
    net.save(tmp_path / "m.ckpt")
    loaded = NeuralNetwork.load(tmp_path / "m.ckpt")
    assert type(loaded) is Seq2Seq.Seq2Seq and type(loaded.encoder) is type(net.encoder)
    assert (loaded.attention is None) == (not attention) and loaded.decoder.memorize
    tokens = Dates.sources(["27 Sep 1994", "9/27/94", "tuesday, september 27, 1994"])
    for decode in (lambda m: m.greedy(tokens), lambda m: m.beam_search(tokens, 3)):
        for got, expected in zip(decode(loaded), decode(net)):
            np.testing.assert_array_equal(got, expected)


def optimizer_states(net):
    return [opt.state_dict() for layer in net.trainable_layers()
            for opt in layer.parameter_optimizers().values()]


def test_a_seq2seq_run_resumes_bit_identically(tmp_path):
    """3 steps, save, load, 3 steps == 6 steps straight: weights of every inner layer of the
    Bidirectional encoder, the Adam state of each, the batches and the losses."""
    def start():
        np.random.seed(3)
        net = Seq2Seq.build(bidirectional=True, embedding=4, hidden=8, dtype=np.float64)
        net.data_layer = Dates.DatesData(4, sizes=(24, 4, 4))
        return net
    straight = start()
    straight.train(6)
    first = start()
    first.train(3)
    first.save(tmp_path / "run.ckpt")
    np.random.seed(99)                  # load puts back the random state saved with the data
    resumed = NeuralNetwork.load(tmp_path / "run.ckpt", Dates.DatesData(4, sizes=(24, 4, 4)))
    resumed.train(3)
    assert resumed.loss == straight.loss
    for got, expected in zip(resumed.snapshot(), straight.snapshot()):
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])
    for got, expected in zip(optimizer_states(resumed), optimizer_states(straight)):
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])


def test_a_nested_layer_larger_than_the_file_is_refused_before_it_is_built(tmp_path):
    """A Bidirectional's layer is built from the file's arguments before its arrays are
    checked: a size the file cannot hold is refused first."""
    net = NeuralNetwork.NeuralNetwork(Optimizers.Adam(1e-3))
    net.append_layer(Bidirectional.Bidirectional(LSTM.LSTM(3, 4)))
    net.save(tmp_path / "ok.ckpt")

    def grow(doc):
        doc["layers"][0]["args"]["layer"]["args"]["hidden_size"] = 10**6
    (tmp_path / "big.ckpt").write_bytes(surgery.edited((tmp_path / "ok.ckpt").read_bytes(), grow))
    with pytest.raises(checkpoint.CheckpointError, match=r"big.ckpt: layers\[0\]\.args\.layer: "
                                                         r"invalid arguments \(expected parameters "
                                                         r"the file can hold"):
        NeuralNetwork.load(tmp_path / "big.ckpt")
