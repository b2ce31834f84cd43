# Two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# CPU-sized epochs for the demo: each notebook's recipe (10, 20, 30 ...) times this factor, rounded,
# at least 1 (every run 1 epoch), Model 2 under mixed precision where the CPU computes bfloat16
# natively (DEMO_AMP; off by itself elsewhere), and notebook 03b's leak experiment (two runs over
# 4x copies) on Model 1, which stands in for Model 2 there as in smoke mode and says so.
# Measured by benchmarks/bench_make_demo.py (results.md): see the figures there.
DEMO_EPOCHS_SCALE ?= 0.04
DEMO_AMP ?= --amp
DEMO_SET ?= --set EXPERIMENT_MODEL=model1
# make test: pytest on TEST_WORKERS processes (pytest-xdist). The series' smoke run, the Colab
# simulation and the solutions each stay on one worker (xdist_group), so none runs twice.
TEST_WORKERS ?= 2

.PHONY: demo test install smoke colab-check colab-test clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m fakeface_lib.runner run --data demo --epochs-scale $(DEMO_EPOCHS_SCALE) $(DEMO_AMP) $(DEMO_SET)

# The whole suite; tests marked `registry` (would a Colab install keep Colab's packages?)
# ask the package index and skip when it cannot be reached.
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

colab-check: $(STAMP)
	$(PY) -m pytest -m registry -rA tests/test_colab_install.py

# The series and its solutions in smoke mode under Colab's own package versions, on Python 3.13,
# in a simulated Colab (tests/colab/README.md); builds .venv-colab/ the first time.
colab-test:
	bash tests/colab/colab_test.sh

smoke: $(STAMP)
	$(PY) -m fakeface_lib.runner run --data demo --smoke

clean:
	rm -rf runs .pytest_cache
