"""The command lines' promises, through TrainLeNet.py: nothing a user saved is lost or replaced
(issue 20 items 1-4, 6, 8), small things (issue 21 item 6), --quiet and --export-onnx."""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import _commandline
import NeuralNetwork
import TrainLeNet
from Data.MNIST import FILES
from Data.idx import write_idx
from Layers import FullyConnected
from Models import LeNet, plots
from Optimization import Loss, Optimizers
from test_trainer import ROOT, ctrl_c_at, main, run, small_mnist  # noqa: F401 - a fixture

LONG = "x" * 245 + ".ckpt"                   # a file name of 250 bytes: it fits, barely
TOO_LONG = "x" * 251 + ".ckpt"               # 256 bytes: no file system takes it


@pytest.fixture
def common(small_mnist):
    return ["--data-dir", small_mnist, "--epochs", 1, "--validation", 80, "--no-plot"]


@pytest.fixture
def finished(tmp_path, common):
    """A finished run's model, as another run leaves it."""
    path = tmp_path / "elsewhere" / "finished.ckpt"
    assert main(*common, "--checkpoint", path) == 0
    return path


def one_line_refusal(result):
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "MNIST from" not in result.stdout                 # nothing read, nothing trained
    return lines[0]


def refused_in_process(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(*args)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "MNIST from" not in out                           # nothing read, nothing trained
    return err


# -- issue 20 item 1: long names --------------------------------------------------------------

def test_a_250_byte_checkpoint_name_is_trained_saved_and_plotted(tmp_path, small_mnist):
    path = tmp_path / LONG
    assert main("--data-dir", small_mnist, "--epochs", 1, "--validation", 80,
                "--checkpoint", path) == 0
    assert len(LeNet.LeNet.load(path).history) == 1
    figures = [p.name for p in tmp_path.glob("*.png")]
    assert len(figures) == 4 and all(len(name) <= 255 for name in figures)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temporaries


@pytest.mark.parametrize("mode", ["new run", "--evaluate", "--resume", "--data-dir",
                                  "--export-onnx"])
def test_a_name_over_255_bytes_is_refused_up_front(tmp_path, mode):
    long = tmp_path / TOO_LONG
    args = {"new run": ["--checkpoint", long], "--evaluate": ["--evaluate", "--checkpoint", long],
            "--resume": ["--resume", "--checkpoint", long],
            "--data-dir": ["--data-dir", tmp_path / ("d" * 256), "--checkpoint", tmp_path / "a"],
            "--export-onnx": ["--export-onnx", long]}[mode]
    line = one_line_refusal(run(*args))
    assert "expected file and directory names of at most 255 bytes, got one of 256" in line


def test_a_full_disk_with_a_long_name_still_saves_in_the_temporary_directory(
        tmp_path, common, monkeypatch, capsys):
    import checkpoint
    original, target = checkpoint.save, tmp_path / LONG

    def disk_full(path, *args, **kwargs):
        if Path(path).parent == target.parent:
            raise OSError(28, "No space left on device")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "save", disk_full)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert main(*common, "--checkpoint", target) == 1
    saved = list((tmp_path / "tmp").iterdir())
    assert len(saved) == 1 and f"saving to {saved[0]} instead" in capsys.readouterr().err
    assert len(LeNet.LeNet.load(saved[0]).history) == 1 and not target.exists()


# -- item 2: the path is checked again when the run saves -------------------------------------

@pytest.mark.parametrize("ends", ["interrupted", "finished"])
def test_a_model_that_appears_during_a_run_is_never_replaced(tmp_path, common, finished,
                                                             monkeypatch, capsys, ends):
    path = tmp_path / "model.ckpt"

    def another_run_saves_there(self, net, iteration, loss):
        if iteration == 2:
            shutil.copy(finished, path)
        self.requested = self.requested or (ends == "interrupted" and iteration == 3)
        return self.requested

    monkeypatch.setattr(_commandline.StopRequest, "__call__", another_run_saves_there)
    status = main(*common, "--checkpoint", path)
    assert path.read_bytes() == finished.read_bytes()
    aside = tmp_path / ("model.interrupted.ckpt" if ends == "interrupted" else "model-2.ckpt")
    assert status == (130 if ends == "interrupted" else 1) and aside.is_file()
    assert f"{path} changed while this run trained" in capsys.readouterr().err
    assert len(LeNet.LeNet.load(aside).loss) == (3 if ends == "interrupted" else 5)


# -- item 3: a new run replaces a saved model only when told ----------------------------------

@pytest.mark.parametrize("kind", ["a network saved without a training run",
                                  "the model of a finished run"])
def test_a_new_run_replaces_a_saved_model_only_with_overwrite(tmp_path, common, finished, kind):
    path = tmp_path / "model.ckpt"
    if kind.startswith("a network"):
        LeNet.LeNet().save(path)
    else:
        shutil.copy(finished, path)
    before = path.read_bytes()
    line = one_line_refusal(run(*common, "--checkpoint", path))
    assert f"{path} holds {kind}; --overwrite replaces it" in line
    assert path.read_bytes() == before
    assert main(*common, "--seed", 1, "--overwrite", "--checkpoint", path) == 0   # not the
    assert path.read_bytes() != before                    # same bytes as the finished run
    assert len(LeNet.LeNet.load(path).history) == 1


