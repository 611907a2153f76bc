"""What a command line reads and shows: the checkpoint, the data, the results, the log and
figures, --evaluate and --export-onnx."""
import os
import sys
import time

from tabulate import tabulate

import _files
import checkpoint
import onnx_export
from .options import sibling


def read_network(task, parser, path):
    """``(network, training)`` of ``path``; any bad file ends in one line and status 2."""
    try:
        net, training = checkpoint.read(path)
    except checkpoint.CheckpointError as err:
        parser.error(f"cannot load {err}")                  # the message names the file
    except OSError as err:
        parser.error(f"cannot load {path}: {err.strerror or err}")
    if not isinstance(net, task.model):
        parser.error(f"cannot load {path}: it holds a {type(net).__name__}, not a "
                     f"{task.model.__name__}")
    if net.loss_layer is None:
        parser.error(f"cannot load {path}: its network has no loss layer")
    return net, training


def load_data(task, parser, s):
    """The task's data layer, with training and test samples; refused in one line."""
    try:
        data = task.load_data(s)
    except (OSError, ValueError) as err:        # files not found, corrupt, bad settings
        parser.error(str(err))
    for split, n in (("training", len(data)), ("test", len(data.get_test_set()[0]))):
        if n == 0:
            parser.error(f"the {split} set from {task.source(data)} holds 0 {task.unit}")
    return data


def outputs(task, path, plot):
    """``[(what, path)]`` a run writes next to its checkpoint: ``<stem>.log`` and, if
    ``plot``, the figures ``<stem>_<name>.png``."""
    return [("write the log", sibling(path, "", ".log"))] + \
        [("write the figure", sibling(path, f"_{n}", ".png")) for n in task.figure_names if plot]


def report(task, args, run, net, data, path, seconds):
    """Print the results of a finished run, write its log and figures; the exit status."""
    rows = [["epochs", len(net.history)], [f"training {task.unit}", len(data)],
            ["wall time", f"{seconds:.0f} s"]]
    if net.history and "validation_accuracy" in net.history[-1]:
        rows.append(["validation accuracy", f"{net.history[-1]['validation_accuracy']:.2%}"])
    rows += task.results(net, data)
    print(tabulate(rows + [["checkpoint", str(path)]], headers=["result", ""]))
    if path != run.path:                # saved elsewhere: the places next to it are unchecked
        return 1
    import matplotlib
    if not args.show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    (_, log), *figures = outputs(task, path, run.s.plot)
    try:
        headers, epochs = task.epochs(net, data, run.s)
        _files.write_atomically(log, (tabulate(epochs, headers, floatfmt=".4f") + "\n\n" +
                                      tabulate(rows, tablefmt="plain") + "\n").encode(),
                                owner=task.prog)
        draws = task.figures(net, data)
        for name, (_, figure) in zip(task.figure_names, figures):
            drawn = draws[name](figure)
            if not args.show:
                plt.close(drawn)
    except Exception as err:                    # noqa: BLE001 - the model is saved already
        print(f"{task.prog}: the log or figures failed ({type(err).__name__}: {err}); the "
              f"model is saved in {path}", file=sys.stderr)
        return 1
    if args.show:
        plt.show()
    if figures and not args.quiet:
        print("figures: " + ", ".join(str(figure) for _, figure in figures))
    return 0


def evaluate(task, parser, args):
    """Print the test results of --checkpoint (the shipped model by default)."""
    path = args.checkpoint or task.shipped
    net, _ = read_network(task, parser, path)
    data = load_data(task, parser, task.settings_of(args))
    start = time.perf_counter()
    rows = task.results(net, data)
    print(tabulate([["checkpoint", str(path)], [f"test {task.unit}",
                                                len(data.get_test_set()[0])], *rows,
                    ["time", f"{time.perf_counter() - start:.1f} s"]]))
    return 0


def export_onnx(task, parser, args):
    """Write --checkpoint (the shipped model by default) as ONNX to --export-onnx, by the
    rule of a run: never over the checkpoint being read (by inode: another name or a hard
    link is the same file), never over an unfinished run."""
    path, target = args.checkpoint or task.shipped, args.export_onnx
    net, _ = read_network(task, parser, path)
    refused = _files.problem(target, replace=args.overwrite)
    if os.path.isfile(target) and not os.path.islink(target):
        if os.path.samefile(target, path):
            refused = f"it is the checkpoint being exported ({path}); choose another path"
        elif unfinished_run(target):
            refused = (f"it holds an unfinished run, which is never replaced; continue it "
                       f"with --resume --checkpoint {target} (or choose another path)")
    if refused:
        parser.error(f"cannot write {target}: {refused}")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        onnx_export.export(net, str(target))
    except (ValueError, TypeError, OSError) as err:
        parser.error(f"cannot export {path} to {target}: {err}")
    if not args.quiet:
        print(f"exported {path} to {target}")
    return 0


def unfinished_run(path):
    try:
        _, training = checkpoint.read(path)
    except (checkpoint.CheckpointError, OSError):
        return False
    return training is not None and not training["finished"]
