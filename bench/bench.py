"""Speed benchmark: this framework against PyTorch (CPU, 2 threads) on the same workloads.

Every figure is the median of repeated runs after warm-up, measured in this one
process; our steps and PyTorch's run in alternating blocks (see
``paired_median_ms``). PyTorch rows appear when ``torch`` is importable
(bench/requirements.txt):

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install -r requirements.txt -r bench/requirements.txt
    /tmp/torchenv/bin/python bench/bench.py            # add --quick to skip the epoch and RSS rows

Workloads: a LeNet training step at batch 64 (forward, backward, Adam) in float32 and
float64; LeNet inference on 1000 images; an LSTM(32 -> 128) + linear 10 training step on
a batch of 32 sequences of 50 steps and on one classic 200-step sequence (float32); one
full MNIST epoch (60 000 images, batch 64); and the peak RSS of a training run. One more
row times a single float32 matrix product of the shape the batched LSTM runs 50 times per
forward pass (``h @ W_h[k]`` for the four gates), NumPy's BLAS against PyTorch's: it shows
how much of the LSTM gap is the BLAS library rather than this framework's code. The last
line names the BLAS in use.
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from Layers import FullyConnected, Initializers, LSTM  # noqa: E402
from Data import Dates, Names  # noqa: E402
from Models import CharModel, LeNet, RowMNIST, Seq2Seq  # noqa: E402
from Optimization import Optimizers  # noqa: E402

try:
    import torch
    torch.set_num_threads(2)
except ImportError:
    torch = None


def median_ms(step, repeat, warmup=3):
    """Median wall time of ``step()`` in milliseconds, after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def paired_median_ms(ours, theirs, repeat, blocks=10, pause=0.2):
    """Medians (ms) of two step functions timed in alternating blocks, and their ratio.

    This machine's speed drifts by 20-50 % from one minute to the next, so the two
    are timed in ``blocks`` alternating blocks of ``repeat / blocks`` steps, each after
    a warm-up step, and the ratio is the median over the blocks of (our block's
    median / the next PyTorch block's median). Steps are never interleaved one by
    one: both libraries leave worker threads spinning for a while after a call,
    which slows the other down; ``pause`` seconds before each block let them go idle.
    """
    times = ([], [])
    ratios = []
    for _ in range(blocks):
        medians = []
        for step, out in zip((ours, theirs), times):
            time.sleep(pause)
            step()
            block = []
            for _ in range(max(1, repeat // blocks)):
                start = time.perf_counter()
                step()
                block.append(time.perf_counter() - start)
            out.extend(block)
            medians.append(np.median(block))
        ratios.append(medians[0] / medians[1])
    mine, other = (float(np.median(t)) * 1e3 for t in times)
    return mine, other, float(np.median(ratios))


# -- workloads of this framework ---------------------------------------------------------

class FixedBatch:
    """A data layer that returns the same batch: times the network, not the data."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def next(self):
        return self.x, self.y


def lenet_batch(batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    return x, np.eye(10, dtype=np.float32)[labels], labels


def ours_lenet_step(dtype):
    net = LeNet.build(dtype=dtype)
    x, y, _ = lenet_batch(64)
    net.data_layer = FixedBatch(x.astype(dtype), y)

    def step():
        net.forward()
        net.backward()
    return step


def ours_lenet_inference():
    net = LeNet.build(dtype=np.float32)
    x, _, _ = lenet_batch(1000)
    return lambda: net.test(x)


class LstmWithHead:
    """LSTM(32 -> 128) + FullyConnected(128 -> 10) with an L2 loss, Adam on both."""

    def __init__(self, batch, steps):
        self.lstm = LSTM.LSTM(32, 128, dtype=np.float32)
        self.head = FullyConnected.FullyConnected(128, 10, dtype=np.float32)
        for layer in (self.lstm, self.head):
            layer.initialize(Initializers.Xavier(), Initializers.Constant(0.0))
            layer.optimizer = Optimizers.Adam(1e-3)
        rng = np.random.default_rng(0)
        shape = (steps, 32) if batch is None else (batch, steps, 32)
        self.x = rng.standard_normal(shape, dtype=np.float32)
        self.y = rng.standard_normal(shape[:-1] + (10,), dtype=np.float32)

    def step(self):
        h = self.lstm.forward(self.x)
        flat = h.reshape(-1, h.shape[-1])
        out = self.head.forward(flat)
        error = self.head.backward(out - self.y.reshape(out.shape))
        # The input needs no gradient (PyTorch does not compute one either), as for the
        # first layer of a NeuralNetwork.
        self.lstm.backward(error.reshape(h.shape), input_gradient=False)


# -- the same workloads in PyTorch --------------------------------------------------------

def torch_lenet(dtype):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 7 * 7, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10)).to(dtype)
    return model


def torch_lenet_step(dtype):
    model = torch_lenet(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=0)
    loss = torch.nn.CrossEntropyLoss(reduction="sum")
    x, _, labels = lenet_batch(64)
    x, labels = torch.from_numpy(x).to(dtype), torch.from_numpy(labels)

    def step():
        optimizer.zero_grad()
        loss(model(x), labels).backward()
        optimizer.step()
    return step


def torch_lenet_inference():
    model = torch_lenet(torch.float32).eval()
    x = torch.from_numpy(lenet_batch(1000)[0])

    def step():
        with torch.no_grad():
            torch.softmax(model(x), dim=1)
    return step


def ours_sequence_step(model):
    """One training step (forward, backward, Adam) of a shipped sequence model, float32:
    row-MNIST (``"lstm"``/``"gru"``, batch 64 of (28, 28)), the character model
    (``"names"``, the first 64 training surnames padded to their longest) or the date
    translator with attention (``"dates"``, ``Seq2Seq.build()``, the first 64 training dates)."""
    np.random.seed(0)
    if model == "names":
        net = CharModel.build()
        net.data_layer = FixedBatch(*names_batch())
    elif model == "dates":
        net = Seq2Seq.build()
        net.data_layer = FixedBatch(*dates_batch())
    else:
        net = RowMNIST.build(model)
        x, y, _ = lenet_batch(64)
        net.data_layer = FixedBatch(x[:, 0], y)

    def step():
        net.forward()
        net.backward()
    return step


def names_batch():
    """The first 64 training surnames: tokens (64, T) and one-hot labels (64, T, 27)."""
    tokens, targets = Names.pad(Names.split(Names.corpus())[0][:64])
    return tokens, Names.labels(targets, np.float32)


def dates_batch():
    """The first 64 training dates: tokens (64, Dates.INPUT_STEPS), one-hot labels
    (64, 11, 13)."""
    tokens, targets = Dates.pad(Dates.split()[0][:64])
    return tokens, Dates.labels(targets, np.float32)


def torch_dates_step():
    """The PyTorch twin of ``Seq2Seq.build()`` (bench/twin/dates.py) on ``dates_batch``:
    summed cross-entropy, Adam 1e-3."""
    sys.path.insert(0, str(ROOT / "bench" / "twin"))
    import dates
    torch.manual_seed(0)
    model = dates.Twin()
    tokens, labels = dates_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=Seq2Seq.LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        dates.batch_loss(model, tokens, labels).backward()
        optimizer.step()
    return step


def torch_sequence_step(model):
    """The PyTorch twin of ``ours_sequence_step``: the same layers, summed cross-entropy
    (padding ignored), Adam 1e-3, 2 threads."""
    nn = torch.nn
    torch.manual_seed(0)
    if model == "names":
        tokens, labels = names_batch()
        x = torch.from_numpy(tokens)
        y = torch.from_numpy(np.where(labels.any(-1), labels.argmax(-1), -100)).reshape(-1)
        embedding, rnn, head = nn.Embedding(27, 32), nn.LSTM(32, 128, batch_first=True), nn.Linear(128, 27)
        forward = lambda: head(rnn(embedding(x))[0]).reshape(-1, 27)
        modules = (embedding, rnn, head)
    else:
        images, _, classes = lenet_batch(64)
        x, y = torch.from_numpy(images[:, 0]), torch.from_numpy(classes)
        rnn = (nn.LSTM if model == "lstm" else nn.GRU)(28, 128, batch_first=True)
        head = nn.Linear(128, 10)
        forward = lambda: head(rnn(x)[0][:, -1])
        modules = (rnn, head)
    optimizer = torch.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3)
    loss = nn.CrossEntropyLoss(reduction="sum", ignore_index=-100)

    def step():
        optimizer.zero_grad()
        loss(forward(), y).backward()
        optimizer.step()
    return step


def torch_lstm_step(batch, steps):
    lstm = torch.nn.LSTM(32, 128, batch_first=True)
    head = torch.nn.Linear(128, 10)
    optimizer = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    x = torch.randn(batch or 1, steps, 32)
    y = torch.randn(batch or 1, steps, 10)

    def step():
        optimizer.zero_grad()
        out, _ = lstm(x)
        (0.5 * ((head(out) - y) ** 2).sum()).backward()
        optimizer.step()
    return step


# -- one matrix product, NumPy's BLAS against PyTorch's ------------------------------------

def lstm_step_product(library):
    """``h @ W_h[k]`` for the four gates k, ``(32, 128) @ (4, 128, 128)`` -> ``(4, 32, 128)``:
    the product of one step of the batched LSTM row (gate-major, ``Layers/_recurrent.py``),
    in float32, into a preallocated output, the blocks views of one ``(128, 512)`` matrix."""
    rng = np.random.default_rng(0)
    w_h = rng.standard_normal((128, 4 * 128), dtype=np.float32)
    blocks = w_h.reshape(128, 4, 128).transpose(1, 0, 2)
    h = rng.standard_normal((32, 128), dtype=np.float32)
    out = np.empty((4, 32, 128), np.float32)
    if library == "torch":
        blocks, h, out = torch.from_numpy(blocks), torch.from_numpy(h), torch.from_numpy(out)
        return lambda: torch.matmul(h, blocks, out=out)
    return lambda: np.matmul(h, blocks, out=out)


def blas_in_use():
    """'openblas 0.3.23.dev, 2 threads' for NumPy's BLAS (threadpoolctl comes with
    scikit-learn), or '' if it cannot be told."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ""
    for pool in threadpool_info():
        if pool["user_api"] == "blas" and "numpy" in pool["filepath"]:
            return f"{pool['internal_api']} {pool['version']}, {pool['num_threads']} threads"
    return ""


# -- whole-epoch and memory figures ---------------------------------------------------------

def mnist_epoch_seconds():
    """One pass over the 60 000 MNIST training images at batch 64 (float32)."""
    from Layers.Helpers import MNISTData
    net = LeNet.build(dtype=np.float32)
    net.data_layer = MNISTData(64)
    start = time.perf_counter()
    net.train(epochs=1, batch_size=64)
    return time.perf_counter() - start


def training_run_peak_rss_mb():
    """Peak RSS of `TrainLeNet.py --epochs 1 --no-plot`, a default run cut to one epoch.

    The child reads its own high-water mark, VmHWM in /proc/self/status: getrusage's
    ru_maxrss would also count this (large) process, since Linux carries the
    parent's peak across fork and exec.
    """
    wrapper = ("import runpy, sys\n"
               "sys.argv = ['TrainLeNet.py', '--epochs', '1', '--no-plot', '--checkpoint', "
               "'/tmp/bench_lenet.ckpt']\n"
               "try:\n    runpy.run_path('TrainLeNet.py', run_name='__main__')\n"
               "except SystemExit:\n    pass\n"
               "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
               "print(int(status.split()[0]))")
    result = subprocess.run([sys.executable, "-c", wrapper], check=True, capture_output=True,
                            text=True, cwd=ROOT)
    return int(result.stdout.split()[-1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the epoch and RSS rows")
    parser.add_argument("--repeat", type=int, default=40, help="timed runs per row")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of both libraries (NumPy's BLAS through threadpoolctl)")
    parser.add_argument("--sequences", action="store_true",
                        help="only the rows of the sequence models (row-MNIST, surnames, dates)")
    args = parser.parse_args()
    # On a shared machine a spinning second BLAS thread can cost more than it gives.
    threadpool_limits(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)

    n = args.repeat
    # (name, our step, PyTorch step), each a factory called once
    rows = [
        ("LeNet train step, batch 64, float32 (ms)", lambda: ours_lenet_step(np.float32),
         lambda: torch_lenet_step(torch.float32)),
        ("LeNet train step, batch 64, float64 (ms)", lambda: ours_lenet_step(np.float64),
         lambda: torch_lenet_step(torch.float64)),
        ("LeNet inference, 1000 images, float32 (ms)", ours_lenet_inference,
         torch_lenet_inference),
        ("LSTM 32->128 + linear 10, batch 32 x 50 steps (ms)",
         lambda: LstmWithHead(32, 50).step, lambda: torch_lstm_step(32, 50)),
        ("LSTM 32->128 + linear 10, one 200-step sequence (ms)",
         lambda: LstmWithHead(None, 200).step, lambda: torch_lstm_step(None, 200)),
        ("LSTM batched: one step's matrix product alone, float32 (us)",
         lambda: lstm_step_product("numpy"), lambda: lstm_step_product("torch")),
    ]
    sequences = [
        ("row-MNIST LSTM(28->128) train step, batch 64, float32 (ms)",
         lambda: ours_sequence_step("lstm"), lambda: torch_sequence_step("lstm")),
        ("row-MNIST GRU(28->128) train step, batch 64, float32 (ms)",
         lambda: ours_sequence_step("gru"), lambda: torch_sequence_step("gru")),
        ("surname model train step, 64 names, float32 (ms)",
         lambda: ours_sequence_step("names"), lambda: torch_sequence_step("names")),
        ("dates seq2seq + attention train step, batch 64, float32 (ms)",
         lambda: ours_sequence_step("dates"), torch_dates_step),
    ]
    rows = sequences if args.sequences else rows + sequences
    table = []
    for name, ours, theirs in rows:
        # Rows in microseconds time 100 times as many (short) steps; figures are in ms.
        scale, repeat = (1e3, 100 * n) if name.endswith("(us)") else (1, n)
        if torch is None:
            table.append([name, f"{median_ms(ours(), repeat) * scale:.1f}", "", ""])
        else:
            mine, other, ratio = paired_median_ms(ours(), theirs(), repeat)
            table.append([name, f"{mine * scale:.1f}", f"{other * scale:.1f}", f"{ratio:.2f}x"])
    if not (args.quick or args.sequences):
        table.append(["full MNIST epoch, 60 000 images, batch 64 (s)",
                       f"{mnist_epoch_seconds():.1f}", "", ""])
        table.append(["peak RSS of a training run (MB)", f"{training_run_peak_rss_mb():.0f}", "", ""])
    print(tabulate(table, headers=["workload", "ours", f"PyTorch {args.threads} threads" if torch else
                                   "PyTorch (not installed)", "ours / PyTorch"]))
    blas = blas_in_use()
    print(f"numpy {np.__version__}" + (f" ({blas})" if blas else "")
          + (f", torch {torch.__version__}" if torch else ""))


if __name__ == "__main__":
    main()
