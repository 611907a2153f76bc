"""Output that fits where it goes: bars where a person watches, plain lines in a log,
nothing with ``progress=False``; ``NeuralNetworkTests.py Bonus`` prints only its table."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import NeuralNetwork
from Layers import FullyConnected, SoftMax
from Optimization import Loss, Optimizers, Schedules, Trainer

ROOT = Path(__file__).resolve().parent.parent


class Blobs:
    """30 samples of 3 classes in batches of 10: three steps per epoch."""
    batch_size = 10

    def __len__(self):
        return 30

    def next(self):
        labels = np.random.randint(0, 3, 10)
        return np.random.rand(10, 4) + labels[:, None], np.eye(3)[labels]


def small_net():
    np.random.seed(0)
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-2))
    net.append_layer(FullyConnected.FullyConnected(4, 3))
    net.append_layer(SoftMax.SoftMax())
    net.loss_layer, net.data_layer = Loss.CrossEntropyLoss(), Blobs()
    return net


def validation():
    labels = np.arange(9) % 3
    return np.random.rand(9, 4) + labels[:, None], np.eye(3)[labels]


@pytest.mark.parametrize("progress", [None, True])
def test_redirected_output_is_one_plain_line_per_epoch(capsys, monkeypatch, progress):
    monkeypatch.setattr(Trainer, "interactive", lambda: False)
    net = small_net()
    net.train(epochs=3, validation=validation(), progress=progress)
    out, err = capsys.readouterr()
    assert "\r" not in out + err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    for line, record in zip(lines, net.history):
        assert f"loss={record['train_loss']:.4f}" in line
        assert f"val_loss={record['validation_loss']:.4f}" in line
        assert f"val_acc={record['validation_accuracy']:.4f}" in line


def test_a_watched_run_draws_bars(capsys, monkeypatch):
    monkeypatch.setattr(Trainer, "interactive", lambda: True)
    small_net().train(epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "\r" in err and "epoch 2/2" in err and "3/3" in err      # tqdm's frames


@pytest.mark.parametrize("watched", [False, True], ids=["redirected", "terminal"])
def test_progress_false_prints_nothing(capfd, monkeypatch, watched):
    monkeypatch.setattr(Trainer, "interactive", lambda: watched)
    net = small_net()
    stopper = Schedules.EarlyStopping(patience=1, min_delta=10.0)   # stops after epoch 2
    net.train(epochs=4, validation=validation(), early_stopping=stopper, progress=False)
    net.train(5, progress=False)
    assert len(net.history) == 2
    assert capfd.readouterr() == ("", "")


def test_classic_iterations_report_one_line_when_asked(capsys, monkeypatch):
    monkeypatch.setattr(Trainer, "interactive", lambda: False)
    net = small_net()
    net.train(4)
    assert capsys.readouterr() == ("", "")                  # quiet by default, as classic
    net.train(4, progress=True)
    out, err = capsys.readouterr()
    assert err.startswith("train: 4 iterations, loss=") and "\r" not in err


def test_a_short_run_into_files_writes_no_carriage_return(tmp_path):
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        status = subprocess.run(
            [sys.executable, str(ROOT / "TrainLeNet.py"), "--subset", "300", "--epochs", "2",
             "--validation", "100", "--no-plot", "--checkpoint", str(tmp_path / "quick.ckpt")],
            stdout=stdout, stderr=stderr, cwd=ROOT, timeout=300).returncode
    text = out.read_bytes() + err.read_bytes()
    assert status == 0, text.decode()[-2000:]
    assert b"\r" not in text
    epochs = [line for line in err.read_text().splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all("val_acc=" in line for line in epochs)


def test_bonus_prints_its_table_without_pytest_progress():
    code = ("import sys, NeuralNetworkTests as t; t.BONUS = t.BONUS[:2]; "
            "sys.exit(t.bonus())")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| group") and len(lines) == 4, result.stdout
    assert "TestTanH" in lines[2] and "OK" in lines[2]


def test_bonus_names_a_failed_test_below_the_table():
    code = ("import sys, NeuralNetworkTests as t; t.BONUS = t.BONUS[:1]\n"
            "def test_broken(self):\n    assert False\n"
            "t.TestTanH.test_broken = test_broken\nsys.exit(t.bonus())")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| group") and "FAIL" in lines[2], result.stdout
    assert "failed: TestTanH.test_broken" in result.stdout
