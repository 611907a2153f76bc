"""What a command line shows: the result table, the figures, --evaluate and --export-onnx."""
import os
import sys
import time

from tabulate import tabulate

import checkpoint
import onnx_export

from . import paths
from .arguments import given
from .loading import load_data, read_network


def figure_paths(task, path):
    """``{name: <stem>_<name>.png}`` next to the checkpoint ``path``."""
    return {name: paths.sibling(path, f"_{name}", ".png") for name in task.figure_names}


def report(task, args, run, net, data, path, seconds):
    """Print the results of a finished run and write its figures; the exit status."""
    test_x, test_y = task.test_set(data)
    rows = [["epochs", len(net.history)], [f"training {task.unit}", len(data)],
            ["wall time", f"{seconds:.0f} s"]]
    if net.history and "validation_accuracy" in net.history[-1]:
        rows.append(["validation accuracy", f"{net.history[-1]['validation_accuracy']:.2%}"])
    rows += task.results(net, test_x, test_y) + [["checkpoint", str(path)]]
    print(tabulate(rows, headers=["result", ""]))
    if not run.settings["plot"]:
        return 0
    try:
        written = write_figures(task, net, test_x, test_y, path, args.show)
    except Exception as err:                    # noqa: BLE001 - the model is saved already
        print(f"{task.prog}: the figures failed ({type(err).__name__}: {err}); the model is "
              f"saved in {path}", file=sys.stderr)
        return 1
    if not args.quiet:
        print("figures: " + ", ".join(str(p) for p in written))
    return 0


def write_figures(task, net, test_x, test_y, checkpoint, show):
    """Draw the task's figures into ``<stem>_<name>.png``, each written atomically (the
    task's drawings save through ``Models/plots.py``, which writes with ``_files``)."""
    import matplotlib
    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    draws = task.figures(net, test_x, test_y)
    written = []
    for name, path in figure_paths(task, checkpoint).items():
        figure = draws[name](path)
        written.append(path)
        if not show:
            plt.close(figure)
    if show:
        plt.show()
    return written


def evaluate(task, parser, args):
    """Print the test results of --checkpoint (the shipped model by default)."""
    path = args.checkpoint or task.shipped
    net, _ = read_network(task, parser, path)
    settings = {name: s.default for name, s in task.settings.items()}
    settings.update(given(task, args))
    test_x, test_y = task.test_set(load_data(task, parser, task.evaluation_settings(settings)))
    start = time.perf_counter()
    rows = task.results(net, test_x, test_y)
    print(tabulate([["checkpoint", str(path)], [f"test {task.unit}", len(test_x)], *rows,
                    ["time", f"{time.perf_counter() - start:.1f} s"]]))
    return 0


def export_onnx(task, parser, args):
    """Write --checkpoint (the shipped model by default) as an ONNX model to --export-onnx."""
    path, target = args.checkpoint or task.shipped, args.export_onnx
    net, _ = read_network(task, parser, path)
    # The rule of a run holds here too: --overwrite never replaces an unfinished run, nor
    # the checkpoint being read (by inode: another name or a hard link is the same file).
    if os.path.exists(target) and os.path.exists(path) and os.path.samefile(target, path):
        parser.error(f"cannot write {target}: it is the checkpoint being exported ({path}); "
                     f"choose another path")
    if os.path.lexists(target) and not target.is_symlink() and unfinished_run(target):
        parser.error(f"cannot write {target}: it holds an unfinished run, which is never "
                     f"replaced; continue it with --resume --checkpoint {target} (or choose "
                     f"another path)")
    trouble = paths.problem(target, replace=args.overwrite)
    if trouble:
        hint = "; --overwrite replaces it" if trouble == f"{target} exists" else ""
        parser.error(f"cannot write {target}: {trouble}{hint}")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        onnx_export.export(net, str(target))
    except (ValueError, TypeError, OSError) as err:
        parser.error(f"cannot export {path} to {target}: {err}")
    if not args.quiet:
        print(f"exported {path} to {target}")
    return 0


def unfinished_run(path):
    """Whether ``path`` holds the checkpoint of an unfinished run."""
    try:
        _, training = checkpoint.read(path)
    except (checkpoint.CheckpointError, OSError):
        return False
    return training is not None and not training["finished"]
