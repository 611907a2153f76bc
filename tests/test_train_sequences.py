"""TrainSequences.py: the sequence models on TrainLeNet's machinery (issue 18 item 4)."""
import re
import shutil

import numpy as np
import pytest

import _commandline
import checkpoint
import NeuralNetwork
import TrainSequences
from Data import Names
from Layers import GRU, LSTM, RNN, Embedding, FullyConnected, SoftMax
from Data.Dates import DatesData
from Models import CharModel, RowMNIST, Seq2Seq
from Optimization import Loss, Optimizers
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
    ("dates", ["--subset", 96, "--no-attention"], 4),
], ids=["rowmnist-gru", "names", "dates-plain"])
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
    model = {"rowmnist": RowMNIST.RowMNIST, "names": CharModel.CharModel,
             "dates": Seq2Seq.Seq2Seq}[task]
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
    ([], "expected a task first (rowmnist, names, dates), got 'nothing'"),
    (["lenet"], "expected a task first (rowmnist, names, dates), got 'lenet'"),
])
def test_a_missing_task_is_one_line_and_status_2(capsys, argv, message):
    assert TrainSequences.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_a_bad_flag_names_the_task(capsys):
    err = refused(capsys, "names", "--cell", "rnn")
    assert err.startswith("TrainSequences.py names: error: argument --cell: expected one of "
                          "lstm, gru, got 'rnn'")


# -- issue 26 ----------------------------------------------------------------------------------

def char_model_of(vocabulary, loss=None):
    """A CharModel over ``vocabulary`` symbols, as a user may build one."""
    net = CharModel.CharModel(Optimizers.Adam(1e-3))
    for layer in (Embedding.Embedding(vocabulary, 8), LSTM.LSTM(8, 16),
                  FullyConnected.FullyConnected(16, vocabulary), SoftMax.SoftMax()):
        net.append_layer(layer)
    if loss is not None:
        net.loss_layer = loss
    return net


def saved_as_before(monkeypatch, net, path):
    """Save ``net`` as a release without CharModel.from_config did (it wrote any layers)."""
    with monkeypatch.context() as patch:
        if "from_config" in vars(CharModel.CharModel):
            patch.delattr(CharModel.CharModel, "from_config")
        net.save(path)
    return path


@pytest.mark.parametrize("net, message", [
    (lambda: char_model_of(30), "expected the layers Embedding(27, E) -> LSTM, GRU or RNN(E, H) "
                                "-> FullyConnected(H, 27) -> SoftMax(), got Embedding(30, 8) -> "
                                "LSTM(8, 16) -> FullyConnected(16, 30) -> SoftMax()"),
    (lambda: char_model_of(27, Loss.L2Loss()), "expected the loss CrossEntropyLoss, got L2Loss"),
], ids=["30-symbols", "L2Loss"])
def test_a_char_model_of_other_sizes_or_loss_is_refused_in_one_line(tmp_path, monkeypatch,
                                                                     capsys, net, message):
    """Issue 26 item 6: it printed a traceback (exit 1), or nats of the L2 loss."""
    path = saved_as_before(monkeypatch, net(), tmp_path / "mine.ckpt")
    err = refused(capsys, "names", "--evaluate", "--checkpoint", path)
    assert err.startswith(f"TrainSequences.py names: error: cannot load {path}: ")
    assert f"CharModel.from_config: {message}" in err
    with pytest.raises(checkpoint.CheckpointError, match=re.escape(message)):
        NeuralNetwork.load(path)
    with pytest.raises(ValueError, match="would not load, so it was not written"):
        net().save(tmp_path / "new.ckpt")                   # nor is such a file written now
    assert not (tmp_path / "new.ckpt").exists()


def test_the_sequence_models_accept_their_own_architectures_only():
    parts = {"optimizer": Optimizers.Adam(1e-3), "loss_layer": Loss.CrossEntropyLoss()}
    for cell in (LSTM.LSTM, GRU.GRU, RNN.RNN):              # what build(cell=...) makes
        net = CharModel.build(cell=cell)
        assert type(CharModel.CharModel.from_config({}, layers=net.layers, **parts)) is \
            CharModel.CharModel
    for cell in ("lstm", "gru"):
        net = RowMNIST.build(cell)
        assert RowMNIST.RowMNIST.from_config({}, layers=net.layers, **parts).input_shape == \
            (28, 28)
    rows = RowMNIST.build("lstm").layers
    for layers, got in [
            (rows[:1] + rows[2:], "LSTM(28, 128) -> FullyConnected(128, 10) -> SoftMax()"),
            ([LSTM.LSTM(28, 16), *rows[1:]], "LSTM(28, 16) -> LastStep() -> FullyConnected(128"),
            ([LSTM.LSTM(27, 128), *rows[1:]], "got LSTM(27, 128)"),
            ([*rows[:2], FullyConnected.FullyConnected(128, 12), rows[3]], "(128, 12)"),
            ([], "got no layers")]:
        with pytest.raises(ValueError, match=r"RowMNIST.from_config: expected the layers LSTM "
                                             r"or GRU\(28, H\) -> LastStep\(\) -> .*" +
                                             re.escape(got)):
            RowMNIST.RowMNIST.from_config({}, layers=layers, **parts)
    with pytest.raises(ValueError, match="RowMNIST.from_config: expected the loss "
                                         "CrossEntropyLoss, got None"):
        RowMNIST.RowMNIST.from_config({}, layers=rows, optimizer=Optimizers.Adam(1e-3))
    stacked = CharModel.build().layers
    stacked.insert(2, LSTM.LSTM(128, 128))
    with pytest.raises(ValueError, match="CharModel.from_config: expected the layers"):
        CharModel.CharModel.from_config({}, layers=stacked, **parts)


