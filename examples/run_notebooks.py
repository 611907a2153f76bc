"""Re-run the notebooks in examples/ in place: outputs kept, nothing volatile.

    .venv/bin/python examples/run_notebooks.py               # every notebook (make notebook-outputs)
    .venv/bin/python examples/run_notebooks.py Tour.ipynb    # one

Each notebook runs top to bottom in a fresh kernel started in examples/ (nbclient),
then loses what differs from one run to the next without being a result: the
execution timestamps of every cell, the interpreter's version, and the progress
bars' widgets (random ids and speeds; they are live only while a kernel runs).
A re-run's diff then shows what the notebook computed differently, and little else.
"""
import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import _requirements  # noqa: E402,F401 - before the third-party imports
import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

WIDGET = "application/vnd.jupyter.widget-view+json"
VOLATILE_CELL_KEYS = ("execution", "ExecuteTime")     # run timestamps


def normalize(notebook):
    """Strip the volatile metadata and widget outputs of ``notebook`` in place; return it."""
    notebook.metadata.pop("widgets", None)
    language = notebook.metadata.get("language_info", {})
    language.pop("version", None)
    for cell in notebook.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.outputs
                            if WIDGET not in output.get("data", {})]
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
