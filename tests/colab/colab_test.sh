#!/usr/bin/env bash
# make colab-test: every notebook of the series, then every solutions notebook, executed in smoke
# mode under Colab's own package versions (tests/colab/pip-freeze-gpu-2026-08.txt) on Colab's
# Python, 3.13.
#
# 1. Finds a Python 3.13: $COLAB_PYTHON, else `python3.13` on PATH, else pyenv's newest 3.13,
#    else $PYENV_ROOT (default ~/.pyenv)/versions/3.13*/bin/python3.13.
# 2. Builds .venv-colab/ (git-ignored) from scratch as Colab's runtime looks before a notebook's
#    install cell: the base dependencies Colab ships (torch and torchvision included: the
#    registry's Linux torch is a CUDA build, several GB with its nvidia-* wheels), Colab's kernel
#    (ipykernel, IPython, ipywidgets) and nbclient and nbformat, all at the freeze's versions.
#    Then the install cell: `pip install -c <freeze> <the project>`, the base install, no extras,
#    with the freeze as constraints as filtered by tests/test_colab_install.py (URL lines and
#    the CUDA wheels out, local tags such as +cu128 cut). It fails when an installed package
#    Colab has is not at Colab's version. The environment is reused while the freeze,
#    pyproject.toml, the Python and this recipe are unchanged (.venv-colab/.colab-stamp, written
#    once the check passed); only the project is then reinstalled from the working tree.
# 3. Runs tests/colab/colab_driver.py: each notebook on a fresh simulated Colab machine
#    (tests/colab_sim/: a stand-in google.colab, /content per notebook, one Drive for all),
#    chapters first in order, then the solutions on the same Drive so they find the chapters'
#    runs. nbclient executes them (Colab has no papermill) in a kernel of .venv-colab's python,
#    with papermill-style injected parameters: DATA="demo", SMOKE=True, CHECKPOINT=True,
#    DATA_DIR=<demo data made once>, INTERACTIVE=False (notebook 06's quiz).
#
# It fails (exit 1) on a cell error, naming the notebook and the error, and on a warning a
# student would see (stderr: a Python warning, or any line containing "Warning") whose source is
# the project's code: fakeface_lib, or a notebook's own cell. A stderr "Warning" line whose source
# cannot be told fails too. Warnings raised from third-party packages are printed but allowed.
# One project warning is expected off a GPU and allowed there: setup_notebook's "no GPU" hint.
# It prints each notebook's time, and at the end the environment's and the notebooks' totals.
#
# Usage: tests/colab/colab_test.sh [--keep] [NAME ...]   (NAME: run only notebooks whose name
# contains it; --keep: keep the simulated machines' folder). COLAB_VENV moves the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."
FREEZE=tests/colab/pip-freeze-gpu-2026-08.txt
VENV=${COLAB_VENV:-.venv-colab}
RECIPE=1  # bump when the way the environment is built changes: the next run rebuilds it
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

is_313() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; }

find_python() {
  local candidate version
  if [[ -n "${COLAB_PYTHON:-}" ]]; then
    is_313 "$COLAB_PYTHON" && { echo "$COLAB_PYTHON"; return; }
    echo "COLAB_PYTHON=$COLAB_PYTHON is not a Python 3.13" >&2
    return 1
  fi
  if command -v python3.13 >/dev/null && is_313 python3.13; then
    python3.13 -c 'import sys; print(sys.executable)'
    return
  fi
  if command -v pyenv >/dev/null; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -rV); do
      candidate="$(pyenv prefix "$version")/bin/python3.13"
      is_313 "$candidate" && { echo "$candidate"; return; }
    done
  fi
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do
    is_313 "$candidate" && { echo "$candidate"; return; }
  done
  cat >&2 <<'EOF'
make colab-test needs a Python 3.13 (Colab's Python) and found none: not python3.13 on PATH,
not in pyenv. Get one, then rerun:
  pyenv install 3.13                      (https://github.com/pyenv/pyenv)
  or: sudo apt install python3.13 python3.13-venv   (Ubuntu: the deadsnakes PPA)
  or point COLAB_PYTHON at its interpreter: make colab-test COLAB_PYTHON=/path/to/python3.13
EOF
  return 1
}

PY313=$(find_python)
PY="$VENV/bin/python"
DRIVER=tests/colab/colab_driver.py
STAMP="$VENV/.colab-stamp"
want_stamp="recipe $RECIPE; $("$PY313" -VV | head -1); $(sha256sum "$FREEZE" pyproject.toml | cut -c1-64 | tr '\n' ' ')"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pin() {  # Colab's name==version of one package, its local tag cut
  grep -iE "^$1==" "$FREEZE" | head -1 | cut -d+ -f1
}

pip_install() {  # quiet: says what it installed, or all of pip's output when it fails
  if "$PY" -m pip install "$@" > "$work/pip.log" 2>&1; then
    grep -E '^Successfully installed' "$work/pip.log" || true
  else
    cat "$work/pip.log" >&2
    return 1
  fi
}

build_env() {
  echo "Building $VENV with $PY313 (Colab's versions; the first time several GB of torch and CUDA wheels) ..."
  rm -rf "$VENV"
  "$PY313" -m venv "$VENV"
  # Colab's pip runs the install cell. tests/test_colab_install.py filters the freeze:
  # importing it takes pytest and packaging (their dependencies are set to Colab's below).
  pip_install "$(pin pip)" "$(pin packaging)" "$(pin pytest)"
  "$PY" "$DRIVER" constraints "$FREEZE" > "$VENV/colab-constraints.txt"
  local preinstalled
  preinstalled=$("$PY" "$DRIVER" preinstalled "$FREEZE")
  echo "Colab's own packages: $(echo $preinstalled)"
  # shellcheck disable=SC2086  # one name a line, no spaces
  pip_install -c "$VENV/colab-constraints.txt" $preinstalled
  echo "The notebooks' install cell: the base install of the project, Colab's versions as constraints"
  pip_install -c "$VENV/colab-constraints.txt" "$("$PY" "$DRIVER" wheel "$work/project")"
}

start=$SECONDS
if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
  echo "Reusing $VENV (same freeze, pyproject.toml and Python); reinstalling the project only"
  pip_install --no-deps --force-reinstall "$("$PY" "$DRIVER" wheel "$work/project")"
  built="reused"
else
  build_env
  built="built fresh"
fi
"$PY" "$DRIVER" check "$FREEZE"
[[ $built == "reused" ]] || echo "$want_stamp" > "$STAMP"
env_seconds=$((SECONDS - start))
echo "Environment: $built in ${env_seconds} s ($("$PY" -c 'import sys, torch; print(f"Python {sys.version.split()[0]}, torch {torch.__version__}")'))"

start=$SECONDS
status=0
"$PY" "$DRIVER" run "$@" || status=$?
notebook_seconds=$((SECONDS - start))
echo
echo "Totals: environment ${env_seconds} s ($built), notebooks ${notebook_seconds} s," \
     "together $((env_seconds + notebook_seconds)) s"
if [[ $status -ne 0 ]]; then
  echo "make colab-test FAILED (see the problems above)" >&2
fi
exit "$status"
