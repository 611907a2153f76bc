"""Peak memory of reading IDX files: the gzip bomb of issue 20 and an MNIST-size file.

    .venv/bin/python bench/idx_memory.py [CHECKOUT]    # another checkout's Data/idx.py

Each file is read by ``Data.idx.read_idx`` in a fresh interpreter; the table gives its
peak resident set size (``VmHWM``), the same after the imports alone, and the time.
The bomb is 389 KB of gzip that declares 510,000 images of 28x28 and really holds
them (400 MB of zeros), compressed the way an attacker would (one deflate stream).
"""
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from Data.idx import write_idx  # noqa: E402

PROBE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from Data.idx import read_idx


def high_water():        # VmHWM: this process's peak RSS (ru_maxrss survives exec on Linux)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmHWM"))


before = high_water()
start = time.perf_counter()
try:
    read_idx(sys.argv[2]); outcome = "read"
except ValueError as err:
    outcome = "refused: " + str(err).split(": ", 1)[1][:60]
print(before, high_water(), f"{time.perf_counter() - start:.2f}", outcome, sep="|")
"""


def bomb(path, images=510_000):
    header = bytes([0, 0, 8, 3]) + np.asarray([images, 28, 28], ">u4").tobytes()
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)                 # 31: a gzip wrapper
    with open(path, "wb") as f:
        f.write(gz.compress(header))
        zeros, left = bytes(1 << 20), images * 784
        while left:
            f.write(gz.compress(zeros[:min(left, len(zeros))]))
            left -= min(left, len(zeros))
        f.write(gz.flush())


def main(root=ROOT):
    """Measure with the ``Data/idx.py`` of the checkout at ``root`` (argument 1, default this one)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {"gzip bomb (510,000 images declared)": Path(tmp) / "bomb-idx3-ubyte.gz",
                 "MNIST-size images (60,000, random)": Path(tmp) / "train-idx3-ubyte.gz"}
        bomb(files["gzip bomb (510,000 images declared)"])
        write_idx(files["MNIST-size images (60,000, random)"],
                  np.random.default_rng(0).integers(0, 256, (60_000, 28, 28), np.uint8))
        for name, path in files.items():
            out = subprocess.run([sys.executable, "-c", PROBE, str(root), str(path)],
                                 capture_output=True, text=True, check=True).stdout
            before, peak, seconds, outcome = out.strip().split("|")
            rows.append([name, f"{path.stat().st_size / 1e3:,.0f} KB", f"{peak} MB",
                         f"{int(peak) - int(before)} MB", f"{seconds} s", outcome])
    print(tabulate(rows, headers=["file", "on disk", "peak RSS", "above imports", "time",
                                  "outcome"]))


if __name__ == "__main__":
    main(*sys.argv[1:2])
