"""Peak extra memory of reading a checkpoint, as a multiple of the file's size.

    .venv/bin/python bench/checkpoint_memory.py [REPO]     # REPO: whose checkpoint code to use

Each case runs in a fresh process: the peak resident set (``VmHWM``, else ``ru_maxrss``) while reading,
minus the resident set just before. Cases: a 100 MB parameter array (one
FullyConnected(5000, 2500)), a 1 GiB sparse file (a zip header, a hole, a seal that
does not match: 8 KB on disk), a 134 MB loss history (2**24 values, the most a
checkpoint may hold) and a 200 MB one (25 million values, written past that limit).
"""
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)

MAKE = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import checkpoint, NeuralNetwork
from Layers import FullyConnected
from Optimization import Optimizers
kind, path = sys.argv[2], sys.argv[3]
if kind == "sparse":
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04")
        f.truncate(1 << 30)
        f.seek((1 << 30) - 71)
        f.write(b"sha256:" + b"0" * 64)
else:
    net = NeuralNetwork.NeuralNetwork(Optimizers.Sgd(1e-3))
    if kind == "array":
        net.append_layer(FullyConnected.FullyConnected(4999, 2500))
        net.layers[0].optimizer = None
    else:
        n = 1 << 24 if kind == "history" else 25_000_000
        net.loss = np.random.default_rng(0).random(n).tolist()
        if n > 1 << 24 and hasattr(checkpoint, "document"):
            checkpoint.document.MAX_LOSS_VALUES = n     # written past the limit, on purpose
    NeuralNetwork.save(path, net)
"""

READ = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import checkpoint, NeuralNetwork, numpy as np
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
before = rss()
try:
    checkpoint.read(sys.argv[2]); outcome = "loaded"
except Exception as err:
    outcome = f"refused: {type(err).__name__}"
def peak_rss():
    # VmHWM is this program's own peak; ru_maxrss also holds the parent's resident set at
    # the exec (Linux keeps it), which a large parent such as pytest makes the larger.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(peak_rss() - before, outcome)
"""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("array", "sparse", "history", "history200"):
            path = Path(tmp) / f"{kind}.ckpt"
            subprocess.run([sys.executable, "-c", MAKE, str(REPO), kind, str(path)], check=True)
            size = path.stat().st_size
            out = subprocess.run([sys.executable, "-c", READ, str(REPO), str(path)],
                                 capture_output=True, text=True, check=True).stdout.split(None, 1)
            extra = int(out[0])
            print(f"{kind:8s} file {size / 1e6:8.1f} MB  peak extra RSS {extra / 1e6:8.1f} MB "
                  f"= {extra / size:5.2f} x the file  ({out[1].strip()})")
            path.unlink()


if __name__ == "__main__":
    main()
