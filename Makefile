# Two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# CPU-sized epochs for the demo: each notebook's recipe (10, 20, 30 ...) times this factor.
DEMO_EPOCHS_SCALE ?= 0.1

.PHONY: demo test install smoke clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m fakeface_lib run --data demo --epochs-scale $(DEMO_EPOCHS_SCALE)

test: $(STAMP)
	$(PY) -m pytest

smoke: $(STAMP)
	$(PY) -m fakeface_lib run --data demo --smoke

clean:
	rm -rf runs .pytest_cache
