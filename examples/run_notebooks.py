"""Re-run the notebooks in examples/ in place: outputs kept, nothing volatile.

    .venv/bin/python examples/run_notebooks.py               # every notebook (make notebook-outputs)
    .venv/bin/python examples/run_notebooks.py Tour.ipynb    # one

Each notebook runs top to bottom in a fresh kernel started in examples/ (nbclient),
then loses what differs from one run to the next without being a result: the
execution timestamps of every cell, the interpreter's version, and the progress
bars' widgets (random ids and speeds; they are live only while a kernel runs).
A progress bar is kept as the text of its final state (``epoch 1/6: 100%|██████████|
19/19 [loss=...]``, without its timing): a widget's own text is the state it was
created in, ``0%``, since the frontend that would redraw it is gone. A re-run's diff
then shows what the notebook computed differently, and little else.
"""
import argparse
import html
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import _requirements  # noqa: E402,F401 - before the third-party imports
import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
VOLATILE_CELL_KEYS = ("execution", "ExecuteTime")     # run timestamps
# tqdm's "elapsed<remaining, rate" at the start of the bracket after the counts.
TIMING = re.compile(r"\[[^\]]*?(?:it/s|s/it)(?:, |(?=\]))")
BAR_WIDTH = 10


def bar_text(state, model_id):
    """The final state of a tqdm bar, as text without its timing, from the widget ``state``
    nbclient saved (tqdm's widget: an HBox of an HTML, a FloatProgress and an HTML); None
    for any other widget."""
    def model(ref):
        return state.get(str(ref).replace("IPY_MODEL_", ""), {})
    parts = [model(ref) for ref in model(model_id).get("state", {}).get("children", [])]
    if [part.get("model_name") for part in parts] != ["HTMLModel", "FloatProgressModel",
                                                      "HTMLModel"]:
        return None
    left, progress, right = (part.get("state", {}) for part in parts)
    done = progress.get("value", 0) / progress["max"] if progress.get("max") else 0
    filled = min(BAR_WIDTH, int(BAR_WIDTH * done))
    meter = TIMING.sub("[", html.unescape(right.get("value", ""))).replace(" []", "")
    return (f"{html.unescape(left.get('value', ''))}|{'█' * filled}"
            f"{' ' * (BAR_WIDTH - filled)}|{meter}")


def normalize(notebook):
    """Strip the volatile metadata of ``notebook`` in place and turn its progress-bar
    widgets into the text of their final state (other widgets are dropped); return it."""
    widgets = notebook.metadata.pop("widgets", None) or {}
    state = widgets.get(WIDGET_STATE, {}).get("state", {})
    language = notebook.metadata.get("language_info", {})
    language.pop("version", None)
    for cell in notebook.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            outputs = []
            for output in cell.outputs:
                view = output.get("data", {}).get(WIDGET)
                if view is None:
                    outputs.append(output)
                    continue
                text = bar_text(state, view.get("model_id"))
                if text is not None:
                    outputs.append(nbformat.v4.new_output("display_data",
                                                          data={"text/plain": text}))
            cell.outputs = outputs
    return notebook


def run(path, timeout=600):
    """Execute ``path`` in a fresh kernel in examples/, normalize it and write it back."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(normalize(notebook), path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="names in examples/ (default: all)")
    args = parser.parse_args(argv)
    paths = [HERE / name for name in args.notebooks] or sorted(HERE.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.exit(2, f"run_notebooks.py: error: no notebook {', '.join(missing)}\n")
    for path in paths:
        print(f"running {path.name}", flush=True)
        run(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
