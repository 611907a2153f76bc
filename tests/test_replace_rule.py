"""One rule for what a save may replace, one atomic writer (issue 26 items 1, 2 and 10).

``net.save``, ``export_onnx``, the figures and the command lines create a file where none
is, or replace a regular file that the user could replace; they refuse links,
directories, FIFOs, devices and read-only files and write nothing then. The rule checks
the mode bits itself: these tests run as root, for whom ``os.access`` is always True.
"""
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import _files
import checkpoint
import NeuralNetwork
import TrainLeNet
import TrainSequences
import onnx_export
from Data.Names import NamesData
from Data.idx import write_idx
from Layers import FullyConnected, SoftMax
from Models import plots
from Optimization import Loss, Optimizers

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_NAMES = ROOT / "trained" / "names_lstm.ckpt"
SHIPPED_LENET = ROOT / "trained" / "lenet_mnist.ckpt"


def small_network():
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(0.1))
    net.append_layer(FullyConnected.FullyConnected(3, 2))
    net.append_layer(SoftMax.SoftMax())
    net.loss_layer = Loss.CrossEntropyLoss()
    return net


@pytest.fixture(autouse=True)
def close_figures():
    # plots returns its figure open, saved or refused: none left for a later test's run, whose
    # switch to the Agg backend would have to close it (deprecated since matplotlib 3.8).
    yield
    plt.close("all")


# Every writer of the Python API, as (name in its errors, write to a path).
WRITERS = {
    "checkpoint.save": lambda path: small_network().save(path),
    "export_onnx": lambda path: onnx_export.export(small_network(), path),
    "plots": lambda path: plots.curves([{"epoch": 1, "train_loss": 1.0}], path),
    "write_idx": lambda path: write_idx(path, np.zeros(3, np.uint8)),
}


def listing(directory):
    return sorted(p.name for p in Path(directory).iterdir())


# -- item 1: the Python API refuses what the user could not replace ------------------------------

