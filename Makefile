# Two commands do all set-up on a fresh machine (see README.md):
#   make demo   generate the synthetic dataset, convert, train, evaluate, ...
#   make test   run the test suite
# Both create the virtual environment .venv and install the project into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
WORKSPACE ?= workspace

.PHONY: all install test demo benchmark benchmark-quick benchmark-speed clean protos

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
# so its module fixtures are built once. oneDNN off: on CPUs where TensorFlow
# enables it by default, conv3d_ops_test's comparison with tf.nn.conv3d met
# NaNs after an earlier case ran in the same process (not reproduced outside
# pytest); off, every machine runs the same Eigen kernels.
test: $(INSTALLED)
	TF_ENABLE_ONEDNN_OPTS=0 $(PY) -m pytest -q -n 2 --dist loadfile

demo: $(INSTALLED)
	WORKSPACE=$(WORKSPACE) PY=$(PY) bash tools/demo.sh

# The accuracy benchmark (docs/results/) on the synthetic stage preset: a
# 2000-step pretraining run, then 16 runs of 3000 steps for tables 1a and
# 1b on its frozen S3D-G, actor detector and actor head, two side by side,
# in mixed_bfloat16 (table 1c only with --scene_maps=table_1c). Run on
# 2026-12-07 from an empty work directory: 130 minutes over 4 invocations
# on 2 cores (README, "Accuracy"); the quick one (one seed, 300 steps from
# scratch, a smaller dataset) took 10.
# Trained runs stay in $(WORKSPACE)/benchmark and are not run again: stop
# and rerun as often as needed.
benchmark: $(INSTALLED)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/benchmark.py accuracy \
	  --work_dir $(WORKSPACE)/benchmark --output_dir docs/results

# A smoke run: its report goes next to its runs, not over docs/results.
benchmark-quick: $(INSTALLED)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/benchmark.py accuracy --quick \
	  --work_dir $(WORKSPACE)/benchmark_quick \
	  --output_dir $(WORKSPACE)/benchmark_quick/report

# The performance report of this machine (docs/performance/): 3 min 57 s
# on 2026-12-06 with its XLA and bfloat16 training variants (AVX-512,
# oneDNN on; `make demo` running beside it), 11 min on an AVX2 machine
# (2026-11-25, before those variants).
benchmark-speed: $(INSTALLED)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/benchmark.py speed \
	  --output_dir docs/performance

clean:
	rm -rf $(VENV) build *.egg-info
