"""Convert a checkpoint of the old pickle format into the data-only format.

    .venv/bin/python ConvertCheckpoint.py OLD.pkl NEW.ckpt

Older versions of this framework saved networks with pickle. Reading a pickle can
run code written into it, which is why ``NeuralNetwork.load`` refuses them. Run
this only on a file you trust (one you made yourself, or from someone you would
let run a program on your machine): it reads the pickle, admitting only the
framework's classes and NumPy arrays, and writes the network, its optimizer state
and its history as a data-only checkpoint. The resumable state of an interrupted
``TrainLeNet.py`` run is not converted. NEW must not exist yet.
"""
import argparse
import pickle
import sys
from pathlib import Path


class _FrameworkOnly(pickle.Unpickler):
    """Resolves only classes defined in the framework's packages and NumPy's array pieces.

    This narrows what a pickle can name; it does not make an untrusted pickle safe
    (pickle can still set attributes on the classes it names). Hence: trusted files only.
    """

    PACKAGES = ("Layers", "Optimization", "Models", "NeuralNetwork")
    NUMPY = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
             ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
             ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
             ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module, name):
        import numpy as np
        if (module, name) in self.NUMPY:
            if module.startswith("numpy.core.") and np.lib.NumpyVersion(np.__version__) >= "2.0.0":
                module = "numpy._core." + module[len("numpy.core."):]   # renamed in NumPy 2
            return super().find_class(module, name)
        if module.split(".")[0] in self.PACKAGES and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj
        if module == "numpy" and isinstance(getattr(np, name, None), type) \
                and issubclass(getattr(np, name), np.generic):
            return getattr(np, name)
        raise pickle.UnpicklingError(f"the file names {module}.{name}, which is neither a class "
                                     f"of the framework nor a NumPy array type")


def convert(old, new):
    """Read the pickled network ``old`` and save it as a checkpoint ``new``."""
    import checkpoint
    import NeuralNetwork
    with open(old, "rb") as f:
        net = _FrameworkOnly(f).load()
    if not isinstance(net, NeuralNetwork.NeuralNetwork):
        raise ValueError(f"{old}: expected a pickled NeuralNetwork, got {type(net).__name__}")
    fresh = NeuralNetwork.NeuralNetwork(None)     # attributes that newer versions added
    for name, value in vars(fresh).items():
        net.__dict__.setdefault(name, value)
    if type(net).__name__ == "LeNet":
        net.input_shape = (1, 28, 28)
    net.__dict__.pop("trainer_state", None)
    checkpoint.save(new, net)
    return net


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ConvertCheckpoint.py", description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the pickle checkpoint (trusted!)")
    parser.add_argument("new", type=Path, help="where to write the data-only checkpoint")
    args = parser.parse_args(argv)
    if args.new.exists():
        parser.exit(2, f"ConvertCheckpoint.py: error: {args.new} exists; choose a new name\n")
    try:
        net = convert(args.old, args.new)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as err:
        parser.exit(2, f"ConvertCheckpoint.py: error: cannot convert {args.old}: {err}\n")
    print(f"wrote {args.new}: {type(net).__name__} with {len(net.layers)} layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