# -- item 4: figures never replace what the run did not write, never follow a link -------------

def test_a_figure_path_that_is_a_link_is_refused_up_front(tmp_path, small_mnist):
    victim = tmp_path / "thesis.txt"
    victim.write_text("precious")
    (tmp_path / "run_curves.png").symlink_to(victim)
    for extra in ([], ["--overwrite"]):
        line = one_line_refusal(run("--data-dir", small_mnist, "--epochs", 1, *extra,
                                    "--checkpoint", tmp_path / "run.ckpt"))
        assert f"cannot write the figure {tmp_path / 'run_curves.png'}" in line
        assert "is a symbolic link" in line
    assert victim.read_text() == "precious"


def test_a_figure_a_new_run_did_not_write_is_replaced_only_with_overwrite(tmp_path, small_mnist):
    mine = tmp_path / "run_confusion.png"
    mine.write_bytes(b"my own picture")
    line = one_line_refusal(run("--data-dir", small_mnist, "--epochs", 1,
                                "--checkpoint", tmp_path / "run.ckpt"))
    assert f"{mine} exists; --overwrite replaces it" in line
    assert mine.read_bytes() == b"my own picture"


def test_a_link_put_in_place_during_the_run_is_not_followed(tmp_path, small_mnist, monkeypatch,
                                                           capsys):
    victim = tmp_path / "thesis.txt"
    victim.write_text("precious")
    original = plots.confusion

    def confusion_then_a_link(*args):
        (tmp_path / "run_mistakes.png").symlink_to(victim)
        return original(*args)

    monkeypatch.setattr(plots, "confusion", confusion_then_a_link)
    path = tmp_path / "run.ckpt"
    assert main("--data-dir", small_mnist, "--epochs", 1, "--validation", 80,
                "--checkpoint", path) == 1
    assert f"the model is saved in {path}" in capsys.readouterr().err
    assert victim.read_text() == "precious" and (tmp_path / "run_mistakes.png").is_symlink()
    assert (tmp_path / "run_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temporaries


# -- item 6 and 8: places that would fail only at save time, empty data -----------------------

@pytest.mark.parametrize("case", ["dangling link", "link loop", "another user's file",
                                  "a directory", "under a file", "read-only directory"])
def test_a_place_that_would_fail_at_save_time_is_refused_up_front(tmp_path, common, finished,
                                                                  monkeypatch, capsys, case):
    if case == "a directory":
        path, message = tmp_path, "is a directory; give a file name"
    elif case == "under a file":
        (tmp_path / "file").write_text("x")
        path, message = tmp_path / "file" / "m.ckpt", "Not a directory"
    elif case == "read-only directory":
        if os.geteuid() == 0:
            pytest.skip("root may write anywhere")
        (tmp_path / "ro").mkdir(mode=0o500)
        path, message = tmp_path / "ro" / "m.ckpt", "Permission denied"
    elif case == "dangling link":
        (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
        path, message = tmp_path / "gone" / "sub" / "m.ckpt", "is a symbolic link to nothing"
    elif case == "link loop":
        (tmp_path / "a").symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(tmp_path / "a")
        path, message = tmp_path / "a" / "m.ckpt", "is a loop of symbolic links"
    else:                       # /tmp-like: only the owner may replace a file there
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user needs root")
        shared = tmp_path / "shared"
        shared.mkdir()
        shared.chmod(0o1777)
        path, message = shared / "m.ckpt", "belongs to another user (uid 4242) in a sticky"
        shutil.copy(finished, path)
        os.chown(path, 4242, 4242)
        monkeypatch.setattr(os, "geteuid", lambda: 1000)      # as that user's neighbour
    err = refused_in_process(capsys, *common, "--overwrite", "--checkpoint", path)
    assert message in err


def test_a_data_dir_that_is_a_link_loop_is_refused(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    line = one_line_refusal(run("--data-dir", tmp_path / "a", "--checkpoint", tmp_path / "m"))
    assert "argument --data-dir: " in line and "is a loop of symbolic links" in line


def test_a_test_set_of_0_images_is_refused_before_training(tmp_path, small_mnist):
    names = [f for f in FILES if f.startswith("t10k")]
    write_idx(small_mnist / (names[0] + ".gz"), np.zeros((0, 28, 28), np.uint8))
    write_idx(small_mnist / (names[1] + ".gz"), np.zeros(0, np.uint8))
    path = tmp_path / "m.ckpt"
    line = one_line_refusal(run("--data-dir", small_mnist, "--validation", 80,
                                "--checkpoint", path))
    assert f"the test set from {small_mnist} holds 0 images" in line and not path.exists()


# -- issue 21 item 6: small things ------------------------------------------------------------

def test_one_epoch_and_one_step_are_singular(tmp_path, common, monkeypatch, capsys):
    path = tmp_path / "m.ckpt"
    monkeypatch.setattr(_commandline.StopRequest, "__call__", ctrl_c_at(1))
    assert main(*common, "--checkpoint", path) == 130
    monkeypatch.undo()
    assert main("--resume", "--checkpoint", path) == 0
    assert main("--resume", "--checkpoint", path) == 0
    out = capsys.readouterr().out
    assert "Interrupted after 0 epochs and 1 step;" in out
    assert "resuming" in out and "0 epochs and 1 step done" in out
    assert "the run finished (1 epoch)" in out
    assert "1 epochs" not in out and "1 steps" not in out


def test_help_shows_no_placeholder_defaults():
    result = run("--help")
    assert result.returncode == 0
    assert "see above" not in result.stdout and "(default: None)" not in result.stdout
    for flag in ("--overwrite", "--quiet", "--export-onnx", "--no-plot"):
        assert flag in result.stdout


def test_resume_keeps_the_no_plot_choice_of_the_run(tmp_path, small_mnist, monkeypatch):
    path = tmp_path / "m.ckpt"
    monkeypatch.setattr(_commandline.StopRequest, "__call__", ctrl_c_at(2))
    assert main("--data-dir", small_mnist, "--epochs", 1, "--validation", 80, "--no-plot",
                "--checkpoint", path) == 130
    monkeypatch.undo()
    assert main("--resume", "--checkpoint", path) == 0
    assert not list(tmp_path.glob("*.png"))
    assert main("--resume", "--checkpoint", path, "--epochs", 2, "--plot") == 0
    assert len(list(tmp_path.glob("m_*.png"))) == 4            # asked for now


def test_a_second_ctrl_c_says_that_nothing_was_saved(tmp_path, common, monkeypatch, capsys):
    def twice(self, net, iteration, loss):
        if iteration == 2:
            self.requested = True              # the first Ctrl-C ...
            raise KeyboardInterrupt            # ... and the second, as the handler raises it
        return self.requested

    monkeypatch.setattr(_commandline.StopRequest, "__call__", twice)
    path = tmp_path / "m.ckpt"
    assert main(*common, "--checkpoint", path) == 130
    err = capsys.readouterr().err
    assert "stopped at once by a second Ctrl-C; nothing of this run was saved" in err
    assert not path.exists()


# -- --quiet and --export-onnx ----------------------------------------------------------------

def test_quiet_prints_only_the_result(tmp_path, small_mnist):
    result = run("--data-dir", small_mnist, "--epochs", 1, "--validation", 80, "--quiet",
                 "--checkpoint", tmp_path / "m.ckpt")
    assert result.returncode == 0 and result.stderr == ""
    assert "test accuracy" in result.stdout and "checkpoint" in result.stdout
    for chatter in ("MNIST from", "parameters", "epoch 1", "figures:"):
        assert chatter not in result.stdout
    assert len(list(tmp_path.glob("m_*.png"))) == 4


@pytest.mark.skipif(not hasattr(NeuralNetwork.NeuralNetwork, "export_onnx"),
                    reason="NeuralNetwork.export_onnx is not on this branch yet")
def test_export_onnx_writes_the_shipped_model(tmp_path):
    import onnxruntime
    path = tmp_path / "lenet.onnx"
    result = run("--export-onnx", path)
    assert result.returncode == 0, result.stderr
    net = LeNet.LeNet.load(TrainLeNet.TASK.shipped)
    x = np.random.default_rng(0).random((3, 1, 28, 28), np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, net.test(x), rtol=1e-5, atol=1e-6)


def test_export_onnx_refusals(tmp_path):
    existing = tmp_path / "lenet.onnx"
    existing.write_bytes(b"mine")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    plain = tmp_path / "plain.ckpt"
    small = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(0.1))
    small.append_layer(FullyConnected.FullyConnected(3, 2))
    small.loss_layer = Loss.CrossEntropyLoss()
    small.save(plain)
    for args, message in [
            (["--export-onnx", existing], f"{existing} exists; --overwrite replaces it"),
            (["--export-onnx", tmp_path / "gone" / "x.onnx"], "is a symbolic link to nothing"),
            (["--export-onnx", tmp_path / "x.onnx", "--evaluate"], "exclude each other"),
            (["--export-onnx", tmp_path / "x.onnx", "--checkpoint", plain],
             "it holds a NeuralNetwork, not a LeNet")]:
        assert message in one_line_refusal(run(*args))
    assert existing.read_bytes() == b"mine" and not (tmp_path / "x.onnx").exists()


def test_only_command_lines_import_the_machinery():
    """_commandline is the top floor of the import tree: the framework never imports it."""
    import ast
    importers = set()
    framework = [p for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
                 and p.name != "_commandline"]
    for path in [*ROOT.glob("*.py"), *(p for d in framework for p in d.rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "_commandline" for n in names):
                importers.add(path.name)
    assert importers == {"TrainLeNet.py", "TrainSequences.py"}