@pytest.mark.parametrize("owner", WRITERS)
def test_a_fifo_stays_a_fifo(tmp_path, owner):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(PermissionError, match=f"^{owner}: {fifo} is a FIFO .named pipe., not "
                                              f"a regular file; nothing was written$"):
        WRITERS[owner](fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and listing(tmp_path) == ["pipe"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
@pytest.mark.parametrize("owner", WRITERS)
def test_a_device_node_stays_a_device(tmp_path, owner):
    node = tmp_path / "null"                    # a twin of /dev/null, in a test directory
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    with pytest.raises(PermissionError, match="is a character device, not a regular file"):
        WRITERS[owner](node)
    assert stat.S_ISCHR(os.lstat(node).st_mode) and listing(tmp_path) == ["null"]


@pytest.mark.parametrize("owner", WRITERS)
def test_a_read_only_file_is_refused_even_for_root(tmp_path, owner):
    mine = tmp_path / "mine"
    mine.write_bytes(b"keep me")
    mine.chmod(0o444)
    with pytest.raises(PermissionError, match=r"is read-only \(mode 0444\); make it writable"):
        WRITERS[owner](mine)
    assert mine.read_bytes() == b"keep me" and stat.S_IMODE(mine.stat().st_mode) == 0o444
    assert listing(tmp_path) == ["mine"]


@pytest.mark.parametrize("owner", WRITERS)
def test_a_replaced_file_keeps_its_mode(tmp_path, owner):
    mine = tmp_path / "mine"
    mine.write_bytes(b"old")
    mine.chmod(0o600)                           # the umask (022 or 002) would give 0644/0664
    WRITERS[owner](mine)
    assert mine.read_bytes() != b"old" and stat.S_IMODE(mine.stat().st_mode) == 0o600


@pytest.mark.parametrize("owner", WRITERS)
def test_a_symbolic_link_is_neither_followed_nor_replaced(tmp_path, owner):
    victim = tmp_path / "thesis.txt"
    victim.write_text("precious")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(PermissionError, match=f"{link} is a symbolic link; .* give the file "
                                              f"itself"):
        WRITERS[owner](link)
    assert link.is_symlink() and victim.read_text() == "precious"


@pytest.mark.parametrize("owner", WRITERS)
def test_a_directory_is_refused_by_name(tmp_path, owner):
    with pytest.raises(IsADirectoryError, match=f"^{owner}: {tmp_path} is a directory"):
        WRITERS[owner](tmp_path)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("owner", WRITERS)
def test_a_path_ending_in_a_slash_names_a_directory_and_writes_nothing(tmp_path, owner):
    # pathlib drops a trailing slash: 'new.ckpt/' was written as the file new.ckpt.
    with pytest.raises(IsADirectoryError, match="ends in /, a directory's name; give a file"):
        WRITERS[owner](f"{tmp_path}/new.png/")     # a name every writer takes
    assert listing(tmp_path) == []


def test_the_refusal_comes_before_the_export_does_any_work(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import onnx_export
    monkeypatch.setattr(onnx_export, "_float_type", lambda *a: pytest.fail("work was done"))
    with pytest.raises(PermissionError, match="FIFO"):
        onnx_export.export(small_network(), fifo)


@pytest.mark.parametrize("kind", ["read-only", "FIFO"])
def test_a_new_run_asks_the_same_rule_and_replaces_nothing(tmp_path, capsys, kind):
    path = tmp_path / "lenet.ckpt"
    if kind == "FIFO":
        os.mkfifo(path)
    else:
        shutil.copy(SHIPPED_LENET, path)
        path.chmod(0o444)
    (tmp_path / "data").mkdir()             # refused before the data is read
    with pytest.raises(SystemExit) as exit_info:
        TrainLeNet.main(["--overwrite", "--epochs", "1", "--checkpoint", str(path),
                         "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"cannot save the checkpoint {path}: {_files.refusal(path)}" in err
    assert listing(tmp_path) == ["data", "lenet.ckpt"]
    if kind == "read-only":
        assert path.read_bytes() == SHIPPED_LENET.read_bytes()


# -- item 2: --export-onnx follows a run's rule ------------------------------------------------

def export_refused(capsys, main, *args):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("name", ["the same name", "a hard link"])
def test_export_never_replaces_the_checkpoint_it_exports(tmp_path, capsys, name):
    source = tmp_path / "names.ckpt"
    shutil.copy(SHIPPED_NAMES, source)
    target = source if name == "the same name" else tmp_path / "other-name.onnx"
    if target != source:
        os.link(source, target)
    before = source.read_bytes()
    err = export_refused(capsys, TrainSequences.main, "names", "--export-onnx", target,
                         "--checkpoint", source, "--overwrite")
    assert f"cannot write {target}: it is the checkpoint being exported ({source})" in err
    assert source.read_bytes() == before


@pytest.mark.parametrize("main, words", [(TrainSequences.main, ["names"]),
                                         (TrainLeNet.main, [])], ids=["sequences", "lenet"])
def test_export_never_replaces_an_unfinished_run(tmp_path, capsys, main, words):
    net, training = checkpoint.read(SHIPPED_LENET)
    unfinished = tmp_path / "run.ckpt"
    checkpoint.save(unfinished, net, dict(training, finished=False))
    before = unfinished.read_bytes()
    err = export_refused(capsys, main, *words, "--export-onnx", unfinished, "--overwrite")
    assert f"cannot write {unfinished}: it holds an unfinished run, which is never replaced" \
        in err
    assert unfinished.read_bytes() == before


def test_export_replaces_a_finished_model_with_overwrite(tmp_path, capsys):
    target = tmp_path / "old.ckpt"
    shutil.copy(SHIPPED_LENET, target)
    assert TrainLeNet.main(["--export-onnx", str(target), "--overwrite", "--quiet"]) == 0
    assert target.read_bytes()[:4] != b"PK\x03\x04"        # an ONNX model now, not a zip


# -- item 10: the small things -----------------------------------------------------------------

@pytest.mark.parametrize("owner", WRITERS)
def test_an_empty_path_is_a_clear_error(owner):
    with pytest.raises(ValueError, match=f"^{owner}: expected a file path, got ''"):
        WRITERS[owner]("")


@pytest.mark.parametrize("owner", WRITERS)
def test_a_failed_save_names_the_path_asked_for(tmp_path, owner):
    path = tmp_path / "missing directory" / "model"
    with pytest.raises(FileNotFoundError) as info:
        WRITERS[owner](path)
    assert str(info.value) == (f"{owner}: cannot write {path}: No such file or directory; "
                               f"nothing was written")
    assert ".tmp" not in str(info.value)


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match=f"^checkpoint.save: cannot write {path}: No space left"):
        small_network().save(path)
    assert listing(tmp_path) == []


FIGURE_IN_A_DIRECTORY_MADE_READ_ONLY = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    from Models import plots
    folder = Path(sys.argv[1])
    folder.chmod(0o555)             # the directory turns read-only as the figure is drawn
    try:
        plots.curves([{"epoch": 1, "train_loss": 1.0}], folder / "run_curves.png")
    except PermissionError as err:
        print(err)
    print(sorted(os.listdir(folder)))
""")


def test_a_directory_made_read_only_while_a_figure_is_drawn_keeps_no_temporary(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    command = [sys.executable, "-c", FIGURE_IN_A_DIRECTORY_MADE_READ_ONLY, str(folder)]
    if os.geteuid() == 0:       # root writes anywhere: without that capability, as a user does
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop root's right to write anywhere")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=120)
    folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == [f"plots: cannot write {folder / 'run_curves.png'}: Permission denied; "
                     f"nothing was written", "[]"], result.stdout


def test_softmax_with_no_class_says_so():
    with pytest.raises(ValueError, match=r"^SoftMax.forward: expected at least 1 class on the "
                                         r"last axis, got shape \(3, 0\)$"):
        SoftMax.SoftMax().forward(np.zeros((3, 0)))
    with pytest.raises(ValueError, match=r"got shape \(2, 4, 0\)"):
        SoftMax.SoftMax().forward(np.zeros((2, 4, 0)))


@pytest.mark.parametrize("value, error, message", [
    (0, ValueError, "NamesData: expected batch_size >= 1, got 0"),
    (2.5, TypeError, "NamesData: expected an integer batch_size, got 2.5"),
])
def test_a_batch_size_set_after_construction_is_checked(value, error, message):
    data = NamesData(4, subset=10)
    with pytest.raises(error, match=f"^{message}$"):
        data.batch_size = value
    assert data.batch_size == 4
    data.batch_size = 3
    assert data.next()[0].shape[0] == 3


# -- issue 29: one shortener, and files created exclusively ---------------------------------

def test_one_shortener_keeps_names_under_the_limit_and_their_suffix():
    long = "é" * 200 + ".ckpt"                              # 405 bytes
    short = _files.fit(long)
    assert len(os.fsencode(short)) <= 255 and short.endswith(".ckpt")
    assert short == _files.fit(long) != _files.fit("e" + long)     # the same name, the same
    assert _files.fit("model.ckpt") == "model.ckpt"                 # short one; others differ
    assert not hasattr(_files, "_stem")


@pytest.mark.parametrize("there", ["a file", "a link", "a dangling link"])
def test_create_never_replaces_and_never_follows_a_link(tmp_path, there):
    victim, path = tmp_path / "thesis.txt", tmp_path / "run.ckpt"
    victim.write_text("precious")
    if there == "a file":
        path.write_text("mine")
    else:
        path.symlink_to(victim if there == "a link" else tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        _files.create(path, lambda tmp: small_network().save(tmp))
    assert victim.read_text() == "precious" and not (tmp_path / "nowhere").exists()
    assert (path.read_text() == "mine") if there == "a file" else path.is_symlink()
    assert len(listing(tmp_path)) == 2                      # no temporary file left
    _files.create(tmp_path / "new.ckpt", lambda tmp: small_network().save(tmp))
    assert NeuralNetwork.load(tmp_path / "new.ckpt").layers
