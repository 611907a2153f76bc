"""Run by a Python without the dependencies, the scripts say in one line how to get them.

``python -S`` starts this interpreter without its site-packages: no numpy, as with
a system Python that never had the requirements installed.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["TrainLeNet.py", "TrainSequences.py", "NeuralNetworkTests.py",
           "examples/vanishing.py", "examples/AddingProblem.py",
           "examples/run_notebooks.py"]


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("where", ["root", "elsewhere"])
def test_a_python_without_numpy_gets_one_line_and_status_2(script, where, tmp_path):
    cwd = ROOT if where == "root" else tmp_path
    path = script if where == "root" else str(ROOT / script)
    result = subprocess.run([sys.executable, "-S", path, "--help"], cwd=cwd,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"{Path(script).name}: ") and "has no numpy" in lines[0]
    python = ".venv/bin/python" if where == "root" else str(ROOT / ".venv" / "bin" / "python")
    assert "`make test`" in lines[0] and f"`{python} {path}`" in lines[0]


def test_with_the_requirements_the_scripts_start():
    result = subprocess.run([sys.executable, "TrainLeNet.py", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("usage: TrainLeNet.py")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_venv_imports_the_framework_from_any_directory(tmp_path):
    # The Makefile's install step ends with `make importable`; here on a bare venv of its own
    # (no pip, no packages: the framework's modules are found, not imported).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    # Without PYTHONPATH: one exported by the user would find the framework before the .pth.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = ("import importlib.util as u; "
             "print([u.find_spec(m) and u.find_spec(m).origin for m in ('NeuralNetwork', 'Layers')])")
    before = subprocess.run([str(python), "-c", where], cwd="/", capture_output=True,
                            text=True, timeout=60, env=env)
    assert before.stdout.strip() == "[None, None]"
    made = subprocess.run(["make", "--no-print-directory", "importable", f"VENV={venv}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    after = subprocess.run([str(python), "-c", where], cwd="/", capture_output=True,
                           text=True, timeout=60, env=env)
    assert after.stdout.strip() == str([str(ROOT / "NeuralNetwork.py"),
                                        str(ROOT / "Layers" / "__init__.py")])
    site = {p.name for p in (venv / "lib").glob("python*/site-packages/*")}
    assert not site & {"Data", "Models", "Layers"}          # a path, no copied packages
