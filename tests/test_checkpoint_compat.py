"""Checkpoints written by the release before the state protocol still load, and give the
outputs they gave (tests/data/checkpoints, made by its make_checkpoints.py).

The stored outputs were computed on another machine: the last bits of every matrix product
depend on the BLAS kernel that the processor and the environment pick (OPENBLAS_CORETYPE,
the thread count), so they are compared to within round-off for their dtype
(``assert_outputs``). What this process computes twice, save -> load, is compared bit for bit.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import checkpoint
import NeuralNetwork
from Models import LeNet

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "checkpoints"
sys.path.insert(0, str(DATA))
import make_checkpoints                                      # noqa: E402

KINDS = sorted(p.stem for p in DATA.glob("*.ckpt") if p.stem != "lenet_run")


# Round-off of a few small networks and two training steps: another BLAS kernel moves float64
# outputs by ~1e-16 and float32 ones (the LeNet) by ~1e-6; a wrong weight moves them by 1e-3.
# (Probabilities near 0 need the atol floor: their relative round-off is larger.)
TOLERANCE = {np.dtype(np.float64): {"rtol": 1e-12, "atol": 1e-14},
             np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-6}}


def assert_outputs(got, expected):
    """``got`` (this machine) equals ``expected`` (stored) to round-off for their dtype."""
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **TOLERANCE[got.dtype])


def test_every_kind_is_there():
    assert set(KINDS) == set(make_checkpoints.KINDS) | {"lenet_float32"}


@pytest.mark.parametrize("name", KINDS)
def test_an_old_checkpoint_gives_identical_outputs_and_trains_on_identically(name):
    net = NeuralNetwork.load(DATA / f"{name}.ckpt")
    x = np.load(DATA / f"{name}.input.npy")
    assert_outputs(net.test(x), np.load(DATA / f"{name}.output.npy"))
    batch = np.load(DATA / f"{name}.batch.npz")
    make_checkpoints.after_training(net, batch["x"], batch["y"])   # uses the optimizer state
    assert_outputs(net.test(x), np.load(DATA / f"{name}.trained.npy"))


@pytest.mark.parametrize("name", KINDS)
def test_a_resaved_old_checkpoint_loads_identically(name, tmp_path):
    net = NeuralNetwork.load(DATA / f"{name}.ckpt")
    net.save(tmp_path / "again.ckpt")
    again = NeuralNetwork.load(tmp_path / "again.ckpt")
    assert type(again) is type(net)
    x = np.load(DATA / f"{name}.input.npy")
    assert_outputs(again.test(x), np.load(DATA / f"{name}.output.npy"))
    np.testing.assert_array_equal(again.test(x), net.test(x))    # both computed here


def test_the_old_lenet_is_a_lenet():
    net = LeNet.LeNet.load(DATA / "lenet_float32.ckpt")
    assert type(net) is LeNet.LeNet and net.dtype is np.float32 and net.input_shape == (1, 28, 28)


def test_the_shipped_model_gives_identical_outputs():
    net = LeNet.LeNet.load(ROOT / "trained" / "lenet_mnist.ckpt")
    x = np.load(DATA / "shipped.input.npy")
    assert_outputs(net.test(x), np.load(DATA / "shipped.output.npy"))


def test_the_old_interrupted_run_reads_as_the_old_reader_read_it():
    net, training = checkpoint.read(DATA / "lenet_run.ckpt")
    facts = json.loads((DATA / "lenet_run.training.json").read_text())
    arrays = np.load(DATA / "lenet_run.training.npz")
    stopper, schedule = training["early_stopping"], training["schedule"]
    assert training["settings"] == facts["settings"] and not training["finished"]
    assert training["data"]["position"] == facts["position"]
    np.testing.assert_array_equal(training["data"]["order"], arrays["order"])
    assert [training["rng"][0], *map(float, training["rng"][2:])] == facts["rng"]
    np.testing.assert_array_equal(training["rng"][1], arrays["rng_keys"])
    assert [type(schedule).__name__, schedule.factor, schedule.initial] == facts["schedule"]
    state = stopper.state_dict()
    assert [stopper.patience, stopper.min_delta, state["best"], state["best_epoch"],
            state["epoch"]] == facts["stopper"]
    np.testing.assert_array_equal(state["best_state"][0]["weights"], arrays["best_weights"])
    assert net.history == facts["history"] and list(net.epoch_progress) == facts["epoch_progress"]
    np.testing.assert_array_equal(net.loss, arrays["loss"])
    adam = net.layers[0].parameter_optimizers()["weights"]
    assert adam.k == facts["adam_k"] and net.optimizer.learning_rate == facts["learning_rate"]
    np.testing.assert_array_equal(adam.r, arrays["moment"])
    x = np.load(DATA / "lenet_run.input.npy")
    assert_outputs(net.test(x), np.load(DATA / "lenet_run.output.npy"))


def test_a_lenet_file_loads_as_a_plain_network_where_lenet_was_never_imported(tmp_path):
    code = ("import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import NeuralNetwork\n"
            "net = NeuralNetwork.load(sys.argv[2])\n"
            "assert 'Models.LeNet' not in sys.modules, 'loading imported the model'\n"
            "assert type(net) is NeuralNetwork.NeuralNetwork, type(net)\n"
            "np.save(sys.argv[4], net.test(np.load(sys.argv[3])))\n"
            "print(len(net.layers))")
    for ckpt, name in ((ROOT / "trained" / "lenet_mnist.ckpt", "shipped"),
                       (DATA / "lenet_float32.ckpt", "lenet_float32")):
        result = subprocess.run([sys.executable, "-c", code, str(ROOT), str(ckpt),
                                 str(DATA / f"{name}.input.npy"), str(tmp_path / f"{name}.npy")],
                                capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "13"
        assert_outputs(np.load(tmp_path / f"{name}.npy"), np.load(DATA / f"{name}.output.npy"))
