# Two commands do all set-up on a fresh machine (see README.md):
#   make demo   generate the synthetic dataset, convert, train, evaluate, ...
#   make test   run the test suite
# Both create the virtual environment .venv and install the project into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
WORKSPACE ?= workspace

.PHONY: all install test demo clean protos

all: test

$(INSTALLED): setup.py pyproject.toml build_protos.py $(wildcard protos/*.proto)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	touch $(INSTALLED)

install: $(INSTALLED)

# Regenerates acrn_tf/protos/*_pb2.py after editing protos/ (pip install -e
# does it too).
protos: $(INSTALLED)
	$(PY) build_protos.py

# Two test processes (the machine's two cores); a file's tests stay together
# so its module fixtures are built once.
test: $(INSTALLED)
	$(PY) -m pytest -q -n 2 --dist loadfile

demo: $(INSTALLED)
	WORKSPACE=$(WORKSPACE) PY=$(PY) bash tools/demo.sh

clean:
	rm -rf $(VENV) build *.egg-info
