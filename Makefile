# Set-up and the two quick-start commands. Everything installs into .venv (made on first use).
#   make demo   synthesize Shapes World test clips and score them with the evaluator
#   make test   run the whole test suite
# TORCH picks the PyTorch build: the default pin is a CPU wheel on our CI machines and the
# CUDA build from PyPI on a Linux machine with a GPU; override it, e.g. make test TORCH=torch==2.6.0
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
DEMO_DIR ?= runs/demo
DEMO_CLIPS ?= 200
BIN := $(VENV)/bin

.PHONY: demo test setup clean bench-env

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/videopoet data synth --split test --n $(DEMO_CLIPS) --out $(DEMO_DIR)
	$(BIN)/videopoet eval shapes $(DEMO_DIR) --json $(DEMO_DIR)/eval_shapes.json

test: setup
	$(BIN)/python -m pytest -q

# A separate environment for benchmarks/tokenizer_speed.py: magvit2-pytorch needs torchvision,
# which imports only beside the torch build it was made for.
bench-env: .venv-bench/.installed

.venv-bench/.installed: pyproject.toml Makefile
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check torch==2.14.1 torchvision==0.29.1 magvit2-pytorch==0.5.1
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

clean:
	rm -rf $(VENV) .venv-bench runs
