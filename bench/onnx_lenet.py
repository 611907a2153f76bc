"""Inference of the shipped LeNet on 1 000 MNIST test images: ONNX Runtime against the framework.

The checkpoint ``trained/lenet_mnist.ckpt`` is exported with ``net.export_onnx`` to a
temporary file and run in ONNX Runtime's CPU provider with 2 threads (this machine's
cores; NumPy's OpenBLAS uses them too). Both run the same 1 000 images as one batch,
in this one process, timed in alternating blocks after warm-up (``bench.py``'s
``paired_median_ms``); the ratio is the median over the blocks. Run from the
repository root::

    .venv/bin/python bench/onnx_lenet.py            # --repeat 60 --blocks 10 by default
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from Data.MNIST import load_mnist  # noqa: E402
from Models import LeNet  # noqa: E402
from bench import paired_median_ms  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60, help="timed calls of each (60)")
    parser.add_argument("--blocks", type=int, default=10, help="alternating blocks (10)")
    args = parser.parse_args()
    if args.repeat < 1 or not 1 <= args.blocks <= args.repeat:
        parser.error("expected --repeat >= 1 and 1 <= --blocks <= --repeat")

    net = LeNet.LeNet.load(ROOT / "trained" / "lenet_mnist.ckpt")   # input (1, 28, 28)
    (_, _, images, _), _ = load_mnist()
    x = (images[:1000, np.newaxis] / np.float32(255)).astype(np.float32)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 2
    with tempfile.TemporaryDirectory() as directory:
        path = net.export_onnx(Path(directory) / "lenet.onnx")
        session = onnxruntime.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
    ours, theirs = net.test(x), session.run(["output"], {"input": x})[0]
    agree = np.mean(ours.argmax(axis=1) == theirs.argmax(axis=1))
    ours_ms, ort_ms, ratio = paired_median_ms(
        lambda: net.test(x), lambda: session.run(["output"], {"input": x}),
        args.repeat, args.blocks)
    print(tabulate([["LeNet inference, 1 000 images, float32", f"{ours_ms:.1f} ms",
                     f"{ort_ms:.1f} ms", f"{ratio:.2f}x"]],
                   headers=["workload", "ours (net.test)", "ONNX Runtime 2 threads",
                            "ours / ONNX Runtime"]))
    print(f"same class for {agree:.1%} of the images; largest output difference "
          f"{np.abs(ours - theirs).max():.1e}; onnxruntime {onnxruntime.__version__}, "
          f"NumPy {np.__version__}")


if __name__ == "__main__":
    main()
