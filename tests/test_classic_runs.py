"""NeuralNetworkTests.py run the classic ways: as a script, by group, and the Bonus table.

The broken layer is patched in by a wrapper script written to a temporary directory,
which then runs NeuralNetworkTests.py as ``__main__``; the framework has no hook for it.
"""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = str(ROOT / "NeuralNetworkTests.py")

BROKEN_TANH = f"""
import runpy, sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from Layers import TanH
TanH.TanH.backward = lambda self, error_tensor: np.zeros_like(error_tensor)   # deliberately wrong
sys.argv[0] = {SUITE!r}
runpy.run_path({SUITE!r}, run_name="__main__")
"""


def run(args, tmp_path, broken=False):
    """Run ``python NeuralNetworkTests.py ARGS`` from ``tmp_path``, TanH broken if asked."""
    script = SUITE
    if broken:
        script = tmp_path / "broken_tanh.py"
        script.write_text(BROKEN_TANH)
    # no cache: a deliberately failing run must not leave --lf state in the repository
    return subprocess.run([sys.executable, str(script), *args, "-p", "no:cacheprovider"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)


def test_a_group_runs_with_its_gradient_checks_and_reports_the_count(tmp_path):
    result = run(["TestRNN", "TestTanH.test_gradient", "-rA"], tmp_path)   # -rA: list each test
    assert result.returncode == 0, result.stdout + result.stderr
    # node ids are relative to the working directory, here a temporary one
    assert re.search(r"PASSED \S*NeuralNetworkTests.py::TestRNN::test_gradient\[2d-classic-None\]",
                     result.stdout)
    assert re.search(r"PASSED \S*NeuralNetworkTests.py::TestTanH::test_gradient\[tanh\]",
                     result.stdout)
    assert "TestLSTM" not in result.stdout
    assert re.search(r"\b11 passed in ", result.stdout.splitlines()[-1])


def test_an_unknown_group_is_named(tmp_path):
    result = run(["TestTanh"], tmp_path)
    assert result.returncode == 2
    assert "expected a test group, one of" in result.stderr and "got 'TestTanh'" in result.stderr


def test_the_whole_file_exits_nonzero_when_a_layer_is_broken(tmp_path):
    result = run([], tmp_path, broken=True)
    assert result.returncode == 1, result.stdout + result.stderr
    # (pytest 8 also counts the warnings a stub initializer is expected to raise)
    assert re.fullmatch(r"1 failed, \d+ passed(, \d+ warnings?)? in .*",
                        result.stdout.splitlines()[-1])
    assert re.search(r"FAILED \S*NeuralNetworkTests.py::TestTanH::test_gradient\[tanh\]",
                     result.stdout)


def test_the_bonus_table_marks_the_broken_group(tmp_path):
    result = run(["Bonus"], tmp_path, broken=True)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[-2].strip()
            for line in result.stdout.splitlines() if line.startswith("| Test")}
    assert list(rows) == ["TestTanH", "TestSigmoid", "TestConstraints", "TestDropout",
                          "TestBatchNorm", "TestRNN", "TestLSTM", "TestNeuralNetwork"]
    assert rows.pop("TestTanH") == "FAIL"
    assert set(rows.values()) == {"OK"}
