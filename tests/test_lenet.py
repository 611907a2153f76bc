"""LeNet: the architecture of Models/LeNet.py's docstring, float32 end to end, the classic usage."""
import numpy as np

from Layers import FullyConnected, Pooling
from Models import LeNet
from Optimization import Constraints, Loss, Optimizers


class TinyDigits:
    """A few random 28x28 'images' with labels, as a data layer that knows its size."""

    def __init__(self, n=32, batch_size=8, dtype=np.float64):
        rng = np.random.default_rng(0)
        self.x = rng.random((n, 1, 28, 28)).astype(dtype)
        self.y = np.eye(10)[rng.integers(0, 10, n)]
        self.batch_size, self._i = batch_size, 0

    def __len__(self):
        return len(self.x)

    def next(self):
        idx = np.arange(self._i, self._i + self.batch_size) % len(self.x)
        self._i += self.batch_size
        return self.x[idx], self.y[idx]


def test_architecture():
    net = LeNet.build()
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Conv", "ReLU", "Pooling", "Conv", "ReLU", "Pooling", "Flatten",
                     "FullyConnected", "ReLU", "FullyConnected", "ReLU", "FullyConnected", "SoftMax"]
    assert net.layers[0].weights.shape == (6, 1, 5, 5)
    assert net.layers[3].weights.shape == (16, 6, 5, 5)
    assert [layer.output_size for layer in net.layers if isinstance(layer, FullyConnected.FullyConnected)] \
        == [120, 84, 10]
    assert all(p.pooling_shape == (2, 2) == p.stride_shape
               for p in net.layers if isinstance(p, Pooling.Pooling))
    assert isinstance(net.optimizer, Optimizers.Adam) and net.optimizer.learning_rate == 5e-4
    assert isinstance(net.optimizer.regularizer, Constraints.L2_Regularizer)
    assert net.optimizer.regularizer.alpha == 4e-4
    assert isinstance(net.loss_layer, Loss.CrossEntropyLoss)
    assert "total" in net.summary((1, 28, 28)) and "107,786" in net.summary((1, 28, 28))


def test_float32_end_to_end():
    net = LeNet.build()                                   # float32 by default
    net.data_layer = TinyDigits(dtype=np.float64)         # float64 batches are cast on entry
    dtypes = []
    for layer in net.layers:
        for name in ("forward", "backward"):
            method = getattr(layer, name)
            setattr(layer, name, (lambda m: lambda t, **kw: (lambda out: dtypes.append(
                None if out is None else out.dtype) or out)(m(t, **kw)))(method))
    net.train(3)
    assert set(dtypes) == {np.dtype(np.float32), None}    # None: the first layer's skipped error
    for layer in net.trainable_layers():
        optimizers = layer._optimizers.values()
        assert all(p.dtype == np.float32 for p in layer.parameters().values())
        assert all(o.v.dtype == np.float32 and o.r.dtype == np.float32 for o in optimizers)
        assert layer.gradient_weights.dtype == np.float32


def test_float64_build_is_exact_float64():
    net = LeNet.build(dtype=np.float64)
    assert all(p.dtype == np.float64 for layer in net.trainable_layers()
               for p in layer.parameters().values())
    out = net.test(np.random.rand(2, 1, 28, 28))
    assert out.dtype == np.float64 and np.allclose(out.sum(axis=1), 1)


def test_readme_usage_with_a_small_data_layer(tmp_path):
    model = LeNet.LeNet()
    optimizer = Optimizers.Adam(learning_rate=0.001, regularizer={'type': 'L2', 'lambda': 0.0001})
    model.optimizer = optimizer
    assert all(layer.optimizer.learning_rate == 0.001 for layer in model.trainable_layers())
    model.loss_layer = Loss.CrossEntropyLoss()
    model.data_layer = TinyDigits()
    mean_loss = model.train(epochs=2, batch_size=8)
    assert len(model.loss) == 8 and np.isfinite(mean_loss)
    model.save(tmp_path / "lenet.ckpt")
    loaded = LeNet.LeNet.load(tmp_path / "lenet.ckpt")
    x = model.data_layer.x[:4]
    np.testing.assert_array_equal(loaded.test(x), model.test(x))
    assert isinstance(loaded, LeNet.LeNet) and loaded.data_layer is None


def test_lenet_trains_on_mnist_by_default(monkeypatch):
    created = []

    class FakeMNIST(TinyDigits):
        def __init__(self, batch_size, dtype):
            super().__init__(batch_size=batch_size)
            created.append((batch_size, dtype))

    import Data.MNIST
    monkeypatch.setattr(Data.MNIST, "MNISTData", FakeMNIST)
    model = LeNet.LeNet()
    model.train(epochs=1, batch_size=16)
    assert created == [(16, np.float32)] and len(model.loss) == 2


def test_learns_a_little():
    np.random.seed(0)
    net = LeNet.build()
    net.data_layer = TinyDigits(n=16, batch_size=16)
    first = net.train(1)                                  # loss per sample
    net.train(30)
    assert net.train(1) < 0.5 * first                     # it can fit 16 images



def test_errors_that_teach():
    import pytest
    from Layers import Flatten, SoftMax
    from Optimization import Loss
    fc = FullyConnected.FullyConnected(16 * 7 * 7, 10)
    with pytest.raises(ValueError, match=r"FullyConnected.forward: expected input of shape "
                                         r"\(batch, 784\), got \(2, 16, 7, 7\); an image batch\? "
                                         r"put a Flatten layer before this one"):
        fc.forward(np.zeros((2, 16, 7, 7)))
    scores = fc.forward(Flatten.Flatten().forward(np.random.rand(2, 16, 7, 7)))
    labels = np.eye(10)[[1, 2]]
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.forward: expected probabilities in "
                                         r"\[0, 1\] \(the output of a SoftMax\), got values from "
                                         r".*; is the SoftMax layer missing\?"):
        Loss.CrossEntropyLoss().forward(scores, labels)
    assert Loss.CrossEntropyLoss().forward(SoftMax.SoftMax().forward(scores), labels) > 0
