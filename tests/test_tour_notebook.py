"""examples/Tour.ipynb: its code cells run in order, as a newcomer would run them."""
import json
from pathlib import Path

import matplotlib

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "Tour.ipynb"


def test_tour_notebook_runs(monkeypatch):
    matplotlib.use("Agg")                     # figures are drawn, no window opens
    monkeypatch.chdir(NOTEBOOK.parent)        # as when the notebook is opened in examples/
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    namespace = {"__name__": "__tour__"}
    ran = 0
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        # IPython magics (%matplotlib inline) need a kernel; the rest is plain Python.
        source = "".join(line for line in cell["source"] if not line.lstrip().startswith("%"))
        exec(compile(source, f"Tour.ipynb cell {index}", "exec"), namespace)
        ran += 1
    assert ran == 5
    assert namespace["difference"].max() < 1e-5
    assert namespace["net"].history and len(namespace["net"].loss) > 50
    assert (namespace["probabilities"].argmax(1) == namespace["test_y"][:12].argmax(1)).mean() > 0.9
