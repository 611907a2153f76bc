"""The examples write their figures to a git-ignored place unless asked to refresh the
committed one (``examples/vanishing.py --refresh``)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import vanishing  # noqa: E402


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """vanishing.main with tiny made-up results and both figure places under tmp_path."""
    distance = np.arange(10)
    results = [{"name": name, "hidden": 4, "losses": np.linspace(0.2, 0.01, 120),
                "before": 10.0 ** -distance, "after": 10.0 ** -(distance * slope),
                "test_mse": 0.01, "seconds": 0.1} for name, slope in (("Elman RNN", 1.0),
                                                                       ("LSTM", 0.1))]
    monkeypatch.setattr(vanishing, "run", lambda seed=0: (results, 0.167))
    monkeypatch.setattr(vanishing, "COMMITTED", tmp_path / "committed.png")
    monkeypatch.setattr(vanishing, "OUTPUT", tmp_path / "output" / "run.png")
    return tmp_path


def test_a_plain_run_leaves_the_committed_figure_alone(quick):
    vanishing.main([])
    assert (quick / "output" / "run.png").is_file() and not (quick / "committed.png").exists()


def test_refresh_writes_the_committed_figure(quick):
    vanishing.main(["--refresh"])
    assert (quick / "committed.png").is_file() and not (quick / "output").exists()


def test_the_default_places():
    assert vanishing.COMMITTED == ROOT / "examples" / "vanishing_gradient.png"
    assert vanishing.COMMITTED.is_file()                        # the README shows it
    ignored = subprocess.run(["git", "check-ignore", "-q", str(vanishing.OUTPUT)], cwd=ROOT)
    tracked = subprocess.run(["git", "check-ignore", "-q", str(vanishing.COMMITTED)], cwd=ROOT)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.returncode == 0 and tracked.returncode == 1


def test_the_adding_problem_into_files_writes_no_carriage_return(tmp_path):
    with (tmp_path / "out").open("wb") as out, (tmp_path / "err").open("wb") as err:
        status = subprocess.run([sys.executable, str(ROOT / "examples" / "AddingProblem.py"),
                                 "--iterations", "20", "--length", "5", "--hidden", "4"],
                                stdout=out, stderr=err, cwd=tmp_path, timeout=300).returncode
    text = (tmp_path / "out").read_bytes() + (tmp_path / "err").read_bytes()
    assert status == 0, text.decode()
    assert b"\r" not in text and b"LSTM" in text