def test_epochs_is_the_run_total_on_the_command_line_and_more_in_python(tmp_path, capsys):
    """Issue 26 item 12: one meaning per surface, said in each help."""
    total = ("the total number of epochs of the run, counted from its start; with --resume the "
             "run continues up to it (in Python, train(epochs=N) runs N more)")
    with pytest.raises(SystemExit):
        main("names", "--help")
    assert total in " ".join(capsys.readouterr().out.split())
    docs = " ".join((ROOT / "docs" / "training.md").read_text().split())
    assert ("`--epochs` is the total number of epochs of the run, counted from its start; with "
            "`--resume` the run continues up to it" in docs)
    assert "`train(epochs=N)` runs N more epochs" in docs
    assert "``E`` more passes" in " ".join(NeuralNetwork.NeuralNetwork.train.__doc__.split())
    # ... and the behaviour is what they say.
    path = tmp_path / "names.ckpt"
    small = ["--subset", 40, "--validation", 10, "--no-plot", "--quiet"]
    assert main("names", "--epochs", 1, *small, "--checkpoint", path) == 0
    assert main("names", "--resume", "--epochs", 2, "--quiet", "--checkpoint", path) == 0
    net = NeuralNetwork.load(path, Names.NamesData(64, subset=40, dtype=np.float32))
    assert len(net.history) == 2                            # up to 2, not 1 + 2
    net.train(epochs=2, progress=False)
    assert len(net.history) == 4                            # 2 more


def test_the_names_header_prints_the_split_used_and_every_loss_names_its_unit(tmp_path, capsys):
    """Issue 26 item 14: the header said 8879 validation names with --validation 500, and
    the epochs' loss per name stood beside a result per character, neither named."""
    assert main("names", "--subset", 60, "--validation", 20, "--epochs", 1, "--no-plot",
                "--checkpoint", tmp_path / "n.ckpt") == 0
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    assert ("surnames from names 0.3.0 (dist.all.last): 60 training, 20 validation, 8881 test "
            "names; losses in nats per name" in out)
    val_loss = float(re.search(r"val_loss=([0-9.]+)", err)[1])    # the epoch's line or bar
    per_name = float(out.split("test nats / name")[1].split()[0])
    per_character = float(out.split("test nats / character")[1].split()[0])
    # After 2 steps the model is near uniform: a name's loss is about its length times ln 27.
    assert 0.9 < val_loss / per_name < 1.1
    assert per_character < np.log(27) + 0.2 < 2 * np.log(27) < per_name
    test_x, test_y = Names.NamesData(64).get_test_set()
    assert per_name == pytest.approx(per_character * test_y.any(axis=-1).sum() / len(test_x),
                                     abs=1e-3)


# -- issue 29: one sequence trainer, which makes what trained/ ships ---------------------------

@pytest.mark.parametrize("task", ["names", "dates"])
def test_a_new_run_follows_the_recipe_of_the_shipped_models(tmp_path, task):
    """The shipped models were made by: np.random.seed(seed), build, (dates: seed again, the
    twin's batch order), train epoch by epoch. The command line's first epoch is the same."""
    path = tmp_path / "run.ckpt"
    assert main(task, "--epochs", 1, "--subset", 64, "--no-plot", "--quiet", "--seed", 3,
                "--checkpoint", path) == 0
    np.random.seed(3)
    if task == "names":
        net = CharModel.build()
        net.data_layer = Names.NamesData(64, subset=64, dtype=np.float32)
    else:
        net = Seq2Seq.build()
        np.random.seed(3)
        net.data_layer = DatesData(64, dtype=np.float32, subset=64)
    net.train(epochs=1, validation=net.data_layer.get_validation_set(), progress=False)
    assert NeuralNetwork.load(path).history == net.history


def test_dates_trains_evaluates_and_logs(tmp_path, capsys):
    path = tmp_path / "dates.ckpt"
    assert main("dates", "--epochs", 1, "--subset", 64, "--quiet", "--checkpoint", path) == 0
    out = capsys.readouterr().out
    exact = out.split("test exact-match (greedy)")[1].split()[0]
    assert "'27 Sep 1994' ->" in out
    log = (tmp_path / "dates.log").read_text()
    assert log.splitlines()[0].split() == ["epoch", "train", "loss", "validation", "loss",
                                           "validation", "accuracy"]
    assert re.search(rf"^test exact-match \(greedy\) +{exact}$", log, flags=re.M)
    assert (tmp_path / "dates_curves.png").stat().st_size > 1000
    assert main("dates", "--evaluate", "--checkpoint", path) == 0
    assert exact in capsys.readouterr().out
    assert NeuralNetwork.load(path).attention is not None


def test_the_old_sequence_scripts_are_gone():
    assert not (ROOT / "examples" / "train_sequences.py").exists()
    assert not (ROOT / "examples" / "TrainSequence.py").exists()
    assert (ROOT / "examples" / "AddingProblem.py").is_file()
