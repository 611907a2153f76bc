"""Reading what a run needs, refused in one line (exit status 2) before any work."""
import checkpoint


def read_network(task, parser, path):
    """``(network, training)`` of ``path``; any bad file ends in one line and status 2."""
    try:
        net, training = checkpoint.read(path)
    except checkpoint.CheckpointError as err:
        parser.error(f"cannot load {err}")                  # the message names the file
    except OSError as err:
        parser.error(f"cannot load {path}: {err.strerror or err}")
    wrong = task.refuses(net)
    if wrong:
        parser.error(f"cannot load {path}: {wrong}")
    if net.loss_layer is None:              # a checkpoint may hold none; evaluate needs one
        parser.error(f"cannot load {path}: its network has no loss layer")
    return net, training


def load_data(task, parser, settings):
    """The task's data layer, with training and test samples to work on."""
    try:
        data = task.load_data(settings)
    except (OSError, ValueError) as err:        # files not found, corrupt, bad settings
        parser.error(str(err))
    where = task.source(data)
    if len(data) == 0:
        parser.error(f"the training set from {where} holds 0 {task.unit}")
    if len(task.test_set(data)[0]) == 0:
        parser.error(f"the test set from {where} holds 0 {task.unit}")
    return data
