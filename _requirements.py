"""Stop early, in one line, when this Python lacks the framework's dependencies.

The command-line scripts import this module first, before numpy: run by a Python
without the requirements (the system's ``python3``, say) they print how to get
them and exit with status 2, instead of a ``ModuleNotFoundError`` traceback.
Only looks the modules up (``importlib.util.find_spec``); nothing is imported.
"""
import importlib.util
import os
import sys

# Import names of requirements.txt's packages that the framework and its scripts use.
NEEDED = ("numpy", "scipy", "sklearn", "skimage", "matplotlib", "tabulate", "tqdm")


def missing(names=NEEDED):
    """The names in ``names`` this interpreter cannot import."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def require(names=NEEDED):
    """Exit with status 2 and one line naming the fix if any of ``names`` is missing."""
    absent = missing(names)
    if absent:
        script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else "the script"
        root = os.path.dirname(os.path.abspath(__file__))
        here = os.path.abspath(os.getcwd()) == root
        python = os.path.join("" if here else root, ".venv", "bin", "python")
        sys.stderr.write(f"{os.path.basename(script)}: {sys.executable} has no "
                         f"{', '.join(absent)}; run `make test` in "
                         f"{'the repository' if here else root} (it builds .venv from "
                         f"requirements.txt), then `{python} {script}`\n")
        sys.exit(2)


require()
