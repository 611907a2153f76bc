"""TrainSequences.py: the sequence models on TrainLeNet's machinery (issue 18 item 4)."""
import shutil

import numpy as np
import pytest

import _commandline
import NeuralNetwork
import TrainSequences
from Models import CharModel, RowMNIST
from test_trainer import ROOT, ctrl_c_at, same_run, small_mnist  # noqa: F401 - a fixture


def main(*args):
    return TrainSequences.main([str(a) for a in args])


def refused(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(*args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("task, extra, cut", [
    ("rowmnist", ["--cell", "gru", "--validation", 80, "--subset", 200], 4),
    ("names", ["--validation", 40, "--subset", 150], 2),
], ids=["rowmnist-gru", "names"])
def test_interrupt_and_bare_resume_equal_a_straight_run(tmp_path, small_mnist, monkeypatch,
                                                         capsys, task, extra, cut):
    args = [task, "--epochs", 2, "--batch-size", 32, "--no-plot", *extra]
    if task == "rowmnist":
        args += ["--data-dir", small_mnist]
    assert main(*args, "--checkpoint", tmp_path / "straight.ckpt") == 0
    monkeypatch.setattr(_commandline.StopRequest, "__call__", ctrl_c_at(cut))
    assert main(*args, "--checkpoint", tmp_path / "cut.ckpt") == 130
    out = capsys.readouterr().out
    assert out.split("Continue with: ")[1].strip().endswith(
        f"TrainSequences.py {task} --resume --checkpoint {tmp_path / 'cut.ckpt'}")
    monkeypatch.undo()
    assert main(task, "--resume", "--checkpoint", tmp_path / "cut.ckpt") == 0
    model = RowMNIST.RowMNIST if task == "rowmnist" else CharModel.CharModel
    straight, resumed = (NeuralNetwork.load(tmp_path / n) for n in ("straight.ckpt", "cut.ckpt"))
    assert type(straight) is model and len(straight.history) == 2
    same_run(straight, resumed)


def test_a_names_run_reports_nats_per_character_and_writes_its_curves(tmp_path, capsys):
    path = tmp_path / "names.ckpt"
    assert main("names", "--epochs", 1, "--subset", 100, "--validation", 20, "--quiet",
                "--checkpoint", path) == 0
    out = capsys.readouterr().out
    nats = float(out.split("test nats / character")[1].split()[0])
    assert 2.0 < nats < np.log(27) + 0.2                    # near uniform after 4 steps
    assert (tmp_path / "names_curves.png").stat().st_size > 1000
    assert main("names", "--evaluate", "--checkpoint", path) == 0
    assert f"{nats:.4f}" in capsys.readouterr().out


def test_a_checkpoint_of_another_task_is_refused(tmp_path, capsys):
    lenet = ROOT / "trained" / "lenet_mnist.ckpt"
    for task, model in (("names", "CharModel"), ("rowmnist", "RowMNIST")):
        err = refused(capsys, task, "--evaluate", "--checkpoint", lenet)
        assert f"it holds a LeNet, not a {model}" in err
    shutil.copy(lenet, tmp_path / "lenet.ckpt")
    err = refused(capsys, "names", "--resume", "--checkpoint", tmp_path / "lenet.ckpt")
    assert "not a CharModel" in err


@pytest.mark.parametrize("argv, message", [
    ([], "expected a task first (rowmnist or names), got 'nothing'"),
    (["lenet"], "expected a task first (rowmnist or names), got 'lenet'"),
])
def test_a_missing_task_is_one_line_and_status_2(capsys, argv, message):
    assert TrainSequences.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_a_bad_flag_names_the_task(capsys):
    err = refused(capsys, "names", "--cell", "rnn")
    assert err.startswith("TrainSequences.py names: error: argument --cell: expected one of "
                          "lstm, gru, got 'rnn'")
