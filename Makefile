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

.PHONY: demo test setup clean

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

clean:
	rm -rf $(VENV) runs
