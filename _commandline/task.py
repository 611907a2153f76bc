"""What a command line tells the machinery about its task."""
from Optimization import Schedules

from .arguments import Setting, integer, number


# One meaning on the command line, said in the same words in docs/training.md; Python's
# train(epochs=N) counts the other way (N more), so the help names both.
EPOCHS_HELP = ("the total number of epochs of the run, counted from its start; with --resume "
               "the run continues up to it (in Python, train(epochs=N) runs N more)")


def common_settings(epochs, batch_size, lr, lr_decay):
    """The settings every trainer has (Adam's learning rate and its decay, early stopping,
    the seed), with the task's defaults."""
    return {
        "epochs": Setting(integer(1), epochs, EPOCHS_HELP),
        "batch_size": Setting(integer(1), batch_size, "samples per step"),
        "lr": Setting(number(0, 1), lr, "Adam learning rate"),
        "lr_decay": Setting(number(0, 1), lr_decay, "multiply the learning rate by this after "
                                                    "every epoch (1 = constant)"),
        "patience": Setting(integer(0), 0, "stop after this many epochs without a better "
                                           "validation loss and end on the best weights "
                                           "(0 = train all epochs)"),
        "seed": Setting(integer(0, 2**32 - 1), 0, "seed of initialization and shuffling"),
    }


class Task:
    """A task a command line trains. Subclasses set the attributes and write the hooks.

    Attributes:
        prog: the command's name in messages (``"TrainLeNet.py"``); script: its file;
            words: what follows the script on its command line before the flags.
        description: one line for --help.
        settings: ``{name: Setting}``, ``common_settings`` and the task's own; each is a
            flag (``lr_decay`` -> ``--lr-decay``) and is saved with the run.
        shipped: the model --evaluate and --export-onnx read without --checkpoint.
        runs, runs_shown, run_file: a run without --checkpoint is saved in
            ``runs/<time>/run_file``; ``runs_shown`` is how --help names ``runs``.
        unit: what the data holds, plural ("images").
        figure_names: the figures written next to a checkpoint, ``<stem>_<name>.png``.
    """
    prog = script = description = shipped = runs = runs_shown = run_file = None
    words = ()
    unit = "samples"
    settings = {}
    figure_names = ()

    def load_data(self, settings):
        """The data layer of ``settings``; OSError or ValueError for what is not there."""
        raise NotImplementedError

    def source(self, data):
        """Where the data came from, as a run records it (the same on every machine)."""
        raise NotImplementedError

    def describe(self, data, settings):
        """One line about the data a new run uses (its settings applied), printed when it
        starts."""
        return f"{len(data)} training {self.unit} from {self.source(data)}"

    def build(self, settings):
        """``(network, schedule, early_stopping)`` of a new run (NumPy is seeded already);
        the last two as ``controls`` makes them."""
        raise NotImplementedError

    def controls(self, settings):
        """``(schedule, early_stopping)`` of the common settings: the learning rate times
        ``lr_decay`` after every epoch (None if 1), early stopping after ``patience`` epochs
        (None if 0). A resumed run's saved pair must be what its settings make."""
        return (Schedules.ExponentialDecay(settings["lr_decay"]) if settings["lr_decay"] < 1
                else None,
                Schedules.EarlyStopping(settings["patience"]) if settings["patience"] else None)

    def summary(self, net):
        """The network as a table, printed when a new run starts."""
        return ""

    def refuses(self, net):
        """Why a network read from a checkpoint is not one of this task's, or None."""
        return None

    def validation_set(self, data, settings):
        """``(input, label)`` validated after every epoch, or None."""
        return None

    def test_set(self, data):
        return data.get_test_set()

    def evaluation_settings(self, settings):
        """The settings of the data --evaluate reads (the flags given and the defaults)."""
        return settings

    def results(self, net, test_x, test_y):
        """Rows ``[name, value]`` of the result table on the test set."""
        raise NotImplementedError

    def figures(self, net, test_x, test_y):
        """``{name: draw}`` for ``figure_names``; ``draw(path)`` saves a PNG, returns the Figure."""
        return {}

