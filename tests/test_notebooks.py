"""Every notebook in examples/: its code cells run in order, as a newcomer would run them.

The cells are executed in one namespace without a kernel; each notebook then has
its own assertions on what it computed (a new notebook needs an entry in CHECKS).
"""
import json
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def run_notebook(path):
    """Exec the code cells of ``path`` in order; return the namespace and the cell count."""
    namespace = {"__name__": "__notebook__"}
    ran = 0
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "code":
            continue
        # IPython magics (%matplotlib inline) need a kernel; the rest is plain Python.
        source = "".join(line for line in cell["source"] if not line.lstrip().startswith("%"))
        exec(compile(source, f"{path.name} cell {index}", "exec"), namespace)
        ran += 1
    return namespace, ran


def check_tour(namespace, ran):
    assert ran == 6
    assert namespace["difference"].max() < 1e-5
    assert [c.name for c in namespace["report"].failures] == ["gradient: bias"]
    assert namespace["net"].history and len(namespace["net"].loss) > 50
    assert (namespace["probabilities"].argmax(1) == namespace["test_y"][:12].argmax(1)).mean() > 0.9


def check_vanishing(namespace, ran):
    assert ran == 4
    far_to_near = namespace["vanishing"].far_to_near
    rnn, lstm = namespace["results"]
    assert (rnn["name"], lstm["name"]) == ("Elman RNN", "LSTM")
    # The RNN's gradient from the far half of the sequence is orders of magnitude below the
    # gradient near the output; the LSTM's, after training, is not.
    assert far_to_near(rnn["after"]) < 1e-3
    assert far_to_near(lstm["after"]) > 1e-1
    assert far_to_near(lstm["after"]) > 1e4 * far_to_near(rnn["after"])
    # Before training the LSTM's forget gates (about 0.5) make its gradient vanish too.
    assert far_to_near(lstm["before"]) < 1e-3
    assert lstm["test_mse"] < namespace["baseline"] / 10 < rnn["test_mse"]
    for r in (rnn, lstm):
        assert len(r["before"]) == len(r["after"]) == 50 and np.all(r["after"] > 0)
    fig = namespace["fig"]
    assert fig.get_suptitle()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None and ax.get_yscale() == "log"


CHECKS = {"Tour.ipynb": check_tour, "VanishingGradient.ipynb": check_vanishing}


def test_every_notebook_has_its_checks():
    assert {p.name for p in NOTEBOOKS} == set(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    matplotlib.use("Agg")                       # figures are drawn, no window opens
    monkeypatch.chdir(path.parent)              # as when the notebook is opened in examples/
    monkeypatch.setattr(sys, "path", list(sys.path))   # the notebook's path changes are undone
    try:
        CHECKS[path.name](*run_notebook(path))
    finally:
        plt.close("all")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_nbformat_4(path):
    """The parts of the nbformat 4.5 schema Jupyter insists on (no nbformat package needed)."""
    notebook = json.loads(path.read_text())
    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] >= 5
    assert notebook["metadata"]["kernelspec"]["language"] == "python"
    ids = [cell["id"] for cell in notebook["cells"]]
    assert len(set(ids)) == len(ids)
    for cell in notebook["cells"]:
        assert cell["cell_type"] in ("code", "markdown") and isinstance(cell["metadata"], dict)
        assert isinstance(cell["source"], list) and all(isinstance(s, str) for s in cell["source"])
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and "execution_count" in cell
        else:
            assert "outputs" not in cell
